//! Everything a report keeps of one policy once its rows are gone: its summary, its
//! segments, which requests it covered, its latency curve and its cumulative cost.
//! Computed in one visit of the policy's rows, so policies can stream through.

use super::summary::{PolicySummary, SegmentSummary, SummaryOptions, segments_policy};
use super::table::{PolicyView, RunContext};

/// Points at most in a drawn curve (a chart needs no more, whatever the run size).
pub const CURVE_POINTS: usize = 400;

/// What the analysis needs from each policy besides its summary.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Summary options (bootstrap, seed).
    pub summary: SummaryOptions,
    /// Segment keys (`meta.x`).
    pub by: Vec<String>,
    /// Whether arrivals are real times (cumulative cost over time is drawn).
    pub cost_curve: bool,
    /// The donor pools of a `--missing impute` run.
    pub imputation: Option<std::sync::Arc<super::imputed::Imputation>>,
}

/// A policy's figures.
#[derive(Debug, Clone)]
pub struct PolicyResult {
    /// The summary row.
    pub summary: PolicySummary,
    /// Per segment, for each `--by` key in order.
    pub segments: Vec<SegmentSummary>,
    /// Covered requests, as a bit set.
    pub covered: Vec<u64>,
    /// Empirical CDF of latency: (ms, share of requests at or below), ≤ [`CURVE_POINTS`].
    pub latency_curve: Vec<(f64, f64)>,
    /// Cumulative cost over time: (hours since the first arrival, USD), ≤
    /// [`CURVE_POINTS`] + 1; `None` without real times or with an unknown cost.
    pub cost_curve: Option<Vec<(f64, f64)>>,
}

/// Analyse one policy's rows.
pub fn analyze_policy(
    ctx: &RunContext,
    v: PolicyView,
    opts: &AnalysisOptions,
) -> Option<PolicyResult> {
    let imp = opts.imputation.as_deref();
    let (summary, latencies) = super::summary::summarize_policy_with(ctx, v, &opts.summary, imp);
    let mut segments = Vec::new();
    for key in &opts.by {
        segments.extend(segments_policy(ctx, v, key, imp.is_some())?);
    }
    let mut covered = vec![0u64; v.rows.len().div_ceil(64)];
    for (i, r) in v.rows.iter().enumerate() {
        if r.covered() {
            covered[i >> 6] |= 1 << (i & 63);
        }
    }
    let cost_curve = (opts.cost_curve && summary.cost_total.is_finite())
        .then(|| cost_curve(v))
        .flatten();
    Some(PolicyResult {
        summary,
        segments,
        covered,
        latency_curve: cdf_points(&latencies),
        cost_curve,
    })
}

/// The empirical CDF of ascending latencies (ms) as at most [`CURVE_POINTS`] steps of
/// (latency, share of requests at or below it).
pub fn cdf_points(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let step = (n / CURVE_POINTS).max(1);
    let mut pts: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|k| (sorted[k], (k + 1) as f64 / n as f64))
        .collect();
    pts.push((sorted[n - 1], 1.0));
    pts
}

/// Cumulative cost over the arrival time of covered requests, in at most
/// [`CURVE_POINTS`] equal steps of time (the last point is the total) — two passes,
/// nothing sorted or copied.
fn cost_curve(v: PolicyView) -> Option<Vec<(f64, f64)>> {
    let covered = || v.rows.iter().zip(v.arrivals).filter(|(r, _)| r.covered());
    let (lo, hi) = covered().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, &t)| {
        (lo.min(t), hi.max(t))
    });
    if !lo.is_finite() {
        return None;
    }
    let width = (hi - lo) / CURVE_POINTS as f64;
    let mut buckets = vec![super::exact::ExactSum::default(); CURVE_POINTS];
    for (r, &t) in covered() {
        let k = if width > 0.0 {
            (((t - lo) / width) as usize).min(CURVE_POINTS - 1)
        } else {
            0
        };
        buckets[k].add(r.cost_usd);
    }
    let mut acc = super::exact::ExactSum::default();
    let mut out = Vec::with_capacity(CURVE_POINTS + 1);
    out.push((lo / 3_600_000.0, 0.0));
    for (k, b) in buckets.iter().enumerate() {
        acc.merge(b);
        if width == 0.0 {
            out.push((lo / 3_600_000.0, acc.value()));
            return Some(out);
        }
        out.push(((lo + width * (k + 1) as f64) / 3_600_000.0, acc.value()));
    }
    Some(out)
}
