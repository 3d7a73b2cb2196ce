//! Report folders: every output format rendered to bytes by its own writer, then
//! written by [`write`] into a staging folder that is renamed into place only when
//! complete (a failed run never leaves something that looks like a result).

pub mod fmt;
pub mod manifest;
pub mod tables;

use crate::analysis::{PolicySummary, SegmentSummary};
use crate::util::files::StagedDir;
use anyhow::Result;
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};

/// Everything a report folder is made from.
pub struct ReportInput {
    /// Per-policy summaries.
    pub summaries: Vec<PolicySummary>,
    /// Per-segment summaries (empty without `--by`).
    pub segments: Vec<SegmentSummary>,
    /// The trace frame (written as `trace.parquet`).
    pub frame: DataFrame,
    /// `manifest.json` contents.
    pub manifest: serde_json::Value,
}

/// Write the report folder `dir` (replacing an existing one). Returns its path.
pub fn write(dir: &Path, input: &mut ReportInput) -> Result<PathBuf> {
    let staged = StagedDir::new(dir)?;
    staged.write("summary.csv", &tables::summary_csv(&input.summaries))?;
    staged.write("summary.json", &tables::summary_json(&input.summaries))?;
    if !input.segments.is_empty() {
        staged.write("segments.csv", &tables::segments_csv(&input.segments))?;
    }
    crate::analysis::frame::write_parquet(&mut input.frame, &staged.path("trace.parquet"))?;
    let mut m = serde_json::to_vec_pretty(&input.manifest)?;
    m.push(b'\n');
    staged.write("manifest.json", &m)?;
    staged.commit()
}
