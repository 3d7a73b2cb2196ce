//! `routesim run`: load → simulate → report → print, each step one function.

use super::plan::{MissingMode, RunPlan};
use super::{find_root, policy_files, sanitize};
use crate::analysis::RunContext;
use crate::dataset::{self, Dataset, LoadOptions};
use crate::error::{Diagnostic, InputError};
use crate::policy::gateway::{Scenario, parse_cli_scenario};
use crate::policy::{self, Policy, baselines};
use crate::pricing::{ModelPrice, PriceBook, PriceMatch};
use crate::report::build::{Analysis, PolicySource, ReportOptions, analyze};
use crate::report::{self, manifest::RunInfo};
use crate::sim::{self, SimError, trace::Trace};
use anyhow::Result;
use std::path::PathBuf;

/// `routesim run`.
pub fn run(o: &super::RunOptions) -> Result<()> {
    let plan = RunPlan::resolve(o)?;
    crate::util::progress::set_quiet(o.quiet);
    if let Some(n) = o.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
    if o.missing == MissingMode::Live {
        super::record_missing_live(&plan)?;
    }
    let clock = crate::util::timing::Timings::start(0);
    let loaded = load_inputs(&plan)?;
    plan.check_inputs(&loaded)?;
    clock.lap("load dataset, pricing and policies");
    if let Some(spec) = &plan.shard {
        return super::shard::run_shard(&plan, loaded, spec);
    }
    let sim = sim::Simulation::new(
        &loaded.ds,
        &loaded.prices,
        &loaded.policies,
        &sim::SimOptions {
            record_attempts: false,
            ..plan.sim_options()
        },
    )
    .map_err(|e| simulation_error(&loaded.ds, e))?;
    let ctx = RunContext::of_dataset(&loaded.ds, sim.policy_infos());
    let mut ropts = report_options(&plan, &loaded, &ctx);
    if let Some(imp) = sim.imputer() {
        ropts.notes.push(imp.note());
        ropts.imputation = Some(imp.model().clone());
    }
    let source = Checked {
        sim: &sim,
        ds: &loaded.ds,
    };
    let (written, analysis) = if o.no_report {
        (None, analyze(&ctx, &source, &ropts, None)?)
    } else {
        let (w, a) = write_report(&plan, &loaded, &ctx, &source, &ropts)?;
        (Some(w), a)
    };
    clock.lap("simulate, analyse and write the report");
    if o.json {
        print!(
            "{}",
            super::json_text(&run_json(&loaded, &analysis, written.as_deref()))
        );
    } else {
        print_run(&loaded, &analysis, written.as_deref());
    }
    Ok(())
}

/// The simulation as the report's source, with a missing cell under `--missing fail`
/// turned into an input error naming the request and model.
struct Checked<'a> {
    sim: &'a sim::Simulation<'a>,
    ds: &'a Dataset,
}

impl PolicySource for Checked<'_> {
    fn load(&self, ps: &[usize]) -> Result<Vec<sim::PolicyTrace>> {
        self.sim.run(ps).map_err(|e| simulation_error(self.ds, e))
    }
}

/// A simulation error as `routesim run` reports it.
pub(super) fn simulation_error(ds: &Dataset, e: SimError) -> anyhow::Error {
    match e {
        SimError::Missing(m) => InputError::one(Diagnostic::file(
            &ds.info.name,
            format!(
                "policy \"{}\" sent request \"{}\" to model \"{}\", which has no recorded response; use --missing skip or --missing impute",
                m.policy, ds.requests.ids[m.request], ds.models[m.model as usize]
            ),
        ))
        .into(),
        other => report::build::sim_error(other),
    }
}

/// Everything a run loads before simulating.
pub struct Loaded {
    /// Dataset.
    pub ds: Dataset,
    /// Policies (user policies, then baselines).
    pub policies: Vec<Policy>,
    /// Price per dataset model.
    pub prices: Vec<ModelPrice>,
    /// The book (for the manifest).
    pub book: PriceBook,
    /// Models whose costs are unknown (`--unpriced`).
    pub unpriced: Vec<String>,
    /// Of those, the ones whose name matched catalog entries at several prices.
    pub ambiguous: Vec<String>,
    /// How each priced model was priced (run notes and manifest).
    pub price_matches: Vec<PriceMatch>,
}

/// Load dataset, pricing and policies; every input problem of every source becomes
/// one [`InputError`].
pub fn load_inputs(plan: &RunPlan) -> Result<Loaded> {
    let o = &plan.opts;
    let mut diags = Vec::new();
    let lopts = LoadOptions { limit: o.limit };
    let loaded = if o.more_datasets.is_empty() {
        dataset::load(&plan.dataset, &lopts)
    } else {
        let mut files = vec![plan.dataset.clone()];
        files.extend(o.more_datasets.iter().cloned());
        dataset::load::load_logs(&files, &lopts)
    };
    let ds = match loaded {
        Ok(d) => Some(d),
        Err(e) => {
            diags.extend(e.diagnostics);
            None
        }
    };
    let mut policies = match policy_files(&plan.policies) {
        Ok(files) => {
            let (p, d) = policy::load_all_partial(&files);
            diags.extend(d);
            let (p, d) = policy::sweep::expand_all(p, &o.sweeps);
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
    let cli_scenarios = cli_scenarios(&o.scenarios, &ds, plan.recorded_clock(), &mut diags);
    let mut files = ds.pricing_files.clone();
    files.extend(o.pricing.iter().cloned());
    let mut book = match PriceBook::load(&files, plan.pricing_days) {
        Ok(b) => b.with_builtin(!o.no_builtin_prices),
        Err(e) => {
            diags.extend(e.diagnostics);
            return Err(InputError::new(diags).into());
        }
    };
    book.price_as = plan.price_as.clone();
    let resolved = match book.resolve_all(&ds.models, &ds.needs_price(), o.unpriced) {
        Ok(r) => Some(r),
        Err(e) => {
            diags.extend(e.diagnostics);
            None
        }
    };
    let (prices, unpriced, ambiguous, price_matches) = match resolved {
        Some(r) => (r.prices, r.unpriced, r.ambiguous, r.matches),
        None => Default::default(),
    };
    let baseline_policies = if o.no_baselines {
        Vec::new()
    } else {
        // A gateway log's own outcome first: what the other policies are compared with.
        let mut b: Vec<Policy> = ds
            .logged
            .is_some()
            .then(baselines::logged)
            .into_iter()
            .collect();
        b.extend(baselines::baselines(&ds.models));
        b
    };
    diags.extend(baselines::name_clashes(&policies, &baseline_policies));
    if !diags.is_empty() {
        // Bind the policies that did parse too, so one run reports every problem.
        if prices.len() == ds.n_models()
            && let Err(e) = sim::bind_all(&ds, &prices, &policies, &plan.sim_options())
        {
            diags.extend(e.diagnostics);
        }
        return Err(InputError::new(diags).into());
    }
    policies.extend(baseline_policies);
    for p in &mut policies {
        // What production did does not change with a what-if.
        if !p.kind.is_logged() {
            p.scenarios.extend(cli_scenarios.iter().cloned());
        }
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
        ambiguous,
        price_matches,
    })
}

/// The run notes on prices: every price that is not a pricing file's own entry under
/// the model's exact name (built-in, matched, aliased), and the ambiguous names left
/// unknown.
pub(super) fn price_notes(l: &Loaded) -> Vec<String> {
    let mut notes: Vec<String> = l
        .price_matches
        .iter()
        .filter(|m| !m.exact || m.snapshot.is_some() || m.alias.is_some() || !m.notes.is_empty())
        .map(PriceMatch::note)
        .collect();
    if !l.ambiguous.is_empty() {
        notes.push(format!(
            "{} match catalog entries at several prices (--unpriced leaves their costs unknown; `routesim prices NAME` lists them)",
            l.ambiguous.join(", ")
        ));
    }
    notes
}

/// Parse the `--scenario` what-ifs and check them against the dataset and the arrival
/// model here, where their text is known: they apply to every policy, so a model must
/// be a dataset model (not a policy alias), and an outage given as timestamps needs
/// the dataset's timestamps as the clock. Binding then finds nothing wrong with them.
fn cli_scenarios(
    texts: &[String],
    ds: &Dataset,
    recorded_clock: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Scenario> {
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let label = format!("--scenario {}", i + 1);
        let s = match parse_cli_scenario(&label, text) {
            Ok(s) => s,
            Err(e) => {
                diags.extend(e.diagnostics);
                continue;
            }
        };
        let model = match &s {
            Scenario::Outage { model, .. }
            | Scenario::Latency { model, .. }
            | Scenario::Price { model, .. } => Some(model),
            Scenario::Traffic { .. } => None,
        };
        let problem = match model {
            Some(m) if ds.model_id(&m.name).is_none() => Some((
                m.span.start,
                format!(
                    "unknown model \"{}\": expected a dataset model ({})",
                    m.name,
                    ds.models.join(", ")
                ),
            )),
            Some(m)
                if matches!(
                    s,
                    Scenario::Outage {
                        relative: false,
                        ..
                    }
                ) && !(recorded_clock && ds.requests.has_timestamps()) =>
            {
                Some((m.span.start, "an outage given as timestamps needs request timestamps and --arrival recorded; use offsets in seconds (from = 600, to = 1200)".to_string()))
            }
            _ => None,
        };
        match problem {
            Some((at, msg)) => diags.push(Diagnostic::at_offset(&label, text, at, msg)),
            None => out.push(s),
        }
    }
    out
}

/// Simulate every policy with every row in memory (`--missing live` looks for the
/// cells they lack).
pub fn simulate(plan: &RunPlan, l: &Loaded) -> Result<Trace> {
    sim::run(&l.ds, &l.prices, &l.policies, &plan.sim_options())
        .map_err(|e| simulation_error(&l.ds, e))
}

/// The report options of a run: what the analysis needs besides the rows.
pub(super) fn report_options(plan: &RunPlan, l: &Loaded, ctx: &RunContext) -> ReportOptions {
    let ds = &l.ds;
    ReportOptions {
        title: ds.info.name.clone(),
        seed: plan.opts.seed,
        bootstrap: plan.opts.bootstrap,
        // On a gateway log, policies are compared with what production did.
        baseline: plan.opts.baseline.clone().or_else(|| {
            l.policies
                .iter()
                .find(|p| p.kind.is_logged())
                .map(|p| p.name.clone())
        }),
        by: plan.by.clone(),
        has_timestamps: ds.requests.has_timestamps() || plan.arrival.trace_file().is_some(),
        budgets: l
            .policies
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
        policies: ctx.policies.to_vec(),
        models: ds.models.clone(),
        notes: {
            let mut n = report::build::run_notes(&ds.info.warnings, &l.unpriced);
            n.extend(price_notes(l));
            n
        },
        n_requests: ds.n_requests(),
        pair: plan.opts.pair.clone(),
        imputation: None,
    }
}

/// Analyse the run (simulating its policies from `source`) and write its report folder.
fn write_report(
    plan: &RunPlan,
    l: &Loaded,
    ctx: &RunContext,
    source: &dyn PolicySource,
    ropts: &ReportOptions,
) -> Result<(PathBuf, Analysis)> {
    let manifest = run_manifest(plan, l);
    report::write(&out_dir(plan, l), ctx, source, ropts, &manifest)
}

/// The manifest of a run (before the report's own sections).
pub(super) fn run_manifest(plan: &RunPlan, l: &Loaded) -> serde_json::Value {
    let (ds, o) = (&l.ds, &plan.opts);
    let info = RunInfo {
        command: o.command.clone(),
        seed: o.seed,
        missing: o.missing.name().to_string(),
        arrival: o.arrival.to_string(),
        arrival_trace: plan.arrival.trace_file().map(|p| p.to_path_buf()),
        scenarios: o.scenarios.clone(),
        speedup: o.speedup,
        baseline: o.baseline.clone(),
        by: plan.by.clone(),
        bootstrap: o.bootstrap,
        pricing_date: crate::dataset::time::format_ts(plan.pricing_days * 86_400_000)[..10]
            .to_string(),
    };
    let mut m = report::manifest::build(&info, ds, &l.policies, &l.book.files(), &l.prices);
    m["pricing"]["builtin"] = serde_json::json!({
        "asked": l.book.builtin,
        "used_for": l.price_matches.iter().filter(|p| p.snapshot.is_some()).map(|p| p.model.clone()).collect::<Vec<_>>(),
        "catalogs": crate::pricing::builtin::snapshots().iter().map(|s| s.to_json()).collect::<Vec<_>>(),
    });
    m["pricing"]["matches"] = l.price_matches.iter().map(PriceMatch::to_json).collect();
    m["pricing"]["price_as"] = plan
        .price_as
        .iter()
        .map(|(n, t)| serde_json::json!({"model": n, "target": t}))
        .collect();
    m
}

/// The report folder: `-o`, else `reports/<dataset name>` (`reports/example`).
pub(super) fn out_dir(plan: &RunPlan, l: &Loaded) -> PathBuf {
    let (ds, o) = (&l.ds, &plan.opts);
    plan.out.clone().unwrap_or_else(|| {
        let name = if o.example {
            "example".to_string()
        } else {
            sanitize(&ds.info.name)
        };
        find_root("reports").join(name)
    })
}

/// What `routesim run --json` prints: the figures of the table (the objects of
/// `summary.json`) and of the headlines, with the notes and where the report is.
fn run_json(l: &Loaded, a: &Analysis, written: Option<&std::path::Path>) -> serde_json::Value {
    let ds = &l.ds;
    serde_json::json!({
        "dataset": ds.info.name,
        "requests": ds.n_requests(),
        "models": ds.n_models(),
        "baseline": a.opts.baseline,
        "report_dir": written.map(|w| w.display().to_string()),
        "notes": a.opts.notes,
        "policies": a.summaries.iter().map(report::tables::summary_value).collect::<Vec<_>>(),
        "comparisons": a.comparisons.iter().map(report::tables::comparison_value).collect::<Vec<_>>(),
    })
}

/// What `routesim run` prints: the notes, the table, the headline, where the report is.
fn print_run(l: &Loaded, a: &Analysis, written: Option<&std::path::Path>) {
    let ds = &l.ds;
    println!(
        "routesim: {} requests × {} policies ({} models) from {}",
        ds.n_requests(),
        l.policies.len(),
        ds.n_models(),
        ds.info.name
    );
    for w in &a.opts.notes {
        println!("note: {w}");
    }
    println!();
    print!("{}", report::tables::terminal_table(&a.summaries));
    if !a.comparisons.is_empty() {
        println!();
        for c in &a.comparisons {
            println!("{}", report::markdown::headline(a, c).replace("**", ""));
        }
    }
    if let Some(r) = &a.routellm {
        println!();
        print!("{}", report::routellm::terminal(r));
    }
    if let Some(o) = &a.offpolicy {
        println!();
        print!("{}", report::ope::terminal(o));
    }
    if let Some(w) = written {
        println!();
        println!(
            "report written to {} (open index.html, or paste report.md)",
            w.display()
        );
    }
}
