//! The virtual-time engine: one discrete-event simulation per stateful policy.
//!
//! Events are arrivals (in arrival order), attempt starts and call completions, taken
//! in time order; at equal times completions come first, so the router at time t
//! knows exactly the calls that ended by t and nothing later — latency-based routing,
//! cooldowns and breakers never peek into the future. Per request, the gateway runs
//! (README "Simulation semantics"): cache → budget → context window → cooldown → circuit breaker → rate
//! limit (rpm/tpm, fixed minute windows) → concurrency (FIFO queue) → the provider.
//!
//! LiteLLM semantics mirrored (documented in the README): cooldown after more than
//! `allowed_fails` failures in the current window; `lowest_latency` tracks latency per
//! completion token of the last `window` successful calls, records a 1000 s penalty for
//! a timeout, tries models without data first, and picks at random among models within
//! `(1 + buffer)` of the best; `least_busy` picks the fewest calls in flight;
//! `usage_based` the lowest tokens this minute among models under their limits.

use super::bound::{BStrategy, Bound, KeyCol, Limits};
use super::engine::{Admit, Call, Env, Flight, Gate, MissingCell, Outcome, Step};
use super::plan::Plan;
use super::probe::{
    BreakerView, BudgetView, CacheView, CooldownView, GateView, Inspect, MinuteView, Next, NoProbe,
    Probe, ProbeEvent, Probed,
};
use super::trace::{Attempt, TraceRow, flags};
use crate::dataset::{ModelId, Status};
use crate::policy::route::LatencyStat;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Latency recorded for a timed-out call by `lowest_latency` (LiteLLM's penalty), ms.
pub const TIMEOUT_PENALTY_MS: f64 = 1_000_000.0;
/// Rate-limit window, ms.
const MINUTE_MS: f64 = 60_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Breaker {
    Closed { fails: u32, total: u32 },
    Open { until: f64 },
    HalfOpen { probes_left: u32 },
}

#[derive(Debug, Clone)]
struct ModelState {
    cd_window: f64,
    cd_fails: u32,
    cooldown_until: f64,
    breaker: Breaker,
    minute: f64,
    minute_requests: u32,
    minute_tokens: u64,
    in_flight: u32,
    queue: VecDeque<u32>,
    /// One latency window per distinct (window, statistic) of the policy's
    /// `lowest_latency` routes.
    lat: Vec<LatWindow>,
}

/// The last `window` latencies of a model (per completion token) and their EWMA.
#[derive(Debug, Clone, Default)]
struct LatWindow {
    values: Vec<f64>,
    pos: usize,
    ewma: f64,
    n: u64,
}

impl ModelState {
    fn new() -> Self {
        ModelState {
            cd_window: 0.0,
            cd_fails: 0,
            cooldown_until: f64::NEG_INFINITY,
            breaker: Breaker::Closed { fails: 0, total: 0 },
            minute: 0.0,
            minute_requests: 0,
            minute_tokens: 0,
            in_flight: 0,
            queue: VecDeque::new(),
            lat: Vec::new(),
        }
    }

    fn roll_minute(&mut self, t: f64) {
        let w = (t / MINUTE_MS).floor() * MINUTE_MS;
        if w > self.minute {
            self.minute = w;
            self.minute_requests = 0;
            self.minute_tokens = 0;
        }
    }

    fn breaker_open_at(&mut self, t: f64, probes: u32) -> bool {
        if let Breaker::Open { until } = self.breaker
            && t >= until
        {
            self.breaker = if probes == 0 {
                Breaker::Closed { fails: 0, total: 0 }
            } else {
                Breaker::HalfOpen {
                    probes_left: probes,
                }
            };
        }
        match self.breaker {
            Breaker::Open { .. } => true,
            Breaker::HalfOpen { probes_left } => probes_left == 0,
            Breaker::Closed { .. } => false,
        }
    }
}

/// Gateway state of one policy.
pub struct StateGate {
    models: Vec<ModelState>,
    scratch: Vec<f64>,
    /// Distinct (window, statistic) of the policy's `lowest_latency` routes: each
    /// route reads the window of its own settings.
    lat_cfgs: Vec<(usize, LatencyStat)>,
}

impl StateGate {
    fn new(b: &Bound) -> Self {
        let mut lat_cfgs: Vec<(usize, LatencyStat)> = Vec::new();
        for r in b
            .rules
            .iter()
            .map(|r| &r.route)
            .chain(std::iter::once(&b.default))
        {
            if let BStrategy::LowestLatency { window, stat, .. } = &r.strategy
                && !lat_cfgs.contains(&(*window, *stat))
            {
                lat_cfgs.push((*window, *stat));
            }
        }
        let models = (0..b.costs.prices.len())
            .map(|_| ModelState {
                lat: vec![LatWindow::default(); lat_cfgs.len()],
                ..ModelState::new()
            })
            .collect();
        StateGate {
            models,
            scratch: Vec::new(),
            lat_cfgs,
        }
    }

    /// Index of a route's latency settings.
    fn lat_cfg_of(&self, window: usize, stat: LatencyStat) -> usize {
        self.lat_cfgs
            .iter()
            .position(|c| *c == (window, stat))
            .expect("every lowest_latency route has a tracker")
    }

    /// Latency statistic of a model under settings `cfg` (`None` when it has no
    /// completed calls yet).
    fn latency_stat(&mut self, m: ModelId, cfg: usize) -> Option<f64> {
        let stat = self.lat_cfgs[cfg].1;
        let w = &self.models[m as usize].lat[cfg];
        if w.values.is_empty() {
            return None;
        }
        Some(match stat {
            LatencyStat::Mean => w.values.iter().sum::<f64>() / w.values.len() as f64,
            LatencyStat::Ewma(_) => w.ewma,
            LatencyStat::Quantile(q) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&w.values);
                self.scratch.sort_by(f64::total_cmp);
                crate::util::stats::quantile_sorted(&self.scratch, q).unwrap_or(f64::NAN)
            }
        })
    }

    fn record_latency(&mut self, m: ModelId, value: f64) {
        let st = &mut self.models[m as usize];
        for (w, &(window, stat)) in st.lat.iter_mut().zip(&self.lat_cfgs) {
            if w.values.len() < window {
                w.values.push(value);
            } else {
                w.values[w.pos] = value;
            }
            w.pos = (w.pos + 1) % window;
            w.ewma = match stat {
                LatencyStat::Ewma(a) if w.n > 0 => a * value + (1.0 - a) * w.ewma,
                _ => value,
            };
            w.n += 1;
        }
    }
}

impl Gate for StateGate {
    fn admit(
        &mut self,
        b: &Bound,
        m: ModelId,
        t: f64,
        _r: usize,
        input_tokens: u32,
        plan: &[ModelId],
    ) -> Admit {
        let mi = m as usize;
        if b.gateway.cooldown.is_some() && t < self.models[mi].cooldown_until {
            return Admit::Skip {
                flag: flags::COOLDOWN_SKIP,
            };
        }
        if let Some(cb) = &b.gateway.circuit_breaker
            && self.models[mi].breaker_open_at(t, cb.half_open_probes)
        {
            // Portkey: when every target is open, the breaker is bypassed.
            let probes = cb.half_open_probes;
            let all_open = plan
                .iter()
                .all(|&x| self.models[x as usize].breaker_open_at(t, probes));
            if !all_open {
                return Admit::Skip {
                    flag: flags::BREAKER_SKIP,
                };
            }
        }
        let Limits {
            rpm,
            tpm,
            max_concurrency: conc,
        } = b.limits[mi];
        let st = &mut self.models[mi];
        st.roll_minute(t);
        if rpm.is_some_and(|l| st.minute_requests >= l)
            || tpm.is_some_and(|l| st.minute_tokens + input_tokens as u64 > l)
        {
            return Admit::Reject {
                status: Status::RATE_LIMITED,
                flag: flags::LOCAL_429,
            };
        }
        if conc.is_some_and(|c| st.in_flight >= c) {
            return Admit::Park;
        }
        Admit::Go { wait_ms: 0.0 }
    }

    fn start(&mut self, _b: &Bound, m: ModelId, input_tokens: u32) {
        let st = &mut self.models[m as usize];
        st.minute_requests += 1;
        st.minute_tokens += input_tokens as u64;
        st.in_flight += 1;
        if let Breaker::HalfOpen { probes_left } = &mut st.breaker {
            *probes_left = probes_left.saturating_sub(1);
        }
    }

    fn complete(&mut self, b: &Bound, o: &Outcome, _r: usize, _start: f64, end: f64) {
        let mi = o.model as usize;
        let class = o.status.class();
        {
            let st = &mut self.models[mi];
            st.in_flight = st.in_flight.saturating_sub(1);
            st.roll_minute(end);
            if end < st.minute + MINUTE_MS {
                st.minute_tokens += o.output_tokens as u64;
            }
            if let Some(cd) = &b.gateway.cooldown
                && cd.on.intersects(class)
            {
                let w = cd.window_s * 1000.0;
                let win = (end / w).floor() * w;
                if win > st.cd_window {
                    st.cd_window = win;
                    st.cd_fails = 0;
                }
                st.cd_fails += 1;
                if st.cd_fails > cd.allowed_fails {
                    st.cooldown_until = end + cd.cooldown_s * 1000.0;
                    st.cd_fails = 0;
                }
            }
            if let Some(cb) = &b.gateway.circuit_breaker {
                let failed = cb.on.intersects(class);
                st.breaker = match st.breaker {
                    Breaker::Closed { fails, total } => {
                        let (fails, total) = (fails + u32::from(failed), total + 1);
                        let by_count = fails > cb.failure_threshold;
                        let by_rate = cb.failure_rate.is_some_and(|r| {
                            total >= cb.minimum_requests && fails as f64 / total as f64 > r
                        });
                        if failed && (by_count || by_rate) {
                            Breaker::Open {
                                until: end + cb.cooldown_ms,
                            }
                        } else {
                            Breaker::Closed { fails, total }
                        }
                    }
                    Breaker::HalfOpen { probes_left } => {
                        if failed {
                            Breaker::Open {
                                until: end + cb.cooldown_ms,
                            }
                        } else if o.status.is_ok() {
                            Breaker::Closed { fails: 0, total: 0 }
                        } else {
                            Breaker::HalfOpen {
                                probes_left: probes_left + 1,
                            }
                        }
                    }
                    // A call admitted before the circuit opened ended: nothing changes.
                    open @ Breaker::Open { .. } => open,
                };
            }
        }
        if !self.lat_cfgs.is_empty() {
            if o.status.is_ok() {
                let per_token = if o.output_tokens > 0 {
                    o.latency_ms / o.output_tokens as f64
                } else {
                    o.latency_ms
                };
                self.record_latency(o.model, per_token);
            } else if o.status == Status::TIMEOUT {
                self.record_latency(o.model, TIMEOUT_PENALTY_MS);
            }
        }
    }
}

impl Inspect for StateGate {
    /// The state as `admit` would see it at `t`, computed without changing anything
    /// (the minute window and the breaker's open period roll over lazily in the gate).
    fn view(&self, b: &Bound, m: ModelId, t: f64) -> GateView {
        let st = &self.models[m as usize];
        let cooldown = b.gateway.cooldown.as_ref().map(|cd| {
            let w = cd.window_s * 1000.0;
            let current = (t / w).floor() * w;
            CooldownView {
                fails: if current > st.cd_window {
                    0
                } else {
                    st.cd_fails
                },
                allowed: cd.allowed_fails,
                window_start_ms: current.max(st.cd_window),
                until_ms: (t < st.cooldown_until).then_some(st.cooldown_until),
            }
        });
        let breaker = b
            .gateway
            .circuit_breaker
            .as_ref()
            .map(|cb| match st.breaker {
                Breaker::Open { until } if t >= until && cb.half_open_probes == 0 => {
                    BreakerView::Closed {
                        fails: 0,
                        total: 0,
                        threshold: cb.failure_threshold,
                    }
                }
                Breaker::Open { until } if t >= until => BreakerView::HalfOpen {
                    probes_left: cb.half_open_probes,
                },
                Breaker::Open { until } => BreakerView::Open { until_ms: until },
                Breaker::HalfOpen { probes_left } => BreakerView::HalfOpen { probes_left },
                Breaker::Closed { fails, total } => BreakerView::Closed {
                    fails,
                    total,
                    threshold: cb.failure_threshold,
                },
            });
        let Limits {
            rpm,
            tpm,
            max_concurrency,
        } = b.limits[m as usize];
        let minute = (rpm.is_some() || tpm.is_some()).then(|| {
            let w = (t / MINUTE_MS).floor() * MINUTE_MS;
            let rolled = w > st.minute;
            MinuteView {
                start_ms: if rolled { w } else { st.minute },
                rpm: rpm.map(|l| (if rolled { 0 } else { st.minute_requests }, l)),
                tpm: tpm.map(|l| (if rolled { 0 } else { st.minute_tokens }, l)),
            }
        });
        // The first `lowest_latency` setting's statistic (a policy rarely has two).
        let latency = self.lat_cfgs.first().and_then(|&(_, stat)| {
            let w = &st.lat[0];
            if w.values.is_empty() {
                return None;
            }
            Some(match stat {
                LatencyStat::Mean => w.values.iter().sum::<f64>() / w.values.len() as f64,
                LatencyStat::Ewma(_) => w.ewma,
                LatencyStat::Quantile(q) => {
                    // Explain only: a copy is fine here.
                    let mut v = w.values.clone();
                    v.sort_by(f64::total_cmp);
                    crate::util::stats::quantile_sorted(&v, q).unwrap_or(f64::NAN)
                }
            })
        });
        GateView {
            cooldown,
            breaker,
            minute,
            concurrency: max_concurrency.map(|c| (st.in_flight, c, st.queue.len())),
            in_flight: st.in_flight,
            latency,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Complete = 0,
    Start = 1,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    t: f64,
    kind: Kind,
    seq: u64,
    slot: u32,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    fn cmp(&self, o: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest event pops first.
        o.t.total_cmp(&self.t)
            .then((o.kind as u8).cmp(&(self.kind as u8)))
            .then(o.seq.cmp(&self.seq))
    }
}

struct Slot {
    flight: Flight,
    call: Option<Call>,
    park_t: f64,
    /// The model whose freed concurrency slot woke this flight (until it starts).
    woken_by: Option<ModelId>,
}

/// Cache entry per distinct input.
#[derive(Clone, Copy)]
struct CacheEntry {
    expires: f64,
    model: u16,
    served: u16,
    quality: f64,
    output_tokens: u32,
}

/// Reorder a stateful route's candidates with the gate's state.
fn order_stateful(b: &Bound, f: &mut Flight, gate: &mut StateGate, t: f64) {
    let route = b.route(f.row.rule);
    let n = match &route.strategy {
        BStrategy::LowestLatency { candidates, .. }
        | BStrategy::LeastBusy(candidates)
        | BStrategy::UsageBased(candidates) => candidates.len().min(f.plan.len as usize),
        _ => return,
    };
    // Score each candidate (lower is better); pick among the eligible at random.
    let mut scored: [(f64, ModelId); crate::policy::route::MAX_PLAN] =
        [(0.0, 0); crate::policy::route::MAX_PLAN];
    let lat_cfg = match &route.strategy {
        BStrategy::LowestLatency { window, stat, .. } => gate.lat_cfg_of(*window, *stat),
        _ => 0,
    };
    for (i, &m) in f.plan.as_slice()[..n].iter().enumerate() {
        let st_score = match &route.strategy {
            BStrategy::LowestLatency { .. } => gate.latency_stat(m, lat_cfg).unwrap_or(0.0),
            BStrategy::LeastBusy(_) => gate.models[m as usize].in_flight as f64,
            BStrategy::UsageBased(_) => {
                let Limits { rpm, tpm, .. } = b.limits[m as usize];
                let st = &mut gate.models[m as usize];
                st.roll_minute(t);
                let full = rpm.is_some_and(|l| st.minute_requests >= l)
                    || tpm.is_some_and(|l| st.minute_tokens + f.row.input_tokens as u64 > l);
                if full {
                    f64::INFINITY
                } else {
                    st.minute_tokens as f64
                }
            }
            _ => 0.0,
        };
        scored[i] = (st_score, m);
    }
    let scored = &mut scored[..n];
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let best = scored[0].0;
    let limit = match &route.strategy {
        BStrategy::LowestLatency { buffer, .. } => best * (1.0 + buffer),
        _ => best,
    };
    let n_eligible = scored
        .iter()
        .take_while(|(s, _)| *s <= limit)
        .count()
        .max(1);
    // The pick goes first; the others keep their order (best first) as fallbacks.
    let pick = f.rng.get().below(n_eligible as u64) as usize;
    scored[..=pick].rotate_right(1);
    let mut p = Plan { len: 0, ..f.plan };
    scored.iter().for_each(|&(_, m)| p.push(m));
    f.plan.as_slice()[n..].iter().for_each(|&m| p.push(m));
    f.set_plan(p);
}

/// Simulate one stateful policy; fills `rows` (one per request) and returns attempts.
pub fn run_policy(
    env: &Env,
    b: &Bound,
    p: usize,
    arrivals: &[f64],
    rows: &mut [TraceRow],
) -> Result<Vec<Attempt>, MissingCell> {
    run_policy_probed(env, b, p, arrivals, rows, &mut NoProbe)
}

/// [`run_policy`] with a probe watching one request (`routesim explain`): the whole
/// policy is simulated (the state a request meets depends on the others), and the
/// probe hears about the watched request only.
pub fn run_policy_probed<P: Probe>(
    env: &Env,
    b: &Bound,
    p: usize,
    arrivals: &[f64],
    rows: &mut [TraceRow],
    probe: &mut P,
) -> Result<Vec<Attempt>, MissingCell> {
    let n = env.ds.n_requests();
    // Requests in arrival order, ties in dataset order (usually already so).
    let mut order: Vec<u32> = (0..n as u32).collect();
    if !arrivals.is_sorted_by(|a, b| a.total_cmp(b).is_le()) {
        order.sort_unstable_by(|&a, &b| {
            arrivals[a as usize]
                .total_cmp(&arrivals[b as usize])
                .then(a.cmp(&b))
        });
    }
    let mut sim = EventSim::new(env, b, p, rows, probe);
    let mut next_arrival = 0usize;
    loop {
        // Next event: a queued event, or the next arrival (arrivals come after
        // completions and starts at the same instant).
        let take_arrival = match (sim.heap.peek(), order.get(next_arrival)) {
            (None, None) => break,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(e), Some(&r)) => arrivals[r as usize] < e.t,
        };
        if take_arrival {
            let r = order[next_arrival] as usize;
            next_arrival += 1;
            if let Some(slot) = sim.arrive(r, arrivals[r]) {
                sim.start(slot, arrivals[r])?;
            }
        } else {
            let e = sim.heap.pop().expect("peeked");
            match e.kind {
                Kind::Start => sim.start(e.slot, e.t)?,
                Kind::Complete => sim.complete(e.slot, e.t)?,
            }
        }
    }
    debug_assert!(
        sim.gate
            .models
            .iter()
            .all(|m| m.queue.is_empty() && m.in_flight == 0),
        "every queued flight was simulated"
    );
    let mut attempts = sim.attempts;
    // (row, seq) is unique, so an unstable sort gives the one order.
    attempts.sort_unstable_by_key(|a| (a.row, a.seq));
    Ok(attempts)
}

/// The state of one policy's discrete-event simulation.
struct EventSim<'a, 'r, P> {
    env: &'a Env<'a>,
    b: &'a Bound,
    rows: &'r mut [TraceRow],
    /// Trace row of request 0 of this policy.
    base: usize,
    gate: StateGate,
    heap: BinaryHeap<Event>,
    seq: u64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    attempts: Vec<Attempt>,
    cache: Vec<Option<CacheEntry>>,
    /// Budget spend per (budget, group): (period index, spent).
    spend: Vec<Vec<(i64, f64)>>,
    /// The observer (`NoProbe` outside `routesim explain`).
    probe: &'r mut P,
}

impl<'a, 'r, P: Probe> EventSim<'a, 'r, P> {
    fn new(
        env: &'a Env<'a>,
        b: &'a Bound,
        p: usize,
        rows: &'r mut [TraceRow],
        probe: &'r mut P,
    ) -> Self {
        let n = env.ds.n_requests();
        EventSim {
            env,
            b,
            rows,
            base: p * n,
            gate: StateGate::new(b),
            heap: BinaryHeap::new(),
            seq: 0,
            slots: Vec::new(),
            free: Vec::new(),
            attempts: Vec::with_capacity(n * 2),
            cache: match &b.cache {
                Some(k) => vec![None; k.n_groups],
                None => Vec::new(),
            },
            spend: b
                .budgets
                .iter()
                .map(|bd| vec![(i64::MIN, 0.0); bd.key.as_ref().map(KeyCol::n_groups).unwrap_or(1)])
                .collect(),
            probe,
        }
    }

    /// The cache and budgets as request `r` finds them at `t` (for the probe).
    fn arrival_view(&self, r: usize, t: f64) -> ProbeEvent {
        let b = self.b;
        let cache = b.cache.as_ref().map(|keys| {
            let e = self.cache[keys.group[r] as usize];
            CacheView {
                entry: e.map(|e| (e.model, e.expires)),
                hit: e.is_some_and(|e| e.expires > t),
            }
        });
        let budgets = b
            .budgets
            .iter()
            .enumerate()
            .map(|(bi, bd)| {
                let g = bd.key.as_ref().map(|k| k.group(r)).unwrap_or(0);
                let period = (t / bd.period_ms).floor() as i64;
                let (pidx, spent) = self.spend[bi][g];
                BudgetView {
                    limit_usd: bd.limit_usd,
                    spent_usd: if pidx == period { spent } else { 0.0 },
                    period_ms: bd.period_ms,
                    period_start_ms: period as f64 * bd.period_ms,
                    downgrade: bd.downgrade,
                }
            })
            .collect();
        ProbeEvent::Arrival { t, cache, budgets }
    }

    fn push(&mut self, t: f64, kind: Kind, slot: u32) {
        self.seq += 1;
        self.heap.push(Event {
            t,
            kind,
            seq: self.seq,
            slot,
        });
    }

    /// Request `r` arrives at `t`: the cache may answer it, a budget may downgrade or
    /// refuse it; otherwise it gets a slot (returned) and starts at once.
    fn arrive(&mut self, r: usize, t: f64) -> Option<u32> {
        let b = self.b;
        if P::ACTIVE && self.probe.watches(r) {
            let e = self.arrival_view(r, t);
            self.probe.record(e);
        }
        let mut f = Flight::new(self.env, b, r, (self.base + r) as u32, t);
        if let Some(keys) = &b.cache
            && let Some(cfg) = &b.gateway.cache
            && let Some(e) = self.cache[keys.group[r] as usize]
            && e.expires > t
        {
            f.row.flags |= flags::CACHE_HIT;
            f.row.status = Status::OK;
            f.row.model = e.model;
            f.row.served = e.served;
            f.row.latency_ms = cfg.hit_latency_ms;
            f.row.ttft_ms = cfg.hit_latency_ms as f32;
            f.row.quality = e.quality;
            f.row.output_tokens = e.output_tokens;
            self.rows[r] = f.row;
            return None;
        }
        let mut rejected = false;
        for (bi, bd) in b.budgets.iter().enumerate() {
            let g = bd.key.as_ref().map(|k| k.group(r)).unwrap_or(0);
            let period = (t / bd.period_ms).floor() as i64;
            let (pidx, spent) = self.spend[bi][g];
            let spent = if pidx == period { spent } else { 0.0 };
            if spent >= bd.limit_usd {
                match bd.downgrade {
                    Some(m) => {
                        let mut pl = Plan::EMPTY;
                        pl.push(m);
                        f.set_plan(pl);
                        f.row.flags |= flags::BUDGET_DOWNGRADE;
                    }
                    None => rejected = true,
                }
            }
        }
        if rejected {
            f.row.flags |= flags::BUDGET_REJECTED;
            f.row.status = Status::GATEWAY_REJECTED;
            f.row.quality = b.gateway.failure_quality;
            self.rows[r] = f.row;
            return None;
        }
        if f.row.flags & flags::BUDGET_DOWNGRADE == 0 {
            order_stateful(b, &mut f, &mut self.gate, t);
        }
        if P::ACTIVE && self.probe.watches(r) {
            self.probe.record(ProbeEvent::Plan {
                models: f.plan.as_slice().to_vec(),
            });
        }
        let s = Slot {
            flight: f,
            call: None,
            park_t: t,
            woken_by: None,
        };
        Some(match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = s;
                i
            }
            None => {
                self.slots.push(s);
                (self.slots.len() - 1) as u32
            }
        })
    }

    /// A call of `slot` ends at `t`: the gate hears of it (and wakes the head of the
    /// model's queue), budgets count its cost, the flight decides what is next.
    fn complete(&mut self, slot: u32, t: f64) -> Result<(), MissingCell> {
        let (b, si) = (self.b, slot as usize);
        let call = self.slots[si]
            .call
            .take()
            .expect("a completing slot has a call");
        let r = self.slots[si].flight.r;
        if call.admitted {
            self.gate
                .complete(b, &call.outcome, r, call.start, call.end);
            let m = call.outcome.model;
            if let Some(q) = self.gate.models[m as usize].queue.pop_front() {
                self.slots[q as usize].woken_by = Some(m);
                self.push(t, Kind::Start, q);
            }
        }
        for (bi, bd) in b.budgets.iter().enumerate() {
            let g = bd.key.as_ref().map(|k| k.group(r)).unwrap_or(0);
            let period = (t / bd.period_ms).floor() as i64;
            let e = &mut self.spend[bi][g];
            if e.0 != period {
                *e = (period, 0.0);
            }
            e.1 += call.outcome.cost_usd;
        }
        let pos = self.slots[si].flight.pos;
        let next = self.slots[si]
            .flight
            .finish_call(b, &call, &mut self.attempts);
        if P::ACTIVE && self.probe.watches(r) {
            let after = call
                .admitted
                .then(|| self.gate.view(b, call.outcome.model, t));
            let next = Next::of(&call, pos, &self.slots[si].flight, next);
            self.probe.record(ProbeEvent::CallEnd { call, next, after });
        }
        match next {
            Some(next) if next <= t => self.start(slot, t)?,
            Some(next) => self.push(next, Kind::Start, slot),
            None => self.finish(slot, t),
        }
        Ok(())
    }

    /// `slot`'s flight tries its next attempt at `t0`: a call, a place in a queue, or
    /// the end.
    fn start(&mut self, slot_idx: u32, t0: f64) -> Result<(), MissingCell> {
        let (env, b, si) = (self.env, self.b, slot_idx as usize);
        let slot = &mut self.slots[si];
        if slot.flight.row.flags & flags::QUEUED != 0 && slot.park_t < t0 {
            slot.flight.row.queue_ms += (t0 - slot.park_t) as f32;
            slot.park_t = t0;
        }
        let woken_by = slot.woken_by.take();
        let step = if P::ACTIVE && self.probe.watches(slot.flight.r) {
            let mut g = Probed {
                gate: &mut self.gate,
                probe: &mut *self.probe,
            };
            slot.flight.next(env, b, &mut g, t0, &mut self.attempts)?
        } else {
            slot.flight
                .next(env, b, &mut self.gate, t0, &mut self.attempts)?
        };
        // A flight woken by a freed slot of model w that does not take it (it skips w
        // in cooldown, is rejected, or is done) passes the wake-up on, so no queued
        // flight waits for a slot that is free.
        let took_slot = |w: ModelId| match &step {
            Step::Call(c) => c.admitted && c.outcome.model == w,
            Step::Park(m) => *m == w,
            Step::Done => false,
        };
        if let Some(w) = woken_by
            && !took_slot(w)
            && let Some(q) = self.gate.models[w as usize].queue.pop_front()
        {
            self.slots[q as usize].woken_by = Some(w);
            self.push(t0, Kind::Start, q);
        }
        match step {
            Step::Call(c) => {
                let end = c.end;
                self.slots[si].call = Some(c);
                self.push(end, Kind::Complete, slot_idx);
            }
            Step::Park(m) => {
                let slot = &mut self.slots[si];
                slot.flight.row.flags |= flags::QUEUED;
                slot.park_t = t0;
                // Woken but beaten to the slot: back to the head of the line (FIFO).
                let queue = &mut self.gate.models[m as usize].queue;
                if woken_by == Some(m) {
                    queue.push_front(slot_idx);
                } else {
                    queue.push_back(slot_idx);
                }
            }
            Step::Done => self.finish(slot_idx, t0),
        }
        Ok(())
    }

    /// `slot`'s request is done at `t`: its row is final, a success fills the cache,
    /// the slot is free again.
    fn finish(&mut self, slot: u32, t: f64) {
        let b = self.b;
        let f = &self.slots[slot as usize].flight;
        if f.row.status.is_ok()
            && let (Some(keys), Some(cfg)) = (&b.cache, &b.gateway.cache)
        {
            self.cache[keys.group[f.r] as usize] = Some(CacheEntry {
                expires: t + cfg.ttl_s * 1000.0,
                model: f.row.model,
                served: f.row.served,
                quality: f.row.quality,
                output_tokens: f.row.output_tokens,
            });
        }
        self.rows[f.r] = f.row;
        self.free.push(slot);
    }
}
