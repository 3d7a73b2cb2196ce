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

    /// The pool behind request `r`'s row when one of its calls was imputed.
    #[inline]
    pub fn pool_of(&self, ctx: &RunContext, r: usize, row: &TraceRow) -> Option<usize> {
        if !row.has(flags::IMPUTED) || row.model == NONE16 {
            return None;
        }
        self.index.pool(&ctx.meta, r, row.model)
    }

    /// The pool of request `r`'s cell of `model` (NONE16: none).
    #[inline]
    pub fn pool_of_model(&self, ctx: &RunContext, r: usize, model: u16) -> Option<usize> {
        if model == NONE16 {
            return None;
        }
        self.index.pool(&ctx.meta, r, model)
    }
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

/// One side's imputed rows, per pool.
#[derive(Debug, Clone)]
pub struct Side {
    /// Imputed rows per pool.
    pub k: Vec<f64>,
    /// Imputed answers carrying the pool's quality, per pool.
    pub k_labelled: Vec<f64>,
    /// Quality of the imputed rows, per pool.
    pub quality: Vec<Moments>,
    /// Cost of the imputed rows, per pool.
    pub cost: Vec<Moments>,
    /// Latencies of the imputed rows, per pool.
    pub latency: Vec<Vec<f64>>,
}

impl Side {
    /// No imputed row yet, for `pools` pools.
    pub fn new(pools: usize) -> Side {
        Side {
            k: vec![0.0; pools],
            k_labelled: vec![0.0; pools],
            quality: vec![Moments::default(); pools],
            cost: vec![Moments::default(); pools],
            latency: vec![Vec::new(); pools],
        }
    }

    /// Add an imputed row of pool `g`: success, quality, cost, latency (NaN unknown).
    pub fn add(&mut self, g: usize, ok: bool, quality: f64, cost: f64, latency: f64) {
        self.k[g] += 1.0;
        if ok && !quality.is_nan() {
            self.k_labelled[g] += 1.0;
        }
        self.quality[g].add(quality);
        self.cost[g].add(cost);
        if latency.is_finite() {
            self.latency[g].push(latency);
        }
    }

    /// Imputed rows in all.
    pub fn total(&self) -> f64 {
        self.k.iter().sum()
    }
}

/// The quality estimator's sensitivity to one labelled answer's value:
/// `P(success) / labelled successes` = n_ok / (n · n_ok_labelled).
pub fn quality_sensitivity(n: u64, n_ok: u64, n_ok_labelled: u64) -> f64 {
    if n == 0 || n_ok_labelled == 0 {
        0.0
    } else {
        n_ok as f64 / (n as f64 * n_ok_labelled as f64)
    }
}

/// Variance of the donors' quality a pool contributes per imputed answer.
fn donor_quality_var(p: &PoolStats) -> f64 {
    if p.n_labelled == 0 {
        0.0
    } else if p.quality_var.is_finite() {
        p.quality_var / p.n_labelled as f64
    } else {
        0.25 / p.n_labelled as f64
    }
}

/// Added variance of a quality estimate over `n` requests (`s`: its
/// [`quality_sensitivity`]).
pub fn quality_var(pools: &[PoolStats], side: &Side, n: u64, s: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    pools
        .iter()
        .enumerate()
        .map(|(g, p)| {
            let draw = (side.k[g] / n).powi(2) * side.quality[g].var() / p.n.max(1) as f64;
            draw + (s * side.k_labelled[g]).powi(2) * donor_quality_var(p)
        })
        .sum()
}

/// Added variance of the paired quality difference A − B over `n` pairs.
pub fn paired_quality_var(
    pools: &[PoolStats],
    a: &Side,
    b: &Side,
    n: u64,
    (sa, sb): (f64, f64),
) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    pools
        .iter()
        .enumerate()
        .map(|(g, p)| {
            let var = a.quality[g].merge(&b.quality[g]).var();
            let draw = ((a.k[g] - b.k[g]) / n).powi(2) * var / p.n.max(1) as f64;
            draw + (sa * a.k_labelled[g] - sb * b.k_labelled[g]).powi(2) * donor_quality_var(p)
        })
        .sum()
}

/// Added variance of the paired mean-cost difference A − B over `n` pairs (a mean of
/// one side alone: `b` with no imputed rows).
pub fn paired_cost_var(pools: &[PoolStats], a: &Side, b: &Side, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    pools
        .iter()
        .enumerate()
        .map(|(g, p)| {
            let var = a.cost[g].merge(&b.cost[g]).var();
            ((a.k[g] - b.k[g]) / n).powi(2) * var / p.n.max(1) as f64
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
    if !(width > 0.0) {
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
/// request that reached a provider; NaN left out) and imputed rows.
pub fn paired_p95_var(
    pools: &[PoolStats],
    (lat_a, a): (&mut [f64], &Side),
    (lat_b, b): (&mut [f64], &Side),
) -> f64 {
    let (pa, pb) = (p95_point(lat_a), p95_point(lat_b));
    let mut var = 0.0;
    for (g, p) in pools.iter().enumerate() {
        let donors = p.n.max(1) as f64;
        let mut both: Vec<f64> = a.latency[g].clone();
        both.extend_from_slice(&b.latency[g]);
        if both.is_empty() {
            continue;
        }
        // Sensitivity of each side's p95 to the pool's F̂ at its own p95.
        let wa = pa.map_or(0.0, |(_, f, n)| a.latency[g].len() as f64 / (n * f));
        let wb = pb.map_or(0.0, |(_, f, n)| b.latency[g].len() as f64 / (n * f));
        let fa = pa.map_or(0.0, |(x, _, _)| cdf(&both, x));
        let fb = pb.map_or(0.0, |(x, _, _)| cdf(&both, x));
        let lo = match (pa, pb) {
            (Some((xa, _, _)), Some((xb, _, _))) => cdf(&both, xa.min(xb)),
            _ => 0.0,
        };
        let cov = lo - fa * fb;
        var += (wa * wa * fa * (1.0 - fa) + wb * wb * fb * (1.0 - fb) - 2.0 * wa * wb * cov)
            .max(0.0)
            / donors;
    }
    var
}

/// Widen the interval (lo, hi) of `est` by an added variance (half-widths in
/// quadrature); unchanged when nothing is added or the interval is unknown.
pub fn widen(est: f64, lo: f64, hi: f64, var: f64, level: f64) -> (f64, f64) {
    if !(var > 0.0) || !lo.is_finite() || !hi.is_finite() || !est.is_finite() {
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
    if !(var > 0.0) || !p.lo.is_finite() || !p.hi.is_finite() {
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

    fn pool(n: u64, n_ok: u64, n_labelled: u64, mean: f64, var: f64) -> PoolStats {
        PoolStats {
            model: 0,
            segment: None,
            n,
            n_ok,
            n_labelled,
            quality_mean: mean,
            quality_var: var,
        }
    }

    /// Hand-worked: 100 requests, 20 of them imputed answers from a pool of 40 donors
    /// (all answers, 40 labelled, quality variance 0.09). Every imputed row carries
    /// the pool mean, so the rows add no spread: the added variance is
    /// (20 / 100)² · 0.09 / 40 = 0.04 · 0.00225 = 9e-5.
    #[test]
    fn quality_variance_of_a_pool_mean_hand_worked() {
        let pools = [pool(40, 40, 40, 0.7, 0.09)];
        let mut side = Side::new(1);
        for _ in 0..20 {
            side.add(0, true, 0.7, 0.001, 500.0);
        }
        let s = quality_sensitivity(100, 100, 100);
        assert_eq!(s, 0.01);
        let v = quality_var(&pools, &side, 100, s);
        assert!((v - 9e-5).abs() < 1e-15, "{v}");
        // A paired difference where both sides impute the same 20 requests: no error.
        assert_eq!(paired_quality_var(&pools, &side, &side, 100, (s, s)), 0.0);
        // Against a side without imputation: the one-sided figure again.
        let none = Side::new(1);
        let d = paired_quality_var(&pools, &side, &none, 100, (s, s));
        assert!((d - 9e-5).abs() < 1e-15);
    }

    /// Hand-worked draw term: 10 imputed rows, 5 failures (quality 0) and 5 answers
    /// (0.8), from 50 donors, over 50 requests. Rows' sample variance: mean 0.4,
    /// Σ(x − 0.4)² = 10 · 0.16 = 1.6, / 9. Draw term (10/50)² · (1.6/9) / 50; the
    /// pool term (s · 5)² · 0.04 / 25 with s = 25 / (50 · 25) = 0.02 (25 answers,
    /// all labelled, 25 failures).
    #[test]
    fn failures_add_the_error_rate_term() {
        let pools = [pool(50, 25, 25, 0.8, 0.04)];
        let mut side = Side::new(1);
        for i in 0..10 {
            let ok = i % 2 == 0;
            side.add(0, ok, if ok { 0.8 } else { 0.0 }, 0.0, 1.0);
        }
        let s = quality_sensitivity(50, 25, 25);
        assert!((s - 0.02).abs() < 1e-15);
        let v = quality_var(&pools, &side, 50, s);
        let expect = 0.04 * (1.6 / 9.0) / 50.0 + (0.02f64 * 5.0).powi(2) * 0.04 / 25.0;
        assert!((v - expect).abs() < 1e-15, "{v} vs {expect}");
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
