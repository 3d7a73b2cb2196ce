//! OpenAI Batch API files: the output (and error) file joined to the input file by
//! `custom_id`, the only key they share (output order is not input order). The input
//! names the model asked for and holds the prompt; the output holds status, tokens and
//! the answer. A batch records no timing (no timestamps, no latency) and no cost (the
//! batch price is half the list price): cells get routesim's modelled latency
//! (flagged) and are priced from the price book; the logged outcome keeps latency and
//! cost unknown rather than invent them. vLLM's `run_batch` writes the same shape
//! (`error` may be a plain string). SCHEMAS.md §5.

use super::log::{Attempt, Head};
use super::value::{at, count, num, text};
use super::{Read, Record};
use crate::dataset::Status;
use serde_json::Value;

/// OpenAI Batch → routesim.
pub const MAPPING: &[(&str, &str, &str)] = &[
    (
        "request id",
        "custom_id",
        "joins output, error and input files",
    ),
    ("ts", "—", "a batch has no per-request time"),
    ("input", "input body.messages", ""),
    ("meta.asked_model", "input body.model", ""),
    (
        "model column",
        "input body.model ?? output response.body.model",
        "a dated snapshot answers for the model asked",
    ),
    (
        "status",
        "response.status_code; error.code (batch_expired, batch_cancelled → gateway_rejected; request_timeout → timeout)",
        "",
    ),
    (
        "input_tokens / output_tokens",
        "response.body.usage.prompt_tokens / completion_tokens",
        "",
    ),
    (
        "cached / reasoning tokens",
        "usage.prompt_tokens_details.cached_tokens / completion_tokens_details.reasoning_tokens",
        "",
    ),
    (
        "latency_ms",
        "—",
        "not recorded: cells are modelled (flagged), the logged latency is unknown",
    ),
    (
        "cost_usd",
        "—",
        "not recorded: priced from the price book (the batch discount is not applied)",
    ),
    ("output", "response.body.choices[0].message.content", ""),
    (
        "meta.param_*",
        "input body primitives (max_tokens, temperature…)",
        "",
    ),
    ("meta.endpoint", "input url", ""),
    (
        "meta.created_s",
        "response.body.created",
        "when the answer was made",
    ),
];

/// Assumptions of the reader.
pub const NOTES: &[&str] = &[
    "OpenAI Batch: output and error lines joined to input lines by custom_id; no timestamps, latencies or costs are recorded — cells are priced from the price book (the 50% batch discount is not applied) and their latency is modelled, the logged outcome leaves both unknown",
];

/// The status of an output or error line.
fn status(v: &Value) -> Status {
    if let Some(c) = num(v, &["response", "status_code"]) {
        return Status::parse(&format!("{}", c as i64)).unwrap_or(Status::ERROR);
    }
    let code = text(v, &["error", "code"]).or_else(|| text(v, &["error"]));
    match code.as_deref() {
        Some("batch_expired") | Some("batch_cancelled") => Status::GATEWAY_REJECTED,
        Some("request_timeout") => Status::TIMEOUT,
        _ => Status::ERROR,
    }
}

/// One output (or error) line.
pub fn read_output(r: &mut Record) -> Read {
    let v = r.v;
    let Some(key) = text(v, &["custom_id"]) else {
        r.bad("custom_id", "expected the custom_id of the input line");
        return Read::Skip("no id");
    };
    let mut a = Attempt::new(key);
    a.status = status(v);
    let body = ["response", "body"];
    let usage = |k: &[&str]| {
        let mut p = vec!["response", "body", "usage"];
        p.extend_from_slice(k);
        count(v, &p)
    };
    if a.status.is_ok() {
        a.input_tokens = usage(&["prompt_tokens"]);
        a.output_tokens = usage(&["completion_tokens"]);
        a.cached_tokens = usage(&["prompt_tokens_details", "cached_tokens"]).filter(|&t| t > 0);
        a.reasoning_tokens =
            usage(&["completion_tokens_details", "reasoning_tokens"]).filter(|&t| t > 0);
        a.output = at(v, &body).and_then(|b| super::value::answer_text(&b));
    }
    if a.status == Status::GATEWAY_REJECTED {
        // Never reached a model: no call.
        a.cache_hit = false;
    }
    // The column: the input's model (filled in when the requests are emitted), else
    // the answer's model.
    a.column = String::new();
    let served = text(v, &["response", "body", "model"]);
    let mut meta = Vec::new();
    if let Some(c) = text(v, &["response", "body", "created"]) {
        meta.push(("created_s".into(), c));
    }
    a.head = Some(Head {
        asked: served,
        input: None,
        meta,
    });
    // A head from an output line only names the model when no input line does.
    a.start = f64::NAN;
    Read::Attempts(vec![a])
}

/// One input line.
pub fn read_input(r: &mut Record) -> Read {
    let v = r.v;
    let Some(key) = text(v, &["custom_id"]) else {
        r.bad("custom_id", "expected the custom_id");
        return Read::Skip("no id");
    };
    let Some(model) = text(v, &["body", "model"]) else {
        r.bad("body", "expected body.model");
        return Read::Skip("no model");
    };
    let mut meta = Vec::new();
    if let Some(u) = text(v, &["url"]) {
        meta.push(("endpoint".into(), u));
    }
    if let Some(Value::Object(b)) = at(v, &["body"]).as_deref() {
        for (k, pv) in b {
            if k != "model"
                && k != "messages"
                && k != "prompt"
                && k != "input"
                && let Some(t) = super::litellm::meta_text(pv)
            {
                meta.push((format!("param_{k}"), t));
            }
        }
    }
    let input = at(v, &["body"])
        .and_then(|b| {
            b.get("messages")
                .or_else(|| b.get("prompt"))
                .or_else(|| b.get("input"))
                .cloned()
        })
        .and_then(|m| super::value::input_json(&m));
    Read::Head(
        key,
        Head {
            asked: Some(model),
            input,
            meta,
        },
    )
}
