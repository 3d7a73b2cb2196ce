//! An optional observer of ONE request's path through the engine (`routesim explain`):
//! what the gateway's state was at each attempt (cooldown, breaker, rate-limit window,
//! concurrency, cache, budgets), what it decided, and what each call gave.
//!
//! The engines are generic over a [`Probe`]. Normal runs use [`NoProbe`], whose
//! `ACTIVE` constant is `false`: every probe site is `if P::ACTIVE && …`, which
//! monomorphisation turns into `if false`, so the normal path compiles to exactly the
//! code it had before — no extra branch, no allocation, no snapshot. Only a
//! [`Recorder`] (one explained request) builds views and pushes events, and only for
//! its request. Probes observe; they never change a decision (a test checks that the
//! explained row equals the normal run's row for every request).

use super::bound::Bound;
use super::engine::{Admit, Call, Flight, Gate, NoGate, Outcome};
use crate::dataset::ModelId;

/// The state of a model's gateway mechanisms at one instant, as the gateway sees it
/// (`None`: the mechanism is not configured).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateView {
    /// Cooldown: failures counted in the current window.
    pub cooldown: Option<CooldownView>,
    /// Circuit breaker.
    pub breaker: Option<BreakerView>,
    /// Rate-limit minute window: its start (ms), and calls / tokens counted in it
    /// against the deployment's `rpm` / `tpm` (when set).
    pub minute: Option<MinuteView>,
    /// Calls in flight against `max_concurrency`, and flights waiting in its queue.
    pub concurrency: Option<(u32, u32, usize)>,
    /// Calls in flight (every stateful policy tracks them; `least_busy` reads them).
    pub in_flight: u32,
    /// The latency statistic `lowest_latency` reads for this model (ms per output
    /// token; `None` without completed calls or without such a route).
    pub latency: Option<f64>,
}

/// Cooldown counters of a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownView {
    /// Failures counted in the current window.
    pub fails: u32,
    /// Failures allowed before a cooldown.
    pub allowed: u32,
    /// Start of the current window, ms.
    pub window_start_ms: f64,
    /// Cooling down until this time (when it is later than the instant viewed).
    pub until_ms: Option<f64>,
}

/// A circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BreakerView {
    /// Closed: failures and calls counted.
    Closed {
        /// Failures counted.
        fails: u32,
        /// Calls counted.
        total: u32,
        /// Failures that open it (more than this many).
        threshold: u32,
    },
    /// Open until this time, ms.
    Open {
        /// End of the open period.
        until_ms: f64,
    },
    /// Half-open: probe calls left.
    HalfOpen {
        /// Probes left.
        probes_left: u32,
    },
}

/// A model's rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteView {
    /// Start of the minute window, ms.
    pub start_ms: f64,
    /// Calls counted, and the `rpm` limit.
    pub rpm: Option<(u32, u32)>,
    /// Tokens counted, and the `tpm` limit.
    pub tpm: Option<(u64, u64)>,
}

/// The cache entry of a request's input at its arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheView {
    /// The stored answer's model and expiry (ms), when one was stored.
    pub entry: Option<(ModelId, f64)>,
    /// Whether it answers this request (stored and not expired).
    pub hit: bool,
}

/// A budget's spend at a request's arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetView {
    /// Limit per period, USD.
    pub limit_usd: f64,
    /// Spent in the current period (of this request's group), USD.
    pub spent_usd: f64,
    /// Period, ms.
    pub period_ms: f64,
    /// Start of the current period, ms.
    pub period_start_ms: f64,
    /// The model it downgrades to when exceeded (`None`: it rejects).
    pub downgrade: Option<ModelId>,
}

/// What a flight did after a call ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Retry the same model at this time.
    Retry {
        /// Time of the retry, ms.
        at_ms: f64,
    },
    /// Fall back to the next model of the plan.
    Fallback,
    /// A cascade's answer was not accepted: escalate to the next model.
    Escalate,
    /// The request is finished (answered, or failed with no model left).
    Done,
}

impl Next {
    /// What happened after `c`, from the flight's position before (`pos`) and after
    /// the call, and the time of the next attempt.
    pub fn of(c: &Call, pos_before: u8, f: &Flight, next: Option<f64>) -> Next {
        match next {
            None => Next::Done,
            Some(_) if f.pos != pos_before && c.outcome.status.is_ok() => Next::Escalate,
            Some(_) if f.pos != pos_before => Next::Fallback,
            Some(at_ms) => Next::Retry { at_ms },
        }
    }
}

/// One thing the engine did for the watched request.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeEvent {
    /// The request arrived (virtual-time engine): the cache and budgets as found.
    Arrival {
        /// Time, ms.
        t: f64,
        /// The cache (when the policy has one).
        cache: Option<CacheView>,
        /// Each budget of the policy.
        budgets: Vec<BudgetView>,
    },
    /// The plan after a stateful strategy ordered it (latency, load, usage).
    Plan {
        /// Models in the order they will be tried.
        models: Vec<ModelId>,
    },
    /// The gateway was asked about model `model` at `t`.
    Admit {
        /// Time, ms.
        t: f64,
        /// Model.
        model: ModelId,
        /// Its answer.
        admit: Admit,
        /// The model's state as the gateway saw it.
        state: GateView,
    },
    /// The model's context window is smaller than the prompt: refused without a call.
    ContextRefused {
        /// Time, ms.
        t: f64,
        /// Model.
        model: ModelId,
        /// Prompt tokens.
        input_tokens: u32,
        /// The model's context window.
        window: u32,
    },
    /// A call (or a local rejection) ended.
    CallEnd {
        /// The call.
        call: Call,
        /// What the flight did next.
        next: Next,
        /// The model's state once the gateway heard of the call's end (admitted calls
        /// of stateful policies).
        after: Option<GateView>,
    },
}

/// An observer of one request. See the module comment for why [`NoProbe`] costs
/// nothing.
pub trait Probe {
    /// Whether the probe records anything at all (a compile-time constant).
    const ACTIVE: bool;
    /// Whether request `r` is the one watched.
    fn watches(&self, r: usize) -> bool;
    /// Record an event of the watched request.
    fn record(&mut self, e: ProbeEvent);
}

/// The probe of normal runs: watches nothing.
pub struct NoProbe;

impl Probe for NoProbe {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn watches(&self, _: usize) -> bool {
        false
    }
    #[inline(always)]
    fn record(&mut self, _: ProbeEvent) {}
}

/// Records the events of one request.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The request watched.
    pub target: usize,
    /// Its events, in the order they happened.
    pub events: Vec<ProbeEvent>,
}

impl Recorder {
    /// Watch request `target`.
    pub fn new(target: usize) -> Recorder {
        Recorder {
            target,
            events: Vec::new(),
        }
    }
}

impl Probe for Recorder {
    const ACTIVE: bool = true;
    fn watches(&self, r: usize) -> bool {
        r == self.target
    }
    fn record(&mut self, e: ProbeEvent) {
        self.events.push(e);
    }
}

/// A gate whose state can be viewed for one model at one instant (without changing it).
pub trait Inspect {
    /// The state of model `m` at time `t`.
    fn view(&self, b: &Bound, m: ModelId, t: f64) -> GateView;
}

impl Inspect for NoGate {
    fn view(&self, _: &Bound, _: ModelId, _: f64) -> GateView {
        GateView::default()
    }
}

/// A gate that tells a probe about every admission of the watched request (built only
/// for that request).
pub struct Probed<'g, G, P> {
    /// The real gate.
    pub gate: &'g mut G,
    /// The probe.
    pub probe: &'g mut P,
}

impl<G: Gate + Inspect, P: Probe> Gate for Probed<'_, G, P> {
    fn admit(
        &mut self,
        b: &Bound,
        m: ModelId,
        t: f64,
        r: usize,
        input_tokens: u32,
        plan: &[ModelId],
    ) -> Admit {
        let admit = self.gate.admit(b, m, t, r, input_tokens, plan);
        let state = self.gate.view(b, m, t);
        self.probe.record(ProbeEvent::Admit {
            t,
            model: m,
            admit,
            state,
        });
        admit
    }

    fn start(&mut self, b: &Bound, m: ModelId, input_tokens: u32) {
        self.gate.start(b, m, input_tokens);
    }

    fn complete(&mut self, b: &Bound, o: &Outcome, r: usize, start: f64, end: f64) {
        self.gate.complete(b, o, r, start, end);
    }

    fn context_refused(&mut self, b: &Bound, m: ModelId, t: f64, input_tokens: u32) {
        self.probe.record(ProbeEvent::ContextRefused {
            t,
            model: m,
            input_tokens,
            window: b.context_window[m as usize],
        });
    }
}
