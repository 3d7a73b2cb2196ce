//! Simulation: every request through every policy (ARCHITECTURE.md).
//!
//! [`run`] binds each policy to the dataset, then runs policies in parallel (rayon).
//! Stateless policies also split their requests into chunks; stateful ones (cooldown,
//! breaker, rate limits, budgets, cache, latency-based routing…) run in the
//! virtual-time engine ([`vtime`]), one event queue per policy. Every (policy,
//! request) pair draws from its own seeded RNG stream, so results do not depend on the
//! number of threads.

pub mod arrival;
pub mod bind;
pub mod bound;
pub mod costs;
pub mod engine;
pub mod estimate;
pub mod impute;
pub mod plan;
pub mod trace;
pub mod vtime;

pub use arrival::{Arrival, ArrivalSpec, ArrivalTrace, arrival_offsets};

use crate::dataset::Dataset;
use crate::error::{Diagnostic, InputError};
use crate::policy::Policy;
use crate::pricing::ModelPrice;
use bind::{BindCtx, bind};
use bound::Bound;
use engine::{Env, Missing, MissingCell, run_batch};
use impute::imputed_samples;
use rayon::prelude::*;
use trace::{Attempt, PolicyInfo, Trace, TraceRow};

/// Options of a run.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Missing-cell handling.
    pub missing: Missing,
    /// Arrival model.
    pub arrival: Arrival,
    /// Divide inter-arrival gaps by this (replay faster).
    pub speedup: f64,
    /// Requests per chunk for stateless policies.
    pub chunk: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 7,
            missing: Missing::Skip,
            arrival: Arrival::Recorded,
            speedup: 1.0,
            chunk: 4096,
        }
    }
}

/// Arrival time of each request, ms after the first arrival.
pub fn arrivals(ds: &Dataset, arrival: &Arrival, speedup: f64, seed: u64) -> Vec<f64> {
    let ts = ds
        .requests
        .has_timestamps()
        .then_some(&ds.requests.ts_ms[..]);
    arrival_offsets(ds.n_requests(), ts, arrival, speedup, seed)
}

/// Why a run failed.
#[derive(Debug)]
pub enum SimError {
    /// Policies do not fit the dataset (unknown models, missing fields…).
    Input(InputError),
    /// `--missing fail` met a missing cell.
    Missing(MissingCell),
    /// The engine broke one of its own invariants (a bug in routesim, reported
    /// rather than turned into wrong figures).
    Internal(String),
}

/// Bind policies to the dataset for a run with `opts` (its seed, and whether the
/// virtual clock is the dataset's own timestamps), reporting every problem of every
/// policy.
pub fn bind_all(
    ds: &Dataset,
    prices: &[ModelPrice],
    policies: &[Policy],
    opts: &SimOptions,
) -> Result<Vec<Bound>, InputError> {
    let ctx = BindCtx {
        ds,
        prices,
        seed: opts.seed,
        recorded_clock: opts.arrival == Arrival::Recorded,
        speedup: opts.speedup,
    };
    let results: Vec<Result<Bound, Vec<Diagnostic>>> =
        policies.par_iter().map(|p| bind(p, &ctx)).collect();
    let mut bounds = Vec::with_capacity(policies.len());
    let mut diags = Vec::new();
    for r in results {
        match r {
            Ok(b) => bounds.push(b),
            Err(d) => diags.extend(d),
        }
    }
    if diags.is_empty() {
        Ok(bounds)
    } else {
        Err(InputError::new(diags))
    }
}

/// Simulate every request under every policy.
pub fn run(
    ds: &Dataset,
    prices: &[ModelPrice],
    policies: &[Policy],
    opts: &SimOptions,
) -> Result<Trace, SimError> {
    let bounds = bind_all(ds, prices, policies, opts).map_err(SimError::Input)?;
    run_bound(ds, &bounds, policies, opts)
}

/// Every request of every policy was either simulated to a final state or left
/// uncovered (its model had no recorded answer) — never both, never neither.
fn check_every_request_finished(
    rows: &[TraceRow],
    n: usize,
    bounds: &[Bound],
) -> Result<(), SimError> {
    for (p, b) in bounds.iter().enumerate() {
        let rows = &rows[p * n..(p + 1) * n];
        let unfinished = rows
            .iter()
            .filter(|r| r.covered() == (r.status == crate::dataset::Status::MISSING))
            .count();
        if unfinished > 0 {
            return Err(SimError::Internal(format!(
                "policy \"{}\": {unfinished} of {n} requests were neither simulated nor left uncovered",
                b.name
            )));
        }
    }
    Ok(())
}

/// Simulate already-bound policies.
pub fn run_bound(
    ds: &Dataset,
    bounds: &[Bound],
    policies: &[Policy],
    opts: &SimOptions,
) -> Result<Trace, SimError> {
    let n = ds.n_requests();
    let imputed = if opts.missing == Missing::Impute {
        imputed_samples(ds)
    } else {
        Vec::new()
    };
    let env = Env {
        ds,
        missing: opts.missing,
        imputed: &imputed,
        seed: opts.seed,
    };
    let base_arrivals = arrivals(ds, &opts.arrival, opts.speedup, opts.seed);
    let mut rows = vec![TraceRow::EMPTY; n * bounds.len()];
    let chunk = opts.chunk.max(1);
    let per_policy: Vec<Result<Vec<Vec<Attempt>>, MissingCell>> = rows
        .par_chunks_mut(n.max(1))
        .zip(bounds.par_iter())
        .enumerate()
        .map(|(p, (prow, b))| {
            let arr: std::borrow::Cow<[f64]> = if b.traffic_factor != 1.0 {
                base_arrivals
                    .iter()
                    .map(|t| t / b.traffic_factor)
                    .collect::<Vec<f64>>()
                    .into()
            } else {
                (&base_arrivals[..]).into()
            };
            if b.stateful {
                return vtime::run_policy(&env, b, p, &arr, prow).map(|a| vec![a]);
            }
            prow.par_chunks_mut(chunk)
                .enumerate()
                .map(|(ci, rows_chunk)| {
                    let mut attempts = Vec::with_capacity(rows_chunk.len() + rows_chunk.len() / 4);
                    let first = ci * chunk;
                    run_batch(
                        &env,
                        b,
                        first,
                        (p * n + first) as u32,
                        &arr,
                        rows_chunk,
                        &mut attempts,
                    )?;
                    Ok(attempts)
                })
                .collect()
        })
        .collect();
    // Concatenate every chunk's attempts once, in (policy, request) order.
    let mut parts = Vec::with_capacity(per_policy.len());
    for p in per_policy {
        parts.push(p.map_err(SimError::Missing)?);
    }
    check_every_request_finished(&rows, n, bounds)?;
    let total: usize = parts.iter().flatten().map(|a| a.len()).sum();
    let mut attempts = Vec::with_capacity(total);
    for chunk in parts.into_iter().flatten() {
        attempts.extend(chunk);
    }
    Ok(Trace {
        policies: policies
            .iter()
            .zip(bounds)
            .map(|(p, b)| PolicyInfo {
                name: p.name.clone(),
                kind: p.kind.clone(),
                description: p.description.clone(),
                rules: p.rules.iter().map(|r| r.name.clone()).collect(),
                file: p.file.clone(),
                stateful: b.stateful,
            })
            .collect(),
        models: ds.models.clone(),
        served_models: ds.served_models.clone(),
        n_requests: n,
        rows,
        attempts,
        seed: opts.seed,
    })
}
