//! `routesim import`: gateway log files → a dataset folder (staged, renamed into place
//! when complete), with progress on stderr and a one-paragraph summary on stdout.

use crate::dataset::importers::gateway::{
    self, CostUnit, Format, ImportOptions, ModelKey, folder, log::TextStore,
};
use crate::error::{Diagnostic, InputError, display_path};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Options of `routesim import`, as given.
#[derive(Debug, Clone, Default)]
pub struct ImportArgs {
    /// Log files (or folders of them).
    pub files: Vec<PathBuf>,
    /// Dataset folder to write (default `datasets/<first file's stem>`).
    pub out: Option<PathBuf>,
    /// `--format`.
    pub format: Option<String>,
    /// `--model-key`.
    pub model_key: Option<String>,
    /// `--cost-unit`.
    pub cost_unit: Option<String>,
    /// No progress.
    pub quiet: bool,
}

/// Files named on the command line: folders become their files (sorted).
pub fn log_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(a)
                .map_err(|e| InputError::file(a, format!("cannot read folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension().is_some_and(|x| {
                            ["jsonl", "json", "csv", "ndjson"]
                                .iter()
                                .any(|e| x.eq_ignore_ascii_case(e))
                        })
                })
                .collect();
            v.sort();
            if v.is_empty() {
                return Err(InputError::file(
                    a,
                    "no .jsonl, .json or .csv files in the folder",
                ));
            }
            out.extend(v);
        } else if a.is_file() {
            out.push(a.clone());
        } else {
            return Err(InputError::file(a, "no such file or folder"));
        }
    }
    Ok(out)
}

/// The import options from the flags; every bad flag reported together.
pub fn import_options(
    format: Option<&str>,
    model_key: Option<&str>,
    cost_unit: Option<&str>,
) -> Result<ImportOptions, InputError> {
    let mut diags = Vec::new();
    let mut o = ImportOptions::default();
    if let Some(f) = format {
        match Format::from_name(f) {
            Some(Format::OpenAiBatchInput) | None => {
                let names: Vec<&str> = Format::ALL
                    .iter()
                    .filter(|f| **f != Format::OpenAiBatchInput)
                    .map(|f| f.name())
                    .collect();
                diags.push(Diagnostic::file(
                    "--format",
                    format!(
                        "unknown format \"{f}\": expected one of {}",
                        names.join(", ")
                    ),
                ))
            }
            Some(f) => o.format = Some(f),
        }
    }
    if let Some(k) = model_key {
        match ModelKey::from_name(k) {
            Some(k) => o.model_key = k,
            None => diags.push(Diagnostic::file(
                "--model-key",
                format!("expected group, model or deployment, found \"{k}\""),
            )),
        }
    }
    if let Some(u) = cost_unit {
        match CostUnit::from_name(u) {
            Some(u) => o.cost_unit = Some(u),
            None => diags.push(Diagnostic::file(
                "--cost-unit",
                format!("expected usd, cents or nano, found \"{u}\""),
            )),
        }
    }
    if diags.is_empty() {
        Ok(o)
    } else {
        Err(InputError::new(diags))
    }
}

/// `routesim import`.
pub fn import(a: &ImportArgs) -> Result<()> {
    crate::util::progress::set_quiet(a.quiet);
    let opts = import_options(
        a.format.as_deref(),
        a.model_key.as_deref(),
        a.cost_unit.as_deref(),
    )?;
    let files = log_files(&a.files)?;
    let first = &files[0];
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "log".into());
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("datasets").join(&stem));
    if out.exists()
        && std::fs::read_dir(&out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(InputError::file(
            &out,
            "already exists and is not empty: choose another -o folder, or remove it",
        )
        .into());
    }
    let staged = crate::util::files::StagedDir::new(&out)?;
    let spill = staged.path(".texts.spill");
    let texts = TextStore::spill(&spill)
        .map_err(|e| InputError::file(&spill, format!("cannot create: {e}")))?;
    let t0 = std::time::Instant::now();
    let mut open = gateway::read(&files, &opts, texts)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(stem);
    let findings = folder::write(&mut open, &staged.path(""), &name);
    open.log.cleanup();
    let findings = findings?;
    let dir = staged.commit()?;
    let secs = t0.elapsed().as_secs_f64();
    let lines: u64 = open.files.iter().map(|f| f.records).sum();
    let statuses: Vec<String> = findings
        .statuses
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "imported {} ({}) from {} records of {} file{} in {:.1} s: {} requests ({}), {} attempts{}",
        display_path(&dir),
        open.format.title(),
        lines,
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        secs,
        findings.requests,
        statuses.join(", "),
        findings.attempts,
        if findings.cache_hits > 0 {
            format!(", {} cache hits", findings.cache_hits)
        } else {
            String::new()
        }
    );
    for w in gateway::warnings_of(&findings, open.format) {
        println!("note: {w}");
    }
    println!(
        "run it: routesim run -d {} -p POLICY.toml --baseline logged",
        display_path(&dir)
    );
    Ok(())
}
