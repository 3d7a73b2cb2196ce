//! One short function per command: load inputs, call the library, print and write.
//! Options are plain structs (the binary converts its clap types into them).

use crate::analysis;
use crate::dataset::{self, Dataset, LoadOptions};
use crate::error::{Diagnostic, InputError};
use crate::policy::{self, Policy, baselines::baselines};
use crate::pricing::{PriceBook, today_days};
use crate::report::{self, manifest::RunInfo};
use crate::sim::{self, Arrival, SimError, SimOptions, engine::Missing};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Options of `routesim run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Use the shipped example.
    pub example: bool,
    /// Dataset path.
    pub dataset: Option<PathBuf>,
    /// Policy files or folders.
    pub policies: Vec<PathBuf>,
    /// Extra pricing files.
    pub pricing: Vec<PathBuf>,
    /// Report folder.
    pub out: Option<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// `skip`, `fail` or `impute`.
    pub missing: String,
    /// Baseline policy for paired comparisons.
    pub baseline: Option<String>,
    /// Segment keys.
    pub by: Vec<String>,
    /// Skip automatic baselines.
    pub no_baselines: bool,
    /// Arrival model.
    pub arrival: String,
    /// `--scenario` what-ifs (TOML bodies), applied to every policy.
    pub scenarios: Vec<String>,
    /// Speed-up factor.
    pub speedup: f64,
    /// Threads.
    pub threads: Option<usize>,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Pricing date (YYYY-MM-DD).
    pub pricing_date: Option<String>,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Command line, for the manifest.
    pub command: Vec<String>,
    /// providers.toml for `--missing live`.
    pub providers: Option<PathBuf>,
    /// Accept unknown costs for models without a price (quality-only benchmarks).
    pub unpriced: bool,
}

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

fn parse_missing(s: &str) -> Result<Missing, InputError> {
    match s {
        "skip" | "live" => Ok(Missing::Skip),
        "fail" => Ok(Missing::Fail),
        "impute" => Ok(Missing::Impute),
        other => Err(InputError::one(Diagnostic::file(
            "--missing",
            format!("expected skip, fail, impute or live, found \"{other}\""),
        ))),
    }
}

fn pricing_days(date: &Option<String>) -> Result<i64, InputError> {
    match date {
        None => Ok(today_days()),
        Some(d) => dataset::time::parse_ts_ms(d)
            .map(|ms| ms.div_euclid(86_400_000))
            .ok_or_else(|| {
                InputError::one(Diagnostic::file(
                    "--pricing-date",
                    format!("expected YYYY-MM-DD, found \"{d}\""),
                ))
            }),
    }
}

/// Everything a run loads before simulating.
pub struct Loaded {
    /// Dataset.
    pub ds: Dataset,
    /// Policies (user policies, then baselines).
    pub policies: Vec<Policy>,
    /// Price per dataset model.
    pub prices: Vec<crate::pricing::ModelPrice>,
    /// The book (for the manifest).
    pub book: PriceBook,
    /// Models whose costs are unknown (`--unpriced`).
    pub unpriced: Vec<String>,
}

/// Load dataset, pricing and policies; every input problem becomes an [`InputError`].
pub fn load_inputs(o: &RunOptions) -> Result<Loaded> {
    let ds_path = match (&o.dataset, o.example) {
        (Some(p), _) => p.clone(),
        (None, true) => find_root("datasets/example"),
        (None, false) => {
            return Err(InputError::one(Diagnostic::file(
                "routesim run",
                "no dataset: pass -d DATASET or --example",
            ))
            .into());
        }
    };
    let mut policy_args = o.policies.clone();
    if policy_args.is_empty() && o.example {
        policy_args.push(find_root("policies"));
    }
    // Collect input errors from every source before giving up.
    let mut diags = Vec::new();
    let ds = match dataset::load(&ds_path, &LoadOptions { limit: o.limit }) {
        Ok(d) => Some(d),
        Err(e) => {
            diags.extend(e.diagnostics);
            None
        }
    };
    let mut policies = match policy_files(&policy_args) {
        Ok(files) => {
            let (p, d) = policy::load_all_partial(&files);
            diags.extend(d);
            p
        }
        Err(e) => {
            diags.extend(e.diagnostics);
            Vec::new()
        }
    };
    let Some(ds) = ds else {
        return Err(InputError::new(diags).into());
    };
    let cli_scenarios = cli_scenarios(&o.scenarios, &ds, o.arrival == "recorded", &mut diags);
    let mut files = ds.pricing_files.clone();
    files.extend(o.pricing.iter().cloned());
    let book = match pricing_days(&o.pricing_date).and_then(|d| PriceBook::load(&files, d)) {
        Ok(b) => b,
        Err(e) => {
            diags.extend(e.diagnostics);
            return Err(InputError::new(diags).into());
        }
    };
    let (prices, unpriced) = match book.resolve_needed(&ds.models, &ds.needs_price(), o.unpriced) {
        Ok(p) => p,
        Err(e) => {
            diags.extend(e.diagnostics);
            (Vec::new(), Vec::new())
        }
    };
    let baseline_policies = if o.no_baselines {
        Vec::new()
    } else {
        baselines(&ds.models)
    };
    diags.extend(crate::policy::baselines::name_clashes(
        &policies,
        &baseline_policies,
    ));
    if !diags.is_empty() {
        // Bind the policies that did parse too, so one run reports every problem.
        if prices.len() == ds.n_models()
            && let Err(e) = sim::bind_all(
                &ds,
                &prices,
                &policies,
                &SimOptions {
                    seed: o.seed,
                    ..SimOptions::default()
                },
            )
        {
            diags.extend(e.diagnostics);
        }
        return Err(InputError::new(diags).into());
    }
    policies.extend(baseline_policies);
    for p in &mut policies {
        p.scenarios.extend(cli_scenarios.iter().cloned());
    }
    if policies.is_empty() {
        return Err(InputError::one(Diagnostic::file(
            "routesim run",
            "no policies: pass -p POLICY.toml (or drop --no-baselines)",
        ))
        .into());
    }
    Ok(Loaded {
        ds,
        policies,
        prices,
        book,
        unpriced,
    })
}

/// Parse the `--scenario` what-ifs and check them against the dataset and the arrival
/// model here, where their text is known: they apply to every policy, so a model must
/// be a dataset model (not a policy alias), and an outage given as timestamps needs
/// the dataset's timestamps as the clock. Binding then finds nothing wrong with them.
fn cli_scenarios(
    texts: &[String],
    ds: &dataset::Dataset,
    recorded_clock: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<crate::policy::gateway::Scenario> {
    use crate::policy::gateway::{Scenario, parse_cli_scenario};
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let label = format!("--scenario {}", i + 1);
        match parse_cli_scenario(&label, text) {
            Ok(s) => {
                let model = match &s {
                    Scenario::Outage { model, .. }
                    | Scenario::Latency { model, .. }
                    | Scenario::Price { model, .. } => Some(model),
                    Scenario::Traffic { .. } => None,
                };
                match model {
                    Some(m) if ds.model_id(&m.name).is_none() => {
                        diags.push(Diagnostic::at_offset(
                            &label,
                            text,
                            m.span.start,
                            format!(
                                "unknown model \"{}\": expected a dataset model ({})",
                                m.name,
                                ds.models.join(", ")
                            ),
                        ));
                    }
                    Some(m)
                        if matches!(
                            s,
                            Scenario::Outage {
                                relative: false,
                                ..
                            }
                        ) && !(recorded_clock && ds.requests.has_timestamps()) =>
                    {
                        diags.push(Diagnostic::at_offset(
                            &label,
                            text,
                            m.span.start,
                            "an outage given as timestamps needs request timestamps and --arrival recorded; use offsets in seconds (from = 600, to = 1200)",
                        ));
                    }
                    _ => out.push(s),
                }
            }
            Err(e) => diags.extend(e.diagnostics),
        }
    }
    out
}

/// `routesim run`.
pub fn run(o: &RunOptions) -> Result<()> {
    if let Some(n) = o.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
    let missing = parse_missing(&o.missing)?;
    let arrival = Arrival::parse(&o.arrival)?;
    if !(o.speedup > 0.0 && o.speedup.is_finite()) {
        return Err(
            InputError::one(Diagnostic::file("--speedup", "expected a positive number")).into(),
        );
    }
    if o.missing == "live" {
        record_missing_live(o, &opts_for(o, missing, arrival.clone()))?;
    }
    let clock = crate::util::timing::Timings::start(0);
    let loaded = load_inputs(o)?;
    clock.lap("load dataset, pricing and policies");
    let Loaded {
        ds,
        policies,
        prices,
        book,
        unpriced,
    } = &loaded;
    if let Some(b) = &o.baseline
        && !policies.iter().any(|p| &p.name == b)
    {
        let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
        return Err(InputError::one(Diagnostic::file(
            "--baseline",
            format!("no policy named \"{b}\"; policies: {}", names.join(", ")),
        ))
        .into());
    }
    for key in &o.by {
        let k = key.strip_prefix("meta.").unwrap_or(key);
        if ds.requests.meta_index(k).is_none() {
            let names: Vec<String> = ds
                .requests
                .meta
                .iter()
                .map(|m| format!("meta.{}", m.name))
                .collect();
            return Err(InputError::one(Diagnostic::file(
                "--by",
                format!(
                    "the dataset has no field \"{key}\"; fields: {}",
                    names.join(", ")
                ),
            ))
            .into());
        }
    }
    let opts = opts_for(o, missing, arrival.clone());
    let trace = match sim::run(ds, prices, policies, &opts) {
        Ok(t) => t,
        Err(SimError::Input(e)) => return Err(e.into()),
        Err(SimError::Missing(m)) => {
            return Err(InputError::one(Diagnostic::file(
                &ds.info.name,
                format!(
                    "policy \"{}\" sent request \"{}\" to model \"{}\", which has no recorded response; use --missing skip or --missing impute",
                    m.policy, ds.requests.ids[m.request], ds.models[m.model as usize]
                ),
            ))
            .into());
        }
        Err(SimError::Internal(m)) => anyhow::bail!("internal error (please report): {m}"),
    };
    clock.lap("simulate");
    let table = analysis::RunTable::of_run(&trace, ds);
    let mut by: Vec<String> =
        o.by.iter()
            .map(|k| {
                if k.starts_with("meta.") {
                    k.clone()
                } else {
                    format!("meta.{k}")
                }
            })
            .collect();
    if by.is_empty() && o.example {
        by.push("meta.task".into());
    }
    let info = RunInfo {
        command: o.command.clone(),
        seed: o.seed,
        missing: o.missing.clone(),
        arrival: o.arrival.clone(),
        arrival_trace: arrival.trace_file().map(|p| p.to_path_buf()),
        scenarios: o.scenarios.clone(),
        speedup: o.speedup,
        baseline: o.baseline.clone(),
        by: by.clone(),
        bootstrap: o.bootstrap,
        pricing_date: match &o.pricing_date {
            Some(d) => d.clone(),
            None => dataset::time::format_ts(book.as_of_days * 86_400_000)[..10].to_string(),
        },
    };
    let manifest = report::manifest::build(&info, ds, policies, &book.files(), prices);
    let ropts = report::build::ReportOptions {
        title: ds.info.name.clone(),
        seed: o.seed,
        bootstrap: o.bootstrap,
        baseline: o.baseline.clone(),
        by,
        has_timestamps: ds.requests.has_timestamps() || arrival.trace_file().is_some(),
        budgets: policies
            .iter()
            .flat_map(|p| {
                p.gateway
                    .budgets
                    .iter()
                    .filter(|b| b.per.is_none())
                    .map(|b| (p.name.clone(), b.limit_usd, b.period_s / 3600.0))
                    .collect::<Vec<_>>()
            })
            .collect(),
        policies: trace.policies.clone(),
        models: ds.models.clone(),
        notes: ds
            .info
            .warnings
            .iter()
            .cloned()
            .chain((!unpriced.is_empty()).then(|| {
                format!(
                    "no price for {} (--unpriced): every cost that involves them is unknown, not $0",
                    unpriced.join(", ")
                )
            }))
            .collect(),
        n_requests: ds.n_requests(),
    };
    let out = o.out.clone().unwrap_or_else(|| {
        let name = if o.example {
            "example".to_string()
        } else {
            sanitize(&ds.info.name)
        };
        find_root("reports").join(name)
    });
    let (written, analysis) = report::write(&out, &table, &ropts, &manifest)?;
    clock.lap("analyse and write the report");

    println!(
        "routesim: {} requests × {} policies ({} models) from {}",
        ds.n_requests(),
        policies.len(),
        ds.n_models(),
        ds.info.name
    );
    for w in &ropts.notes {
        println!("note: {w}");
    }
    println!();
    print!("{}", report::tables::terminal_table(&analysis.summaries));
    if !analysis.comparisons.is_empty() {
        println!();
        for c in &analysis.comparisons {
            println!(
                "{}",
                report::markdown::headline(&analysis, c).replace("**", "")
            );
        }
    }
    println!();
    println!(
        "report written to {} (open index.html, or paste report.md)",
        written.display()
    );
    Ok(())
}

fn opts_for(o: &RunOptions, missing: Missing, arrival: Arrival) -> SimOptions {
    SimOptions {
        seed: o.seed,
        missing,
        arrival,
        speedup: o.speedup,
        ..SimOptions::default()
    }
}

/// `--missing live`: simulate, record the cells the policies needed but the dataset
/// lacks, and repeat (a recorded error can send a fallback to another missing cell)
/// until nothing is missing or three rounds have passed.
fn record_missing_live(o: &RunOptions, opts: &SimOptions) -> Result<()> {
    let Some(providers) = &o.providers else {
        return Err(InputError::one(Diagnostic::file(
            "--missing live",
            "needs --providers providers.toml",
        ))
        .into());
    };
    let Some(dir) = o
        .dataset
        .clone()
        .or_else(|| o.example.then(|| find_root("datasets/example")))
    else {
        return Err(InputError::one(Diagnostic::file(
            "--missing live",
            "needs -d DATASET (a folder)",
        ))
        .into());
    };
    for round in 1..=3 {
        let Loaded {
            ds,
            policies,
            prices,
            ..
        } = load_inputs(o)?;
        let trace = match sim::run(&ds, &prices, &policies, opts) {
            Ok(t) => t,
            Err(SimError::Input(e)) => return Err(e.into()),
            Err(SimError::Missing(_)) => anyhow::bail!("live mode simulates with --missing skip"),
            Err(SimError::Internal(m)) => anyhow::bail!("internal error (please report): {m}"),
        };
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
        println!(
            "--missing live, round {round}: recording {} missing cells of {} models",
            cells.len(),
            models.len()
        );
        let r = crate::provider::recorder::record(&crate::provider::recorder::RecordOptions {
            dataset: dir.clone(),
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
        sim::bind_all(&ds, &prices, &pols, &SimOptions::default())?;
        println!(
            "{} policies OK against {} ({} models)",
            pols.len(),
            ds.info.name,
            ds.n_models()
        );
    } else {
        println!("{} policies OK", pols.len());
    }
    for p in &pols {
        println!(
            "  {} ({}): {} rules{}",
            p.name,
            p.file,
            p.rules.len(),
            if p.is_stateful() { ", stateful" } else { "" }
        );
    }
    Ok(())
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
    let ds = crate::synth::generate(&cfg, &cal);
    crate::synth::write(&ds, &cfg, &cal, &o.out, o.parquet)?;
    println!(
        "wrote {} requests × {} models to {}",
        ds.n_requests(),
        ds.n_models(),
        o.out.display()
    );
    for s in &cal.sources {
        println!("  {s}");
    }
    Ok(())
}

/// `routesim report DIR`: re-render a report folder from its trace (no simulation).
pub fn report_dir(dir: &Path, by: &[String], baseline: Option<&str>) -> Result<()> {
    let by = (!by.is_empty()).then(|| {
        by.iter()
            .map(|k| {
                if k.starts_with("meta.") {
                    k.clone()
                } else {
                    format!("meta.{k}")
                }
            })
            .collect()
    });
    let (written, analysis) = report::rerender(dir, by, baseline.map(String::from))?;
    print!("{}", report::tables::terminal_table(&analysis.summaries));
    println!("report re-rendered in {}", written.display());
    Ok(())
}

/// `routesim compare A B`.
pub fn compare(a: &Path, b: &Path, out: Option<&Path>) -> Result<()> {
    let deltas = report::compare::compare(a, b, 1000, 7)?;
    let md = report::compare::markdown(a, b, &deltas);
    match out {
        Some(dir) => {
            let staged = crate::util::files::StagedDir::new(dir)?;
            staged.write("compare.md", md.as_bytes())?;
            staged.write("compare.html", report::compare::html(&md).as_bytes())?;
            let p = staged.commit()?;
            println!("comparison written to {}", p.display());
        }
        None => print!("{md}"),
    }
    Ok(())
}

/// `routesim record`: fill missing cells from live providers.
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
    Ok(())
}

fn print_record_report(r: &crate::provider::recorder::RecordReport, cap: Option<f64>) {
    let statuses: Vec<String> = r.statuses.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
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
    println!(
        "spend: ${:.6}{}{}",
        r.spend_usd,
        if r.judged > 0 {
            format!(
                " (judge ${:.6} for {} verdicts)",
                r.judge_spend_usd, r.judged
            )
        } else {
            String::new()
        },
        cap.map(|c| format!(" (cap ${c})")).unwrap_or_default()
    );
    if r.skipped_by_cap > 0 {
        println!(
            "stopped before the spend cap: {} cells not recorded",
            r.skipped_by_cap
        );
    }
    if let Some((p50, p99)) = r.overhead_ms {
        println!("client overhead (latency minus server time): p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
}

/// `routesim mock-server`.
pub fn mock_server(port: u16, latency_ms: u64) -> Result<()> {
    crate::provider::mock::run_forever(
        port,
        crate::provider::mock::MockConfig {
            latency_ms,
            stall_after: None,
        },
    )?;
    Ok(())
}
