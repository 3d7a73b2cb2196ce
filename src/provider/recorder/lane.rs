//! A provider's lane: its concurrency permits, rate limits (token buckets for rpm and
//! tpm) and the retry loop of one call.

use crate::provider::client::{CallOutcome, call_once};
use crate::provider::config::Provider;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// (`tokens` against tpm), then call with retries. Returns the outcome and the
    /// number of calls made.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        model_id: &str,
        prompt: &str,
        tokens: u32,
    ) -> (CallOutcome, u32) {
        let _permit = self.permits.acquire().await.ok();
        if let Some(b) = &self.rpm {
            take(b, 1.0).await;
        }
        if let Some(b) = &self.tpm {
            take(b, tokens as f64).await;
        }
        self.call_with_retries(client, model_id, prompt).await
    }

    /// Call with retries; returns the last outcome and the number of calls.
    async fn call_with_retries(
        &self,
        client: &reqwest::Client,
        model_id: &str,
        prompt: &str,
    ) -> (CallOutcome, u32) {
        let p = &self.provider;
        let mut calls = 0;
        loop {
            calls += 1;
            let out = call_once(client, p, model_id, prompt, self.key.as_deref()).await;
            if out.status.is_ok() || !out.retryable || calls > p.retries {
                return (out, calls);
            }
            let mut wait = p.backoff_ms as f64 * 2f64.powi(calls as i32 - 1);
            if let Some(ra) = out.retry_after_ms {
                wait = wait.max(ra);
            }
            tokio::time::sleep(Duration::from_secs_f64(wait.min(120_000.0) / 1000.0)).await;
        }
    }
}
