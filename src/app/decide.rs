//! `routesim diff` and `routesim explain`: load like `run` (the same dataset,
//! pricing and simulation options), simulate the policies involved, print text or
//! JSON. The figures are `decision`'s; this module only loads and prints.

use super::plan::{MissingMode, RunOptions, RunPlan};
use super::run::{Loaded, load_inputs, simulation_error};
use crate::decision::diff::{DiffReport, PolicyRef, Side, diff};
use crate::decision::explain::Explanation;
use crate::decision::rules::{all_findings, rule_usage};
use crate::error::{Diagnostic, InputError};
use crate::policy::{self, Policy};
use crate::sim::{ArrivalSpec, SimOptions, Simulation};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What `diff` and `explain` share with `run`: the data and how to simulate it.
#[derive(Debug, Clone)]
pub struct SimInputs {
    /// Dataset.
    pub dataset: PathBuf,
    /// Extra pricing files.
    pub pricing: Vec<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// Missing cells (`live` is refused: record first with `run` or `record`).
    pub missing: MissingMode,
    /// Arrival model.
    pub arrival: ArrivalSpec,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Accept unknown costs.
    pub unpriced: bool,
    /// Pricing date.
    pub pricing_date: Option<String>,
    /// Print JSON instead of text.
    pub json: bool,
}

/// Options of `routesim diff`.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Policy A (before).
    pub a: PathBuf,
    /// Policy B (after).
    pub b: PathBuf,
    /// Segment keys.
    pub by: Vec<String>,
    /// Data and simulation.
    pub inputs: SimInputs,
}

/// Options of `routesim explain`.
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    /// Policy file.
    pub policy: PathBuf,
    /// Request id.
    pub request: String,
    /// Data and simulation.
    pub inputs: SimInputs,
}

/// The run plan of a `diff` / `explain` (its first policy file; no baselines).
fn plan_of(i: &SimInputs, command: &str, first: &Path, by: &[String]) -> Result<RunPlan> {
    if i.missing == MissingMode::Live {
        return Err(InputError::one(Diagnostic::file(
            "--missing live",
            format!(
                "`{command}` replays recorded cells only; record them first (routesim record, or run --missing live)"
            ),
        ))
        .into());
    }
    let o = RunOptions {
        dataset: Some(i.dataset.clone()),
        policies: vec![first.to_path_buf()],
        pricing: i.pricing.clone(),
        seed: i.seed,
        missing: i.missing,
        by: by.to_vec(),
        no_baselines: true,
        arrival: i.arrival.clone(),
        limit: i.limit,
        unpriced: i.unpriced,
        pricing_date: i.pricing_date.clone(),
        no_report: true,
        quiet: true,
        ..RunOptions::default()
    };
    Ok(RunPlan::resolve(&o)?)
}

/// The diagnostics of an error that is invalid input (others are returned as is).
fn diagnostics(e: anyhow::Error) -> Result<Vec<Diagnostic>> {
    match e.downcast::<InputError>() {
        Ok(ie) => Ok(ie.diagnostics),
        Err(other) => Err(other),
    }
}

/// Load like `run` with A, and B besides (B may have A's name: two versions of one
/// policy are compared with the same random streams). Every problem of both files
/// and the dataset is reported together.
fn load_pair(plan: &RunPlan, b: &Path) -> Result<(Loaded, Policy)> {
    let a = load_inputs(plan);
    let pb = policy::load(b);
    match (a, pb) {
        (Ok(l), Ok(p)) => Ok((l, p)),
        (a, pb) => {
            let mut diags = Vec::new();
            if let Err(e) = a {
                diags.extend(diagnostics(e)?);
            }
            if let Err(e) = pb {
                diags.extend(e.diagnostics);
            }
            Err(InputError::new(diags).into())
        }
    }
}

fn sim_options(plan: &RunPlan) -> SimOptions {
    SimOptions {
        record_attempts: false,
        ..plan.sim_options()
    }
}

/// `routesim diff A B -d DATASET`.
pub fn diff_cmd(o: &DiffOptions) -> Result<()> {
    let plan = plan_of(&o.inputs, "diff", &o.a, &o.by)?;
    let (loaded, pb) = load_pair(&plan, &o.b)?;
    plan.check_inputs(&loaded)?;
    let ds = &loaded.ds;
    let policies = vec![loaded.policies[0].clone(), pb];
    let sim = Simulation::new(ds, &loaded.prices, &policies, &sim_options(&plan))
        .map_err(|e| simulation_error(ds, e))?;
    let traces = sim.run(&[0, 1]).map_err(|e| simulation_error(ds, e))?;
    let infos = sim.policy_infos();
    let side = |i: usize| Side {
        rows: &traces[i].rows,
        rules: &infos[i].rules,
    };
    let d = diff(ds, &side(0), &side(1), &plan.by)
        .map_err(|m| anyhow::anyhow!("internal error (please report): {m}"))?;
    let pref = |i: usize| {
        let p = &policies[i];
        let usage = rule_usage(p, sim.bound(i), ds);
        PolicyRef {
            name: p.name.clone(),
            file: p.file.clone(),
            findings: all_findings(p, Some((&usage, &ds.info.name))),
        }
    };
    let report = DiffReport {
        a: pref(0),
        b: pref(1),
        dataset: ds.info.name.clone(),
        diff: d,
    };
    print(if o.inputs.json {
        json_text(&report.json())
    } else {
        report.text()
    })
}

/// `routesim explain -p POLICY -d DATASET --request ID`.
pub fn explain_cmd(o: &ExplainOptions) -> Result<()> {
    let plan = plan_of(&o.inputs, "explain", &o.policy, &[])?;
    let loaded = load_inputs(&plan)?;
    let ds = &loaded.ds;
    let Some(r) = ds.requests.ids.iter().position(|id| *id == o.request) else {
        let some: Vec<&str> = ds.requests.ids.iter().take(5).map(String::as_str).collect();
        return Err(InputError::one(Diagnostic::file(
            "--request",
            format!(
                "no request with id \"{}\" in {} ({} requests; ids like {})",
                o.request,
                ds.info.name,
                ds.n_requests(),
                some.join(", ")
            ),
        ))
        .into());
    };
    let policies = &loaded.policies[..1];
    let sim = Simulation::new(ds, &loaded.prices, policies, &sim_options(&plan))
        .map_err(|e| simulation_error(ds, e))?;
    let run = sim.explain(0, r).map_err(|e| simulation_error(ds, e))?;
    let e = Explanation::new(&policies[0], sim.bound(0), ds, r, run);
    print(if o.inputs.json {
        json_text(&e.json())
    } else {
        e.text()
    })
}

/// Pretty JSON with a final newline.
pub fn json_text(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serialisable");
    s.push('\n');
    s
}

/// Print in one write (a closed stdout is the caller's to ignore).
fn print(s: String) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}
