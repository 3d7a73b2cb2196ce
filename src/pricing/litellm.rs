//! LiteLLM's `model_prices_and_context_window.json`.
//!
//! Keys are model names (`gpt-4o`, `anthropic/claude-…`, `gemini/gemini-…`); values
//! carry `input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
//! `cache_creation_input_token_cost`, `output_cost_per_reasoning_token`,
//! `*_above_<N>k_tokens` tier prices, `max_input_tokens` and `max_output_tokens`.
//! Each entry also keeps its `litellm_provider`, `mode` and `deprecation_date`, which
//! the name matcher (`matcher.rs`) reads. [`LiteLlm::lookup`] is the plain lookup: a
//! reference `provider/model` is tried as given, then as `model` (when the entry's
//! `litellm_provider` is that provider), then `gemini/model` for Google.

use super::{ModelPrice, Rate};
use serde_json::Value;
use std::collections::HashMap;

/// One priced entry of the cost map.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key, as in the file (`gpt-4o`, `together_ai/mistralai/…`).
    pub key: String,
    /// `litellm_provider` (empty when absent).
    pub provider: String,
    /// `mode` (`chat`, `completion`, `embedding`, …), when given.
    pub mode: Option<String>,
    /// `deprecation_date` (`YYYY-MM-DD`), when given.
    pub deprecation_date: Option<String>,
    /// Its price.
    pub price: ModelPrice,
}

impl Entry {
    /// Whether it prices text generation (mode chat, completion or responses, or no
    /// mode): the entries a dataset model name can match.
    pub fn is_text(&self) -> bool {
        matches!(
            self.mode.as_deref(),
            None | Some("chat") | Some("completion") | Some("responses")
        )
    }
}

/// Parsed cost map (entries without both input and output prices are skipped).
#[derive(Debug, Default)]
pub struct LiteLlm {
    /// Entries sorted by key.
    entries: Vec<Entry>,
    by_key: HashMap<String, usize>,
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

/// Tier prices from `<prefix>_above_<N>k_tokens` keys.
fn rate(v: &Value, base_key: &str, prefix: &str) -> Option<Rate> {
    let base = num(v, base_key)?;
    let mut tiers = Vec::new();
    if let Some(o) = v.as_object() {
        for (k, x) in o {
            if let Some(rest) = k
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix("_above_"))
                && let Some(n) = rest.strip_suffix("k_tokens")
                && let (Ok(n), Some(p)) = (n.parse::<u64>(), x.as_f64())
            {
                tiers.push((n * 1000, p));
            }
        }
    }
    tiers.sort_by_key(|t| t.0);
    Some(Rate { base, tiers })
}

impl LiteLlm {
    /// Parse the JSON object.
    pub fn from_json(v: &Value) -> LiteLlm {
        let mut entries = Vec::new();
        if let Some(o) = v.as_object() {
            for (name, e) in o {
                if name == "sample_spec" {
                    continue;
                }
                let (Some(input), Some(output)) = (
                    rate(e, "input_cost_per_token", "input_cost_per_token"),
                    rate(e, "output_cost_per_token", "output_cost_per_token"),
                ) else {
                    continue;
                };
                let text = |k: &str| e.get(k).and_then(|p| p.as_str()).map(String::from);
                let p = ModelPrice {
                    input,
                    output,
                    cache_read: rate(
                        e,
                        "cache_read_input_token_cost",
                        "cache_read_input_token_cost",
                    ),
                    cache_write: rate(
                        e,
                        "cache_creation_input_token_cost",
                        "cache_creation_input_token_cost",
                    ),
                    reasoning: num(e, "output_cost_per_reasoning_token").map(Rate::flat),
                    per_request: num(e, "input_cost_per_request").unwrap_or(0.0),
                    context_window: e
                        .get("max_input_tokens")
                        .and_then(|x| x.as_u64())
                        .map(|x| x.min(u32::MAX as u64) as u32),
                    max_output_tokens: e
                        .get("max_output_tokens")
                        .and_then(|x| x.as_u64())
                        .map(|x| x.min(u32::MAX as u64) as u32),
                    source: format!("LiteLLM \"{name}\""),
                };
                entries.push(Entry {
                    key: name.clone(),
                    provider: text("litellm_provider").unwrap_or_default(),
                    mode: text("mode"),
                    deprecation_date: text("deprecation_date"),
                    price: p,
                });
            }
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        let by_key = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key.clone(), i))
            .collect();
        LiteLlm { entries, by_key }
    }

    /// Every priced entry, sorted by key.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry of a key, exactly as written.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.by_key.get(key).map(|&i| &self.entries[i])
    }

    /// Number of priced entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is priced.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Price of a reference.
    pub fn lookup(&self, reference: &str) -> Option<ModelPrice> {
        if let Some(e) = self.get(reference) {
            return Some(e.price.clone());
        }
        let (prov, model) = reference.split_once('/')?;
        if let Some(e) = self.get(model) {
            let lp = e.provider.as_str();
            if lp == prov || (prov == "google" && (lp == "gemini" || lp.starts_with("vertex_ai"))) {
                return Some(e.price.clone());
            }
        }
        if prov == "google"
            && let Some(e) = self.get(&format!("gemini/{model}"))
        {
            return Some(e.price.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tiers_and_provider_prefixes() {
        let v = serde_json::json!({
            "sample_spec": {"input_cost_per_token": "x"},
            "gpt-4o": {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5,
                        "cache_read_input_token_cost": 1.25e-6, "litellm_provider": "openai",
                        "max_input_tokens": 128000},
            "gemini/gemini-x": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                        "input_cost_per_token_above_128k_tokens": 2e-6, "litellm_provider": "gemini"},
            "embed": {"input_cost_per_token": 1e-7}
        });
        let l = LiteLlm::from_json(&v);
        assert_eq!(l.len(), 2);
        let p = l.lookup("openai/gpt-4o").unwrap();
        assert_eq!(p.context_window, Some(128000));
        assert_eq!(p.cache_read, Some(Rate::flat(1.25e-6)));
        let g = l.lookup("google/gemini-x").unwrap();
        assert_eq!(g.input.tiers, vec![(128_000, 2e-6)]);
        assert!(l.lookup("anthropic/gpt-4o").is_none());
        assert!(l.lookup("embed").is_none());
    }
}
