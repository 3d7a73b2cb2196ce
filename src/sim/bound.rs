//! A policy bound to one dataset: model ids instead of names, precomputed
//! per-request tables (text matches, buckets, sticky values, complexity, folds and
//! learned decisions), and the gateway's limits per model — what the engine reads in
//! its inner loop, with no string or hash lookup. Built by [`super::bind`].

use super::costs::Costs;
use crate::dataset::{Dataset, MetaColumn, ModelId, Status, StatusClass};
use crate::policy::PolicyKind;
use crate::policy::cond::NumField;
use crate::policy::cond::NumTest;
use crate::policy::gateway::Gateway;
use crate::policy::route::LatencyStat;
use crate::sim::trace::DEFAULT_RULE;
use std::sync::Arc;

/// A condition over dataset columns.
#[derive(Debug, Clone)]
pub enum BCond {
    /// Always true.
    Always,
    /// Numeric field test.
    Num(NumField, NumTest),
    /// Prompt text test, evaluated once per request at bind time (a bit set: text is a
    /// static property of the request, so the engine only reads a bit).
    Text(Arc<Vec<u64>>),
    /// Metadata value's code is accepted (`accept[code]`); `absent` when missing.
    MetaCode {
        /// Column.
        col: usize,
        /// Accepted codes.
        accept: Vec<bool>,
        /// Result when the value is absent.
        absent: bool,
    },
    /// Numeric metadata test.
    MetaNum {
        /// Column.
        col: usize,
        /// Test.
        test: NumTest,
    },
    /// Precomputed per-request bucket in lo..hi.
    Bucket {
        /// Bucket per request.
        buckets: Arc<Vec<u8>>,
        /// Inclusive low.
        lo: u8,
        /// Exclusive high.
        hi: u8,
    },
    /// Complexity level accepted.
    Complexity(Vec<bool>),
    /// Any.
    Any(Vec<BCond>),
    /// All.
    All(Vec<BCond>),
    /// Not.
    Not(Box<BCond>),
}

/// A per-request key, precomputed: a value in [0, 1) per request (for sticky splits)
/// or a group code per request (for budgets and `per` estimates).
#[derive(Debug, Clone)]
pub struct KeyCol {
    /// Group code per request (`u32::MAX` = absent).
    pub codes: Arc<Vec<u32>>,
    /// Number of distinct codes.
    pub n_codes: usize,
}

impl KeyCol {
    /// Group of request `r`: its code, or `n_codes` for "absent" (so there are
    /// `n_codes + 1` groups).
    #[inline]
    pub fn group(&self, r: usize) -> usize {
        let c = self.codes[r];
        if c == u32::MAX {
            self.n_codes
        } else {
            c as usize
        }
    }

    /// Number of groups, "absent" included.
    #[inline]
    pub fn n_groups(&self) -> usize {
        self.n_codes + 1
    }
}

/// Strategy with model ids.
#[derive(Debug, Clone)]
pub enum BStrategy {
    /// Fixed order of models (model, fallback chain).
    Chain(Vec<ModelId>),
    /// Weighted pick; `sticky` gives a uniform value per request from a key.
    Split {
        /// Models.
        models: Vec<ModelId>,
        /// Cumulative weights.
        cum: Vec<f64>,
        /// Stable uniform value per request (sticky), else random per request.
        sticky: Option<Arc<Vec<f64>>>,
    },
    /// Weighted random order.
    Shuffle {
        /// Models.
        models: Vec<ModelId>,
        /// Weights.
        weights: Vec<f64>,
    },
    /// Tier: one member at random first, the others after.
    Tier {
        /// Tier members.
        tiers: Vec<Vec<ModelId>>,
        /// Tier index per request (when chosen by a key).
        by: Option<Arc<Vec<u16>>>,
        /// Fixed or default tier.
        default: usize,
    },
    /// Decision table from cross-fitted estimates: model per (fold, segment).
    /// Leave-one-out uses one fold per request and one segment.
    Table {
        /// Fold per request.
        fold: Arc<Vec<u32>>,
        /// Segment per request (None = one segment).
        seg: Option<KeyCol>,
        /// Segments (codes + 1 for "absent").
        n_seg: usize,
        /// `choice[fold * n_seg + seg]`.
        choice: Vec<ModelId>,
    },
    /// Cascade over a chain.
    Cascade {
        /// Chain.
        chain: Vec<ModelId>,
        /// Accept threshold.
        threshold: f64,
        /// Verifier error rate.
        verifier_error: f64,
    },
    /// Hindsight best.
    Oracle(Vec<ModelId>),
    /// Uniform random.
    Random(Vec<ModelId>),
    /// Lowest latency (stateful).
    LowestLatency {
        /// Candidates.
        candidates: Vec<ModelId>,
        /// Window.
        window: usize,
        /// Statistic.
        stat: LatencyStat,
        /// Buffer.
        buffer: f64,
    },
    /// Least busy (stateful).
    LeastBusy(Vec<ModelId>),
    /// Usage based (stateful).
    UsageBased(Vec<ModelId>),
    /// Each request's logged outcome (the `logged` baseline: rows are read, not
    /// simulated — see [`super::logged`]).
    Logged,
}

/// A bound route.
#[derive(Debug, Clone)]
pub struct BRoute {
    /// Strategy.
    pub strategy: BStrategy,
    /// Models after the strategy's plan.
    pub fallbacks: Vec<ModelId>,
    /// Failures that move to the next model.
    pub fallback_on: StatusClass,
}

/// A bound budget.
#[derive(Debug, Clone)]
pub struct BBudget {
    /// USD per period.
    pub limit_usd: f64,
    /// Period, ms.
    pub period_ms: f64,
    /// Group per request (None = global).
    pub key: Option<KeyCol>,
    /// Downgrade target (None = reject).
    pub downgrade: Option<ModelId>,
}

/// A bound outage.
#[derive(Debug, Clone, Copy)]
pub struct BOutage {
    /// Model.
    pub model: ModelId,
    /// Start, ms on the run's virtual clock (0 = first arrival).
    pub from_ms: f64,
    /// End, exclusive.
    pub to_ms: f64,
    /// Status answered.
    pub status: Status,
}

/// A rule: when its condition holds, its route.
#[derive(Debug, Clone)]
pub struct BRule {
    /// Condition.
    pub when: BCond,
    /// Route.
    pub route: BRoute,
}

/// A deployment's limits (from `[models]`): requests and tokens per minute, calls in
/// flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Calls in flight.
    pub max_concurrency: Option<u32>,
}

/// Cache keys: requests that are the same request share a group.
#[derive(Debug, Clone)]
pub struct CacheKeys {
    /// Group per request.
    pub group: Arc<Vec<u32>>,
    /// Number of groups.
    pub n_groups: usize,
}

/// A policy ready to simulate on one dataset.
#[derive(Debug, Clone)]
pub struct Bound {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: PolicyKind,
    /// Stream salt for the RNG.
    pub salt: u64,
    /// Rules in order.
    pub rules: Vec<BRule>,
    /// Default route.
    pub default: BRoute,
    /// Gateway settings.
    pub gateway: Gateway,
    /// Complexity level per request (when the policy uses it).
    pub complexity: Option<Vec<u8>>,
    /// Context window per model (u32::MAX when unknown).
    pub context_window: Vec<u32>,
    /// What calls cost (price what-ifs applied to list prices and recorded costs).
    pub costs: Costs,
    /// Latency multiplier per model.
    pub latency_factor: Vec<f64>,
    /// Outages.
    pub outages: Vec<BOutage>,
    /// Arrival-rate multiplier.
    pub traffic_factor: f64,
    /// Budgets.
    pub budgets: Vec<BBudget>,
    /// Limits per model.
    pub limits: Vec<Limits>,
    /// Retries of calls to each model: its `[models]` deployment's, else the gateway's.
    pub model_retries: Vec<crate::policy::Retries>,
    /// Timeout of calls to each model, ms: its deployment's, else the gateway's.
    pub model_timeout_ms: Vec<Option<f64>>,
    /// Cache keys, when the policy has a cache.
    pub cache: Option<CacheKeys>,
    /// Whether the virtual-time engine is needed.
    pub stateful: bool,
}

impl Bound {
    /// The route of a rule index ([`DEFAULT_RULE`] for `[default]`).
    #[inline]
    pub fn route(&self, rule: u16) -> &BRoute {
        match rule {
            DEFAULT_RULE => &self.default,
            i => &self.rules[i as usize].route,
        }
    }
}

/// Evaluate a bound condition for request `r` (`levels`: complexity per request).
#[inline]
pub fn eval(c: &BCond, ds: &Dataset, r: usize, levels: Option<&[u8]>) -> bool {
    let q = &ds.requests;
    match c {
        BCond::Always => true,
        BCond::Num(field, test) => {
            let x = match field {
                NumField::InputTokens => q.input_tokens[r] as f64,
                NumField::InputChars => q.input_chars[r] as f64,
                NumField::Turns => q.turns[r] as f64,
                NumField::Hour => crate::dataset::time::hour_utc(q.ts_ms[r]) as f64,
                NumField::Weekday => crate::dataset::time::weekday_utc(q.ts_ms[r]) as f64,
            };
            test.test(x)
        }
        BCond::Text(bits) => (bits[r >> 6] >> (r & 63)) & 1 == 1,
        BCond::MetaCode {
            col,
            accept,
            absent,
        } => {
            let code = q.meta[*col].codes[r];
            if code == MetaColumn::NONE {
                *absent
            } else {
                accept[code as usize]
            }
        }
        BCond::MetaNum { col, test } => test.test(q.meta[*col].num(r)),
        BCond::Bucket { buckets, lo, hi } => {
            let b = buckets[r];
            b >= *lo && b < *hi
        }
        BCond::Complexity(accept) => levels.is_some_and(|l| accept[l[r] as usize]),
        BCond::Any(v) => v.iter().any(|c| eval(c, ds, r, levels)),
        BCond::All(v) => v.iter().all(|c| eval(c, ds, r, levels)),
        BCond::Not(c) => !eval(c, ds, r, levels),
    }
}
