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

use crate::util::files::StagedDir;
use anyhow::{Context, Result};
use build::{Analysis, ReportOptions, analyze};
use polars::prelude::DataFrame;
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

/// Write the report folder `dir` (replacing an existing one). Returns its path and the
/// analysis shown in it.
pub fn write(
    dir: &Path,
    frame: &mut DataFrame,
    opts: &ReportOptions,
    manifest: &serde_json::Value,
) -> Result<(PathBuf, Analysis)> {
    let clock = crate::util::timing::Timings::start(1);
    let analysis = analyze(frame, opts)?;
    clock.lap("analyse");
    let staged = StagedDir::new(dir)?;
    write_files(&staged, &analysis)?;
    clock.lap("tables, charts and pages");
    crate::analysis::frame::write_parquet(frame, &staged.path("trace.parquet"))?;
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
    let mut opts = manifest::report_options_from_json(&manifest["report"]);
    if let Some(b) = by {
        opts.by = b;
    }
    if baseline.is_some() {
        opts.baseline = baseline;
    }
    let mut frame = crate::analysis::frame::read_parquet(&trace)?;
    write(dir, &mut frame, &opts, &manifest)
}
