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

/// Per-request outcomes of one policy (covered requests): ids, quality, cost, latency.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    /// Request ids.
    pub ids: Vec<String>,
    /// Quality (NaN when unlabelled).
    pub quality: Vec<f64>,
    /// Cost, USD.
    pub cost: Vec<f64>,
    /// Latency, ms.
    pub latency: Vec<f64>,
}

impl Outcomes {
    /// The outcomes in a frame holding one policy's rows.
    pub fn from_frame(df: &DataFrame) -> PolarsResult<Outcomes> {
        Ok(Outcomes {
            ids: df
                .column("request_id")?
                .str()?
                .iter()
                .map(|s| s.unwrap_or("").to_string())
                .collect(),
            quality: super::frame::f64_column(df, "quality")?,
            cost: super::frame::f64_column(df, "cost_usd")?,
            latency: super::frame::f64_column(df, "latency_ms")?,
        })
    }

    /// Every policy's outcomes in a trace frame (covered rows), by policy name.
    pub fn by_policy(df: &DataFrame) -> PolarsResult<std::collections::HashMap<String, Outcomes>> {
        let covered = df.clone().lazy().filter(col("uncovered").not()).collect()?;
        let all = Outcomes::from_frame(&covered)?;
        let policy = covered.column("policy")?.str()?;
        let mut out: std::collections::HashMap<String, Outcomes> = Default::default();
        for (i, p) in policy.iter().enumerate() {
            let e = out.entry(p.unwrap_or("").to_string()).or_default();
            e.ids.push(all.ids[i].clone());
            e.quality.push(all.quality[i]);
            e.cost.push(all.cost[i]);
            e.latency.push(all.latency[i]);
        }
        Ok(out)
    }
}

/// `a` against `b` on the requests both answered.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedStats {
    /// Requests paired.
    pub pairs: usize,
    /// Δ quality (a − b), requests where both have a quality value.
    pub quality: Paired,
    /// Whether quality is 0/1 on both sides (McNemar applies).
    pub binary: bool,
    /// McNemar counts (a right & b wrong, a wrong & b right).
    pub discordant: (u64, u64),
    /// p-value of the quality difference (McNemar when binary, else bootstrap).
    pub p_quality: f64,
    /// Δ cost per request, USD.
    pub cost: Paired,
    /// Δ p95 latency, ms.
    pub p95: Paired,
}

/// Pair `a` with `b` by request id and compare them: paired bootstrap (or its normal
/// approximation for large samples) of Δquality and Δcost, of Δp95 latency, and
/// McNemar's test when quality is 0/1. `seed` fixes the resamples.
pub fn paired_stats(a: &Outcomes, b: &Outcomes, resamples: usize, seed: u64) -> PairedStats {
    let index: std::collections::HashMap<&str, usize> = b
        .ids
        .iter()
        .enumerate()
        .map(|(j, s)| (s.as_str(), j))
        .collect();
    let (mut qa, mut qb, mut ca, mut cb, mut la, mut lb) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (i, id) in a.ids.iter().enumerate() {
        let Some(&j) = index.get(id.as_str()) else {
            continue;
        };
        ca.push(a.cost[i]);
        cb.push(b.cost[j]);
        la.push(a.latency[i]);
        lb.push(b.latency[j]);
        if !a.quality[i].is_nan() && !b.quality[j].is_nan() {
            qa.push(a.quality[i]);
            qb.push(b.quality[j]);
        }
    }
    let quality = paired_mean(&qa, &qb, resamples, 0.95, seed);
    let binary = !qa.is_empty() && qa.iter().chain(&qb).all(|&x| x == 0.0 || x == 1.0);
    let count = |x: f64, y: f64| {
        qa.iter()
            .zip(&qb)
            .filter(|(p, q)| **p == x && **q == y)
            .count() as u64
    };
    let discordant = (count(1.0, 0.0), count(0.0, 1.0));
    let p_quality = if binary {
        mcnemar(discordant.0, discordant.1).1
    } else {
        quality.p
    };
    PairedStats {
        pairs: ca.len(),
        quality,
        binary,
        discordant,
        p_quality,
        cost: paired_mean(&ca, &cb, resamples, 0.95, seed ^ 1),
        p95: paired_p95(&la, &lb, resamples, 0.95, seed ^ 2),
    }
}

/// Paired comparisons of every policy with `baseline` over the trace frame.
pub fn compare_with(
    df: &DataFrame,
    policies: &[String],
    baseline: &str,
    resamples: usize,
    seed: u64,
) -> PolarsResult<Vec<Comparison>> {
    use rayon::prelude::*;
    let outcomes = Outcomes::by_policy(df)?;
    let empty = Outcomes::default();
    let base = outcomes.get(baseline).unwrap_or(&empty);
    let mut out: Vec<Comparison> = policies
        .par_iter()
        .filter(|p| p.as_str() != baseline)
        .map(|p| {
            let a = outcomes.get(p.as_str()).unwrap_or(&empty);
            let st = paired_stats(a, base, resamples, seed ^ stable_hash(p.as_bytes()));
            Comparison {
                policy: p.clone(),
                baseline: baseline.to_string(),
                quality: st.quality,
                binary: st.binary,
                discordant: st.discordant,
                p_quality: st.p_quality,
                p_quality_holm: f64::NAN,
                cost: st.cost,
                p95: st.p95,
            }
        })
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(rows: &[(&str, f64, f64, f64)]) -> Outcomes {
        Outcomes {
            ids: rows.iter().map(|r| r.0.to_string()).collect(),
            quality: rows.iter().map(|r| r.1).collect(),
            cost: rows.iter().map(|r| r.2).collect(),
            latency: rows.iter().map(|r| r.3).collect(),
        }
    }

    #[test]
    fn paired_stats_hand_worked() {
        // a answers r1..r5 (r5 has no partner); b answers r4..r1 (other order) and r9.
        let a = outcomes(&[
            ("r1", 1.0, 0.010, 100.0),
            ("r2", 1.0, 0.020, 200.0),
            ("r3", 0.0, 0.030, 300.0),
            ("r4", f64::NAN, 0.040, 400.0),
            ("r5", 1.0, 9.000, 9000.0),
        ]);
        let b = outcomes(&[
            ("r4", 1.0, 0.010, 100.0),
            ("r3", 1.0, 0.010, 100.0),
            ("r2", 0.0, 0.010, 100.0),
            ("r1", 1.0, 0.010, 100.0),
            ("r9", 0.0, 5.000, 5000.0),
        ]);
        let st = paired_stats(&a, &b, 200, 7);
        // Pairs r1..r4; quality pairs r1..r3 (r4 unlabelled in a).
        assert_eq!(st.pairs, 4);
        assert_eq!(st.quality.n, 3);
        // Δquality = ((1−1) + (1−0) + (0−1)) / 3 = 0.
        assert!(st.quality.delta.abs() < 1e-15);
        // Δcost = (0 + 0.01 + 0.02 + 0.03) / 4 = 0.015.
        assert!((st.cost.delta - 0.015).abs() < 1e-15);
        // 0/1 quality: McNemar with a right & b wrong on r2, a wrong & b right on r3.
        assert!(st.binary);
        assert_eq!(st.discordant, (1, 1));
        assert_eq!(st.p_quality, mcnemar(1, 1).1);
        // p95 of a's paired latencies (100..400) is 385 ms, b's is 100 ms.
        assert!((st.p95.delta - 285.0).abs() < 1e-9);
    }
}
