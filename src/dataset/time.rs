//! Timestamps: parse ISO-8601 / RFC 3339 text or epoch seconds into epoch milliseconds,
//! and derive the UTC hour and weekday used by policy conditions.

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month, day) of days since the epoch.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parse a timestamp: epoch seconds (a number), or `YYYY-MM-DD[ T]HH:MM[:SS[.frac]]`
/// with an optional `Z` or `±HH:MM` offset (UTC when absent), or a bare date.
pub fn parse_ts_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(x) = s.parse::<f64>() {
        return x.is_finite().then(|| (x * 1000.0).round() as i64);
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let mo: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let mut ms = days * 86_400_000;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time, offset_ms) = split_offset(rest)?;
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next()?.parse().ok()?;
    let sec: f64 = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0.0,
    };
    if parts.next().is_some() || h > 23 || mi > 59 || !(0.0..61.0).contains(&sec) {
        return None;
    }
    ms += h * 3_600_000 + mi * 60_000 + (sec * 1000.0).round() as i64;
    Some(ms - offset_ms)
}

/// Parse a timestamp like [`parse_ts_ms`], keeping the digits below the millisecond:
/// epoch milliseconds as `f64` (whole milliseconds exactly, the rest as a fraction).
/// A number is epoch seconds. Durations between two log timestamps need it: LiteLLM
/// writes microseconds, and rounding each end to the millisecond would move a 4.583 ms
/// call to 5 ms.
pub fn parse_ts_ms_f64(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(x) = s.parse::<f64>() {
        return x.is_finite().then_some(x * 1000.0);
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let mo: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(ms as f64);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time, offset_ms) = split_offset(rest)?;
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next()?.parse().ok()?;
    let (whole, frac) = match parts.next() {
        Some(p) => match p.split_once('.') {
            Some((w, f)) => (w, f),
            None => (p, ""),
        },
        None => ("0", ""),
    };
    let sec: i64 = whole.parse().ok()?;
    if parts.next().is_some()
        || h > 23
        || mi > 59
        || !(0..61).contains(&sec)
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    ms += h * 3_600_000 + mi * 60_000 + sec * 1000 - offset_ms;
    // The fraction of a second in ms: exact for up to three digits, the correctly
    // rounded quotient of two exact integers beyond.
    let frac_ms = if frac.is_empty() {
        0.0
    } else if frac.len() <= 3 {
        let f: i64 = frac.parse().ok()?;
        (f * 10i64.pow(3 - frac.len() as u32)) as f64
    } else {
        let digits = &frac[..frac.len().min(18)];
        let f: i64 = digits.parse().ok()?;
        f as f64 / 10f64.powi(digits.len() as i32 - 3)
    };
    Some(ms as f64 + frac_ms)
}

fn split_offset(t: &str) -> Option<(&str, i64)> {
    if let Some(x) = t.strip_suffix(['Z', 'z']) {
        return Some((x, 0));
    }
    if let Some(pos) = t.rfind(['+', '-'])
        && pos >= 5
    {
        let (time, off) = t.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = &off[1..];
        let (oh, om) = match off.split_once(':') {
            Some((a, b)) => (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?),
            None if off.len() == 4 => (off[..2].parse().ok()?, off[2..].parse().ok()?),
            None => (off.parse().ok()?, 0),
        };
        return Some((time, sign * (oh * 3_600_000 + om * 60_000)));
    }
    Some((t, 0))
}

/// UTC hour (0–23) of an epoch-ms timestamp.
pub fn hour_utc(ms: i64) -> u8 {
    (ms.rem_euclid(86_400_000) / 3_600_000) as u8
}

/// ISO weekday (1 = Monday … 7 = Sunday), UTC.
pub fn weekday_utc(ms: i64) -> u8 {
    let days = ms.div_euclid(86_400_000);
    // 1970-01-01 was a Thursday (4).
    ((days + 3).rem_euclid(7) + 1) as u8
}

/// Format epoch ms as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ts(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_ts_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ts_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(
            parse_ts_ms("2023-11-16 18:17:03.9799600"),
            Some(1_700_158_623_980)
        );
        assert_eq!(
            parse_ts_ms("2024-05-01T12:00:00+02:00"),
            parse_ts_ms("2024-05-01T10:00:00Z")
        );
        assert_eq!(parse_ts_ms("2024-02-30x"), None);
        assert_eq!(parse_ts_ms("yesterday"), None);
        assert_eq!(format_ts(1_700_158_623_980), "2023-11-16T18:17:03.980Z");
    }

    #[test]
    fn sub_millisecond_timestamps() {
        let a = parse_ts_ms_f64("2025-01-24 09:20:46.847371").unwrap();
        let b = parse_ts_ms_f64("2025-01-24 09:20:46.851954").unwrap();
        // 2025-01-24 09:20:46 is 1737710446 s; 0.847371 s is 847.371 ms.
        assert_eq!(a, 1_737_710_446_000.0 + 847.371);
        // Epoch ms in f64 resolve about a quarter of a microsecond at this date.
        assert!((b - a - 4.583).abs() < 5e-4, "{}", b - a);
        assert_eq!(
            parse_ts_ms_f64("2025-06-02T10:00:01.360Z"),
            Some(parse_ts_ms("2025-06-02T10:00:01.360Z").unwrap() as f64)
        );
        assert_eq!(
            parse_ts_ms_f64("2024-07-15T23:33:19.433273+00:00").map(|x| x.floor()),
            Some(1_721_086_399_433.0)
        );
        assert_eq!(parse_ts_ms_f64("1700000000.5"), Some(1_700_000_000_500.0));
        assert_eq!(parse_ts_ms_f64("2024-01-01 10:00:00.12x"), None);
    }

    #[test]
    fn hour_and_weekday() {
        let t = parse_ts_ms("2023-11-16T18:17:03Z").unwrap(); // a Thursday
        assert_eq!(hour_utc(t), 18);
        assert_eq!(weekday_utc(t), 4);
        assert_eq!(weekday_utc(parse_ts_ms("2024-06-02").unwrap()), 7);
        for d in [-1000i64, 0, 19_000, 40_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
