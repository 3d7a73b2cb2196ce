//! Off-policy estimates of a run's policies on a gateway log (README
//! "Counterfactuals: off-policy estimates"): the logged baseline's rows give
//! production's picks and outcomes, the log's propensities weigh them, and each
//! other policy's first pick per request is the target ([`super::ope`] does the
//! estimating). Only the picks of the target matter, not its simulated outcomes: the
//! estimate is what the log says the policy's picks would have got.

use super::ope::{Evaluation, LoggedActions, evaluate};
use super::table::RunContext;
use crate::policy::{Baseline, PolicyKind};
use crate::sim::trace::{NONE16, TraceRow};

/// The outcomes estimated, in order: (name in `ope.csv`, what it is).
pub const METRICS: [(&str, &str); 4] = [
    ("success_rate", "success rate"),
    ("cost_per_request_usd", "cost per request, USD"),
    ("latency_mean_ms", "mean latency, ms"),
    ("quality", "quality"),
];

/// What the estimates need from the logged baseline's rows.
#[derive(Debug, Clone)]
pub struct LoggedSide {
    /// Production's first pick per request (NONE16: nothing logged).
    pub action: Vec<u16>,
    /// The logged outcomes, one column per [`METRICS`] entry (NaN unknown).
    pub outcomes: [Vec<f64>; 4],
    /// The reward model's segment of each request: the first `--by` field's value
    /// and the quartile of the logged prompt tokens.
    pub segment: Vec<u32>,
}

impl LoggedSide {
    /// From the logged baseline's rows; `by` is the first `--by` field, if any.
    pub fn of(ctx: &RunContext, rows: &[TraceRow], by: Option<&str>) -> LoggedSide {
        let n = rows.len();
        let mut action = Vec::with_capacity(n);
        let mut outcomes: [Vec<f64>; 4] = Default::default();
        for r in rows {
            let logged = r.covered() && r.first != NONE16;
            action.push(if logged { r.first } else { NONE16 });
            let ok = r.status.is_ok();
            let v = [
                if ok { 1.0 } else { 0.0 },
                r.cost_usd,
                r.latency_ms,
                r.quality,
            ];
            for (o, x) in outcomes.iter_mut().zip(v) {
                o.push(if logged { x } else { f64::NAN });
            }
        }
        let key = by.map(|k| k.strip_prefix("meta.").unwrap_or(k));
        let meta = key.and_then(|k| ctx.meta.iter().find(|m| m.name == k));
        let mut tokens: Vec<u32> = rows
            .iter()
            .filter(|r| r.covered())
            .map(|r| r.input_tokens)
            .collect();
        tokens.sort_unstable();
        let cut = |q: usize| tokens.get(tokens.len() * q / 4).copied().unwrap_or(0);
        let cuts = [cut(1), cut(2), cut(3)];
        let segment = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let quartile = cuts.iter().filter(|&&c| r.input_tokens >= c).count() as u32;
                let field = meta.map_or(0, |m| m.codes[i].wrapping_add(1));
                field.wrapping_mul(4).wrapping_add(quartile)
            })
            .collect();
        LoggedSide {
            action,
            outcomes,
            segment,
        }
    }
}

/// Whether policy `kind` is a target: user policies and the single-model and random
/// baselines (the oracle picks with hindsight; the logged baseline is the log).
pub fn is_target(kind: &PolicyKind) -> bool {
    !matches!(
        kind,
        PolicyKind::Baseline(Baseline::Oracle) | PolicyKind::Baseline(Baseline::Logged)
    )
}

/// The estimates of one policy on one outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct OpeRow {
    /// Policy name.
    pub policy: String,
    /// Whether it is a user policy (not a baseline).
    pub user: bool,
    /// Index into [`METRICS`].
    pub metric: usize,
    /// The estimates and diagnostics.
    pub eval: Evaluation,
}

/// The off-policy section of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct OffPolicy {
    /// The logged baseline's name.
    pub logged: String,
    /// Requests with a logged propensity.
    pub with_propensity: usize,
    /// One row per target policy × outcome, in run order.
    pub rows: Vec<OpeRow>,
}

/// Picks of each target policy: `(policy index, first pick per request)`.
pub type Targets = Vec<(usize, Vec<u16>)>;

/// The first pick of every request in `rows`.
pub fn picks(rows: &[TraceRow]) -> Vec<u16> {
    rows.iter().map(|r| r.first).collect()
}

/// Estimate every target's outcomes from the log.
pub fn estimate(
    ctx: &RunContext,
    logged: usize,
    side: &LoggedSide,
    targets: &Targets,
) -> OffPolicy {
    let log = LoggedActions {
        action: &side.action,
        propensity: &ctx.propensity,
        segment: &side.segment,
    };
    let mut rows = Vec::new();
    for (p, pick) in targets {
        for (m, outcome) in side.outcomes.iter().enumerate() {
            rows.push(OpeRow {
                policy: ctx.policies[*p].name.clone(),
                user: matches!(ctx.policies[*p].kind, PolicyKind::User),
                metric: m,
                eval: evaluate(&log, pick, outcome),
            });
        }
    }
    OffPolicy {
        logged: ctx.policies[logged].name.clone(),
        with_propensity: ctx.propensity.iter().filter(|p| !p.is_nan()).count(),
        rows,
    }
}
