//! When requests arrive: recorded timestamps, a synthetic arrival model, or the
//! timestamps of a real arrival trace (such as the Azure LLM inference trace 2023)
//! assigned to the dataset's requests in order.

use crate::dataset::time::parse_ts_ms;
use crate::error::{Diagnostic, InputError};
use crate::util::rng::Rng;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How requests arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// Use request timestamps; without them, one request per second in dataset order.
    Recorded,
    /// Evenly spaced at this rate (requests per second), in dataset order.
    Uniform(f64),
    /// Poisson process at this rate (requests per second), in dataset order, seeded.
    Poisson(f64),
    /// The timestamps of an arrival trace, in order (see [`ArrivalTrace`]).
    Trace(Arc<ArrivalTrace>),
}

/// `--arrival` as written: its form checked, a trace file not read yet.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrivalSpec {
    /// `recorded`.
    Recorded,
    /// `uniform:RATE` (requests per second).
    Uniform(f64),
    /// `poisson:RATE`.
    Poisson(f64),
    /// `trace:FILE.csv`.
    Trace(PathBuf),
}

impl ArrivalSpec {
    /// Parse the option's text; the error says what was expected.
    pub fn parse(s: &str) -> Result<ArrivalSpec, String> {
        if s == "recorded" {
            return Ok(ArrivalSpec::Recorded);
        }
        let (kind, arg) = s.split_once(':').ok_or_else(|| {
            format!("expected recorded, uniform:RATE, poisson:RATE or trace:FILE, found \"{s}\"")
        })?;
        if kind == "trace" {
            return Ok(ArrivalSpec::Trace(PathBuf::from(arg)));
        }
        let rate: f64 = arg.trim_end_matches("/s").parse().map_err(|_| {
            format!("arrival rate must be a number of requests per second, found \"{arg}\"")
        })?;
        if !(rate > 0.0 && rate.is_finite()) {
            return Err("arrival rate must be positive".into());
        }
        match kind {
            "uniform" => Ok(ArrivalSpec::Uniform(rate)),
            "poisson" => Ok(ArrivalSpec::Poisson(rate)),
            _ => Err(format!(
                "unknown arrival model \"{kind}\"; expected uniform, poisson or trace"
            )),
        }
    }

    /// The arrival model (reading a trace file: its problems with row and column).
    pub fn resolve(&self) -> Result<Arrival, InputError> {
        Ok(match self {
            ArrivalSpec::Recorded => Arrival::Recorded,
            ArrivalSpec::Uniform(r) => Arrival::Uniform(*r),
            ArrivalSpec::Poisson(r) => Arrival::Poisson(*r),
            ArrivalSpec::Trace(p) => Arrival::Trace(Arc::new(ArrivalTrace::read(p)?)),
        })
    }
}

impl std::fmt::Display for ArrivalSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArrivalSpec::Recorded => f.write_str("recorded"),
            ArrivalSpec::Uniform(r) => write!(f, "uniform:{r}"),
            ArrivalSpec::Poisson(r) => write!(f, "poisson:{r}"),
            ArrivalSpec::Trace(p) => write!(f, "trace:{}", p.display()),
        }
    }
}

/// A real arrival trace: a CSV file whose timestamp column gives one arrival per row.
/// The dataset's requests take its arrival times in order; a trace shorter than the
/// dataset repeats, each repetition starting one mean gap after the previous one ends.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalTrace {
    /// The file read.
    pub path: PathBuf,
    /// The timestamp column used.
    pub column: String,
    /// Arrival offsets in ms after the first arrival, ascending.
    pub offsets_ms: Vec<f64>,
}

/// Column names recognised as timestamps (case-insensitive), in order of preference.
const TS_COLUMNS: &[&str] = &["timestamp", "ts", "time", "arrival", "arrival_time"];

impl ArrivalTrace {
    /// Read a trace. Timestamps may be ISO-8601 / `YYYY-MM-DD hh:mm:ss.fffffff` or
    /// numbers of seconds. Rows need not be sorted; every bad row is a diagnostic with
    /// its row and column.
    pub fn read(path: &Path) -> Result<ArrivalTrace, InputError> {
        let shown = crate::error::display_path(path);
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| InputError::file(path, format!("cannot read the arrival trace: {e}")))?;
        let header = rdr
            .headers()
            .map_err(|e| InputError::file(path, format!("cannot read the header row: {e}")))?
            .clone();
        let pick = TS_COLUMNS
            .iter()
            .find_map(|want| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(want))
            })
            .or_else(|| (header.len() == 1).then_some(0));
        let Some(col) = pick else {
            return Err(InputError::file(
                path,
                format!(
                    "no timestamp column in the arrival trace: expected one of {} (found {})",
                    TS_COLUMNS.join(", "),
                    header.iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let column = header[col].trim().to_string();
        let mut diags = Vec::new();
        let mut ts = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 1;
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    diags.push(Diagnostic::row(&shown, row, format!("unreadable row: {e}")));
                    continue;
                }
            };
            let cell = rec.get(col).unwrap_or("");
            match parse_ts_ms(cell) {
                Some(t) => ts.push(t),
                None => diags.push(Diagnostic::cell(
                    &shown,
                    row,
                    &column,
                    format!("expected a timestamp (ISO 8601 or seconds), found \"{cell}\""),
                )),
            }
            if diags.len() >= 20 {
                break;
            }
        }
        if !diags.is_empty() {
            return Err(InputError::new(diags));
        }
        if ts.len() < 2 {
            return Err(InputError::file(
                path,
                "an arrival trace needs at least two timestamps",
            ));
        }
        ts.sort_unstable();
        let t0 = ts[0];
        Ok(ArrivalTrace {
            path: path.to_path_buf(),
            column,
            offsets_ms: ts.iter().map(|&t| (t - t0) as f64).collect(),
        })
    }

    /// Arrival offsets for `n` requests: the trace in order, repeated when shorter.
    pub fn offsets(&self, n: usize) -> Vec<f64> {
        let len = self.offsets_ms.len();
        let span = self.offsets_ms[len - 1];
        let period = span + span / (len - 1) as f64;
        (0..n)
            .map(|i| (i / len) as f64 * period + self.offsets_ms[i % len])
            .collect()
    }
}

impl Arrival {
    /// Parse `--arrival` and read a trace file it names.
    pub fn parse(s: &str) -> Result<Arrival, InputError> {
        ArrivalSpec::parse(s)
            .map_err(|m| InputError::one(Diagnostic::file("--arrival", m)))?
            .resolve()
    }

    /// The trace file, when arrivals come from one.
    pub fn trace_file(&self) -> Option<&Path> {
        match self {
            Arrival::Trace(t) => Some(&t.path),
            _ => None,
        }
    }
}

/// Arrival time of each of `n` requests, ms after the first arrival. `ts_ms` are the
/// recorded timestamps (`None` when the dataset has none).
pub fn arrival_offsets(
    n: usize,
    ts_ms: Option<&[i64]>,
    arrival: &Arrival,
    speedup: f64,
    seed: u64,
) -> Vec<f64> {
    let mut out = match arrival {
        Arrival::Recorded => match ts_ms {
            Some(ts) => {
                let t0 = *ts.iter().min().unwrap_or(&0);
                ts.iter().map(|&t| (t - t0) as f64).collect()
            }
            None => (0..n).map(|i| i as f64 * 1000.0).collect(),
        },
        Arrival::Uniform(rate) => (0..n).map(|i| i as f64 * 1000.0 / rate).collect(),
        Arrival::Poisson(rate) => {
            let mut rng = Rng::new(seed ^ 0xA11_1CE);
            let mut t = 0.0;
            (0..n)
                .map(|i| {
                    if i > 0 {
                        t += rng.exponential(1000.0 / rate);
                    }
                    t
                })
                .collect::<Vec<f64>>()
        }
        Arrival::Trace(t) => t.offsets(n),
    };
    if speedup != 1.0 {
        out.iter_mut().for_each(|t| *t /= speedup);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn trace_offsets_follow_the_file_and_repeat() {
        let dir = tempfile::tempdir().unwrap();
        // Azure layout; rows out of order on purpose.
        let p = write(
            dir.path(),
            "t.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n\
             2023-11-16 18:17:04.0319600,3180,8\n\
             2023-11-16 18:17:03.9799600,4808,10\n\
             2023-11-16 18:17:04.2799600,10,1\n",
        );
        let a = Arrival::parse(&format!("trace:{}", p.display())).unwrap();
        let Arrival::Trace(t) = &a else { panic!() };
        assert_eq!(t.column, "TIMESTAMP");
        assert_eq!(t.offsets_ms, vec![0.0, 52.0, 300.0]);
        // span 300 ms over 2 gaps: mean gap 150 ms, so the repetition starts at 450 ms.
        let got = arrival_offsets(5, None, &a, 1.0, 1);
        assert_eq!(got, vec![0.0, 52.0, 300.0, 450.0, 502.0]);
        let fast = arrival_offsets(3, None, &a, 2.0, 1);
        assert_eq!(fast, vec![0.0, 26.0, 150.0]);
        assert_eq!(a.trace_file(), Some(p.as_path()));
    }

    #[test]
    fn trace_errors_name_the_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bad.csv", "ts,x\n1.5,a\nyesterday,b\n");
        let e = Arrival::parse(&format!("trace:{}", p.display())).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("row 2, column \"ts\": expected a timestamp (ISO 8601 or seconds), found \"yesterday\""),
            "{msg}"
        );
        let p = write(dir.path(), "nocol.csv", "a,b\n1,2\n");
        let msg = Arrival::parse(&format!("trace:{}", p.display()))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no timestamp column"), "{msg}");
        let msg = Arrival::parse("trace:/nonexistent/x.csv")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/nonexistent/x.csv"), "{msg}");
        let msg = Arrival::parse("poisson:-3").unwrap_err().to_string();
        assert!(
            msg.contains("--arrival") && msg.contains("positive"),
            "{msg}"
        );
    }
}
