//! Baselines added to every run: each single model, uniform random, and the oracle;
//! on a dataset imported from a gateway log, also `logged` (what production did).

use super::gateway::Gateway;
use super::route::{Route, Strategy};
use super::{Baseline, ModelRef, Policy, PolicyKind};
use crate::error::Diagnostic;
use std::sync::Arc;

fn policy(kind: Baseline, description: String, strategy: Strategy) -> Policy {
    Policy {
        name: name(&kind),
        description,
        kind: PolicyKind::Baseline(kind),
        file: String::new(),
        name_span: 0..0,
        source: Arc::from(""),
        deployments: Vec::new(),
        gateway: Gateway::default(),
        classifier: None,
        tiers: Vec::new(),
        folds: 5,
        rules: Vec::new(),
        default: Route {
            strategy,
            fallbacks: Vec::new(),
            fallback_on: None,
            span: 0..0,
        },
        scenarios: Vec::new(),
    }
}

fn mref(name: &str) -> ModelRef {
    ModelRef {
        name: name.to_string(),
        span: 0..0,
    }
}

/// The name a baseline is shown under.
pub fn name(kind: &Baseline) -> String {
    match kind {
        Baseline::Single(m) => format!("always:{m}"),
        Baseline::Random => "random".into(),
        Baseline::Oracle => "oracle".into(),
        Baseline::Logged => "logged".into(),
    }
}

/// Baselines for a dataset's models: `always:<model>` for each, `random`, `oracle`.
pub fn baselines(models: &[String]) -> Vec<Policy> {
    let mut v: Vec<Policy> = models
        .iter()
        .map(|m| {
            policy(
                Baseline::Single(m.clone()),
                format!("every request to {m}"),
                Strategy::Model(mref(m)),
            )
        })
        .collect();
    v.push(policy(
        Baseline::Random,
        "each request to a uniformly random model".into(),
        Strategy::Random {
            candidates: Vec::new(),
        },
    ));
    v.push(policy(
        Baseline::Oracle,
        "hindsight: the model with the best recorded quality per request (ties: cheapest); an upper bound, not deployable".into(),
        Strategy::Oracle {
            candidates: Vec::new(),
        },
    ));
    v
}

/// The `logged` baseline: each request's outcome as the gateway logged it (added when
/// the dataset has logged outcomes).
pub fn logged() -> Policy {
    policy(
        Baseline::Logged,
        "what production did: each request's logged model, status, cost and latency".into(),
        Strategy::Logged,
    )
}

/// User policies whose name is taken by a baseline of this run: each is an error at
/// the policy's `name` (the two would be indistinguishable in every table).
pub fn name_clashes(user: &[Policy], baselines: &[Policy]) -> Vec<Diagnostic> {
    user.iter()
        .filter(|p| !p.kind.is_baseline())
        .filter(|p| baselines.iter().any(|b| b.name == p.name))
        .map(|p| {
            p.diag(
                &p.name_span,
                format!(
                    "policy name \"{}\" is the name of a baseline routesim adds (always:<model>, random, oracle, logged); rename the policy, or run with --no-baselines",
                    p.name
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_policy_named_like_a_baseline_is_refused_at_its_name() {
        let text = "name = \"oracle\"\n[default]\nroute = \"B\"\n";
        let user = crate::policy::parse("o.toml", text, "o").unwrap();
        let d = name_clashes(&[user], &baselines(&["A".into(), "B".into()]));
        assert_eq!(d.len(), 1);
        let shown = d[0].to_string();
        assert!(shown.starts_with("o.toml:1:8:"), "{shown}");
        assert!(
            shown.contains("\"oracle\" is the name of a baseline"),
            "{shown}"
        );
        let fine = crate::policy::parse(
            "x.toml",
            "name = \"always-B\"\n[default]\nroute = \"B\"\n",
            "x",
        )
        .unwrap();
        assert!(name_clashes(&[fine], &baselines(&["B".into()])).is_empty());
    }
}
