//! `routesim tune`: the cheapest setting of a policy's parameters whose quality stays
//! within a margin of a baseline, searched on a training split and reported on a
//! held-out split.
//!
//! The requests are split once by a stable hash of their id (salted with the seed):
//! [`held_out`]. [`search`] sees only the training requests — it is given a dataset
//! holding nothing else — simulates every setting of the grid and the baseline,
//! compares each setting with the baseline request by request, and keeps the
//! cheapest setting whose 95% CI lower bound of Δquality (setting − baseline) is at
//! least −margin. Only then is the chosen setting simulated on the held-out requests
//! ([`evaluate`]), so the figures reported there are not the ones the choice was made
//! on. The grid comes from `--param PATH=VALUES` (or the policy's `[[sweep]]` tables),
//! as in `run --sweep`.

use super::plan::{MissingMode, RunOptions, RunPlan};
use crate::analysis::RunContext;
use crate::dataset::Dataset;
use crate::error::{Diagnostic, InputError};
use crate::policy::sweep::{self, Setting, SweepSpec, Variant};
use crate::policy::{self, Policy};
use crate::pricing::ModelPrice;
use crate::report::build::{ReportOptions, analyze};
use crate::report::fmt::{fh, usd};
use crate::report::markdown::signed;
use crate::sim::{self, SimOptions};
use anyhow::Result;
use std::path::PathBuf;

/// Options of `routesim tune`.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// The policy file to tune.
    pub policy: PathBuf,
    /// Dataset.
    pub dataset: PathBuf,
    /// `PATH=VALUES` parameters (the grid); empty: the policy's `[[sweep]]` tables.
    pub params: Vec<String>,
    /// Largest quality drop allowed against the baseline (CI lower bound).
    pub max_quality_drop: f64,
    /// The policy to compare with (a baseline name, or the policy as written).
    pub baseline: String,
    /// Share of requests held out (0 < share < 1).
    pub holdout: f64,
    /// Seed (the split, splits and random choices, the bootstrap).
    pub seed: u64,
    /// Extra pricing files.
    pub pricing: Vec<PathBuf>,
    /// Accept unknown costs (such settings never qualify: their cost is unknown).
    pub unpriced: bool,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Missing-cell handling.
    pub missing: MissingMode,
    /// No progress on stderr.
    pub quiet: bool,
}

/// Which requests are held out: those whose id hashes (salted with the seed) below
/// `share` of the hash range. Stable across runs, machines and dataset orders.
pub fn held_out(ids: &[String], seed: u64, share: f64) -> Vec<bool> {
    ids.iter()
        .map(|id| {
            let mut key = format!("routesim tune {seed}\0").into_bytes();
            key.extend_from_slice(id.as_bytes());
            let h = crate::util::hash::stable_hash(&key);
            ((h >> 11) as f64 / (1u64 << 53) as f64) < share
        })
        .collect()
}

/// One setting's figures on the training split.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingRow {
    /// The variant's name (`policy[path=value]`).
    pub name: String,
    /// Its settings.
    pub settings: Vec<Setting>,
    /// Cost per 1,000 requests, USD (NaN: unknown).
    pub cost_per_1k: f64,
    /// Quality.
    pub quality: f64,
    /// Δquality against the baseline (paired): estimate and 95% CI.
    pub delta: (f64, f64, f64),
    /// Requests covered (the baseline's, to qualify).
    pub covered: u64,
    /// Whether it meets the margin (and has a known cost on the baseline's requests).
    pub qualifies: bool,
}

/// The search's result on the training split.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// One row per setting, in sweep order.
    pub rows: Vec<SettingRow>,
    /// The baseline's cost per 1k and quality.
    pub baseline: (f64, f64),
    /// The index of the chosen setting (the cheapest that qualifies).
    pub chosen: Option<usize>,
}

/// Figures of one policy against the baseline on a set of requests.
fn figures(
    ds: &Dataset,
    prices: &[ModelPrice],
    policies: &[Policy],
    baseline: &str,
    opts: &TuneOptions,
) -> Result<crate::report::build::Analysis> {
    let sim = sim::Simulation::new(
        ds,
        prices,
        policies,
        &SimOptions {
            seed: opts.seed,
            missing: opts.missing.engine(),
            record_attempts: false,
            ..SimOptions::default()
        },
    )
    .map_err(crate::report::build::sim_error)?;
    let ctx = RunContext::of_dataset(ds, sim.policy_infos());
    let ropts = ReportOptions {
        title: ds.info.name.clone(),
        seed: opts.seed,
        bootstrap: opts.bootstrap,
        baseline: Some(baseline.to_string()),
        policies: ctx.policies.to_vec(),
        models: ds.models.clone(),
        n_requests: ds.n_requests(),
        ..ReportOptions::default()
    };
    analyze(&ctx, &sim, &ropts, None)
}

/// Search the grid on `train` (the training requests, and nothing else): every
/// setting and the baseline simulated and compared request by request; the cheapest
/// setting whose Δquality CI lower bound is ≥ −`margin` is chosen (the first in sweep
/// order on a tie).
pub fn search(
    train: &Dataset,
    prices: &[ModelPrice],
    variants: &[Variant],
    baseline: &Policy,
    opts: &TuneOptions,
) -> Result<Search> {
    let mut policies: Vec<Policy> = variants.iter().map(|v| v.policy.clone()).collect();
    policies.push(baseline.clone());
    let a = figures(train, prices, &policies, &baseline.name, opts)?;
    let base = &a.summaries[variants.len()];
    let rows: Vec<SettingRow> = variants
        .iter()
        .zip(&a.summaries)
        .map(|(v, s)| {
            let c = a.comparisons.iter().find(|c| c.policy == s.policy);
            let delta = c.map_or((f64::NAN, f64::NAN, f64::NAN), |c| {
                (
                    c.stats.quality.delta,
                    c.stats.quality.lo,
                    c.stats.quality.hi,
                )
            });
            let qualifies = s.covered == base.covered
                && s.cost_per_1k.is_finite()
                && delta.1 >= -opts.max_quality_drop - 1e-12;
            SettingRow {
                name: s.policy.clone(),
                settings: v.settings.clone(),
                cost_per_1k: s.cost_per_1k,
                quality: s.quality_mean,
                delta,
                covered: s.covered,
                qualifies,
            }
        })
        .collect();
    let chosen = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.qualifies)
        .min_by(|a, b| {
            a.1.cost_per_1k
                .total_cmp(&b.1.cost_per_1k)
                .then(a.0.cmp(&b.0))
        })
        .map(|(i, _)| i);
    Ok(Search {
        rows,
        baseline: (base.cost_per_1k, base.quality_mean),
        chosen,
    })
}

/// The chosen setting and the baseline on the held-out requests: (setting row, the
/// baseline's cost per 1k and quality).
pub fn evaluate(
    held: &Dataset,
    prices: &[ModelPrice],
    chosen: &Variant,
    baseline: &Policy,
    opts: &TuneOptions,
) -> Result<(SettingRow, (f64, f64))> {
    let policies = vec![chosen.policy.clone(), baseline.clone()];
    let a = figures(held, prices, &policies, &baseline.name, opts)?;
    let (s, b) = (&a.summaries[0], &a.summaries[1]);
    let delta = a
        .comparisons
        .first()
        .map_or((f64::NAN, f64::NAN, f64::NAN), |c| {
            (
                c.stats.quality.delta,
                c.stats.quality.lo,
                c.stats.quality.hi,
            )
        });
    Ok((
        SettingRow {
            name: s.policy.clone(),
            settings: chosen.settings.clone(),
            cost_per_1k: s.cost_per_1k,
            quality: s.quality_mean,
            delta,
            covered: s.covered,
            qualifies: s.covered == b.covered
                && s.cost_per_1k.is_finite()
                && delta.1 >= -opts.max_quality_drop - 1e-12,
        },
        (b.cost_per_1k, b.quality_mean),
    ))
}

fn check_options(o: &TuneOptions) -> Result<(), InputError> {
    let mut d = Vec::new();
    if !(o.holdout > 0.0 && o.holdout < 1.0) {
        d.push(Diagnostic::file(
            "--holdout",
            format!(
                "expected a share of the requests between 0 and 1 (e.g. 0.3), found {}",
                o.holdout
            ),
        ));
    }
    if !(o.max_quality_drop >= 0.0 && o.max_quality_drop.is_finite()) {
        d.push(Diagnostic::file(
            "--max-quality-drop",
            format!(
                "expected a quality difference ≥ 0 (e.g. 0.01), found {}",
                o.max_quality_drop
            ),
        ));
    }
    if d.is_empty() {
        Ok(())
    } else {
        Err(InputError::new(d))
    }
}

/// `routesim tune`.
pub fn tune(o: &TuneOptions) -> Result<()> {
    check_options(o)?;
    crate::util::progress::set_quiet(o.quiet);
    let plan = RunPlan::resolve(&RunOptions {
        dataset: Some(o.dataset.clone()),
        policies: vec![o.policy.clone()],
        pricing: o.pricing.clone(),
        seed: o.seed,
        missing: o.missing,
        unpriced: o.unpriced,
        bootstrap: o.bootstrap,
        quiet: o.quiet,
        ..RunOptions::default()
    })?;
    if o.missing == MissingMode::Live {
        return Err(InputError::one(Diagnostic::file(
            "--missing live",
            "tune replays recorded answers only: record the missing cells first (routesim record), or use skip, fail or impute",
        ))
        .into());
    }
    // Dataset, prices and baselines as `run` loads them (every input problem at once).
    let loaded = super::run::load_inputs(&plan)?;
    let pol = policy::load(&o.policy)?;
    let specs: Vec<SweepSpec> = if o.params.is_empty() {
        let (specs, diags) = sweep::file_sweeps(&pol);
        if !diags.is_empty() {
            return Err(InputError::new(diags).into());
        }
        specs
    } else {
        let mut specs = Vec::new();
        let mut diags = Vec::new();
        for p in &o.params {
            match sweep::parse_param(p) {
                Ok(s) => specs.push(s),
                Err(e) => diags.push(Diagnostic::file(format!("--param '{p}'"), e)),
            }
        }
        if !diags.is_empty() {
            return Err(InputError::new(diags).into());
        }
        specs
    };
    if specs.is_empty() {
        return Err(InputError::one(Diagnostic::file(
            "routesim tune",
            format!(
                "nothing to tune: pass --param PATH=VALUES (e.g. --param classifier.level.simple.when.input_chars.lt=20:200:20), or add [[sweep]] tables to {}",
                pol.file
            ),
        ))
        .into());
    }
    let variants = sweep::expand(&pol, &specs).map_err(InputError::new)?;
    let baseline = loaded
        .policies
        .iter()
        .find(|p| p.kind.is_baseline() && p.name == o.baseline)
        .cloned()
        .or_else(|| (pol.name == o.baseline).then(|| pol.clone()));
    let Some(baseline) = baseline else {
        let mut names: Vec<&str> = vec![pol.name.as_str()];
        names.extend(
            loaded
                .policies
                .iter()
                .filter(|p| p.kind.is_baseline())
                .map(|p| p.name.as_str()),
        );
        return Err(InputError::one(Diagnostic::file(
            "--baseline",
            format!(
                "no policy named \"{}\"; the policy as written or a baseline: {}",
                o.baseline,
                names.join(", ")
            ),
        ))
        .into());
    };
    let super::run::Loaded { ds, prices, .. } = loaded;
    let mask = held_out(&ds.requests.ids, o.seed, o.holdout);
    let (tr, ho): (Vec<usize>, Vec<usize>) = (0..ds.n_requests()).partition(|&r| !mask[r]);
    if tr.is_empty() || ho.is_empty() {
        return Err(InputError::one(Diagnostic::file(
            "--holdout",
            format!(
                "{} of the {} requests are held out: both splits need requests (change --holdout, or use a larger dataset)",
                ho.len(),
                ds.n_requests()
            ),
        ))
        .into());
    }
    let mut train = ds.clone();
    crate::dataset::load::select(&mut train, &tr);
    // The search is given the training requests only.
    let found = search(&train, &prices, &variants, &baseline, o)?;
    drop(train);
    let mut held = ds;
    crate::dataset::load::select(&mut held, &ho);
    let evaluated = match found.chosen {
        Some(i) => Some(evaluate(&held, &prices, &variants[i], &baseline, o)?),
        None => None,
    };
    print!(
        "{}",
        render(
            o,
            &pol,
            &baseline.name,
            &found,
            evaluated.as_ref(),
            (tr.len(), ho.len())
        )
    );
    Ok(())
}

fn delta_text(d: (f64, f64, f64)) -> String {
    format!(
        "{} [{}, {}]",
        signed(d.0, 3),
        signed(d.1, 3),
        signed(d.2, 3)
    )
}

/// What `tune` prints: the split, every setting's training figures, the chosen one on
/// both splits, and the lines to write into the policy file.
pub fn render(
    o: &TuneOptions,
    pol: &Policy,
    baseline: &str,
    s: &Search,
    held: Option<&(SettingRow, (f64, f64))>,
    (n_train, n_held): (usize, usize),
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "routesim tune: {} — {n_train} training requests, {n_held} held out (a stable hash of the request id, seed {}, --holdout {})",
        pol.name, o.seed, o.holdout
    );
    let _ = writeln!(
        out,
        "a setting qualifies when the 95% CI lower bound of its Δquality against {baseline} (paired, same requests) is at least -{}",
        o.max_quality_drop
    );
    let _ = writeln!(out, "\nsearch on the training split:");
    let labels: Vec<String> = s
        .rows
        .iter()
        .map(|r| {
            sweep::settings_label(&r.name)
                .unwrap_or(&r.name)
                .to_string()
        })
        .collect();
    let w = labels
        .iter()
        .map(|l| l.chars().count())
        .chain([baseline.chars().count(), 7])
        .max()
        .unwrap_or(7);
    let _ = writeln!(
        out,
        "  {:<w$}  {:>10}  {:>7}  {:<26}  qualifies",
        "setting", "cost/1k", "quality", "Δquality [95% CI]"
    );
    for (r, l) in s.rows.iter().zip(&labels) {
        let _ = writeln!(
            out,
            "  {:<w$}  {:>10}  {:>7}  {:<26}  {}",
            l,
            usd(r.cost_per_1k),
            fh(r.quality, 3),
            delta_text(r.delta),
            if r.qualifies { "yes" } else { "no" }
        );
    }
    let _ = writeln!(
        out,
        "  {:<w$}  {:>10}  {:>7}",
        baseline,
        usd(s.baseline.0),
        fh(s.baseline.1, 3)
    );
    let Some(i) = s.chosen else {
        let best = s
            .rows
            .iter()
            .filter(|r| r.delta.1.is_finite())
            .max_by(|a, b| a.delta.1.total_cmp(&b.delta.1));
        let _ = writeln!(
            out,
            "\nno setting qualifies on the training split{}; nothing was evaluated on the held-out split",
            best.map(|b| format!(
                " (the closest, {}, has a lower bound of {})",
                b.name,
                signed(b.delta.1, 3)
            ))
            .unwrap_or_default()
        );
        return out;
    };
    let c = &s.rows[i];
    let _ = writeln!(out, "\nchosen: {}", c.name);
    let _ = writeln!(
        out,
        "  training: cost {} per 1k requests ({baseline}: {}), quality {} ({}), Δquality {}",
        usd(c.cost_per_1k),
        usd(s.baseline.0),
        fh(c.quality, 3),
        fh(s.baseline.1, 3),
        delta_text(c.delta)
    );
    if let Some((h, (bc, bq))) = held {
        let _ = writeln!(
            out,
            "  held-out: cost {} per 1k requests ({baseline}: {}), quality {} ({}), Δquality {} — {}",
            usd(h.cost_per_1k),
            usd(*bc),
            fh(h.quality, 3),
            fh(*bq, 3),
            delta_text(h.delta),
            if h.qualifies {
                "within the margin"
            } else {
                "NOT within the margin on the held-out requests"
            }
        );
    }
    let _ = writeln!(out, "\nto apply it, in {}:", pol.file);
    for st in &c.settings {
        let (line, text) = sweep::snippet(&pol.source, st);
        let _ = writeln!(out, "  line {line}: {}", text.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stable_nested_and_about_the_share() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("req-{i}")).collect();
        let a = held_out(&ids, 7, 0.3);
        // The same ids in another order get the same assignment.
        let mut rev = ids.clone();
        rev.reverse();
        let b = held_out(&rev, 7, 0.3);
        assert!(a.iter().zip(b.iter().rev()).all(|(x, y)| x == y));
        // About 30% (binomial sd of the share: sqrt(.21 / 20000) ≈ 0.0032).
        let share = a.iter().filter(|h| **h).count() as f64 / ids.len() as f64;
        assert!((share - 0.3).abs() < 0.015, "{share}");
        // A smaller share holds out a subset; another seed another split.
        let small = held_out(&ids, 7, 0.1);
        assert!(small.iter().zip(&a).all(|(s, x)| !s || *x));
        let other = held_out(&ids, 8, 0.3);
        assert!(other.iter().zip(&a).filter(|(x, y)| x != y).count() > 1000);
    }
}
