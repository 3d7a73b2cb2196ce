//! From a run's rows to everything a report shows: summaries, segments,
//! trade-offs, paired comparisons and chart data. `routesim run` and
//! `routesim report DIR` both go through [`analyze`], so a re-rendered report equals
//! the original.

use crate::analysis::tradeoff::{Comparison, Tradeoff, compare_with, default_baseline, tradeoff};
use crate::analysis::{
    PolicySummary, RunTable, SegmentSummary, SummaryOptions, segments, summarize,
};
use crate::plot::cost_quality::{Kind, Point};
use crate::plot::{ChartData, Curve};
use crate::policy::{Baseline, PolicyKind};
use crate::sim::trace::PolicyInfo;
use anyhow::Result;

/// What the analysis needs besides the rows (kept in `manifest.json`).
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Report title (dataset name).
    pub title: String,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Baseline for paired comparisons (default: best single model).
    pub baseline: Option<String>,
    /// Segment keys (`meta.x`).
    pub by: Vec<String>,
    /// Whether requests carry real timestamps (cost-over-time chart).
    pub has_timestamps: bool,
    /// Global budgets to draw: (policy, USD per period, period hours).
    pub budgets: Vec<(String, f64, f64)>,
    /// The run's policies (names, kinds, rules), in order.
    pub policies: Vec<PolicyInfo>,
    /// Models of the dataset, in order.
    pub models: Vec<String>,
    /// Notes to print (dataset warnings, modelled values).
    pub notes: Vec<String>,
    /// Requests in the dataset.
    pub n_requests: usize,
}

/// The notes a run's report starts with: the dataset's warnings (estimated, modelled
/// values) and the models whose costs are unknown.
pub fn run_notes(warnings: &[String], unpriced: &[String]) -> Vec<String> {
    let mut notes = warnings.to_vec();
    if !unpriced.is_empty() {
        notes.push(format!(
            "no price for {} (--unpriced): every cost that involves them is unknown, not $0",
            unpriced.join(", ")
        ));
    }
    notes
}

/// Everything rendered in a report.
pub struct Analysis {
    /// Options it was made with (baseline resolved).
    pub opts: ReportOptions,
    /// Per-policy summaries.
    pub summaries: Vec<PolicySummary>,
    /// Per-segment summaries.
    pub segments: Vec<SegmentSummary>,
    /// Trade-off figures.
    pub tradeoff: Tradeoff,
    /// Paired comparisons with the baseline.
    pub comparisons: Vec<Comparison>,
    /// Chart inputs.
    pub charts: ChartData,
}

impl Analysis {
    /// The kind of a policy by name.
    pub fn kind_of(&self, policy: &str) -> Option<&PolicyKind> {
        self.opts
            .policies
            .iter()
            .find(|p| p.name == policy)
            .map(|p| &p.kind)
    }
}

fn chart_kind(k: &PolicyKind) -> Kind {
    match k {
        PolicyKind::User => Kind::Policy,
        PolicyKind::Baseline(Baseline::Single(_)) => Kind::Single,
        PolicyKind::Baseline(Baseline::Oracle) => Kind::Oracle,
        PolicyKind::Baseline(Baseline::Random) => Kind::Random,
    }
}

/// Analyse a run.
pub fn analyze(table: &RunTable, opts: &ReportOptions) -> Result<Analysis> {
    let clock = crate::util::timing::Timings::start(2);
    let sopts = SummaryOptions {
        bootstrap: opts.bootstrap,
        seed: opts.seed,
    };
    let summaries = summarize(table, &sopts);
    clock.lap("summaries");
    let mut segs = Vec::new();
    for key in &opts.by {
        match segments(table, key) {
            Some(s) => segs.extend(s),
            None => anyhow::bail!("no field \"{key}\" to segment by"),
        }
    }
    let trade = tradeoff(table, &summaries);
    let mut o = opts.clone();
    if o.baseline.is_none() {
        o.baseline = default_baseline(table, &summaries, &trade);
    }
    let users: Vec<usize> = (0..summaries.len())
        .filter(|&p| !table.trace.policies[p].kind.is_baseline())
        .collect();
    let comparisons = match o.baseline.as_deref().and_then(|b| table.policy_index(b)) {
        Some(b) => compare_with(table, &users, b, opts.bootstrap.max(200), opts.seed),
        None => Vec::new(),
    };
    clock.lap("segments and comparisons");
    let charts = chart_data(table, &summaries, &segs, &trade, &o);
    Ok(Analysis {
        opts: o,
        summaries,
        segments: segs,
        tradeoff: trade,
        comparisons,
        charts,
    })
}

fn chart_data(
    t: &RunTable,
    s: &[PolicySummary],
    segs: &[SegmentSummary],
    trade: &Tradeoff,
    o: &ReportOptions,
) -> ChartData {
    let policies = &t.trace.policies;
    let points = s
        .iter()
        .zip(policies)
        .map(|(x, info)| Point {
            label: match info.kind.single_model() {
                Some(m) => crate::plot::short_model(m).to_string(),
                None => x.policy.clone(),
            },
            kind: chart_kind(&info.kind),
            cost: x.cost_per_1k,
            quality: x.quality_mean,
            lo: x.quality_lo,
            hi: x.quality_hi,
            left_out: trade.left_out.iter().any(|l| l.0 == x.policy),
        })
        .collect();
    // Curves for user policies, plus the baseline for reference.
    let mut shown: Vec<usize> = (0..policies.len())
        .filter(|&p| !policies[p].kind.is_baseline())
        .collect();
    if let Some(b) = o.baseline.as_deref().and_then(|b| t.policy_index(b))
        && !shown.contains(&b)
    {
        shown.push(b);
    }
    let mut latencies = Vec::new();
    let mut cost_time = Vec::new();
    for &p in &shown {
        let rows: Vec<&crate::sim::trace::TraceRow> = t
            .trace
            .policy_rows(p)
            .iter()
            .filter(|r| r.covered())
            .collect();
        let mut v: Vec<f64> = rows
            .iter()
            .filter(|r| !crate::analysis::summary::rejected(r))
            .map(|r| r.latency_ms)
            .collect();
        v.sort_by(f64::total_cmp);
        let baseline = policies[p].kind.is_baseline();
        latencies.push(Curve {
            name: policies[p].name.clone(),
            baseline,
            points: crate::plot::latency_cdf::cdf_points(&v),
        });
        // A policy with an unknown cost has no cost curve.
        if o.has_timestamps && rows.iter().all(|r| r.cost_usd.is_finite()) {
            let mut ev: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.arrival_ms / 3_600_000.0, r.cost_usd))
                .collect();
            ev.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut acc = 0.0;
            cost_time.push(Curve {
                name: policies[p].name.clone(),
                baseline,
                points: ev
                    .into_iter()
                    .map(|(h, c)| {
                        acc += c;
                        (h, acc)
                    })
                    .collect(),
            });
        }
    }
    let mix = s
        .iter()
        .zip(policies)
        .filter(|(_, info)| info.kind.single_model().is_none())
        .map(|(x, _)| (x.policy.clone(), x.model_mix.clone()))
        .collect();
    let segments = o.by.first().map(|key| {
        let mut values: Vec<String> = segs
            .iter()
            .filter(|x| &x.key == key)
            .map(|x| x.value.clone())
            .collect();
        values.sort();
        values.dedup();
        let oracle = policies.iter().position(|p| p.kind.is_oracle());
        let rows = shown
            .iter()
            .copied()
            .chain(oracle)
            .map(|p| {
                let name = &policies[p].name;
                let q = values
                    .iter()
                    .map(|v| {
                        segs.iter()
                            .find(|x| &x.policy == name && &x.key == key && &x.value == v)
                            .map(|x| x.quality_mean)
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
                (name.clone(), q)
            })
            .collect();
        (key.clone(), values, rows)
    });
    ChartData {
        points,
        hull: trade.hull.clone(),
        latencies,
        mix,
        models: o
            .models
            .iter()
            .chain(&t.trace.served_models)
            .cloned()
            .collect(),
        cost_time,
        budgets: o.budgets.clone(),
        segments,
    }
}
