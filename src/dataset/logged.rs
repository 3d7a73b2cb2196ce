//! The logged outcome of each request: what production actually did, as a gateway log
//! recorded it (the `logged` baseline replays exactly this).
//!
//! One row per request, kept apart from the response matrix because it is not a
//! replay of cells: its latency is the span of the request as logged (first attempt's
//! start to last attempt's end, gaps between attempts included) and its cost the sum of
//! the logged costs, both in `f64` so that the baseline's totals equal the log's own
//! totals exactly. Written by the gateway importers
//! ([`super::importers::gateway`]) and read from a dataset folder's `logged.csv`; kept
//! by [`super::load::select`] (limits, shards). Simulation and figures live elsewhere.

use super::{ModelId, Status};
use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use std::path::Path;

/// Flags of a logged outcome.
pub mod flags {
    /// The request ended on another model than the one first tried (a fallback).
    pub const FELL_BACK: u8 = 1;
    /// A model was tried more than once (a retry).
    pub const RETRIED: u8 = 2;
    /// The gateway answered from its cache.
    pub const CACHE_HIT: u8 = 4;
}

/// Marker for "no model" in [`Logged::model`].
pub const NO_MODEL: ModelId = ModelId::MAX;

/// One request's logged outcome, as a reader produces it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRow {
    /// The model column of the final attempt.
    pub model: String,
    /// The model column of the first call (production's pick), when it differs from
    /// `model` (a fallback moved the request on).
    pub picked: Option<String>,
    /// The model that answered, when the log names another one than the column.
    pub served: Option<String>,
    /// Final status ([`Status::MISSING`]: the log has no outcome for the request).
    pub status: Status,
    /// Calls that reached a provider.
    pub attempts: u16,
    /// Bit set of [`flags`].
    pub flags: u8,
    /// Sum of the attempts' logged costs, USD (NaN: unknown).
    pub cost_usd: f64,
    /// First start to last end, ms (NaN: not logged).
    pub latency_ms: f64,
    /// Time to first token of the final answer from the request's start, ms (NaN:
    /// not streamed or not logged).
    pub ttft_ms: f64,
    /// Prompt tokens of the final attempt.
    pub input_tokens: u32,
    /// Completion tokens of the final attempt.
    pub output_tokens: u32,
    /// Probability that production's router picked the first call's model
    /// (`picked`, else `model`) for this request, when the log gives one (NaN
    /// otherwise): the propensity off-policy estimators weigh by.
    pub propensity: f64,
}

impl LoggedRow {
    /// No logged outcome.
    pub fn missing() -> LoggedRow {
        LoggedRow {
            model: String::new(),
            picked: None,
            served: None,
            status: Status::MISSING,
            attempts: 0,
            flags: 0,
            cost_usd: f64::NAN,
            latency_ms: f64::NAN,
            ttft_ms: f64::NAN,
            input_tokens: 0,
            output_tokens: 0,
            propensity: f64::NAN,
        }
    }
}

/// The logged outcomes of a dataset's requests, column by column (`[request]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logged {
    /// Model column of the final attempt ([`NO_MODEL`] when none).
    pub model: Vec<ModelId>,
    /// Model column of the first call: production's pick, the action its
    /// propensity belongs to ([`NO_MODEL`] when none).
    pub picked: Vec<ModelId>,
    /// Served model (index into `Dataset::served_models`), or `Sample::SAME_MODEL`.
    pub served: Vec<u16>,
    /// Final status ([`Status::MISSING`] when the request has no logged outcome).
    pub status: Vec<Status>,
    /// Calls that reached a provider.
    pub attempts: Vec<u16>,
    /// Bit sets of [`flags`].
    pub flags: Vec<u8>,
    /// Logged cost, USD (NaN unknown).
    pub cost_usd: Vec<f64>,
    /// Logged end-to-end latency, ms (NaN unknown).
    pub latency_ms: Vec<f64>,
    /// Logged time to first token, ms (NaN unknown).
    pub ttft_ms: Vec<f64>,
    /// Prompt tokens of the final attempt.
    pub input_tokens: Vec<u32>,
    /// Completion tokens of the final attempt.
    pub output_tokens: Vec<u32>,
    /// Logged propensity of the picked model (NaN unknown).
    pub propensity: Vec<f64>,
}

impl Logged {
    /// Requests.
    pub fn len(&self) -> usize {
        self.status.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
    }

    /// Append one request's outcome (models and served already resolved to ids).
    pub fn push(&mut self, row: &LoggedRow, model: ModelId, picked: ModelId, served: u16) {
        self.model.push(model);
        self.picked.push(picked);
        self.served.push(served);
        self.status.push(row.status);
        self.attempts.push(row.attempts);
        self.flags.push(row.flags);
        self.cost_usd.push(row.cost_usd);
        self.latency_ms.push(row.latency_ms);
        self.ttft_ms.push(row.ttft_ms);
        self.input_tokens.push(row.input_tokens);
        self.output_tokens.push(row.output_tokens);
        self.propensity.push(row.propensity);
    }

    /// Keep requests `keep` (positions, in order).
    pub fn select(&mut self, keep: &[usize]) {
        fn pick<T: Copy>(v: &mut Vec<T>, keep: &[usize]) {
            *v = keep.iter().map(|&i| v[i]).collect();
        }
        pick(&mut self.model, keep);
        pick(&mut self.picked, keep);
        pick(&mut self.served, keep);
        pick(&mut self.status, keep);
        pick(&mut self.attempts, keep);
        pick(&mut self.flags, keep);
        pick(&mut self.cost_usd, keep);
        pick(&mut self.latency_ms, keep);
        pick(&mut self.ttft_ms, keep);
        pick(&mut self.input_tokens, keep);
        pick(&mut self.output_tokens, keep);
        pick(&mut self.propensity, keep);
    }
}

/// Columns of `logged.csv`, in order.
pub const COLUMNS: [&str; 13] = [
    "request_id",
    "model",
    "served_model",
    "status",
    "attempts",
    "fell_back",
    "retried",
    "cache_hit",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
];

/// Optional column of `logged.csv`: the first call's model when a fallback moved the
/// request on (empty: the same as `model`).
pub const PICKED: &str = "picked_model";
/// Optional column of `logged.csv`: the probability production's router gave the
/// picked model.
pub const PROPENSITY: &str = "propensity";

/// A float as written: Rust's shortest representation that reads back to the same
/// bits; empty for NaN.
fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x}")
    }
}

/// The CSV record of one logged outcome (see [`COLUMNS`]), then [`PICKED`], then
/// [`PROPENSITY`] when `with_propensity`.
pub fn csv_record(id: &str, r: &LoggedRow, with_propensity: bool) -> Vec<String> {
    let b = |f: u8| if r.flags & f != 0 { "1" } else { "0" }.to_string();
    let mut v = vec![
        id.to_string(),
        r.model.clone(),
        r.served.clone().unwrap_or_default(),
        r.status.to_string(),
        r.attempts.to_string(),
        b(flags::FELL_BACK),
        b(flags::RETRIED),
        b(flags::CACHE_HIT),
        num(r.cost_usd),
        num(r.latency_ms),
        num(r.ttft_ms),
        r.input_tokens.to_string(),
        r.output_tokens.to_string(),
    ];
    v.push(r.picked.clone().unwrap_or_default());
    if with_propensity {
        v.push(num(r.propensity));
    }
    v
}

/// Read `logged.csv`: `(request id, row, line)` per data row. Every bad cell is a
/// diagnostic naming its row and column.
pub fn read(
    path: &Path,
    diags: &mut Diagnostics,
) -> Result<Vec<(String, LoggedRow, usize)>, InputError> {
    let file = display_path(path);
    let mut rdr = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| InputError::file(path, format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let pos = |k: &str| header.iter().position(|h| h == k);
    let mut cols = Vec::new();
    for k in COLUMNS {
        match pos(k) {
            Some(i) => cols.push(i),
            None => {
                return Err(InputError::file(
                    path,
                    format!(
                        "missing column \"{k}\": a logged table has the columns {}",
                        COLUMNS.join(", ")
                    ),
                ));
            }
        }
    }
    let prop = pos(PROPENSITY);
    let picked = pos(PICKED);
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let n = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::row(
                    &file,
                    n,
                    format!("cannot read the row: {e}"),
                ));
                continue;
            }
        };
        let cell = |c: usize| rec.get(cols[c]).unwrap_or("").trim();
        let mut bad = |col: &str, what: &str, found: &str| {
            diags.push(Diagnostic::cell(
                &file,
                n,
                col,
                format!("expected {what}, found \"{found}\""),
            ))
        };
        let float = |c: usize, bad: &mut dyn FnMut(&str, &str, &str)| -> f64 {
            let s = cell(c);
            if s.is_empty() {
                return f64::NAN;
            }
            s.parse::<f64>().unwrap_or_else(|_| {
                bad(COLUMNS[c], "a number (or empty)", s);
                f64::NAN
            })
        };
        let int = |c: usize, bad: &mut dyn FnMut(&str, &str, &str)| -> u32 {
            let s = cell(c);
            s.parse::<u32>().unwrap_or_else(|_| {
                bad(COLUMNS[c], "a whole number", s);
                0
            })
        };
        let flag = |c: usize, bad: &mut dyn FnMut(&str, &str, &str)| -> bool {
            match cell(c) {
                "1" | "true" => true,
                "0" | "false" | "" => false,
                s => {
                    bad(COLUMNS[c], "0 or 1", s);
                    false
                }
            }
        };
        let id = cell(0).to_string();
        if id.is_empty() {
            bad("request_id", "a request id", "");
            continue;
        }
        let status = match Status::parse(cell(3)) {
            Some(s) if !cell(3).is_empty() => s,
            _ => {
                bad(
                    "status",
                    "ok, error, timeout, context_length, gateway_rejected or an HTTP code",
                    cell(3),
                );
                Status::ERROR
            }
        };
        let mut flags = 0;
        for (c, f) in [
            (5, flags::FELL_BACK),
            (6, flags::RETRIED),
            (7, flags::CACHE_HIT),
        ] {
            if flag(c, &mut bad) {
                flags |= f;
            }
        }
        let row = LoggedRow {
            model: cell(1).to_string(),
            picked: picked
                .map(|p| rec.get(p).unwrap_or("").trim().to_string())
                .filter(|s| !s.is_empty() && s != cell(1)),
            served: Some(cell(2).to_string()).filter(|s| !s.is_empty()),
            status,
            attempts: int(4, &mut bad).min(u16::MAX as u32) as u16,
            flags,
            cost_usd: float(8, &mut bad),
            latency_ms: float(9, &mut bad),
            ttft_ms: float(10, &mut bad),
            input_tokens: int(11, &mut bad),
            output_tokens: int(12, &mut bad),
            propensity: match prop.map(|p| rec.get(p).unwrap_or("").trim()) {
                None | Some("") => f64::NAN,
                Some(s) => match s.parse::<f64>() {
                    Ok(p) if p > 0.0 && p <= 1.0 => p,
                    _ => {
                        bad(PROPENSITY, "a probability in (0, 1]", s);
                        f64::NAN
                    }
                },
            },
        };
        if row.model.is_empty() {
            bad("model", "the model of the final attempt", "");
            continue;
        }
        out.push((id, row, n));
    }
    Ok(out)
}
