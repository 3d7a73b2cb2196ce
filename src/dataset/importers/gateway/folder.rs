//! Writing an imported log as a normal dataset folder (`routesim import`):
//! `dataset.toml` (provenance, every assumption in `notes`, the field mapping under
//! `[import.fields]`), `requests.csv`, `responses.csv` (the long layout),
//! `logged.csv` (the logged outcomes), `pricing.toml` (model columns priced as the
//! provider model they called) and `manifest.json` (each source's hash, size, records
//! read, used and skipped, the format and the keys that told it). CSV keeps every
//! number exactly (Rust writes the shortest text that reads back to the same bits),
//! so reading the folder gives the dataset importing on the fly gives. Files are
//! written into a folder the caller stages (nothing half-written is left).

use super::log::{AttemptOut, Findings, RequestOut, Sink};
use super::{Format, OpenLog, mapping, warnings_of};
use crate::dataset::logged::{self, LoggedRow};
use crate::dataset::time::format_ts;
use anyhow::{Context, Result};
use std::path::Path;

/// The columns of `responses.csv`.
const RESPONSE_COLUMNS: [&str; 14] = [
    "request_id",
    "model",
    "sample",
    "status",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "latency_ms",
    "ttft_ms",
    "cost_usd",
    "served_model",
    "output",
];

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x}")
    }
}

struct FolderSink {
    requests: csv::Writer<std::io::BufWriter<std::fs::File>>,
    responses: csv::Writer<std::io::BufWriter<std::fs::File>>,
    logged: csv::Writer<std::io::BufWriter<std::fs::File>>,
    meta_keys: Vec<String>,
    with_propensity: bool,
    row: Vec<String>,
}

fn writer(dir: &Path, name: &str) -> Result<csv::Writer<std::io::BufWriter<std::fs::File>>> {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).with_context(|| format!("cannot write {}", p.display()))?;
    Ok(csv::Writer::from_writer(std::io::BufWriter::with_capacity(
        1 << 20,
        f,
    )))
}

impl Sink for FolderSink {
    fn meta_keys(&mut self, keys: &[String]) -> Result<()> {
        self.meta_keys = vec!["asked_model".to_string()];
        self.meta_keys
            .extend(keys.iter().filter(|k| *k != "asked_model").cloned());
        let mut h = vec![
            "id".to_string(),
            "ts".into(),
            "input".into(),
            "input_tokens".into(),
        ];
        h.extend(self.meta_keys.iter().map(|k| format!("meta.{k}")));
        self.requests.write_record(&h)?;
        self.responses.write_record(RESPONSE_COLUMNS)?;
        let mut lh: Vec<&str> = logged::COLUMNS.to_vec();
        lh.push(logged::PICKED);
        if self.with_propensity {
            lh.push(logged::PROPENSITY);
        }
        self.logged.write_record(&lh)?;
        Ok(())
    }

    fn request(&mut self, r: &RequestOut) -> Result<()> {
        self.row.clear();
        self.row.push(r.id.clone());
        self.row.push(r.ts_ms.map(format_ts).unwrap_or_default());
        self.row.push(r.input.clone().unwrap_or_default());
        self.row.push(opt(r.input_tokens));
        for k in &self.meta_keys {
            self.row.push(
                r.meta
                    .iter()
                    .find(|(m, _)| m == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            );
        }
        self.requests.write_record(&self.row)?;
        Ok(())
    }

    fn attempt(&mut self, id: &str, a: &AttemptOut) -> Result<()> {
        self.responses.write_record([
            id.to_string(),
            a.column.clone(),
            a.sample.to_string(),
            a.status.to_string(),
            opt(a.input_tokens),
            opt(a.output_tokens),
            opt(a.cached_tokens),
            opt(a.cache_write_tokens),
            opt(a.reasoning_tokens),
            opt(a.latency_ms.map(|l| l as f32)),
            if a.ttft_ms.is_nan() {
                String::new()
            } else {
                format!("{}", a.ttft_ms as f32)
            },
            num(a.cost_usd),
            opt(a.served.clone()),
            a.output.clone().unwrap_or_default(),
        ])?;
        Ok(())
    }

    fn logged(&mut self, id: &str, row: &LoggedRow) -> Result<()> {
        self.logged
            .write_record(logged::csv_record(id, row, self.with_propensity))?;
        Ok(())
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Write `open` into `dir` (an empty folder); returns what the log showed.
pub fn write(open: &mut OpenLog, dir: &Path, name: &str) -> Result<Findings> {
    let mut sink = FolderSink {
        requests: writer(dir, "requests.csv")?,
        responses: writer(dir, "responses.csv")?,
        logged: writer(dir, "logged.csv")?,
        meta_keys: Vec::new(),
        with_propensity: open.log.has_propensity(),
        row: Vec::new(),
    };
    let findings = open.log.emit(&mut sink)?;
    sink.requests.flush()?;
    sink.responses.flush()?;
    sink.logged.flush()?;
    drop(sink);
    let aliases = open.log.aliases();
    let warnings = warnings_of(&findings, open.format);
    let mut t = String::new();
    t.push_str(&format!("name = {}\n", toml_str(name)));
    t.push_str(&format!(
        "description = {}\n",
        toml_str(&format!(
            "{} imported by routesim {}",
            open.format.title(),
            env!("CARGO_PKG_VERSION")
        ))
    ));
    let sources: Vec<&str> = open.files.iter().map(|f| f.path.as_str()).collect();
    t.push_str(&format!("source = {}\n", toml_str(&sources.join(", "))));
    let mut notes = open.notes.clone();
    notes.extend(warnings.iter().cloned());
    t.push_str(&format!("notes = {}\n", toml_str(&notes.join("\n"))));
    t.push_str("requests = \"requests.csv\"\n");
    t.push_str("responses = [\"responses.csv\"]\n");
    t.push_str("logged = \"logged.csv\"\n");
    if !aliases.is_empty() {
        t.push_str("pricing = [\"pricing.toml\"]\n");
    }
    t.push_str("\n[import]\n");
    t.push_str(&format!("format = {}\n", toml_str(open.format.name())));
    if matches!(open.format, Format::LitellmSlp | Format::LitellmSpendLogs) {
        t.push_str(&format!(
            "model_key = {}\n",
            toml_str(open.opts.model_key.name())
        ));
    }
    if let Some(u) = open.opts.cost_unit {
        t.push_str(&format!("cost_unit = {}\n", toml_str(u.name())));
    }
    t.push_str(&format!(
        "files = [{}]\n",
        sources
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    t.push_str("\n[import.fields]\n");
    for (field, src, note) in mapping(open.format) {
        let v = if note.is_empty() {
            src.to_string()
        } else {
            format!("{src} ({note})")
        };
        t.push_str(&format!("{} = {}\n", toml_str(field), toml_str(&v)));
    }
    std::fs::write(dir.join("dataset.toml"), t)?;
    if !aliases.is_empty() {
        let mut p = String::from(
            "# The model columns of the log, priced as the provider model each called\n# (only needed for calls without a logged cost).\n[aliases]\n",
        );
        for (col, model) in &aliases {
            p.push_str(&format!("{} = {}\n", toml_str(col), toml_str(model)));
        }
        std::fs::write(dir.join("pricing.toml"), p)?;
    }
    let manifest = serde_json::json!({
        "routesim": env!("CARGO_PKG_VERSION"),
        "format": open.format.name(),
        "options": {
            "model_key": open.opts.model_key.name(),
            "cost_unit": open.opts.cost_unit.map(|u| u.name()),
            "format": open.opts.format.map(|f| f.name()),
        },
        "sources": open.files.iter().map(|f| serde_json::json!({
            "path": f.path,
            "sha256": f.sha256,
            "bytes": f.bytes,
            "format": f.format.name(),
            "matched_keys": f.matched,
            "records": f.records,
            "used": f.used,
            "skipped": f.skipped,
        })).collect::<Vec<_>>(),
        "requests": findings.requests,
        "attempts": findings.attempts,
        "cache_hits": findings.cache_hits,
        "final_status": findings.statuses,
        "warnings": warnings,
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok(findings)
}
