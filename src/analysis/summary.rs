//! Per-policy (and per-segment) summaries, computed from the run's rows (one pass per
//! policy, policies in parallel).
//!
//! Definitions (README, "What the figures mean"):
//! - every figure but `requests`, `coverage` and rule hits is over *covered* requests
//!   (the chosen model had a recorded answer, or one was imputed);
//! - quality is [`super::quality`]'s estimator;
//! - latency quantiles are over requests that reached a provider or the cache:
//!   requests the gateway refused without calling anyone (budget, context window,
//!   every model cooling down or rate-limited) are counted apart as `rejected_rate`
//!   rather than entering the quantiles at 0 ms;
//! - `attempts_mean` counts calls that reached a provider;
//! - a cost is unknown (NaN) when a model had no price; any unknown cost makes the
//!   policy's cost unknown — never a silent $0.

use super::imputed::{Imputation, quality_var, widen};
use super::quality::{QObs, QualityAcc, quality_ci};
use super::table::{PolicyView, RunContext, RunTable};
use crate::sim::trace::{NONE16, TraceRow, flags};
use crate::util::hash::stable_hash;
use crate::util::stats::quantile_sorted;
use rayon::prelude::*;

/// Summary options.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Bootstrap resamples for the quality CI.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            bootstrap: 1000,
            seed: 7,
        }
    }
}

/// What one policy did (over the requests it covered).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySummary {
    /// Policy name.
    pub policy: String,
    /// `policy` or `baseline`.
    pub kind: String,
    /// Requests in the dataset.
    pub requests: u64,
    /// Requests simulated (the chosen model had a response, or was imputed).
    pub covered: u64,
    /// covered / requests.
    pub coverage: f64,
    /// Share of covered requests that ended with an answer.
    pub success_rate: f64,
    /// Share of covered requests the gateway refused without calling a provider.
    pub rejected_rate: f64,
    /// Total cost, USD (NaN when a cost is unknown).
    pub cost_total: f64,
    /// Cost per 1,000 covered requests, USD.
    pub cost_per_1k: f64,
    /// Cost per successful request, USD.
    pub cost_per_success: f64,
    /// Quality (see [`super::quality`]).
    pub quality_mean: f64,
    /// Requests with a quality value (labelled answers and failures).
    pub quality_n: u64,
    /// Share of successful answers with a quality label.
    pub labelled_share: f64,
    /// 95% CI of the quality (bootstrap percentile).
    pub quality_lo: f64,
    /// Upper end of the CI.
    pub quality_hi: f64,
    /// Latency percentiles, ms (requests that reached a provider or the cache).
    pub latency_p50: f64,
    /// p90.
    pub latency_p90: f64,
    /// p95.
    pub latency_p95: f64,
    /// p99.
    pub latency_p99: f64,
    /// Time to first token p50 (NaN when unknown).
    pub ttft_p50: f64,
    /// TTFT p95.
    pub ttft_p95: f64,
    /// Share of requests that moved to a fallback model.
    pub fallback_rate: f64,
    /// Share with at least one retry.
    pub retry_rate: f64,
    /// Share served from cache.
    pub cache_rate: f64,
    /// Share escalated by a cascade.
    pub escalation_rate: f64,
    /// Share cut by the output cap.
    pub truncated_rate: f64,
    /// Mean calls to providers per request.
    pub attempts_mean: f64,
    /// (model, share of covered requests answered or last tried by it), by share.
    pub model_mix: Vec<(String, f64)>,
    /// (rule, requests matched), in rule order.
    pub rule_hits: Vec<(String, u64)>,
    /// Share of covered requests with an imputed call — `--missing impute` runs only
    /// (`None` otherwise, and the column is left out).
    pub imputed_share: Option<f64>,
}

/// Whether the gateway answered the request itself, without a provider call or a
/// cache hit (budget rejection, context window, every model skipped or rate-limited).
#[inline]
pub fn rejected(r: &TraceRow) -> bool {
    !r.status.is_ok() && r.attempts == 0 && !r.has(flags::CACHE_HIT)
}

/// The row's contribution to the quality figure.
#[inline]
pub fn qobs(r: &TraceRow) -> QObs {
    QObs {
        ok: r.status.is_ok(),
        quality: r.quality,
    }
}

/// The figures shared by policy and segment summaries, accumulated over rows.
#[derive(Default)]
struct Acc {
    covered: u64,
    ok: u64,
    rejected: u64,
    cost: super::exact::ExactSum,
    quality: QualityAcc,
    latency: Vec<f64>,
    ttft: Vec<f64>,
    flag_counts: [u64; 5],
    calls: u64,
    imputed: u64,
}

const RATE_FLAGS: [u32; 5] = [
    flags::FELL_BACK,
    flags::RETRIED,
    flags::CACHE_HIT,
    flags::ESCALATED,
    flags::TRUNCATED,
];

impl Acc {
    fn add(&mut self, r: &TraceRow) {
        self.covered += 1;
        self.ok += u64::from(r.status.is_ok());
        self.cost.add(r.cost_usd);
        self.quality.add(qobs(r));
        if rejected(r) {
            self.rejected += 1;
        } else if !r.latency_ms.is_nan() {
            // Unknown latency (a log that records none, e.g. an OpenAI batch) is left
            // out of the quantiles, as the shards' sketches leave it out.
            self.latency.push(r.latency_ms);
        }
        if !r.ttft_ms.is_nan() {
            self.ttft.push(r.ttft_ms as f64);
        }
        for (c, f) in self.flag_counts.iter_mut().zip(RATE_FLAGS) {
            *c += u64::from(r.has(f));
        }
        self.calls += r.attempts as u64;
        self.imputed += u64::from(r.has(flags::IMPUTED));
    }

    fn rate(&self, count: u64) -> f64 {
        if self.covered == 0 {
            f64::NAN
        } else {
            count as f64 / self.covered as f64
        }
    }

    /// Sort the latency samples; quantiles read them.
    fn finish(&mut self) {
        self.latency.sort_unstable_by(f64::total_cmp);
        self.ttft.sort_unstable_by(f64::total_cmp);
    }

    fn lat(&self, q: f64) -> f64 {
        quantile_sorted(&self.latency, q).unwrap_or(f64::NAN)
    }

    fn cost_per_1k(&self) -> f64 {
        if self.covered == 0 {
            f64::NAN
        } else {
            self.cost.value() / self.covered as f64 * 1000.0
        }
    }
}

/// Summaries per policy of a run in memory, in the run's policy order.
pub fn summarize(t: &RunTable, opts: &SummaryOptions) -> Vec<PolicySummary> {
    (0..t.ctx.policies.len())
        .into_par_iter()
        .map(|p| summarize_policy(&t.ctx, t.view(p), opts).0)
        .collect()
}

/// Summary of one policy, and the latencies that entered its quantiles (sorted).
pub fn summarize_policy(
    ctx: &RunContext,
    v: PolicyView,
    opts: &SummaryOptions,
) -> (PolicySummary, Vec<f64>) {
    summarize_policy_with(ctx, v, opts, None)
}

/// [`summarize_policy`] of a `--missing impute` run (`imp`: its donor pools): the
/// imputed share, and the quality interval widened by the pools' estimation error
/// ([`super::imputed`]).
pub fn summarize_policy_with(
    ctx: &RunContext,
    v: PolicyView,
    opts: &SummaryOptions,
    imp: Option<&Imputation>,
) -> (PolicySummary, Vec<f64>) {
    let info = &ctx.policies[v.p];
    let rows = v.rows;
    let mut acc = Acc::default();
    // Answers by the model that gave them (a served model when the recording names one).
    let n_models = ctx.models.len();
    let mut mix = vec![0u64; n_models + ctx.served_models.len()];
    let mut hits = vec![0u64; info.rules.len() + 1];
    // Each covered request's quality observation, for the bootstrap — kept only up to
    // its size: above it the interval comes from running moments.
    let max = super::stats::BOOTSTRAP_MAX_N;
    let mut obs = Vec::with_capacity(rows.len().min(max + 1));
    let mut moments = super::partial::QualityMoments::default();
    for r in rows {
        match r.rule {
            crate::sim::trace::DEFAULT_RULE => hits[info.rules.len()] += 1,
            NONE16 => {}
            i => hits[i as usize] += 1,
        }
        if !r.covered() {
            continue;
        }
        acc.add(r);
        if obs.len() <= max {
            obs.push(qobs(r));
        }
        moments.add(r.status.is_ok(), r.quality);
        if r.served != NONE16 {
            mix[n_models + r.served as usize] += 1;
        } else if r.model != NONE16 {
            mix[r.model as usize] += 1;
        }
    }
    acc.finish();
    let (mut quality_lo, mut quality_hi) = if obs.len() <= max {
        quality_ci(
            &obs,
            opts.bootstrap,
            0.95,
            opts.seed ^ stable_hash(info.name.as_bytes()),
        )
    } else {
        moments.ci(0.95)
    };
    let covered = acc.covered;
    if let Some(imp) = imp {
        let var = quality_var(imp.pools(), &imp.side(ctx, rows), covered);
        (quality_lo, quality_hi) = widen(acc.quality.value(), quality_lo, quality_hi, var, 0.95);
    }
    // A served model may also be a dataset model: one entry per name.
    let mut by_name: std::collections::HashMap<&str, u64> = Default::default();
    for (m, &n) in mix.iter().enumerate().filter(|(_, n)| **n > 0) {
        let name = ctx
            .models
            .get(m)
            .unwrap_or_else(|| &ctx.served_models[m - n_models]);
        *by_name.entry(name.as_str()).or_default() += n;
    }
    let mut model_mix: Vec<(String, f64)> = by_name
        .into_iter()
        .map(|(name, n)| (name.to_string(), n as f64 / covered as f64))
        .collect();
    model_mix.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let rule_hits = info
        .rules
        .iter()
        .map(String::as_str)
        .chain(std::iter::once("default"))
        .zip(&hits)
        .map(|(n, h)| (n.to_string(), *h))
        .collect();
    let q = |v: &[f64], x: f64| quantile_sorted(v, x).unwrap_or(f64::NAN);
    let summary = PolicySummary {
        policy: info.name.clone(),
        kind: info.kind.label().to_string(),
        requests: rows.len() as u64,
        covered,
        coverage: covered as f64 / rows.len().max(1) as f64,
        success_rate: acc.rate(acc.ok),
        rejected_rate: acc.rate(acc.rejected),
        cost_total: acc.cost.value(),
        cost_per_1k: acc.cost_per_1k(),
        cost_per_success: if acc.ok > 0 {
            acc.cost.value() / acc.ok as f64
        } else {
            f64::NAN
        },
        quality_mean: acc.quality.value(),
        quality_n: acc.quality.n_valued(),
        labelled_share: acc.quality.labelled_share(),
        quality_lo,
        quality_hi,
        latency_p50: acc.lat(0.5),
        latency_p90: acc.lat(0.9),
        latency_p95: acc.lat(0.95),
        latency_p99: acc.lat(0.99),
        ttft_p50: q(&acc.ttft, 0.5),
        ttft_p95: q(&acc.ttft, 0.95),
        fallback_rate: acc.rate(acc.flag_counts[0]),
        retry_rate: acc.rate(acc.flag_counts[1]),
        cache_rate: acc.rate(acc.flag_counts[2]),
        escalation_rate: acc.rate(acc.flag_counts[3]),
        truncated_rate: acc.rate(acc.flag_counts[4]),
        attempts_mean: acc.rate(acc.calls),
        model_mix,
        rule_hits,
        imputed_share: imp.map(|_| acc.rate(acc.imputed)),
    };
    (summary, acc.latency)
}

/// One segment of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSummary {
    /// Policy.
    pub policy: String,
    /// Segment key (e.g. `meta.task`).
    pub key: String,
    /// Segment value (`(none)` when absent).
    pub value: String,
    /// Covered requests.
    pub covered: u64,
    /// Success rate.
    pub success_rate: f64,
    /// Total cost.
    pub cost_total: f64,
    /// Cost per 1k.
    pub cost_per_1k: f64,
    /// Quality.
    pub quality_mean: f64,
    /// Requests with a quality value.
    pub quality_n: u64,
    /// p50 latency.
    pub latency_p50: f64,
    /// p95 latency.
    pub latency_p95: f64,
    /// Share of covered requests with an imputed call (`--missing impute` runs only).
    pub imputed_share: Option<f64>,
}

/// Value shown for requests without the segment key.
pub const NO_VALUE: &str = "(none)";

/// Summaries per (policy, value of `key`) of a run in memory, e.g. `key =
/// "meta.task"`: policies in run order, values sorted as text within a policy. `None`
/// when the run has no such field.
pub fn segments(t: &RunTable, key: &str) -> Option<Vec<SegmentSummary>> {
    let per_policy: Option<Vec<Vec<SegmentSummary>>> = (0..t.ctx.policies.len())
        .into_par_iter()
        .map(|p| segments_policy(&t.ctx, t.view(p), key, false))
        .collect();
    Some(per_policy?.into_iter().flatten().collect())
}

/// One policy's summaries per value of `key` (values sorted as text), with the
/// imputed share when `imputed` (a `--missing impute` run); `None` when the run has no
/// such field.
pub fn segments_policy(
    ctx: &RunContext,
    v: PolicyView,
    key: &str,
    imputed: bool,
) -> Option<Vec<SegmentSummary>> {
    let name = key.strip_prefix("meta.").unwrap_or(key);
    let col = ctx.meta.iter().find(|m| m.name == name)?;
    // Values in text order ("(none)" among them), as codes.
    let mut labels: Vec<(&str, u32)> = col
        .dict
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i as u32))
        .collect();
    labels.push((NO_VALUE, crate::dataset::MetaColumn::NONE));
    labels.sort();
    let slot_of = |code: u32| {
        if code == crate::dataset::MetaColumn::NONE {
            col.dict.len()
        } else {
            code as usize
        }
    };
    let mut accs: Vec<Acc> = (0..col.dict.len() + 1).map(|_| Acc::default()).collect();
    for (r, row) in v.rows.iter().enumerate() {
        if row.covered() {
            accs[slot_of(col.codes[r])].add(row);
        }
    }
    let policy = &ctx.policies[v.p].name;
    Some(
        labels
            .iter()
            .filter_map(|(value, code)| {
                let a = &mut accs[slot_of(*code)];
                (a.covered > 0).then(|| {
                    a.finish();
                    SegmentSummary {
                        policy: policy.clone(),
                        key: key.to_string(),
                        value: value.to_string(),
                        covered: a.covered,
                        success_rate: a.rate(a.ok),
                        cost_total: a.cost.value(),
                        cost_per_1k: a.cost_per_1k(),
                        quality_mean: a.quality.value(),
                        quality_n: a.quality.n_valued(),
                        latency_p50: a.lat(0.5),
                        latency_p95: a.lat(0.95),
                        imputed_share: imputed.then(|| a.rate(a.imputed)),
                    }
                })
            })
            .collect(),
    )
}
