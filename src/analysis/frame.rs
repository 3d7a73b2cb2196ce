//! The trace as a polars DataFrame (one row per policy × request) and back.

use super::table::RunTable;
use crate::dataset::MetaColumn;
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
pub fn trace_frame(trace: &Trace, ids: &[String], meta: &[MetaColumn]) -> PolarsResult<DataFrame> {
    let n = trace.n_requests;
    let total = trace.rows.len();
    let mut policy = Vec::with_capacity(total);
    let mut kind = Vec::with_capacity(total);
    let mut request_id = Vec::with_capacity(total);
    let mut rule = Vec::with_capacity(total);
    let mut model: Vec<Option<&str>> = Vec::with_capacity(total);
    let mut served: Vec<Option<&str>> = Vec::with_capacity(total);
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
        let k = info.kind.label();
        for (r, row) in trace.policy_rows(p).iter().enumerate() {
            policy.push(info.name.as_str());
            kind.push(k);
            request_id.push(ids[r].as_str());
            rule.push(trace.rule_name(p, row.rule));
            model.push(if row.model == crate::sim::trace::NONE16 {
                None
            } else {
                Some(trace.model_name(row.model))
            });
            served.push(if row.served == crate::sim::trace::NONE16 {
                None
            } else {
                Some(trace.served_models[row.served as usize].as_str())
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
        Column::new("served_model".into(), served),
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
    for mc in meta {
        let vals: Vec<Option<&str>> = (0..trace.policies.len())
            .flat_map(|_| (0..n).map(|r| mc.get(r)))
            .collect();
        cols.push(Column::new(format!("meta.{}", mc.name).into(), vals));
    }
    DataFrame::new(total, cols)
}

/// Rows of a report's trace frame back as a [`RunTable`]: `policies` (name, rules) and
/// `models` come from the report's manifest, in their original order, so codes are
/// the ones the run had.
pub fn read_table(
    df: &DataFrame,
    policies: &[crate::sim::trace::PolicyInfo],
    models: &[String],
) -> anyhow::Result<RunTable<'static>> {
    use crate::dataset::Status;
    use crate::sim::trace::{DEFAULT_RULE, NONE16, TraceRow};
    use std::collections::HashMap;
    let strs = |name: &str| -> anyhow::Result<Vec<Option<String>>> {
        Ok(df
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.map(String::from))
            .collect())
    };
    let policy = strs("policy")?;
    let ids = strs("request_id")?;
    let rule = strs("rule")?;
    let model = strs("model")?;
    let served = strs("served_model")?;
    let mut served_models: Vec<String> = Vec::new();
    let mut served_index: HashMap<String, u16> = HashMap::new();
    let status = strs("status")?;
    let num = |name: &str| f64_column(df, name);
    let (attempts, cost, latency, ttft, quality) = (
        num("attempts")?,
        num("cost_usd")?,
        num("latency_ms")?,
        num("ttft_ms")?,
        num("quality")?,
    );
    let (in_tok, out_tok, queue, arrival) = (
        num("input_tokens")?,
        num("output_tokens")?,
        num("queue_ms")?,
        num("arrival_ms")?,
    );
    let flag_cols: Vec<Vec<bool>> = flag_columns()
        .map(|(_, name)| -> anyhow::Result<Vec<bool>> {
            Ok(df
                .column(name)?
                .bool()?
                .iter()
                .map(|v| v.unwrap_or(false))
                .collect())
        })
        .collect::<anyhow::Result<_>>()?;
    let p_index: HashMap<&str, usize> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let m_index: HashMap<&str, u16> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i as u16))
        .collect();
    let mut r_index: HashMap<String, usize> = HashMap::new();
    let mut request_ids: Vec<String> = Vec::new();
    let mut request_of = Vec::with_capacity(ids.len());
    for id in &ids {
        let id = id.clone().unwrap_or_default();
        let next = request_ids.len();
        let r = *r_index.entry(id.clone()).or_insert_with(|| {
            request_ids.push(id);
            next
        });
        request_of.push(r);
    }
    let n = request_ids.len();
    let mut rows = vec![TraceRow::EMPTY; n * policies.len()];
    for i in 0..df.height() {
        let name = policy[i].as_deref().unwrap_or("");
        let Some(&p) = p_index.get(name) else {
            anyhow::bail!("trace.parquet names a policy the manifest does not list: \"{name}\"");
        };
        let info = &policies[p];
        let rule_code = match rule[i].as_deref() {
            None | Some("") => NONE16,
            Some("default") => DEFAULT_RULE,
            Some(r) => info
                .rules
                .iter()
                .position(|x| x == r)
                .map(|x| x as u16)
                .unwrap_or(NONE16),
        };
        let status_code = match status[i].as_deref() {
            Some("missing") | None => Status::MISSING,
            Some(s) => Status::parse(s).unwrap_or(Status::ERROR),
        };
        let mut fl = 0u32;
        for (k, (bit, _)) in flag_columns().enumerate() {
            if flag_cols[k][i] {
                fl |= bit;
            }
        }
        let served_code = match served[i].as_deref() {
            None => NONE16,
            Some(s) => {
                let next = served_models.len() as u16;
                *served_index.entry(s.to_string()).or_insert_with(|| {
                    served_models.push(s.to_string());
                    next
                })
            }
        };
        rows[p * n + request_of[i]] = TraceRow {
            rule: rule_code,
            served: served_code,
            model: model[i]
                .as_deref()
                .and_then(|m| m_index.get(m).copied())
                .unwrap_or(NONE16),
            status: status_code,
            attempts: attempts[i] as u16,
            flags: fl,
            cost_usd: cost[i],
            latency_ms: latency[i],
            ttft_ms: ttft[i],
            quality: quality[i],
            input_tokens: in_tok[i] as u32,
            output_tokens: out_tok[i] as u32,
            queue_ms: queue[i],
            arrival_ms: arrival[i],
        };
    }
    // Metadata: the value of each request (the same under every policy).
    let mut meta = Vec::new();
    for c in df.columns() {
        let Some(key) = c.name().strip_prefix("meta.") else {
            continue;
        };
        let vals = c.str()?;
        let mut col = MetaColumn {
            name: key.to_string(),
            codes: vec![MetaColumn::NONE; n],
            dict: Vec::new(),
            nums: vec![f64::NAN; n],
        };
        let mut dict: HashMap<String, u32> = HashMap::new();
        for (i, v) in vals.iter().enumerate() {
            let r = request_of[i];
            if let Some(v) = v
                && col.codes[r] == MetaColumn::NONE
            {
                let next = col.dict.len() as u32;
                let code = *dict.entry(v.to_string()).or_insert_with(|| {
                    col.dict.push(v.to_string());
                    next
                });
                col.codes[r] = code;
                col.nums[r] = v.trim().parse().unwrap_or(f64::NAN);
            }
        }
        meta.push(col);
    }
    Ok(RunTable {
        trace: std::borrow::Cow::Owned(Trace {
            policies: policies.to_vec(),
            models: models.to_vec(),
            served_models,
            n_requests: n,
            rows,
            attempts: Vec::new(),
            seed: 0,
        }),
        ids: std::borrow::Cow::Owned(request_ids),
        meta: std::borrow::Cow::Owned(meta),
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

/// Read a frame from Parquet.
pub fn read_parquet(path: &std::path::Path) -> anyhow::Result<DataFrame> {
    let f = std::fs::File::open(path)?;
    Ok(ParquetReader::new(f).finish()?)
}
