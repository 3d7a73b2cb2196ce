//! Number formatting shared by every writer: fixed decimals, so that tables are
//! byte-identical across runs and platforms, and empty cells for unknown values.

/// Text escaped for HTML (element content and double-quoted attributes).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Fixed decimals; NaN/inf as "".
pub fn f(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        let s = format!("{x:.decimals$}");
        // Avoid "-0.000".
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        }
    } else {
        String::new()
    }
}

/// Fixed decimals, "—" for unknown (for human tables).
pub fn fh(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        f(x, decimals)
    } else {
        "—".into()
    }
}

/// A share as a percentage with one decimal ("12.5%").
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "—".into()
    }
}

/// USD with a precision that suits the magnitude; "unknown" when there is no figure
/// (a model without a price) — never shown as $0.
pub fn usd(x: f64) -> String {
    if !x.is_finite() {
        return "unknown".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("${x:.2}")
    } else if a >= 1.0 {
        format!("${x:.3}")
    } else {
        format!("${x:.5}")
    }
}

/// Milliseconds, human friendly ("850 ms", "2.41 s").
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 10_000.0 {
        format!("{:.1} s", x / 1000.0)
    } else if x >= 1000.0 {
        format!("{:.2} s", x / 1000.0)
    } else {
        format!("{x:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_stable() {
        assert_eq!(f(1.0 / 3.0, 4), "0.3333");
        assert_eq!(f(-0.0000001, 3), "0.000");
        assert_eq!(f(f64::NAN, 2), "");
        assert_eq!(pct(0.1234), "12.3%");
        assert_eq!(usd(0.00012345), "$0.00012");
        assert_eq!(ms(2410.0), "2.41 s");
    }
}
