//! OpenRouter generation records (`GET /api/v1/generation?id=…`: `{"data": {…}}`, a
//! JSONL of `data` objects, or a JSON array of them). A record is one generation;
//! `provider_responses[]` lists its attempts (fallbacks across providers), each with
//! only a status and a latency — tokens and cost belong to the answer (the last 2xx
//! attempt), failed attempts cost nothing (inferred: OpenRouter bills the answer).
//! Generations sharing `request_id` are one request. No prompt text (that is a
//! separate call, `/generation/content`) and no TTFT field. SCHEMAS.md §3.

use super::log::{Attempt, Head};
use super::value::{at, count_any, flag, num, text, time_ms};
use super::{Read, Record};
use crate::dataset::Status;
use serde_json::Value;

/// OpenRouter → routesim.
pub const MAPPING: &[(&str, &str, &str)] = &[
    (
        "request id",
        "request_id ?? id",
        "request_id groups the generations of one API request",
    ),
    ("ts", "created_at", "ISO 8601 with offset"),
    ("input", "—", "not in the record (GET /generation/content)"),
    (
        "meta.asked_model",
        "router ?? provider_responses[0].model_permaslug ?? model",
        "the model asked for is not stored",
    ),
    (
        "attempts",
        "provider_responses[] in order",
        "each: column model_permaslug, status, latency; started one after the other",
    ),
    ("model column", "model_permaslug (attempt) ?? model", ""),
    (
        "status",
        "provider_responses[].status; 200 without attempts unless cancelled",
        "",
    ),
    (
        "input_tokens / output_tokens",
        "native_tokens_prompt ?? tokens_prompt / native_tokens_completion ?? tokens_completion",
        "native counts are the billing basis",
    ),
    (
        "cached / reasoning tokens",
        "native_tokens_cached / native_tokens_reasoning",
        "",
    ),
    (
        "latency_ms",
        "provider_responses[].latency; the request: latency (\"total latency\")",
        "generation_time kept as meta.generation_time_ms",
    ),
    ("ttft_ms", "—", "no documented field"),
    (
        "cost_usd",
        "total_cost (on the answer; failed attempts $0)",
        "USD",
    ),
    ("cache hit", "response_cache_source_id set", ""),
    (
        "meta.user / session / provider",
        "external_user / session_id / provider_name",
        "",
    ),
    (
        "meta.app_id / workspace_id / api_type / service_tier / router",
        "same names",
        "",
    ),
    ("meta.param_stream", "streamed", ""),
];

/// Assumptions of the reader.
pub const NOTES: &[&str] = &[
    "OpenRouter generation records: provider_responses[] are the attempts of a generation, started one after the other from created_at; tokens and cost are the answer's, failed attempts cost $0 (inferred)",
    "the request's logged latency is the record's latency (\"total latency\"); generation_time is kept as meta.generation_time_ms (its meaning is not documented)",
    "no prompt text and no TTFT in generation records",
];

/// A fragment of OpenRouter's API that is not a generation record: the message to
/// give instead of reading it.
pub fn fragment(v: &Value) -> Option<String> {
    let has = |k: &str| super::value::has(v, k);
    if has("endpoint_id") && has("model_permaslug") && has("latency") {
        return Some("this is one element of an OpenRouter generation's provider_responses[], not a generation record: import the records of GET /api/v1/generation".into());
    }
    if (has("input") && has("output") && has("error")) || (has("previous_errors") && has("message"))
    {
        return Some("this is OpenRouter generation content (GET /api/v1/generation/content): it holds the prompt and answer text, not the generation's figures; import the records of GET /api/v1/generation".into());
    }
    None
}

/// One generation record.
pub fn read(r: &mut Record) -> Read {
    let v = r.v;
    let Some(id) = text(v, &["id"]) else {
        r.bad("id", "expected the generation id");
        return Read::Skip("no id");
    };
    let key = text(v, &["request_id"]).unwrap_or(id);
    let Some(created) = time_ms(v, &["created_at"]) else {
        r.bad("created_at", "expected a timestamp");
        return Read::Skip("no times");
    };
    let Some(model) = text(v, &["model"]) else {
        r.bad("model", "expected the model that served");
        return Read::Skip("no model");
    };
    let responses: Vec<Value> = at(v, &["provider_responses"])
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    let total = num(v, &["latency"]);
    let inp = count_any(v, &[&["native_tokens_prompt"], &["tokens_prompt"]]);
    let out = count_any(v, &[&["native_tokens_completion"], &["tokens_completion"]]);
    let cached = count_any(v, &[&["native_tokens_cached"]]).filter(|&t| t > 0);
    let reasoning = count_any(v, &[&["native_tokens_reasoning"]]).filter(|&t| t > 0);
    let cost = num(v, &["total_cost"]).unwrap_or(f64::NAN);
    let cancelled = flag(v, &["cancelled"]) == Some(true);
    let cache_hit = text(v, &["response_cache_source_id"]).is_some();
    let mut meta = Vec::new();
    for (k, src) in [
        ("user", "external_user"),
        ("session", "session_id"),
        ("app_id", "app_id"),
        ("workspace_id", "workspace_id"),
        ("api_type", "api_type"),
        ("service_tier", "service_tier"),
        ("router", "router"),
        ("provider", "provider_name"),
    ] {
        if let Some(t) = text(v, &[src]) {
            meta.push((k.to_string(), t));
        }
    }
    if let Some(s) = flag(v, &["streamed"]) {
        meta.push(("param_stream".into(), s.to_string()));
    }
    if let Some(g) = text(v, &["generation_time"]) {
        meta.push(("generation_time_ms".into(), g));
    }
    if cancelled {
        meta.push(("cancelled".into(), "true".into()));
    }
    let asked = text(v, &["router"])
        .or_else(|| {
            responses
                .first()
                .and_then(|p| text(p, &["model_permaslug"]))
        })
        .or_else(|| Some(model.clone()));
    let head = Head {
        asked,
        input: None,
        meta,
    };
    let mut list = Vec::new();
    if responses.is_empty() {
        let mut a = Attempt::new(key);
        a.start = created;
        a.latency_ms = total.unwrap_or(f64::NAN);
        a.column = model;
        a.status = if cancelled { Status::ERROR } else { Status::OK };
        a.input_tokens = inp;
        a.output_tokens = out;
        a.cached_tokens = cached;
        a.reasoning_tokens = reasoning;
        a.cost_usd = cost;
        a.cache_hit = cache_hit;
        a.head = Some(head);
        list.push(a);
        return Read::Attempts(list);
    }
    // The answer: the last 2xx attempt.
    let answer = responses
        .iter()
        .rposition(|p| num(p, &["status"]).is_some_and(|s| (200.0..300.0).contains(&s)));
    let mut t = created;
    let n = responses.len();
    for (k, p) in responses.iter().enumerate() {
        let mut a = Attempt::new(key.clone());
        let lat = num(p, &["latency"]).unwrap_or(f64::NAN);
        a.column = text(p, &["model_permaslug"]).unwrap_or_else(|| model.clone());
        a.status = match num(p, &["status"]) {
            Some(s) => Status::parse(&format!("{}", s as i64)).unwrap_or(Status::ERROR),
            None => Status::ERROR,
        };
        // Attempts run one after the other; the last ends at created + latency.
        if k + 1 == n
            && let Some(total) = total
            && !lat.is_nan()
        {
            a.start = created + total - lat;
        } else {
            a.start = t;
        }
        a.latency_ms = lat;
        if !lat.is_nan() {
            t = a.start + lat;
        }
        if Some(k) == answer {
            a.input_tokens = inp;
            a.output_tokens = out;
            a.cached_tokens = cached;
            a.reasoning_tokens = reasoning;
            a.cost_usd = cost;
            a.cache_hit = cache_hit;
        } else {
            a.cost_usd = 0.0;
        }
        if k == 0 {
            a.head = Some(head.clone());
        }
        list.push(a);
    }
    if answer.is_none() && !cost.is_nan() && cost > 0.0 {
        // A cost without an answer: keep it on the last attempt (never dropped).
        if let Some(last) = list.last_mut() {
            last.cost_usd = cost;
        }
    }
    Read::Attempts(list)
}
