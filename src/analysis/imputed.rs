//! The estimation error of `--missing impute` cells, carried into the intervals of
//! the figures that use them (README, "Missing cells").
//!
//! An imputed cell is a draw from a donor pool (`sim::impute`): the pool's empirical
//! distribution F̂ stands in for the model's true one F, and its mean quality μ̂ for
//! the true mean. The bootstrap over requests sees imputed rows as observations —
//! the spread of the draws — but not that F̂ and μ̂ are themselves estimates from
//! N donors (n labelled). This module adds that error, by the delta method, pool by
//! pool (pools are disjoint sets of donors, so their errors are independent):
//!
//! - a mean over n requests of a figure X with k imputed rows from pool g moves with
//!   F̂ by (k / n) · (mean of X under F̂ − under F), whose variance is
//!   (k / n)² · Var_F(X) / N, Var_F(X) estimated by the spread of X over the imputed
//!   rows themselves (at least two of them; what-ifs and prices are then applied);
//! - quality also moves with μ̂: imputed answers carry μ̂, so a quality estimate
//!   moves by s · k_ok with s its sensitivity to one labelled answer's value
//!   (`P(success) / labelled successes`, 1 / n when every answer is labelled):
//!   variance (s · k_ok)² · σ² / n, σ² the donors' quality variance (0.25, the most
//!   a 0..1 value can have, when a pool has a single label);
//! - a paired difference A − B uses the difference of the two sides' sensitivities,
//!   so the error both sides share (the same pool on the same requests) cancels;
//! - a p95 latency moves with F̂ through F̂(x) at x = p95: Var(F̂_mix(x)) / f(x)², f the
//!   latency density at x from the policy's own latencies (quantiles 93 % and 97 %),
//!   and for a difference the covariance of the pool's F̂ at the two sides' p95s.
//!
//! The interval is widened by adding this variance to the interval's own (half-widths
//! in quadrature, so an asymmetric bootstrap interval keeps its shape), and a paired
//! p-value becomes at least the normal one of the widened interval. A row counts as
//! imputed when any of its calls was (the row's final model names the pool):
//! conservative for a request that fell back from an imputed failure to a recorded
//! answer. Runs without imputed rows are untouched.

use super::stats::{Paired, erfc, z_of};
use super::table::RunContext;
use crate::sim::impute::{ImputeModel, PoolIndex, PoolStats};
use crate::sim::trace::{NONE16, TraceRow, flags};

/// A run's donor pools, indexed for its requests.
#[derive(Debug, Clone)]
pub struct Imputation {
    /// The pools.
    pub model: ImputeModel,
    index: PoolIndex,
}

impl Imputation {
    /// The pools of `model` over the requests of `ctx`.
    pub fn new(model: ImputeModel, ctx: &RunContext) -> Imputation {
        let index = PoolIndex::new(&model, ctx.models.len(), &ctx.meta);
        Imputation { model, index }
    }

    /// Pools.
    pub fn pools(&self) -> &[PoolStats] {
        &self.model.pools
    }

    /// A side of the pools' rows: every covered row of `rows` (request order).
    pub fn side(&self, ctx: &RunContext, rows: &[TraceRow]) -> Side {
        let mut side = Side::new(self.pools().len());
        for (r, row) in rows.iter().enumerate().filter(|(_, x)| x.covered()) {
            side.add(
                self,
                ctx,
                r,
                row.model,
                row.has(flags::IMPUTED),
                values(row),
            );
        }
        side
    }
}

/// A row's (success, quality, cost, latency) as the pools' sums take them.
pub fn values(row: &TraceRow) -> (bool, f64, f64, f64) {
    let lat = if super::summary::rejected(row) {
        f64::NAN
    } else {
        row.latency_ms
    };
    (row.status.is_ok(), row.quality, row.cost_usd, lat)
}

/// Count, sum and sum of squares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Moments {
    /// Values.
    pub n: f64,
    /// Sum.
    pub sum: f64,
    /// Sum of squares.
    pub sum_sq: f64,
}

impl Moments {
    /// Add a value (NaN is ignored).
    #[inline]
    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.n += 1.0;
            self.sum += x;
            self.sum_sq += x * x;
        }
    }

    /// Sample variance (0 below two values).
    pub fn var(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            ((self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1.0)).max(0.0)
        }
    }

    fn merge(&self, o: &Moments) -> Moments {
        Moments {
            n: self.n + o.n,
            sum: self.sum + o.sum,
            sum_sq: self.sum_sq + o.sum_sq,
        }
    }
}

/// One side's rows that depend on each pool: its imputed rows, and its recorded
/// rows that are donors of the pool.
#[derive(Debug, Clone)]
pub struct Side {
    /// Imputed rows per pool.
    pub k: Vec<f64>,
    /// Recorded rows that are the pool's donors (the final model's own cell).
    pub m: Vec<f64>,
    /// Cost of the imputed rows, per pool.
    pub cost: Vec<Moments>,
    /// Latencies of the imputed rows, per pool.
    pub latency: Vec<Vec<f64>>,
    /// The policy's failure quality (0 unless a failed row says otherwise).
    pub failure_quality: f64,
}

impl Side {
    /// No row yet, for `pools` pools.
    pub fn new(pools: usize) -> Side {
        Side {
            k: vec![0.0; pools],
            m: vec![0.0; pools],
            cost: vec![Moments::default(); pools],
            latency: vec![Vec::new(); pools],
            failure_quality: 0.0,
        }
    }

    /// Add a covered row of request `r`: imputed (its pool), or a recorded answer
    /// that is a donor of its model's pools. `ok`, `quality`, `cost`, `latency` are
    /// the row's (NaN unknown).
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        imp: &Imputation,
        ctx: &RunContext,
        r: usize,
        model: u16,
        imputed: bool,
        (ok, quality, cost, latency): (bool, f64, f64, f64),
    ) {
        if !ok && quality.is_finite() {
            self.failure_quality = quality;
        }
        if model == NONE16 {
            return;
        }
        if imputed {
            if let Some(g) = imp.index.pool(&ctx.meta, r, model) {
                self.k[g] += 1.0;
                self.cost[g].add(cost);
                if latency.is_finite() {
                    self.latency[g].push(latency);
                }
            }
        } else {
            for g in imp
                .index
                .donor_pools(&ctx.meta, r, model)
                .into_iter()
                .flatten()
            {
                self.m[g] += 1.0;
            }
        }
    }

    /// Imputed rows in all.
    pub fn total(&self) -> f64 {
        self.k.iter().sum()
    }
}

/// Per-donor variance of a row's quality under a pool: an answer's quality (the
/// labelled donors' variance; 0.25, the most a 0..1 value can have, below two
/// labels) or the failure quality `f`, at the pool's error rate.
fn donor_quality_var(p: &PoolStats, f: f64) -> f64 {
    if p.n_labelled == 0 || p.n == 0 {
        return 0.0;
    }
    let s2 = if p.quality_var.is_finite() {
        p.quality_var
    } else {
        0.25
    };
    let ok = p.n_ok as f64 / p.n as f64;
    ok * s2 + ok * (1.0 - ok) * (p.quality_mean - f).powi(2)
}

/// The variance a pool's estimation error adds to a mean over `n` rows, beyond what
/// the bootstrap sees: `a = k / n` is the figure's sensitivity to the pool's mean
/// through imputed rows, `b = m / n` through the donors' own rows (which the
/// bootstrap already resamples); the error enters as (a + b)² − b² = a² + 2ab
/// (never below 0: an interval is never narrowed). For a difference, `a` and `b`
/// are the two sides' differences.
fn added(a: f64, b: f64, per_donor_var: f64, donors: u64) -> f64 {
    ((a * a + 2.0 * a * b) * per_donor_var / donors.max(1) as f64).max(0.0)
}

/// Added variance of a quality estimate over `n` requests.
pub fn quality_var(pools: &[PoolStats], side: &Side, n: u64) -> f64 {
    let none = Side::new(pools.len());
    paired_quality_var(pools, side, &none, n)
}

/// Added variance of the paired quality difference A − B over `n` pairs.
pub fn paired_quality_var(pools: &[PoolStats], a: &Side, b: &Side, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    pools
        .iter()
        .enumerate()
        .map(|(g, p)| {
            let v = donor_quality_var(p, a.failure_quality.max(b.failure_quality));
            added((a.k[g] - b.k[g]) / n, (a.m[g] - b.m[g]) / n, v, p.n)
        })
        .sum()
}

/// Added variance of the paired mean-cost difference A − B over `n` pairs (the
/// per-donor variance from the spread of the imputed rows' costs).
pub fn paired_cost_var(pools: &[PoolStats], a: &Side, b: &Side, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    pools
        .iter()
        .enumerate()
        .map(|(g, p)| {
            let v = a.cost[g].merge(&b.cost[g]).var();
            added((a.k[g] - b.k[g]) / n, (a.m[g] - b.m[g]) / n, v, p.n)
        })
        .sum()
}

/// A side's p95 latency, the density there (from the 93 % and 97 % quantiles) and
/// how many latencies it has. `None` when the density is unknown.
fn p95_point(lat: &mut [f64]) -> Option<(f64, f64, f64)> {
    let k = lat.len();
    if k < 2 {
        return None;
    }
    lat.sort_unstable_by(f64::total_cmp);
    let q = |x: f64| crate::util::stats::quantile_sorted(lat, x).unwrap_or(f64::NAN);
    let (x, lo, hi) = (q(0.95), q(0.93), q(0.97));
    let width = hi - lo;
    if width.is_nan() || width <= 0.0 {
        return None;
    }
    Some((x, 0.04 / width, k as f64))
}

/// Share of `v` at or below `x`.
fn cdf(v: &[f64], x: f64) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().filter(|&&y| y <= x).count() as f64 / v.len() as f64
    }
}

/// Added variance of the paired p95 difference A − B: each side's latencies (every
/// request that reached a provider; NaN left out) and rows per pool. A side's p95
/// moves by −ΔF̂(x) / f(x); the pool's F̂ error at the two sides' p95s has variances
/// F(1 − F) / N and covariance (F(min) − F_a F_b) / N.
pub fn paired_p95_var(
    pools: &[PoolStats],
    (lat_a, a): (&mut [f64], &Side),
    (lat_b, b): (&mut [f64], &Side),
) -> f64 {
    let (pa, pb) = (p95_point(lat_a), p95_point(lat_b));
    let mut var = 0.0;
    for (g, p) in pools.iter().enumerate() {
        let mut both: Vec<f64> = a.latency[g].clone();
        both.extend_from_slice(&b.latency[g]);
        if both.is_empty() {
            continue;
        }
        // Sensitivities to the pool's F̂ at each side's p95: through imputed rows
        // (k) and through the donors' own rows (m).
        let w = |side: &Side, pt: Option<(f64, f64, f64)>| {
            pt.map_or((0.0, 0.0), |(_, f, n)| {
                (side.k[g] / (n * f), side.m[g] / (n * f))
            })
        };
        let ((ka, ma), (kb, mb)) = (w(a, pa), w(b, pb));
        let fa = pa.map_or(0.0, |(x, _, _)| cdf(&both, x));
        let fb = pb.map_or(0.0, |(x, _, _)| cdf(&both, x));
        let lo = match (pa, pb) {
            (Some((xa, _, _)), Some((xb, _, _))) => cdf(&both, xa.min(xb)),
            _ => 0.0,
        };
        let (va, vb, cov) = (fa * (1.0 - fa), fb * (1.0 - fb), lo - fa * fb);
        let quad = |ua: f64, ub: f64| ua * ua * va + ub * ub * vb - 2.0 * ua * ub * cov;
        // All sensitivities, minus the donors' part the bootstrap already has.
        let v = quad(ka + ma, kb + mb) - quad(ma, mb);
        var += v.max(0.0) / p.n.max(1) as f64;
    }
    var
}

/// Widen the interval (lo, hi) of `est` by an added variance (half-widths in
/// quadrature); unchanged when nothing is added or the interval is unknown.
pub fn widen(est: f64, lo: f64, hi: f64, var: f64, level: f64) -> (f64, f64) {
    if var.is_nan() || var <= 0.0 || !lo.is_finite() || !hi.is_finite() || !est.is_finite() {
        return (lo, hi);
    }
    let add = z_of(level).powi(2) * var;
    (
        est - ((est - lo).max(0.0).powi(2) + add).sqrt(),
        est + ((hi - est).max(0.0).powi(2) + add).sqrt(),
    )
}

/// A paired result widened by an added variance (95 %), its p-value at least the
/// normal one of the widened interval.
pub fn widen_paired(p: &mut Paired, var: f64) {
    if var.is_nan() || var <= 0.0 || !p.lo.is_finite() || !p.hi.is_finite() {
        return;
    }
    (p.lo, p.hi) = widen(p.delta, p.lo, p.hi, var, 0.95);
    let se = (p.hi - p.lo) / 2.0 / z_of(0.95);
    if se > 0.0 {
        let normal = erfc((p.delta / se).abs() / std::f64::consts::SQRT_2).min(1.0);
        p.p = if p.p.is_finite() {
            p.p.max(normal)
        } else {
            normal
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: u64, n_ok: u64, mean: f64, var: f64) -> PoolStats {
        PoolStats {
            model: 0,
            segment: None,
            n,
            n_ok,
            n_labelled: n_ok,
            quality_mean: mean,
            quality_var: var,
        }
    }

    /// Hand-worked, one model and one pool: 100 requests, 40 recorded (the donors,
    /// quality variance 0.09) and 60 imputed. Q̂ is then the donors' mean, of variance
    /// 0.09 / 40; the bootstrap sees (1 − w) · 0.09 / 100 with w = 0.6 (the imputed
    /// rows are constant), so the rest, 0.09/40 − 0.4 · 0.09/100 = 0.00189, must come
    /// from here: a = 0.6, b = 0.4, (a² + 2ab) · 0.09 / 40 = 0.84 · 0.00225.
    #[test]
    fn quality_variance_makes_the_total_the_donor_mean_variance() {
        let pools = [pool(40, 40, 0.7, 0.09)];
        let mut side = Side::new(1);
        side.k[0] = 60.0;
        side.m[0] = 40.0;
        let v = quality_var(&pools, &side, 100);
        assert!((v - 0.84 * 0.00225).abs() < 1e-15, "{v}");
        assert!((v + 0.4 * 0.09 / 100.0 - 0.09 / 40.0).abs() < 1e-15);
        // Both sides impute and observe the same requests: no added error.
        assert_eq!(paired_quality_var(&pools, &side, &side, 100), 0.0);
        // Against a side that neither imputes nor uses the model: the one-sided figure.
        let none = Side::new(1);
        assert_eq!(paired_quality_var(&pools, &side, &none, 100), v);
    }

    /// The error-rate part: 50 donors, 25 answers (mean 0.8, variance 0.04) and 25
    /// failures (quality 0): per-donor variance 0.5 · 0.04 + 0.25 · 0.64 = 0.18.
    #[test]
    fn failures_add_the_error_rate_term() {
        let p = pool(50, 25, 0.8, 0.04);
        assert!((donor_quality_var(&p, 0.0) - 0.18).abs() < 1e-15);
        let mut side = Side::new(1);
        side.k[0] = 10.0;
        let v = quality_var(&[p], &side, 50);
        assert!((v - 0.2f64.powi(2) * 0.18 / 50.0).abs() < 1e-15, "{v}");
    }

    #[test]
    fn widening_adds_in_quadrature_and_keeps_the_shape() {
        let z = z_of(0.95);
        // Half-widths 0.03 below and 0.04 above; added sd 0.01.
        let (lo, hi) = widen(0.5, 0.47, 0.54, 1e-4, 0.95);
        assert!((0.5 - lo - (0.03f64.powi(2) + z * z * 1e-4).sqrt()).abs() < 1e-12);
        assert!((hi - 0.5 - (0.04f64.powi(2) + z * z * 1e-4).sqrt()).abs() < 1e-12);
        assert_eq!(widen(0.5, 0.47, 0.54, 0.0, 0.95), (0.47, 0.54));
        let mut p = Paired {
            n: 10,
            delta: 0.0,
            lo: -0.1,
            hi: 0.1,
            p: 0.9,
        };
        widen_paired(&mut p, 0.01);
        assert!(p.lo < -0.1 && p.hi > 0.1);
        assert_eq!(p.p, 1.0, "Δ = 0: the normal p-value is 1");
    }
}
