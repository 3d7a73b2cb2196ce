//! PriceBook: what one call to a model costs.
//!
//! Reads LiteLLM's `model_prices_and_context_window.json`, pydantic/genai-prices
//! `data.json` and our own `pricing.toml` overrides, in the order given, then (when
//! asked to) the built-in dated catalog (`builtin.rs`). Which entry prices a model
//! name is decided by the name matcher (`matcher.rs`) in the order `resolve.rs`
//! documents; the report records how each price was found. A model without a price
//! is an error listing every such model with the closest entries, and a name that
//! matches entries at several prices is a question listing them — never a silent $0
//! or a silent pick. A response's recorded `cost_usd` wins over the book (the engine
//! decides that).

pub mod builtin;
pub mod genai;
pub mod litellm;
pub mod matcher;
pub mod overrides;
pub mod resolve;
pub mod search;

pub use resolve::{Ambiguity, PriceMatch, Resolution};

use crate::error::{Diagnostic, InputError, display_path};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Price per token with optional "cliff" tiers: when the request's total input tokens
/// exceed a tier's start, *all* tokens of this kind cost that tier's price (the
/// Anthropic / Google long-context model, as in genai-prices and LiteLLM).
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// USD per token below the first tier.
    pub base: f64,
    /// (start, USD per token), ascending by start.
    pub tiers: Vec<(u64, f64)>,
}

impl Rate {
    /// A flat rate.
    pub fn flat(per_token: f64) -> Rate {
        Rate {
            base: per_token,
            tiers: Vec::new(),
        }
    }

    /// USD per token for a request with `total_input` prompt tokens.
    #[inline]
    pub fn per_token(&self, total_input: u64) -> f64 {
        let mut p = self.base;
        for &(start, price) in &self.tiers {
            if total_input > start {
                p = price;
            }
        }
        p
    }
}

/// Prices and limits of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    /// Uncached prompt tokens.
    pub input: Rate,
    /// Completion tokens.
    pub output: Rate,
    /// Prompt tokens read from the provider cache (input price when absent).
    pub cache_read: Option<Rate>,
    /// Prompt tokens written to the provider cache (input price when absent).
    pub cache_write: Option<Rate>,
    /// Reasoning tokens, when priced apart from output (they are part of output tokens).
    pub reasoning: Option<Rate>,
    /// Fixed USD per request.
    pub per_request: f64,
    /// Maximum prompt tokens.
    pub context_window: Option<u32>,
    /// Maximum completion tokens.
    pub max_output_tokens: Option<u32>,
    /// Where the price came from (file and entry), for the manifest.
    pub source: String,
}

impl ModelPrice {
    /// A flat price in USD per million tokens (tests, synth).
    pub fn per_mtok(input: f64, output: f64, source: &str) -> ModelPrice {
        ModelPrice {
            input: Rate::flat(input / 1e6),
            output: Rate::flat(output / 1e6),
            cache_read: None,
            cache_write: None,
            reasoning: None,
            per_request: 0.0,
            context_window: None,
            max_output_tokens: None,
            source: source.to_string(),
        }
    }

    /// A model without a known price: every priced cost is NaN ("unknown", never
    /// $0). Used when the user accepts unknown costs (`--unpriced`) and for models
    /// whose cells all carry a recorded cost.
    pub fn unknown(source: &str) -> ModelPrice {
        ModelPrice {
            input: Rate::flat(f64::NAN),
            output: Rate::flat(f64::NAN),
            cache_read: None,
            cache_write: None,
            reasoning: None,
            per_request: f64::NAN,
            context_window: None,
            max_output_tokens: None,
            source: source.to_string(),
        }
    }

    /// Whether this price is known (not [`ModelPrice::unknown`]).
    pub fn is_known(&self) -> bool {
        !self.input.base.is_nan()
    }

    /// Cost in USD of one call (see [`Usage`] for what each count includes).
    #[inline]
    pub fn cost(&self, u: &Usage) -> f64 {
        let total_in = u.input_tokens as u64;
        let cached = u.cached_tokens.min(u.input_tokens);
        let written = u.cache_write_tokens.min(u.input_tokens - cached);
        let uncached = (u.input_tokens - cached - written) as f64;
        let in_rate = self.input.per_token(total_in);
        let cache_rate = match &self.cache_read {
            Some(r) => r.per_token(total_in),
            None => in_rate,
        };
        let write_rate = match &self.cache_write {
            Some(r) => r.per_token(total_in),
            None => in_rate,
        };
        let out_rate = self.output.per_token(total_in);
        let out = match &self.reasoning {
            Some(r) => {
                let reasoning = u.reasoning_tokens.min(u.output_tokens);
                (u.output_tokens - reasoning) as f64 * out_rate
                    + reasoning as f64 * r.per_token(total_in)
            }
            None => u.output_tokens as f64 * out_rate,
        };
        uncached * in_rate
            + cached as f64 * cache_rate
            + written as f64 * write_rate
            + out
            + self.per_request
    }
}

/// Token counts of one call, as billed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every prompt token, including those read from or written to the provider's
    /// prompt cache.
    pub input_tokens: u32,
    /// Prompt tokens read from the provider's cache (part of `input_tokens`).
    pub cached_tokens: u32,
    /// Prompt tokens written to the provider's cache (part of `input_tokens`;
    /// Anthropic's `cache_creation_input_tokens`).
    pub cache_write_tokens: u32,
    /// Completion tokens, including reasoning tokens.
    pub output_tokens: u32,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: u32,
}

impl Usage {
    /// Plain prompt and completion tokens (no cache, no reasoning).
    pub fn plain(input_tokens: u32, output_tokens: u32) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }
}

/// One loaded pricing file.
#[derive(Debug)]
pub enum Catalog {
    /// `pricing.toml`.
    Overrides(overrides::Overrides),
    /// LiteLLM cost map.
    LiteLlm(litellm::LiteLlm),
    /// genai-prices `data.json`.
    Genai(genai::GenaiData),
}

/// Ordered pricing sources.
#[derive(Debug, Default)]
pub struct PriceBook {
    catalogs: Vec<(PathBuf, Catalog)>,
    /// Date used for dated prices (days since epoch, UTC).
    pub as_of_days: i64,
    /// Whether the built-in catalog prices what no pricing file knows (`routesim run`
    /// unless `--no-builtin-prices`).
    pub builtin: bool,
    /// `--price-as NAME=TARGET` aliases, followed before any pricing.toml's.
    pub price_as: Vec<(String, String)>,
    /// The matcher's tables of the LiteLLM and genai-prices files, built on first use.
    index: OnceLock<matcher::Index>,
}

/// Every model's price, and how each was found.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Price per model, in order.
    pub prices: Vec<ModelPrice>,
    /// Models left without a price although they needed one (`--unpriced`).
    pub unpriced: Vec<String>,
    /// Models whose name matched entries at several prices, left unknown (`--unpriced`).
    pub ambiguous: Vec<String>,
    /// How each priced model was priced, in model order.
    pub matches: Vec<PriceMatch>,
}

impl PriceBook {
    /// Load pricing files (type detected from the extension and content).
    pub fn load(files: &[PathBuf], as_of_days: i64) -> Result<PriceBook, InputError> {
        let mut book = PriceBook {
            as_of_days,
            ..PriceBook::default()
        };
        let mut diags = Vec::new();
        for f in files {
            match load_catalog(f) {
                Ok(c) => book.catalogs.push((f.clone(), c)),
                Err(e) => diags.extend(e.diagnostics),
            }
        }
        if diags.is_empty() {
            Ok(book)
        } else {
            Err(InputError::new(diags))
        }
    }

    /// Add an already-loaded catalog (tests, synth).
    pub fn push(&mut self, path: PathBuf, c: Catalog) {
        self.catalogs.push((path, c));
        self.index = OnceLock::new();
    }

    /// Also price from the built-in catalog what no pricing file knows.
    pub fn with_builtin(mut self, on: bool) -> PriceBook {
        self.builtin = on;
        self
    }

    /// Files in lookup order.
    pub fn files(&self) -> Vec<&Path> {
        self.catalogs.iter().map(|(p, _)| p.as_path()).collect()
    }

    /// Price of a model, when the book prices it without ambiguity (see
    /// [`PriceBook::resolve_name`] for the whole answer).
    pub fn lookup(&self, model: &str) -> Option<ModelPrice> {
        match self.resolve_name(model) {
            Resolution::Priced(p, _) => Some(p),
            _ => None,
        }
    }

    /// Prices of every model, in order; an error lists each model no source knows.
    pub fn resolve(&self, models: &[String]) -> Result<Vec<ModelPrice>, InputError> {
        self.resolve_needed(models, &vec![true; models.len()], false)
            .map(|(p, _)| p)
    }

    /// Prices of the models, in order, where `needed[i]` says whether model `i` has
    /// cells without a recorded cost. A model that needs a price and has none is an
    /// error listing every such model — unless `accept_unknown` (`--unpriced`), when
    /// its price is [`ModelPrice::unknown`]. A model whose every cell records its cost
    /// needs no price: an unknown one is fine. Returns the prices and the models left
    /// unknown although they needed a price.
    pub fn resolve_needed(
        &self,
        models: &[String],
        needed: &[bool],
        accept_unknown: bool,
    ) -> Result<(Vec<ModelPrice>, Vec<String>), InputError> {
        self.resolve_all(models, needed, accept_unknown).map(|r| {
            let mut missing = r.unpriced;
            missing.extend(r.ambiguous);
            (r.prices, missing)
        })
    }

    /// [`PriceBook::resolve_needed`] with how each price was found. A name that
    /// matches entries at several prices is an error listing them ranked, with the
    /// alias that settles it — or, with `accept_unknown`, an unknown price (never a
    /// pick).
    pub fn resolve_all(
        &self,
        models: &[String],
        needed: &[bool],
        accept_unknown: bool,
    ) -> Result<Resolved, InputError> {
        let mut out = Resolved {
            prices: Vec::with_capacity(models.len()),
            unpriced: Vec::new(),
            ambiguous: Vec::new(),
            matches: Vec::new(),
        };
        let mut questions = Vec::new();
        let mut missing = Vec::new();
        for (m, &need) in models.iter().zip(needed) {
            // A model whose every cell records its cost needs no price: a pricing file
            // may still give one (the manifest shows it), the built-in catalog is not
            // asked (a run of recorded costs never decodes it).
            match self.resolve_with(m, self.builtin && need) {
                Resolution::Priced(p, how) => {
                    out.prices.push(p);
                    out.matches.push(how);
                }
                _ if !need => out.prices.push(ModelPrice::unknown(
                    "no price needed: every response records its cost",
                )),
                Resolution::Ambiguous(a) => {
                    out.ambiguous.push(m.clone());
                    out.prices.push(ModelPrice::unknown(
                        "several catalog prices (--unpriced): cost unknown",
                    ));
                    questions.push(Diagnostic::file("pricing", a.message()));
                }
                Resolution::Unpriced(suggestions, problem) => {
                    out.unpriced.push(m.clone());
                    out.prices
                        .push(ModelPrice::unknown("unpriced (--unpriced): cost unknown"));
                    missing.push((m.clone(), suggestions, problem));
                }
            }
        }
        if accept_unknown || (missing.is_empty() && questions.is_empty()) {
            return Ok(out);
        }
        if !missing.is_empty() {
            questions.push(Diagnostic::file("pricing", self.unpriced_message(&missing)));
        }
        Err(InputError::new(questions))
    }

    fn unpriced_message(
        &self,
        missing: &[(String, Vec<matcher::Suggestion>, Option<String>)],
    ) -> String {
        let mut tried: Vec<String> = self.catalogs.iter().map(|(p, _)| display_path(p)).collect();
        if self.builtin {
            tried.push(format!(
                "the built-in catalog ({})",
                resolve::builtin_label()
            ));
        }
        let tried = if tried.is_empty() {
            "no pricing files were given, and the built-in catalog was not asked".to_string()
        } else {
            format!("looked in {}", tried.join(", "))
        };
        let mut s = format!(
            "no price for model{} {} ({tried}). Add them to a pricing.toml ([models.\"name\"] input_per_mtok/output_per_mtok, or [aliases] name = \"catalog-name\"), pass --pricing with LiteLLM's model_prices_and_context_window.json or genai-prices data.json, or run with --unpriced to see the other figures with costs unknown",
            if missing.len() > 1 { "s" } else { "" },
            missing
                .iter()
                .map(|(m, _, _)| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (m, sugg, problem) in missing {
            if let Some(p) = problem {
                s.push_str(&format!("\n  \"{m}\": {p}"));
            }
            if !sugg.is_empty() {
                s.push_str(&format!(
                    "\n  closest entries to \"{m}\" (not the same model as far as the catalogs say; `routesim prices` searches them): {}",
                    sugg.iter()
                        .map(|x| format!(
                            "{} ${}/${}",
                            x.entry,
                            resolve::fmt_mtok(x.price.input.base * 1e6),
                            resolve::fmt_mtok(x.price.output.base * 1e6)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        s
    }
}

fn load_catalog(path: &Path) -> Result<Catalog, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    let file = display_path(path);
    if path.extension().is_some_and(|e| e == "toml") {
        return overrides::parse(&file, &text).map(Catalog::Overrides);
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        InputError::one(Diagnostic {
            file: file.clone(),
            location: crate::error::Location::Text {
                line: e.line(),
                col: e.column(),
            },
            message: format!("invalid JSON: {e}"),
        })
    })?;
    match &v {
        serde_json::Value::Array(_) => genai::GenaiData::from_json(&v)
            .map(Catalog::Genai)
            .map_err(|m| InputError::file(path, m)),
        serde_json::Value::Object(_) => Ok(Catalog::LiteLlm(litellm::LiteLlm::from_json(&v))),
        _ => Err(InputError::file(
            path,
            "expected LiteLLM's cost map (a JSON object) or genai-prices data.json (a JSON array)",
        )),
    }
}

/// Today's date as days since the epoch (UTC).
pub fn today_days() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    secs.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_handles_cache_reasoning_and_cliff_tiers() {
        let mut p = ModelPrice::per_mtok(2.0, 8.0, "t");
        p.cache_read = Some(Rate::flat(0.5 / 1e6));
        let u = |input, cached, output, reasoning| Usage {
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: output,
            reasoning_tokens: reasoning,
            ..Usage::default()
        };
        // 1000 in (200 cached), 100 out: 800*2 + 200*0.5 + 100*8 = 2500 µ$ .
        assert!((p.cost(&u(1000, 200, 100, 0)) - 0.0025).abs() < 1e-15);
        p.reasoning = Some(Rate::flat(16.0 / 1e6));
        // 100 out of which 40 reasoning: 60*8 + 40*16 = 1120 µ$ ; input 1700 µ$ .
        assert!((p.cost(&u(1000, 200, 100, 40)) - 0.00282).abs() < 1e-15);
        // Cache writes: 1000 in, 300 written at 2.5 $/Mtok (Anthropic's 1.25×):
        // 700*2 + 300*2.5 = 2150 µ$ ; without a write price they cost the input price.
        let written = Usage {
            cache_write_tokens: 300,
            ..u(1000, 0, 0, 0)
        };
        assert!((ModelPrice::per_mtok(2.0, 8.0, "t").cost(&written) - 0.002).abs() < 1e-15);
        p.cache_write = Some(Rate::flat(2.5 / 1e6));
        assert!((p.cost(&written) - 0.00215).abs() < 1e-15);
        assert!(ModelPrice::unknown("x").cost(&written).is_nan());
        let tiered = Rate {
            base: 1.0,
            tiers: vec![(200_000, 2.0)],
        };
        assert_eq!(tiered.per_token(200_000), 1.0);
        assert_eq!(tiered.per_token(200_001), 2.0);
    }
}
