//! The trace as a polars DataFrame (one row per policy × request) and back.

use crate::dataset::Dataset;
use crate::sim::trace::{Trace, flags};
use polars::prelude::*;

/// Column names of the boolean flag columns, in order.
pub fn flag_columns() -> impl Iterator<Item = (u32, &'static str)> {
    flags::NAMES.iter().copied()
}

/// Build the trace frame. Columns: `policy`, `kind`, `request_id`, `rule`, `model`,
/// `status`, `ok`, `attempts`, `cost_usd`, `latency_ms`, `ttft_ms`, `quality`,
/// `input_tokens`, `output_tokens`, `queue_ms`, `arrival_ms`, one boolean column per
/// flag, and `meta.<key>` for each metadata field. Unknown values are null.
pub fn trace_frame(trace: &Trace, ds: &Dataset) -> PolarsResult<DataFrame> {
    let n = trace.n_requests;
    let total = trace.rows.len();
    let mut policy = Vec::with_capacity(total);
    let mut kind = Vec::with_capacity(total);
    let mut request_id = Vec::with_capacity(total);
    let mut rule = Vec::with_capacity(total);
    let mut model: Vec<Option<&str>> = Vec::with_capacity(total);
    let mut status = Vec::with_capacity(total);
    let mut ok = Vec::with_capacity(total);
    let mut attempts = Vec::with_capacity(total);
    let mut cost = Vec::with_capacity(total);
    let mut latency = Vec::with_capacity(total);
    let mut ttft: Vec<Option<f64>> = Vec::with_capacity(total);
    let mut quality: Vec<Option<f64>> = Vec::with_capacity(total);
    let mut in_tok = Vec::with_capacity(total);
    let mut out_tok = Vec::with_capacity(total);
    let mut queue = Vec::with_capacity(total);
    let mut arrival = Vec::with_capacity(total);
    let mut flag_cols: Vec<Vec<bool>> = flags::NAMES
        .iter()
        .map(|_| Vec::with_capacity(total))
        .collect();
    // Status names, formatted once per distinct status rather than once per row.
    let mut status_names: Vec<String> = Vec::new();
    let mut status_slot = vec![u32::MAX; u16::MAX as usize + 1];
    for row in &trace.rows {
        let slot = &mut status_slot[row.status.0 as usize];
        if *slot == u32::MAX {
            *slot = status_names.len() as u32;
            status_names.push(row.status.to_string());
        }
    }
    for (p, info) in trace.policies.iter().enumerate() {
        let k = match info.kind {
            crate::policy::PolicyKind::User => "policy",
            crate::policy::PolicyKind::Baseline => "baseline",
        };
        for (r, row) in trace.policy_rows(p).iter().enumerate() {
            policy.push(info.name.as_str());
            kind.push(k);
            request_id.push(ds.requests.ids[r].as_str());
            rule.push(trace.rule_name(p, row.rule));
            model.push(if row.model == crate::sim::trace::NONE16 {
                None
            } else {
                Some(trace.model_name(row.model))
            });
            status.push(status_names[status_slot[row.status.0 as usize] as usize].as_str());
            ok.push(row.status.is_ok());
            attempts.push(row.attempts as u32);
            cost.push(row.cost_usd);
            latency.push(row.latency_ms);
            ttft.push((!row.ttft_ms.is_nan()).then_some(row.ttft_ms));
            quality.push((!row.quality.is_nan()).then_some(row.quality));
            in_tok.push(row.input_tokens);
            out_tok.push(row.output_tokens);
            queue.push(row.queue_ms);
            arrival.push(row.arrival_ms);
            for (i, (f, _)) in flags::NAMES.iter().enumerate() {
                flag_cols[i].push(row.flags & f != 0);
            }
        }
    }
    let mut cols: Vec<Column> = vec![
        Column::new("policy".into(), policy),
        Column::new("kind".into(), kind),
        Column::new("request_id".into(), request_id),
        Column::new("rule".into(), rule),
        Column::new("model".into(), model),
        Column::new("status".into(), status),
        Column::new("ok".into(), ok),
        Column::new("attempts".into(), attempts),
        Column::new("cost_usd".into(), cost),
        Column::new("latency_ms".into(), latency),
        Column::new("ttft_ms".into(), ttft),
        Column::new("quality".into(), quality),
        Column::new("input_tokens".into(), in_tok),
        Column::new("output_tokens".into(), out_tok),
        Column::new("queue_ms".into(), queue),
        Column::new("arrival_ms".into(), arrival),
    ];
    for (i, (_, name)) in flags::NAMES.iter().enumerate() {
        cols.push(Column::new(
            (*name).into(),
            std::mem::take(&mut flag_cols[i]),
        ));
    }
    for mc in &ds.requests.meta {
        let vals: Vec<Option<&str>> = (0..trace.policies.len())
            .flat_map(|_| (0..n).map(|r| mc.get(r)))
            .collect();
        cols.push(Column::new(format!("meta.{}", mc.name).into(), vals));
    }
    DataFrame::new(total, cols)
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

/// Read a frame from Parquet.
pub fn read_parquet(path: &std::path::Path) -> anyhow::Result<DataFrame> {
    let f = std::fs::File::open(path)?;
    Ok(ParquetReader::new(f).finish()?)
}
