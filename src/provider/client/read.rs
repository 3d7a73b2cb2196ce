//! Reading a successful response: the JSON body or the server-sent events of a
//! stream — answer text, usage, time to first token, the model the body names, the
//! response id and a `usage.cost` when the server reports one.

use super::{CallOutcome, Fault, Served, Usage, elapsed_ms, error_chain};
use crate::dataset::Status;
use crate::provider::config::Kind;
use futures_util::StreamExt;
use std::time::Instant;

pub(super) fn u32_at(v: &serde_json::Value, path: &[&str]) -> Option<u32> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_u64().map(|x| x.min(u32::MAX as u64) as u32)
}

/// Usage from an OpenAI `usage` object.
pub fn openai_usage(u: &serde_json::Value) -> Usage {
    Usage {
        input_tokens: u32_at(u, &["prompt_tokens"]),
        output_tokens: u32_at(u, &["completion_tokens"]),
        cached_tokens: u32_at(u, &["prompt_tokens_details", "cached_tokens"]),
        cache_write_tokens: None,
        reasoning_tokens: u32_at(u, &["completion_tokens_details", "reasoning_tokens"]),
    }
}

/// Usage from an Anthropic `usage` object (its input excludes cache reads and writes).
pub fn anthropic_usage(u: &serde_json::Value) -> Usage {
    let base = u32_at(u, &["input_tokens"]);
    let read = u32_at(u, &["cache_read_input_tokens"]).unwrap_or(0);
    let write = u32_at(u, &["cache_creation_input_tokens"]).unwrap_or(0);
    Usage {
        input_tokens: base.map(|b| b + read + write),
        output_tokens: u32_at(u, &["output_tokens"]),
        cached_tokens: Some(read),
        cache_write_tokens: Some(write),
        reasoning_tokens: None,
    }
}

/// A cost in a `usage` object (OpenRouter, LiteLLM streams), USD.
pub(super) fn usage_cost(u: &serde_json::Value) -> Option<f64> {
    u.get("cost")
        .and_then(|c| c.as_f64())
        .filter(|c| c.is_finite() && *c >= 0.0)
}

pub(super) fn text_at(v: &serde_json::Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(String::from)
}

pub(super) async fn read_json(resp: reqwest::Response, kind: Kind, t0: Instant) -> CallOutcome {
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => {
            // The response had started: the model was too slow to finish.
            return CallOutcome {
                latency_ms: elapsed_ms(t0),
                retryable: true,
                ..CallOutcome::failed(Status::TIMEOUT, "timed out reading the response".into())
            };
        }
        Err(e) => {
            let mut o = CallOutcome::fault(
                Fault::Unreachable,
                format!(
                    "the connection broke while reading the response: {}",
                    error_chain(&e)
                ),
            );
            o.latency_ms = elapsed_ms(t0);
            return o;
        }
    };
    let latency_ms = elapsed_ms(t0);
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return CallOutcome {
                latency_ms,
                ..CallOutcome::failed(
                    Status::ERROR,
                    format!("malformed JSON in a 200 response: {e}"),
                )
            };
        }
    };
    let (output, usage) = match kind {
        Kind::OpenAi => (
            v["choices"][0]["message"]["content"]
                .as_str()
                .map(String::from),
            openai_usage(&v["usage"]),
        ),
        Kind::Anthropic => (
            v["content"].as_array().map(|a| {
                a.iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("")
            }),
            anthropic_usage(&v["usage"]),
        ),
    };
    CallOutcome {
        status: Status::OK,
        output,
        usage,
        latency_ms,
        error: None,
        served: Served {
            model: text_at(&v["model"]),
            ..Served::default()
        },
        reported_cost_usd: usage_cost(&v["usage"]),
        response_id: text_at(&v["id"]),
        ..CallOutcome::failed(Status::OK, String::new())
    }
}

pub(super) async fn read_stream(resp: reqwest::Response, kind: Kind, t0: Instant) -> CallOutcome {
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut text = String::new();
    let mut ttft = None;
    let mut usage = Usage::default();
    let mut cost = None;
    let mut model = None;
    let mut id = None;
    let mut error = None;
    let mut timeout = false;
    let mut broken = false;
    'outer: while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                timeout = e.is_timeout();
                broken = !timeout;
                error = Some(format!("stream interrupted: {}", error_chain(&e)));
                break;
            }
        };
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..pos + 2).collect();
            let event = String::from_utf8_lossy(&event);
            for line in event.lines() {
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break 'outer;
                }
                let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
                    error = Some("malformed JSON in a stream event".into());
                    continue;
                };
                let delta = match kind {
                    Kind::OpenAi => {
                        model = model.or_else(|| text_at(&v["model"]));
                        id = id.or_else(|| text_at(&v["id"]));
                        if v["usage"].is_object() {
                            usage = openai_usage(&v["usage"]);
                            cost = usage_cost(&v["usage"]).or(cost);
                        }
                        v["choices"][0]["delta"]["content"]
                            .as_str()
                            .map(String::from)
                    }
                    Kind::Anthropic => match v["type"].as_str() {
                        Some("message_start") => {
                            let m = &v["message"];
                            model = text_at(&m["model"]);
                            id = text_at(&m["id"]);
                            let u = anthropic_usage(&m["usage"]);
                            usage.input_tokens = u.input_tokens;
                            usage.cached_tokens = u.cached_tokens;
                            usage.cache_write_tokens = u.cache_write_tokens;
                            None
                        }
                        Some("message_delta") => {
                            usage.output_tokens = u32_at(&v, &["usage", "output_tokens"]);
                            None
                        }
                        Some("content_block_delta") => {
                            v["delta"]["text"].as_str().map(String::from)
                        }
                        Some("message_stop") => break 'outer,
                        _ => None,
                    },
                };
                if let Some(d) = delta
                    && !d.is_empty()
                {
                    if ttft.is_none() {
                        ttft = Some(elapsed_ms(t0));
                    }
                    text.push_str(&d);
                }
            }
        }
    }
    let latency_ms = elapsed_ms(t0);
    if broken {
        // A cut stream is not an answer, however much of it arrived.
        let mut o = CallOutcome::fault(Fault::Unreachable, error.unwrap_or_default());
        o.latency_ms = latency_ms;
        return o;
    }
    let failed = error.is_some() && text.is_empty();
    CallOutcome {
        status: if timeout {
            Status::TIMEOUT
        } else if failed {
            Status::ERROR
        } else {
            Status::OK
        },
        fault: None,
        output: (!text.is_empty()).then_some(text),
        usage,
        latency_ms,
        ttft_ms: ttft,
        retry_after_ms: None,
        retryable: timeout || failed,
        error,
        server_us: None,
        served: Served {
            model,
            ..Served::default()
        },
        reported_cost_usd: cost,
        response_id: id,
    }
}
