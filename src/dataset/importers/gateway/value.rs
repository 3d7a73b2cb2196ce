//! Reading fields out of one gateway log record (a `serde_json::Value`): paths into
//! nested objects where any level may be a JSON *string* holding JSON (LiteLLM's
//! SpendLogs exports store `metadata`, `request_tags`, `messages` that way), numbers
//! that may be written as strings (CSV exports), empty strings and nulls as absent,
//! and timestamps as epoch seconds or ISO 8601 text. Every getter returns `None`
//! for "not there"; the format readers decide what is an error.

use serde_json::Value;
use std::borrow::Cow;

/// A value, with a JSON string that holds an object or array decoded (owned then).
pub fn decoded(v: &Value) -> Cow<'_, Value> {
    if let Value::String(s) = v {
        let t = s.trim_start();
        if (t.starts_with('{') || t.starts_with('['))
            && let Ok(inner) = serde_json::from_str::<Value>(t)
        {
            return Cow::Owned(inner);
        }
    }
    Cow::Borrowed(v)
}

/// The value at `path` (object keys), decoding JSON strings on the way; `None` when a
/// key is missing or the value is null.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<Cow<'a, Value>> {
    let mut cur: Cow<'a, Value> = Cow::Borrowed(v);
    for k in path {
        cur = match cur {
            Cow::Borrowed(b) => match decoded(b) {
                Cow::Borrowed(b) => Cow::Borrowed(b.get(*k)?),
                Cow::Owned(o) => Cow::Owned(o.get(*k)?.clone()),
            },
            Cow::Owned(o) => Cow::Owned(decoded(&o).get(*k)?.clone()),
        };
        if cur.is_null() {
            return None;
        }
    }
    Some(cur)
}

/// Text at `path`: a non-empty string (trimmed), or a number / boolean written out.
pub fn text(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)?.as_ref() {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty() && t != "None" && t != "null").then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The first of several paths that has text.
pub fn text_any(v: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|p| text(v, p))
}

/// A number at `path`: a JSON number, or a string holding one.
pub fn num(v: &Value, path: &[&str]) -> Option<f64> {
    match at(v, path)?.as_ref() {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// The first of several paths that has a number.
pub fn num_any(v: &Value, paths: &[&[&str]]) -> Option<f64> {
    paths.iter().find_map(|p| num(v, p))
}

/// A token count at `path` (a non-negative whole number).
pub fn count(v: &Value, path: &[&str]) -> Option<u32> {
    let x = num(v, path)?;
    (x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64).then_some(x as u32)
}

/// The first of several paths with a token count.
pub fn count_any(v: &Value, paths: &[&[&str]]) -> Option<u32> {
    paths.iter().find_map(|p| count(v, p))
}

/// A boolean at `path`: JSON true/false, 1/0, or the strings "True"/"False" (LiteLLM
/// writes `cache_hit` as a string in SpendLogs).
pub fn flag(v: &Value, path: &[&str]) -> Option<bool> {
    match at(v, path)?.as_ref() {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A timestamp at `path` as epoch seconds: a number (epoch seconds) or ISO 8601 /
/// `YYYY-MM-DD hh:mm:ss.ffffff` text (UTC unless it has an offset), sub-millisecond
/// digits kept.
pub fn time_s(v: &Value, path: &[&str]) -> Option<f64> {
    match at(v, path)?.as_ref() {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(x) => Some(x),
            Err(_) => crate::dataset::time::parse_ts_ms_f64(s).map(|ms| ms / 1000.0),
        },
        _ => None,
    }
}

/// A timestamp at `path` as epoch milliseconds: text parsed to the millisecond
/// exactly (sub-millisecond digits kept as a fraction), a number read as epoch
/// seconds.
pub fn time_ms(v: &Value, path: &[&str]) -> Option<f64> {
    match at(v, path)?.as_ref() {
        Value::Number(n) => n.as_f64().map(|s| s * 1000.0),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(x) => Some(x * 1000.0),
            Err(_) => crate::dataset::time::parse_ts_ms_f64(s),
        },
        _ => None,
    }
}

/// The keys of a record (for error messages), sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Whether a record has a key (present, even when null).
pub fn has(v: &Value, key: &str) -> bool {
    v.as_object().is_some_and(|o| o.contains_key(key))
}

/// Chat messages (or a prompt) as the text routesim stores for a request: a JSON
/// array of messages kept as compact JSON (flattened by the dataset reader, one
/// message per line), a string as it is; `None` for an empty or redacted value.
pub fn input_json(v: &Value) -> Option<String> {
    match decoded(v).as_ref() {
        Value::String(s) if !s.trim().is_empty() && !is_redacted(s) => Some(s.clone()),
        Value::Array(a) if !a.is_empty() => Some(Value::Array(a.clone()).to_string()),
        Value::Object(o) if !o.is_empty() => {
            // {"messages": [...]} or {"prompt": "..."} bodies.
            if let Some(m) = o.get("messages") {
                return input_json(m);
            }
            if let Some(p) = o.get("prompt") {
                return input_json(p);
            }
            None
        }
        _ => None,
    }
}

/// LiteLLM's marker for messages removed by `turn_off_message_logging` (and similar).
fn is_redacted(s: &str) -> bool {
    let t = s.trim().to_ascii_lowercase();
    t.starts_with("redacted") || t == "{}"
}

/// The answer text of an OpenAI-style response body (`choices[0].message.content`,
/// or `choices[0].text`).
pub fn answer_text(body: &Value) -> Option<String> {
    let b = decoded(body);
    let c = b.get("choices")?.get(0)?;
    let t = c
        .get("message")
        .and_then(|m| m.get("content"))
        .or_else(|| c.get("text"))?;
    match t {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_decode_json_strings_and_skip_nulls() {
        let v = json!({
            "metadata": "{\"usage_object\": {\"prompt_tokens_details\": {\"cached_tokens\": 512}}, \"x\": null}",
            "n": "12",
            "e": "",
            "b": "True",
        });
        assert_eq!(
            count(
                &v,
                &[
                    "metadata",
                    "usage_object",
                    "prompt_tokens_details",
                    "cached_tokens"
                ]
            ),
            Some(512)
        );
        assert_eq!(text(&v, &["metadata", "x"]), None);
        assert_eq!(num(&v, &["n"]), Some(12.0));
        assert_eq!(text(&v, &["e"]), None, "an empty string is absent");
        assert_eq!(flag(&v, &["b"]), Some(true));
        assert_eq!(count(&json!({"t": 1.5}), &["t"]), None);
    }

    #[test]
    fn inputs_keep_messages_as_json_and_drop_redacted_ones() {
        let m = json!([{"role": "user", "content": "hi"}]);
        assert_eq!(
            input_json(&m).as_deref(),
            Some("[{\"content\":\"hi\",\"role\":\"user\"}]")
        );
        assert_eq!(input_json(&json!("{}")), None);
        assert_eq!(input_json(&json!("redacted-by-litellm")), None);
        assert_eq!(
            input_json(&json!({"messages": "plain"})).as_deref(),
            Some("plain")
        );
        assert_eq!(
            answer_text(&json!({"choices": [{"message": {"content": "ok"}}]})).as_deref(),
            Some("ok")
        );
    }
}
