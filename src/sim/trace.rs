//! The simulation's output: one row per (policy, request), plus every attempt.

use crate::dataset::Status;
use crate::policy::PolicyKind;

/// Trace row flags.
pub mod flags {
    /// A later model of the plan answered (fallback).
    pub const FELL_BACK: u32 = 1;
    /// At least one retry on the same model.
    pub const RETRIED: u32 = 1 << 1;
    /// An imputed response was used (the cell was missing).
    pub const IMPUTED: u32 = 1 << 2;
    /// The answer was cut by `max_output_tokens`.
    pub const TRUNCATED: u32 = 1 << 3;
    /// Not simulated: the chosen model had no response (`--missing skip`).
    pub const UNCOVERED: u32 = 1 << 4;
    /// A cascade escalated past its first model.
    pub const ESCALATED: u32 = 1 << 5;
    /// Served from the gateway cache.
    pub const CACHE_HIT: u32 = 1 << 6;
    /// Re-routed because a budget was exhausted.
    pub const BUDGET_DOWNGRADE: u32 = 1 << 7;
    /// Rejected because a budget was exhausted.
    pub const BUDGET_REJECTED: u32 = 1 << 8;
    /// Token counts were estimated (not recorded).
    pub const EST_TOKENS: u32 = 1 << 9;
    /// Latency was modelled (not recorded).
    pub const MODELLED_LATENCY: u32 = 1 << 10;
    /// A gateway-local 429 (rpm/tpm limit) happened.
    pub const LOCAL_429: u32 = 1 << 11;
    /// A model was skipped because it was cooling down.
    pub const COOLDOWN_SKIP: u32 = 1 << 12;
    /// A model was skipped because its circuit was open.
    pub const BREAKER_SKIP: u32 = 1 << 13;
    /// Waited in a concurrency queue.
    pub const QUEUED: u32 = 1 << 14;
    /// A context-window check skipped a model.
    pub const CONTEXT_SKIP: u32 = 1 << 15;
    /// An outage scenario answered at least one attempt.
    pub const OUTAGE: u32 = 1 << 16;

    /// (flag, column name) pairs for tables.
    pub const NAMES: [(u32, &str); 17] = [
        (FELL_BACK, "fell_back"),
        (RETRIED, "retried"),
        (IMPUTED, "imputed"),
        (TRUNCATED, "truncated"),
        (UNCOVERED, "uncovered"),
        (ESCALATED, "escalated"),
        (CACHE_HIT, "cache_hit"),
        (BUDGET_DOWNGRADE, "budget_downgrade"),
        (BUDGET_REJECTED, "budget_rejected"),
        (EST_TOKENS, "estimated_tokens"),
        (MODELLED_LATENCY, "modelled_latency"),
        (LOCAL_429, "local_429"),
        (COOLDOWN_SKIP, "cooldown_skip"),
        (BREAKER_SKIP, "breaker_skip"),
        (QUEUED, "queued"),
        (CONTEXT_SKIP, "context_skip"),
        (OUTAGE, "outage"),
    ];
}

/// Marker for "no model" / "default route" in compact columns.
pub const NONE16: u16 = u16::MAX;
/// Rule index of the `[default]` route.
pub const DEFAULT_RULE: u16 = u16::MAX - 1;

/// Outcome of one request under one policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceRow {
    /// Rule that matched (index into the policy's rules, [`DEFAULT_RULE`], or NONE16).
    pub rule: u16,
    /// Model that produced the final answer (or the last one tried), NONE16 if none.
    pub model: u16,
    /// The model the policy picked first (its route's first model, before any
    /// fallback, retry or skip), NONE16 if none: the action off-policy estimates
    /// compare with a log's.
    pub first: u16,
    /// The model that actually answered when the recording says another one did (a
    /// gateway's fallback, a router's pick): index into [`Trace::served_models`], or
    /// NONE16.
    pub served: u16,
    /// Final status ([`Status::MISSING`] when uncovered).
    pub status: Status,
    /// Calls made (attempts reaching a provider, incl. retries and escalations).
    pub attempts: u16,
    /// Bit set of [`flags`].
    pub flags: u32,
    /// Total cost of all attempts, USD.
    pub cost_usd: f64,
    /// End-to-end latency (queueing, attempts and back-off waits), ms.
    pub latency_ms: f64,
    /// Time to first token of the final answer, from arrival, ms (NaN if unknown).
    pub ttft_ms: f32,
    /// Quality of the final answer (NaN when unlabelled; failure_quality on failure).
    pub quality: f64,
    /// Prompt tokens of the final attempt.
    pub input_tokens: u32,
    /// Completion tokens of the final attempt.
    pub output_tokens: u32,
    /// Time spent waiting in gateway queues, ms.
    pub queue_ms: f32,
}

impl TraceRow {
    /// An empty row.
    pub const EMPTY: TraceRow = TraceRow {
        rule: NONE16,
        model: NONE16,
        first: NONE16,
        served: NONE16,
        status: Status::MISSING,
        attempts: 0,
        flags: 0,
        cost_usd: 0.0,
        latency_ms: 0.0,
        ttft_ms: f32::NAN,
        quality: f64::NAN,
        input_tokens: 0,
        output_tokens: 0,
        queue_ms: 0.0,
    };

    /// Whether the request was simulated (not uncovered).
    #[inline]
    pub fn covered(&self) -> bool {
        self.flags & flags::UNCOVERED == 0
    }

    /// Whether a flag is set.
    #[inline]
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// One call (or local rejection) within a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// Trace row (policy × n_requests + request).
    pub row: u32,
    /// Model.
    pub model: u16,
    /// Position in the request's attempt sequence.
    pub seq: u16,
    /// Try number on this model (0 = first try).
    pub try_no: u16,
    /// Status.
    pub status: Status,
    /// Start, ms after the request's arrival.
    pub start_ms: f32,
    /// Duration, ms.
    pub latency_ms: f32,
    /// Cost, USD.
    pub cost_usd: f64,
}

/// What the report needs to know about a policy.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    /// Name.
    pub name: String,
    /// User or baseline.
    pub kind: PolicyKind,
    /// Description.
    pub description: String,
    /// Rule names (index = rule id).
    pub rules: Vec<String>,
    /// File (empty for baselines).
    pub file: String,
    /// Whether it ran in the virtual-time engine.
    pub stateful: bool,
}

/// All rows of a run. Rows are policy-major: `rows[p * n_requests + r]`.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Policies in order.
    pub policies: Vec<PolicyInfo>,
    /// Model names.
    pub models: Vec<String>,
    /// Names of models that answered in place of a dataset model.
    pub served_models: Vec<String>,
    /// Requests per policy.
    pub n_requests: usize,
    /// Rows.
    pub rows: Vec<TraceRow>,
    /// Attempts, ordered by row then sequence.
    pub attempts: Vec<Attempt>,
    /// Arrival of each request per policy, ms after the first arrival.
    pub arrivals: Vec<std::sync::Arc<[f64]>>,
    /// Seed used.
    pub seed: u64,
}

impl Trace {
    /// Rows of one policy.
    pub fn policy_rows(&self, p: usize) -> &[TraceRow] {
        &self.rows[p * self.n_requests..(p + 1) * self.n_requests]
    }

    /// Arrival of request `r` under policy `p`, ms after the first arrival.
    pub fn arrival(&self, p: usize, r: usize) -> f64 {
        self.arrivals[p][r]
    }

    /// Index of a policy by name.
    pub fn policy_index(&self, name: &str) -> Option<usize> {
        self.policies.iter().position(|p| p.name == name)
    }

    /// Rule name of a row.
    pub fn rule_name(&self, p: usize, rule: u16) -> &str {
        match rule {
            DEFAULT_RULE => "default",
            NONE16 => "",
            i => self.policies[p]
                .rules
                .get(i as usize)
                .map(|s| s.as_str())
                .unwrap_or("?"),
        }
    }

    /// Model name of an id.
    pub fn model_name(&self, m: u16) -> &str {
        if m == NONE16 {
            ""
        } else {
            &self.models[m as usize]
        }
    }

    /// The model that answered a row (or was last tried): the served model when the
    /// recording names one, else the row's model; "" when none.
    pub fn answered_by(&self, r: &TraceRow) -> &str {
        if r.served != NONE16 {
            &self.served_models[r.served as usize]
        } else {
            self.model_name(r.model)
        }
    }
}
