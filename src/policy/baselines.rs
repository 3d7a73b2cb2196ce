//! Baselines added to every run: each single model, uniform random, and the oracle.

use super::gateway::Gateway;
use super::route::{Route, Strategy};
use super::{ModelRef, Policy, PolicyKind};
use std::sync::Arc;

fn policy(name: String, description: String, strategy: Strategy) -> Policy {
    Policy {
        name,
        description,
        kind: PolicyKind::Baseline,
        file: String::new(),
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

/// Name of the single-model baseline for `model`.
pub fn always_name(model: &str) -> String {
    format!("always:{model}")
}

/// Baselines for a dataset's models: `always:<model>` for each, `random`, `oracle`.
pub fn baselines(models: &[String]) -> Vec<Policy> {
    let mut v: Vec<Policy> = models
        .iter()
        .map(|m| {
            policy(
                always_name(m),
                format!("every request to {m}"),
                Strategy::Model(mref(m)),
            )
        })
        .collect();
    v.push(policy(
        "random".into(),
        "each request to a uniformly random model".into(),
        Strategy::Random {
            candidates: Vec::new(),
        },
    ));
    v.push(policy(
        "oracle".into(),
        "hindsight: the model with the best recorded quality per request (ties: cheapest); an upper bound, not deployable".into(),
        Strategy::Oracle {
            candidates: Vec::new(),
        },
    ));
    v
}
