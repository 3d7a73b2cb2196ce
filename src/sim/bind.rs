//! Binding a policy to a dataset: model ids, metadata columns, precomputed per-request
//! tables (complexity level, hash buckets, sticky keys, folds) and cross-fitted
//! estimates, so the engine's inner loop only reads numbers.
//!
//! Binding reports unknown models, missing metadata fields and conditions the data
//! cannot answer, at the policy file's line and column.

use super::costs::Costs;
use crate::dataset::{Dataset, MetaColumn, ModelId, Sample, Status, StatusClass, flags as sflags};
use crate::error::{Diagnostic, suggest};
use crate::policy::cond::{Cond, KeyRef, MetaOp, MetaValue, NumField, NumTest, TextTest};
use crate::policy::gateway::{Gateway, OverBudget, Scenario};
use crate::policy::route::{Constraints, LatencyStat, MAX_PLAN, Route, Strategy, TierSelect};
use crate::policy::{ModelRef, Policy, PolicyKind};
use crate::pricing::ModelPrice;
use crate::tomlx::Span;
use crate::util::hash::{bucket_100, stable_hash};
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
    pub rules: Vec<(BCond, BRoute)>,
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
    /// rpm, tpm, max concurrency per model.
    pub limits: Vec<(Option<u32>, Option<u64>, Option<u32>)>,
    /// Cache group per request (identical inputs share a group) and group count.
    pub cache_group: Option<(Arc<Vec<u32>>, usize)>,
    /// Whether the virtual-time engine is needed.
    pub stateful: bool,
}

/// Shared inputs for binding.
pub struct BindCtx<'a> {
    /// Dataset.
    pub ds: &'a Dataset,
    /// Price per dataset model.
    pub prices: &'a [ModelPrice],
    /// Run seed.
    pub seed: u64,
    /// Whether arrivals follow the dataset's timestamps (`--arrival recorded`), so
    /// what-ifs given as timestamps can be placed on the virtual clock.
    pub recorded_clock: bool,
    /// `--speedup`: recorded gaps are divided by it (timestamp outages too).
    pub speedup: f64,
}

struct Binder<'a, 'p> {
    ctx: &'a BindCtx<'a>,
    p: &'p Policy,
    diags: Vec<Diagnostic>,
    /// Costs and latency factors with the policy's what-ifs, for learned routes.
    costs: Costs,
    latency_factor: Vec<f64>,
}

impl Binder<'_, '_> {
    fn err(&mut self, span: &Span, msg: String) {
        self.diags.push(self.p.diag(span, msg));
    }

    fn model(&mut self, m: &ModelRef) -> Option<ModelId> {
        let ds = self.ctx.ds;
        if let Some(d) = self.p.deployments.iter().find(|d| d.alias == m.name) {
            return match ds.model_id(&d.model) {
                Some(id) => Some(id),
                None => {
                    let span = d.span.clone();
                    let msg = format!(
                        "model \"{}\" (alias \"{}\") is not in the dataset{}",
                        d.model,
                        d.alias,
                        models_hint(ds, &d.model)
                    );
                    self.err(&span, msg);
                    None
                }
            };
        }
        match ds.model_id(&m.name) {
            Some(id) => Some(id),
            None => {
                let msg = format!(
                    "unknown model \"{}\": not an alias in [models] and not in the dataset{}",
                    m.name,
                    models_hint(ds, &m.name)
                );
                self.err(&m.span, msg);
                None
            }
        }
    }

    fn models(&mut self, ms: &[ModelRef]) -> Option<Vec<ModelId>> {
        let mut out = Vec::with_capacity(ms.len());
        let mut ok = true;
        for m in ms {
            match self.model(m) {
                Some(id) => out.push(id),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn candidates(&mut self, ms: &[ModelRef]) -> Option<Vec<ModelId>> {
        if ms.is_empty() {
            Some((0..self.ctx.ds.n_models() as ModelId).collect())
        } else {
            self.models(ms)
        }
    }

    fn meta_col(&mut self, key: &str, span: &Span) -> Option<usize> {
        let r = &self.ctx.ds.requests;
        match r.meta_index(key) {
            Some(i) => Some(i),
            None => {
                let names: Vec<&str> = r.meta.iter().map(|m| m.name.as_str()).collect();
                let hint = match suggest(key, names.iter().copied()) {
                    Some(s) => format!("; did you mean meta.{s}?"),
                    None if names.is_empty() => "; the dataset has no metadata fields".into(),
                    None => format!("; its fields: {}", names.join(", ")),
                };
                self.err(
                    span,
                    format!("condition on meta.{key}, but the dataset has no such field{hint}"),
                );
                None
            }
        }
    }

    fn key_col(&mut self, key: &KeyRef) -> Option<KeyCol> {
        let r = &self.ctx.ds.requests;
        match key {
            KeyRef::Id => Some(KeyCol {
                codes: Arc::new((0..r.len() as u32).collect()),
                n_codes: r.len(),
            }),
            KeyRef::Meta(k, span) => {
                let col = self.meta_col(k, span)?;
                let mc = &r.meta[col];
                Some(KeyCol {
                    codes: Arc::new(mc.codes.clone()),
                    n_codes: mc.dict.len(),
                })
            }
        }
    }

    /// Stable uniform value in [0, 1) per request from a key (same key ⇒ same value).
    fn sticky_values(&mut self, key: &KeyRef, salt: &str) -> Option<Arc<Vec<f64>>> {
        let r = &self.ctx.ds.requests;
        let to_unit = |h: u64| (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let salted = |s: &str| {
            let mut b = salt.as_bytes().to_vec();
            b.push(0);
            b.extend_from_slice(s.as_bytes());
            to_unit(stable_hash(&b))
        };
        match key {
            KeyRef::Id => Some(Arc::new(r.ids.iter().map(|id| salted(id)).collect())),
            KeyRef::Meta(k, span) => {
                let col = self.meta_col(k, span)?;
                let mc = &r.meta[col];
                let per_code: Vec<f64> = mc.dict.iter().map(|v| salted(v)).collect();
                Some(Arc::new(
                    mc.codes
                        .iter()
                        .enumerate()
                        .map(|(i, &c)| {
                            if c == MetaColumn::NONE {
                                // No key: fall back to the request id (still stable).
                                salted(&r.ids[i])
                            } else {
                                per_code[c as usize]
                            }
                        })
                        .collect(),
                ))
            }
        }
    }

    fn cond(&mut self, c: &Cond) -> Option<BCond> {
        let ds = self.ctx.ds;
        Some(match c {
            Cond::Always => BCond::Always,
            Cond::Num { field, test, span } => {
                if field.needs_ts() && !ds.requests.has_timestamps() {
                    let msg = format!(
                        "condition on {}, but the dataset has no request timestamps (column ts)",
                        field.name()
                    );
                    self.err(span, msg);
                    return None;
                }
                BCond::Num(*field, *test)
            }
            Cond::Text(t) => BCond::Text(Arc::new(text_bits(t, &ds.requests.input))),
            Cond::Meta { key, span, ops } => {
                let col = self.meta_col(key, span)?;
                let mc = &ds.requests.meta[col];
                let mut parts = Vec::new();
                for op in ops {
                    parts.push(match op {
                        MetaOp::In(vals) => BCond::MetaCode {
                            col,
                            accept: mc
                                .dict
                                .iter()
                                .map(|d| vals.iter().any(|v| value_eq(v, d)))
                                .collect(),
                            absent: false,
                        },
                        MetaOp::NotIn(vals) => BCond::MetaCode {
                            col,
                            accept: mc
                                .dict
                                .iter()
                                .map(|d| !vals.iter().any(|v| value_eq(v, d)))
                                .collect(),
                            absent: true,
                        },
                        MetaOp::Regex(re) => BCond::MetaCode {
                            col,
                            accept: mc.dict.iter().map(|d| re.is_match(d)).collect(),
                            absent: false,
                        },
                        MetaOp::Exists(want) => BCond::MetaCode {
                            col,
                            accept: vec![*want; mc.dict.len()],
                            absent: !*want,
                        },
                        MetaOp::Num(test) => BCond::MetaNum { col, test: *test },
                    });
                }
                if parts.len() == 1 {
                    parts.pop().expect("one")
                } else {
                    BCond::All(parts)
                }
            }
            Cond::Bucket { key, lo, hi, salt } => {
                let r = &ds.requests;
                let salt = if salt.is_empty() {
                    self.p.name.clone()
                } else {
                    salt.clone()
                };
                let buckets: Vec<u8> = match key {
                    KeyRef::Id => r
                        .ids
                        .iter()
                        .map(|id| bucket_100(&salt, id.as_bytes()))
                        .collect(),
                    KeyRef::Meta(k, span) => {
                        let col = self.meta_col(k, span)?;
                        let mc = &r.meta[col];
                        let per_code: Vec<u8> = mc
                            .dict
                            .iter()
                            .map(|v| bucket_100(&salt, v.as_bytes()))
                            .collect();
                        mc.codes
                            .iter()
                            .enumerate()
                            .map(|(i, &c)| {
                                if c == MetaColumn::NONE {
                                    bucket_100(&salt, r.ids[i].as_bytes())
                                } else {
                                    per_code[c as usize]
                                }
                            })
                            .collect()
                    }
                };
                BCond::Bucket {
                    buckets: Arc::new(buckets),
                    lo: *lo,
                    hi: *hi,
                }
            }
            Cond::Complexity { levels, .. } => {
                let names = self
                    .p
                    .classifier
                    .as_ref()
                    .map(|c| c.names())
                    .unwrap_or_default();
                BCond::Complexity(
                    names
                        .iter()
                        .map(|n| levels.iter().any(|l| l == n))
                        .collect(),
                )
            }
            Cond::Any(v) => BCond::Any(v.iter().map(|c| self.cond(c)).collect::<Option<Vec<_>>>()?),
            Cond::All(v) => BCond::All(v.iter().map(|c| self.cond(c)).collect::<Option<Vec<_>>>()?),
            Cond::Not(c) => BCond::Not(Box::new(self.cond(c)?)),
        })
    }

    fn route(&mut self, r: &Route) -> Option<BRoute> {
        let fallbacks = self.models(&r.fallbacks);
        let strategy = match &r.strategy {
            Strategy::Model(m) => BStrategy::Chain(vec![self.model(m)?]),
            Strategy::Fallback(v) => BStrategy::Chain(self.models(v)?),
            Strategy::Split { arms, sticky } => {
                let models: Vec<ModelRef> = arms.iter().map(|(m, _)| m.clone()).collect();
                let models = self.models(&models)?;
                let mut acc = 0.0;
                let cum = arms
                    .iter()
                    .map(|(_, w)| {
                        acc += w;
                        acc
                    })
                    .collect();
                let sticky = match sticky {
                    Some(k) => Some(self.sticky_values(k, &self.p.name.clone())?),
                    None => None,
                };
                BStrategy::Split {
                    models,
                    cum,
                    sticky,
                }
            }
            Strategy::Shuffle { models, weights } => BStrategy::Shuffle {
                models: self.models(models)?,
                weights: weights.clone(),
            },
            Strategy::Tier(sel) => {
                let mut tiers = Vec::new();
                for (_, ms) in &self.p.tiers {
                    tiers.push(self.models(ms)?);
                }
                let idx = |name: &str| self.p.tiers.iter().position(|(n, _)| n == name);
                match sel {
                    TierSelect::Fixed(name, _) => BStrategy::Tier {
                        tiers,
                        by: None,
                        default: idx(name)?,
                    },
                    TierSelect::ByKey {
                        key, default, map, ..
                    } => {
                        let default = idx(default)?;
                        let tier_of = |v: &str| -> usize {
                            let name = map
                                .iter()
                                .find(|(k, _, _)| k == v)
                                .map(|(_, t, _)| t.as_str())
                                .unwrap_or(v);
                            idx(name).unwrap_or(default)
                        };
                        let by = match key {
                            KeyRef::Id => vec![default as u16; self.ctx.ds.n_requests()],
                            KeyRef::Meta(k, span) => {
                                let col = self.meta_col(k, span)?;
                                let mc = &self.ctx.ds.requests.meta[col];
                                let per_code: Vec<u16> =
                                    mc.dict.iter().map(|v| tier_of(v) as u16).collect();
                                mc.codes
                                    .iter()
                                    .map(|&c| {
                                        if c == MetaColumn::NONE {
                                            default as u16
                                        } else {
                                            per_code[c as usize]
                                        }
                                    })
                                    .collect()
                            }
                        };
                        BStrategy::Tier {
                            tiers,
                            by: Some(Arc::new(by)),
                            default,
                        }
                    }
                }
            }
            Strategy::Cheapest {
                candidates,
                cons,
                per,
                otherwise,
            }
            | Strategy::Best {
                candidates,
                cons,
                per,
                otherwise,
            } => {
                let cands = self.candidates(candidates)?;
                let otherwise = match otherwise {
                    Some(o) => self.model(o)?,
                    None => cands[0],
                };
                let seg = match per {
                    Some(k) => Some(self.key_col(k)?),
                    None => None,
                };
                let objective = if matches!(r.strategy, Strategy::Cheapest { .. }) {
                    Objective::Cheapest
                } else {
                    Objective::BestQuality
                };
                let folds = self.p.folds;
                let src = EstimateSource {
                    ds: self.ctx.ds,
                    costs: &self.costs,
                    latency_factor: &self.latency_factor,
                };
                if folds == 0 {
                    let choice = loo_table(&src, &cands, cons, objective, otherwise, seg.as_ref());
                    BStrategy::Table {
                        fold: Arc::new((0..self.ctx.ds.n_requests() as u32).collect()),
                        seg: None,
                        n_seg: 1,
                        choice,
                    }
                } else {
                    let fold = fold_of(self.ctx.ds, folds, self.ctx.seed);
                    let (n_seg, choice) = decision_table(
                        &src,
                        &cands,
                        cons,
                        objective,
                        otherwise,
                        &fold,
                        folds,
                        seg.as_ref(),
                    );
                    BStrategy::Table {
                        fold: Arc::new(fold),
                        seg,
                        n_seg,
                        choice,
                    }
                }
            }
            Strategy::Cascade {
                chain,
                threshold,
                verifier_error,
            } => BStrategy::Cascade {
                chain: self.models(chain)?,
                threshold: *threshold,
                verifier_error: *verifier_error,
            },
            Strategy::Oracle { candidates } => BStrategy::Oracle(self.candidates(candidates)?),
            Strategy::Random { candidates } => BStrategy::Random(self.candidates(candidates)?),
            Strategy::LowestLatency {
                candidates,
                window,
                stat,
                buffer,
            } => BStrategy::LowestLatency {
                candidates: self.candidates(candidates)?,
                window: *window,
                stat: *stat,
                buffer: *buffer,
            },
            Strategy::LeastBusy { candidates } => {
                BStrategy::LeastBusy(self.candidates(candidates)?)
            }
            Strategy::UsageBased { candidates } => {
                BStrategy::UsageBased(self.candidates(candidates)?)
            }
        };
        Some(BRoute {
            strategy,
            fallbacks: fallbacks?,
            fallback_on: r.fallback_on.unwrap_or(self.p.gateway.fallback_on),
        })
    }
}

fn models_hint(ds: &Dataset, name: &str) -> String {
    match suggest(name, ds.models.iter().map(|s| s.as_str())) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => {
            let mut list: Vec<&str> = ds.models.iter().map(|s| s.as_str()).take(12).collect();
            if ds.models.len() > 12 {
                list.push("…");
            }
            format!(" (it has: {})", list.join(", "))
        }
    }
}

fn value_eq(v: &MetaValue, dict_value: &str) -> bool {
    match v {
        MetaValue::Str(s) => s == dict_value,
        MetaValue::Bool(b) => dict_value.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        MetaValue::Num(x) => dict_value.trim().parse::<f64>().is_ok_and(|d| d == *x),
    }
}

/// Cross-fitting fold of each request: a stable hash of its id, salted by the seed.
pub fn fold_of(ds: &Dataset, folds: u32, seed: u64) -> Vec<u32> {
    let salt = format!("fold-{seed}");
    ds.requests
        .ids
        .iter()
        .map(|id| {
            let mut b = salt.as_bytes().to_vec();
            b.push(0);
            b.extend_from_slice(id.as_bytes());
            (stable_hash(&b) % folds as u64) as u32
        })
        .collect()
}

/// What `cheapest` / `best` optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Lowest estimated cost (ties: higher quality).
    Cheapest,
    /// Highest estimated quality (ties: lower cost).
    BestQuality,
}

/// Per-model estimates on a set of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// Mean quality of labelled successful answers (NaN when none).
    pub quality: f64,
    /// Mean cost of successful answers (NaN when none).
    pub cost: f64,
    /// Mean latency of successful answers (NaN when none).
    pub latency: f64,
    /// Labelled successful answers seen.
    pub n_quality: u32,
    /// Successful answers seen.
    pub n_ok: u32,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    q: f64,
    nq: u32,
    cost: f64,
    lat: f64,
    nok: u32,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.q += o.q;
        self.nq += o.nq;
        self.cost += o.cost;
        self.lat += o.lat;
        self.nok += o.nok;
    }
    fn sub(&self, o: &Acc) -> Acc {
        Acc {
            q: self.q - o.q,
            nq: self.nq - o.nq,
            cost: self.cost - o.cost,
            lat: self.lat - o.lat,
            nok: self.nok - o.nok,
        }
    }
    fn estimate(&self) -> Estimate {
        let div = |s: f64, n: u32| if n == 0 { f64::NAN } else { s / n as f64 };
        Estimate {
            quality: div(self.q, self.nq),
            cost: div(self.cost, self.nok),
            latency: div(self.lat, self.nok),
            n_quality: self.nq,
            n_ok: self.nok,
        }
    }
}

/// What learned routes estimate from: the dataset's answers, priced and timed with
/// the policy's what-ifs (so a `price` or `latency` scenario changes decisions too).
pub struct EstimateSource<'a> {
    /// Dataset.
    pub ds: &'a Dataset,
    /// Costs with price what-ifs.
    pub costs: &'a Costs,
    /// Latency what-if factor per model.
    pub latency_factor: &'a [f64],
}

fn accumulate(src: &EstimateSource, r: usize, m: ModelId) -> Acc {
    let smp = src.ds.cell(r, m);
    if !smp.status.is_ok() {
        return Acc::default();
    }
    let labelled = !smp.quality.is_nan();
    Acc {
        q: if labelled { smp.quality } else { 0.0 },
        nq: u32::from(labelled),
        cost: src.costs.sample_cost(smp, m as usize),
        lat: smp.latency_ms as f64 * src.latency_factor[m as usize],
        nok: 1,
    }
}

fn seg_of(seg: Option<&KeyCol>, r: usize) -> usize {
    seg.map(|s| {
        let c = s.codes[r];
        if c == u32::MAX { s.n_codes } else { c as usize }
    })
    .unwrap_or(0)
}

/// Leave-one-out decisions: request r's choice uses every other request's answers.
fn loo_table(
    src: &EstimateSource,
    cands: &[ModelId],
    cons: &Constraints,
    objective: Objective,
    otherwise: ModelId,
    seg: Option<&KeyCol>,
) -> Vec<ModelId> {
    let n = src.ds.n_requests();
    let n_seg = seg.map(|s| s.n_codes + 1).unwrap_or(1);
    let nm = cands.len();
    let mut seg_total = vec![Acc::default(); n_seg * nm];
    let mut grand = vec![Acc::default(); nm];
    for r in 0..n {
        let s = seg_of(seg, r);
        for (ci, &m) in cands.iter().enumerate() {
            let a = accumulate(src, r, m);
            seg_total[s * nm + ci].add(&a);
            grand[ci].add(&a);
        }
    }
    (0..n)
        .map(|r| {
            let s = seg_of(seg, r);
            let ests: Vec<Estimate> = cands
                .iter()
                .enumerate()
                .map(|(ci, &m)| {
                    let own = accumulate(src, r, m);
                    let train = seg_total[s * nm + ci].sub(&own);
                    if train.nq >= MIN_SEGMENT_SAMPLES || n_seg == 1 {
                        train.estimate()
                    } else {
                        grand[ci].sub(&own).estimate()
                    }
                })
                .collect();
            choose(cands, &ests, cons, objective).unwrap_or(otherwise)
        })
        .collect()
}

/// Segments with fewer labelled answers than this use the fold's overall estimate.
pub const MIN_SEGMENT_SAMPLES: u32 = 10;

/// Estimates per (fold, segment, model) from the *other* folds, and the decision for
/// each (fold, segment). Returns (segments, choice table).
#[allow(clippy::too_many_arguments)]
fn decision_table(
    src: &EstimateSource,
    cands: &[ModelId],
    cons: &Constraints,
    objective: Objective,
    otherwise: ModelId,
    fold: &[u32],
    folds: u32,
    seg: Option<&KeyCol>,
) -> (usize, Vec<ModelId>) {
    let ds = src.ds;
    let n_seg = seg.map(|s| s.n_codes + 1).unwrap_or(1);
    let k = folds as usize;
    let nm = cands.len();
    // acc[(fold * n_seg + seg) * nm + c]
    let mut acc = vec![Acc::default(); k * n_seg * nm];
    for (r, &f) in fold.iter().enumerate().take(ds.n_requests()) {
        let s = seg_of(seg, r);
        let f = f as usize;
        for (ci, &m) in cands.iter().enumerate() {
            acc[(f * n_seg + s) * nm + ci].add(&accumulate(src, r, m));
        }
    }
    // Totals per segment and overall, then leave-one-fold-out.
    let mut seg_total = vec![Acc::default(); n_seg * nm];
    let mut fold_all = vec![Acc::default(); k * nm];
    for f in 0..k {
        for s in 0..n_seg {
            for c in 0..nm {
                let a = acc[(f * n_seg + s) * nm + c];
                seg_total[s * nm + c].add(&a);
                fold_all[f * nm + c].add(&a);
            }
        }
    }
    let mut grand = vec![Acc::default(); nm];
    for f in 0..k {
        for c in 0..nm {
            grand[c].add(&fold_all[f * nm + c]);
        }
    }
    let mut choice = vec![otherwise; k * n_seg];
    for f in 0..k {
        for s in 0..n_seg {
            let ests: Vec<Estimate> = (0..nm)
                .map(|c| {
                    let train = seg_total[s * nm + c].sub(&acc[(f * n_seg + s) * nm + c]);
                    if train.nq >= MIN_SEGMENT_SAMPLES || n_seg == 1 {
                        train.estimate()
                    } else {
                        grand[c].sub(&fold_all[f * nm + c]).estimate()
                    }
                })
                .collect();
            choice[f * n_seg + s] = choose(cands, &ests, cons, objective).unwrap_or(otherwise);
        }
    }
    (n_seg, choice)
}

/// Pick a candidate from estimates: those meeting every constraint (unknown estimates
/// fail constraints), best by the objective; `None` when none qualifies.
pub fn choose(
    cands: &[ModelId],
    ests: &[Estimate],
    cons: &Constraints,
    objective: Objective,
) -> Option<ModelId> {
    let ok = |e: &Estimate| {
        cons.max_cost_usd.is_none_or(|x| e.cost <= x)
            && cons.max_latency_ms.is_none_or(|x| e.latency <= x)
            && cons.min_quality.is_none_or(|x| e.quality >= x)
            && e.n_ok > 0
    };
    let mut best: Option<(usize, &Estimate)> = None;
    for (i, e) in ests.iter().enumerate() {
        if !ok(e) {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) => match objective {
                Objective::Cheapest => {
                    e.cost < b.cost || (e.cost == b.cost && nan_lt(b.quality, e.quality))
                }
                Objective::BestQuality => {
                    nan_lt(b.quality, e.quality) || (e.quality == b.quality && e.cost < b.cost)
                }
            },
        };
        if better {
            best = Some((i, e));
        }
    }
    best.map(|(i, _)| cands[i])
}

/// a < b, with NaN lowest.
fn nan_lt(a: f64, b: f64) -> bool {
    match (a.is_nan(), b.is_nan()) {
        (true, false) => true,
        (false, false) => a < b,
        _ => false,
    }
}

/// Bind a policy. All problems are returned together.
pub fn bind(p: &Policy, ctx: &BindCtx) -> Result<Bound, Vec<Diagnostic>> {
    let ds = ctx.ds;
    let nm = ds.n_models();
    let mut b = Binder {
        ctx,
        p,
        diags: Vec::new(),
        costs: Costs::plain(ctx.prices),
        latency_factor: vec![1.0; nm],
    };
    // What-ifs first: learned routes (cheapest, best) estimate with them.
    let whatif = b.scenarios();
    b.costs = Costs::new(ctx.prices, &whatif.price_factor);
    b.latency_factor = whatif.latency_factor.clone();

    let mut rules = Vec::new();
    for r in &p.rules {
        let c = b.cond(&r.when);
        let route = b.route(&r.route);
        if let (Some(c), Some(route)) = (c, route) {
            rules.push((c, route));
        }
    }
    let default = b.route(&p.default);

    // Models of [models] must exist even when no rule uses them.
    for d in &p.deployments {
        let _ = b.model(&ModelRef {
            name: d.alias.clone(),
            span: d.span.clone(),
        });
    }

    let complexity = p
        .classifier
        .as_ref()
        .filter(|_| p.rules.iter().any(|r| r.when.uses_complexity()))
        .and_then(|c| {
            let levels: Vec<Option<BCond>> =
                c.levels.iter().map(|(_, cond)| b.cond(cond)).collect();
            if levels.iter().any(|l| l.is_none()) {
                return None;
            }
            let levels: Vec<BCond> = levels.into_iter().map(|l| l.expect("checked")).collect();
            let names = c.names();
            let default_idx = names
                .iter()
                .position(|n| *n == c.default_level)
                .unwrap_or(0) as u8;
            Some(
                (0..ds.n_requests())
                    .map(|r| {
                        levels
                            .iter()
                            .position(|l| eval(l, ds, r, None))
                            .map(|i| i as u8)
                            .unwrap_or(default_idx)
                    })
                    .collect(),
            )
        });

    let mut budgets = Vec::new();
    for bd in &p.gateway.budgets {
        let key = match &bd.per {
            Some(k) => b.key_col(k),
            None => None,
        };
        let downgrade = match &bd.when_exceeded {
            OverBudget::Reject => None,
            OverBudget::Downgrade(m) => b.model(m),
        };
        budgets.push(BBudget {
            limit_usd: bd.limit_usd,
            period_ms: bd.period_s * 1000.0,
            key,
            downgrade,
        });
    }
    let mut limits = vec![(None, None, None); nm];
    for d in &p.deployments {
        if let Some(m) = ds.model_id(&d.model) {
            let l: &mut (Option<u32>, Option<u64>, Option<u32>) = &mut limits[m as usize];
            l.0 = d.rpm.or(l.0);
            l.1 = d.tpm.or(l.1);
            l.2 = d.max_concurrency.or(l.2);
        }
    }
    let cache_group = match &p.gateway.cache {
        Some(c) if ds.requests.input.all_empty() => {
            b.err(
                &c.span,
                "cache: an exact cache needs the request text, and this dataset has none (no input, prompt or messages column); remove the cache or add the prompts".into(),
            );
            None
        }
        Some(_) => Some(cache_groups(ds)),
        None => None,
    };
    if !b.diags.is_empty() {
        return Err(b.diags);
    }
    Ok(Bound {
        name: p.name.clone(),
        kind: p.kind.clone(),
        salt: stable_hash(p.name.as_bytes()),
        rules,
        default: default.expect("no diagnostics"),
        gateway: p.gateway.clone(),
        complexity,
        context_window: ctx
            .prices
            .iter()
            .map(|p| p.context_window.unwrap_or(u32::MAX))
            .collect(),
        costs: b.costs,
        latency_factor: whatif.latency_factor,
        outages: whatif.outages,
        traffic_factor: whatif.traffic_factor,
        budgets,
        limits,
        cache_group,
        stateful: p.is_stateful(),
    })
}

/// A policy's what-ifs, resolved to models and the virtual clock.
struct WhatIf {
    latency_factor: Vec<f64>,
    price_factor: Vec<f64>,
    outages: Vec<BOutage>,
    traffic_factor: f64,
}

impl Binder<'_, '_> {
    fn scenarios(&mut self) -> WhatIf {
        let ds = self.ctx.ds;
        let nm = ds.n_models();
        let mut w = WhatIf {
            latency_factor: vec![1.0; nm],
            price_factor: vec![1.0; nm],
            outages: Vec::new(),
            traffic_factor: 1.0,
        };
        for s in &self.p.scenarios {
            if let Scenario::Traffic { factor } = s {
                w.traffic_factor *= factor;
            }
        }
        let first_ts = ds
            .requests
            .ts_ms
            .iter()
            .copied()
            .filter(|&t| t != crate::dataset::Requests::NO_TS)
            .min();
        // Recorded time runs this much faster on the virtual clock.
        let compress = self.ctx.speedup * w.traffic_factor;
        for s in &self.p.scenarios {
            match s {
                Scenario::Latency { model, factor } => {
                    if let Some(m) = self.model(model) {
                        w.latency_factor[m as usize] *= factor;
                    }
                }
                Scenario::Price { model, factor } => {
                    if let Some(m) = self.model(model) {
                        w.price_factor[m as usize] *= factor;
                    }
                }
                Scenario::Traffic { .. } => {}
                Scenario::Outage {
                    model,
                    from_ms,
                    to_ms,
                    relative,
                    status,
                } => {
                    let Some(m) = self.model(model) else {
                        continue;
                    };
                    // Offsets are on the virtual clock; timestamps name recorded
                    // wall-clock time, so they are compressed like the arrivals (the
                    // same requests are hit under --speedup or a traffic what-if).
                    let (from, to) = if *relative {
                        (*from_ms as f64, *to_ms as f64)
                    } else {
                        match first_ts {
                            Some(t) if self.ctx.recorded_clock => (
                                (from_ms - t) as f64 / compress,
                                (to_ms - t) as f64 / compress,
                            ),
                            Some(_) => {
                                let span = model.span.clone();
                                self.err(&span, "an outage given as timestamps needs the recorded arrival clock (--arrival recorded); with another arrival model use offsets in seconds (from = 600, to = 1200)".into());
                                continue;
                            }
                            None => {
                                let span = model.span.clone();
                                self.err(&span, "an outage with timestamps needs request timestamps; use offsets in seconds (from = 600, to = 1200)".into());
                                continue;
                            }
                        }
                    };
                    w.outages.push(BOutage {
                        model: m,
                        from_ms: from,
                        to_ms: to,
                        status: Status(*status),
                    });
                }
            }
        }
        w
    }
}

/// Requests that are the same request as recorded share a cache group: the same
/// text, the same prompt size (the text may be only the last message of a longer
/// context) and the same number of turns. Interned once, so the engine compares ids.
/// A request without text never hits (nothing says it repeats another).
fn cache_groups(ds: &Dataset) -> (Arc<Vec<u32>>, usize) {
    let q = &ds.requests;
    let mut ids: std::collections::HashMap<(&str, u32, u16), u32> =
        std::collections::HashMap::new();
    let mut next = 0u32;
    let groups: Vec<u32> = (0..ds.n_requests())
        .map(|r| {
            let text = q.input.get(r);
            if text.is_empty() {
                next += 1;
                return next - 1;
            }
            *ids.entry((text, q.input_tokens[r], q.turns[r]))
                .or_insert_with(|| {
                    next += 1;
                    next - 1
                })
        })
        .collect();
    (Arc::new(groups), next as usize)
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
        BCond::MetaNum { col, test } => test.test(q.meta[*col].nums[r]),
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

/// Evaluate a text test on every prompt (in parallel), as a bit set.
fn text_bits(t: &TextTest, input: &crate::dataset::TextColumn) -> Vec<u64> {
    use rayon::prelude::*;
    let n = input.len();
    (0..n.div_ceil(64))
        .into_par_iter()
        .map(|w| {
            let mut word = 0u64;
            for bit in 0..64 {
                let r = w * 64 + bit;
                if r < n && t.test(input.get(r)) {
                    word |= 1 << bit;
                }
            }
            word
        })
        .collect()
}

/// Per-model imputed sample for `--missing impute`: status ok, median latency and
/// time to first token, median output tokens and mean quality of the model's recorded
/// successful answers (flagged [`sflags::IMPUTED`]). `None` for a model with none.
pub fn imputed_samples(ds: &Dataset) -> Vec<Option<Sample>> {
    (0..ds.n_models())
        .map(|m| {
            let mut lat = Vec::new();
            let mut ttft = Vec::new();
            let mut out = Vec::new();
            let (mut q, mut nq) = (0.0, 0usize);
            for r in 0..ds.n_requests() {
                let s = ds.cell(r, m as ModelId);
                if s.status.is_ok() {
                    lat.push(s.latency_ms as f64);
                    if !s.ttft_ms.is_nan() {
                        ttft.push(s.ttft_ms as f64);
                    }
                    out.push(s.output_tokens as f64);
                    if !s.quality.is_nan() {
                        q += s.quality;
                        nq += 1;
                    }
                }
            }
            if lat.is_empty() {
                return None;
            }
            let med = |v: &[f64]| crate::util::stats::quantile(v, 0.5).unwrap_or(f64::NAN);
            Some(Sample {
                status: Status::OK,
                flags: sflags::IMPUTED,
                output_tokens: med(&out).round() as u32,
                latency_ms: med(&lat) as f32,
                ttft_ms: med(&ttft) as f32,
                quality: if nq > 0 { q / nq as f64 } else { f64::NAN },
                ..Sample::MISSING
            })
        })
        .collect()
}

/// Guard used by the engine: plans never exceed [`MAX_PLAN`] models.
pub const PLAN_CAP: usize = MAX_PLAN;
