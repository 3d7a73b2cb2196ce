//! Report folders: every output format rendered to bytes by its own writer, then
//! written by [`write`] into a staging folder that is renamed into place only when
//! complete (a failed run never leaves something that looks like a result).

pub mod build;
pub mod compare;
pub mod fmt;
pub mod html;
pub mod manifest;
pub mod markdown;
pub mod ope;
pub mod routellm;
pub mod tables;

use crate::analysis::frame;
use crate::analysis::table::RunContext;
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
    if let Some(r) = &a.routellm {
        staged.write("routellm.csv", &routellm::csv(r))?;
        staged.write("routellm.json", &routellm::json(r))?;
    }
    if let Some(o) = &a.offpolicy {
        staged.write("ope.csv", &ope::csv(o))?;
    }
    let charts = crate::plot::write_all(&staged.path("charts"), &a.charts)?;
    staged.write("report.md", markdown::render(a, &charts).as_bytes())?;
    staged.write("index.html", html::render(a, &charts).as_bytes())?;
    Ok(())
}

/// Write a report folder from a merged analysis (`routesim merge`): the tables, charts
/// and pages, and the manifest; no trace (the rows stayed with the shards).
pub fn write_merged(dir: &Path, a: &Analysis, manifest: &serde_json::Value) -> Result<PathBuf> {
    let staged = StagedDir::new(dir)?;
    write_files(&staged, a)?;
    let mut m = serde_json::to_vec_pretty(manifest)?;
    m.push(b'\n');
    staged.write("manifest.json", &m)?;
    staged.commit()
}

/// Write the report folder `dir` (replacing an existing one) for a run whose policies
/// come from `src`. Returns its path and the analysis shown in it.
pub fn write(
    dir: &Path,
    ctx: &RunContext,
    src: &dyn build::PolicySource,
    opts: &ReportOptions,
    manifest: &serde_json::Value,
) -> Result<(PathBuf, Analysis)> {
    let clock = crate::util::timing::Timings::start(1);
    let staged = StagedDir::new(dir)?;
    let trace = staged.path(frame::TRACE_DIR);
    std::fs::create_dir_all(&trace)?;
    let analysis = analyze(ctx, src, opts, Some(&trace))?;
    clock.lap("simulate, analyse and write the trace");
    finish(staged, ctx, analysis, manifest, &clock)
}

/// Write everything but the trace (already in `staged`) and commit the folder.
fn finish(
    staged: StagedDir,
    ctx: &RunContext,
    analysis: Analysis,
    manifest: &serde_json::Value,
    clock: &crate::util::timing::Timings,
) -> Result<(PathBuf, Analysis)> {
    let (requests, files) = rayon::join(
        || -> Result<()> {
            let mut requests = frame::requests_frame(&ctx.ids, &ctx.meta, &ctx.propensity)?;
            frame::write_parquet(&mut requests, &staged.path("requests.parquet"))
        },
        || write_files(&staged, &analysis),
    );
    requests?;
    files?;
    clock.lap("tables, charts and pages");
    let mut manifest = manifest.clone();
    manifest["report"] = manifest::report_options_json(&analysis.opts);
    manifest["trace"] = frame::dictionaries(ctx);
    let mut m = serde_json::to_vec_pretty(&manifest)?;
    m.push(b'\n');
    staged.write("manifest.json", &m)?;
    Ok((staged.commit()?, analysis))
}

/// A report folder's policies, read back from its trace folder one file at a time.
pub struct ReportSource {
    trace: PathBuf,
}

impl build::PolicySource for ReportSource {
    fn load(&self, ps: &[usize]) -> Result<Vec<crate::sim::PolicyTrace>> {
        use rayon::prelude::*;
        ps.par_iter()
            .map(|&p| {
                let (rows, arrivals) = frame::read_policy(&self.trace, p)
                    .with_context(|| format!("reading {}", self.trace.display()))?;
                Ok(crate::sim::PolicyTrace {
                    p,
                    rows,
                    attempts: Vec::new(),
                    arrivals: arrivals.into(),
                })
            })
            .collect()
    }
}

/// A report folder, opened: its manifest, report options, the run's context and the
/// source of its policies' rows.
pub struct OpenedReport {
    /// `manifest.json`.
    pub manifest: serde_json::Value,
    /// The report options it was written with.
    pub opts: ReportOptions,
    /// Names and request columns.
    pub ctx: RunContext<'static>,
    /// The rows, by policy.
    pub source: ReportSource,
}

/// Open a report folder written by `routesim run`.
pub fn open_report(dir: &Path) -> Result<OpenedReport> {
    let trace = dir.join(frame::TRACE_DIR);
    let mpath = dir.join("manifest.json");
    let rpath = dir.join("requests.parquet");
    if !trace.is_dir() || !mpath.is_file() || !rpath.is_file() {
        return Err(crate::error::InputError::file(
            dir,
            "not a report folder: expected trace/, requests.parquet and manifest.json",
        )
        .into());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&mpath)?).context("reading manifest.json")?;
    let opts = manifest::report_options_from_json(&manifest["report"]);
    let t = &manifest["trace"];
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (ids, meta, propensity) =
        frame::read_requests(&rpath).with_context(|| format!("reading {}", rpath.display()))?;
    let ctx = RunContext {
        policies: std::borrow::Cow::Owned(opts.policies.clone()),
        models: std::borrow::Cow::Owned(strs(&t["models"])),
        served_models: std::borrow::Cow::Owned(strs(&t["served_models"])),
        ids: std::borrow::Cow::Owned(ids),
        meta: std::borrow::Cow::Owned(meta),
        propensity: std::borrow::Cow::Owned(propensity),
    };
    Ok(OpenedReport {
        manifest,
        opts,
        ctx,
        source: ReportSource { trace },
    })
}

/// Re-render a report folder from its trace and `manifest.json`, optionally
/// with other segment keys or another baseline. Nothing is simulated.
pub fn rerender(
    dir: &Path,
    by: Option<Vec<String>>,
    baseline: Option<String>,
) -> Result<(PathBuf, Analysis)> {
    let OpenedReport {
        manifest,
        mut opts,
        ctx,
        source,
    } = open_report(dir)?;
    if let Some(b) = by {
        opts.by = b;
    }
    if baseline.is_some() {
        opts.baseline = baseline;
    }
    for key in &opts.by {
        let k = key.strip_prefix("meta.").unwrap_or(key);
        if !ctx.meta.iter().any(|m| m.name == k) {
            return Err(crate::error::InputError::file(
                "--by",
                format!("the report has no field \"{key}\""),
            )
            .into());
        }
    }
    if let Some(b) = &opts.baseline
        && ctx.policy_index(b).is_none()
    {
        return Err(crate::error::InputError::file(
            "--baseline",
            format!("the report has no policy named \"{b}\""),
        )
        .into());
    }
    let clock = crate::util::timing::Timings::start(1);
    let staged = StagedDir::new(dir)?;
    // The rows do not change: the trace is copied as it is.
    let copy = staged.path(frame::TRACE_DIR);
    std::fs::create_dir_all(&copy)?;
    for e in std::fs::read_dir(&source.trace)? {
        let e = e?;
        std::fs::copy(e.path(), copy.join(e.file_name()))?;
    }
    let analysis = analyze(&ctx, &source, &opts, None)?;
    clock.lap("analyse");
    finish(staged, &ctx, analysis, &manifest, &clock)
}
