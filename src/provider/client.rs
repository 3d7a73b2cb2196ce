//! One HTTP call to a provider (OpenAI chat completions or Anthropic messages), with
//! or without streaming; parsing usage, time to first token, errors and `retry-after`.
//! Keys go into request headers only and are redacted from every message kept.

use super::config::{Kind, Provider};
use crate::dataset::Status;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Token usage reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens including cached ones.
    pub input_tokens: Option<u32>,
    /// Completion tokens including reasoning ones.
    pub output_tokens: Option<u32>,
    /// Prompt tokens read from the cache.
    pub cached_tokens: Option<u32>,
    /// Prompt tokens written to the cache (Anthropic `cache_creation_input_tokens`).
    pub cache_write_tokens: Option<u32>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u32>,
}

/// What one call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// `ok`, an HTTP status, `timeout` or `error`.
    pub status: Status,
    /// Answer text.
    pub output: Option<String>,
    /// Usage block.
    pub usage: Usage,
    /// Wall-clock latency, ms.
    pub latency_ms: f64,
    /// Time to first token (streaming), ms.
    pub ttft_ms: Option<f64>,
    /// `retry-after` of a 429/503, ms.
    pub retry_after_ms: Option<f64>,
    /// Error description (redacted, at most 300 characters).
    pub error: Option<String>,
    /// Whether retrying may help (429, 5xx, timeouts, dropped connections).
    pub retryable: bool,
    /// Server-reported service time (mock provider only), µs.
    pub server_us: Option<u64>,
}

impl CallOutcome {
    /// A call that ended without an answer: `status`, an error text, nothing else.
    pub fn failed(status: Status, error: String) -> CallOutcome {
        CallOutcome {
            status,
            output: None,
            usage: Usage::default(),
            latency_ms: 0.0,
            ttft_ms: None,
            retry_after_ms: None,
            error: Some(error),
            retryable: false,
            server_us: None,
        }
    }
}

/// Replace every occurrence of the key in `s`.
pub fn redact(s: &str, key: Option<&str>) -> String {
    match key {
        Some(k) if k.len() >= 4 => s.replace(k, "[REDACTED]"),
        _ => s.to_string(),
    }
}

fn short(s: &str) -> String {
    let t: String = s.chars().take(300).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// The server's requested wait, ms: `retry-after-ms` (Azure OpenAI), else
/// `retry-after` in seconds or as an HTTP date (RFC 9110), measured from now.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<f64> {
    if let Some(ms) = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(ms);
    }
    let v = h.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<f64>() {
        return Some(s * 1000.0);
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    http_date_ms(v).map(|t| (t - now_ms).max(0) as f64)
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as ms since the epoch.
fn http_date_ms(s: &str) -> Option<i64> {
    let rest = s.split_once(", ")?.1;
    let mut it = rest.split_whitespace();
    let day: u32 = it.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = it.next()?;
    let month = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) {
        return None;
    }
    let days = crate::dataset::time::days_from_civil(year, month, day);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000)
}

fn request_body(p: &Provider, model: &str, prompt: &str) -> serde_json::Value {
    let mut body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
    });
    // Anthropic always takes max_tokens; OpenAI's reasoning models want
    // max_completion_tokens instead.
    let cap = match p.kind {
        Kind::Anthropic => "max_tokens",
        Kind::OpenAi => p.max_tokens_param.as_str(),
    };
    body[cap] = p.max_tokens.into();
    if p.stream {
        body["stream"] = true.into();
        if p.kind == Kind::OpenAi {
            body["stream_options"] = serde_json::json!({"include_usage": true});
        }
    }
    body
}

fn u32_at(v: &serde_json::Value, path: &[&str]) -> Option<u32> {
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

/// Make one call.
pub async fn call_once(
    client: &reqwest::Client,
    p: &Provider,
    model: &str,
    prompt: &str,
    key: Option<&str>,
) -> CallOutcome {
    let url = match p.kind {
        Kind::OpenAi => format!("{}/chat/completions", p.base_url),
        Kind::Anthropic => format!("{}/v1/messages", p.base_url.trim_end_matches("/v1")),
    };
    let mut req = client
        .post(&url)
        .timeout(Duration::from_millis(p.timeout_ms))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&request_body(p, model, prompt)).unwrap_or_default());
    match (p.kind, key) {
        (Kind::OpenAi, Some(k)) => req = req.header("authorization", format!("Bearer {k}")),
        (Kind::Anthropic, Some(k)) => req = req.header("x-api-key", k),
        _ => {}
    }
    if p.kind == Kind::Anthropic {
        req = req.header("anthropic-version", "2023-06-01");
    }
    for (h, v) in &p.headers {
        req = req.header(h.as_str(), v.as_str());
    }
    let t0 = Instant::now();
    let fail = |status: Status, msg: String, retryable: bool, t0: Instant| CallOutcome {
        status,
        output: None,
        usage: Usage::default(),
        latency_ms: t0.elapsed().as_secs_f64() * 1000.0,
        ttft_ms: None,
        retry_after_ms: None,
        error: Some(short(&redact(&msg, key))),
        retryable,
        server_us: None,
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return fail(Status::TIMEOUT, "timed out".into(), true, t0),
        Err(e) => return fail(Status::ERROR, format!("request failed: {e}"), true, t0),
    };
    let code = resp.status().as_u16();
    let ra = retry_after(resp.headers());
    let server_us = resp
        .headers()
        .get("x-mock-service-us")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if !(200..300).contains(&code) {
        let body = resp.text().await.unwrap_or_default();
        let mut o = fail(
            Status(code),
            format!("HTTP {code}: {body}"),
            code == 429 || code >= 500,
            t0,
        );
        o.retry_after_ms = ra;
        return o;
    }
    let mut out = if p.stream {
        read_stream(resp, p.kind, t0).await
    } else {
        read_json(resp, p.kind, t0).await
    };
    if let Some(e) = &out.error {
        out.error = Some(short(&redact(e, key)));
    }
    out.server_us = server_us;
    out
}

async fn read_json(resp: reqwest::Response, kind: Kind, t0: Instant) -> CallOutcome {
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let timeout = e.is_timeout();
            return CallOutcome {
                status: if timeout {
                    Status::TIMEOUT
                } else {
                    Status::ERROR
                },
                output: None,
                usage: Usage::default(),
                latency_ms: t0.elapsed().as_secs_f64() * 1000.0,
                ttft_ms: None,
                retry_after_ms: None,
                error: Some(format!("reading the response failed: {e}")),
                retryable: true,
                server_us: None,
            };
        }
    };
    let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return CallOutcome {
                status: Status::ERROR,
                output: None,
                usage: Usage::default(),
                latency_ms,
                ttft_ms: None,
                retry_after_ms: None,
                error: Some(format!("malformed JSON in a 200 response: {e}")),
                retryable: false,
                server_us: None,
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
        ttft_ms: None,
        retry_after_ms: None,
        error: None,
        retryable: false,
        server_us: None,
    }
}

async fn read_stream(resp: reqwest::Response, kind: Kind, t0: Instant) -> CallOutcome {
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut text = String::new();
    let mut ttft = None;
    let mut usage = Usage::default();
    let mut error = None;
    let mut timeout = false;
    'outer: while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                timeout = e.is_timeout();
                error = Some(format!("stream interrupted: {e}"));
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
                        if v["usage"].is_object() {
                            usage = openai_usage(&v["usage"]);
                        }
                        v["choices"][0]["delta"]["content"]
                            .as_str()
                            .map(String::from)
                    }
                    Kind::Anthropic => match v["type"].as_str() {
                        Some("message_start") => {
                            let u = anthropic_usage(&v["message"]["usage"]);
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
                        ttft = Some(t0.elapsed().as_secs_f64() * 1000.0);
                    }
                    text.push_str(&d);
                }
            }
        }
    }
    let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let failed = error.is_some() && text.is_empty();
    CallOutcome {
        status: if timeout {
            Status::TIMEOUT
        } else if failed {
            Status::ERROR
        } else {
            Status::OK
        },
        output: (!text.is_empty()).then_some(text),
        usage,
        latency_ms,
        ttft_ms: ttft,
        retry_after_ms: None,
        retryable: timeout || failed,
        error,
        server_us: None,
    }
}

/// An HTTP client tuned for many concurrent calls (TLS via rustls + ring).
pub fn http_client(max_idle_per_host: usize) -> anyhow::Result<reqwest::Client> {
    // Installing the process-wide provider fails harmlessly when already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(max_idle_per_host)
        .tcp_nodelay(true)
        .user_agent(concat!("routesim/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_cap_uses_the_configured_parameter_name() {
        let text = "[[provider]]\nname = \"o\"\nbase_url = \"http://x/v1\"\nmodels = { m = \"o3\" }\nmax_tokens = 50\nmax_tokens_param = \"max_completion_tokens\"\n\
                    [[provider]]\nname = \"a\"\nkind = \"anthropic\"\nbase_url = \"http://y\"\nmodels = { c = \"claude\" }\nmax_tokens_param = \"max_completion_tokens\"\n";
        let ps = crate::provider::config::parse("p.toml", text).unwrap();
        let o = request_body(&ps.providers[0], "o3", "hi");
        assert_eq!(o["max_completion_tokens"], 50);
        assert!(o.get("max_tokens").is_none());
        let a = request_body(&ps.providers[1], "claude", "hi");
        assert_eq!(a["max_tokens"], 1024, "Anthropic always takes max_tokens");
        let bad = crate::provider::config::parse(
            "p.toml",
            "[[provider]]\nname = \"o\"\nbase_url = \"http://x\"\nmodels = { m = \"o\" }\nmax_tokens_param = \"limit\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("p.toml:5:20: max_tokens_param: expected"),
            "{bad}"
        );
    }

    #[test]
    fn retry_after_in_seconds_ms_or_http_date() {
        use reqwest::header::{HeaderMap, HeaderValue};
        // 1994-11-06 is day 9075 after the epoch: 9075 × 86,400 s + 08:49:37.
        assert_eq!(
            http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some((9075 * 86_400 + 8 * 3600 + 49 * 60 + 37) * 1000)
        );
        assert_eq!(http_date_ms("Sun, 06 Nov 1994 08:49:37 CET"), None);
        assert_eq!(http_date_ms("tomorrow"), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(2000.0));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(150.0));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(0.0), "a date in the past: no wait");
    }

    #[test]
    fn parses_usage_blocks_of_both_apis() {
        let o = openai_usage(
            &serde_json::json!({"prompt_tokens": 10, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 3}}),
        );
        assert_eq!(
            o,
            Usage {
                input_tokens: Some(10),
                output_tokens: Some(7),
                cached_tokens: Some(4),
                cache_write_tokens: None,
                reasoning_tokens: Some(3)
            }
        );
        let a = anthropic_usage(
            &serde_json::json!({"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}),
        );
        assert_eq!(a.input_tokens, Some(115));
        assert_eq!(a.cached_tokens, Some(100));
        assert_eq!(a.cache_write_tokens, Some(5));
        assert_eq!(
            redact("key sk-abc123 leaked sk-abc123", Some("sk-abc123")),
            "key [REDACTED] leaked [REDACTED]"
        );
    }
}
