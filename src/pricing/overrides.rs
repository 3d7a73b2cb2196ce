//! `pricing.toml`: explicit prices and aliases, checked key by key.
//!
//! ```toml
//! [aliases]                      # price a dataset's model name as a catalog model
//! "claude-2.1" = "anthropic/claude-2.1"
//!
//! [models."openai/gpt-4o"]
//! input_per_mtok = 2.5           # USD per million uncached prompt tokens (required)
//! output_per_mtok = 10.0         # USD per million completion tokens (required)
//! cached_input_per_mtok = 1.25   # prompt-cache reads (default: input price)
//! cache_write_per_mtok = 3.75    # prompt-cache writes
//! reasoning_per_mtok = 10.0      # reasoning tokens, when priced apart from output
//! per_request_usd = 0.0          # fixed fee per call
//! context_window = 128000
//! max_output_tokens = 16384
//! input_tiers = [{ above = 128000, per_mtok = 5.0 }]  # cliff tiers on total prompt tokens
//! output_tiers = [{ above = 128000, per_mtok = 20.0 }]
//! source = "where this price came from"
//! ```

use super::{ModelPrice, Rate};
use crate::error::InputError;
use crate::tomlx::{Table, TomlDoc, Val, get};
use std::collections::HashMap;

/// Parsed overrides.
#[derive(Debug, Default)]
pub struct Overrides {
    /// Model → price.
    pub models: HashMap<String, ModelPrice>,
    /// Dataset name → catalog name.
    pub aliases: HashMap<String, String>,
}

impl Overrides {
    /// Price of a model, if listed.
    pub fn lookup(&self, model: &str) -> Option<ModelPrice> {
        self.models.get(model).cloned()
    }
}

const MODEL_KEYS: &[&str] = &[
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "reasoning_per_mtok",
    "per_request_usd",
    "context_window",
    "max_output_tokens",
    "input_tiers",
    "output_tiers",
    "source",
];

fn tiers(doc: &mut TomlDoc, t: &Table, key: &str, base: f64) -> Rate {
    let mut r = Rate::flat(base / 1e6);
    if let Some(v) = get(t, key)
        && let Some(items) = doc.array(v, key)
    {
        for it in items {
            if let Some(tt) = doc.table(it, key) {
                doc.check_keys(tt, &["above", "per_mtok"], key);
                let above = get(tt, "above").and_then(|v| doc.uint(v, "above"));
                let p = get(tt, "per_mtok").and_then(|v| doc.non_negative(v, "per_mtok"));
                match (above, p) {
                    (Some(a), Some(p)) => r.tiers.push((a, p / 1e6)),
                    _ => doc.err(
                        it.span(),
                        format!("{key}: each tier needs `above` and `per_mtok`"),
                    ),
                }
            }
        }
        r.tiers.sort_by_key(|t| t.0);
    }
    r
}

fn model(doc: &mut TomlDoc, name: &str, v: &Val) -> Option<ModelPrice> {
    let t = doc.table(v, &format!("models.\"{name}\""))?;
    doc.check_keys(t, MODEL_KEYS, &format!("[models.\"{name}\"]"));
    let req = |k: &str, doc: &mut TomlDoc| -> Option<f64> {
        match get(t, k) {
            Some(v) => doc.non_negative(v, k),
            None => {
                doc.err(
                    v.span(),
                    format!("[models.\"{name}\"]: missing required key `{k}`"),
                );
                None
            }
        }
    };
    let input = req("input_per_mtok", doc);
    let output = req("output_per_mtok", doc);
    let opt = |k: &str, doc: &mut TomlDoc| get(t, k).and_then(|v| doc.non_negative(v, k));
    let cached = opt("cached_input_per_mtok", doc);
    let cache_write = opt("cache_write_per_mtok", doc);
    let reasoning = opt("reasoning_per_mtok", doc);
    let per_request = opt("per_request_usd", doc).unwrap_or(0.0);
    let cw = get(t, "context_window").and_then(|v| doc.uint(v, "context_window"));
    let mo = get(t, "max_output_tokens").and_then(|v| doc.uint(v, "max_output_tokens"));
    let source = get(t, "source")
        .and_then(|v| doc.string(v, "source"))
        .unwrap_or_else(|| format!("pricing.toml \"{name}\""));
    let (input, output) = (input?, output?);
    Some(ModelPrice {
        input: tiers(doc, t, "input_tiers", input),
        output: tiers(doc, t, "output_tiers", output),
        cache_read: cached.map(|c| Rate::flat(c / 1e6)),
        cache_write: cache_write.map(|c| Rate::flat(c / 1e6)),
        reasoning: reasoning.map(|c| Rate::flat(c / 1e6)),
        per_request,
        context_window: cw.map(|c| c.min(u32::MAX as u64) as u32),
        max_output_tokens: mo.map(|c| c.min(u32::MAX as u64) as u32),
        source,
    })
}

/// Parse a `pricing.toml`, reporting every problem.
pub fn parse(file: &str, text: &str) -> Result<Overrides, InputError> {
    let (mut doc, root) = TomlDoc::parse(file, text);
    let root = root.get_ref();
    doc.check_keys(root, &["models", "aliases"], "pricing.toml");
    let mut out = Overrides::default();
    if let Some(v) = get(root, "models")
        && let Some(t) = doc.table(v, "models")
    {
        for (k, v) in t.iter() {
            if let Some(p) = model(&mut doc, k.get_ref(), v) {
                out.models.insert(k.get_ref().to_string(), p);
            }
        }
    }
    if let Some(v) = get(root, "aliases")
        && let Some(t) = doc.table(v, "aliases")
    {
        for (k, v) in t.iter() {
            if let Some(s) = doc.string(v, &format!("aliases.\"{}\"", k.get_ref())) {
                out.aliases.insert(k.get_ref().to_string(), s);
            }
        }
    }
    doc.finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_models_tiers_and_aliases() {
        let o = parse(
            "p.toml",
            r#"
[aliases]
"m" = "openai/x"
[models."openai/x"]
input_per_mtok = 1
output_per_mtok = 2
input_tiers = [{ above = 10, per_mtok = 4 }]
"#,
        )
        .unwrap();
        let p = o.lookup("openai/x").unwrap();
        assert_eq!(p.input.tiers, vec![(10, 4e-6)]);
        assert_eq!(o.aliases["m"], "openai/x");
    }

    #[test]
    fn reports_missing_and_unknown_keys() {
        let e = parse(
            "p.toml",
            "[models.\"a\"]\ninput_per_mtok = 1\noutput_per_mtk = 2\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.toml:3:1: unknown key \"output_per_mtk\""),
            "{e}"
        );
        assert!(e.contains("missing required key `output_per_mtok`"), "{e}");
    }
}
