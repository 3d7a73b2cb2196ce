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
pub mod logged;
pub mod plan;
pub mod probe;
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
use impute::Imputer;
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
    /// Keep every attempt (tests, `explain`); reports need only the rows.
    pub record_attempts: bool,
    /// `--missing impute`: the metadata field (`meta.x`) whose values segment the
    /// donor pools (the run's first `--by` key); `None`: the whole dataset.
    pub impute_by: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 7,
            missing: Missing::Skip,
            arrival: Arrival::Recorded,
            speedup: 1.0,
            chunk: 4096,
            record_attempts: true,
            impute_by: None,
        }
    }
}

/// Arrival time of each request, ms after the first arrival.
pub fn arrivals(ds: &Dataset, arrival: &Arrival, speedup: f64, seed: u64) -> Vec<f64> {
    let ts = ds
        .requests
        .has_timestamps()
        .then_some(&ds.requests.ts_ms[..]);
    let mut out = arrival_offsets(ds.n_requests(), ts, arrival, speedup, seed);
    // A shard keeps the whole dataset's clock (budget periods line up).
    if let (Arrival::Recorded, Some(ts), Some(origin)) = (
        arrival,
        ts,
        ds.shard.as_ref().and_then(|v| v.clock_origin_ms),
    ) && let Some(&t0) = ts.iter().min()
    {
        let shift = (t0 - origin) as f64 / speedup;
        out.iter_mut().for_each(|t| *t += shift);
    }
    out
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

/// Simulate every request under every policy (every row in memory: tests, small runs,
/// `--missing live`; reports stream policies through [`Simulation`] instead).
pub fn run(
    ds: &Dataset,
    prices: &[ModelPrice],
    policies: &[Policy],
    opts: &SimOptions,
) -> Result<Trace, SimError> {
    let sim = Simulation::new(ds, prices, policies, opts)?;
    let all: Vec<usize> = (0..policies.len()).collect();
    let traces = sim.run(&all)?;
    let n = ds.n_requests();
    let mut rows = Vec::with_capacity(n * policies.len());
    let mut attempts = Vec::new();
    let mut arrivals = Vec::with_capacity(policies.len());
    for t in traces {
        rows.extend_from_slice(&t.rows);
        attempts.extend(t.attempts);
        arrivals.push(t.arrivals);
    }
    Ok(Trace {
        policies: sim.policy_infos(),
        models: ds.models.clone(),
        served_models: ds.served_models.clone(),
        n_requests: n,
        rows,
        attempts,
        arrivals,
        seed: opts.seed,
    })
}

/// One policy's simulated rows (one per request), its attempts (when recorded) and
/// the requests' arrival times on its clock.
#[derive(Debug, Clone)]
pub struct PolicyTrace {
    /// Policy index.
    pub p: usize,
    /// One row per request.
    pub rows: Vec<TraceRow>,
    /// Attempts, ordered by request then sequence (empty unless recorded).
    pub attempts: Vec<Attempt>,
    /// Arrival of each request, ms after the first arrival (this policy's clock: a
    /// `traffic` what-if compresses it).
    pub arrivals: std::sync::Arc<[f64]>,
}

/// One request under one policy, watched ([`Simulation::explain`]).
#[derive(Debug, Clone)]
pub struct Explained {
    /// Its trace row (the same as in a normal run).
    pub row: TraceRow,
    /// Its attempts, in order.
    pub attempts: Vec<Attempt>,
    /// What the engine did for it, with the gateway state at each step.
    pub events: Vec<probe::ProbeEvent>,
    /// Its arrival, ms on the policy's clock.
    pub arrival_ms: f64,
}

/// A run ready to simulate: policies bound to the dataset, arrivals computed. Policies
/// are simulated on demand, a few at a time, so a report can stream them (bounded
/// memory whatever the number of policies).
pub struct Simulation<'a> {
    ds: &'a Dataset,
    policies: &'a [Policy],
    bounds: Vec<Bound>,
    imputer: Option<Imputer>,
    arrivals: std::sync::Arc<[f64]>,
    opts: SimOptions,
}

impl<'a> Simulation<'a> {
    /// Bind every policy (every problem of every policy reported together).
    pub fn new(
        ds: &'a Dataset,
        prices: &[ModelPrice],
        policies: &'a [Policy],
        opts: &SimOptions,
    ) -> Result<Simulation<'a>, SimError> {
        let bounds = bind_all(ds, prices, policies, opts).map_err(SimError::Input)?;
        Ok(Simulation {
            ds,
            policies,
            bounds,
            imputer: (opts.missing == Missing::Impute)
                .then(|| Imputer::new(ds, opts.impute_by.as_deref())),
            arrivals: arrivals(ds, &opts.arrival, opts.speedup, opts.seed).into(),
            opts: opts.clone(),
        })
    }

    /// The imputer of a `--missing impute` run.
    pub fn imputer(&self) -> Option<&Imputer> {
        self.imputer.as_ref()
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    /// Whether there are no policies.
    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// What the report needs to know about each policy.
    pub fn policy_infos(&self) -> Vec<PolicyInfo> {
        self.policies
            .iter()
            .zip(&self.bounds)
            .map(|(p, b)| PolicyInfo {
                name: p.name.clone(),
                kind: p.kind.clone(),
                description: p.description.clone(),
                rules: p.rules.iter().map(|r| r.name.clone()).collect(),
                file: p.file.clone(),
                stateful: b.stateful,
            })
            .collect()
    }

    /// The bound policy `p`.
    pub fn bound(&self, p: usize) -> &Bound {
        &self.bounds[p]
    }

    /// Simulate policies `ps` (in parallel), in the order given.
    pub fn run(&self, ps: &[usize]) -> Result<Vec<PolicyTrace>, SimError> {
        ps.par_iter().map(|&p| self.run_one(p)).collect()
    }

    /// Arrivals on policy `b`'s clock (a `traffic` what-if compresses them).
    fn policy_arrivals(&self, b: &Bound) -> std::sync::Arc<[f64]> {
        if b.traffic_factor != 1.0 {
            self.arrivals
                .iter()
                .map(|t| t / b.traffic_factor)
                .collect::<Vec<f64>>()
                .into()
        } else {
            self.arrivals.clone()
        }
    }

    /// Simulate policy `p` watching request `r` (`routesim explain`): its row and
    /// attempts as the normal run gives them, and what the engine did for it step by
    /// step, with the gateway state at each attempt. A stateful policy is simulated
    /// whole (the state a request meets depends on the requests before it); a
    /// stateless one needs only request `r`.
    pub fn explain(&self, p: usize, r: usize) -> Result<Explained, SimError> {
        let (ds, b) = (self.ds, &self.bounds[p]);
        let n = ds.n_requests();
        let env = Env {
            ds,
            missing: self.opts.missing,
            imputer: self.imputer.as_ref(),
            seed: self.opts.seed,
        };
        let arr = self.policy_arrivals(b);
        let row_idx = (p * n + r) as u32;
        let mut rec = probe::Recorder::new(r);
        let (row, attempts) = if b.stateful {
            let mut rows = vec![TraceRow::EMPTY; n];
            let all = vtime::run_policy_probed(&env, b, p, &arr, &mut rows, &mut rec)
                .map_err(SimError::Missing)?;
            let mine = all.into_iter().filter(|a| a.row == row_idx).collect();
            (rows[r], mine)
        } else {
            let mut attempts = Vec::new();
            let row =
                engine::run_stateless_probed(&env, b, r, row_idx, arr[r], &mut attempts, &mut rec)
                    .map_err(SimError::Missing)?;
            (row, attempts)
        };
        Ok(Explained {
            row,
            attempts,
            events: rec.events,
            arrival_ms: arr[r],
        })
    }

    fn run_one(&self, p: usize) -> Result<PolicyTrace, SimError> {
        let (ds, b) = (self.ds, &self.bounds[p]);
        let n = ds.n_requests();
        let env = Env {
            ds,
            missing: self.opts.missing,
            imputer: self.imputer.as_ref(),
            seed: self.opts.seed,
        };
        let arr = self.policy_arrivals(b);
        if let Some(rows) = logged::rows(ds, b) {
            check_every_request_finished(&rows, b)?;
            return Ok(PolicyTrace {
                p,
                rows,
                attempts: Vec::new(),
                arrivals: arr,
            });
        }
        let mut rows = vec![TraceRow::EMPTY; n];
        let mut attempts = if b.stateful {
            vtime::run_policy(&env, b, p, &arr, &mut rows).map_err(SimError::Missing)?
        } else {
            let chunk = self.opts.chunk.max(1);
            let parts: Result<Vec<Vec<Attempt>>, MissingCell> = rows
                .par_chunks_mut(chunk)
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
                .collect();
            let parts = parts.map_err(SimError::Missing)?;
            let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for a in parts {
                all.extend(a);
            }
            all
        };
        check_every_request_finished(&rows, b)?;
        if !self.opts.record_attempts {
            attempts = Vec::new();
        }
        Ok(PolicyTrace {
            p,
            rows,
            attempts,
            arrivals: arr,
        })
    }
}

/// Every request of a policy was either simulated to a final state or left uncovered
/// (its model had no recorded answer) — never both, never neither.
fn check_every_request_finished(rows: &[TraceRow], b: &Bound) -> Result<(), SimError> {
    let unfinished = rows
        .iter()
        .filter(|r| r.covered() == (r.status == crate::dataset::Status::MISSING))
        .count();
    if unfinished > 0 {
        return Err(SimError::Internal(format!(
            "policy \"{}\": {unfinished} of {} requests were neither simulated nor left uncovered",
            b.name,
            rows.len()
        )));
    }
    Ok(())
}
