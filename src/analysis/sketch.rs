//! A mergeable quantile sketch for positive values (latencies): logarithmic buckets
//! of relative width γ = (1 + α) / (1 − α), as in DDSketch. Merging is adding bucket
//! counts, so shards of a run merge exactly into the sketch of the whole run.
//!
//! Error bound: a quantile read from the sketch is within a relative
//! [`SKETCH_ALPHA`] (0.5%) of the exact order statistics it interpolates between;
//! with the linear interpolation of [`crate::util::stats::quantile_sorted`] the
//! estimate is within α of the exact quantile (values at or below
//! [`Sketch::ZERO_BELOW`] ms count as 0).

use serde::{Deserialize, Serialize};

/// Relative accuracy of a quantile read from a [`Sketch`].
pub const SKETCH_ALPHA: f64 = 0.005;

/// Buckets on each side of 1 (γ^±4000 covers 1e-17 … 1e17).
const HALF: i32 = 4000;

/// A logarithmic histogram of non-negative values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    /// Values at or below [`Sketch::ZERO_BELOW`].
    pub zeros: u64,
    /// (bucket index, count), ascending, counts > 0.
    pub bins: Vec<(i32, u64)>,
    /// Dense counts while adding (index + HALF); folded into `bins` by `seal`.
    #[serde(skip)]
    dense: Vec<u64>,
}

fn gamma() -> f64 {
    (1.0 + SKETCH_ALPHA) / (1.0 - SKETCH_ALPHA)
}

impl Sketch {
    /// Values at or below this count as 0.
    pub const ZERO_BELOW: f64 = 1e-9;

    /// Add a value (NaN is ignored).
    #[inline]
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        if x <= Self::ZERO_BELOW {
            self.zeros += 1;
            return;
        }
        if self.dense.is_empty() {
            self.dense = vec![0; (2 * HALF + 1) as usize];
        }
        let k = (x.ln() / gamma().ln()).ceil() as i32;
        self.dense[(k.clamp(-HALF, HALF) + HALF) as usize] += 1;
    }

    /// Fold the values added into the sparse buckets (before reading or saving).
    pub fn seal(&mut self) {
        if self.dense.is_empty() {
            return;
        }
        let mut merged = std::collections::BTreeMap::new();
        for &(k, c) in &self.bins {
            *merged.entry(k).or_insert(0u64) += c;
        }
        for (i, &c) in self.dense.iter().enumerate() {
            if c > 0 {
                *merged.entry(i as i32 - HALF).or_insert(0) += c;
            }
        }
        self.bins = merged.into_iter().collect();
        self.dense = Vec::new();
    }

    /// Add another sketch's counts.
    pub fn merge(&mut self, other: &Sketch) {
        self.seal();
        let mut o = other.clone();
        o.seal();
        self.zeros += o.zeros;
        let mut merged: std::collections::BTreeMap<i32, u64> = self.bins.iter().copied().collect();
        for (k, c) in o.bins {
            *merged.entry(k).or_insert(0) += c;
        }
        self.bins = merged.into_iter().collect();
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.zeros + self.bins.iter().map(|b| b.1).sum::<u64>() + self.dense.iter().sum::<u64>()
    }

    /// The value of bucket `k` (the middle of its range in relative terms).
    fn value(k: i32) -> f64 {
        let g = gamma();
        2.0 * g.powi(k) / (g + 1.0)
    }

    /// The value of the `rank`-th smallest (0-based) value.
    fn at_rank(&self, rank: u64) -> f64 {
        if rank < self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for &(k, c) in &self.bins {
            seen += c;
            if rank < seen {
                return Self::value(k);
            }
        }
        self.bins.last().map_or(f64::NAN, |b| Self::value(b.0))
    }

    /// Quantile `q` with linear interpolation between order statistics (as the exact
    /// quantiles of a report); NaN when empty. Call [`Sketch::seal`] first.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return f64::NAN;
        }
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as u64, pos.ceil() as u64);
        let (a, b) = (self.at_rank(lo), self.at_rank(hi));
        a + (b - a) * (pos - lo as f64)
    }

    /// The empirical CDF as at most `points` (value, share at or below) steps.
    pub fn cdf_points(&self, points: usize) -> Vec<(f64, f64)> {
        let n = self.count();
        if n == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut seen = self.zeros;
        if seen > 0 {
            out.push((0.0, seen as f64 / n as f64));
        }
        let step = (self.bins.len() / points.max(1)).max(1);
        for (i, &(k, c)) in self.bins.iter().enumerate() {
            seen += c;
            if i % step == 0 || i + 1 == self.bins.len() {
                out.push((Self::value(k), seen as f64 / n as f64));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;
    use crate::util::stats::quantile_sorted;

    #[test]
    fn quantiles_are_within_the_relative_bound() {
        let mut rng = Rng::new(4);
        let mut xs: Vec<f64> = (0..50_000).map(|_| rng.lognormal(900.0, 0.9)).collect();
        let mut s = Sketch::default();
        xs.iter().for_each(|&x| s.add(x));
        s.seal();
        xs.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = quantile_sorted(&xs, q).unwrap();
            let est = s.quantile(q);
            assert!(
                (est - exact).abs() <= SKETCH_ALPHA * exact * 1.000_001,
                "q {q}: {est} vs {exact}"
            );
        }
    }

    #[test]
    fn merged_halves_equal_the_whole() {
        let mut rng = Rng::new(9);
        let xs: Vec<f64> = (0..10_000)
            .map(|i| if i % 50 == 0 { 0.0 } else { rng.f64() * 1e4 })
            .collect();
        let (mut a, mut b, mut all) = (Sketch::default(), Sketch::default(), Sketch::default());
        for (i, &x) in xs.iter().enumerate() {
            if i % 3 == 0 { &mut a } else { &mut b }.add(x);
            all.add(x);
        }
        a.merge(&b);
        all.seal();
        assert_eq!(a, all);
        assert_eq!(a.count(), 10_000);
        assert_eq!(a.zeros, 200);
    }
}
