//! Cost–quality trade-offs across policies, and paired comparisons with a baseline.

use super::PolicySummary;
use super::imputed::{
    Imputation, Side, paired_cost_var, paired_p95_var, paired_quality_var, values, widen_paired,
};
use super::quality::{QObs, estimate, paired_quality};
use super::stats::{
    Paired, aiq, holm, mcnemar, nondecreasing_hull, paired_mean, paired_p95, pareto_frontier,
};
use super::summary::rejected;
use super::table::{PolicyView, RunContext};
use crate::sim::trace::{TraceRow, flags};
use crate::util::hash::stable_hash;

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
    /// Requests every policy in the trade-off covers.
    pub requests: u64,
    /// Policies left out of the frontier, hull and AIQ, with the reason (another
    /// request set, unknown cost, no quality).
    pub left_out: Vec<(String, String)>,
}

/// Compute the trade-off figures. Points are only comparable on the same requests:
/// the trade-off keeps the policies that cover the reference set (every request when
/// some policy covers them all, else the set of the policy covering most) and lists
/// the others in `left_out`. The oracle is a hindsight bound, not something one can
/// deploy: it is drawn for reference but kept out.
pub fn tradeoff(ctx: &RunContext, summaries: &[PolicySummary], covered: &[&[u64]]) -> Tradeoff {
    let n = summaries.first().map_or(0, |s| s.requests);
    let candidates: Vec<usize> = (0..summaries.len())
        .filter(|&p| !ctx.policies[p].kind.is_oracle())
        .collect();
    let bits: Vec<&[u64]> = candidates.iter().map(|&p| covered[p]).collect();
    // `covered` holds a bit set per policy, or any fingerprint of the set (merged
    // shards): only equality is used.
    let best = candidates.iter().zip(&bits).max_by(|(a, _), (b, _)| {
        summaries[**a]
            .covered
            .cmp(&summaries[**b].covered)
            .then(b.cmp(a))
    });
    let reference = best.map(|(_, b)| *b);
    let mut left_out = Vec::new();
    let mut kept: Vec<usize> = Vec::new();
    for (&p, b) in candidates.iter().zip(&bits) {
        let s = &summaries[p];
        if Some(*b) != reference {
            left_out.push((
                s.policy.clone(),
                format!("covers another set of requests ({} of {n})", s.covered),
            ));
        } else if !s.cost_per_1k.is_finite() {
            left_out.push((s.policy.clone(), "cost unknown".into()));
        } else if !s.quality_mean.is_finite() {
            left_out.push((s.policy.clone(), "no quality labels".into()));
        } else {
            kept.push(p);
        }
    }
    let pts: Vec<(f64, f64)> = kept
        .iter()
        .map(|&p| (summaries[p].cost_per_1k, summaries[p].quality_mean))
        .collect();
    let singles: Vec<(f64, f64)> = kept
        .iter()
        .filter(|&&p| ctx.policies[p].kind.single_model().is_some())
        .map(|&p| (summaries[p].cost_per_1k, summaries[p].quality_mean))
        .collect();
    let frontier = pareto_frontier(&pts)
        .into_iter()
        .map(|i| summaries[kept[i]].policy.clone())
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
        requests: best.map(|(p, _)| summaries[*p].covered).unwrap_or(0),
        left_out,
    }
}

/// One request's outcome under one policy, as the comparisons need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    /// It ended with an answer.
    pub ok: bool,
    /// Quality (NaN when unlabelled; the failure quality for a failure).
    pub quality: f64,
    /// Cost, USD (NaN when unknown).
    pub cost: f64,
    /// End-to-end latency, ms (NaN for a request the gateway refused itself).
    pub latency: f64,
}

impl Obs {
    /// The outcome of a (covered) trace row.
    #[inline]
    pub fn of(r: &TraceRow) -> Obs {
        Obs {
            ok: r.status.is_ok(),
            quality: r.quality,
            cost: r.cost_usd,
            latency: if rejected(r) { f64::NAN } else { r.latency_ms },
        }
    }

    fn q(&self) -> QObs {
        QObs {
            ok: self.ok,
            quality: self.quality,
        }
    }
}

/// One policy compared with the baseline on the same requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Policy.
    pub policy: String,
    /// Baseline.
    pub baseline: String,
    /// The paired figures (policy − baseline).
    pub stats: PairedStats,
    /// Holm-adjusted p-value of the quality difference over all policies compared.
    pub p_quality_holm: f64,
}

/// Per-request outcomes of one policy (covered requests) with their ids, for pairing
/// across runs (`routesim compare`).
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    /// Request ids.
    pub ids: Vec<String>,
    /// Outcomes, aligned with `ids`.
    pub obs: Vec<Obs>,
}

impl Outcomes {
    /// Covered outcomes of a policy's rows.
    pub fn of_policy(ctx: &RunContext, v: PolicyView) -> Outcomes {
        let mut o = Outcomes::default();
        for (r, row) in v.rows.iter().enumerate() {
            if row.covered() {
                o.ids.push(ctx.ids[r].clone());
                o.obs.push(Obs::of(row));
            }
        }
        o
    }

    /// Pair with `b` by request id: aligned outcomes of the requests both have.
    pub fn pair_with(&self, b: &Outcomes) -> (Vec<Obs>, Vec<Obs>) {
        let index: std::collections::HashMap<&str, usize> = b
            .ids
            .iter()
            .enumerate()
            .map(|(j, s)| (s.as_str(), j))
            .collect();
        self.ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| index.get(id.as_str()).map(|&j| (self.obs[i], b.obs[j])))
            .unzip()
    }
}

/// `a` against `b` on the requests both answered.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedStats {
    /// Requests paired.
    pub pairs: usize,
    /// Mean cost per request of `a` and of `b` on the paired requests, USD.
    pub cost_means: (f64, f64),
    /// Quality of `a` and of `b` on the paired requests.
    pub quality_values: (f64, f64),
    /// Δ quality (a − b).
    pub quality: Paired,
    /// Whether quality is 0/1 and complete on both sides (McNemar applies).
    pub binary: bool,
    /// McNemar counts (a right & b wrong, a wrong & b right).
    pub discordant: (u64, u64),
    /// p-value of the quality difference (McNemar when binary, else bootstrap).
    pub p_quality: f64,
    /// Δ cost per request, USD.
    pub cost: Paired,
    /// Δ p95 latency, ms (each side over its requests that reached a provider).
    pub p95: Paired,
}

/// Compare aligned outcomes (`a[i]` and `b[i]` are the same request): paired
/// bootstrap (or its normal approximation for large samples) of Δquality (the
/// [`super::quality`] estimator on both sides) and Δcost, of Δp95 latency, and
/// McNemar's test when quality is 0/1 and complete. `seed` fixes the resamples.
pub fn paired_stats(a: &[Obs], b: &[Obs], resamples: usize, seed: u64) -> PairedStats {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let qa: Vec<QObs> = a.iter().map(Obs::q).collect();
    let qb: Vec<QObs> = b.iter().map(Obs::q).collect();
    let (ea, eb) = (estimate(&qa), estimate(&qb));
    let quality = paired_quality(&qa, &qb, resamples, 0.95, seed);
    let binary = n > 0
        && ea.complete()
        && eb.complete()
        && a.iter()
            .chain(b)
            .all(|o| o.quality == 0.0 || o.quality == 1.0);
    let count = |x: f64, y: f64| {
        a.iter()
            .zip(b)
            .filter(|(p, q)| p.quality == x && q.quality == y)
            .count() as u64
    };
    let discordant = (count(1.0, 0.0), count(0.0, 1.0));
    let p_quality = if binary {
        mcnemar(discordant.0, discordant.1).1
    } else {
        quality.p
    };
    let ca: Vec<f64> = a.iter().map(|o| o.cost).collect();
    let cb: Vec<f64> = b.iter().map(|o| o.cost).collect();
    let mut la: Vec<f64> = a.iter().map(|o| o.latency).collect();
    let mut lb: Vec<f64> = b.iter().map(|o| o.latency).collect();
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    PairedStats {
        pairs: n,
        cost_means: (mean(&ca), mean(&cb)),
        quality_values: (ea.value(), eb.value()),
        quality,
        binary,
        discordant,
        p_quality,
        cost: paired_mean(&ca, &cb, resamples, 0.95, seed ^ 1),
        p95: paired_p95(&mut la, &mut lb, resamples, 0.95, seed ^ 2),
    }
}

/// The baseline's outcome on every request (for pairing by request index).
#[derive(Debug, Clone)]
pub struct BaselineOutcomes {
    /// Policy index.
    pub p: usize,
    /// Outcome per request (meaningful where covered).
    pub obs: Vec<Obs>,
    /// Whether it covered each request.
    pub covered: Vec<bool>,
    /// Per request: the row's final model, and whether one of its calls was imputed.
    pub model: Vec<(u16, bool)>,
}

impl BaselineOutcomes {
    /// The outcomes of the baseline's rows.
    pub fn of(v: PolicyView) -> BaselineOutcomes {
        BaselineOutcomes {
            p: v.p,
            obs: v.rows.iter().map(Obs::of).collect(),
            covered: v.rows.iter().map(TraceRow::covered).collect(),
            model: v
                .rows
                .iter()
                .map(|r| (r.model, r.has(flags::IMPUTED)))
                .collect(),
        }
    }
}

/// A policy compared with the baseline on the requests both cover (Holm's adjustment
/// comes later, over every policy compared: [`holm_adjust`]). With `imp` (a
/// `--missing impute` run) the intervals include the donor pools' estimation error.
pub fn compare_policy(
    ctx: &RunContext,
    v: PolicyView,
    base: &BaselineOutcomes,
    resamples: usize,
    seed: u64,
    imp: Option<&Imputation>,
) -> Comparison {
    let name = &ctx.policies[v.p].name;
    let seed = seed ^ stable_hash(name.as_bytes());
    let paired = |x: &TraceRow, covered: bool| x.covered() && covered;
    let n = v
        .rows
        .iter()
        .zip(&base.covered)
        .filter(|(x, c)| paired(x, **c))
        .count();
    let stats = if n <= super::stats::BOOTSTRAP_MAX_N {
        let (a, b): (Vec<Obs>, Vec<Obs>) = v
            .rows
            .iter()
            .zip(base.obs.iter().zip(&base.covered))
            .filter(|(x, (_, c))| paired(x, **c))
            .map(|(x, (y, _))| (Obs::of(x), *y))
            .unzip();
        paired_stats(&a, &b, resamples, seed)
    } else {
        // Large samples: the normal approximations from running sums (no copy of the
        // pairs), and the p95 difference from the two latency columns alone.
        let part =
            super::partial::PairedPartial::of(base.p, v.rows, &base.obs, &base.covered, false);
        let mut st = part.stats();
        let (mut la, mut lb): (Vec<f64>, Vec<f64>) = v
            .rows
            .iter()
            .zip(base.obs.iter().zip(&base.covered))
            .filter(|(x, (_, c))| paired(x, **c))
            .map(|(x, (y, _))| (Obs::of(x).latency, y.latency))
            .unzip();
        st.p95 = paired_p95(&mut la, &mut lb, resamples, 0.95, seed ^ 2);
        st
    };
    let mut stats = stats;
    if let Some(imp) = imp {
        add_imputation_error(ctx, v, base, imp, &mut stats);
    }
    Comparison {
        policy: name.clone(),
        baseline: ctx.policies[base.p].name.clone(),
        stats,
        p_quality_holm: f64::NAN,
    }
}

/// Widen a comparison's intervals by the estimation error of the imputed rows on
/// either side ([`super::imputed`]); nothing changes without imputed rows.
fn add_imputation_error(
    ctx: &RunContext,
    v: PolicyView,
    base: &BaselineOutcomes,
    imp: &Imputation,
    st: &mut PairedStats,
) {
    let pools = imp.pools();
    let (mut sa, mut sb) = (Side::new(pools.len()), Side::new(pools.len()));
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    let mut n = 0u64;
    for (r, row) in v.rows.iter().enumerate() {
        if !(row.covered() && base.covered[r]) {
            continue;
        }
        n += 1;
        let b = base.obs[r];
        if !b.latency.is_nan() {
            lb.push(b.latency);
        }
        let a = values(row);
        if !a.3.is_nan() {
            la.push(a.3);
        }
        sa.add(imp, ctx, r, row.model, row.has(flags::IMPUTED), a);
        let (model, imputed) = base.model[r];
        sb.add(
            imp,
            ctx,
            r,
            model,
            imputed,
            (b.ok, b.quality, b.cost, b.latency),
        );
    }
    if sa.total() == 0.0 && sb.total() == 0.0 {
        return;
    }
    widen_paired(&mut st.quality, paired_quality_var(pools, &sa, &sb, n));
    st.p_quality = if st.binary {
        st.p_quality.max(st.quality.p)
    } else {
        st.quality.p
    };
    widen_paired(&mut st.cost, paired_cost_var(pools, &sa, &sb, n));
    widen_paired(
        &mut st.p95,
        paired_p95_var(pools, (&mut la, &sa), (&mut lb, &sb)),
    );
}

/// Holm-adjust the quality p-values of comparisons made with one baseline.
pub fn holm_adjust(out: &mut [Comparison]) {
    let adj = holm(&out.iter().map(|c| c.stats.p_quality).collect::<Vec<_>>());
    for (c, a) in out.iter_mut().zip(adj) {
        c.p_quality_holm = a;
    }
}

/// The default baseline among single-model baselines (`singles`: their indices and
/// results): the best quality among those covering the most requests (same request
/// set, so qualities compare), the first on ties.
pub fn default_baseline(singles: &[(usize, &PolicySummary)]) -> Option<usize> {
    let most = singles.iter().map(|(_, s)| s.covered).max()?;
    singles
        .iter()
        .filter(|(_, s)| s.covered == most && s.quality_mean.is_finite())
        .fold(None::<(usize, f64)>, |best, (p, s)| match best {
            Some((_, q)) if q >= s.quality_mean => best,
            _ => Some((*p, s.quality_mean)),
        })
        .map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(rows: &[(&str, f64, f64, f64)]) -> Outcomes {
        Outcomes {
            ids: rows.iter().map(|r| r.0.to_string()).collect(),
            obs: rows
                .iter()
                .map(|r| Obs {
                    ok: true,
                    quality: r.1,
                    cost: r.2,
                    latency: r.3,
                })
                .collect(),
        }
    }

    #[test]
    fn paired_stats_hand_worked() {
        // a answers r1..r5 (r5 has no partner); b answers r4..r1 (other order) and r9.
        let a = outcomes(&[
            ("r1", 1.0, 0.010, 100.0),
            ("r2", 1.0, 0.020, 200.0),
            ("r3", 0.0, 0.030, 300.0),
            ("r4", 1.0, 0.040, 400.0),
            ("r5", 1.0, 9.000, 9000.0),
        ]);
        let b = outcomes(&[
            ("r4", 1.0, 0.010, 100.0),
            ("r3", 1.0, 0.010, 100.0),
            ("r2", 0.0, 0.010, 100.0),
            ("r1", 1.0, 0.010, 100.0),
            ("r9", 0.0, 5.000, 5000.0),
        ]);
        let (x, y) = a.pair_with(&b);
        let st = paired_stats(&x, &y, 200, 7);
        // Pairs r1..r4.
        assert_eq!(st.pairs, 4);
        // Quality a = (1+1+0+1)/4 = 0.75, b = (1+0+1+1)/4 = 0.75: Δ = 0.
        assert_eq!(st.quality_values, (0.75, 0.75));
        assert!(st.quality.delta.abs() < 1e-15);
        // Costs on the pairs: a = 0.1/4 = 0.025, b = 0.01; Δ = 0.015 per request.
        assert!((st.cost_means.0 - 0.025).abs() < 1e-15);
        assert!((st.cost_means.1 - 0.010).abs() < 1e-15);
        assert!((st.cost.delta - 0.015).abs() < 1e-15);
        // 0/1 quality, complete: McNemar with a right & b wrong on r2, a wrong & b right on r3.
        assert!(st.binary);
        assert_eq!(st.discordant, (1, 1));
        assert_eq!(st.p_quality, mcnemar(1, 1).1);
        // p95 of a's paired latencies (100..400) is 385 ms, b's is 100 ms.
        assert!((st.p95.delta - 285.0).abs() < 1e-9);
    }

    #[test]
    fn gateway_rejections_stay_out_of_the_paired_p95() {
        // a: 19 calls of 1 s and one request the gateway refused (no latency); b: 20 × 1 s.
        let mut a: Vec<Obs> = (0..19)
            .map(|_| Obs {
                ok: true,
                quality: 1.0,
                cost: 0.0,
                latency: 1000.0,
            })
            .collect();
        a.push(Obs {
            ok: false,
            quality: 0.0,
            cost: 0.0,
            latency: f64::NAN,
        });
        let b: Vec<Obs> = (0..20)
            .map(|_| Obs {
                ok: true,
                quality: 1.0,
                cost: 0.0,
                latency: 1000.0,
            })
            .collect();
        let st = paired_stats(&a, &b, 100, 1);
        assert_eq!(st.p95.delta, 0.0);
        // Quality: 19/20 answered at 1.0, one failure at 0 → 0.95 vs 1.0.
        assert!((st.quality.delta + 0.05).abs() < 1e-15);
    }
}
