//! Report folders: every output format rendered to bytes by its own writer, then
//! written by [`write`] into a staging folder that is renamed into place only when
//! complete (a failed run never leaves something that looks like a result).

pub mod build;
pub mod compare;
pub mod fmt;
pub mod html;
pub mod manifest;
pub mod markdown;
pub mod tables;

use crate::analysis::RunTable;
use crate::util::files::StagedDir;
use anyhow::{Context, Result};
use build::{Analysis, ReportOptions, analyze};
use std::path::{Path, PathBuf};

/// Write the report files of an analysis into a staging folder.
fn write_files(staged: &StagedDir, a: &Analysis) -> Result<()> {
    staged.write("summary.csv", &tables::summary_csv(&a.summaries))?;
    staged.write("summary.json", &tables::summary_json(&a.summaries))?;
    if !a.segments.is_empty() {
        staged.write("segments.csv", &tables::segments_csv(&a.segments))?;
    }
    let charts = crate::plot::write_all(&staged.path("charts"), &a.charts)?;
    staged.write("report.md", markdown::render(a, &charts).as_bytes())?;
    staged.write("index.html", html::render(a, &charts).as_bytes())?;
    Ok(())
}

/// Write the report folder `dir` (replacing an existing one) for a run's rows.
/// Returns its path and the analysis shown in it.
pub fn write(
    dir: &Path,
    table: &RunTable,
    opts: &ReportOptions,
    manifest: &serde_json::Value,
) -> Result<(PathBuf, Analysis)> {
    let clock = crate::util::timing::Timings::start(1);
    let analysis = analyze(table, opts)?;
    clock.lap("analyse");
    let staged = StagedDir::new(dir)?;
    write_files(&staged, &analysis)?;
    clock.lap("tables, charts and pages");
    let mut frame = crate::analysis::frame::trace_frame(&table.trace, &table.ids, &table.meta)
        .context("building the trace table")?;
    crate::analysis::frame::write_parquet(&mut frame, &staged.path("trace.parquet"))?;
    clock.lap("trace.parquet");
    let mut manifest = manifest.clone();
    manifest["report"] = manifest::report_options_json(&analysis.opts);
    let mut m = serde_json::to_vec_pretty(&manifest)?;
    m.push(b'\n');
    staged.write("manifest.json", &m)?;
    Ok((staged.commit()?, analysis))
}

/// Re-render a report folder from its `trace.parquet` and `manifest.json`, optionally
/// with other segment keys or another baseline. Nothing is simulated.
pub fn rerender(
    dir: &Path,
    by: Option<Vec<String>>,
    baseline: Option<String>,
) -> Result<(PathBuf, Analysis)> {
    let (table, manifest, mut opts) = read_report(dir)?;
    if let Some(b) = by {
        opts.by = b;
    }
    if baseline.is_some() {
        opts.baseline = baseline;
    }
    for key in &opts.by {
        let k = key.strip_prefix("meta.").unwrap_or(key);
        if !table.meta.iter().any(|m| m.name == k) {
            return Err(crate::error::InputError::file(
                "--by",
                format!("the report has no field \"{key}\""),
            )
            .into());
        }
    }
    if let Some(b) = &opts.baseline
        && table.policy_index(b).is_none()
    {
        return Err(crate::error::InputError::file(
            "--baseline",
            format!("the report has no policy named \"{b}\""),
        )
        .into());
    }
    write(dir, &table, &opts, &manifest)
}

/// A report folder's rows, manifest and report options.
pub fn read_report(dir: &Path) -> Result<(RunTable<'static>, serde_json::Value, ReportOptions)> {
    let trace = dir.join("trace.parquet");
    let mpath = dir.join("manifest.json");
    if !trace.is_file() || !mpath.is_file() {
        return Err(crate::error::InputError::file(
            dir,
            "not a report folder: expected trace.parquet and manifest.json",
        )
        .into());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&mpath)?).context("reading manifest.json")?;
    let opts = manifest::report_options_from_json(&manifest["report"]);
    let frame = crate::analysis::frame::read_parquet(&trace)?;
    let table = crate::analysis::frame::read_table(&frame, &opts.policies, &opts.models)
        .with_context(|| format!("reading {}", trace.display()))?;
    Ok((table, manifest, opts))
}
