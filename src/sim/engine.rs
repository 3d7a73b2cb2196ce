//! The request state machine shared by both engines.
//!
//! A [`Flight`] is one request going through its plan: each attempt is *admitted* by a
//! [`Gate`] (cooldown, breaker, rate limits, concurrency — nothing in the stateless
//! engine), its outcome is read from the recorded response (timeouts, output cap,
//! scenarios and pricing applied), and when the call ends the flight decides: done,
//! retry after a back-off, escalate (cascade), or fall back to the next model.
//! The stateless engine drives a flight to the end in a loop; the virtual-time engine
//! interleaves flights through an event queue so that state changes become visible
//! only when calls complete.

use super::bound::{Bound, eval};
use super::plan::{Plan, plan};
use super::probe::{Next, NoProbe, Probe, ProbeEvent, Probed};
use super::trace::{Attempt, DEFAULT_RULE, TraceRow, flags};
use crate::dataset::{Dataset, ModelId, Sample, Status, StatusClass, flags as sflags};
use crate::policy::gateway::TruncatedQuality;
use crate::pricing::Usage;
use crate::util::rng::LazyRng;

/// What to do when a chosen model has no recorded response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Leave the request out of this policy's metrics (reported as coverage).
    Skip,
    /// Stop with an error naming the request and model.
    Fail,
    /// Draw a response from the model's recorded ones in the request's segment
    /// ([`super::impute`]).
    Impute,
}

/// A chosen model had no response and `--missing fail` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingCell {
    /// Policy.
    pub policy: String,
    /// Request index.
    pub request: usize,
    /// Model.
    pub model: ModelId,
}

/// Inputs shared by every flight of a run.
pub struct Env<'a> {
    /// Dataset.
    pub ds: &'a Dataset,
    /// Missing-cell handling.
    pub missing: Missing,
    /// The donor pools (for [`Missing::Impute`]).
    pub imputer: Option<&'a super::impute::Imputer>,
    /// Run seed.
    pub seed: u64,
}

/// Latency of an error produced by an outage scenario, ms.
pub const OUTAGE_LATENCY_MS: f64 = 50.0;

/// The result of one call, known when it starts (from the recording) and applied to
/// gateway state when it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Model called.
    pub model: ModelId,
    /// The model that answered, when the recording names another ([`Sample::served`]).
    pub served: u16,
    /// Status.
    pub status: Status,
    /// Duration, ms.
    pub latency_ms: f64,
    /// Time to first token within the call, ms (NaN unknown).
    pub ttft_ms: f64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens (after the cap).
    pub output_tokens: u32,
    /// Quality (NaN unknown).
    pub quality: f64,
    /// Trace flags raised by this call.
    pub flags: u32,
    /// Provider retry-after, ms (NaN none).
    pub retry_after_ms: f64,
}

/// A gateway's answer before a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admit {
    /// Call, after waiting this long in a queue.
    Go {
        /// Queueing delay, ms.
        wait_ms: f64,
    },
    /// Do not call this model (cooldown, open circuit): move to the next one.
    Skip {
        /// Flag recorded on the row.
        flag: u32,
    },
    /// Fail locally without calling (gateway 429): retried / fallen back like any failure.
    Reject {
        /// Status of the local failure.
        status: Status,
        /// Flag recorded on the row.
        flag: u32,
    },
    /// Wait in the model's queue until a concurrency slot frees (virtual-time engine).
    Park,
}

/// Gateway state consulted by flights.
pub trait Gate {
    /// Whether (and when) model `m` may be called at time `t` for request `r`, whose
    /// plan is `plan` (a breaker is bypassed when every model of the plan is open).
    fn admit(
        &mut self,
        b: &Bound,
        m: ModelId,
        t: f64,
        r: usize,
        input_tokens: u32,
        plan: &[ModelId],
    ) -> Admit;
    /// A call admitted with [`Admit::Go`] starts: take its concurrency slot and count
    /// it against the limits. (Admission itself changes nothing, so a flight whose
    /// cell turns out to be missing leaves the gate as it found it.)
    fn start(&mut self, b: &Bound, m: ModelId, input_tokens: u32);
    /// A started call ended.
    fn complete(&mut self, b: &Bound, o: &Outcome, r: usize, start: f64, end: f64);
    /// Model `m` was refused without a call: the prompt is longer than its context
    /// window (only probes listen; a rare path, so the default does nothing).
    #[inline]
    fn context_refused(&mut self, _b: &Bound, _m: ModelId, _t: f64, _input_tokens: u32) {}
}

/// The stateless gate: admits everything, remembers nothing.
pub struct NoGate;

impl Gate for NoGate {
    #[inline]
    fn admit(&mut self, _: &Bound, _: ModelId, _: f64, _: usize, _: u32, _: &[ModelId]) -> Admit {
        Admit::Go { wait_ms: 0.0 }
    }
    #[inline]
    fn start(&mut self, _: &Bound, _: ModelId, _: u32) {}
    #[inline]
    fn complete(&mut self, _: &Bound, _: &Outcome, _: usize, _: f64, _: f64) {}
}

/// A call that a flight is about to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call {
    /// Start (after queueing), ms on the virtual clock.
    pub start: f64,
    /// End.
    pub end: f64,
    /// Outcome.
    pub outcome: Outcome,
    /// Whether the gate admitted it (and must hear about its completion).
    pub admitted: bool,
}

/// What a flight does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Make this call.
    Call(Call),
    /// Wait for a free concurrency slot of this model.
    Park(ModelId),
    /// The request is finished.
    Done,
}

/// One request going through its plan.
#[derive(Debug, Clone)]
pub struct Flight {
    /// Request index.
    pub r: usize,
    /// Trace row index.
    pub row_idx: u32,
    /// Models to try.
    pub plan: Plan,
    /// Position in the plan.
    pub pos: u8,
    /// Try number on the current model (retries after failures, local ones included).
    pub try_no: u16,
    /// Recorded samples of the current model's cell already used: a retry reads the
    /// next one. Local failures (gateway 429, outage) consume none.
    pub sample_no: u16,
    /// Position of the next attempt in the request's attempt sequence.
    pub seq: u16,
    /// Arrival, ms on the virtual clock.
    pub arrival: f64,
    /// The row being filled.
    pub row: TraceRow,
    /// RNG stream of this (policy, request), seeded on first use.
    pub rng: LazyRng,
    last_status: Status,
    skipped_all: bool,
}

/// Select the rule and route for request `r`; returns (rule index, plan).
pub fn route_request(b: &Bound, ds: &Dataset, r: usize, rng: &mut LazyRng) -> (u16, Plan) {
    let levels = b.complexity.as_deref();
    for (i, rule) in b.rules.iter().enumerate() {
        if eval(&rule.when, ds, r, levels) {
            return (i as u16, plan(&rule.route, ds, &b.costs, r, rng));
        }
    }
    (DEFAULT_RULE, plan(&b.default, ds, &b.costs, r, rng))
}

impl Flight {
    /// Start request `r` arriving at `arrival`.
    pub fn new(env: &Env, b: &Bound, r: usize, row_idx: u32, arrival: f64) -> Flight {
        let mut rng = LazyRng::new(env.seed, b.salt, env.ds.stream_index(r));
        let (rule, plan) = route_request(b, env.ds, r, &mut rng);
        Flight {
            r,
            row_idx,
            plan,
            pos: 0,
            try_no: 0,
            sample_no: 0,
            seq: 0,
            arrival,
            row: TraceRow {
                rule,
                first: plan.first(),
                input_tokens: env.ds.requests.input_tokens[r],
                ..TraceRow::EMPTY
            },
            rng,
            last_status: Status::GATEWAY_REJECTED,
            skipped_all: true,
        }
    }

    /// Replace the plan (budget downgrade, stateful strategies).
    pub fn set_plan(&mut self, plan: Plan) {
        self.row.first = plan.first();
        self.plan = plan;
    }

    fn fail(&mut self, b: &Bound, status: Status, model: u16, end: f64) {
        self.row.status = status;
        self.row.model = model;
        self.row.latency_ms = end - self.arrival;
        self.row.quality = b.gateway.failure_quality;
    }

    fn advance(&mut self) {
        self.pos += 1;
        self.try_no = 0;
        self.sample_no = 0;
    }

    /// Start the next attempt at time `t` (`Done` when the plan is exhausted or the
    /// cell is missing under `--missing skip`).
    pub fn next<G: Gate>(
        &mut self,
        env: &Env,
        b: &Bound,
        gate: &mut G,
        t: f64,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Step, MissingCell> {
        let r = self.r;
        while (self.pos as usize) < self.plan.len as usize {
            let m = self.plan.models[self.pos as usize];
            let in_tokens = env.ds.requests.input_tokens[r];
            if in_tokens > b.context_window[m as usize] {
                gate.context_refused(b, m, t, in_tokens);
                self.row.flags |= flags::CONTEXT_SKIP;
                // Refused by the gateway itself: listed, but no call was made.
                self.push_attempt(attempts, m, Status::CONTEXT_LENGTH, t, 0.0, 0.0, false);
                self.last_status = Status::CONTEXT_LENGTH;
                self.skipped_all = false;
                if b.route(self.row.rule)
                    .fallback_on
                    .intersects(StatusClass::CONTEXT)
                {
                    self.advance();
                    continue;
                }
                self.fail(b, Status::CONTEXT_LENGTH, m, t);
                return Ok(Step::Done);
            }
            match gate.admit(b, m, t, r, in_tokens, self.plan.as_slice()) {
                Admit::Park => return Ok(Step::Park(m)),
                Admit::Skip { flag } => {
                    self.row.flags |= flag;
                    self.advance();
                    continue;
                }
                Admit::Reject { status, flag } => {
                    self.row.flags |= flag;
                    self.skipped_all = false;
                    let outcome = Outcome {
                        model: m,
                        served: Sample::SAME_MODEL,
                        status,
                        latency_ms: 0.0,
                        ttft_ms: f64::NAN,
                        cost_usd: 0.0,
                        input_tokens: in_tokens,
                        output_tokens: 0,
                        quality: f64::NAN,
                        flags: 0,
                        retry_after_ms: f64::NAN,
                    };
                    return Ok(Step::Call(Call {
                        start: t,
                        end: t,
                        outcome,
                        admitted: false,
                    }));
                }
                Admit::Go { wait_ms } => {
                    self.skipped_all = false;
                    if wait_ms > 0.0 {
                        self.row.flags |= flags::QUEUED;
                        self.row.queue_ms += wait_ms as f32;
                    }
                    let start = t + wait_ms;
                    match self.outcome(env, b, m, start)? {
                        Some(outcome) => {
                            gate.start(b, m, in_tokens);
                            return Ok(Step::Call(Call {
                                start,
                                end: start + outcome.latency_ms,
                                outcome,
                                admitted: true,
                            }));
                        }
                        None => {
                            self.row = TraceRow {
                                flags: self.row.flags | flags::UNCOVERED,
                                status: Status::MISSING,
                                model: m,
                                ..self.row
                            };
                            return Ok(Step::Done);
                        }
                    }
                }
            }
        }
        // Plan exhausted.
        let status = if self.skipped_all {
            Status::GATEWAY_REJECTED
        } else {
            self.last_status
        };
        let model = self
            .plan
            .as_slice()
            .last()
            .copied()
            .unwrap_or(super::trace::NONE16);
        self.fail(b, status, model, t);
        Ok(Step::Done)
    }

    /// Record an attempt; `called` says whether it reached a provider (only those
    /// count as the row's calls).
    #[allow(clippy::too_many_arguments)]
    fn push_attempt(
        &mut self,
        attempts: &mut Vec<Attempt>,
        m: ModelId,
        status: Status,
        start: f64,
        lat: f64,
        cost: f64,
        called: bool,
    ) {
        attempts.push(Attempt {
            row: self.row_idx,
            model: m,
            seq: self.seq,
            try_no: self.try_no,
            status,
            start_ms: (start - self.arrival) as f32,
            latency_ms: lat as f32,
            cost_usd: cost,
        });
        self.seq = self.seq.saturating_add(1);
        if called {
            self.row.attempts = self.row.attempts.saturating_add(1);
        }
    }

    /// The recorded sample the next call of `m` reads; a missing cell is skipped
    /// (`None`), an error, or imputed, as `--missing` says.
    fn recorded(&self, env: &Env, b: &Bound, m: ModelId) -> Result<Option<Sample>, MissingCell> {
        let ds = env.ds;
        let r = self.r;
        let s = *ds.sample(r, m, self.sample_no as usize);
        if s.is_present() {
            return Ok(Some(s));
        }
        match env.missing {
            Missing::Skip => Ok(None),
            Missing::Fail => Err(MissingCell {
                policy: b.name.clone(),
                request: r,
                model: m,
            }),
            Missing::Impute => Ok(env.imputer.and_then(|imp| imp.sample(ds, r, m, env.seed))),
        }
    }

    /// The outcome of calling `m` at `start`: the recorded sample with the policy's
    /// what-ifs (latency, outage, price), output cap and timeout applied, and priced
    /// (`None`: missing cell, skipped).
    fn outcome(
        &self,
        env: &Env,
        b: &Bound,
        m: ModelId,
        start: f64,
    ) -> Result<Option<Outcome>, MissingCell> {
        let Some(s) = self.recorded(env, b, m)? else {
            return Ok(None);
        };
        let mi = m as usize;
        let lf = b.latency_factor[mi];
        let mut o = Outcome {
            model: m,
            served: s.served,
            status: s.status,
            latency_ms: s.latency_ms as f64 * lf,
            ttft_ms: s.ttft_ms as f64 * lf,
            cost_usd: 0.0,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            quality: s.quality,
            flags: 0,
            retry_after_ms: s.retry_after_ms as f64,
        };
        if s.flags & (sflags::EST_INPUT_TOKENS | sflags::EST_OUTPUT_TOKENS) != 0 {
            o.flags |= flags::EST_TOKENS;
        }
        if s.flags & sflags::MODELLED_LATENCY != 0 {
            o.flags |= flags::MODELLED_LATENCY;
        }
        if s.flags & sflags::IMPUTED != 0 {
            o.flags |= flags::IMPUTED;
        }
        for out in &b.outages {
            if out.model == m && start >= out.from_ms && start < out.to_ms {
                o.status = out.status;
                o.latency_ms = OUTAGE_LATENCY_MS;
                o.ttft_ms = f64::NAN;
                o.retry_after_ms = f64::NAN;
                o.flags |= flags::OUTAGE;
                return Ok(Some(Outcome {
                    quality: f64::NAN,
                    output_tokens: 0,
                    ..o
                }));
            }
        }
        // The output cap first: a capped answer ends sooner, and only the capped
        // call can time out.
        let mut truncated = false;
        if o.status.is_ok()
            && let Some(cap) = b.gateway.max_output_tokens
            && o.output_tokens > cap
        {
            let frac = cap as f64 / o.output_tokens as f64;
            let ttft = if o.ttft_ms.is_nan() { 0.0 } else { o.ttft_ms };
            o.latency_ms = ttft + (o.latency_ms - ttft) * frac;
            o.output_tokens = cap;
            o.flags |= flags::TRUNCATED;
            truncated = true;
            if b.gateway.truncated_quality == TruncatedQuality::Missing {
                o.quality = f64::NAN;
            }
        }
        if let Some(limit) = b.model_timeout_ms[mi]
            && o.latency_ms >= limit
        {
            o.status = Status::TIMEOUT;
            o.latency_ms = limit;
            o.quality = f64::NAN;
            o.output_tokens = 0;
            o.flags &= !flags::TRUNCATED;
            return Ok(Some(o));
        }
        if o.status.is_ok() {
            o.cost_usd = if truncated {
                let reasoning = s.reasoning_tokens.min(o.output_tokens);
                b.costs.priced(
                    mi,
                    &Usage {
                        output_tokens: o.output_tokens,
                        reasoning_tokens: reasoning,
                        ..s.usage()
                    },
                )
            } else {
                b.costs.sample_cost(&s, mi)
            };
        } else {
            o.quality = f64::NAN;
            o.output_tokens = 0;
            o.cost_usd = b.costs.recorded_or_zero(&s, mi);
        }
        Ok(Some(o))
    }

    /// A call ended at `end`. Returns the time of the next attempt, or `None` when the
    /// request is finished.
    pub fn finish_call(&mut self, b: &Bound, c: &Call, attempts: &mut Vec<Attempt>) -> Option<f64> {
        let o = &c.outcome;
        self.push_attempt(
            attempts,
            o.model,
            o.status,
            c.start,
            o.latency_ms,
            o.cost_usd,
            c.admitted,
        );
        if c.admitted && o.flags & flags::OUTAGE == 0 {
            self.sample_no = self.sample_no.saturating_add(1);
        }
        self.row.cost_usd += o.cost_usd;
        self.row.flags |= o.flags;
        if o.status.is_ok() {
            if (self.pos as usize) + 1 < self.plan.cascade_len as usize {
                let mut accept = !o.quality.is_nan() && o.quality >= self.plan.threshold;
                if self.plan.verifier_error > 0.0 && self.rng.get().chance(self.plan.verifier_error)
                {
                    accept = !accept;
                }
                if !accept {
                    self.row.flags |= flags::ESCALATED;
                    self.advance();
                    return Some(c.end);
                }
            }
            self.row.status = Status::OK;
            self.row.model = o.model;
            self.row.served = o.served;
            self.row.latency_ms = c.end - self.arrival;
            self.row.ttft_ms = if o.ttft_ms.is_nan() {
                f32::NAN
            } else {
                (c.start - self.arrival + o.ttft_ms) as f32
            };
            self.row.quality = o.quality;
            self.row.input_tokens = o.input_tokens;
            self.row.output_tokens = o.output_tokens;
            return None;
        }
        self.last_status = o.status;
        let class = o.status.class();
        let retries = &b.model_retries[o.model as usize];
        if (self.try_no as u32) < retries.max && retries.on.intersects(class) {
            let mut wait = retries.backoff(self.try_no as u32 + 1);
            if retries.honor_retry_after && !o.retry_after_ms.is_nan() {
                wait = wait.max(o.retry_after_ms);
            }
            self.try_no = self.try_no.saturating_add(1);
            self.row.flags |= flags::RETRIED;
            return Some(c.end + wait);
        }
        if b.route(self.row.rule).fallback_on.intersects(class)
            && (self.pos as usize) + 1 < self.plan.len as usize
        {
            self.row.flags |= flags::FELL_BACK;
            self.advance();
            return Some(c.end);
        }
        self.fail(b, o.status, o.model, c.end);
        None
    }
}

/// Drive a started flight to the end without gateway state (its row is then final).
/// `probe` hears about the flight when it watches it; with [`NoProbe`] every probe
/// site is `if false` after monomorphisation (see [`super::probe`]).
fn drive<P: Probe>(
    env: &Env,
    b: &Bound,
    f: &mut Flight,
    attempts: &mut Vec<Attempt>,
    probe: &mut P,
) -> Result<(), MissingCell> {
    let mut gate = NoGate;
    let mut t = f.arrival;
    if P::ACTIVE && probe.watches(f.r) {
        probe.record(ProbeEvent::Plan {
            models: f.plan.as_slice().to_vec(),
        });
    }
    loop {
        let step = if P::ACTIVE && probe.watches(f.r) {
            let mut g = Probed {
                gate: &mut gate,
                probe: &mut *probe,
            };
            f.next(env, b, &mut g, t, attempts)?
        } else {
            f.next(env, b, &mut gate, t, attempts)?
        };
        match step {
            // NoGate never parks: only the virtual-time engine queues.
            Step::Done | Step::Park(_) => return Ok(()),
            Step::Call(c) => {
                let pos = f.pos;
                let next = f.finish_call(b, &c, attempts);
                if P::ACTIVE && probe.watches(f.r) {
                    probe.record(ProbeEvent::CallEnd {
                        call: c,
                        next: Next::of(&c, pos, f, next),
                        after: None,
                    });
                }
                match next {
                    Some(n) => t = n,
                    None => return Ok(()),
                }
            }
        }
    }
}

/// Run one request to the end without gateway state (the stateless engine).
pub fn run_stateless(
    env: &Env,
    b: &Bound,
    r: usize,
    row_idx: u32,
    arrival: f64,
    attempts: &mut Vec<Attempt>,
) -> Result<TraceRow, MissingCell> {
    run_stateless_probed(env, b, r, row_idx, arrival, attempts, &mut NoProbe)
}

/// [`run_stateless`] with a probe watching the request (`routesim explain`).
pub fn run_stateless_probed<P: Probe>(
    env: &Env,
    b: &Bound,
    r: usize,
    row_idx: u32,
    arrival: f64,
    attempts: &mut Vec<Attempt>,
    probe: &mut P,
) -> Result<TraceRow, MissingCell> {
    let mut f = Flight::new(env, b, r, row_idx, arrival);
    drive(env, b, &mut f, attempts, probe)?;
    Ok(f.row)
}

/// Requests routed together before their calls are simulated (see [`run_batch`]).
pub const BATCH: usize = 32;

/// Hint the CPU to fetch the memory at `p` (no effect on other architectures).
#[inline(always)]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            p as *const T as *const i8,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Simulate consecutive requests `first..first + rows.len()` statelessly. Requests are
/// routed in small batches first and the first cell each will read is prefetched, so
/// the memory latency of the response matrix overlaps with routing work.
pub fn run_batch(
    env: &Env,
    b: &Bound,
    first: usize,
    row_base: u32,
    arrivals: &[f64],
    rows: &mut [TraceRow],
    attempts: &mut Vec<Attempt>,
) -> Result<(), MissingCell> {
    let ds = env.ds;
    let mut flights: Vec<Flight> = Vec::with_capacity(BATCH);
    for (bi, batch) in rows.chunks_mut(BATCH).enumerate() {
        let start = first + bi * BATCH;
        flights.clear();
        for j in 0..batch.len() {
            let r = start + j;
            let f = Flight::new(env, b, r, row_base + (bi * BATCH + j) as u32, arrivals[r]);
            if f.plan.len > 0 {
                prefetch(ds.cell(r, f.plan.models[0]));
            }
            flights.push(f);
        }
        for (row, f) in batch.iter_mut().zip(flights.iter_mut()) {
            drive(env, b, f, attempts, &mut NoProbe)?;
            *row = f.row;
        }
    }
    Ok(())
}
