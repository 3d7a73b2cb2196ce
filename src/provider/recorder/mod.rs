//! `routesim record`: fill (request, model) cells by calling providers.
//!
//! Calls run on an explicitly built tokio runtime with bounded concurrency overall and
//! per provider, token-bucket rate limits (rpm, tpm), retries with exponential back-off
//! that honours `retry-after`, and per-call timeouts. A spend cap reserves each call's
//! worst-case cost (prompt + `max_tokens` at list price) before it starts, so the run
//! stops *before* the cap would be exceeded. Every outcome — success or final error —
//! is appended to the store as soon as it is known.
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
}

/// Record the missing cells (see the module documentation).
pub fn record(o: &RecordOptions) -> Result<RecordReport> {
    session::Session::open(o)?.run()
}
