//! Routes: which model(s) a request goes to once a rule matched.
//!
//! Every strategy yields an ordered plan of models: the first is tried, then the
//! route's `fallbacks` (and, for `fallback` chains, the rest of the chain) on failure.

use super::ModelRef;
use super::cond::KeyRef;
use crate::dataset::StatusClass;
use crate::tomlx::{Span, TomlDoc, Val, get, type_name};
use toml::de::DeValue;

/// Constraints for `cheapest` / `best` (estimated on training folds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Estimated mean cost per request ≤ this.
    pub max_cost_usd: Option<f64>,
    /// Estimated mean latency ≤ this.
    pub max_latency_ms: Option<f64>,
    /// Estimated mean quality ≥ this.
    pub min_quality: Option<f64>,
}

/// How a tier is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum TierSelect {
    /// Always this tier.
    Fixed(String, Span),
    /// From a metadata field (its value, or `map[value]`, names the tier), with a
    /// default tier.
    ByKey {
        /// Field holding the tier name.
        key: KeyRef,
        /// Field value → tier name (identity when empty).
        map: Vec<(String, String, Span)>,
        /// Tier when the field is absent or names no tier.
        default: String,
        /// Where the default was written.
        span: Span,
    },
}

/// Statistic used by `lowest_latency`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyStat {
    /// Mean of the window.
    Mean,
    /// A quantile of the window (0.5, 0.95…).
    Quantile(f64),
    /// Exponentially weighted moving average with this weight for the newest value.
    Ewma(f64),
}

/// A routing strategy.
#[derive(Debug, Clone)]
pub enum Strategy {
    /// One model.
    Model(ModelRef),
    /// Try in order.
    Fallback(Vec<ModelRef>),
    /// Weighted random split, optionally sticky by a key.
    Split {
        /// (model, weight > 0).
        arms: Vec<(ModelRef, f64)>,
        /// Key that keeps a user on one arm.
        sticky: Option<KeyRef>,
    },
    /// Random order over models (weights optional), tried in that order.
    Shuffle {
        /// Models.
        models: Vec<ModelRef>,
        /// Weights (all 1 when absent).
        weights: Vec<f64>,
    },
    /// A named group from `[tiers]`; one member at random, the rest as fallbacks.
    Tier(TierSelect),
    /// Cheapest candidate meeting the constraints (estimated, cross-fitted).
    Cheapest {
        /// Candidates (all dataset models when empty).
        candidates: Vec<ModelRef>,
        /// Constraints.
        cons: Constraints,
        /// Estimate per segment of this key (e.g. meta.task).
        per: Option<KeyRef>,
        /// Model when no candidate meets the constraints (default: first candidate).
        otherwise: Option<ModelRef>,
    },
    /// Highest estimated quality meeting the constraints (estimated, cross-fitted).
    Best {
        /// Candidates (all dataset models when empty).
        candidates: Vec<ModelRef>,
        /// Constraints.
        cons: Constraints,
        /// Estimate per segment of this key.
        per: Option<KeyRef>,
        /// Model when no candidate meets the constraints.
        otherwise: Option<ModelRef>,
    },
    /// Try models in order; escalate when the recorded quality is below the threshold.
    Cascade {
        /// Models, cheapest first.
        chain: Vec<ModelRef>,
        /// Accept an answer with quality ≥ threshold.
        threshold: f64,
        /// Probability the verifier's accept/reject decision is wrong.
        verifier_error: f64,
    },
    /// Hindsight best model per request (reference only; never deployable).
    Oracle {
        /// Candidates (all when empty).
        candidates: Vec<ModelRef>,
    },
    /// Uniformly random model.
    Random {
        /// Candidates (all when empty).
        candidates: Vec<ModelRef>,
    },
    /// Lowest observed latency (LiteLLM `latency-based-routing`), learned in virtual time.
    LowestLatency {
        /// Candidates.
        candidates: Vec<ModelRef>,
        /// Completed calls remembered per model.
        window: usize,
        /// Statistic over the window.
        stat: LatencyStat,
        /// Models within (1 + buffer) × best are equally eligible (picked at random).
        buffer: f64,
    },
    /// Fewest calls in flight.
    LeastBusy {
        /// Candidates.
        candidates: Vec<ModelRef>,
    },
    /// Lowest tokens used this minute, among deployments under their rpm/tpm limits.
    UsageBased {
        /// Candidates.
        candidates: Vec<ModelRef>,
    },
    /// What production did: each request's logged outcome (the `logged` baseline only;
    /// not a key a policy file can use).
    Logged,
}

impl Strategy {
    /// Whether the strategy needs state across requests.
    pub fn is_stateful(&self) -> bool {
        matches!(
            self,
            Strategy::LowestLatency { .. }
                | Strategy::LeastBusy { .. }
                | Strategy::UsageBased { .. }
        )
    }

    /// Short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Strategy::Model(_) => "model",
            Strategy::Fallback(_) => "fallback",
            Strategy::Split { .. } => "split",
            Strategy::Shuffle { .. } => "shuffle",
            Strategy::Tier(_) => "tier",
            Strategy::Cheapest { .. } => "cheapest",
            Strategy::Best { .. } => "best",
            Strategy::Cascade { .. } => "cascade",
            Strategy::Oracle { .. } => "oracle",
            Strategy::Random { .. } => "random",
            Strategy::LowestLatency { .. } => "lowest_latency",
            Strategy::LeastBusy { .. } => "least_busy",
            Strategy::UsageBased { .. } => "usage_based",
            Strategy::Logged => "logged",
        }
    }
}

/// A route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Strategy.
    pub strategy: Strategy,
    /// Models tried after the strategy's own plan fails.
    pub fallbacks: Vec<ModelRef>,
    /// Failures that move on to the next model (default: the gateway's).
    pub fallback_on: Option<StatusClass>,
    /// Where the route was written.
    pub span: Span,
}

/// Longest plan a route may produce (models tried for one request).
pub const MAX_PLAN: usize = 16;

const STRATEGIES: &[&str] = &[
    "model",
    "fallback",
    "split",
    "shuffle",
    "tier",
    "cheapest",
    "best",
    "cascade",
    "oracle",
    "random",
    "lowest_latency",
    "least_busy",
    "usage_based",
];
const MODIFIERS: &[&str] = &["sticky", "fallbacks", "fallback_on"];

/// A model reference from a string value.
pub fn model_ref(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<ModelRef> {
    doc.string(v, what).map(|name| ModelRef {
        name,
        span: v.span(),
    })
}

/// Model references from a string or an array of strings.
pub fn model_refs(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<Vec<ModelRef>> {
    doc.strings(v, what).map(|l| {
        l.into_iter()
            .map(|(name, span)| ModelRef { name, span })
            .collect()
    })
}

/// Parse a failure-class list (`["429", "5xx", "timeout"]`).
pub fn parse_classes(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<StatusClass> {
    let list = doc.strings(v, what)?;
    let mut c = StatusClass::NONE;
    let mut ok = true;
    for (name, span) in list {
        match StatusClass::from_name(&name) {
            Some(x) => c = c.union(x),
            None => {
                let names: Vec<&str> = StatusClass::NAMES.iter().map(|(n, _)| *n).collect();
                doc.err(
                    span,
                    format!(
                        "{what}: unknown failure class \"{name}\"; expected one of {}",
                        names.join(", ")
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(c)
}

/// Parse a route: a model name, or a table with exactly one strategy key.
pub fn parse_route(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<Route> {
    if let DeValue::String(_) = v.get_ref() {
        let m = model_ref(doc, v, what)?;
        return Some(Route {
            strategy: Strategy::Model(m),
            fallbacks: Vec::new(),
            fallback_on: None,
            span: v.span(),
        });
    }
    let t = match v.get_ref() {
        DeValue::Table(t) => t,
        other => {
            doc.err(
                v.span(),
                format!("{what}: expected a model name or a table such as {{ fallback = [\"a\", \"b\"] }}, found {}", type_name(other)),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = STRATEGIES.iter().chain(MODIFIERS).copied().collect();
    doc.check_keys(t, &allowed, what);
    let strategies: Vec<&str> = t
        .iter()
        .map(|(k, _)| k.get_ref().as_ref())
        .filter(|k: &&str| STRATEGIES.contains(k))
        .collect();
    if strategies.len() != 1 {
        doc.err(
            v.span(),
            if strategies.is_empty() {
                format!(
                    "{what}: expected one strategy key: {}",
                    STRATEGIES.join(", ")
                )
            } else {
                format!(
                    "{what}: expected one strategy, found {}",
                    strategies.join(" and ")
                )
            },
        );
        return None;
    }
    let name = strategies[0];
    let sv = get(t, name).expect("present");
    let strategy = parse_strategy(doc, name, sv)?;
    let sticky = match get(t, "sticky") {
        Some(s) => {
            if !matches!(strategy, Strategy::Split { .. }) {
                doc.err(s.span(), "sticky applies to `split` routes only");
                return None;
            }
            Some(KeyRef::parse(doc, s, "sticky")?)
        }
        None => None,
    };
    let strategy = match strategy {
        Strategy::Split { arms, .. } => Strategy::Split { arms, sticky },
        s => s,
    };
    let fallbacks = match get(t, "fallbacks") {
        Some(f) => model_refs(doc, f, "fallbacks")?,
        None => Vec::new(),
    };
    let fallback_on = match get(t, "fallback_on") {
        Some(f) => Some(parse_classes(doc, f, "fallback_on")?),
        None => None,
    };
    Some(Route {
        strategy,
        fallbacks,
        fallback_on,
        span: v.span(),
    })
}

fn candidates(doc: &mut TomlDoc, t: &crate::tomlx::Table, what: &str) -> Option<Vec<ModelRef>> {
    match get(t, "candidates") {
        Some(c) => model_refs(doc, c, &format!("{what}.candidates")),
        None => Some(Vec::new()),
    }
}

fn constraints(doc: &mut TomlDoc, t: &crate::tomlx::Table, what: &str) -> Constraints {
    Constraints {
        max_cost_usd: get(t, "max_cost_usd")
            .and_then(|v| doc.non_negative(v, &format!("{what}.max_cost_usd"))),
        max_latency_ms: get(t, "max_latency_ms")
            .and_then(|v| doc.positive(v, &format!("{what}.max_latency_ms"))),
        min_quality: get(t, "min_quality")
            .and_then(|v| doc.fraction(v, &format!("{what}.min_quality"))),
    }
}

fn parse_strategy(doc: &mut TomlDoc, name: &str, v: &Val) -> Option<Strategy> {
    match name {
        "model" => model_ref(doc, v, "model").map(Strategy::Model),
        "fallback" => parse_fallback(doc, v),
        "split" | "shuffle" => parse_weighted(doc, name, v),
        "tier" => parse_tier(doc, v),
        "cheapest" | "best" => parse_learned(doc, name, v),
        "cascade" => parse_cascade(doc, v),
        "oracle" | "random" | "least_busy" | "usage_based" => parse_candidates_only(doc, name, v),
        "lowest_latency" => parse_lowest_latency(doc, v),
        _ => None,
    }
}

/// `fallback = ["a", "b"]`.
fn parse_fallback(doc: &mut TomlDoc, v: &Val) -> Option<Strategy> {
    let chain = model_refs(doc, v, "fallback")?;
    if chain.is_empty() {
        doc.err(v.span(), "fallback: expected at least one model");
        return None;
    }
    Some(Strategy::Fallback(chain))
}

/// `split = { a = 70, b = 30 }` and `shuffle` (a table of weights, or a list).
fn parse_weighted(doc: &mut TomlDoc, name: &str, v: &Val) -> Option<Strategy> {
    let mut arms = Vec::new();
    match v.get_ref() {
        DeValue::Table(t) => {
            let mut ok = true;
            for (k, w) in t.iter() {
                let weight = doc.number(w, &format!("{name} weight of \"{}\"", k.get_ref()));
                match weight {
                    Some(x) if x > 0.0 => arms.push((
                        ModelRef {
                            name: k.get_ref().to_string(),
                            span: k.span(),
                        },
                        x,
                    )),
                    Some(x) => {
                        doc.err(
                            w.span(),
                            format!(
                                "{name} weight of \"{}\": expected a positive number, found {x}",
                                k.get_ref()
                            ),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
        }
        DeValue::Array(_) if name == "shuffle" => {
            arms = model_refs(doc, v, "shuffle")?
                .into_iter()
                .map(|m| (m, 1.0))
                .collect();
        }
        other => {
            doc.err(
                v.span(),
                format!(
                    "{name}: expected a table of model = weight, found {}",
                    type_name(other)
                ),
            );
            return None;
        }
    }
    if arms.is_empty() {
        doc.err(v.span(), format!("{name}: expected at least one model"));
        return None;
    }
    if name == "split" {
        Some(Strategy::Split { arms, sticky: None })
    } else {
        let (models, weights) = arms.into_iter().unzip();
        Some(Strategy::Shuffle { models, weights })
    }
}

/// `tier = "cheap"` or `tier = { by, default, map }`.
fn parse_tier(doc: &mut TomlDoc, v: &Val) -> Option<Strategy> {
    match v.get_ref() {
        DeValue::String(s) => Some(Strategy::Tier(TierSelect::Fixed(s.to_string(), v.span()))),
        DeValue::Table(t) => {
            doc.check_keys(t, &["by", "default", "map"], "tier");
            let key = match get(t, "by") {
                Some(b) => KeyRef::parse(doc, b, "tier.by")?,
                None => {
                    doc.err(v.span(), "tier: missing `by` (e.g. by = \"meta.plan\")");
                    return None;
                }
            };
            let Some(dv) = get(t, "default") else {
                doc.err(v.span(), "tier: missing `default` tier name");
                return None;
            };
            let default = doc.string(dv, "tier.default")?;
            let mut map = Vec::new();
            if let Some(mv) = get(t, "map") {
                let mt = doc.table(mv, "tier.map")?;
                for (k, v) in mt.iter() {
                    let tier = doc.string(v, &format!("tier.map.{}", k.get_ref()))?;
                    map.push((k.get_ref().to_string(), tier, v.span()));
                }
            }
            Some(Strategy::Tier(TierSelect::ByKey {
                key,
                map,
                default,
                span: dv.span(),
            }))
        }
        other => {
            doc.err(
                v.span(),
                format!(
                    "tier: expected a tier name or {{ by, default }}, found {}",
                    type_name(other)
                ),
            );
            None
        }
    }
}

/// `cheapest` / `best`: candidates, constraints, `per`, `otherwise`.
fn parse_learned(doc: &mut TomlDoc, name: &str, v: &Val) -> Option<Strategy> {
    let t = doc.table(v, name)?;
    let mut keys = vec![
        "candidates",
        "max_cost_usd",
        "max_latency_ms",
        "min_quality",
        "per",
        "otherwise",
    ];
    if name == "best" {
        keys.push("maximize");
    }
    doc.check_keys(t, &keys, name);
    if let Some(m) = get(t, "maximize")
        && let Some(s) = doc.string(m, "maximize")
        && s != "quality"
    {
        doc.err(
            m.span(),
            format!("best.maximize: only \"quality\" is supported, found \"{s}\""),
        );
        return None;
    }
    let cands = candidates(doc, t, name)?;
    let cons = constraints(doc, t, name);
    let per = match get(t, "per") {
        Some(p) => Some(KeyRef::parse(doc, p, &format!("{name}.per"))?),
        None => None,
    };
    let otherwise = match get(t, "otherwise") {
        Some(o) => Some(model_ref(doc, o, &format!("{name}.otherwise"))?),
        None => None,
    };
    Some(if name == "cheapest" {
        Strategy::Cheapest {
            candidates: cands,
            cons,
            per,
            otherwise,
        }
    } else {
        Strategy::Best {
            candidates: cands,
            cons,
            per,
            otherwise,
        }
    })
}

/// `cascade = { models, threshold, verifier_error }`.
fn parse_cascade(doc: &mut TomlDoc, v: &Val) -> Option<Strategy> {
    let t = doc.table(v, "cascade")?;
    doc.check_keys(t, &["models", "threshold", "verifier_error"], "cascade");
    let chain = match get(t, "models") {
        Some(m) => model_refs(doc, m, "cascade.models")?,
        None => {
            doc.err(v.span(), "cascade: missing `models` (cheapest first)");
            return None;
        }
    };
    if chain.len() < 2 {
        doc.err(v.span(), "cascade: expected at least two models");
        return None;
    }
    let threshold = match get(t, "threshold") {
        Some(x) => doc.fraction(x, "cascade.threshold")?,
        None => {
            doc.err(
                v.span(),
                "cascade: missing `threshold` (accept answers with quality ≥ threshold)",
            );
            return None;
        }
    };
    let verifier_error = match get(t, "verifier_error") {
        Some(x) => doc.fraction(x, "cascade.verifier_error")?,
        None => 0.0,
    };
    Some(Strategy::Cascade {
        chain,
        threshold,
        verifier_error,
    })
}

/// `oracle`, `random`, `least_busy`, `usage_based`: `true`, a list or `{ candidates }`.
fn parse_candidates_only(doc: &mut TomlDoc, name: &str, v: &Val) -> Option<Strategy> {
    let cands = match v.get_ref() {
        DeValue::Boolean(true) => Vec::new(),
        DeValue::Array(_) => model_refs(doc, v, name)?,
        DeValue::Table(t) => {
            doc.check_keys(t, &["candidates"], name);
            candidates(doc, t, name)?
        }
        other => {
            doc.err(
                v.span(),
                format!(
                    "{name}: expected true, a list of models or {{ candidates = [...] }}, found {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    Some(match name {
        "oracle" => Strategy::Oracle { candidates: cands },
        "random" => Strategy::Random { candidates: cands },
        "least_busy" => Strategy::LeastBusy { candidates: cands },
        _ => Strategy::UsageBased { candidates: cands },
    })
}

/// `lowest_latency = { candidates, window, stat, alpha, buffer }`.
fn parse_lowest_latency(doc: &mut TomlDoc, v: &Val) -> Option<Strategy> {
    let t = doc.table(v, "lowest_latency")?;
    doc.check_keys(
        t,
        &["candidates", "window", "stat", "alpha", "buffer"],
        "lowest_latency",
    );
    let cands = candidates(doc, t, "lowest_latency")?;
    let window = match get(t, "window") {
        Some(w) => match doc.uint(w, "lowest_latency.window")? {
            0 => {
                doc.err(w.span(), "lowest_latency.window: expected at least 1");
                return None;
            }
            n => n as usize,
        },
        None => 10,
    };
    let stat = match get(t, "stat") {
        None => LatencyStat::Mean,
        Some(s) => match doc.string(s, "lowest_latency.stat")?.as_str() {
            "mean" => LatencyStat::Mean,
            "p50" => LatencyStat::Quantile(0.5),
            "p90" => LatencyStat::Quantile(0.9),
            "p95" => LatencyStat::Quantile(0.95),
            "p99" => LatencyStat::Quantile(0.99),
            "ewma" => {
                let a = match get(t, "alpha") {
                    Some(a) => doc.fraction(a, "lowest_latency.alpha")?,
                    None => 0.3,
                };
                LatencyStat::Ewma(a)
            }
            other => {
                doc.err(s.span(), format!("lowest_latency.stat: expected mean, p50, p90, p95, p99 or ewma, found \"{other}\""));
                return None;
            }
        },
    };
    let buffer = match get(t, "buffer") {
        Some(b) => doc.non_negative(b, "lowest_latency.buffer")?,
        None => 0.0,
    };
    Some(Strategy::LowestLatency {
        candidates: cands,
        window,
        stat,
        buffer,
    })
}
