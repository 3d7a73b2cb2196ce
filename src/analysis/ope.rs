//! Off-policy evaluation: what a routing policy would have achieved on production
//! traffic, estimated from a log of a *randomized* router (A/B splits, weighted load
//! balancing) that recorded the probability of each pick (its propensity).
//!
//! A log holds one answer per request: the one production's router picked. For a
//! target policy that would have picked model `t_i` where production picked `a_i`
//! with probability `p_i`, the importance weight is `w_i = 1[t_i = a_i] / p_i`, and
//! with `r_i` the logged outcome (a success, a cost, a latency, a quality):
//!
//! - **IPS** (inverse propensity scoring): `V = Σ w_i r_i / n`, unbiased when every
//!   model the target picks had a positive propensity;
//! - **SNIPS** (self-normalized IPS): `V = Σ w_i r_i / Σ w_i`, slightly biased, far
//!   less variable when weights are large;
//! - **DR** (doubly robust): `V = Σ [q(s_i, t_i) + w_i (r_i − q(s_i, a_i))] / n` with a
//!   reward model `q` — the mean logged outcome of each (segment, model) — fitted on
//!   the other half of the requests (cross-fitting: no request is scored by a model
//!   that saw it). Unbiased if either the propensities or the reward model are right,
//!   and as variable as IPS only where the reward model is wrong.
//!
//! Intervals are normal (95 %) with the standard error of each estimator's
//! per-request terms (the delta method for SNIPS). Overlap is diagnosed with the
//! matched count, the effective sample size `(Σw)² / Σw²`, the largest weight and the
//! share of requests on which the target picks a model the log never picked; an
//! estimate is refused, with the reason, when overlap is too poor to say anything
//! (thresholds below), never extrapolated.

use std::collections::HashMap;

/// The 97.5 % quantile of the standard normal.
pub const Z95: f64 = 1.959_963_984_540_054;
/// Fewest requests on which the target agrees with the log for an estimate.
pub const MIN_MATCHED: usize = 30;
/// Smallest effective sample size for an estimate.
pub const MIN_ESS: f64 = 30.0;
/// Largest share of requests on which the target may pick a model the log never
/// picked (outcomes no estimator can see).
pub const MAX_UNSUPPORTED: f64 = 0.05;
/// Largest share of requests without a propensity or an outcome that may be left out.
pub const MAX_UNKNOWN: f64 = 0.05;
/// Folds of the cross-fitted reward model.
pub const FOLDS: usize = 2;
/// Fewest logged requests of a (segment, model) cell for its own mean in the reward
/// model (fewer: the model's mean over every segment).
pub const MIN_CELL: usize = 10;

/// The logged side: production's picks, their propensities and the requests'
/// segments (the reward model's features), one entry per request.
#[derive(Debug, Clone, Copy)]
pub struct LoggedActions<'a> {
    /// The model production picked first (`u16::MAX`: none logged).
    pub action: &'a [u16],
    /// The probability production's router gave that pick (NaN: unknown).
    pub propensity: &'a [f64],
    /// Segment code of each request (any small integer; one value = no segments).
    pub segment: &'a [u32],
}

/// A point estimate with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The estimate.
    pub value: f64,
    /// Its standard error.
    pub se: f64,
    /// Lower 95 % bound.
    pub lo: f64,
    /// Upper 95 % bound.
    pub hi: f64,
}

impl Interval {
    fn normal(value: f64, se: f64) -> Interval {
        Interval {
            value,
            se,
            lo: value - Z95 * se,
            hi: value + Z95 * se,
        }
    }

    /// Whether `x` lies in the interval.
    pub fn covers(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// How well the log covers the target's picks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Overlap {
    /// Requests in the log.
    pub requests: usize,
    /// Requests used: with a logged pick, a propensity and an outcome.
    pub used: usize,
    /// Used requests without a propensity.
    pub no_propensity: usize,
    /// Used requests without an outcome (e.g. unlabelled quality).
    pub no_outcome: usize,
    /// Used requests on which the target picks what production picked.
    pub matched: usize,
    /// Effective sample size `(Σw)² / Σw²`.
    pub ess: f64,
    /// Largest importance weight.
    pub max_weight: f64,
    /// Smallest propensity among the matched requests.
    pub min_propensity: f64,
    /// Share of used requests on which the target picks a model the log never picked.
    pub unsupported: f64,
}

/// The three estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    /// Inverse propensity scoring.
    pub ips: Interval,
    /// Self-normalized IPS.
    pub snips: Interval,
    /// Doubly robust (cross-fitted reward model).
    pub dr: Interval,
}

/// One target policy's evaluation on one outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Overlap diagnostics (always computed).
    pub overlap: Overlap,
    /// The estimates, or why there are none.
    pub result: Result<Estimates, String>,
}

/// Evaluate a target policy's picks `target` (one per request, `u16::MAX`: none) on
/// the outcome `reward` of each logged request (NaN: unknown).
pub fn evaluate(log: &LoggedActions, target: &[u16], reward: &[f64]) -> Evaluation {
    let n = log.action.len();
    assert!(
        log.propensity.len() == n && log.segment.len() == n && target.len() == n,
        "one entry per request"
    );
    assert_eq!(reward.len(), n, "one outcome per request");
    let mut o = Overlap {
        requests: n,
        min_propensity: f64::INFINITY,
        ..Overlap::default()
    };
    // The requests with a logged pick (those with a logged outcome at all).
    let logged: Vec<usize> = (0..n).filter(|&i| log.action[i] != u16::MAX).collect();
    let mut used = Vec::with_capacity(logged.len());
    for &i in &logged {
        let p = log.propensity[i];
        if !(p > 0.0 && p <= 1.0) {
            o.no_propensity += 1;
        } else if reward[i].is_nan() {
            o.no_outcome += 1;
        } else {
            used.push(i);
        }
    }
    o.used = used.len();
    let refuse = |o: Overlap, why: String| Evaluation {
        overlap: o,
        result: Err(why),
    };
    if logged.is_empty() {
        return refuse(o, "the log has no requests with a logged model".into());
    }
    let share = |k: usize| k as f64 / logged.len() as f64;
    if share(o.no_propensity) > MAX_UNKNOWN {
        return refuse(
            o,
            format!(
                "{} of {} logged requests have no propensity (more than {:.0}%): off-policy estimates need the probability of every pick (a propensity column, or metadata \"propensity\")",
                o.no_propensity,
                logged.len(),
                MAX_UNKNOWN * 100.0
            ),
        );
    }
    if share(o.no_outcome) > MAX_UNKNOWN {
        return refuse(
            o,
            format!(
                "{} of {} logged requests have no value of this outcome (more than {:.0}%; leaving them out is unbiased only if they are missing at random)",
                o.no_outcome,
                logged.len(),
                MAX_UNKNOWN * 100.0
            ),
        );
    }
    // Support: the models the log ever picked.
    let mut seen = vec![false; u16::MAX as usize + 1];
    for &i in &used {
        seen[log.action[i] as usize] = true;
    }
    let unsupported = used
        .iter()
        .filter(|&&i| target[i] == u16::MAX || !seen[target[i] as usize])
        .count();
    o.unsupported = if used.is_empty() {
        0.0
    } else {
        unsupported as f64 / used.len() as f64
    };
    let w: Vec<f64> = used
        .iter()
        .map(|&i| {
            if target[i] == log.action[i] {
                1.0 / log.propensity[i]
            } else {
                0.0
            }
        })
        .collect();
    let (sw, sw2) = w.iter().fold((0.0, 0.0), |(a, b), &x| (a + x, b + x * x));
    o.matched = w.iter().filter(|&&x| x > 0.0).count();
    o.ess = if sw2 > 0.0 { sw * sw / sw2 } else { 0.0 };
    o.max_weight = w.iter().copied().fold(0.0, f64::max);
    for (k, &i) in used.iter().enumerate() {
        if w[k] > 0.0 {
            o.min_propensity = o.min_propensity.min(log.propensity[i]);
        }
    }
    if o.min_propensity.is_infinite() {
        o.min_propensity = f64::NAN;
    }
    if o.unsupported > MAX_UNSUPPORTED {
        return refuse(
            o,
            format!(
                "on {:.1}% of the requests the policy picks a model the log never picked (more than {:.0}%): no estimator sees those outcomes; record them (--missing live) or log a router that explores them",
                o.unsupported * 100.0,
                MAX_UNSUPPORTED * 100.0
            ),
        );
    }
    if o.matched < MIN_MATCHED {
        return refuse(
            o,
            format!(
                "only {} logged requests took the policy's pick (fewer than {MIN_MATCHED})",
                o.matched
            ),
        );
    }
    if o.ess < MIN_ESS {
        return refuse(
            o,
            format!(
                "the effective sample size is {:.1} (below {MIN_ESS}): the log's propensities barely cover the policy's picks",
                o.ess
            ),
        );
    }
    let m = used.len() as f64;
    let r: Vec<f64> = used.iter().map(|&i| reward[i]).collect();
    // IPS.
    let ips_terms: Vec<f64> = w.iter().zip(&r).map(|(w, r)| w * r).collect();
    let (ips, ips_se) = mean_se(&ips_terms);
    // SNIPS, with the delta method's standard error.
    let snips = ips_terms.iter().sum::<f64>() / sw;
    let snips_se = w
        .iter()
        .zip(&r)
        .map(|(w, r)| (w * (r - snips)).powi(2))
        .sum::<f64>()
        .sqrt()
        / sw;
    // DR with a cross-fitted reward model.
    let q = RewardModel::cross_fitted(log, &used, &r);
    let dr_terms: Vec<f64> = used
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let f = fold(i);
            let s = log.segment[i];
            let qt = if target[i] == u16::MAX {
                0.0
            } else {
                q.predict(f, s, target[i])
            };
            qt + w[k] * (r[k] - q.predict(f, s, log.action[i]))
        })
        .collect();
    let (dr, dr_se) = mean_se(&dr_terms);
    debug_assert_eq!(dr_terms.len() as f64, m);
    Evaluation {
        overlap: o,
        result: Ok(Estimates {
            ips: Interval::normal(ips, ips_se),
            snips: Interval::normal(snips, snips_se),
            dr: Interval::normal(dr, dr_se),
        }),
    }
}

/// The cross-fitting fold of request `i`: a hash of its position, so that no
/// periodic pattern in the log (alternating models, round-robin segments) lines up
/// with the folds.
fn fold(i: usize) -> usize {
    let mut x = i as u64;
    (crate::util::rng::splitmix64(&mut x) % FOLDS as u64) as usize
}

/// Mean and standard error of the mean (sample standard deviation / √n).
fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Mean logged outcome per (segment, model), per model and overall, one set per fold,
/// each fitted on the other folds' requests.
struct RewardModel {
    folds: Vec<FoldModel>,
}

#[derive(Default)]
struct FoldModel {
    cell: HashMap<(u32, u16), (f64, usize)>,
    model: HashMap<u16, (f64, usize)>,
    all: (f64, usize),
}

impl RewardModel {
    /// `used[k]` is a request, `r[k]` its outcome; request `i` is in fold [`fold`]`(i)`.
    fn cross_fitted(log: &LoggedActions, used: &[usize], r: &[f64]) -> RewardModel {
        let mut folds: Vec<FoldModel> = (0..FOLDS).map(|_| FoldModel::default()).collect();
        for (k, &i) in used.iter().enumerate() {
            let (s, a) = (log.segment[i], log.action[i]);
            for (f, m) in folds.iter_mut().enumerate() {
                if f == fold(i) {
                    continue;
                }
                let c = m.cell.entry((s, a)).or_default();
                c.0 += r[k];
                c.1 += 1;
                let c = m.model.entry(a).or_default();
                c.0 += r[k];
                c.1 += 1;
                m.all.0 += r[k];
                m.all.1 += 1;
            }
        }
        RewardModel { folds }
    }

    /// The predicted outcome of model `a` on a request of segment `s` in fold `f`.
    fn predict(&self, f: usize, s: u32, a: u16) -> f64 {
        let m = &self.folds[f];
        let mean = |c: &(f64, usize)| c.0 / c.1 as f64;
        match m.cell.get(&(s, a)) {
            Some(c) if c.1 >= MIN_CELL => mean(c),
            _ => match m.model.get(&a) {
                Some(c) if c.1 > 0 => mean(c),
                _ if m.all.1 > 0 => mean(&m.all),
                _ => 0.0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log<'a>(a: &'a [u16], p: &'a [f64], s: &'a [u32]) -> LoggedActions<'a> {
        LoggedActions {
            action: a,
            propensity: p,
            segment: s,
        }
    }

    /// A hand-worked log of 40 requests: production picks model 0 with probability
    /// 0.8 and model 1 with 0.2; the target always picks model 1.
    #[test]
    fn ips_snips_and_overlap_are_hand_worked() {
        // 32 requests on model 0 (reward 1), 8 on model 1 (rewards 0.5 × 4, 1 × 4).
        let mut a = vec![0u16; 32];
        a.extend([1u16; 8]);
        let p: Vec<f64> = a.iter().map(|&m| if m == 0 { 0.8 } else { 0.2 }).collect();
        let mut r = vec![1.0; 32];
        r.extend([0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]);
        let s = vec![0u32; 40];
        let t = vec![1u16; 40];
        let mut e = evaluate(&log(&a, &p, &s), &t, &r);
        // Below MIN_MATCHED: refused, with the diagnostics.
        assert_eq!(e.overlap.matched, 8);
        assert!(e.result.as_ref().unwrap_err().contains("only 8"), "{e:?}");
        assert_eq!(e.overlap.ess, 8.0); // (8·5)² / (8·25)
        assert_eq!(e.overlap.max_weight, 5.0);
        assert_eq!(e.overlap.min_propensity, 0.2);
        assert_eq!(e.overlap.unsupported, 0.0);
        // Repeated five times (200 requests, 40 matched): estimated.
        let rep = |v: &[f64]| v.repeat(5);
        let (a5, p5, r5) = (a.repeat(5), rep(&p), rep(&r));
        let (s5, t5) = (s.repeat(5), t.repeat(5));
        e = evaluate(&log(&a5, &p5, &s5), &t5, &r5);
        let est = e.result.unwrap();
        // IPS: Σ w r / n = 5 · (4·0.5 + 4·1) · 5 / 200 = 0.75.
        assert!((est.ips.value - 0.75).abs() < 1e-12);
        // SNIPS: the matched rewards' mean, 0.75 (Σw = 200).
        assert!((est.snips.value - 0.75).abs() < 1e-12);
        // IPS terms: 20 × 2.5, 20 × 5, 160 × 0 → sd by hand.
        let terms: Vec<f64> = [vec![2.5; 20], vec![5.0; 20], vec![0.0; 160]].concat();
        let mean = 0.75;
        let var = terms.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 199.0;
        assert!((est.ips.se - (var / 200.0).sqrt()).abs() < 1e-12);
        assert!((est.ips.hi - est.ips.lo - 2.0 * Z95 * est.ips.se).abs() < 1e-12);
        // SNIPS se: sqrt(Σ w²(r − V)²) / Σw = sqrt(40 · 25 · 0.0625) / 200.
        assert!((est.snips.se - (40.0f64 * 25.0 * 0.0625).sqrt() / 200.0).abs() < 1e-12);
        // DR with one segment, worked out again: the reward model of a fold is the
        // mean logged outcome of each model over the other fold's requests.
        let q = |f: usize, m: u16| {
            let v: Vec<f64> = (0..200)
                .filter(|&i| fold(i) != f && a5[i] == m)
                .map(|i| r5[i])
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let dr = (0..200)
            .map(|i| {
                let w = if a5[i] == 1 { 5.0 } else { 0.0 };
                q(fold(i), 1) + w * (r5[i] - q(fold(i), a5[i]))
            })
            .sum::<f64>()
            / 200.0;
        assert!((est.dr.value - dr).abs() < 1e-12, "{:?} vs {dr}", est.dr);
        assert!((est.dr.value - 0.75).abs() < 0.05, "{:?}", est.dr);
    }

    #[test]
    fn refuses_without_propensities_outcomes_or_support() {
        let a = vec![0u16; 100];
        let s = vec![0u32; 100];
        let r = vec![1.0; 100];
        let none = vec![f64::NAN; 100];
        let e = evaluate(&log(&a, &none, &s), &a, &r);
        assert!(e.result.unwrap_err().contains("no propensity"));
        let p = vec![1.0; 100];
        let e = evaluate(&log(&a, &p, &s), &a, &none);
        assert!(e.result.unwrap_err().contains("no value of this outcome"));
        // The target picks model 3, which the log never picked.
        let t = vec![3u16; 100];
        let e = evaluate(&log(&a, &p, &s), &t, &r);
        assert_eq!(e.overlap.unsupported, 1.0);
        assert!(e.result.unwrap_err().contains("never picked"));
        // Agreeing everywhere with a deterministic log: every estimator is the mean.
        let e = evaluate(&log(&a, &p, &s), &a, &r).result.unwrap();
        assert_eq!((e.ips.value, e.snips.value, e.dr.value), (1.0, 1.0, 1.0));
    }

    /// Enough matched requests but one weight dominates: refused on the effective
    /// sample size. 29 matched picks with propensity 1 (weight 1) and one with
    /// propensity 0.01 (weight 100); 70 requests the target disagrees with (weight 0).
    /// ESS = (Σw)² / Σw² = 129² / (29 + 100²) = 16641 / 10029 ≈ 1.66.
    #[test]
    fn refuses_when_one_weight_dominates_the_effective_sample() {
        let mut a = vec![0u16; 30];
        a.extend([1u16; 70]);
        let mut p = vec![1.0; 29];
        p.push(0.01);
        p.extend([0.5; 70]);
        let s = vec![0u32; 100];
        let r = vec![1.0; 100];
        let t = vec![0u16; 100];
        let e = evaluate(&log(&a, &p, &s), &t, &r);
        assert_eq!(e.overlap.matched, 30);
        assert!((e.overlap.ess - 16641.0 / 10029.0).abs() < 1e-12, "{e:?}");
        assert_eq!(e.overlap.max_weight, 100.0);
        let msg = e.result.unwrap_err();
        assert!(msg.contains("effective sample size is 1.7"), "{msg}");
        // Without the outlier (propensity 1 like the rest) the same log is estimated.
        p[29] = 1.0;
        let e = evaluate(&log(&a, &p, &s), &t, &r);
        assert_eq!(e.overlap.ess, 30.0);
        assert!(e.result.is_ok(), "{e:?}");
    }

    /// With a reward model that is right (segment means), DR is exact on noiseless
    /// outcomes even where IPS is not.
    #[test]
    fn dr_is_exact_when_the_reward_model_is() {
        let n = 4000;
        let mut rng = crate::util::rng::Rng::new(5);
        let s: Vec<u32> = (0..n).map(|i| (i % 4) as u32).collect();
        let reward = |s: u32, a: u16| 0.1 * s as f64 + if a == 1 { 0.3 } else { 0.0 };
        let (mut a, mut p, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for &si in &s {
            let pi1 = 0.3;
            let ai = if rng.chance(pi1) { 1 } else { 0 };
            a.push(ai);
            p.push(if ai == 1 { pi1 } else { 1.0 - pi1 });
            r.push(reward(si, ai));
        }
        let t: Vec<u16> = s.iter().map(|&x| (x >= 2) as u16).collect();
        let truth = s
            .iter()
            .zip(&t)
            .map(|(&si, &ti)| reward(si, ti))
            .sum::<f64>()
            / n as f64;
        let e = evaluate(&log(&a, &p, &s), &t, &r).result.unwrap();
        assert!(
            (e.dr.value - truth).abs() < 1e-9,
            "{} vs {truth}",
            e.dr.value
        );
        assert!((e.ips.value - truth).abs() > 1e-6);
    }
}
