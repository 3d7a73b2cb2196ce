//! LiteLLM's logs: `StandardLoggingPayload` (the object every logging callback gets,
//! one per call: a fallback's failed first call and its answer are two lines sharing
//! `trace_id`) and `LiteLLM_SpendLogs` rows (the proxy's database table, one row per
//! request, retries and fallbacks only counted in `metadata`). Field sources and traps:
//! `../shared/data/gateway-samples/SCHEMAS.md` §1 (every field optional; times epoch
//! seconds or naive-UTC text; JSON columns may be strings; `response_time` is seconds
//! and not the timestamps' difference; TTFT only when streamed).

use super::log::{Attempt, Head};
use super::value::{at, count, flag, num, text, text_any, time_ms, time_s};
use super::{ModelKey, Read, Record};
use crate::dataset::Status;
use serde_json::Value;

/// `StandardLoggingPayload` → routesim (field, source, note).
pub const SLP_MAPPING: &[(&str, &str, &str)] = &[
    (
        "request id",
        "trace_id ?? litellm_call_id ?? id",
        "trace_id groups a request's retries and fallbacks",
    ),
    (
        "ts",
        "min startTime of the trace",
        "epoch seconds, or naive-UTC text",
    ),
    (
        "input",
        "messages of the earliest line",
        "absent when message logging is off",
    ),
    (
        "meta.asked_model",
        "model_group of the earliest line ?? model",
        "a fallback's answer is logged under the group that answered",
    ),
    (
        "model column",
        "model_group (--model-key group), model (--model-key model) or model_group@model_id (--model-key deployment)",
        "",
    ),
    (
        "status",
        "status; error_information.error_code (\"429\"), error_class",
        "ContextWindowExceededError → context_length, Timeout → timeout",
    ),
    (
        "input_tokens / output_tokens",
        "prompt_tokens / completion_tokens",
        "0/0 on a failure = not logged",
    ),
    (
        "cached / cache write / reasoning tokens",
        "metadata.usage_object.prompt_tokens_details.cached_tokens, …cache_creation_input_tokens, completion_tokens_details.reasoning_tokens",
        "else response.usage.*",
    ),
    (
        "latency_ms",
        "(endTime − startTime) × 1000",
        "not response_time",
    ),
    (
        "ttft_ms",
        "(completionStartTime − startTime) × 1000 when stream is true",
        "completionStartTime = endTime otherwise",
    ),
    (
        "cost_usd",
        "response_cost",
        "logged cost wins; $0 when LiteLLM had no price",
    ),
    ("output", "response.choices[0].message.content", ""),
    (
        "cache hit",
        "cache_hit = true",
        "no cell; in the logged outcome only",
    ),
    ("meta.user", "end_user", ""),
    (
        "meta.key_user / team / team_alias / key_alias / key_hash / org",
        "metadata.user_api_key_user_id / _team_id / _team_alias / _alias / _hash / _org_id",
        "",
    ),
    ("meta.tags", "request_tags joined by \",\"", ""),
    ("meta.session", "session_id", ""),
    (
        "meta.*",
        "metadata.spend_logs_metadata.*, metadata.requester_metadata.* (not headers)",
        "a key taken by routesim becomes meta.custom.*",
    ),
    (
        "meta.param_*",
        "model_parameters.*",
        "request parameters (max_tokens, temperature, stream…)",
    ),
    ("meta.call_type", "call_type", ""),
];

/// `LiteLLM_SpendLogs` → routesim.
pub const SPEND_LOGS_MAPPING: &[(&str, &str, &str)] = &[
    ("request id", "request_id", "one row per request"),
    ("ts", "startTime", "naive UTC"),
    (
        "input",
        "messages",
        "\"{}\" unless store_prompts_in_spend_logs",
    ),
    (
        "meta.asked_model",
        "metadata.original_model_group ?? model_group",
        "metadata may be a JSON string",
    ),
    (
        "model column",
        "model_group (--model-key group), model or model_group@model_id",
        "the group that answered",
    ),
    (
        "status",
        "status; metadata.error_information.error_code",
        "",
    ),
    (
        "input_tokens / output_tokens",
        "prompt_tokens / completion_tokens",
        "",
    ),
    (
        "cached tokens",
        "metadata.usage_object.prompt_tokens_details.cached_tokens",
        "",
    ),
    (
        "latency_ms",
        "request_duration_ms ?? (endTime − startTime)",
        "the whole request (retries included)",
    ),
    (
        "ttft_ms",
        "completionStartTime − startTime when completionStartTime < endTime",
        "no stream column",
    ),
    ("cost_usd", "spend", ""),
    ("cache hit", "cache_hit = \"True\"", "a string"),
    (
        "logged attempts",
        "1 + metadata.attempted_retries + metadata.attempted_fallbacks",
        "retried / fell back flags from the same",
    ),
    (
        "meta.user / key_user / team / org / key_hash / session / tags",
        "end_user / user / team_id / organization_id / api_key / session_id / request_tags",
        "request_tags may be a JSON string",
    ),
    ("meta.*", "metadata.spend_logs_metadata.*", ""),
];

/// Assumptions of the SLP reader.
pub const SLP_NOTES: &[&str] = &[
    "LiteLLM StandardLoggingPayload: one line per call; the asked model group is the earliest line's model_group (a fallback's answer names the group that answered)",
    "latency is endTime − startTime (response_time is ignored: seconds, computed differently); TTFT only where stream is true",
    "failed calls log 0 tokens: treated as not logged",
];

/// Assumptions of the SpendLogs reader.
pub const SPEND_LOGS_NOTES: &[&str] = &[
    "LiteLLM_SpendLogs: one row per request; retries and fallbacks are only counted (metadata.attempted_retries / attempted_fallbacks), so the row's cell is the answering group's and its latency the whole request's",
    "TTFT where completionStartTime is before endTime (LiteLLM sets it to endTime when not streaming)",
];

/// Metadata keys routesim sets itself (a custom key of the same name becomes
/// `custom.<key>`).
const RESERVED: &[&str] = &[
    "asked_model",
    "user",
    "key_user",
    "team",
    "team_alias",
    "key_alias",
    "key_hash",
    "org",
    "tags",
    "session",
    "call_type",
];

/// A primitive JSON value as metadata text (`None` for null, empty, objects, arrays).
pub fn meta_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Add custom metadata (an object's primitive fields) under `meta.<key>`, moving keys
/// routesim uses to `custom.<key>`.
pub fn custom_meta(meta: &mut Vec<(String, String)>, obj: Option<&Value>, skip: &[&str]) {
    let Some(Value::Object(o)) = obj.map(|v| super::value::decoded(v).into_owned()) else {
        return;
    };
    for (k, v) in &o {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let Some(t) = meta_text(v) else { continue };
        let key = if RESERVED.contains(&k.as_str()) || meta.iter().any(|(m, _)| m == k) {
            format!("custom.{k}")
        } else {
            k.clone()
        };
        meta.push((key, t));
    }
}

/// Tags (a list, or a JSON string of one) joined by commas.
fn tags(v: &Value, key: &str) -> Option<String> {
    let d = at(v, &[key])?;
    let d = super::value::decoded(&d);
    let list: Vec<String> = d.as_array()?.iter().filter_map(meta_text).collect();
    (!list.is_empty()).then(|| list.join(","))
}

/// LiteLLM's status for a call.
fn status(v: &Value, info: &[&str]) -> Status {
    match text(v, &["status"]).as_deref() {
        Some("success") => Status::OK,
        _ => {
            let mut p: Vec<&str> = info.to_vec();
            p.push("error_code");
            if let Some(s) = text(v, &p)
                .and_then(|c| Status::parse(&c))
                .filter(|s| !s.is_ok())
            {
                return s;
            }
            p.pop();
            p.push("error_class");
            match text(v, &p).as_deref() {
                Some("ContextWindowExceededError") => Status::CONTEXT_LENGTH,
                Some("Timeout") | Some("APITimeoutError") => Status::TIMEOUT,
                Some("RateLimitError") => Status::RATE_LIMITED,
                _ => Status::ERROR,
            }
        }
    }
}

/// The model column of a LiteLLM record.
fn column(v: &Value, key: ModelKey) -> Option<String> {
    let group = text(v, &["model_group"]);
    let model = text(v, &["model"]);
    match key {
        ModelKey::Group => group.or(model),
        ModelKey::Model => model.or(group),
        ModelKey::Deployment => {
            let g = group.or(model)?;
            match text_any(v, &[&["model_id"], &["hidden_params", "model_id"]]) {
                Some(id) => Some(format!("{g}@{id}")),
                None => Some(g),
            }
        }
    }
}

/// The catalog name of the provider model a LiteLLM call went to (`openai/gpt-4o`),
/// for pricing a group's column.
fn provider_model(v: &Value) -> Option<String> {
    let m = text(v, &["model"])?;
    if m.contains('/') {
        return Some(m);
    }
    Some(match text(v, &["custom_llm_provider"]) {
        Some(p) => format!("{p}/{m}"),
        None => m,
    })
}

/// The key-owner fields of LiteLLM's metadata.
fn owner_meta(meta: &mut Vec<(String, String)>, v: &Value, md: &str) {
    for (k, src) in [
        ("key_user", "user_api_key_user_id"),
        ("team", "user_api_key_team_id"),
        ("team_alias", "user_api_key_team_alias"),
        ("key_alias", "user_api_key_alias"),
        ("key_hash", "user_api_key_hash"),
        ("org", "user_api_key_org_id"),
    ] {
        if meta.iter().any(|(m, _)| m == k) {
            continue;
        }
        if let Some(t) = text(v, &[md, src]) {
            meta.push((k.into(), t));
        }
    }
}

/// One `StandardLoggingPayload`.
pub fn read_slp(r: &mut Record) -> Read {
    let v = r.v;
    let Some(key) = text_any(v, &[&["trace_id"], &["litellm_call_id"], &["id"]]) else {
        r.bad(
            "trace_id",
            "no trace_id, litellm_call_id or id: cannot tell which request the line belongs to",
        );
        return Read::Skip("no id");
    };
    let Some(col) = column(v, r.opts.model_key) else {
        r.bad("model_group", "no model_group or model");
        return Read::Skip("no model");
    };
    let start = time_s(v, &["startTime"]);
    let end = time_s(v, &["endTime"]);
    let (Some(start), Some(end)) = (start, end) else {
        r.bad(
            "startTime",
            "expected startTime and endTime (epoch seconds or a timestamp)",
        );
        return Read::Skip("no times");
    };
    let mut a = Attempt::new(key);
    a.start = start;
    a.end = end;
    if r.opts.model_key != ModelKey::Model {
        a.price_as = provider_model(v);
    }
    a.column = col;
    a.status = status(v, &["error_information"]);
    let ok = a.status.is_ok();
    let (inp, out) = (
        count(v, &["prompt_tokens"]),
        count(v, &["completion_tokens"]),
    );
    if ok || inp.unwrap_or(0) + out.unwrap_or(0) > 0 {
        a.input_tokens = inp;
        a.output_tokens = out;
    }
    let paths = |tail: &[&'static str]| -> Option<u32> {
        [["metadata", "usage_object"], ["response", "usage"]]
            .iter()
            .find_map(|u| count(v, &[&u[..], tail].concat()))
    };
    a.cached_tokens = paths(&["prompt_tokens_details", "cached_tokens"]).filter(|&t| t > 0);
    a.cache_write_tokens = paths(&["cache_creation_input_tokens"]).filter(|&t| t > 0);
    a.reasoning_tokens =
        paths(&["completion_tokens_details", "reasoning_tokens"]).filter(|&t| t > 0);
    if flag(v, &["stream"]) == Some(true)
        && let Some(c) = time_s(v, &["completionStartTime"])
    {
        a.ttft_ms = (c - start) * 1000.0;
    }
    match num(v, &["response_cost"]) {
        Some(c) => a.cost_usd = c,
        None => {
            r.bad("response_cost", "expected a number (USD)");
            return Read::Skip("no cost");
        }
    }
    if let Some(resp) = at(v, &["response"]) {
        a.output = super::value::answer_text(&resp);
    }
    a.cache_hit = flag(v, &["cache_hit"]) == Some(true);
    let headers = ["hidden_params", "additional_headers"];
    let hdr = |k: &str| {
        let mut p = headers.to_vec();
        p.push(k);
        num(v, &p).unwrap_or(0.0)
    };
    a.retried = hdr("x-litellm-attempted-retries") > 0.0;
    a.fell_back = hdr("x-litellm-attempted-fallbacks") > 0.0;
    // Request-level fields.
    let mut meta = Vec::new();
    if let Some(u) = text(v, &["end_user"]) {
        meta.push(("user".into(), u));
    }
    owner_meta(&mut meta, v, "metadata");
    if !meta.iter().any(|(k, _)| k == "team")
        && let Some(t) = text(v, &["metadata", "team_id"])
    {
        meta.push(("team".into(), t));
    }
    if let Some(t) = tags(v, "request_tags") {
        meta.push(("tags".into(), t));
    }
    if let Some(s) = text(v, &["session_id"]) {
        meta.push(("session".into(), s));
    }
    if let Some(c) = text(v, &["call_type"]) {
        meta.push(("call_type".into(), c));
    }
    custom_meta(
        &mut meta,
        at(v, &["metadata", "spend_logs_metadata"]).as_deref(),
        &[],
    );
    custom_meta(
        &mut meta,
        at(v, &["metadata", "requester_metadata"]).as_deref(),
        &["headers", "used_client_oauth_token", "tags"],
    );
    if let Some(Value::Object(p)) = at(v, &["model_parameters"]).as_deref() {
        for (k, pv) in p {
            if k == "user" || k == "metadata" {
                continue;
            }
            if let Some(t) = meta_text(pv) {
                meta.push((format!("param_{k}"), t));
            }
        }
    }
    a.head = Some(Head {
        asked: text(v, &["model_group"]).or_else(|| text(v, &["model"])),
        input: at(v, &["messages"]).and_then(|m| super::value::input_json(&m)),
        meta,
    });
    Read::Attempts(vec![a])
}

/// One `LiteLLM_SpendLogs` row.
pub fn read_spend_logs(r: &mut Record) -> Read {
    let v = r.v;
    let Some(key) = text(v, &["request_id"]) else {
        r.bad("request_id", "expected the request id");
        return Read::Skip("no id");
    };
    let Some(col) = column(v, r.opts.model_key) else {
        r.bad("model_group", "no model_group or model");
        return Read::Skip("no model");
    };
    // Times in ms (SpendLogs' request_duration_ms is ms).
    let Some(start_ms) = time_ms(v, &["startTime"]) else {
        r.bad("startTime", "expected a timestamp");
        return Read::Skip("no times");
    };
    let end_ms = time_ms(v, &["endTime"]);
    let mut a = Attempt::new(key);
    a.start = start_ms;
    if r.opts.model_key != ModelKey::Model {
        a.price_as = provider_model(v);
    }
    a.latency_ms = match (num(v, &["request_duration_ms"]), end_ms) {
        (Some(d), _) => d,
        (None, Some(e)) => e - start_ms,
        (None, None) => {
            r.bad("endTime", "expected endTime or request_duration_ms");
            return Read::Skip("no times");
        }
    };
    a.column = col;
    a.status = match text(v, &["status"]).as_deref() {
        Some("success") | None => {
            if text(v, &["metadata", "error_information", "error_code"]).is_some()
                && text(v, &["status"]).is_none()
            {
                status(v, &["metadata", "error_information"])
            } else {
                Status::OK
            }
        }
        Some(_) => status(v, &["metadata", "error_information"]),
    };
    let ok = a.status.is_ok();
    let (inp, out) = (
        count(v, &["prompt_tokens"]),
        count(v, &["completion_tokens"]),
    );
    if ok || inp.unwrap_or(0) + out.unwrap_or(0) > 0 {
        a.input_tokens = inp;
        a.output_tokens = out;
    }
    a.cached_tokens = count(
        v,
        &[
            "metadata",
            "usage_object",
            "prompt_tokens_details",
            "cached_tokens",
        ],
    )
    .filter(|&t| t > 0);
    if let (Some(c), Some(e)) = (time_ms(v, &["completionStartTime"]), end_ms)
        && c < e
    {
        a.ttft_ms = c - start_ms;
    }
    match num(v, &["spend"]) {
        Some(c) => a.cost_usd = c,
        None => {
            r.bad("spend", "expected a number (USD)");
            return Read::Skip("no cost");
        }
    }
    if let Some(resp) = at(v, &["response"]) {
        a.output = super::value::answer_text(&resp);
    }
    a.cache_hit = flag(v, &["cache_hit"]) == Some(true);
    let retries = num(v, &["metadata", "attempted_retries"])
        .unwrap_or(0.0)
        .max(0.0);
    let fallbacks = num(v, &["metadata", "attempted_fallbacks"])
        .unwrap_or(0.0)
        .max(0.0);
    a.retried = retries > 0.0;
    a.fell_back = fallbacks > 0.0;
    a.extra_attempts = (retries + fallbacks).min(1000.0) as u16;
    let mut meta = Vec::new();
    if let Some(u) = text(v, &["end_user"]) {
        meta.push(("user".into(), u));
    }
    if let Some(u) = text(v, &["user"]) {
        meta.push(("key_user".into(), u));
    }
    if let Some(t) = text(v, &["team_id"]) {
        meta.push(("team".into(), t));
    }
    if let Some(t) = text(v, &["organization_id"]) {
        meta.push(("org".into(), t));
    }
    if let Some(t) = text(v, &["api_key"]) {
        meta.push(("key_hash".into(), t));
    }
    owner_meta(&mut meta, v, "metadata");
    if let Some(t) = tags(v, "request_tags") {
        meta.push(("tags".into(), t));
    }
    if let Some(s) = text(v, &["session_id"]) {
        meta.push(("session".into(), s));
    }
    if let Some(c) = text(v, &["call_type"]) {
        meta.push(("call_type".into(), c));
    }
    custom_meta(
        &mut meta,
        at(v, &["metadata", "spend_logs_metadata"]).as_deref(),
        &[],
    );
    a.head = Some(Head {
        asked: text(v, &["metadata", "original_model_group"])
            .or_else(|| text(v, &["model_group"]))
            .or_else(|| text(v, &["model"])),
        input: at(v, &["messages"]).and_then(|m| super::value::input_json(&m)),
        meta,
    });
    Read::Attempts(vec![a])
}
