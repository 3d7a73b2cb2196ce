//! Long layout: one row per request × model (× sample), in CSV, JSONL or Parquet,
//! with an optional separate requests file.
//!
//! Column names (aliases in parentheses) are listed in the README. Request-level
//! columns (`input`, `ts`, `reference`, `meta.*`) may sit in the responses file; the
//! first row of a request supplies them. Unknown columns are ignored with a warning.

use super::build::{DatasetBuilder, MetaValue, Recorded, RequestRow, ResponseRow};
use super::records::{Cell, Fields, Row, TableFormat, describe, for_each_row};
use super::{Sample, Status};
use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use std::path::Path;

pub(crate) const ID: &[&str] = &["request_id", "id", "question_id", "sample_id", "prompt_id"];
const MODEL: &[&str] = &["model", "model_id", "model_name"];
const SAMPLE: &[&str] = &["sample", "sample_index"];
const STATUS: &[&str] = &["status"];
const OUTPUT: &[&str] = &["output", "response", "completion"];
const IN_TOK: &[&str] = &["input_tokens", "prompt_tokens"];
const OUT_TOK: &[&str] = &["output_tokens", "completion_tokens"];
const CACHED: &[&str] = &["cached_tokens", "cache_read_tokens"];
const CACHE_WRITE: &[&str] = &["cache_write_tokens", "cache_creation_input_tokens"];
const REASONING: &[&str] = &["reasoning_tokens"];
const LATENCY: &[&str] = &["latency_ms"];
const TTFT: &[&str] = &["ttft_ms"];
const RETRY_AFTER: &[&str] = &["retry_after_ms"];
const QUALITY: &[&str] = &["quality", "score", "correct"];
const COST: &[&str] = &["cost_usd", "cost"];
const PROVIDER: &[&str] = &["provider"];
const SERVED: &[&str] = &["served_model", "response_model"];
pub(crate) const INPUT: &[&str] = &["input", "prompt", "messages"];
pub(crate) const TS: &[&str] = &["ts", "timestamp", "time"];
pub(crate) const REFERENCE: &[&str] = &["reference", "answer"];

fn known(groups: &[&[&str]], key: &str) -> bool {
    key.starts_with("meta.") || key.starts_with("score.") || groups.iter().any(|g| g.contains(&key))
}

/// Read a requests file (one row per request).
pub fn read_requests(
    path: &Path,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let file = display_path(path);
    let format = TableFormat::from_path(path).ok_or_else(|| unknown_format(path))?;
    let fields = Fields::new(&file);
    if !header_has(path, format, &[ID], "one row per request", diags)? {
        return Ok(());
    }
    let mut rows: Vec<(RequestRow, usize)> = Vec::new();
    let cols = for_each_row(path, format, diags, &mut |row, d| {
        let Some(id) = fields.required_text(row, ID, d) else {
            return;
        };
        let req = request_fields(&fields, row, id, d);
        rows.push((req, row.number()));
    })?;
    warn_ignored(
        b,
        &file,
        &cols,
        &[ID, INPUT, TS, REFERENCE, IN_TOK, &["turns"]],
    );
    for (r, n) in rows {
        b.add_request(r, (fields.shared_file.clone(), n), diags);
    }
    Ok(())
}

/// Read a long responses file.
pub fn read_responses(
    path: &Path,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let file = display_path(path);
    let format = TableFormat::from_path(path).ok_or_else(|| unknown_format(path))?;
    let fields = Fields::new(&file);
    if !header_has(
        path,
        format,
        &[ID, MODEL],
        "one row per request × model",
        diags,
    )? {
        return Ok(());
    }
    let implicit = b.implicit_requests;
    let cols = for_each_row(path, format, diags, &mut |row, d| {
        let id = fields.required_text(row, ID, d);
        let model = fields.required_text(row, MODEL, d);
        let (Some(id), Some(model)) = (id, model) else {
            return;
        };
        let resp = response_fields(&fields, row, id.clone(), model, d);
        let req = implicit.then(|| request_fields(&fields, row, id, d));
        b.add_response(resp, req, d);
    })?;
    warn_ignored(
        b,
        &file,
        &cols,
        &[
            ID,
            MODEL,
            SAMPLE,
            STATUS,
            OUTPUT,
            IN_TOK,
            OUT_TOK,
            CACHED,
            CACHE_WRITE,
            REASONING,
            LATENCY,
            TTFT,
            RETRY_AFTER,
            QUALITY,
            COST,
            PROVIDER,
            SERVED,
            INPUT,
            TS,
            REFERENCE,
            &["turns"],
        ],
    );
    Ok(())
}

fn unknown_format(path: &Path) -> InputError {
    InputError::file(
        path,
        "unknown table format: expected a .csv, .jsonl or .parquet file",
    )
}

/// For files with a header (CSV, Parquet): check required columns up front, so a
/// missing column is one clear error rather than one per row. JSONL rows are checked
/// one by one instead.
fn header_has(
    path: &Path,
    format: TableFormat,
    required: &[&[&str]],
    what: &str,
    diags: &mut Diagnostics,
) -> Result<bool, InputError> {
    let Some(cols) = super::records::header(path, format)? else {
        return Ok(true);
    };
    if cols.iter().all(|c| c.is_empty()) {
        diags.push(Diagnostic::file(
            display_path(path),
            format!("the file is empty: expected a header row and {what}"),
        ));
        return Ok(false);
    }
    let mut ok = true;
    for aliases in required {
        if !cols.iter().any(|c| aliases.contains(&c.as_str())) {
            let alt = if aliases.len() > 1 {
                format!(" (or {})", aliases[1..].join(", "))
            } else {
                String::new()
            };
            diags.push(Diagnostic::file(
                display_path(path),
                format!(
                    "missing required column \"{}\"{alt} ({what}); found columns: {}",
                    aliases[0],
                    cols.join(", ")
                ),
            ));
            ok = false;
        }
    }
    Ok(ok)
}

fn warn_ignored(b: &mut DatasetBuilder, file: &str, cols: &[String], groups: &[&[&str]]) {
    let ignored: Vec<&str> = cols
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !known(groups, c))
        .collect();
    if !ignored.is_empty() {
        b.info.warnings.push(format!(
            "{file}: ignored columns {} (metadata columns need the prefix \"meta.\")",
            ignored.join(", ")
        ));
    }
}

/// Request-level fields of a row.
pub(crate) fn request_fields(
    fields: &Fields<'_>,
    row: &dyn Row,
    id: String,
    diags: &mut Diagnostics,
) -> RequestRow {
    let mut r = RequestRow {
        id,
        ..Default::default()
    };
    let (_, c) = fields.first(row, INPUT);
    if let Some((text, turns)) = input_text(&c) {
        r.input = Some(text);
        r.turns = Some(turns);
    }
    let (k, c) = fields.first(row, TS);
    match &c {
        Cell::Absent | Cell::Null => {}
        Cell::Num(x) => r.ts_ms = Some((x * 1000.0).round() as i64),
        Cell::Text(s) => match super::time::parse_ts_ms(s) {
            Some(t) => r.ts_ms = Some(t),
            None => diags.push(Diagnostic::cell(
                fields.file,
                row.number(),
                k,
                format!(
                    "expected a timestamp (epoch seconds or YYYY-MM-DDTHH:MM:SSZ), found {}",
                    describe(&c)
                ),
            )),
        },
        _ => diags.push(Diagnostic::cell(
            fields.file,
            row.number(),
            k,
            "expected a timestamp",
        )),
    }
    let (k, c) = fields.first(row, IN_TOK);
    r.input_tokens = fields.count(row, k, &c, diags);
    if let Cell::Num(_) | Cell::Text(_) = row.get("turns") {
        let c = row.get("turns");
        r.turns = fields
            .count(row, "turns", &c, diags)
            .map(|t| t.min(u16::MAX as u32) as u16);
    }
    let (_, c) = fields.first(row, REFERENCE);
    r.reference = fields.text(&c);
    for key in row.keys() {
        if let Some(name) = key.strip_prefix("meta.") {
            match row.get(&key) {
                Cell::Absent | Cell::Null => {}
                Cell::Num(x) => r.meta.push((name.to_string(), MetaValue::Num(x))),
                Cell::Bool(b) => r
                    .meta
                    .push((name.to_string(), MetaValue::Str(b.to_string()))),
                Cell::Text(s) => r
                    .meta
                    .push((name.to_string(), MetaValue::Str(s.to_string()))),
                Cell::Json(v) => r
                    .meta
                    .push((name.to_string(), MetaValue::Str(v.to_string()))),
            }
        }
    }
    r
}

/// Prompt text and user-turn count from a cell: plain text, or chat messages (a JSON
/// array of `{role, content}`), flattened one message per line.
pub(crate) fn input_text(c: &Cell<'_>) -> Option<(String, u16)> {
    match c {
        Cell::Text(s) => {
            let t = s.trim_start();
            if t.starts_with('[')
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
                && let Some(m) = messages(&v)
            {
                return Some(m);
            }
            Some((s.to_string(), 1))
        }
        Cell::Json(v) => messages(v).or_else(|| Some((v.to_string(), 1))),
        Cell::Num(x) => Some((x.to_string(), 1)),
        _ => None,
    }
}

fn messages(v: &serde_json::Value) -> Option<(String, u16)> {
    let arr = v.as_array()?;
    let mut text = String::new();
    let mut turns = 0u16;
    for m in arr {
        let content = match m.get("content") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(other) => other.to_string(),
            None => match m.as_str() {
                Some(s) => s.to_string(),
                None => return None,
            },
        };
        if m.get("role").and_then(|r| r.as_str()).unwrap_or("user") == "user" {
            turns = turns.saturating_add(1);
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&content);
    }
    Some((text, turns.max(1)))
}

fn response_fields(
    fields: &Fields<'_>,
    row: &dyn Row,
    request_id: String,
    model: String,
    diags: &mut Diagnostics,
) -> ResponseRow {
    let mut s = Sample {
        status: Status::OK,
        ..Sample::MISSING
    };
    let (k, c) = fields.first(row, STATUS);
    if let Some(text) = fields.text(&c) {
        match Status::parse(&text) {
            Some(st) => s.status = st,
            None => diags.push(Diagnostic::cell(
                fields.file,
                row.number(),
                k,
                format!(
                    "expected a status (ok, error, timeout, context_length, or an HTTP code), found \"{text}\""
                ),
            )),
        }
    }
    let (k, c) = fields.first(row, SAMPLE);
    let sample = fields.count(row, k, &c, diags);
    let (k, c) = fields.first(row, IN_TOK);
    let in_tok = fields.count(row, k, &c, diags);
    let (k, c) = fields.first(row, OUT_TOK);
    let out_tok = fields.count(row, k, &c, diags);
    let (k, c) = fields.first(row, CACHED);
    s.cached_tokens = fields.count(row, k, &c, diags).unwrap_or(0);
    let (k, c) = fields.first(row, CACHE_WRITE);
    s.cache_write_tokens = fields.count(row, k, &c, diags).unwrap_or(0);
    let (k, c) = fields.first(row, REASONING);
    s.reasoning_tokens = fields.count(row, k, &c, diags).unwrap_or(0);
    let (k, c) = fields.first(row, LATENCY);
    let latency = fields.number(row, k, &c, 0.0, diags);
    let (k, c) = fields.first(row, TTFT);
    s.ttft_ms = fields
        .number(row, k, &c, 0.0, diags)
        .map(|x| x as f32)
        .unwrap_or(f32::NAN);
    let (k, c) = fields.first(row, RETRY_AFTER);
    s.retry_after_ms = fields
        .number(row, k, &c, 0.0, diags)
        .map(|x| x as f32)
        .unwrap_or(f32::NAN);
    let (k, c) = fields.first(row, QUALITY);
    s.quality = fields.quality(row, k, &c, diags).unwrap_or(f64::NAN);
    let (k, c) = fields.first(row, COST);
    s.cost_usd = fields.number(row, k, &c, 0.0, diags).unwrap_or(f64::NAN);
    if let Some(t) = in_tok
        && s.cached_tokens as u64 + s.cache_write_tokens as u64 > t as u64
    {
        diags.push(Diagnostic::cell(
            fields.file,
            row.number(),
            "cached_tokens",
            format!(
                "cached tokens ({}) and cache-write tokens ({}) exceed input tokens ({t})",
                s.cached_tokens, s.cache_write_tokens
            ),
        ));
    }
    let (_, c) = fields.first(row, OUTPUT);
    let output = fields.text(&c);
    let (_, c) = fields.first(row, SERVED);
    let served_model = fields.text(&c).filter(|s| !s.is_empty());
    ResponseRow {
        request_id,
        model,
        sample,
        recorded: Recorded {
            served_model,
            ..Recorded::measured(
                s,
                in_tok,
                out_tok,
                latency,
                output,
                (fields.shared_file.clone(), row.number()),
            )
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_messages_flatten_and_count_user_turns() {
        let v: serde_json::Value = serde_json::json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "explain"}]}
        ]);
        let (text, turns) = input_text(&Cell::Json(&v)).unwrap();
        assert_eq!(text, "be brief\nhi\nhello\nexplain");
        assert_eq!(turns, 2);
    }
}
