//! Gateway configs → routesim policy text (`routesim import-config`): a LiteLLM proxy
//! `config.yaml` ([`litellm`]) or a Portkey config JSON ([`portkey`]) becomes a policy
//! that reproduces the router — deployments, routing strategy, retries, timeouts,
//! fallbacks, conditions — with every setting not reproduced exactly listed
//! ([`Unmapped`]). Importers only build a [`PolicyOut`] and render it; checking that
//! the text parses and binds to a dataset is the command's job (`app::import_config`).
//!
//! Requests carry the model they asked for as `meta.asked_model` (the gateway-log
//! importers write it), so a LiteLLM router becomes one rule per model group; request
//! body parameters are `meta.param_<name>` and Portkey metadata `meta.<key>`.

pub mod emit;
pub mod json;
pub mod litellm;
pub mod portkey;
pub mod portkey_cond;
pub mod tree;
pub mod yaml;

pub use emit::{Kind, PolicyOut, Unmapped};

/// What the importers may know of the dataset the policy is for (`--dataset`).
#[derive(Debug, Clone, Default)]
pub struct Columns {
    /// The dataset's model names (its columns).
    pub models: Vec<String>,
    /// The distinct values of `meta.asked_model`, sorted (empty when it has none).
    pub asked_models: Vec<String>,
    /// Whether its requests have text (an exact cache needs it).
    pub has_text: bool,
    /// Its `meta.*` fields (without the prefix).
    pub meta_keys: Vec<String>,
}

impl Columns {
    /// The first candidate that is a dataset model.
    pub fn find(&self, candidates: &[String]) -> Option<String> {
        candidates
            .iter()
            .find(|c| self.models.iter().any(|m| m == *c))
            .cloned()
    }

    /// The dataset model whose name ends in `/<name>` — when exactly one does.
    pub fn by_suffix(&self, name: &str) -> Option<String> {
        let suffix = format!("/{name}");
        let mut hits = self.models.iter().filter(|m| m.ends_with(&suffix));
        match (hits.next(), hits.next()) {
            (Some(m), None) => Some(m.clone()),
            _ => None,
        }
    }
}

/// Options shared by the importers.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The config file, as named on the command line (messages, header).
    pub file: String,
    /// Policy name.
    pub name: String,
    /// The dataset the policy is for, when given.
    pub columns: Option<Columns>,
    /// Whether a pricing file will be written (custom prices are kept there).
    pub pricing_out: bool,
}

/// An imported policy.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The policy.
    pub policy: PolicyOut,
    /// `pricing.toml` text (aliases and custom prices), when the config has any.
    pub pricing: Option<String>,
}

/// Whether a config key holds a secret (its value is never shown).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "password", "secret", "credential", "token"]
        .iter()
        .any(|w| k.contains(w))
        && !k.ends_with("tpm")
        && !k.contains("tokens")
}
