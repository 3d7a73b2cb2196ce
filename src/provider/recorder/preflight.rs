//! The preflight: one cheap call per (provider, model) before anything else is
//! spent. A refused key, an unknown model or an unreachable endpoint stop the run
//! with one message listing every such pair, before any cell is recorded. An error
//! *answer* (a 429, a JSON 5xx) passes: the model exists and its errors are recorded
//! like any other answer. `--no-preflight` skips the check.

use super::lane::{Lane, call_with_retries};
use crate::provider::client::CallOutcome;
use crate::provider::served;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The prompt of a preflight call (answered in a few tokens).
pub const PROMPT: &str = "routesim preflight: reply with the single word OK.";

/// At most this many output tokens per preflight call.
const MAX_TOKENS: u32 = 16;

/// What the preflight call of one (provider, model) got.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Provider name.
    pub provider: String,
    /// Dataset model name.
    pub model: String,
    /// `ok`, or the status of an error answer (recorded as such during the run).
    pub status: String,
    /// The model that answered, when another one did (its id as reported).
    pub served: Option<String>,
    /// Latency, ms.
    pub latency_ms: f64,
}

/// One (provider, model) to check.
pub(super) struct Probe<'a> {
    /// The provider's lane (key and settings).
    pub lane: &'a Lane,
    /// Dataset model name.
    pub model: &'a str,
    /// Provider model id.
    pub model_id: &'a str,
}

/// Why the answer to a preflight call stops the run, if it does: no answer at all
/// (after the provider's `retries`, without waiting out an outage), or a 5xx whose body
/// is not JSON — a gateway failing before any model was reached (a LiteLLM proxy
/// answers `500 Internal Server Error` in plain text when no key is sent).
pub fn problem(out: &CallOutcome) -> Option<String> {
    let error = out.error.as_deref().unwrap_or("");
    if let Some(f) = out.fault {
        return Some(format!("{f}: {error}; {}", f.hint()));
    }
    let code = out.status.0;
    let body = error.split_once(": ").map(|(_, b)| b.trim()).unwrap_or("");
    if (500..600).contains(&code) && !body.starts_with('{') {
        return Some(format!(
            "{error} — not a JSON error: the gateway failed before any model answered \
             (a LiteLLM proxy answers so when no key is sent: set api_key_env)"
        ));
    }
    None
}

/// Call every probe once (concurrently); returns what each got, with its outcome
/// (for pricing), or the list of problems, one line each.
pub(super) async fn check(
    client: &reqwest::Client,
    probes: &[Probe<'_>],
) -> Result<Vec<(Checked, CallOutcome)>, Vec<String>> {
    let never = AtomicBool::new(false);
    let calls = probes.iter().map(|pr| {
        let never = &never;
        async move {
            let mut p = pr.lane.provider.clone();
            p.max_tokens = p.max_tokens.min(MAX_TOKENS);
            let key = pr.lane.key.as_deref();
            let (out, _) =
                call_with_retries(client, &p, key, pr.model_id, PROMPT, Duration::ZERO, never)
                    .await;
            (pr, out)
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for (pr, out) in results {
        let p = &pr.lane.provider;
        match problem(&out) {
            Some(what) => problems.push(format!(
                "provider \"{}\", model \"{}\" (\"{}\" at {}): {what}",
                p.name, pr.model, pr.model_id, p.base_url
            )),
            None => checked.push((
                Checked {
                    provider: p.name.clone(),
                    model: pr.model.to_string(),
                    status: out.status.to_string(),
                    served: served::answered(pr.model_id, &out.served)
                        .filter(|a| a.other)
                        .map(|a| served::dataset_name(p, &a.id)),
                    latency_ms: out.latency_ms,
                },
                out,
            )),
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Status;
    use crate::provider::client::Fault;

    #[test]
    fn error_answers_pass_faults_and_plain_text_5xx_stop() {
        let answer = |code: u16, body: &str| {
            CallOutcome::failed(Status(code), format!("HTTP {code}: {body}"))
        };
        assert_eq!(
            problem(&answer(500, r#"{"error":{"message":"boom"}}"#)),
            None
        );
        assert_eq!(problem(&answer(429, "slow down")), None);
        let plain = problem(&answer(500, "Internal Server Error")).unwrap();
        assert!(plain.contains("set api_key_env"), "{plain}");
        let refused = CallOutcome::fault(Fault::Auth, "HTTP 401: bad key".into());
        let why = problem(&refused).unwrap();
        assert!(
            why.starts_with("key refused: HTTP 401: bad key; check the key"),
            "{why}"
        );
    }
}
