//! The quality figure, defined once (README, "Quality").
//!
//! A policy's quality is the expected quality of what a request gets:
//!
//! `Q = P(success) · mean(quality of labelled successes) + P(failure) · mean(quality of failures)`
//!
//! where a failure counts the policy's `failure_quality` (0 by default). Successes
//! without a quality label are *missing*, not 0 — but they still count in
//! P(success): an unlabelled success is assumed to be as good as the labelled ones
//! (missing at random). With every success labelled this is the plain mean over
//! covered requests. Averaging only the requests that carry a value would instead
//! over-weight failures (always valued) by about 1 / label coverage.
//!
//! Intervals: percentile bootstrap over requests below [`BOOTSTRAP_MAX_N`], the normal
//! approximation from the estimator's influence function above it (linear time).

use super::exact::ExactSum;
use super::stats::{BOOTSTRAP_MAX_N, Paired, erfc, z_of};
use crate::util::rng::Rng;
use crate::util::stats::quantile_sorted;

/// One request's contribution: whether it succeeded, and its quality (NaN when an
/// answer carries no label).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QObs {
    /// The request ended with an answer.
    pub ok: bool,
    /// Quality (the failure quality for a failed request; NaN when unlabelled).
    pub quality: f64,
}

/// Running sums of the quality estimator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualityAcc {
    /// Successes.
    pub n_ok: u64,
    /// Labelled successes.
    pub n_ok_labelled: u64,
    /// Sum of labelled successes' quality.
    pub sum_ok: ExactSum,
    /// Failures.
    pub n_fail: u64,
    /// Failures with a quality value.
    pub n_fail_labelled: u64,
    /// Sum of failures' quality.
    pub sum_fail: ExactSum,
}

impl QualityAcc {
    /// Add one request.
    #[inline]
    pub fn add(&mut self, o: QObs) {
        let labelled = !o.quality.is_nan();
        if o.ok {
            self.n_ok += 1;
            if labelled {
                self.n_ok_labelled += 1;
                self.sum_ok.add(o.quality);
            }
        } else {
            self.n_fail += 1;
            if labelled {
                self.n_fail_labelled += 1;
                self.sum_fail.add(o.quality);
            }
        }
    }

    /// The estimate `Q` (NaN when a stratum with requests has no label at all).
    pub fn value(&self) -> f64 {
        let n = (self.n_ok + self.n_fail) as f64;
        if n == 0.0 {
            return f64::NAN;
        }
        let part = |count: u64, labelled: u64, sum: f64| -> f64 {
            if count == 0 {
                0.0
            } else if labelled == 0 {
                f64::NAN
            } else {
                count as f64 / n * (sum / labelled as f64)
            }
        };
        part(self.n_ok, self.n_ok_labelled, self.sum_ok.value())
            + part(self.n_fail, self.n_fail_labelled, self.sum_fail.value())
    }

    /// Requests with a quality value (labelled successes and valued failures).
    pub fn n_valued(&self) -> u64 {
        self.n_ok_labelled + self.n_fail_labelled
    }

    /// Share of successful answers that carry a label (NaN without successes).
    pub fn labelled_share(&self) -> f64 {
        if self.n_ok == 0 {
            f64::NAN
        } else {
            self.n_ok_labelled as f64 / self.n_ok as f64
        }
    }

    /// Whether every answer (and every failure) has a value.
    pub fn complete(&self) -> bool {
        self.n_ok_labelled == self.n_ok && self.n_fail_labelled == self.n_fail
    }
}

/// The estimate over a set of requests.
pub fn estimate(obs: &[QObs]) -> QualityAcc {
    let mut a = QualityAcc::default();
    obs.iter().for_each(|&o| a.add(o));
    a
}

/// Influence of each request on `Q` (Q's linearisation): Var(Q) ≈ Σ IFᵢ² / n².
/// NaN everywhere when `Q` is undefined.
fn influence(obs: &[QObs], acc: &QualityAcc) -> Vec<f64> {
    let n = obs.len() as f64;
    // Per stratum s: a = share of requests, b = labelled sum / n, c = labelled / n.
    let strata = [
        (acc.n_ok, acc.n_ok_labelled, acc.sum_ok.value()),
        (acc.n_fail, acc.n_fail_labelled, acc.sum_fail.value()),
    ]
    .map(|(cnt, lab, sum)| (cnt as f64 / n, sum / n, lab as f64 / n));
    obs.iter()
        .map(|o| {
            let s = usize::from(!o.ok);
            let labelled = !o.quality.is_nan();
            let mut f = 0.0;
            for (k, &(a, b, c)) in strata.iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                let mine = k == s;
                let ai = f64::from(u8::from(mine));
                let ci = f64::from(u8::from(mine && labelled));
                let bi = if mine && labelled { o.quality } else { 0.0 };
                f += (b / c) * (ai - a) + (a / c) * (bi - b) - (a * b / (c * c)) * (ci - c);
            }
            f
        })
        .collect()
}

/// 95% (or `level`) CI of `Q`: percentile bootstrap (seeded), or the normal
/// approximation above [`BOOTSTRAP_MAX_N`] requests. NaN when `Q` is undefined or
/// fewer than two requests carry a value (one value says nothing about spread).
pub fn quality_ci(obs: &[QObs], resamples: usize, level: f64, seed: u64) -> (f64, f64) {
    let acc = estimate(obs);
    let q = acc.value();
    if q.is_nan() || acc.n_valued() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let n = obs.len();
    if n > BOOTSTRAP_MAX_N || resamples == 0 {
        let se = (influence(obs, &acc).iter().map(|x| x * x).sum::<f64>()).sqrt() / n as f64;
        let half = z_of(level) * se;
        return (q - half, q + half);
    }
    let mut rng = Rng::new(seed);
    let mut vals: Vec<f64> = (0..resamples)
        .map(|_| {
            let mut a = QualityAcc::default();
            for _ in 0..n {
                a.add(obs[rng.below(n as u64) as usize]);
            }
            a.value()
        })
        .filter(|v| !v.is_nan())
        .collect();
    vals.sort_by(f64::total_cmp);
    let al = (1.0 - level) / 2.0;
    (
        quantile_sorted(&vals, al).unwrap_or(f64::NAN),
        quantile_sorted(&vals, 1.0 - al).unwrap_or(f64::NAN),
    )
}

/// Paired difference `Q(a) − Q(b)` over aligned requests (`a[i]` and `b[i]` are the
/// same request): paired bootstrap (the same resampled requests on both sides), or the
/// normal approximation of the difference's influence function for large samples.
pub fn paired_quality(a: &[QObs], b: &[QObs], resamples: usize, level: f64, seed: u64) -> Paired {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ea, eb) = (estimate(a), estimate(b));
    let delta = ea.value() - eb.value();
    let none = Paired {
        n,
        delta,
        lo: f64::NAN,
        hi: f64::NAN,
        p: f64::NAN,
    };
    if delta.is_nan() || n < 2 {
        return none;
    }
    if n > BOOTSTRAP_MAX_N || resamples == 0 {
        let (ia, ib) = (influence(a, &ea), influence(b, &eb));
        let se = ia
            .iter()
            .zip(&ib)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
            / n as f64;
        let half = z_of(level) * se;
        let p = if se > 0.0 {
            erfc((delta / se).abs() / std::f64::consts::SQRT_2)
        } else if delta == 0.0 {
            1.0
        } else {
            0.0
        };
        return Paired {
            n,
            delta,
            lo: delta - half,
            hi: delta + half,
            p,
        };
    }
    let mut rng = Rng::new(seed);
    let mut ds: Vec<f64> = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut x, mut y) = (QualityAcc::default(), QualityAcc::default());
        for _ in 0..n {
            let j = rng.below(n as u64) as usize;
            x.add(a[j]);
            y.add(b[j]);
        }
        let d = x.value() - y.value();
        if !d.is_nan() {
            ds.push(d);
        }
    }
    super::stats::paired_from_resamples(n, delta, ds, level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: f64) -> QObs {
        QObs {
            ok: true,
            quality: q,
        }
    }
    fn fail() -> QObs {
        QObs {
            ok: false,
            quality: 0.0,
        }
    }

    #[test]
    fn partial_labels_do_not_overweight_failures() {
        // 9 successes of quality 1.0 and 1 failure, labelled on all (A) or on 3 of
        // the 9 successes (B): both are 0.9 · 1.0 + 0.1 · 0 = 0.9.
        let mut a: Vec<QObs> = (0..9).map(|_| ok(1.0)).collect();
        a.push(fail());
        let mut b: Vec<QObs> = (0..9)
            .map(|i| ok(if i < 3 { 1.0 } else { f64::NAN }))
            .collect();
        b.push(fail());
        assert!((estimate(&a).value() - 0.9).abs() < 1e-15);
        assert!((estimate(&b).value() - 0.9).abs() < 1e-15);
        assert!((estimate(&b).labelled_share() - 1.0 / 3.0).abs() < 1e-15);
        // The old "mean of valued requests" would say 3 / 4 = 0.75 for B.
        assert_eq!(estimate(&b).n_valued(), 4);
    }

    #[test]
    fn no_labels_is_unknown_but_all_failures_is_the_failure_quality() {
        assert!(estimate(&[ok(f64::NAN), fail()]).value().is_nan());
        assert_eq!(estimate(&[fail(), fail()]).value(), 0.0);
        assert!(estimate(&[]).value().is_nan());
    }

    #[test]
    fn one_value_has_no_interval() {
        let (lo, hi) = quality_ci(&[ok(0.7)], 200, 0.95, 1);
        assert!(lo.is_nan() && hi.is_nan());
    }

    #[test]
    fn influence_interval_equals_the_mean_interval_when_labels_are_complete() {
        // Complete labels: Q is the plain mean and IF = q − Q, so the normal interval
        // is Q ± z · sqrt(Σ(q − Q)²) / n.
        let obs: Vec<QObs> = (0..1000)
            .map(|i| {
                if i % 10 == 0 {
                    fail()
                } else {
                    ok((i % 7) as f64 / 6.0)
                }
            })
            .collect();
        let acc = estimate(&obs);
        let q = acc.value();
        let ss: f64 = obs.iter().map(|o| (o.quality - q) * (o.quality - q)).sum();
        let half = 1.959_963_985 * ss.sqrt() / 1000.0;
        let (lo, hi) = quality_ci(&obs, 0, 0.95, 1);
        assert!((lo - (q - half)).abs() < 1e-9 && (hi - (q + half)).abs() < 1e-9);
    }

    #[test]
    fn influence_interval_agrees_with_the_bootstrap_under_partial_labels() {
        let mut rng = Rng::new(11);
        let obs: Vec<QObs> = (0..4000)
            .map(|_| {
                if rng.chance(0.15) {
                    fail()
                } else if rng.chance(0.4) {
                    ok(rng.f64())
                } else {
                    ok(f64::NAN)
                }
            })
            .collect();
        let (blo, bhi) = quality_ci(&obs, 2000, 0.95, 3);
        let (nlo, nhi) = quality_ci(&obs, 0, 0.95, 3);
        let (bw, nw) = (bhi - blo, nhi - nlo);
        assert!((bw - nw).abs() < 0.1 * nw, "bootstrap {bw} vs normal {nw}");
    }

    #[test]
    fn paired_difference_of_identical_policies_is_zero() {
        let obs: Vec<QObs> = (0..50)
            .map(|i| if i % 5 == 0 { fail() } else { ok(0.5) })
            .collect();
        let p = paired_quality(&obs, &obs, 200, 0.95, 1);
        assert_eq!(p.delta, 0.0);
        assert_eq!((p.lo, p.hi), (0.0, 0.0));
        assert_eq!(p.p, 1.0);
    }
}
