//! Helicone request exports (`npx @helicone/export`: JSONL of the API's request rows,
//! or its CSV variant). One row is one request — Helicone logs the call the client
//! made; its session id groups conversations, not attempts. Costs are USD as the API
//! returns them (the raw ClickHouse column is ×1e9: `--cost-unit nano`). SCHEMAS.md §4.

use super::log::{Attempt, Head};
use super::value::{at, count, num, text, text_any, time_ms};
use super::{CostUnit, ImportOptions, Read, Record};
use crate::dataset::Status;
use serde_json::Value;

/// The nil UUID: `cache_reference_id` of a request not served from the cache.
const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Helicone → routesim.
pub const MAPPING: &[(&str, &str, &str)] = &[
    (
        "request id",
        "request_id ?? response_id",
        "one row per request; the CSV export has only response_id",
    ),
    ("ts", "request_created_at", "UTC"),
    (
        "input",
        "request_body.messages",
        "a {\"helicone_message\": …} placeholder is no text",
    ),
    (
        "meta.asked_model",
        "request_model ?? request_body.model",
        "",
    ),
    ("model column", "model", ""),
    ("status", "response_status", "HTTP code"),
    (
        "input_tokens / output_tokens",
        "prompt_tokens / completion_tokens (+ reasoning_tokens when total_tokens counts them apart)",
        "",
    ),
    (
        "cached / cache write / reasoning tokens",
        "prompt_cache_read_tokens / prompt_cache_write_tokens / reasoning_tokens",
        "",
    ),
    (
        "latency_ms",
        "delay_ms ?? response_created_at − request_created_at",
        "the CSV export has no latency: the timestamps' difference",
    ),
    ("ttft_ms", "time_to_first_token", "streamed requests only"),
    (
        "cost_usd",
        "cost (--cost-unit usd, default; nano for raw ClickHouse values)",
        "",
    ),
    ("output", "response_body.choices[0].message.content", ""),
    (
        "cache hit",
        "cache_reference_id other than the nil UUID",
        "inferred",
    ),
    (
        "meta.user / session / provider / country",
        "request_user_id / properties.Helicone-Session-Id / provider / country_code",
        "",
    ),
    (
        "meta.*",
        "properties.* (request_properties)",
        "custom Helicone-Property-* headers",
    ),
    ("meta.score_*", "scores.*", ""),
];

/// Assumptions, with the cost unit used.
pub fn notes(opts: &ImportOptions) -> Vec<String> {
    vec![
        "Helicone export: one row per request (no attempts are logged apart)".into(),
        format!(
            "cost unit: {} (the API returns USD; raw ClickHouse costs are ×1e9: --cost-unit nano)",
            opts.cost_unit.unwrap_or(CostUnit::Usd).name()
        ),
        "a cache_reference_id other than the nil UUID is taken as a cache hit (inferred from Helicone's code)".into(),
        "completion_tokens are taken to exclude reasoning tokens when total_tokens = prompt + completion + reasoning (Helicone's query), and reasoning is added to the output then".into(),
    ]
}

/// One request row.
pub fn read(r: &mut Record) -> Read {
    let v = r.v;
    // The CSV export has no request_id: its response_id names the row.
    let Some(key) = text_any(v, &[&["request_id"], &["response_id"]]) else {
        r.bad("request_id", "expected the request id (or response_id)");
        return Read::Skip("no id");
    };
    let Some(start) = time_ms(v, &["request_created_at"]) else {
        r.bad("request_created_at", "expected a timestamp");
        return Read::Skip("no times");
    };
    let Some(model) = text_any(v, &[&["model"], &["request_model"]]) else {
        r.bad("model", "expected the model");
        return Read::Skip("no model");
    };
    let Some(code) = num(v, &["response_status"]) else {
        r.bad("response_status", "expected the HTTP status");
        return Read::Skip("no status");
    };
    let mut a = Attempt::new(key);
    a.start = start;
    a.latency_ms = match (num(v, &["delay_ms"]), time_ms(v, &["response_created_at"])) {
        (Some(d), _) => d,
        (None, Some(e)) => e - start,
        (None, None) => f64::NAN,
    };
    a.column = model;
    a.status = Status::parse(&format!("{}", code as i64)).unwrap_or(Status::ERROR);
    let ok = a.status.is_ok();
    let (inp, out) = (
        count(v, &["prompt_tokens"]),
        count(v, &["completion_tokens"]),
    );
    let reasoning = count(v, &["reasoning_tokens"]).filter(|&t| t > 0);
    let total = count(v, &["total_tokens"]);
    let out = match (out, reasoning, inp, total) {
        (Some(o), Some(rz), Some(i), Some(t)) if t == i + o + rz => Some(o + rz),
        (o, ..) => o,
    };
    if ok || inp.unwrap_or(0) + out.unwrap_or(0) > 0 {
        a.input_tokens = inp;
        a.output_tokens = out;
    }
    a.reasoning_tokens = reasoning;
    a.cached_tokens = count(v, &["prompt_cache_read_tokens"]).filter(|&t| t > 0);
    a.cache_write_tokens = count(v, &["prompt_cache_write_tokens"]).filter(|&t| t > 0);
    if let Some(t) = num(v, &["time_to_first_token"]) {
        a.ttft_ms = t;
    }
    let unit = r.opts.cost_unit.unwrap_or(CostUnit::Usd);
    a.cost_usd = num(v, &["cost"])
        .or_else(|| num(v, &["costUSD"]))
        .map(|c| unit.to_usd(c))
        .unwrap_or(f64::NAN);
    a.output = at(v, &["response_body"]).and_then(|b| super::value::answer_text(&b));
    a.cache_hit = text(v, &["cache_reference_id"]).is_some_and(|c| c != NIL_UUID);
    let mut meta = Vec::new();
    if let Some(u) = text(v, &["request_user_id"]) {
        meta.push(("user".into(), u));
    }
    // The CSV export holds properties and the body as JSON text.
    let props = at(v, &["properties"])
        .or_else(|| at(v, &["request_properties"]))
        .map(|p| super::value::decoded(&p).into_owned());
    if let Some(Value::Object(p)) = props.as_ref() {
        if let Some(s) = p
            .get("Helicone-Session-Id")
            .and_then(super::litellm::meta_text)
        {
            meta.push(("session".into(), s));
        }
        let rest = Value::Object(p.clone());
        super::litellm::custom_meta(&mut meta, Some(&rest), &["Helicone-Session-Id"]);
    }
    if let Some(p) = text(v, &["provider"]) {
        meta.push(("provider".into(), p));
    }
    if let Some(c) = text(v, &["country_code"]) {
        meta.push(("country".into(), c));
    }
    if let Some(Value::Object(s)) = at(v, &["scores"]).as_deref() {
        for (k, sv) in s {
            if let Some(t) = super::litellm::meta_text(sv) {
                meta.push((format!("score_{k}"), t));
            }
        }
    }
    // A placeholder body (`{"helicone_message": …}`: stored elsewhere) is no body.
    let body = at(v, &["request_body"])
        .map(|b| super::value::decoded(&b).into_owned())
        .filter(|b| b.get("helicone_message").is_none());
    if let Some(Value::Object(b)) = body.as_ref() {
        for (k, pv) in b {
            if k != "model"
                && k != "messages"
                && k != "prompt"
                && let Some(t) = super::litellm::meta_text(pv)
            {
                meta.push((format!("param_{k}"), t));
            }
        }
    }
    a.head = Some(Head {
        asked: text(v, &["request_model"]).or_else(|| text(v, &["request_body", "model"])),
        input: body
            .as_ref()
            .and_then(|b| b.get("messages").or_else(|| b.get("prompt")))
            .and_then(super::value::input_json),
        meta,
    });
    Read::Attempts(vec![a])
}
