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
    let mut events = SseEvents::default();
    let mut st = StreamState::default();
    let mut broken = None;
    'outer: while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                st.timeout = e.is_timeout();
                broken = (!st.timeout).then(|| format!("stream interrupted: {}", error_chain(&e)));
                if st.timeout {
                    st.error = Some(format!("stream interrupted: {}", error_chain(&e)));
                }
                break;
            }
        };
        events.push(&chunk);
        while let Some(event) = events.next_event() {
            if st.event(&event, kind, t0) {
                break 'outer;
            }
        }
    }
    let latency_ms = elapsed_ms(t0);
    if broken.is_none() && !st.timeout && !st.finished && st.failure.is_none() {
        // The server closed the stream cleanly but before its end marker
        // (`[DONE]`, a `finish_reason`, Anthropic's `message_stop`): a cut stream.
        broken = Some("the stream ended before its end marker".into());
    }
    if let Some(why) = broken {
        // A cut stream is not an answer, however much of it arrived.
        let mut o = CallOutcome::fault(Fault::Unreachable, why);
        o.latency_ms = latency_ms;
        return o;
    }
    st.outcome(latency_ms)
}

/// Server-sent events split out of the byte stream: line endings normalised (`\r\n`
/// and a lone `\r` end a line, as the SSE specification says), events split at the
/// blank line.
#[derive(Default)]
struct SseEvents {
    buf: Vec<u8>,
    /// The last byte pushed was `\r` (its `\n` may come in the next chunk).
    after_cr: bool,
}

impl SseEvents {
    fn push(&mut self, chunk: &[u8]) {
        for &b in chunk {
            match b {
                b'\r' => {
                    self.buf.push(b'\n');
                    self.after_cr = true;
                }
                b'\n' if self.after_cr => self.after_cr = false,
                _ => {
                    self.buf.push(b);
                    self.after_cr = false;
                }
            }
        }
    }

    /// The next complete event's text, if one has arrived.
    fn next_event(&mut self) -> Option<String> {
        let pos = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let event: Vec<u8> = self.buf.drain(..pos + 2).collect();
        Some(String::from_utf8_lossy(&event).into_owned())
    }
}

/// What a stream has said so far.
#[derive(Default)]
struct StreamState {
    text: String,
    ttft: Option<f64>,
    usage: Usage,
    cost: Option<f64>,
    model: Option<String>,
    id: Option<String>,
    /// A malformed event (the answer may still be whole).
    error: Option<String>,
    /// An error event: the provider's answer is a failure with this status.
    failure: Option<(Status, String)>,
    timeout: bool,
    /// The end marker arrived.
    finished: bool,
}

impl StreamState {
    /// Read one event; true when the stream is over.
    fn event(&mut self, event: &str, kind: Kind, t0: Instant) -> bool {
        let mut name = None;
        for line in event.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = Some(n.trim().to_string());
                continue;
            }
            // Comments (`: OPENROUTER PROCESSING`) and other fields are skipped.
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                self.finished = true;
                return true;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
                if name.as_deref() == Some("error") {
                    self.failure = Some((Status::ERROR, short_text(data)));
                    return true;
                }
                self.error = Some("malformed JSON in a stream event".into());
                continue;
            };
            if let Some(f) = stream_error(&v) {
                self.failure = Some(f);
                return true;
            }
            let delta = match kind {
                Kind::OpenAi => {
                    self.model = self.model.take().or_else(|| text_at(&v["model"]));
                    self.id = self.id.take().or_else(|| text_at(&v["id"]));
                    if v["usage"].is_object() {
                        self.usage = openai_usage(&v["usage"]);
                        self.cost = usage_cost(&v["usage"]).or(self.cost);
                    }
                    if v["choices"][0]["finish_reason"]
                        .as_str()
                        .is_some_and(|r| !r.is_empty())
                    {
                        // The answer is whole; a usage event and `[DONE]` may follow.
                        self.finished = true;
                    }
                    v["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(String::from)
                }
                Kind::Anthropic => match v["type"].as_str() {
                    Some("message_start") => {
                        let m = &v["message"];
                        self.model = text_at(&m["model"]);
                        self.id = text_at(&m["id"]);
                        let u = anthropic_usage(&m["usage"]);
                        self.usage.input_tokens = u.input_tokens;
                        self.usage.cached_tokens = u.cached_tokens;
                        self.usage.cache_write_tokens = u.cache_write_tokens;
                        None
                    }
                    Some("message_delta") => {
                        self.usage.output_tokens = u32_at(&v, &["usage", "output_tokens"]);
                        None
                    }
                    Some("content_block_delta") => v["delta"]["text"].as_str().map(String::from),
                    Some("message_stop") => {
                        self.finished = true;
                        return true;
                    }
                    _ => None,
                },
            };
            if let Some(d) = delta
                && !d.is_empty()
            {
                if self.ttft.is_none() {
                    self.ttft = Some(elapsed_ms(t0));
                }
                self.text.push_str(&d);
            }
        }
        false
    }

    fn outcome(self, latency_ms: f64) -> CallOutcome {
        let (status, error, retryable) = if let Some((status, why)) = self.failure {
            // An error event is the provider's answer (overloaded, rate limited, a
            // mid-stream failure), stored like the same error sent as a status code.
            let retryable = status.0 == 429 || status.0 >= 500;
            (status, Some(why), retryable)
        } else if self.timeout {
            (Status::TIMEOUT, self.error, true)
        } else if self.error.is_some() && self.text.is_empty() {
            (Status::ERROR, self.error, true)
        } else {
            (Status::OK, self.error, false)
        };
        CallOutcome {
            status,
            fault: None,
            output: (!self.text.is_empty()).then_some(self.text),
            usage: self.usage,
            latency_ms,
            ttft_ms: self.ttft,
            retry_after_ms: None,
            retryable,
            error,
            server_us: None,
            served: Served {
                model: self.model,
                ..Served::default()
            },
            reported_cost_usd: self.cost,
            response_id: self.id,
        }
    }
}

/// An error sent inside a stream: `data: {"error": {…}}` (OpenAI-compatible servers —
/// OpenRouter, LiteLLM, vLLM) or Anthropic's `event: error` / `{"type": "error"}`.
/// Its status is the code it carries, or the one Anthropic's error type stands for.
fn stream_error(v: &serde_json::Value) -> Option<(Status, String)> {
    let e = v.get("error").filter(|e| e.is_object() || e.is_string())?;
    let message = e["message"]
        .as_str()
        .map(short_text)
        .unwrap_or_else(|| short_text(&e.to_string()));
    let code = match &e["code"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let status = code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .map(Status)
        .or_else(|| match e["type"].as_str()? {
            "overloaded_error" => Some(Status(529)),
            "rate_limit_error" => Some(Status::RATE_LIMITED),
            "api_error" => Some(Status(500)),
            "timeout_error" => Some(Status::TIMEOUT),
            _ => None,
        })
        .unwrap_or(Status::ERROR);
    Some((status, format!("error event in the stream: {message}")))
}

fn short_text(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
