//! One HTTP call to a provider (OpenAI chat completions or Anthropic messages), with
//! or without streaming; parsing usage, time to first token, errors, `retry-after`,
//! the model that answered and the cost a gateway reports. Keys go into request
//! headers only and are redacted from every message kept.
//!
//! A call ends in one of two ways. Either the provider *answered* — a success, or an
//! error it chose to return (429, 5xx, context length, content filter, malformed
//! JSON, a timeout once the response had started) — and the outcome is a recording.
//! Or there was no answer to record ([`Fault`]): the endpoint could not be reached
//! (refused or reset connection, DNS, TLS, no byte before the timeout), the key was
//! refused, or the model is unknown. Faults are never stored.

mod read;

use super::config::{Kind, Provider};
use crate::dataset::Status;
pub use read::{anthropic_usage, openai_usage};
use read::{read_json, read_stream};
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

/// A call that produced nothing to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No answer from the endpoint: connection refused or reset, DNS or TLS failure,
    /// no byte before the client's timeout, or the connection broke mid-response.
    Unreachable,
    /// The key was refused (401/403, or a gateway's own wording for it).
    Auth,
    /// The model or the endpoint is unknown (404, or a gateway's "invalid model").
    UnknownModel,
}

impl Fault {
    /// What the user should check.
    pub fn hint(self) -> &'static str {
        match self {
            Fault::Unreachable => "is the base URL right and the server up?",
            Fault::Auth => "check the key in the provider's api_key_env",
            Fault::UnknownModel => {
                "check the model id in providers.toml (and that base_url ends in /v1 for OpenAI-compatible servers)"
            }
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::Unreachable => "unreachable",
            Fault::Auth => "key refused",
            Fault::UnknownModel => "unknown model",
        })
    }
}

/// What a response says about the model that answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Served {
    /// The body's `model` (a dated snapshot, the deployment, or after a LiteLLM
    /// fallback the served deployment's model).
    pub model: Option<String>,
    /// LiteLLM's `x-litellm-model-group`: the model group that answered.
    pub group: Option<String>,
    /// LiteLLM's `x-litellm-model-name`: the deployment's `provider/model`.
    pub deployment: Option<String>,
    /// LiteLLM's `x-litellm-attempted-fallbacks`.
    pub fallbacks: Option<u32>,
}

/// What one call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// `ok`, an HTTP status, `timeout` or `error`.
    pub status: Status,
    /// Why there is nothing to record, when there is not.
    pub fault: Option<Fault>,
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
    /// The model that answered, as the response names it.
    pub served: Served,
    /// Cost reported by the gateway (`x-litellm-response-cost`, or `usage.cost` as
    /// OpenRouter and LiteLLM's stream send it), USD.
    pub reported_cost_usd: Option<f64>,
    /// The response's id (`chatcmpl-…`, `msg_…`).
    pub response_id: Option<String>,
}

impl CallOutcome {
    /// A call that ended without an answer: `status`, an error text, nothing else.
    pub fn failed(status: Status, error: String) -> CallOutcome {
        CallOutcome {
            status,
            fault: None,
            output: None,
            usage: Usage::default(),
            latency_ms: 0.0,
            ttft_ms: None,
            retry_after_ms: None,
            error: Some(error),
            retryable: false,
            server_us: None,
            served: Served::default(),
            reported_cost_usd: None,
            response_id: None,
        }
    }

    /// A call with nothing to record.
    pub fn fault(fault: Fault, error: String) -> CallOutcome {
        CallOutcome {
            fault: Some(fault),
            retryable: true,
            ..CallOutcome::failed(Status::ERROR, error)
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

fn elapsed_ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

/// An error and its causes, one sentence (reqwest's own text names only the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// Whether an error answer means there is nothing to record: the key was refused or
/// the model is unknown. 401/403 and 404 by their codes; a 400 by the wording that
/// gateways use for the same (a LiteLLM proxy without a database answers a wrong key
/// with 400 `no_db_connection`, an unknown model with 400 "Invalid model name";
/// OpenRouter says "is not a valid model ID").
pub fn classify_http(code: u16, body: &str) -> Option<Fault> {
    match code {
        401 | 403 => return Some(Fault::Auth),
        404 => return Some(Fault::UnknownModel),
        400 | 422 => {}
        _ => return None,
    }
    let b = body.to_ascii_lowercase();
    const AUTH: &[&str] = &[
        "no_db_connection",
        "authentication error",
        "authentication_error",
        "invalid_api_key",
        "incorrect api key",
        "invalid api key",
        "invalid proxy server token",
        "unauthorized",
    ];
    const MODEL: &[&str] = &[
        "invalid model name",
        "model_not_found",
        "not a valid model",
        "unknown model",
        "model not found",
        "no such model",
    ];
    if AUTH.iter().any(|w| b.contains(w)) {
        Some(Fault::Auth)
    } else if MODEL.iter().any(|w| b.contains(w))
        || (b.contains("model") && b.contains("does not exist"))
    {
        Some(Fault::UnknownModel)
    } else {
        None
    }
}

/// What the response headers say: LiteLLM's served group, deployment, fallbacks and
/// cost, the mock's service time.
fn header_facts(h: &reqwest::header::HeaderMap) -> (Served, Option<f64>, Option<u64>) {
    let text = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let served = Served {
        model: None,
        group: text("x-litellm-model-group"),
        deployment: text("x-litellm-model-name"),
        fallbacks: text("x-litellm-attempted-fallbacks").and_then(|v| v.parse().ok()),
    };
    let cost = text("x-litellm-response-cost")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|c| c.is_finite() && *c >= 0.0);
    let server_us = text("x-mock-service-us").and_then(|v| v.parse().ok());
    (served, cost, server_us)
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
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                format!(
                    "{url}: no response within timeout_ms = {} (raise it, or stream, for slow models)",
                    p.timeout_ms
                )
            } else {
                error_chain(&e)
            };
            let mut o = CallOutcome::fault(Fault::Unreachable, short(&redact(&why, key)));
            o.latency_ms = elapsed_ms(t0);
            return o;
        }
    };
    let code = resp.status().as_u16();
    let ra = retry_after(resp.headers());
    let (served, header_cost, server_us) = header_facts(resp.headers());
    if !(200..300).contains(&code) {
        let body = resp.text().await.unwrap_or_default();
        let msg = short(&redact(&format!("HTTP {code}: {body}"), key));
        let mut o = match classify_http(code, &body) {
            Some(f) => CallOutcome::fault(f, format!("{url}: {msg}")),
            None => CallOutcome {
                retryable: code == 429 || code >= 500,
                ..CallOutcome::failed(Status(code), msg)
            },
        };
        o.latency_ms = elapsed_ms(t0);
        o.retry_after_ms = ra;
        o.server_us = server_us;
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
    out.served = Served {
        model: out.served.model.take(),
        ..served
    };
    out.reported_cost_usd = header_cost.or(out.reported_cost_usd);
    out
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
    fn key_and_model_errors_are_faults_other_errors_are_answers() {
        assert_eq!(classify_http(401, ""), Some(Fault::Auth));
        assert_eq!(classify_http(403, "forbidden"), Some(Fault::Auth));
        assert_eq!(classify_http(404, ""), Some(Fault::UnknownModel));
        // A LiteLLM 1.108.7 proxy without a database, verbatim: a wrong key, an unknown
        // model group.
        assert_eq!(
            classify_http(
                400,
                r#"{"error":{"message":"No connected db.","type":"no_db_connection","param":null,"code":"400"}}"#
            ),
            Some(Fault::Auth)
        );
        assert_eq!(
            classify_http(
                400,
                r#"{"error":{"message":"/chat/completions: Invalid model name passed in model=no-such-model. Call `/v1/models` to view available models for your key.","type":"invalid_request_error","param":null,"code":"400","provider_specific_fields":{"error":"/chat/completions: Invalid model name passed in model=no-such-model. Call `/v1/models` to view available models for your key."}}}"#
            ),
            Some(Fault::UnknownModel)
        );
        assert_eq!(
            classify_http(
                400,
                r#"{"error":{"message":"foo/bar is not a valid model ID","code":400}}"#
            ),
            Some(Fault::UnknownModel)
        );
        // Provider answers: recorded.
        for (code, body) in [
            (
                400,
                r#"{"error":{"message":"This model's maximum context length is 128000 tokens","code":"context_length_exceeded"}}"#,
            ),
            (
                400,
                r#"{"error":{"message":"content_filter_policy","code":"content_filter"}}"#,
            ),
            (429, "rate limited"),
            (500, "Internal Server Error"),
            (503, ""),
        ] {
            assert_eq!(classify_http(code, body), None, "{code} {body}");
        }
    }

    #[test]
    fn litellm_headers_give_the_served_group_and_the_cost() {
        use reqwest::header::{HeaderMap, HeaderValue};
        // The headers of a fallback429 answer of LiteLLM 1.108.7 (research notes).
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-litellm-model-name", "openai/gpt-4o-mini"),
            ("x-litellm-model-group", "mock-ok"),
            ("x-litellm-attempted-fallbacks", "1"),
            ("x-litellm-response-cost", "1.35e-05"),
            ("x-litellm-response-cost-original", "1.35e-05"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let (served, cost, us) = header_facts(&h);
        assert_eq!(served.group.as_deref(), Some("mock-ok"));
        assert_eq!(served.deployment.as_deref(), Some("openai/gpt-4o-mini"));
        assert_eq!(served.fallbacks, Some(1));
        assert_eq!((cost, us), (Some(1.35e-5), None));
        // A streamed answer has no cost header; the usage chunk carries it.
        assert_eq!(header_facts(&HeaderMap::new()).1, None);
        assert_eq!(
            read::usage_cost(
                &serde_json::json!({"prompt_tokens": 14, "cost": 6.299999999999999e-6})
            ),
            Some(6.299999999999999e-6)
        );
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
