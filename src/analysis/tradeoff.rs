//! Cost–quality trade-offs across policies, and paired comparisons with a baseline.

use super::PolicySummary;
use super::stats::{
    Paired, aiq, holm, mcnemar, nondecreasing_hull, paired_mean, paired_p95, pareto_frontier,
};
use crate::util::hash::stable_hash;
use polars::prelude::*;

/// Frontier, hull and AIQ over the policies of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Tradeoff {
    /// Policies on the cost–quality Pareto frontier (cost per 1k requests, quality).
    pub frontier: Vec<String>,
    /// Non-decreasing convex hull vertices (cost per 1k, quality) over all policies.
    pub hull: Vec<(f64, f64)>,
    /// Cost range used for AIQ: cheapest and dearest single model (per 1k requests).
    pub cost_range: (f64, f64),
    /// AIQ of the hull of single models only (what mixing models at random reaches).
    pub aiq_single_models: f64,
    /// AIQ of the hull of every policy.
    pub aiq_all: f64,
}

/// Compute the trade-off figures from summaries (single models are baselines named
/// `always:<model>`).
pub fn tradeoff(summaries: &[PolicySummary]) -> Tradeoff {
    // The oracle is a hindsight bound, not something one can deploy: it is drawn for
    // reference but kept out of the frontier, hull and AIQ.
    let summaries: Vec<&PolicySummary> =
        summaries.iter().filter(|s| s.policy != "oracle").collect();
    let pts: Vec<(f64, f64)> = summaries
        .iter()
        .map(|s| (s.cost_per_1k, s.quality_mean))
        .collect();
    let singles: Vec<(f64, f64)> = summaries
        .iter()
        .filter(|s| s.policy.starts_with("always:"))
        .map(|s| (s.cost_per_1k, s.quality_mean))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let frontier = pareto_frontier(&pts)
        .into_iter()
        .map(|i| summaries[i].policy.clone())
        .collect();
    let hull = nondecreasing_hull(&pts);
    let (lo, hi) = singles
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let (aiq_single_models, aiq_all) = if lo.is_finite() && hi > lo {
        (aiq(&singles, lo, hi), aiq(&pts, lo, hi))
    } else {
        (f64::NAN, f64::NAN)
    };
    Tradeoff {
        frontier,
        hull,
        cost_range: (lo, hi),
        aiq_single_models,
        aiq_all,
    }
}

/// One policy compared with the baseline on the same requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Policy.
    pub policy: String,
    /// Baseline.
    pub baseline: String,
    /// Δ quality (policy − baseline), requests where both have a quality value.
    pub quality: Paired,
    /// Whether quality is 0/1 on both sides (McNemar applies).
    pub binary: bool,
    /// McNemar counts (policy right & baseline wrong, policy wrong & baseline right).
    pub discordant: (u64, u64),
    /// p-value of the quality difference (McNemar when binary, else bootstrap).
    pub p_quality: f64,
    /// Holm-adjusted p-value over all policies compared.
    pub p_quality_holm: f64,
    /// Δ cost per request, USD.
    pub cost: Paired,
    /// Δ p95 latency, ms.
    pub p95: Paired,
}

/// Paired comparisons of every policy with `baseline` over the trace frame.
pub fn compare_with(
    df: &DataFrame,
    policies: &[String],
    baseline: &str,
    resamples: usize,
    seed: u64,
) -> PolarsResult<Vec<Comparison>> {
    let base = df
        .clone()
        .lazy()
        .filter(col("policy").eq(lit(baseline)).and(col("uncovered").not()))
        .collect()?;
    let base_ids: Vec<String> = base
        .column("request_id")?
        .str()?
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect();
    let (bq, bc, bl) = (
        super::frame::f64_column(&base, "quality")?,
        super::frame::f64_column(&base, "cost_usd")?,
        super::frame::f64_column(&base, "latency_ms")?,
    );
    let index: std::collections::HashMap<&str, usize> = base_ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    use rayon::prelude::*;
    let others: Vec<&String> = policies.iter().filter(|p| p.as_str() != baseline).collect();
    let mut out: Vec<Comparison> = others
        .par_iter()
        .map(|p| -> PolarsResult<Comparison> {
            let pdf = df
                .clone()
                .lazy()
                .filter(
                    col("policy")
                        .eq(lit(p.as_str()))
                        .and(col("uncovered").not()),
                )
                .collect()?;
            let ids: Vec<String> = pdf
                .column("request_id")?
                .str()?
                .iter()
                .map(|s| s.unwrap_or("").to_string())
                .collect();
            let (q, c, l) = (
                super::frame::f64_column(&pdf, "quality")?,
                super::frame::f64_column(&pdf, "cost_usd")?,
                super::frame::f64_column(&pdf, "latency_ms")?,
            );
            let (mut qa, mut qb, mut ca, mut cb, mut la, mut lb) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            for (i, id) in ids.iter().enumerate() {
                let Some(&j) = index.get(id.as_str()) else {
                    continue;
                };
                ca.push(c[i]);
                cb.push(bc[j]);
                la.push(l[i]);
                lb.push(bl[j]);
                if !q[i].is_nan() && !bq[j].is_nan() {
                    qa.push(q[i]);
                    qb.push(bq[j]);
                }
            }
            let s = seed ^ stable_hash(p.as_bytes());
            let quality = paired_mean(&qa, &qb, resamples, 0.95, s);
            let binary = qa.iter().chain(&qb).all(|&x| x == 0.0 || x == 1.0) && !qa.is_empty();
            let discordant = (
                qa.iter()
                    .zip(&qb)
                    .filter(|(a, b)| **a == 1.0 && **b == 0.0)
                    .count() as u64,
                qa.iter()
                    .zip(&qb)
                    .filter(|(a, b)| **a == 0.0 && **b == 1.0)
                    .count() as u64,
            );
            let p_quality = if binary {
                mcnemar(discordant.0, discordant.1).1
            } else {
                quality.p
            };
            Ok(Comparison {
                policy: (*p).clone(),
                baseline: baseline.to_string(),
                quality,
                binary,
                discordant,
                p_quality,
                p_quality_holm: f64::NAN,
                cost: paired_mean(&ca, &cb, resamples, 0.95, s ^ 1),
                p95: paired_p95(&la, &lb, resamples, 0.95, s ^ 2),
            })
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let adj = holm(&out.iter().map(|c| c.p_quality).collect::<Vec<_>>());
    for (c, a) in out.iter_mut().zip(adj) {
        c.p_quality_holm = a;
    }
    Ok(out)
}

/// The default baseline: the single model with the best mean quality.
pub fn default_baseline(summaries: &[PolicySummary]) -> Option<String> {
    summaries
        .iter()
        .filter(|s| s.policy.starts_with("always:") && s.quality_mean.is_finite())
        .max_by(|a, b| a.quality_mean.total_cmp(&b.quality_mean))
        .map(|s| s.policy.clone())
}
