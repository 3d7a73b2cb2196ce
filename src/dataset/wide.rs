//! Wide layout: one row per prompt, one column per model (RouterBench, RouteLLM).
//!
//! A model column holds the quality of that model's answer (a number in 0..1 or a
//! boolean correctness). Companion columns: `<model>|total_cost` (recorded cost),
//! `<model>|model_response` or `<model>_response` (answer text), `<model>|latency_ms`,
//! `<model>|input_tokens`, `<model>|output_tokens`. An empty model cell is a missing
//! response.

use super::build::{DatasetBuilder, MetaValue, Recorded, RequestRow, ResponseRow};
use super::config::WideOptions;
use super::long::{ID, INPUT, input_text};
use super::records::{Cell, Fields, Row, TableFormat, map_rows};
use super::{Sample, Status};
use crate::error::{Diagnostics, InputError, display_path};
use std::path::Path;

const KNOWN_META: &[&str] = &[
    "eval_name",
    "category",
    "subject",
    "oracle_model_to_route_to",
];

/// Read one wide file. Without an id column, rows are named `<tag>:<row>`.
pub fn read_wide(
    path: &Path,
    opts: &WideOptions,
    tag: &str,
    file_meta: Option<(&str, &str)>,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let file = display_path(path);
    let format = TableFormat::from_path(path)
        .ok_or_else(|| InputError::file(path, "expected a .csv, .jsonl or .parquet file"))?;
    let header = super::records::header(path, format)?.unwrap_or_default();
    let id_col: Option<String> = opts.id_column.clone().or_else(|| {
        ID.iter()
            .find(|c| header.iter().any(|h| h == *c))
            .map(|s| s.to_string())
    });
    let input_col: Option<String> = opts.input_column.clone().or_else(|| {
        INPUT
            .iter()
            .find(|c| header.iter().any(|h| h == *c))
            .map(|s| s.to_string())
    });
    let is_meta = |h: &str| {
        h.starts_with("meta.")
            || KNOWN_META.contains(&h)
            || opts.meta_columns.iter().any(|m| m == h)
    };
    let models: Vec<String> = match &opts.models {
        Some(m) => m.clone(),
        None => header
            .iter()
            .filter(|h| {
                Some(h.as_str()) != id_col.as_deref()
                    && Some(h.as_str()) != input_col.as_deref()
                    && !is_meta(h)
                    && !h.contains('|')
                    && !h.ends_with("_response")
            })
            .cloned()
            .collect(),
    };
    if models.is_empty() {
        return Err(InputError::file(
            path,
            format!(
                "no model columns found in a wide file; columns: {}",
                header.join(", ")
            ),
        ));
    }
    for m in &models {
        if !header.is_empty() && !header.contains(m) {
            return Err(InputError::file(
                path,
                format!(
                    "model column \"{m}\" not found; columns: {}",
                    header.join(", ")
                ),
            ));
        }
        b.add_model(m);
    }
    let fields = Fields::new(&file);
    let mut pending: Vec<(RequestRow, Vec<ResponseRow>)> = Vec::new();
    let read_row = |row: &dyn Row, d: &mut Diagnostics| {
        let id = match &id_col {
            Some(c) => match fields.text(&row.get(c)) {
                Some(v) => v,
                None => {
                    fields.required_column(row, c, d);
                    return None;
                }
            },
            None => format!("{tag}:{}", row.number()),
        };
        let mut req = RequestRow {
            id: id.clone(),
            ..Default::default()
        };
        if let Some(c) = &input_col
            && let Some((text, turns)) = input_text(&row.get(c))
        {
            req.input = Some(text);
            req.turns = Some(turns);
        }
        for key in row.keys() {
            if is_meta(&key) {
                let name = super::records::MetaKey::from(key.strip_prefix("meta.").unwrap_or(&key));
                match row.get(&key) {
                    Cell::Num(x) => req.meta.push((name, MetaValue::Num(x))),
                    Cell::Text(s) => req.meta.push((name, MetaValue::Str(s.as_ref().into()))),
                    Cell::Bool(x) => req.meta.push((name, MetaValue::Str(x.to_string().into()))),
                    _ => {}
                }
            }
        }
        if let Some((k, v)) = file_meta {
            req.meta.push((k.into(), MetaValue::Str(v.into())));
        }
        let mut resps = Vec::with_capacity(models.len());
        for m in &models {
            let qcell = row.get(m);
            let out_cell = match row.get(&format!("{m}|model_response")) {
                Cell::Absent => row.get(&format!("{m}_response")),
                c => c,
            };
            let output = fields.text(&out_cell);
            let quality = fields.quality(row, m, &qcell, d);
            if matches!(qcell, Cell::Absent | Cell::Null) && output.is_none() {
                continue; // no response from this model
            }
            let mut s = Sample {
                status: Status::OK,
                quality: quality.unwrap_or(f64::NAN),
                ..Sample::MISSING
            };
            let cost_key = format!("{m}|total_cost");
            s.cost_usd = fields
                .number(row, &cost_key, &row.get(&cost_key), 0.0, d)
                .unwrap_or(f64::NAN);
            let lat_key = format!("{m}|latency_ms");
            let latency = fields.number(row, &lat_key, &row.get(&lat_key), 0.0, d);
            let in_key = format!("{m}|input_tokens");
            let in_tok = fields.count(row, &in_key, &row.get(&in_key), d);
            let out_key = format!("{m}|output_tokens");
            let out_tok = fields.count(row, &out_key, &row.get(&out_key), d);
            resps.push(ResponseRow {
                request_id: id.as_str().into(),
                model: m.as_str().into(),
                sample: Some(0),
                index: None,
                recorded: Recorded::measured(
                    s,
                    in_tok,
                    out_tok,
                    latency,
                    output,
                    (fields.shared_file.clone(), row.number()),
                ),
            });
        }
        Some((req, resps))
    };
    map_rows(path, format, &[], diags, &read_row, &mut |mut batch, _| {
        pending.append(&mut batch)
    })?;
    for (req, resps) in pending {
        let origin = resps
            .first()
            .map(|r| r.recorded.origin.clone())
            .unwrap_or((fields.shared_file.clone(), 0));
        b.add_request(req, origin, diags);
        for r in resps {
            b.add_response(r, None, diags);
        }
    }
    Ok(())
}
