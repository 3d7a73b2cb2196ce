//! The trace on disk, with polars: `trace/`, a Parquet dataset of one file per policy
//! (`trace/policy-007.parquet`; pandas, polars, DuckDB and Spark read the folder as
//! one table), one row per policy × request, dictionary-coded like the engine's rows
//! (integer codes for policy, request, rule, model, served model and status — the names
//! are in `manifest.json`'s `trace` section); and `requests.parquet`, one row per
//! request (its id and metadata, once rather than once per policy). Policies are
//! written by the threads that simulated them, and read back one file at a time.

use super::table::{PolicyView, RunContext};
use crate::dataset::{MetaColumn, Status};
use crate::sim::trace::{NONE16, TraceRow, flags};
use anyhow::{Context, Result};
use polars::prelude::*;
use std::path::Path;

/// Column names of the boolean flag columns, in order.
pub fn flag_columns() -> impl Iterator<Item = (u32, &'static str)> {
    flags::NAMES.iter().copied()
}

/// The trace folder's name in a report.
pub const TRACE_DIR: &str = "trace";

/// The file of policy `p` in the trace folder.
pub fn policy_file(p: usize) -> String {
    format!("policy-{p:03}.parquet")
}

/// One policy's rows as a frame. Columns: `policy`, `request` (indices into the
/// manifest's policies and `requests.parquet`), `rule` (index into the policy's rules;
/// 65534 = default; null = none), `model`, `served_model` (indices into the
/// manifest's models and served models; null = none), `first_model` (the model the
/// policy picked first, before any fallback; null = none), `status` (HTTP code, or 1000
/// error, 1001 timeout, 1002 context length, 1003 gateway rejected, 0 missing),
/// `calls`, `cost_usd`, `latency_ms`, `ttft_ms`, `quality`, `input_tokens`,
/// `output_tokens`, `queue_ms`, `arrival_ms`, and one boolean column per flag.
/// Unknown values are null.
pub fn policy_frame(v: PolicyView) -> PolarsResult<DataFrame> {
    policy_slice(v, 0..v.rows.len())
}

/// The frame of rows `range` of one policy (requests numbered from `range.start`).
fn policy_slice(v: PolicyView, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    use polars_arrow::bitmap::Bitmap;
    let rows = &v.rows[range.clone()];
    let n = rows.len();
    // The rows are wide structs: each column is filled a block of rows at a time (the
    // block stays in cache while every column reads it), and the 17 flags and 6
    // validity bits of a row are packed into bitmaps a 64-bit word at a time.
    const BLOCK: usize = 4096;
    let mut rule = Vec::with_capacity(n);
    let mut model = Vec::with_capacity(n);
    let mut first = Vec::with_capacity(n);
    let mut served = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut calls = Vec::with_capacity(n);
    let mut cost = Vec::with_capacity(n);
    let mut latency = Vec::with_capacity(n);
    let mut ttft = Vec::with_capacity(n);
    let mut quality = Vec::with_capacity(n);
    let mut input = Vec::with_capacity(n);
    let mut output = Vec::with_capacity(n);
    let mut queue = Vec::with_capacity(n);
    let names: Vec<(u32, &str)> = flag_columns().collect();
    // Bit k of a row's word: its flag k, then (from VALID) whether rule, model,
    // served model, cost, TTFT, quality and first model are known.
    const VALID: usize = 32;
    let n_bits = VALID + 7;
    let words = n.div_ceil(64);
    let mut bitmaps: Vec<Vec<u64>> = (0..n_bits).map(|_| Vec::with_capacity(words)).collect();
    for block in rows.chunks(BLOCK) {
        rule.extend(block.iter().map(|r| r.rule as u32));
        model.extend(block.iter().map(|r| r.model as u32));
        first.extend(block.iter().map(|r| r.first as u32));
        served.extend(block.iter().map(|r| r.served as u32));
        status.extend(block.iter().map(|r| r.status.0 as u32));
        calls.extend(block.iter().map(|r| r.attempts as u32));
        cost.extend(block.iter().map(|r| r.cost_usd));
        latency.extend(block.iter().map(|r| r.latency_ms));
        ttft.extend(block.iter().map(|r| r.ttft_ms));
        quality.extend(block.iter().map(|r| r.quality));
        input.extend(block.iter().map(|r| r.input_tokens));
        output.extend(block.iter().map(|r| r.output_tokens));
        queue.extend(block.iter().map(|r| r.queue_ms));
        for chunk in block.chunks(64) {
            let mut w = [0u64; VALID + 7];
            for (i, r) in chunk.iter().enumerate() {
                let valid = [
                    r.rule != NONE16,
                    r.model != NONE16,
                    r.served != NONE16,
                    !r.cost_usd.is_nan(),
                    !r.ttft_ms.is_nan(),
                    !r.quality.is_nan(),
                    r.first != NONE16,
                ];
                let bits = r.flags as u64
                    | valid
                        .iter()
                        .enumerate()
                        .fold(0u64, |a, (k, &b)| a | (b as u64) << (VALID + k));
                for (k, wk) in w.iter_mut().enumerate() {
                    *wk |= ((bits >> k) & 1) << i;
                }
            }
            for (k, wk) in w.iter().enumerate() {
                bitmaps[k].push(*wk);
            }
        }
    }
    let bitmap = |k: usize| -> Bitmap {
        let bytes: Vec<u8> = bitmaps[k].iter().flat_map(|w| w.to_le_bytes()).collect();
        Bitmap::from_u8_vec(bytes, n)
    };
    // 16-bit codes are written as UInt32 (polars is built without its 16-bit types).
    let codes = |name: &str, v: Vec<u32>, k: usize| {
        UInt32Chunked::from_vec_validity(name.into(), v, Some(bitmap(VALID + k))).into_column()
    };
    let f64s = |name: &str, v: Vec<f64>, k: usize| {
        Float64Chunked::from_vec_validity(name.into(), v, Some(bitmap(VALID + k))).into_column()
    };
    let mut cols: Vec<Column> = vec![
        Column::new_scalar("policy".into(), Scalar::from(v.p as u32), n),
        UInt32Chunked::from_vec(
            "request".into(),
            (range.start as u32..range.end as u32).collect(),
        )
        .into_column(),
        codes("rule", rule, 0),
        codes("model", model, 1),
        codes("served_model", served, 2),
        codes("first_model", first, 6),
        UInt32Chunked::from_vec("status".into(), status).into_column(),
        UInt32Chunked::from_vec("calls".into(), calls).into_column(),
        f64s("cost_usd", cost, 3),
        Float64Chunked::from_vec("latency_ms".into(), latency).into_column(),
        Float32Chunked::from_vec_validity("ttft_ms".into(), ttft, Some(bitmap(VALID + 4)))
            .into_column(),
        f64s("quality", quality, 5),
        UInt32Chunked::from_vec("input_tokens".into(), input).into_column(),
        UInt32Chunked::from_vec("output_tokens".into(), output).into_column(),
        Float32Chunked::from_vec("queue_ms".into(), queue).into_column(),
        Float64Chunked::from_vec("arrival_ms".into(), v.arrivals[range].to_vec()).into_column(),
    ];
    for &(bit, name) in &names {
        let k = bit.trailing_zeros() as usize;
        cols.push(BooleanChunked::from_bitmap(name.into(), bitmap(k)).into_column());
    }
    DataFrame::new(n, cols)
}

/// Write one policy's rows into the trace folder `dir`.
pub fn write_policy(dir: &Path, v: PolicyView) -> Result<()> {
    let path = dir.join(policy_file(v.p));
    let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    // A row group of at most 1M rows at a time: memory stays bounded at any run size.
    // Snappy: a third faster to write than zstd here (the trace is the largest
    // output), and read by every Parquet reader.
    const GROUP: usize = 1 << 20;
    let n = v.rows.len();
    let first = policy_slice(v, 0..n.min(GROUP))?;
    let mut w = ParquetWriter::new(f)
        .with_compression(ParquetCompression::Snappy)
        .batched(first.schema())?;
    w.write_batch(&first)?;
    drop(first);
    let mut start = GROUP;
    while start < n {
        let end = (start + GROUP).min(n);
        w.write_batch(&policy_slice(v, start..end)?)?;
        start = end;
    }
    w.finish()?;
    Ok(())
}

/// `requests.parquet`: `request` (index), `id`, one `meta.<key>` text column per
/// metadata field, and `logged_propensity` (the probability production's router gave
/// its pick; null unknown) when the run's dataset is a log with propensities.
pub fn requests_frame(
    ids: &[String],
    meta: &[MetaColumn],
    propensity: &[f64],
) -> PolarsResult<DataFrame> {
    let n = ids.len();
    let mut cols = vec![
        Column::new("request".into(), (0..n as u32).collect::<Vec<u32>>()),
        Column::new(
            "id".into(),
            ids.iter().map(String::as_str).collect::<Vec<&str>>(),
        ),
    ];
    for mc in meta {
        let vals: Vec<Option<&str>> = (0..n).map(|r| mc.get(r)).collect();
        cols.push(Column::new(format!("meta.{}", mc.name).into(), vals));
    }
    if !propensity.is_empty() {
        let vals: Vec<Option<f64>> = propensity
            .iter()
            .map(|p| Some(*p).filter(|p| !p.is_nan()))
            .collect();
        cols.push(Column::new(PROPENSITY_COLUMN.into(), vals));
    }
    DataFrame::new(n, cols)
}

/// The column of `requests.parquet` with the logged propensities.
pub const PROPENSITY_COLUMN: &str = "logged_propensity";

/// Request ids, metadata and logged propensities (empty: none), as a report folder
/// keeps them.
pub type RequestColumns = (Vec<String>, Vec<MetaColumn>, Vec<f64>);

/// Request ids, metadata and logged propensities back from `requests.parquet`.
pub fn read_requests(path: &Path) -> Result<RequestColumns> {
    let df = read_parquet(path, None)?;
    let ids: Vec<String> = df
        .column("id")?
        .str()?
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect();
    let n = ids.len();
    let mut meta = Vec::new();
    for c in df.columns() {
        let Some(key) = c.name().strip_prefix("meta.") else {
            continue;
        };
        let mut col = MetaColumn::new(key, vec![MetaColumn::NONE; n], Vec::new());
        let mut dict: std::collections::HashMap<&str, u32> = Default::default();
        for (r, v) in c.str()?.iter().enumerate() {
            if let Some(v) = v {
                let next = dict.len() as u32;
                let code = *dict.entry(v).or_insert(next);
                if code == next {
                    col.push_value(v.to_string());
                }
                col.codes[r] = code;
            }
        }
        meta.push(col);
    }
    let propensity = match df.column(PROPENSITY_COLUMN) {
        Ok(_) => f64_column(&df, PROPENSITY_COLUMN)?,
        Err(_) => Vec::new(),
    };
    Ok((ids, meta, propensity))
}

/// One policy's rows (and arrivals) back from the trace folder `dir`.
pub fn read_policy(dir: &Path, p: usize) -> Result<(Vec<TraceRow>, Vec<f64>)> {
    let df = read_parquet(&dir.join(policy_file(p)), None)?;
    let u = |name: &str| -> Result<Vec<Option<u32>>> {
        Ok(df
            .column(name)?
            .cast(&DataType::UInt32)?
            .u32()?
            .iter()
            .collect())
    };
    let f = |name: &str| f64_column(&df, name);
    let (rule, model, first, served, status, calls) = (
        u("rule")?,
        u("model")?,
        // Reports written before the column existed: no first picks.
        if df.column("first_model").is_ok() {
            u("first_model")?
        } else {
            vec![None; df.height()]
        },
        u("served_model")?,
        u("status")?,
        u("calls")?,
    );
    let (in_tok, out_tok) = (u("input_tokens")?, u("output_tokens")?);
    let (cost, latency, ttft, quality, queue, arrival) = (
        f("cost_usd")?,
        f("latency_ms")?,
        f("ttft_ms")?,
        f("quality")?,
        f("queue_ms")?,
        f("arrival_ms")?,
    );
    let flag_cols: Vec<Vec<bool>> = flag_columns()
        .map(|(_, name)| -> Result<Vec<bool>> {
            Ok(df
                .column(name)?
                .bool()?
                .iter()
                .map(|v| v.unwrap_or(false))
                .collect())
        })
        .collect::<Result<_>>()?;
    let c16 = |v: Option<u32>| v.map(|x| x as u16).unwrap_or(NONE16);
    let rows = (0..df.height())
        .map(|i| {
            let mut fl = 0u32;
            for (k, (bit, _)) in flag_columns().enumerate() {
                if flag_cols[k][i] {
                    fl |= bit;
                }
            }
            TraceRow {
                rule: c16(rule[i]),
                model: c16(model[i]),
                first: c16(first[i]),
                served: c16(served[i]),
                status: Status(status[i].unwrap_or(0) as u16),
                attempts: calls[i].unwrap_or(0) as u16,
                flags: fl,
                cost_usd: cost[i],
                latency_ms: latency[i],
                ttft_ms: ttft[i] as f32,
                quality: quality[i],
                input_tokens: in_tok[i].unwrap_or(0),
                output_tokens: out_tok[i].unwrap_or(0),
                queue_ms: queue[i] as f32,
            }
        })
        .collect();
    Ok((rows, arrival))
}

/// The dictionaries behind the trace's codes, for `manifest.json`: policy files, model
/// and served model names, and the names of the named statuses.
pub fn dictionaries(ctx: &RunContext) -> serde_json::Value {
    let mut statuses: Vec<u16> = vec![
        Status::MISSING.0,
        Status::OK.0,
        Status::ERROR.0,
        Status::TIMEOUT.0,
        Status::CONTEXT_LENGTH.0,
        Status::GATEWAY_REJECTED.0,
    ];
    statuses.sort();
    serde_json::json!({
        "models": ctx.models,
        "served_models": ctx.served_models,
        "named_statuses": statuses.iter().map(|&c| serde_json::json!({"code": c, "name": Status(c).to_string()})).collect::<Vec<_>>(),
        "default_rule": crate::sim::trace::DEFAULT_RULE,
        "files": (0..ctx.policies.len()).map(|p| serde_json::json!({"policy": ctx.policies[p].name, "file": format!("{TRACE_DIR}/{}", policy_file(p))})).collect::<Vec<_>>(),
    })
}

/// A numeric column as `f64`, nulls as NaN.
pub fn f64_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Write a frame as Parquet (zstd).
pub fn write_parquet(df: &mut DataFrame, path: &std::path::Path) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)?;
    ParquetWriter::new(f)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)?;
    Ok(())
}

/// Read a frame (or a slice of its rows) from Parquet.
pub fn read_parquet(path: &Path, slice: Option<(usize, usize)>) -> Result<DataFrame> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(ParquetReader::new(f).with_slice(slice).finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Status;
    use crate::sim::trace::{DEFAULT_RULE, flags};

    /// Every column of the trace survives a write and a read: nulls (no rule, no
    /// model, unknown cost, TTFT, quality) and every flag bit, over more than one
    /// 64-row word and a partial last word.
    #[test]
    fn trace_rows_round_trip_through_parquet() {
        let n = 200;
        let rows: Vec<TraceRow> = (0..n)
            .map(|i| TraceRow {
                rule: match i % 3 {
                    0 => NONE16,
                    1 => DEFAULT_RULE,
                    _ => (i % 5) as u16,
                },
                model: if i % 7 == 0 { NONE16 } else { (i % 4) as u16 },
                first: if i % 5 == 0 { NONE16 } else { (i % 3) as u16 },
                served: if i % 2 == 0 { NONE16 } else { 1 },
                status: if i % 11 == 0 {
                    Status::MISSING
                } else {
                    Status::OK
                },
                attempts: (i % 3) as u16,
                flags: flags::NAMES
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| (i + k) % (k + 2) == 0)
                    .fold(0, |a, (_, (bit, _))| a | bit),
                cost_usd: if i % 13 == 0 {
                    f64::NAN
                } else {
                    i as f64 * 1e-4
                },
                latency_ms: i as f64 * 3.5,
                ttft_ms: if i % 2 == 0 { f32::NAN } else { i as f32 },
                quality: if i % 5 == 0 {
                    f64::NAN
                } else {
                    (i % 10) as f64 / 10.0
                },
                input_tokens: i as u32 * 10,
                output_tokens: i as u32,
                queue_ms: (i % 4) as f32,
            })
            .collect();
        let arrivals: Vec<f64> = (0..n).map(|i| i as f64 * 1000.0).collect();
        let dir = tempfile::tempdir().unwrap();
        let v = PolicyView {
            p: 3,
            rows: &rows,
            arrivals: &arrivals,
        };
        write_policy(dir.path(), v).unwrap();
        let (back, arr) = read_policy(dir.path(), 3).unwrap();
        assert_eq!(arr, arrivals);
        assert_eq!(back.len(), rows.len());
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!(
                (a.rule, a.model, a.served, a.status, a.attempts, a.flags),
                (b.rule, b.model, b.served, b.status, b.attempts, b.flags)
            );
            assert!(same(a.cost_usd, b.cost_usd) && same(a.quality, b.quality));
            assert!(same(a.latency_ms, b.latency_ms));
            assert!(same(a.ttft_ms as f64, b.ttft_ms as f64));
            assert_eq!(
                (a.input_tokens, a.output_tokens, a.queue_ms),
                (b.input_tokens, b.output_tokens, b.queue_ms)
            );
        }
    }
}
