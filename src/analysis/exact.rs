//! Order-independent sums: costs and qualities are added in 64.64 fixed point, so a
//! total does not depend on the order of the rows (threads, shards): two shards merged
//! give exactly the figures of one run.

use serde::{Deserialize, Serialize};

const SCALE: f64 = 18_446_744_073_709_551_616.0; // 2^64

/// An exact sum of finite values (each rounded to a multiple of 2^-64, far below any
/// figure shown), with a count of the NaN values added (a NaN makes the sum unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactSum {
    /// High and low halves of the 128-bit fixed-point total.
    hi: i64,
    lo: u64,
    /// NaN values added.
    pub nan: u64,
}

impl ExactSum {
    fn get(&self) -> i128 {
        ((self.hi as i128) << 64) | self.lo as i128
    }

    fn set(&mut self, v: i128) {
        self.hi = (v >> 64) as i64;
        self.lo = v as u64;
    }

    /// Add a value (NaN counts as unknown; values beyond ±2^62 saturate).
    #[inline]
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            self.nan += 1;
            return;
        }
        let v = (x * SCALE).round() as i128;
        self.set(self.get().saturating_add(v));
    }

    /// Add another sum.
    pub fn merge(&mut self, o: &ExactSum) {
        self.set(self.get().saturating_add(o.get()));
        self.nan += o.nan;
    }

    /// The total (NaN when a NaN was added).
    pub fn value(&self) -> f64 {
        if self.nan > 0 {
            f64::NAN
        } else {
            self.get() as f64 / SCALE
        }
    }

    /// The total of the finite values only.
    pub fn finite_value(&self) -> f64 {
        self.get() as f64 / SCALE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_order_and_merge_exactly() {
        let xs = [1e-9, 0.1, 1234.5678, 3.3e-7, 0.2, -0.05, 7.0, 1e6];
        let (mut a, mut b, mut c) = (
            ExactSum::default(),
            ExactSum::default(),
            ExactSum::default(),
        );
        for &x in &xs {
            a.add(x);
        }
        for &x in xs.iter().rev() {
            b.add(x);
        }
        for &x in &xs[..3] {
            c.add(x);
        }
        let mut d = ExactSum::default();
        for &x in &xs[3..] {
            d.add(x);
        }
        c.merge(&d);
        assert_eq!(a, b);
        assert_eq!(a, c);
        let naive: f64 = xs.iter().sum();
        assert!((a.value() - naive).abs() < 1e-9);
        a.add(f64::NAN);
        assert!(a.value().is_nan());
        assert!((a.finite_value() - naive).abs() < 1e-9);
    }
}
