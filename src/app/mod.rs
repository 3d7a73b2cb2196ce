//! One short function per command: load inputs, call the library, print and write.
//! Options are plain structs (the binary converts its clap types into them);
//! `routesim run` resolves its options into a typed [`RunPlan`] first.

mod decide;
mod import;
mod import_config;
mod plan;
mod prices;
mod run;
mod shard;
pub mod tune;

pub use import_config::{
    ConfigGateway, ImportConfigOptions, columns_of, import_config, import_text,
};

pub use decide::{DiffOptions, ExplainOptions, SimInputs, diff_cmd, explain_cmd, json_text};

pub use import::{ImportArgs, import};

pub use plan::{MissingMode, RunOptions, RunPlan};
pub use prices::{PricesOptions, parse_price_as, prices};
pub use run::{Loaded, load_inputs, run};
pub use shard::ShardSpec;
pub use tune::{TuneOptions, tune};

/// `routesim merge`: combine the shards of a run into its report folder.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<()> {
    let dir = shard::merge(dirs, out)?;
    println!(
        "merged {} shards into {} (open index.html, or paste report.md)",
        dirs.len(),
        dir.display()
    );
    Ok(())
}

use crate::dataset::{self, LoadOptions};
use crate::error::{Diagnostic, InputError};
use crate::policy;
use crate::pricing::{PriceBook, today_days};
use crate::report;
use crate::sim::{self, SimOptions};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The repository root when run from a checkout (for `--example`).
fn find_root(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        return here;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if built.exists() { built } else { here }
}

/// Expand policy arguments: folders become their `*.toml` files (sorted).
pub fn policy_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(a)
                .map_err(|e| InputError::file(a, format!("cannot read folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            out.extend(v);
        } else if a.exists() {
            out.push(a.clone());
        } else {
            return Err(InputError::file(a, "no such policy file"));
        }
    }
    Ok(out)
}

/// `--missing live`: simulate, record the cells the policies needed but the dataset
/// lacks, and repeat (a recorded error can send a fallback to another missing cell)
/// until nothing is missing or three rounds have passed.
fn record_missing_live(plan: &RunPlan) -> Result<()> {
    let o = &plan.opts;
    let Some(providers) = &o.providers else {
        return Err(InputError::one(Diagnostic::file(
            "--missing live",
            "needs --providers providers.toml",
        ))
        .into());
    };
    for round in 1..=3 {
        let loaded = run::load_inputs(plan)?;
        let trace = run::simulate(plan, &loaded)?;
        let ds = &loaded.ds;
        let mut cells: Vec<(String, String)> = trace
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.covered())
            .map(|(i, r)| {
                (
                    ds.requests.ids[i % trace.n_requests].clone(),
                    trace.model_name(r.model).to_string(),
                )
            })
            .collect();
        cells.sort();
        cells.dedup();
        if cells.is_empty() {
            return Ok(());
        }
        let mut models: Vec<String> = cells.iter().map(|c| c.1.clone()).collect();
        models.sort();
        models.dedup();
        // A closed stdout (`| head`) must not stop the recording.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout(),
            "--missing live, round {round}: recording {} missing cells of {} models",
            cells.len(),
            models.len()
        );
        let r = crate::provider::recorder::record(&crate::provider::recorder::RecordOptions {
            dataset: plan.dataset.clone(),
            models,
            providers: providers.clone(),
            samples: 1,
            concurrency: 32,
            pricing: o.pricing.clone(),
            limit: o.limit,
            cells: Some(cells),
            ..Default::default()
        })?;
        print_record_report(&r, None);
        stopped_error(&r)?;
    }
    Ok(())
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "run".into() } else { s }
}

/// `routesim validate`.
pub fn validate(policies: &[PathBuf], dataset: Option<&Path>, example: bool) -> Result<()> {
    let mut args = policies.to_vec();
    if args.is_empty() && example {
        args.push(find_root("policies"));
    }
    let files = policy_files(&args)?;
    let pols = policy::load_all(&files)?;
    let (pols, diags) = policy::sweep::expand_all(pols, &[]);
    if !diags.is_empty() {
        return Err(InputError::new(diags).into());
    }
    let ds_path = dataset
        .map(Path::to_path_buf)
        .or_else(|| example.then(|| find_root("datasets/example")));
    if let Some(dp) = ds_path {
        let ds = dataset::load(&dp, &LoadOptions::default())?;
        // Binding needs prices only for estimates; use the dataset's own pricing when
        // it resolves, otherwise zero prices (validation does not report costs).
        let book = PriceBook::load(&ds.pricing_files, today_days())?;
        let prices = book.resolve(&ds.models).unwrap_or_else(|_| {
            ds.models
                .iter()
                .map(|_| crate::pricing::ModelPrice::per_mtok(0.0, 0.0, "validation"))
                .collect()
        });
        let bounds = sim::bind_all(&ds, &prices, &pols, &SimOptions::default())?;
        println!(
            "{} policies OK against {} ({} models)",
            pols.len(),
            ds.info.name,
            ds.n_models()
        );
        for (p, b) in pols.iter().zip(&bounds) {
            let usage = crate::decision::rules::rule_usage(p, b, &ds);
            print_policy_line(p);
            let findings = crate::decision::rules::all_findings(p, Some((&usage, &ds.info.name)));
            for f in findings {
                println!("    {}", f.message);
            }
        }
    } else {
        println!("{} policies OK", pols.len());
        for p in &pols {
            print_policy_line(p);
            for f in crate::decision::rules::all_findings(p, None) {
                println!("    {}", f.message);
            }
        }
    }
    Ok(())
}

/// `validate`'s line for a policy.
fn print_policy_line(p: &policy::Policy) {
    println!(
        "  {} ({}): {} rules{}",
        p.name,
        p.file,
        p.rules.len(),
        if p.is_stateful() { ", stateful" } else { "" }
    );
}

/// Options of `routesim synth`.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Requests.
    pub requests: usize,
    /// Models.
    pub models: usize,
    /// Seed.
    pub seed: u64,
    /// Calibration data folder (default ../shared/data when present).
    pub calibration: Option<PathBuf>,
    /// Parquet responses.
    pub parquet: bool,
}

/// `routesim synth`.
pub fn synth(o: &SynthOptions) -> Result<()> {
    if o.requests == 0 {
        return Err(InputError::one(Diagnostic::file("--requests", "expected at least 1")).into());
    }
    let shared = o.calibration.clone().or_else(|| {
        let p = find_root("../shared/data");
        p.is_dir().then_some(p)
    });
    let cal = crate::synth::calibrate(shared.as_deref());
    let cfg = crate::synth::SynthConfig::new(o.requests, o.models, o.seed);
    crate::synth::write(&cfg, &cal, &o.out, o.parquet)?;
    println!(
        "wrote {} requests × {} models to {}",
        cfg.requests,
        cfg.models,
        o.out.display()
    );
    for s in &cal.sources {
        println!("  {s}");
    }
    Ok(())
}

/// `routesim report DIR`: re-render a report folder from its trace (no simulation).
pub fn report_dir(dir: &Path, by: &[String], baseline: Option<&str>) -> Result<()> {
    let by = (!by.is_empty()).then(|| by.iter().map(|k| crate::dataset::meta_key(k)).collect());
    let (written, analysis) = report::rerender(dir, by, baseline.map(String::from))?;
    print!("{}", report::tables::terminal_table(&analysis.summaries));
    println!("report re-rendered in {}", written.display());
    Ok(())
}

/// `routesim compare A B` (`json`: print the deltas as JSON instead of Markdown).
pub fn compare(a: &Path, b: &Path, out: Option<&Path>, json: bool) -> Result<()> {
    let deltas = report::compare::compare(a, b, 1000, 7)?;
    let md = report::compare::markdown(a, b, &deltas);
    if let Some(dir) = out {
        let staged = crate::util::files::StagedDir::new(dir)?;
        staged.write("compare.md", md.as_bytes())?;
        staged.write("compare.html", report::compare::html(&md).as_bytes())?;
        let p = staged.commit()?;
        if !json {
            println!("comparison written to {}", p.display());
        }
    } else if !json {
        print!("{md}");
    }
    if json {
        print!("{}", json_text(&report::compare::json(a, b, &deltas)));
    }
    Ok(())
}

/// `routesim record`: fill missing cells from live providers. A run stopped by a
/// call without an answer prints what it did, then fails (exit 2) naming the
/// provider, model and error.
pub fn record(o: &crate::provider::recorder::RecordOptions) -> Result<()> {
    if o.models.is_empty() {
        return Err(InputError::one(Diagnostic::file(
            "--models",
            "name the models to record (e.g. --models openai/gpt-4o)",
        ))
        .into());
    }
    let r = crate::provider::recorder::record(o)?;
    print_record_report(&r, o.max_spend);
    stopped_error(&r)
}

/// The error of a run that stopped early, if it did.
fn stopped_error(r: &crate::provider::recorder::RecordReport) -> Result<()> {
    match &r.stopped {
        None => Ok(()),
        Some(s) => {
            let missing = r.planned.saturating_sub(r.recorded);
            anyhow::bail!(
                "recording stopped: {s}\nthe failed call stored nothing; every answer received is stored ({} this run); run the same command again to record the {missing} cells still missing",
                r.recorded
            )
        }
    }
}

/// Print what a recording did. Written whole and a closed stdout ignored (`| head`),
/// so a run that stopped still exits 2.
fn print_record_report(r: &crate::provider::recorder::RecordReport, cap: Option<f64>) {
    use std::fmt::Write as _;
    let mut out = String::new();
    if !r.preflight.is_empty() {
        let checked: Vec<String> = r
            .preflight
            .iter()
            .map(|c| {
                let served = c
                    .served
                    .as_ref()
                    .map(|s| format!(", served by {s}"))
                    .unwrap_or_default();
                format!("{} {}{served} ({:.0} ms)", c.model, c.status, c.latency_ms)
            })
            .collect();
        let _ = writeln!(out, "preflight: {}", checked.join("; "));
    }
    let statuses: Vec<String> = r.statuses.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "recorded {} of {} planned cells ({} already recorded) in {:.1} s: {:.0} calls/s; statuses: {}",
        r.recorded,
        r.planned,
        r.already,
        r.elapsed_s,
        r.calls as f64 / r.elapsed_s.max(1e-9),
        if statuses.is_empty() {
            "none".into()
        } else {
            statuses.join(", ")
        }
    );
    let mut parts = Vec::new();
    if r.judged > 0 {
        parts.push(format!(
            "judge ${:.6} for {} verdicts",
            r.judge_spend_usd, r.judged
        ));
    }
    if r.preflight_spend_usd > 0.0 {
        parts.push(format!("preflight ${:.6}", r.preflight_spend_usd));
    }
    if let Some(c) = cap {
        parts.push(format!("cap ${c}"));
    }
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    let _ = writeln!(out, "spend: ${:.6}{detail}", r.spend_usd);
    if r.skipped_by_cap > 0 {
        let _ = writeln!(
            out,
            "stopped before the spend cap: {} cells not recorded",
            r.skipped_by_cap
        );
    }
    if r.recorded > 0 && !r.concurrency.is_empty() {
        let c: Vec<String> = r
            .concurrency
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "note: calls in flight per provider: {} (stored with each cell: a gateway queues calls, so recorded latency depends on it)",
            c.join(", ")
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if let Some((p50, p99)) = r.overhead_ms {
        let _ = writeln!(
            out,
            "client overhead (latency minus server time): p50 {p50:.2} ms, p99 {p99:.2} ms"
        );
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
}

/// `routesim mock-server`.
pub fn mock_server(port: u16, latency_ms: u64) -> Result<()> {
    crate::provider::mock::run_forever(
        port,
        crate::provider::mock::MockConfig {
            latency_ms,
            ..Default::default()
        },
    )?;
    Ok(())
}
