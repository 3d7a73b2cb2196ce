//! Routing policies: the TOML language (README "Policy reference"; ARCHITECTURE.md), parsed into checked structs.
//!
//! [`load`] / [`parse`] read a policy file and report *every* problem with
//! file:line:col and what was expected. The result still names models and metadata
//! keys as text (with their source spans): binding to a particular dataset — model
//! ids, metadata columns, estimates — happens in [`crate::sim::bind`], which reports
//! unknown models and missing fields at the same positions.

pub mod baselines;
pub mod cond;
pub mod gateway;
pub mod import;
pub mod parse;
pub mod route;
pub mod sweep;

pub use cond::{Cond, KeyRef, MetaOp, NumField, NumTest, TextTest};
pub use gateway::{Budget, Cache, CircuitBreaker, Cooldown, Gateway, Retries, Scenario};
pub use parse::{load, load_all, load_all_partial, parse};
pub use route::{Constraints, Route, Strategy, TierSelect};

use crate::error::Diagnostic;
use crate::tomlx::Span;
use std::sync::Arc;

/// A model named in a policy: an alias from `[models]` or a dataset model name.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRef {
    /// As written.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// An entry of `[models]`: an alias for a model, with per-deployment limits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deployment {
    /// Alias (the key).
    pub alias: String,
    /// Dataset model name it stands for.
    pub model: String,
    /// Span of the model name (for binding errors).
    pub span: Span,
    /// Requests per minute allowed (gateway-local 429 beyond).
    pub rpm: Option<u32>,
    /// Tokens per minute allowed.
    pub tpm: Option<u64>,
    /// Concurrent in-flight calls allowed (queueing beyond).
    pub max_concurrency: Option<u32>,
    /// Retries of calls to this deployment, replacing `[gateway] retries` for them.
    pub retries: Option<Retries>,
    /// Timeout of calls to this deployment, ms, replacing `[gateway] timeout_ms`.
    pub timeout_ms: Option<f64>,
}

/// A rule: when the condition holds, route.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Rule name (unique within the policy).
    pub name: String,
    /// Condition.
    pub when: Cond,
    /// Route taken.
    pub route: Route,
}

/// `[classifier]`: named complexity levels, tested in order; the first level whose
/// condition holds names the request's complexity, otherwise `default_level`.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// (level name, condition), in order.
    pub levels: Vec<(String, Cond)>,
    /// Level when none matches.
    pub default_level: String,
}

impl Classifier {
    /// All level names (tested levels, then the default).
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.levels.iter().map(|(n, _)| n.as_str()).collect();
        if !v.contains(&self.default_level.as_str()) {
            v.push(&self.default_level);
        }
        v
    }

    /// The seed guide's heuristic: `simple` when shorter than 50 characters, `complex`
    /// when it says "explain" or "analyze", otherwise `medium`.
    pub fn seed_default() -> Classifier {
        Classifier {
            levels: vec![
                (
                    "simple".into(),
                    Cond::Num {
                        field: NumField::InputChars,
                        test: NumTest {
                            lt: Some(50.0),
                            ..Default::default()
                        },
                        span: 0..0,
                    },
                ),
                (
                    "complex".into(),
                    Cond::Text(
                        TextTest::contains_any(&["explain", "analyze"], false)
                            .expect("static pattern"),
                    ),
                ),
            ],
            default_level: "medium".into(),
        }
    }
}

/// Where a policy came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// Written by the user.
    User,
    /// Added by routesim as a reference point.
    Baseline(Baseline),
}

/// The reference points routesim adds to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// Every request to one model (`always:<model>`).
    Single(String),
    /// Each request to a uniformly random model.
    Random,
    /// Hindsight: the best recorded answer per request (an upper bound, not deployable).
    Oracle,
    /// What production did, as its gateway logged it (datasets imported from a log).
    Logged,
}

impl PolicyKind {
    /// Whether routesim added it.
    pub fn is_baseline(&self) -> bool {
        matches!(self, PolicyKind::Baseline(_))
    }

    /// The single model of an `always:<model>` baseline.
    pub fn single_model(&self) -> Option<&str> {
        match self {
            PolicyKind::Baseline(Baseline::Single(m)) => Some(m),
            _ => None,
        }
    }

    /// Whether it is the `logged` baseline (what production did).
    pub fn is_logged(&self) -> bool {
        matches!(self, PolicyKind::Baseline(Baseline::Logged))
    }

    /// Whether it is the hindsight oracle.
    pub fn is_oracle(&self) -> bool {
        matches!(self, PolicyKind::Baseline(Baseline::Oracle))
    }

    /// `policy` or `baseline` (the `kind` column of the tables).
    pub fn label(&self) -> &'static str {
        match self {
            PolicyKind::User => "policy",
            PolicyKind::Baseline(_) => "baseline",
        }
    }

    /// A stable tag for files: `policy`, `single`, `random` or `oracle`.
    pub fn tag(&self) -> &'static str {
        match self {
            PolicyKind::User => "policy",
            PolicyKind::Baseline(Baseline::Single(_)) => "single",
            PolicyKind::Baseline(Baseline::Random) => "random",
            PolicyKind::Baseline(Baseline::Oracle) => "oracle",
            PolicyKind::Baseline(Baseline::Logged) => "logged",
        }
    }

    /// The kind from its [`PolicyKind::tag`] (and, for a single model, the model).
    pub fn from_tag(tag: &str, model: Option<&str>) -> Option<PolicyKind> {
        Some(match tag {
            "policy" => PolicyKind::User,
            "single" => PolicyKind::Baseline(Baseline::Single(model?.to_string())),
            "random" => PolicyKind::Baseline(Baseline::Random),
            "oracle" => PolicyKind::Baseline(Baseline::Oracle),
            "logged" => PolicyKind::Baseline(Baseline::Logged),
            _ => return None,
        })
    }
}

/// A parsed, checked policy (not yet bound to a dataset).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Unique name.
    pub name: String,
    /// One line for the report.
    pub description: String,
    /// User policy or baseline.
    pub kind: PolicyKind,
    /// File it was read from (empty for baselines).
    pub file: String,
    /// Where its name was written (empty when it comes from the file name).
    pub name_span: Span,
    /// Its text (for positions of binding errors).
    pub source: Arc<str>,
    /// `[models]` aliases.
    pub deployments: Vec<Deployment>,
    /// `[gateway]` settings.
    pub gateway: Gateway,
    /// `[classifier]`, if any rule uses `complexity` (defaults to the seed heuristic).
    pub classifier: Option<Classifier>,
    /// `[tiers]`: named groups of models.
    pub tiers: Vec<(String, Vec<ModelRef>)>,
    /// Cross-fitting folds for `cheapest` / `best` estimates (0 = leave-one-out).
    pub folds: u32,
    /// Rules in order.
    pub rules: Vec<Rule>,
    /// `[default]` route.
    pub default: Route,
    /// What-if scenarios.
    pub scenarios: Vec<Scenario>,
}

impl Policy {
    /// A diagnostic at a span of this policy's file.
    pub fn diag(&self, span: &Span, msg: impl Into<String>) -> Diagnostic {
        if self.file.is_empty() {
            Diagnostic::file(format!("baseline {}", self.name), msg)
        } else {
            Diagnostic::at_offset(&self.file, &self.source, span.start, msg)
        }
    }

    /// Whether any part of the policy keeps state across requests (needs the
    /// virtual-time engine rather than the stateless one).
    pub fn is_stateful(&self) -> bool {
        self.gateway.is_stateful()
            || !self.scenarios.is_empty()
            || self
                .deployments
                .iter()
                .any(|d| d.rpm.is_some() || d.tpm.is_some() || d.max_concurrency.is_some())
            || self
                .rules
                .iter()
                .map(|r| &r.route)
                .chain(std::iter::once(&self.default))
                .any(|r| r.strategy.is_stateful())
    }
}
