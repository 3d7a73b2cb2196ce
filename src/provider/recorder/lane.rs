//! A provider's lane: its concurrency permits, rate limits (token buckets for rpm and
//! tpm) and the retry loop of one call.
//!
//! Two kinds of failure are retried differently. An error *answer* (429, 5xx, a
//! timeout once the response had started) is retried `retries` times with
//! exponential back-off (or the server's `retry-after`), and the last one is the
//! outcome. A call with *nothing to record* ([`Fault`]) is retried with back-off too:
//! an unreachable endpoint for as long as the `patience` (the provider's
//! `outage_retry_s`), a refused key or an unknown model `retries` times; if it
//! persists the fault is returned, never as an outcome to store.

use crate::provider::client::{CallOutcome, Fault, call_once};
use crate::provider::config::Provider;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest wait between two tries of an unreachable endpoint.
const MAX_OUTAGE_WAIT_MS: f64 = 2_000.0;

/// A token bucket refilled continuously at `per_minute`.
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_ms: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_minute: f64) -> Mutex<Bucket> {
        // Bursts up to a tenth of a minute's allowance.
        let capacity = (per_minute / 10.0).max(1.0);
        Mutex::new(Bucket {
            capacity,
            tokens: capacity,
            per_ms: per_minute / 60_000.0,
            last: Instant::now(),
        })
    }
}

/// Wait until `n` tokens (at most the bucket's capacity) are available, and take them.
async fn take(bucket: &Mutex<Bucket>, n: f64) {
    loop {
        let wait_ms = {
            let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let el = now.duration_since(b.last).as_secs_f64() * 1000.0;
            b.tokens = (b.tokens + el * b.per_ms).min(b.capacity);
            b.last = now;
            let need = n.min(b.capacity);
            if b.tokens >= need {
                b.tokens -= need;
                return;
            }
            (need - b.tokens) / b.per_ms
        };
        tokio::time::sleep(Duration::from_secs_f64(wait_ms / 1000.0)).await;
    }
}

/// One provider's limits and key, shared by every call to it.
pub(super) struct Lane {
    /// The provider.
    pub provider: Provider,
    /// Its key, read from the environment once.
    pub key: Option<String>,
    permits: tokio::sync::Semaphore,
    rpm: Option<Mutex<Bucket>>,
    tpm: Option<Mutex<Bucket>>,
}

impl Lane {
    /// A lane for a provider.
    pub fn new(p: &Provider) -> Arc<Lane> {
        Arc::new(Lane {
            provider: p.clone(),
            key: p.api_key(),
            permits: tokio::sync::Semaphore::new(p.max_concurrency),
            rpm: p.rpm.map(|r| Bucket::new(r as f64)),
            tpm: p.tpm.map(|t| Bucket::new(t as f64)),
        })
    }

    /// One call through the lane: wait for a concurrency permit and the rate limits
    /// (`tokens` against tpm), then call with retries (see the module
    /// documentation). Once `stop` is set, a faulting call gives up at once. Returns
    /// the outcome and the number of calls made.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        model_id: &str,
        prompt: &str,
        tokens: u32,
        stop: &AtomicBool,
    ) -> (CallOutcome, u32) {
        let _permit = self.permits.acquire().await.ok();
        if let Some(b) = &self.rpm {
            take(b, 1.0).await;
        }
        if let Some(b) = &self.tpm {
            take(b, tokens as f64).await;
        }
        let patience = Duration::from_secs_f64(self.provider.outage_retry_s);
        let key = self.key.as_deref();
        call_with_retries(
            client,
            &self.provider,
            key,
            model_id,
            prompt,
            patience,
            stop,
        )
        .await
    }
}

/// Call with retries; returns the last outcome and the number of calls.
pub(super) async fn call_with_retries(
    client: &reqwest::Client,
    p: &Provider,
    key: Option<&str>,
    model_id: &str,
    prompt: &str,
    patience: Duration,
    stop: &AtomicBool,
) -> (CallOutcome, u32) {
    let mut calls = 0u32;
    let (mut answer_retries, mut fault_retries) = (0u32, 0u32);
    let mut first_fault: Option<Instant> = None;
    loop {
        calls += 1;
        let out = call_once(client, p, model_id, prompt, key).await;
        let wait_ms = match out.fault {
            None => {
                if out.status.is_ok() || !out.retryable || answer_retries >= p.retries {
                    return (out, calls);
                }
                answer_retries += 1;
                let backoff = p.backoff_ms as f64 * 2f64.powi(answer_retries as i32 - 1);
                backoff
                    .max(out.retry_after_ms.unwrap_or(0.0))
                    .min(120_000.0)
            }
            Some(fault) => {
                fault_retries += 1;
                let since = first_fault.get_or_insert_with(Instant::now).elapsed();
                let persists = match fault {
                    Fault::Unreachable => fault_retries > p.retries && since >= patience,
                    Fault::Auth | Fault::UnknownModel => fault_retries > p.retries,
                };
                if persists || stop.load(Ordering::SeqCst) {
                    return (out, calls);
                }
                let backoff = p.backoff_ms as f64 * 2f64.powi(fault_retries as i32 - 1);
                let left = patience.saturating_sub(since).as_secs_f64() * 1000.0;
                backoff
                    .min(MAX_OUTAGE_WAIT_MS)
                    .min(left.max(p.backoff_ms as f64))
            }
        };
        tokio::time::sleep(Duration::from_secs_f64(wait_ms / 1000.0)).await;
    }
}
