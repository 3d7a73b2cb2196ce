//! `manifest.json`: what produced a report — tool version, command line, input file
//! hashes, seed, options, and the price of every model with its source.

use crate::dataset::Dataset;
use crate::policy::Policy;
use crate::pricing::ModelPrice;
use crate::util::hash::sha256_file;
use serde_json::{Value, json};
use std::path::Path;

/// Options recorded in the manifest.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// Command line (arguments after the program name).
    pub command: Vec<String>,
    /// Seed.
    pub seed: u64,
    /// `--missing`.
    pub missing: String,
    /// `--arrival`.
    pub arrival: String,
    /// The arrival trace file, with `--arrival trace:FILE` (hashed in the manifest).
    pub arrival_trace: Option<std::path::PathBuf>,
    /// `--scenario` what-ifs applied to every policy.
    pub scenarios: Vec<String>,
    /// `--speedup`.
    pub speedup: f64,
    /// `--baseline`.
    pub baseline: Option<String>,
    /// `--by` keys.
    pub by: Vec<String>,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Date used for dated prices.
    pub pricing_date: String,
}

fn file_entry(p: &Path) -> Value {
    json!({
        "path": p.to_string_lossy(),
        "sha256": sha256_file(p).unwrap_or_else(|e| format!("unreadable: {e}")),
    })
}

/// Build the manifest.
pub fn build(
    info: &RunInfo,
    ds: &Dataset,
    policies: &[Policy],
    pricing_files: &[&Path],
    prices: &[ModelPrice],
) -> Value {
    let per_mtok = |x: f64| (x * 1e6 * 1e9).round() / 1e9;
    json!({
        "tool": "routesim",
        "version": env!("CARGO_PKG_VERSION"),
        "command": info.command,
        "seed": info.seed,
        "options": {
            "missing": info.missing,
            "arrival": info.arrival,
            "arrival_trace": info.arrival_trace.as_deref().map(file_entry),
            "scenarios": info.scenarios,
            "speedup": info.speedup,
            "baseline": info.baseline,
            "by": info.by,
            "bootstrap_resamples": info.bootstrap,
            "pricing_date": info.pricing_date,
        },
        "dataset": {
            "name": ds.info.name,
            "description": ds.info.description,
            "source": ds.info.source,
            "license": ds.info.license,
            "quality_scale": ds.info.quality_scale,
            "requests": ds.n_requests(),
            "models": ds.models,
            "files": ds.sources.iter().map(|s| json!({"path": s.path, "sha256": s.sha256})).collect::<Vec<_>>(),
            "warnings": ds.info.warnings,
        },
        "policies": policies.iter().map(|p| json!({
            "name": p.name,
            "kind": p.kind.label(),
            "baseline": p.kind.is_baseline().then(|| p.kind.tag()),
            "description": p.description,
            "file": if p.file.is_empty() { Value::Null } else { file_entry(Path::new(&p.file)) },
            "rules": p.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "stateful": p.is_stateful(),
        })).collect::<Vec<_>>(),
        "pricing": {
            "files": pricing_files.iter().map(|p| file_entry(p)).collect::<Vec<_>>(),
            "models": ds.models.iter().zip(prices).map(|(m, p)| json!({
                "model": m,
                "source": p.source,
                "input_per_mtok": per_mtok(p.input.base),
                "output_per_mtok": per_mtok(p.output.base),
                "cached_input_per_mtok": p.cache_read.as_ref().map(|r| per_mtok(r.base)),
                "tiers": !p.input.tiers.is_empty() || !p.output.tiers.is_empty(),
                "per_request_usd": p.per_request,
                "context_window": p.context_window,
            })).collect::<Vec<_>>(),
        },
    })
}

/// The report options as stored in the manifest.
pub fn report_options_json(o: &super::build::ReportOptions) -> Value {
    json!({
        "title": o.title,
        "seed": o.seed,
        "bootstrap": o.bootstrap,
        "baseline": o.baseline,
        "by": o.by,
        "has_timestamps": o.has_timestamps,
        "budgets": o.budgets.iter().map(|(p, l, h)| json!({"policy": p, "limit_usd": l, "period_hours": h})).collect::<Vec<_>>(),
        "policies": o.policies.iter().map(|p| json!({
            "name": p.name,
            "kind": p.kind.tag(),
            "model": p.kind.single_model(),
            "rules": p.rules,
            "description": p.description,
            "stateful": p.stateful,
        })).collect::<Vec<_>>(),
        "models": o.models,
        "notes": o.notes,
        "requests": o.n_requests,
        "routellm_pair": o.pair.as_ref().map(|(s, w)| json!({"strong": s, "weak": w})),
        "imputation": o.imputation.as_ref().map(imputation_json),
    })
}

/// The donor pools of a `--missing impute` run, as the manifest keeps them (so a
/// re-rendered report widens its intervals the same way).
fn imputation_json(m: &crate::sim::impute::ImputeModel) -> Value {
    let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    json!({
        "key": m.key,
        "min_support": m.min_support,
        "fallbacks": m.fallbacks,
        "pools": m.pools.iter().map(|p| json!({
            "model": p.model,
            "segment": p.segment,
            "donors": p.n,
            "answers": p.n_ok,
            "labelled": p.n_labelled,
            "quality_mean": num(p.quality_mean),
            "quality_var": num(p.quality_var),
        })).collect::<Vec<_>>(),
    })
}

/// Read [`imputation_json`] back (`None` when absent).
fn imputation_from_json(v: &Value) -> Option<crate::sim::impute::ImputeModel> {
    let pools = v["pools"].as_array()?;
    let num = |x: &Value| x.as_f64().unwrap_or(f64::NAN);
    Some(crate::sim::impute::ImputeModel {
        key: v["key"].as_str().map(String::from),
        min_support: v["min_support"].as_u64().unwrap_or(0),
        fallbacks: v["fallbacks"].as_u64().unwrap_or(0),
        pools: pools
            .iter()
            .map(|p| crate::sim::impute::PoolStats {
                model: p["model"].as_u64().unwrap_or(0) as u16,
                segment: p["segment"].as_str().map(String::from),
                n: p["donors"].as_u64().unwrap_or(0),
                n_ok: p["answers"].as_u64().unwrap_or(0),
                n_labelled: p["labelled"].as_u64().unwrap_or(0),
                quality_mean: num(&p["quality_mean"]),
                quality_var: num(&p["quality_var"]),
            })
            .collect(),
    })
}

/// Read report options back from the manifest.
pub fn report_options_from_json(v: &Value) -> super::build::ReportOptions {
    let strs = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    super::build::ReportOptions {
        title: v["title"].as_str().unwrap_or("report").to_string(),
        seed: v["seed"].as_u64().unwrap_or(7),
        bootstrap: v["bootstrap"].as_u64().unwrap_or(1000) as usize,
        baseline: v["baseline"].as_str().map(String::from),
        by: strs(&v["by"]),
        has_timestamps: v["has_timestamps"].as_bool().unwrap_or(false),
        budgets: v["budgets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| {
                        (
                            b["policy"].as_str().unwrap_or("").to_string(),
                            b["limit_usd"].as_f64().unwrap_or(0.0),
                            b["period_hours"].as_f64().unwrap_or(1.0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        policies: v["policies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| crate::sim::trace::PolicyInfo {
                        name: p["name"].as_str().unwrap_or("").to_string(),
                        kind: crate::policy::PolicyKind::from_tag(
                            p["kind"].as_str().unwrap_or("policy"),
                            p["model"].as_str(),
                        )
                        .unwrap_or(crate::policy::PolicyKind::User),
                        description: p["description"].as_str().unwrap_or("").to_string(),
                        rules: strs(&p["rules"]),
                        file: String::new(),
                        stateful: p["stateful"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        models: strs(&v["models"]),
        notes: strs(&v["notes"]),
        n_requests: v["requests"].as_u64().unwrap_or(0) as usize,
        pair: match (
            v["routellm_pair"]["strong"].as_str(),
            v["routellm_pair"]["weak"].as_str(),
        ) {
            (Some(s), Some(w)) => Some((s.to_string(), w.to_string())),
            _ => None,
        },
        imputation: imputation_from_json(&v["imputation"]),
    }
}
