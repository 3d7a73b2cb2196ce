//! The totals of a LiteLLM StandardLoggingPayload log computed again from its raw
//! lines with serde_json — independently of routesim's importer — for the tests that
//! check the `logged` baseline against them (tests/gateway_import.rs,
//! tests/real_gateway_import.rs).

use routesim::analysis::{PolicySummary, RunTable, SummaryOptions, summarize};
use routesim::dataset::Dataset;
use routesim::policy::baselines;
use routesim::pricing::ModelPrice;
use routesim::sim::{self, SimOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A sum of costs in 64.64 fixed point, written here again (a second implementation of
/// the exact sums the summaries use).
pub fn fixed_sum(xs: &[f64]) -> f64 {
    let scale = 18_446_744_073_709_551_616.0f64; // 2^64
    let total: i128 = xs.iter().map(|x| (x * scale).round() as i128).sum();
    total as f64 / scale
}

/// Linear-interpolation quantile of sorted values (numpy's default), written here
/// again.
pub fn q(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The log's own totals from its raw lines: requests grouped by trace_id (else
/// litellm_call_id, else id); a request's cost is the sum of its lines'
/// `response_cost` in start order, its latency (max endTime − min startTime) × 1000,
/// its status the last-ending line's; calls are the lines that are not cache hits.
pub struct RawTotals {
    /// Lines.
    pub lines: usize,
    /// Lines that are not cache hits.
    pub calls: usize,
    /// Requests (traces).
    pub requests: usize,
    /// Requests whose last-ending line succeeded.
    pub ok: usize,
    /// Requests whose last line's group is not their first line's.
    pub fell_back: usize,
    /// Total cost (exact sum).
    pub cost: f64,
    /// Request latencies, sorted.
    pub latency: Vec<f64>,
}

pub fn raw_slp_totals(path: &Path) -> RawTotals {
    let text = std::fs::read_to_string(path).unwrap();
    let mut traces: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let (mut lines, mut calls) = (0, 0);
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let v: Value = serde_json::from_str(l).unwrap();
        calls += usize::from(v["cache_hit"] != true);
        let key = ["trace_id", "litellm_call_id", "id"]
            .iter()
            .find_map(|k| v[*k].as_str().filter(|s| !s.is_empty()))
            .unwrap()
            .to_string();
        traces.entry(key).or_default().push(v);
    }
    let mut costs = Vec::new();
    let mut latency = Vec::new();
    let (mut ok, mut fell_back) = (0, 0);
    for mut v in traces.values().cloned() {
        let t = |x: &Value, k: &str| x[k].as_f64().unwrap();
        v.sort_by(|a, b| {
            t(a, "startTime")
                .total_cmp(&t(b, "startTime"))
                .then(t(a, "endTime").total_cmp(&t(b, "endTime")))
        });
        let mut cost = 0.0;
        for x in &v {
            cost += t(x, "response_cost");
        }
        costs.push(cost);
        let lo = v
            .iter()
            .map(|x| t(x, "startTime"))
            .fold(f64::INFINITY, f64::min);
        let hi = v
            .iter()
            .map(|x| t(x, "endTime"))
            .fold(f64::NEG_INFINITY, f64::max);
        latency.push((hi - lo) * 1000.0);
        // The last to end (on a tie, the later in start order).
        let last = v
            .iter()
            .max_by(|a, b| t(a, "endTime").total_cmp(&t(b, "endTime")))
            .unwrap();
        ok += usize::from(last["status"] == "success");
        fell_back += usize::from(v[0]["model_group"] != last["model_group"]);
    }
    latency.sort_by(f64::total_cmp);
    RawTotals {
        lines,
        calls,
        requests: traces.len(),
        ok,
        fell_back,
        cost: fixed_sum(&costs),
        latency,
    }
}

pub fn assert_logged_equals_raw(s: &PolicySummary, raw: &RawTotals) {
    assert_eq!(s.requests as usize, raw.requests);
    assert_eq!(s.covered as usize, raw.requests);
    assert_eq!(s.cost_total, raw.cost, "cost");
    assert_eq!(s.success_rate, raw.ok as f64 / raw.requests as f64);
    assert_eq!(s.latency_p50, q(&raw.latency, 0.5), "p50");
    assert_eq!(s.latency_p90, q(&raw.latency, 0.9), "p90");
    assert_eq!(s.latency_p95, q(&raw.latency, 0.95), "p95");
    assert_eq!(s.latency_p99, q(&raw.latency, 0.99), "p99");
    assert_eq!(s.attempts_mean, raw.calls as f64 / raw.requests as f64);
    assert_eq!(s.fallback_rate, raw.fell_back as f64 / raw.requests as f64);
}

/// The summary of the `logged` baseline over `d` (with the library, unrounded).
pub fn logged_summary(d: &Dataset) -> PolicySummary {
    let prices: Vec<ModelPrice> = d
        .models
        .iter()
        .map(|_| ModelPrice::per_mtok(0.0, 0.0, "unused: every cost is logged"))
        .collect();
    let pols = vec![baselines::logged()];
    let t = sim::run(d, &prices, &pols, &SimOptions::default()).expect("simulates");
    let mut v = summarize(
        &RunTable::of_run(&t, d),
        &SummaryOptions {
            bootstrap: 10,
            seed: 1,
        },
    );
    v.remove(0)
}
