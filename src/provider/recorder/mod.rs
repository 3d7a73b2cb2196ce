//! `routesim record`: fill (request, model) cells by calling providers.
//!
//! A run opens the dataset, providers and prices (every problem reported at once),
//! plans the cells still missing, checks each (provider, model) with one cheap call
//! (the preflight: a refused key, an unknown model or an unreachable endpoint stop
//! the run before any cell is recorded), then calls.
//!
//! Calls run on an explicitly built tokio runtime with bounded concurrency overall and
//! per provider, token-bucket rate limits (rpm, tpm), retries with exponential back-off
//! that honours `retry-after`, and per-call timeouts. A spend cap reserves each call's
//! worst-case cost (prompt + `max_tokens` at list price) before it starts, so the run
//! stops *before* the cap would be exceeded. Every answer — a success or an error the
//! provider returned (429, 5xx, context length…) — is appended to the store as soon as
//! it is known, with the model that served it and the gateway's reported cost. A call
//! that got no answer (refused or reset connection, DNS, TLS, no byte before the
//! timeout, a refused key, an unknown model) is retried and never stored; when it
//! persists the run stops (the report says which provider, model and error), keeping
//! every answer stored so far, and the next run records exactly the cells still
//! missing.
//!
//! With an LLM judge as the dataset's scorer, the answer is stored first and the judge
//! call made after (its verdict goes to `judged.jsonl`); the judge's calls are priced
//! and count against the spend cap like any other. Stored answers that have no verdict
//! yet (a crash between the two calls) are judged by the next run without calling the
//! model again.

mod cost;
mod judge;
mod lane;
mod ledger;
mod plan;
mod preflight;
mod session;

use anyhow::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Options of a recording run.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Dataset folder (the store is `<folder>/recorded.jsonl`).
    pub dataset: PathBuf,
    /// Models to fill (dataset model names; new models may be added).
    pub models: Vec<String>,
    /// providers.toml.
    pub providers: PathBuf,
    /// Samples per cell.
    pub samples: usize,
    /// Stop before spending more than this (USD).
    pub max_spend: Option<f64>,
    /// Calls in flight overall.
    pub concurrency: usize,
    /// Extra pricing files.
    pub pricing: Vec<PathBuf>,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Only these (request id, model) cells (used by `run --missing live`).
    pub cells: Option<Vec<(String, String)>>,
    /// No progress bar.
    pub quiet: bool,
    /// Skip the preflight call per (provider, model).
    pub no_preflight: bool,
}

/// What a recording run did.
#[derive(Debug, Clone, Default)]
pub struct RecordReport {
    /// Cells that needed a call.
    pub planned: usize,
    /// Records written this run.
    pub recorded: usize,
    /// Cells found already recorded.
    pub already: usize,
    /// Cells not called because of the spend cap.
    pub skipped_by_cap: usize,
    /// Spend of this run (sum of recorded costs, judge calls included), USD.
    pub spend_usd: f64,
    /// Judge verdicts written this run (0 without a judge).
    pub judged: usize,
    /// Of `spend_usd`, what the judge calls cost.
    pub judge_spend_usd: f64,
    /// Final statuses.
    pub statuses: BTreeMap<String, usize>,
    /// Calls made (retries included).
    pub calls: usize,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Client-side overhead (latency − server time) p50 and p99, ms, when the server
    /// reports its service time (the mock provider does).
    pub overhead_ms: Option<(f64, f64)>,
    /// What the preflight call of each (provider, model) got.
    pub preflight: Vec<preflight::Checked>,
    /// Of `spend_usd`, what the preflight calls cost.
    pub preflight_spend_usd: f64,
    /// Why the run stopped early, when a call got no answer and that persisted.
    pub stopped: Option<Stopped>,
    /// Cells not called because the run stopped.
    pub not_started: usize,
    /// Calls per provider in flight at most (the latency of answers recorded through
    /// a gateway depends on it).
    pub concurrency: BTreeMap<String, u32>,
    /// Things the user should know about the recorded figures.
    pub notes: Vec<String>,
}

pub use preflight::Checked;

/// A run that stopped because a call got no answer, after its retries.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    /// Provider name.
    pub provider: String,
    /// Dataset model name (or the judge).
    pub model: String,
    /// The provider's model id.
    pub model_id: String,
    /// The provider's base URL.
    pub base_url: String,
    /// What kind of failure.
    pub fault: crate::provider::client::Fault,
    /// The last error (redacted).
    pub error: String,
    /// Calls made for the cell.
    pub calls: u32,
    /// Seconds spent on it.
    pub seconds: f64,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "provider \"{}\", model \"{}\" (\"{}\" at {}): {} after {} calls in {:.1} s: {}; {}",
            self.provider,
            self.model,
            self.model_id,
            self.base_url,
            self.fault,
            self.calls,
            self.seconds,
            self.error,
            self.fault.hint()
        )
    }
}

/// Record the missing cells (see the module documentation).
pub fn record(o: &RecordOptions) -> Result<RecordReport> {
    session::Session::open(o)?.run()
}
