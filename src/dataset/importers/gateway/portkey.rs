//! Portkey log exports (`/v1/logs/exports`, JSONL, one row per attempt; the attempts
//! of one request share `trace_id`). Two spellings of the fields exist (the export
//! enum: `ai_org, req_units, res_units, response_status_code`; the docs' example:
//! `ai_provider, request_tokens, response_tokens, status_code`) — both are read. The
//! cost's unit is disputed (the docs say cents, the analytics schema "the specified
//! currency"): routesim reads cents unless `--cost-unit usd` says otherwise, and says
//! so in the dataset's notes. SCHEMAS.md §2.1.

use super::log::{Attempt, Head};
use super::value::{at, count_any, num, text, text_any, time_ms};
use super::{CostUnit, ImportOptions, Read, Record};
use crate::dataset::Status;
use serde_json::Value;

/// Portkey export → routesim.
pub const MAPPING: &[(&str, &str, &str)] = &[
    (
        "request id",
        "trace_id ?? id",
        "all attempts of one request share trace_id",
    ),
    ("ts", "min created_at of the trace", "ISO 8601"),
    (
        "input",
        "request.messages (or request.body.messages)",
        "request may be withheld by an admin",
    ),
    (
        "meta.asked_model",
        "request.model of the earliest attempt",
        "differs from ai_model when a target overrides the model",
    ),
    (
        "model column",
        "ai_org (or ai_provider) + \"/\" + ai_model",
        "",
    ),
    (
        "status",
        "response_status_code ?? status_code ?? is_success (1 → 200)",
        "",
    ),
    (
        "input_tokens / output_tokens",
        "req_units ?? request_tokens / res_units ?? response_tokens",
        "",
    ),
    (
        "latency_ms",
        "response_time",
        "ms; the request's latency is the span of its attempts",
    ),
    ("ttft_ms", "—", "not exported"),
    (
        "cost_usd",
        "cost ÷ 100 (--cost-unit cents, default) or cost (--cost-unit usd)",
        "disputed unit; cost_currency must be USD",
    ),
    ("output", "response.choices[0].message.content", ""),
    (
        "cache hit",
        "cache_status HIT or SEMANTIC HIT",
        "deprecated export field",
    ),
    ("meta.user", "metadata._user", ""),
    ("meta.*", "metadata.*", ""),
    (
        "meta.portkey_config / portkey_mode / prompt_slug",
        "config / mode (lower case) / prompt_slug",
        "",
    ),
    (
        "meta.param_*",
        "request body primitives (max_tokens, temperature…)",
        "",
    ),
];

/// Assumptions, with the cost unit used.
pub fn notes(opts: &ImportOptions) -> Vec<String> {
    let unit = opts.cost_unit.unwrap_or(CostUnit::Cents);
    vec![
        "Portkey export: one row per attempt; rows sharing trace_id are one request, the asked model is the earliest row's request.model".into(),
        format!(
            "cost unit: {} (Portkey's export docs say cents, its analytics schema says the currency's unit; the choice is --cost-unit, default cents)",
            unit.name()
        ),
        "TTFT is not exported".into(),
    ]
}

/// One export row.
pub fn read(r: &mut Record) -> Read {
    let v = r.v;
    let Some(key) = text_any(v, &[&["trace_id"], &["id"]]) else {
        r.bad("trace_id", "no trace_id or id");
        return Read::Skip("no id");
    };
    let org = text_any(v, &[&["ai_org"], &["ai_provider"], &["provider"]]);
    let Some(model) = text(v, &["ai_model"]) else {
        r.bad("ai_model", "expected the model called");
        return Read::Skip("no model");
    };
    let Some(start) = time_ms(v, &["created_at"]) else {
        r.bad("created_at", "expected a timestamp");
        return Read::Skip("no times");
    };
    let Some(lat) = num(v, &["response_time"]) else {
        r.bad("response_time", "expected the response time in ms");
        return Read::Skip("no times");
    };
    if let Some(cur) = text(v, &["cost_currency"])
        && !cur.eq_ignore_ascii_case("USD")
    {
        r.bad(
            "cost_currency",
            format!("expected USD, found \"{cur}\" (routesim reads costs in US dollars)"),
        );
        return Read::Skip("currency");
    }
    let mut a = Attempt::new(key);
    // Times in ms since the epoch.
    a.start = start;
    a.latency_ms = lat;
    a.column = match org {
        Some(o) => format!("{o}/{model}"),
        None => model,
    };
    a.status = match num(v, &["response_status_code"]).or_else(|| num(v, &["status_code"])) {
        Some(c) => Status::parse(&format!("{}", c as i64)).unwrap_or(Status::ERROR),
        None => match num(v, &["is_success"]) {
            Some(x) if x != 0.0 => Status::OK,
            _ => Status::ERROR,
        },
    };
    let ok = a.status.is_ok();
    let inp = count_any(v, &[&["req_units"], &["request_tokens"]]);
    let out = count_any(v, &[&["res_units"], &["response_tokens"]]);
    if ok || inp.unwrap_or(0) + out.unwrap_or(0) > 0 {
        a.input_tokens = inp;
        a.output_tokens = out;
    }
    let unit = r.opts.cost_unit.unwrap_or(CostUnit::Cents);
    a.cost_usd = num(v, &["cost"])
        .map(|c| unit.to_usd(c))
        .unwrap_or(f64::NAN);
    a.output = at(v, &["response"])
        .and_then(|b| super::value::answer_text(&b))
        .or_else(|| at(v, &["response", "body"]).and_then(|b| super::value::answer_text(&b)));
    a.cache_hit = matches!(
        text(v, &["cache_status"])
            .map(|s| s.to_ascii_uppercase())
            .as_deref(),
        Some("HIT") | Some("SEMANTIC HIT")
    );
    let body = at(v, &["request", "body"]).or_else(|| at(v, &["request"]));
    let mut meta = Vec::new();
    if let Some(Value::Object(m)) = at(v, &["metadata"]).as_deref() {
        if let Some(u) = m.get("_user").and_then(super::litellm::meta_text) {
            meta.push(("user".into(), u));
        }
        let rest = Value::Object(m.clone());
        super::litellm::custom_meta(&mut meta, Some(&rest), &["_user"]);
    }
    if let Some(c) = text(v, &["config"]) {
        meta.push(("portkey_config".into(), c));
    }
    if let Some(m) = text(v, &["mode"]) {
        meta.push(("portkey_mode".into(), m.to_ascii_lowercase()));
    }
    if let Some(p) = text(v, &["prompt_slug"]) {
        meta.push(("prompt_slug".into(), p));
    }
    let mut asked = None;
    let mut input = None;
    if let Some(b) = body.as_deref() {
        if let Value::Object(o) = b {
            for (k, pv) in o {
                if k == "model" {
                    asked = super::litellm::meta_text(pv);
                } else if k != "messages"
                    && k != "prompt"
                    && let Some(t) = super::litellm::meta_text(pv)
                {
                    meta.push((format!("param_{k}"), t));
                }
            }
        }
        input = b
            .get("messages")
            .or_else(|| b.get("prompt"))
            .and_then(super::value::input_json);
    }
    a.head = Some(Head { asked, input, meta });
    Read::Attempts(vec![a])
}
