//! From the trace frame to everything a report shows: summaries, segments,
//! trade-offs, paired comparisons and chart data. `routesim run` and
//! `routesim report DIR` both go through [`analyze`], so a re-rendered report equals
//! the original.

use crate::analysis::tradeoff::{Comparison, Tradeoff, compare_with, default_baseline, tradeoff};
use crate::analysis::{PolicySummary, SegmentSummary, SummaryOptions, segments, summarize};
use crate::plot::ChartData;
use crate::plot::cost_quality::{Kind, Point};
use anyhow::{Context, Result};
use polars::prelude::{DataFrame, IntoLazy, col};

/// What the analysis needs besides the frame (kept in `manifest.json`).
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
    /// Rule names per policy.
    pub rules: Vec<(String, Vec<String>)>,
    /// Models of the dataset, in order.
    pub models: Vec<String>,
    /// Notes to print (dataset warnings, modelled values).
    pub notes: Vec<String>,
    /// Requests in the dataset.
    pub n_requests: usize,
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

fn kind_of(s: &PolicySummary) -> Kind {
    if s.kind == "policy" {
        Kind::Policy
    } else if s.policy.starts_with("always:") {
        Kind::Single
    } else if s.policy == "oracle" {
        Kind::Oracle
    } else {
        Kind::Random
    }
}

/// Analyse a trace frame.
pub fn analyze(frame: &DataFrame, opts: &ReportOptions) -> Result<Analysis> {
    let clock = crate::util::timing::Timings::start(2);
    let sopts = SummaryOptions {
        bootstrap: opts.bootstrap,
        seed: opts.seed,
    };
    let summaries = summarize(frame, &opts.rules, &sopts).context("summarising")?;
    clock.lap("summaries");
    let mut segs = Vec::new();
    for key in &opts.by {
        segs.extend(segments(frame, key).context("segmenting")?);
    }
    let trade = tradeoff(&summaries);
    let mut o = opts.clone();
    if o.baseline.is_none() {
        o.baseline = default_baseline(&summaries);
    }
    let names: Vec<String> = summaries
        .iter()
        .filter(|s| s.kind == "policy")
        .map(|s| s.policy.clone())
        .collect();
    let comparisons = match &o.baseline {
        Some(b) => compare_with(frame, &names, b, opts.bootstrap.max(200), opts.seed)
            .context("comparing with the baseline")?,
        None => Vec::new(),
    };
    clock.lap("segments and comparisons");
    let charts = chart_data(frame, &summaries, &segs, &trade, &o)?;
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
    frame: &DataFrame,
    s: &[PolicySummary],
    segs: &[SegmentSummary],
    t: &Tradeoff,
    o: &ReportOptions,
) -> Result<ChartData> {
    let points = s
        .iter()
        .map(|x| Point {
            label: x.policy.clone(),
            kind: kind_of(x),
            cost: x.cost_per_1k,
            quality: x.quality_mean,
            lo: x.quality_lo,
            hi: x.quality_hi,
        })
        .collect();
    // Curves for user policies, plus the baseline for reference.
    let mut shown: Vec<String> = s
        .iter()
        .filter(|x| x.kind == "policy")
        .map(|x| x.policy.clone())
        .collect();
    if let Some(b) = &o.baseline
        && !shown.contains(b)
    {
        shown.push(b.clone());
    }
    let covered = frame
        .clone()
        .lazy()
        .filter(col("uncovered").not())
        .select([
            col("policy"),
            col("latency_ms"),
            col("arrival_ms"),
            col("cost_usd"),
        ])
        .collect()?;
    let pol: Vec<String> = covered
        .column("policy")?
        .str()?
        .iter()
        .map(|x| x.unwrap_or("").to_string())
        .collect();
    let lat: Vec<f64> = covered
        .column("latency_ms")?
        .f64()?
        .iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect();
    let arr: Vec<f64> = covered
        .column("arrival_ms")?
        .f64()?
        .iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect();
    let cost: Vec<f64> = covered
        .column("cost_usd")?
        .f64()?
        .iter()
        .map(|x| x.unwrap_or(0.0))
        .collect();
    let mut latencies = Vec::new();
    let mut cost_time = Vec::new();
    for name in &shown {
        let idx: Vec<usize> = (0..pol.len()).filter(|&i| &pol[i] == name).collect();
        let mut v: Vec<f64> = idx.iter().map(|&i| lat[i]).collect();
        v.sort_by(f64::total_cmp);
        latencies.push((name.clone(), v));
        if o.has_timestamps {
            let mut ev: Vec<(f64, f64)> = idx
                .iter()
                .map(|&i| (arr[i] / 3_600_000.0, cost[i]))
                .collect();
            ev.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut acc = 0.0;
            cost_time.push((
                name.clone(),
                ev.into_iter()
                    .map(|(h, c)| {
                        acc += c;
                        (h, acc)
                    })
                    .collect(),
            ));
        }
    }
    let mix = s
        .iter()
        .filter(|x| !x.policy.starts_with("always:"))
        .map(|x| (x.policy.clone(), x.model_mix.clone()))
        .collect();
    let segments = o.by.first().map(|key| {
        let mut values: Vec<String> = segs
            .iter()
            .filter(|x| &x.key == key)
            .map(|x| x.value.clone())
            .collect();
        values.sort();
        values.dedup();
        let rows = shown
            .iter()
            .chain(std::iter::once(&"oracle".to_string()))
            .filter(|p| s.iter().any(|x| &x.policy == *p))
            .map(|p| {
                let q = values
                    .iter()
                    .map(|v| {
                        segs.iter()
                            .find(|x| &x.policy == p && &x.key == key && &x.value == v)
                            .map(|x| x.quality_mean)
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
                (p.clone(), q)
            })
            .collect();
        (key.clone(), values, rows)
    });
    Ok(ChartData {
        points,
        hull: t.hull.clone(),
        latencies,
        mix,
        models: o.models.clone(),
        cost_time,
        budgets: o.budgets.clone(),
        segments,
    })
}
