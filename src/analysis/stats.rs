//! Statistics for trade-off analysis: bootstrap intervals, paired comparisons,
//! McNemar's test, Holm correction, the cost–quality Pareto frontier, RouterBench's
//! non-decreasing convex hull and AIQ.

use crate::util::rng::Rng;
use crate::util::stats::quantile_sorted;

/// Above this many values the bootstrap of a mean (or of a paired mean difference, or
/// of the quality estimator) is replaced by the normal approximation it converges to
/// (the estimate ± z · its influence-function standard error): linear in n, so large
/// runs stay fast. The tests check both agree across the switch.
pub const BOOTSTRAP_MAX_N: usize = 10_000;

/// A p95 difference over more pairs than this is bootstrapped from subsamples of this
/// size, its spread scaled by √(m/n) (the m-out-of-n bootstrap, valid for quantiles).
pub const QUANTILE_SUBSAMPLE: usize = 10_000;

/// Two-sided normal quantile of a confidence level (1.96 for 0.95).
pub fn z_of(level: f64) -> f64 {
    // Two-sided normal quantile for common levels; Acklam's approximation otherwise.
    inv_norm(0.5 + level / 2.0)
}

/// Percentile bootstrap CI of the mean (seeded). NaN for fewer than two values (one
/// value says nothing about spread).
pub fn bootstrap_mean_ci(values: &[f64], resamples: usize, level: f64, seed: u64) -> (f64, f64) {
    let n = values.len();
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n > BOOTSTRAP_MAX_N || resamples == 0 {
        let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        let half = z_of(level) * (var / n as f64).sqrt();
        return (mean - half, mean + half);
    }
    let mut rng = Rng::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let mut s = 0.0;
            for _ in 0..n {
                s += values[rng.below(n as u64) as usize];
            }
            s / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    (
        quantile_sorted(&means, a).unwrap_or(f64::NAN),
        quantile_sorted(&means, 1.0 - a).unwrap_or(f64::NAN),
    )
}

/// Result of a paired comparison of A against a baseline B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Pairs used.
    pub n: usize,
    /// Mean of A − B.
    pub delta: f64,
    /// CI low.
    pub lo: f64,
    /// CI high.
    pub hi: f64,
    /// Two-sided bootstrap p-value of "no difference".
    pub p: f64,
}

/// Paired bootstrap of a statistic of two aligned samples: `stat(a_resample,
/// b_resample)`. Used for mean differences and for differences of p95.
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    stat: &dyn Fn(&mut [f64], &mut [f64]) -> f64,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Paired {
    let n = a.len().min(b.len());
    if n == 0 {
        return Paired {
            n: 0,
            delta: f64::NAN,
            lo: f64::NAN,
            hi: f64::NAN,
            p: f64::NAN,
        };
    }
    let mut ra = a[..n].to_vec();
    let mut rb = b[..n].to_vec();
    let delta = stat(&mut ra, &mut rb);
    let mut rng = Rng::new(seed);
    let ds: Vec<f64> = (0..resamples)
        .map(|_| {
            for i in 0..n {
                let j = rng.below(n as u64) as usize;
                ra[i] = a[j];
                rb[i] = b[j];
            }
            stat(&mut ra, &mut rb)
        })
        .filter(|d| !d.is_nan())
        .collect();
    paired_from_resamples(n, delta, ds, level)
}

/// A paired result from the bootstrap distribution `ds` of the statistic: percentile
/// interval, and the two-sided p-value of "no difference", `2 · min(P(d ≤ 0), P(d ≥ 0))`
/// with each tail counted as `(k + 1) / (B + 1)` — never exactly 0, since B resamples
/// cannot resolve a probability below 1 / (B + 1).
pub fn paired_from_resamples(n: usize, delta: f64, mut ds: Vec<f64>, level: f64) -> Paired {
    if ds.is_empty() {
        return Paired {
            n,
            delta,
            lo: f64::NAN,
            hi: f64::NAN,
            p: f64::NAN,
        };
    }
    ds.sort_by(f64::total_cmp);
    let al = (1.0 - level) / 2.0;
    let b = ds.len() as f64;
    let le = (ds.iter().filter(|&&d| d <= 0.0).count() as f64 + 1.0) / (b + 1.0);
    let ge = (ds.iter().filter(|&&d| d >= 0.0).count() as f64 + 1.0) / (b + 1.0);
    Paired {
        n,
        delta,
        lo: quantile_sorted(&ds, al).unwrap_or(f64::NAN),
        hi: quantile_sorted(&ds, 1.0 - al).unwrap_or(f64::NAN),
        p: (2.0 * le.min(ge)).min(1.0),
    }
}

/// Paired comparison of means: [`paired_bootstrap`] of the mean difference, or its
/// normal approximation above [`BOOTSTRAP_MAX_N`] pairs.
pub fn paired_mean(a: &[f64], b: &[f64], resamples: usize, level: f64, seed: u64) -> Paired {
    let n = a.len().min(b.len());
    if n <= BOOTSTRAP_MAX_N || n < 2 {
        return paired_bootstrap(a, b, &mean_diff, resamples, level, seed);
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let half = z_of(level) * se;
    let p = if se > 0.0 {
        erfc((mean / se).abs() / std::f64::consts::SQRT_2)
    } else if mean == 0.0 {
        1.0
    } else {
        0.0
    };
    Paired {
        n,
        delta: mean,
        lo: mean - half,
        hi: mean + half,
        p,
    }
}

/// Paired comparison of p95 latencies: the paired bootstrap (at most 400 resamples), or
/// above [`QUANTILE_SUBSAMPLE`] pairs the m-out-of-n bootstrap — resamples of m pairs,
/// each difference's distance from the full-sample one scaled by √(m/n) — which costs
/// O(resamples · m) whatever n. Reorders `a` and `b` (no copy of them: at 10M pairs
/// that is 160 MB).
pub fn paired_p95(a: &mut [f64], b: &mut [f64], resamples: usize, level: f64, seed: u64) -> Paired {
    let n = a.len().min(b.len());
    let r = resamples.min(400);
    if n <= QUANTILE_SUBSAMPLE {
        return paired_bootstrap(a, b, &p95_diff, r, level, seed);
    }
    let m = QUANTILE_SUBSAMPLE;
    let scale = (m as f64 / n as f64).sqrt();
    let mut rng = Rng::new(seed);
    let (mut sa, mut sb) = (vec![0.0; m], vec![0.0; m]);
    // The resamples first, while the pairs are in place; then the full-sample
    // difference, which reorders them.
    let raw: Vec<f64> = (0..r)
        .map(|_| {
            for i in 0..m {
                let j = rng.below(n as u64) as usize;
                sa[i] = a[j];
                sb[i] = b[j];
            }
            p95_diff(&mut sa, &mut sb)
        })
        .collect();
    let delta = p95_diff(&mut a[..n], &mut b[..n]);
    let ds: Vec<f64> = raw
        .into_iter()
        .map(|d| delta + scale * (d - delta))
        .filter(|d| !d.is_nan())
        .collect();
    paired_from_resamples(n, delta, ds, level)
}

/// Mean of a − b.
pub fn mean_diff(a: &mut [f64], b: &mut [f64]) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| x - y).sum::<f64>() / a.len().max(1) as f64
}

/// p95(a) − p95(b) over the values that are not NaN (linear interpolation; reorders
/// the slices, in O(n)). NaN marks requests without a latency (gateway rejections).
pub fn p95_diff(a: &mut [f64], b: &mut [f64]) -> f64 {
    fn p95(v: &mut [f64]) -> f64 {
        // Move NaNs to the end, then select among the rest.
        let mut k = 0;
        for i in 0..v.len() {
            if !v[i].is_nan() {
                v.swap(k, i);
                k += 1;
            }
        }
        crate::util::stats::quantile_select(&mut v[..k], 0.95).unwrap_or(f64::NAN)
    }
    p95(a) - p95(b)
}

/// McNemar's test on paired 0/1 outcomes: `b` = A right & B wrong, `c` = A wrong &
/// B right. Exact two-sided binomial test when b + c < 25, else χ² with continuity
/// correction. Returns (statistic, p-value); statistic is NaN for the exact test.
pub fn mcnemar(b: u64, c: u64) -> (f64, f64) {
    let n = b + c;
    if n == 0 {
        return (f64::NAN, 1.0);
    }
    if n < 25 {
        let k = b.min(c);
        let mut cdf = 0.0;
        for i in 0..=k {
            cdf += binom_pmf(n, i);
        }
        return (f64::NAN, (2.0 * cdf).min(1.0));
    }
    let d = (b as f64 - c as f64).abs() - 1.0;
    let chi2 = d.max(0.0).powi(2) / n as f64;
    (chi2, erfc((chi2 / 2.0).sqrt()))
}

fn binom_pmf(n: u64, k: u64) -> f64 {
    // C(n, k) / 2^n via logs.
    let ln = ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0);
    (ln - n as f64 * std::f64::consts::LN_2).exp()
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9).
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI.ln() - (std::f64::consts::PI * x).sin().ln() - ln_gamma(1.0 - x)
    } else {
        let x = x - 1.0;
        let mut a = C[0];
        let t = x + 7.5;
        for (i, c) in C.iter().enumerate().skip(1) {
            a += c / (x + i as f64);
        }
        0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
    }
}

/// Complementary error function (Numerical Recipes' erfcc; |error| < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// Inverse standard normal CDF (Acklam's algorithm, relative error < 1.2e-9).
pub fn inv_norm(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let pl = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -inv_norm(1.0 - p)
    }
}

/// Holm–Bonferroni adjusted p-values (same order as given).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adj = vec![f64::NAN; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in idx.iter().enumerate() {
        let v = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(v);
        adj[i] = running;
    }
    adj
}

/// Indices of points on the cost–quality Pareto frontier (no other point is at least
/// as cheap and at least as good, and strictly better in one), by ascending cost.
pub fn pareto_frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].1.is_finite())
        .collect();
    idx.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[b].1.total_cmp(&points[a].1))
    });
    let mut out = Vec::new();
    let mut best_q = f64::NEG_INFINITY;
    for i in idx {
        if points[i].1 > best_q {
            out.push(i);
            best_q = points[i].1;
        }
    }
    out
}

/// RouterBench's non-decreasing convex hull of (cost, quality) points: the upper
/// concave envelope of the Pareto frontier, as (cost, quality) vertices by cost.
pub fn nondecreasing_hull(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let front: Vec<(f64, f64)> = pareto_frontier(points)
        .into_iter()
        .map(|i| points[i])
        .collect();
    let mut hull: Vec<(f64, f64)> = Vec::new();
    for p in front {
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            // Remove b if it lies on or below the segment a→p.
            let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
            if cross >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    hull
}

/// Value of the hull at cost `c` (linear between vertices, flat after the last one,
/// NaN before the first).
pub fn hull_at(hull: &[(f64, f64)], c: f64) -> f64 {
    if hull.is_empty() || c < hull[0].0 {
        return f64::NAN;
    }
    for w in hull.windows(2) {
        if c <= w[1].0 {
            let f = if w[1].0 > w[0].0 {
                (c - w[0].0) / (w[1].0 - w[0].0)
            } else {
                1.0
            };
            return w[0].1 + f * (w[1].1 - w[0].1);
        }
    }
    hull[hull.len() - 1].1
}

/// AIQ (RouterBench): the mean of the non-decreasing convex hull over the cost range
/// [c_min, c_max] — its area divided by the range width.
pub fn aiq(points: &[(f64, f64)], c_min: f64, c_max: f64) -> f64 {
    let hull = nondecreasing_hull(points);
    if hull.is_empty() || c_max <= c_min {
        return f64::NAN;
    }
    // Integrate the piecewise-linear hull exactly over [c_min, c_max].
    let mut xs: Vec<f64> = vec![c_min, c_max];
    xs.extend(hull.iter().map(|h| h.0).filter(|&x| x > c_min && x < c_max));
    xs.sort_by(f64::total_cmp);
    let mut area = 0.0;
    for w in xs.windows(2) {
        let (y0, y1) = (hull_at(&hull, w[0]), hull_at(&hull, w[1]));
        if y0.is_nan() || y1.is_nan() {
            return f64::NAN;
        }
        area += (w[1] - w[0]) * (y0 + y1) / 2.0;
    }
    area / (c_max - c_min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_paired_samples_switch_to_the_normal_interval_seamlessly() {
        // The same Bernoulli-like differences just below and just above the switch:
        // the bootstrap interval and the normal one must agree.
        let mut rng = Rng::new(3);
        let n = BOOTSTRAP_MAX_N + 1;
        let a: Vec<f64> = (0..n).map(|_| rng.chance(0.7) as u8 as f64).collect();
        let b: Vec<f64> = (0..n).map(|_| rng.chance(0.6) as u8 as f64).collect();
        let boot = paired_mean(&a[..n - 1], &b[..n - 1], 100, 0.95, 1);
        let normal = paired_mean(&a, &b, 100, 0.95, 1);
        // Expected half-width: 1.96 · sd(a − b) / √n with Var(a − b) = .21 + .24.
        let half = 1.959_964 * (0.21f64 + 0.24).sqrt() / (n as f64).sqrt();
        assert!(((normal.hi - normal.lo) / 2.0 - half).abs() < 0.03 * half);
        assert!(((boot.hi - boot.lo) / 2.0 - half).abs() < 0.15 * half);
        // The two means differ by one pair: at most (1 + 1) / n.
        assert!((normal.delta - boot.delta).abs() <= 2.0 / n as f64);
        assert!(
            normal.p < 1e-10,
            "a 0.1 difference on 10k pairs is significant"
        );
    }

    #[test]
    fn subsampled_p95_interval_agrees_with_the_full_bootstrap() {
        // 40,000 pairs of lognormal-ish latencies, b about 10% faster: the m-out-of-n
        // interval (m = 10,000, scaled by √(m/n) = 0.5) against the plain paired
        // bootstrap of all 40,000 pairs.
        let mut rng = Rng::new(5);
        let n = 4 * QUANTILE_SUBSAMPLE;
        let mut a: Vec<f64> = (0..n).map(|_| (rng.f64() * 2.0).exp() * 100.0).collect();
        let mut b: Vec<f64> = a.iter().map(|x| x * (0.85 + 0.1 * rng.f64())).collect();
        let full = paired_bootstrap(&a, &b, &p95_diff, 200, 0.95, 9);
        let sub = paired_p95(&mut a, &mut b, 200, 0.95, 9);
        assert_eq!(full.delta, sub.delta);
        let (wf, ws) = (full.hi - full.lo, sub.hi - sub.lo);
        assert!((wf - ws).abs() < 0.25 * wf, "full {wf} vs subsampled {ws}");
        assert!(sub.lo < sub.delta && sub.delta < sub.hi);
    }

    #[test]
    fn erfc_and_inverse_normal() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 2e-7);
        assert!((inv_norm(0.975) - 1.959_963_985).abs() < 1e-8);
    }

    /// L5: a bootstrap p-value is never below 1/(B+1). Hand-worked: B = 4 resamples
    /// all above 0 → P(d ≤ 0) = (0+1)/(4+1) = 0.2, P(d ≥ 0) = (4+1)/5 = 1, p = 2·0.2 =
    /// 0.4 (a naive count would say 0). Two of four at or below 0 (one exactly 0):
    /// le = (2+1)/5 = 0.6, ge = (3+1)/5 = 0.8, p = min(1, 1.2) = 1. Interval: the
    /// 2.5 % and 97.5 % quantiles of the sorted resamples (linear interpolation).
    #[test]
    fn bootstrap_p_value_has_a_floor_of_one_over_b_plus_one() {
        let r = paired_from_resamples(10, 0.3, vec![0.1, 0.4, 0.2, 0.3], 0.95);
        assert!((r.p - 0.4).abs() < 1e-12, "{}", r.p);
        // quantile at 0.025 of [0.1, 0.2, 0.3, 0.4]: position 0.075 → 0.1 + 0.075·0.1
        assert!((r.lo - 0.1075).abs() < 1e-12, "{}", r.lo);
        assert!((r.hi - 0.3925).abs() < 1e-12, "{}", r.hi);
        let r = paired_from_resamples(10, 0.0, vec![-0.1, 0.0, 0.2, 0.3], 0.95);
        assert_eq!(r.p, 1.0);
        // The floor holds for the full bootstrap too: a difference in every pair.
        let a = vec![1.0; 50];
        let b = vec![0.0; 50];
        let r = paired_mean(&a, &b, 99, 0.95, 7);
        assert!((r.p - 2.0 / 100.0).abs() < 1e-12, "{}", r.p);
    }

    #[test]
    fn holm_adjusts_in_step_down_order() {
        let adj = holm(&[0.01, 0.04, 0.03]);
        // sorted: 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> max-accumulated 0.06
        assert_eq!(adj, vec![0.03, 0.06, 0.06]);
    }
}
