//! Order statistics used outside polars (engine estimates, tests, bootstrap).

/// Linear-interpolated quantile of an ascending-sorted slice (the "linear" method of
/// numpy and polars). `None` for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Quantile of unsorted values, ignoring NaN.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// Linear-interpolated quantile by selection (O(n), reorders `values`; no NaN allowed).
pub fn quantile_select(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut x_lo, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || upper.is_empty() {
        return Some(x_lo);
    }
    let x_hi = upper.iter().copied().fold(f64::INFINITY, f64::min);
    Some(x_lo + (x_hi - x_lo) * frac)
}

/// Mean ignoring NaN; `None` when nothing is left.
pub fn mean(values: &[f64]) -> Option<f64> {
    let (s, n) = values
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_linearly() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&v, 1.0), Some(4.0));
        assert_eq!(quantile_sorted(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&[3.0, f64::NAN, 1.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(mean(&[1.0, f64::NAN, 3.0]), Some(2.0));
        let mut v: Vec<f64> = (0..101).rev().map(|x| x as f64).collect();
        assert_eq!(quantile_select(&mut v.clone(), 0.95), Some(95.0));
        assert_eq!(
            quantile_select(&mut v, 0.955),
            quantile(&(0..101).map(|x| x as f64).collect::<Vec<_>>(), 0.955)
        );
    }
}
