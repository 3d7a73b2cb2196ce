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

/// A code as written: `NONE16` (no rule, no model) is a null.
fn code(c: u16) -> Option<u32> {
    (c != NONE16).then_some(c as u32)
}

/// One policy's rows as a frame. Columns: `policy`, `request` (indices into the
/// manifest's policies and `requests.parquet`), `rule` (index into the policy's rules;
/// 65534 = default; null = none), `model`, `served_model` (indices into the
/// manifest's models and served models; null = none), `status` (HTTP code, or 1000
/// error, 1001 timeout, 1002 context length, 1003 gateway rejected, 0 missing),
/// `calls`, `cost_usd`, `latency_ms`, `ttft_ms`, `quality`, `input_tokens`,
/// `output_tokens`, `queue_ms`, `arrival_ms`, and one boolean column per flag.
/// Unknown values are null.
pub fn policy_frame(v: PolicyView) -> PolarsResult<DataFrame> {
    policy_slice(v, 0..v.rows.len())
}

/// The frame of rows `range` of one policy (requests numbered from `range.start`).
fn policy_slice(v: PolicyView, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let rows = &v.rows[range.clone()];
    let n = rows.len();
    // One pass over the rows (they are wide structs: reading them once per column
    // would stream the whole table through the cache thirty times), filling plain
    // column vectors; nulls are marked in place (NONE16, NaN) and converted below.
    let mut rule = Vec::with_capacity(n);
    let mut model = Vec::with_capacity(n);
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
    let mut fl = Vec::with_capacity(n);
    for r in rows {
        rule.push(r.rule);
        model.push(r.model);
        served.push(r.served);
        status.push(r.status.0 as u32);
        calls.push(r.attempts as u32);
        cost.push(r.cost_usd);
        latency.push(r.latency_ms);
        ttft.push(r.ttft_ms);
        quality.push(r.quality);
        input.push(r.input_tokens);
        output.push(r.output_tokens);
        queue.push(r.queue_ms);
        fl.push(r.flags);
    }
    let codes = |name: &str, v: &[u16]| {
        UInt32Chunked::from_iter_options(name.into(), v.iter().map(|&c| code(c))).into_column()
    };
    let f64s = |name: &str, v: &[f64]| {
        Float64Chunked::from_iter_options(
            name.into(),
            v.iter().map(|&x| (!x.is_nan()).then_some(x)),
        )
        .into_column()
    };
    let mut cols: Vec<Column> = vec![
        Column::new_scalar("policy".into(), Scalar::from(v.p as u32), n),
        Column::new(
            "request".into(),
            (range.start as u32..range.end as u32).collect::<Vec<u32>>(),
        ),
        codes("rule", &rule),
        codes("model", &model),
        codes("served_model", &served),
        Column::new("status".into(), status),
        Column::new("calls".into(), calls),
        f64s("cost_usd", &cost),
        Column::new("latency_ms".into(), latency),
        Float32Chunked::from_iter_options(
            "ttft_ms".into(),
            ttft.iter().map(|&x| (!x.is_nan()).then_some(x)),
        )
        .into_column(),
        f64s("quality", &quality),
        Column::new("input_tokens".into(), input),
        Column::new("output_tokens".into(), output),
        Column::new("queue_ms".into(), queue),
        Column::new("arrival_ms".into(), v.arrivals[range].to_vec()),
    ];
    for (bit, name) in flag_columns() {
        cols.push(
            BooleanChunked::from_iter_values(name.into(), fl.iter().map(|&f| f & bit != 0))
                .into_column(),
        );
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

/// `requests.parquet`: `request` (index), `id`, and one `meta.<key>` text column per
/// metadata field.
pub fn requests_frame(ids: &[String], meta: &[MetaColumn]) -> PolarsResult<DataFrame> {
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
    DataFrame::new(n, cols)
}

/// Request ids and metadata back from `requests.parquet`.
pub fn read_requests(path: &Path) -> Result<(Vec<String>, Vec<MetaColumn>)> {
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
    Ok((ids, meta))
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
    let (rule, model, served, status, calls) = (
        u("rule")?,
        u("model")?,
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
