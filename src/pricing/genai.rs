//! pydantic/genai-prices `data.json`: providers, model match rules, tiered and dated
//! prices, and the usage extractors that turn a provider's `usage` object into token
//! counts. Semantics follow genai-prices (a model reference is lower-cased before every
//! match clause, regex included; later conditional prices win when active; tiers are
//! cliffs on total input tokens; `input_tokens` includes cached and audio tokens, which
//! are priced apart).

use super::{ModelPrice, Rate};
use serde_json::Value;

/// A match clause.
#[derive(Debug, Clone)]
pub enum Match {
    /// Whole string, case-insensitive.
    Equals(String),
    /// Prefix, case-insensitive.
    StartsWith(String),
    /// Suffix, case-insensitive.
    EndsWith(String),
    /// Substring, case-insensitive.
    Contains(String),
    /// Regular expression search, on the lower-cased text (as genai-prices lower-cases
    /// a model reference before matching).
    Regex(regex::Regex),
    /// Any clause.
    Or(Vec<Match>),
    /// All clauses.
    And(Vec<Match>),
}

impl Match {
    fn parse(v: &Value) -> Result<Match, String> {
        let o = v.as_object().ok_or("match clause: expected an object")?;
        let (k, val) = o.iter().next().ok_or("match clause: empty object")?;
        let s = || {
            val.as_str()
                .map(|s| s.to_lowercase())
                .ok_or_else(|| format!("match clause {k}: expected a string"))
        };
        Ok(match k.as_str() {
            "equals" => Match::Equals(s()?),
            "starts_with" => Match::StartsWith(s()?),
            "ends_with" => Match::EndsWith(s()?),
            "contains" => Match::Contains(s()?),
            "regex" => Match::Regex(
                regex::Regex::new(val.as_str().ok_or("regex: expected a string")?)
                    .map_err(|e| format!("bad regex in match clause: {e}"))?,
            ),
            "or" | "and" => {
                let items = val
                    .as_array()
                    .ok_or_else(|| format!("{k}: expected an array"))?
                    .iter()
                    .map(Match::parse)
                    .collect::<Result<Vec<_>, _>>()?;
                if k == "or" {
                    Match::Or(items)
                } else {
                    Match::And(items)
                }
            }
            other => return Err(format!("unknown match clause \"{other}\"")),
        })
    }

    /// Whether `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.is_match_lower(&lower)
    }

    /// How a lower-cased text matches: through an `equals` literal (the catalog lists
    /// that name), through a pattern (starts/ends with, contains, regex, and), or not.
    pub fn kind_lower(&self, lower: &str) -> Option<MatchKind> {
        match self {
            Match::Equals(s) => (lower == s).then_some(MatchKind::Listed),
            Match::Or(v) => {
                let kinds: Vec<MatchKind> = v.iter().filter_map(|m| m.kind_lower(lower)).collect();
                if kinds.contains(&MatchKind::Listed) {
                    Some(MatchKind::Listed)
                } else {
                    kinds.first().copied()
                }
            }
            other => other.is_match_lower(lower).then_some(MatchKind::Pattern),
        }
    }

    /// The clause that accepts a lower-cased text, written as in data.json
    /// (`starts_with "claude-3-5-sonnet"`).
    pub fn rule_for(&self, lower: &str) -> Option<String> {
        match self {
            Match::Or(v) => v
                .iter()
                .find_map(|m| {
                    (m.kind_lower(lower) == Some(MatchKind::Listed))
                        .then(|| m.rule_for(lower))
                        .flatten()
                })
                .or_else(|| v.iter().find_map(|m| m.rule_for(lower))),
            m if m.is_match_lower(lower) => Some(m.describe()),
            _ => None,
        }
    }

    /// The clause as text.
    pub fn describe(&self) -> String {
        let list =
            |v: &[Match], sep: &str| v.iter().map(|m| m.describe()).collect::<Vec<_>>().join(sep);
        match self {
            Match::Equals(s) => format!("equals \"{s}\""),
            Match::StartsWith(s) => format!("starts_with \"{s}\""),
            Match::EndsWith(s) => format!("ends_with \"{s}\""),
            Match::Contains(s) => format!("contains \"{s}\""),
            Match::Regex(r) => format!("regex \"{}\"", r.as_str()),
            Match::Or(v) => list(v, " | "),
            Match::And(v) => format!("({})", list(v, " & ")),
        }
    }

    /// The `equals` literals of the clause (its own, or its `or` branches'), lower-cased.
    pub fn literals(&self) -> Vec<&str> {
        match self {
            Match::Equals(s) => vec![s.as_str()],
            Match::Or(v) => v.iter().flat_map(|m| m.literals()).collect(),
            _ => Vec::new(),
        }
    }

    fn is_match_lower(&self, lower: &str) -> bool {
        match self {
            Match::Equals(s) => lower == s,
            Match::StartsWith(s) => lower.starts_with(s.as_str()),
            Match::EndsWith(s) => lower.ends_with(s.as_str()),
            Match::Contains(s) => lower.contains(s.as_str()),
            Match::Regex(r) => r.is_match(lower),
            Match::Or(v) => v.iter().any(|m| m.is_match_lower(lower)),
            Match::And(v) => v.iter().all(|m| m.is_match_lower(lower)),
        }
    }
}

/// How a match clause accepts a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// An `equals` literal lists it.
    Listed,
    /// A pattern (prefix, suffix, substring, regex) accepts it.
    Pattern,
}

/// A price per million tokens, flat or tiered.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiered {
    /// Base price per million tokens.
    pub base: f64,
    /// (start, price per million), ascending.
    pub tiers: Vec<(u64, f64)>,
}

impl Tiered {
    fn parse(v: &Value) -> Result<Tiered, String> {
        if let Some(x) = v.as_f64() {
            return Ok(Tiered {
                base: x,
                tiers: Vec::new(),
            });
        }
        let base = v
            .get("base")
            .and_then(|b| b.as_f64())
            .ok_or("tiered price: expected a number or {base, tiers}")?;
        let mut tiers = Vec::new();
        for t in v
            .get("tiers")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            let start = t
                .get("start")
                .and_then(|s| s.as_u64())
                .ok_or("tier: missing start")?;
            let price = t
                .get("price")
                .and_then(|s| s.as_f64())
                .ok_or("tier: missing price")?;
            tiers.push((start, price));
        }
        tiers.sort_by_key(|t| t.0);
        Ok(Tiered { base, tiers })
    }

    /// USD for `count` tokens given the request's total input tokens.
    pub fn usd(&self, count: u64, total_input: u64) -> f64 {
        let mut p = self.base;
        for &(start, price) in &self.tiers {
            if total_input > start {
                p = price;
            }
        }
        p * count as f64 / 1e6
    }

    fn to_rate(&self) -> Rate {
        Rate {
            base: self.base / 1e6,
            tiers: self.tiers.iter().map(|&(s, p)| (s, p / 1e6)).collect(),
        }
    }
}

/// One set of prices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    /// Uncached text input.
    pub input: Option<Tiered>,
    /// Cache writes.
    pub cache_write: Option<Tiered>,
    /// Cache reads.
    pub cache_read: Option<Tiered>,
    /// Text output.
    pub output: Option<Tiered>,
    /// Uncached audio input.
    pub input_audio: Option<Tiered>,
    /// Cached audio input.
    pub cache_audio_read: Option<Tiered>,
    /// Audio output.
    pub output_audio: Option<Tiered>,
    /// USD per thousand requests.
    pub requests_kcount: Option<f64>,
}

/// When a conditional price applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// From this date (days since epoch).
    StartDate(i64),
    /// Daily window in seconds of the UTC day: start ≤ t < end.
    TimeOfDay(u32, u32),
}

/// A model of a provider.
#[derive(Debug, Clone)]
pub struct Model {
    /// genai-prices id.
    pub id: String,
    /// Match rule for model references.
    pub matcher: Match,
    /// Context window.
    pub context_window: Option<u64>,
    /// Prices, each with an optional constraint; later active entries win.
    pub prices: Vec<(Option<Constraint>, Prices)>,
}

impl Model {
    /// Prices active on a date (days since epoch) at a time of day (seconds, UTC);
    /// `None` when none is active yet (every price starts after the date).
    pub fn prices_at(&self, days: i64, secs: u32) -> Option<&Prices> {
        self.prices.iter().rev().find_map(|(c, p)| {
            let active = match c {
                None => true,
                Some(Constraint::StartDate(d)) => days >= *d,
                Some(Constraint::TimeOfDay(s, e)) => *s <= secs && secs < *e,
            };
            active.then_some(p)
        })
    }

    /// Whether its price depends on the time of day.
    pub fn has_time_of_day_prices(&self) -> bool {
        self.prices
            .iter()
            .any(|(c, _)| matches!(c, Some(Constraint::TimeOfDay(..))))
    }
}

/// One mapping of an extractor: a path in the usage object, summed into `dest`.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Path steps.
    pub path: Vec<PathStep>,
    /// Usage field.
    pub dest: String,
    /// Whether extraction fails without it.
    pub required: bool,
}

/// A step of an extractor path.
#[derive(Debug, Clone)]
pub enum PathStep {
    /// Object key.
    Key(String),
    /// First array element whose `field` matches.
    ArrayMatch {
        /// Field of the element to test.
        field: String,
        /// Match rule.
        matcher: Match,
    },
}

/// A usage extractor for one API flavor.
#[derive(Debug, Clone)]
pub struct Extractor {
    /// API flavor (`chat`, `responses`, `default`, …).
    pub api_flavor: String,
    /// Path to the usage object.
    pub root: Vec<String>,
    /// Path to the model name in the response.
    pub model_path: Vec<String>,
    /// Field mappings.
    pub mappings: Vec<Mapping>,
}

/// A provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Provider id.
    pub id: String,
    /// Match rule for provider ids.
    pub provider_match: Option<Match>,
    /// Match rule for model references (to find a provider from a model alone).
    pub model_match: Option<Match>,
    /// Models in file order.
    pub models: Vec<Model>,
    /// Usage extractors.
    pub extractors: Vec<Extractor>,
    /// Providers whose models this one also serves.
    pub fallback_model_providers: Vec<String>,
}

/// Token usage in genai-prices' terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Total input tokens (including cached and audio).
    pub input_tokens: Option<u64>,
    /// Tokens written to the cache.
    pub cache_write_tokens: Option<u64>,
    /// Tokens read from the cache.
    pub cache_read_tokens: Option<u64>,
    /// Output tokens (including audio).
    pub output_tokens: Option<u64>,
    /// Audio input tokens.
    pub input_audio_tokens: Option<u64>,
    /// Audio tokens read from cache.
    pub cache_audio_read_tokens: Option<u64>,
    /// Audio output tokens.
    pub output_audio_tokens: Option<u64>,
}

impl Usage {
    fn slot(&mut self, dest: &str) -> Option<&mut Option<u64>> {
        Some(match dest {
            "input_tokens" => &mut self.input_tokens,
            "cache_write_tokens" => &mut self.cache_write_tokens,
            "cache_read_tokens" => &mut self.cache_read_tokens,
            "output_tokens" => &mut self.output_tokens,
            "input_audio_tokens" => &mut self.input_audio_tokens,
            "cache_audio_read_tokens" => &mut self.cache_audio_read_tokens,
            "output_audio_tokens" => &mut self.output_audio_tokens,
            _ => return None,
        })
    }

    /// Parse genai-prices' usage object (`{"input_tokens": …, …}`).
    pub fn from_json(v: &Value) -> Usage {
        let mut u = Usage::default();
        if let Some(o) = v.as_object() {
            for (k, x) in o {
                if let (Some(slot), Some(n)) = (u.slot(k), x.as_u64()) {
                    *slot = Some(n);
                }
            }
        }
        u
    }
}

/// Input and output price of one call, USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Everything billed for the prompt side.
    pub input: f64,
    /// Everything billed for the completion side.
    pub output: f64,
    /// Input + output + per-request fees.
    pub total: f64,
}

/// Price a usage with a set of prices (genai-prices' `calc_price`). `None` when the
/// token counts are inconsistent (e.g. more cached than input tokens).
pub fn calc_price(p: &Prices, u: &Usage) -> Option<Price> {
    let total_in = u.input_tokens.unwrap_or(0);
    let usd = |t: &Option<Tiered>, n: u64| t.as_ref().map(|t| t.usd(n, total_in)).unwrap_or(0.0);
    let cache_audio = u.cache_audio_read_tokens.unwrap_or(0);
    let uncached_audio = u.input_audio_tokens.unwrap_or(0).checked_sub(cache_audio)?;
    let mut input = usd(&p.input_audio, uncached_audio);
    let uncached_text = total_in
        .checked_sub(uncached_audio)?
        .checked_sub(u.cache_write_tokens.unwrap_or(0))?
        .checked_sub(u.cache_read_tokens.unwrap_or(0))?;
    input += usd(&p.input, uncached_text);
    // Without a cache price, cached tokens cost the input price (as genai-prices does).
    let or_input = |t: &Option<Tiered>| {
        if t.is_some() {
            t.clone()
        } else {
            p.input.clone()
        }
    };
    input += usd(&or_input(&p.cache_write), u.cache_write_tokens.unwrap_or(0));
    let cached_text = u.cache_read_tokens.unwrap_or(0).checked_sub(cache_audio)?;
    input += usd(&or_input(&p.cache_read), cached_text);
    input += usd(&p.cache_audio_read, cache_audio);
    let out_audio = u.output_audio_tokens.unwrap_or(0);
    let text_out = u.output_tokens.unwrap_or(0).checked_sub(out_audio)?;
    let output = usd(&p.output, text_out) + usd(&p.output_audio, out_audio);
    let total = input + output + p.requests_kcount.map(|k| k / 1000.0).unwrap_or(0.0);
    Some(Price {
        input,
        output,
        total,
    })
}

/// The whole `data.json`.
#[derive(Debug, Clone)]
pub struct GenaiData {
    /// Providers in file order.
    pub providers: Vec<Provider>,
}

fn path_of(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_prices(v: &Value) -> Result<Prices, String> {
    let f = |k: &str| v.get(k).map(Tiered::parse).transpose();
    Ok(Prices {
        input: f("input_mtok")?,
        cache_write: f("cache_write_mtok")?,
        cache_read: f("cache_read_mtok")?,
        output: f("output_mtok")?,
        input_audio: f("input_audio_mtok")?,
        cache_audio_read: f("cache_audio_read_mtok")?,
        output_audio: f("output_audio_mtok")?,
        requests_kcount: v.get("requests_kcount").and_then(|x| x.as_f64()),
    })
}

fn parse_constraint(v: &Value) -> Result<Option<Constraint>, String> {
    if v.is_null() {
        return Ok(None);
    }
    if let Some(d) = v.get("start_date").and_then(|d| d.as_str()) {
        let ms = crate::dataset::time::parse_ts_ms(d).ok_or("bad start_date")?;
        return Ok(Some(Constraint::StartDate(ms.div_euclid(86_400_000))));
    }
    let secs = |k: &str| -> Result<u32, String> {
        let s = v
            .get(k)
            .and_then(|x| x.as_str())
            .ok_or("bad time constraint")?;
        let s = s.trim_end_matches('Z');
        let mut it = s.split(':').map(|p| p.parse::<u32>().unwrap_or(0));
        Ok(it.next().unwrap_or(0) * 3600 + it.next().unwrap_or(0) * 60 + it.next().unwrap_or(0))
    };
    Ok(Some(Constraint::TimeOfDay(
        secs("start_time")?,
        secs("end_time")?,
    )))
}

impl GenaiData {
    /// Parse `data.json`.
    pub fn from_json(v: &Value) -> Result<GenaiData, String> {
        let arr = v.as_array().ok_or("expected an array of providers")?;
        let mut providers = Vec::new();
        for p in arr {
            let id = p
                .get("id")
                .and_then(|x| x.as_str())
                .ok_or("provider without id")?
                .to_string();
            let opt_match = |k: &str| p.get(k).map(Match::parse).transpose();
            let mut models = Vec::new();
            for m in p
                .get("models")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                let mid = m
                    .get("id")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string();
                let matcher = Match::parse(m.get("match").ok_or("model without match")?)
                    .map_err(|e| format!("{id}/{mid}: {e}"))?;
                let prices = match m.get("prices") {
                    Some(Value::Array(list)) => list
                        .iter()
                        .map(|c| {
                            Ok((
                                parse_constraint(c.get("constraint").unwrap_or(&Value::Null))?,
                                parse_prices(c.get("prices").unwrap_or(&Value::Null))?,
                            ))
                        })
                        .collect::<Result<Vec<_>, String>>()?,
                    Some(obj) => vec![(None, parse_prices(obj)?)],
                    None => continue,
                };
                if prices.is_empty() {
                    continue;
                }
                models.push(Model {
                    id: mid,
                    matcher,
                    context_window: m.get("context_window").and_then(|x| x.as_u64()),
                    prices,
                });
            }
            let mut extractors = Vec::new();
            for e in p
                .get("extractors")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                let mut mappings = Vec::new();
                for mp in e
                    .get("mappings")
                    .and_then(|x| x.as_array())
                    .into_iter()
                    .flatten()
                {
                    let mut path = Vec::new();
                    match mp.get("path") {
                        Some(Value::String(s)) => path.push(PathStep::Key(s.clone())),
                        Some(Value::Array(a)) => {
                            for step in a {
                                match step {
                                    Value::String(s) => path.push(PathStep::Key(s.clone())),
                                    Value::Object(_) => path.push(PathStep::ArrayMatch {
                                        field: step
                                            .get("field")
                                            .and_then(|f| f.as_str())
                                            .unwrap_or("")
                                            .to_string(),
                                        matcher: Match::parse(
                                            step.get("match").unwrap_or(&Value::Null),
                                        )?,
                                    }),
                                    _ => return Err("bad extractor path".into()),
                                }
                            }
                        }
                        _ => return Err("extractor mapping without path".into()),
                    }
                    mappings.push(Mapping {
                        path,
                        dest: mp.get("dest").and_then(|d| d.as_str()).unwrap_or("").into(),
                        required: mp
                            .get("required")
                            .and_then(|r| r.as_bool())
                            .unwrap_or(false),
                    });
                }
                extractors.push(Extractor {
                    api_flavor: e
                        .get("api_flavor")
                        .and_then(|x| x.as_str())
                        .unwrap_or("default")
                        .into(),
                    root: path_of(e.get("root").unwrap_or(&Value::Null)),
                    model_path: path_of(e.get("model_path").unwrap_or(&Value::Null)),
                    mappings,
                });
            }
            providers.push(Provider {
                id,
                provider_match: opt_match("provider_match")?,
                model_match: opt_match("model_match")?,
                models,
                extractors,
                fallback_model_providers: p
                    .get("fallback_model_providers")
                    .and_then(|x| x.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(GenaiData { providers })
    }

    /// Provider by id, or by its `provider_match` rule.
    pub fn provider(&self, provider_id: &str) -> Option<&Provider> {
        let norm = provider_id.trim().to_lowercase();
        self.providers.iter().find(|p| p.id == norm).or_else(|| {
            self.providers
                .iter()
                .find(|p| p.provider_match.as_ref().is_some_and(|m| m.is_match(&norm)))
        })
    }

    /// Model of a provider (following `fallback_model_providers`).
    pub fn find_model<'a>(&'a self, provider: &'a Provider, model: &str) -> Option<&'a Model> {
        if let Some(m) = provider.models.iter().find(|m| m.matcher.is_match(model)) {
            return Some(m);
        }
        for fb in &provider.fallback_model_providers {
            if let Some(p) = self.providers.iter().find(|p| &p.id == fb)
                && let Some(m) = p.models.iter().find(|m| m.matcher.is_match(model))
            {
                return Some(m);
            }
        }
        None
    }

    /// Find (provider, model) for a reference, as genai-prices does without a provider
    /// id: `provider/model` when the prefix is a provider's id; otherwise the first
    /// provider whose `model_match` accepts the whole (lower-cased) reference. A prefix
    /// is never read through a provider's `provider_match` rule: `mistralai/…` is not
    /// Mistral's API (the routesim name matcher, `matcher.rs`, decides such names).
    pub fn find(&self, reference: &str) -> Option<(&Provider, &Model)> {
        if let Some((prov, rest)) = reference.split_once('/')
            && let Some(p) = self.providers.iter().find(|p| p.id == prov.to_lowercase())
            && let Some(m) = self.find_model(p, rest)
        {
            return Some((p, m));
        }
        let p = self.providers.iter().find(|p| {
            p.model_match
                .as_ref()
                .is_some_and(|mm| mm.is_match(reference))
        })?;
        self.find_model(p, reference).map(|m| (p, m))
    }

    /// (provider index, model index) of the model provider `p` prices a lower-cased
    /// name with: its first model whose clause accepts the name, else the first of its
    /// `fallback_model_providers`' (one step, as genai-prices).
    pub fn find_in(&self, p: usize, lower: &str) -> Option<(usize, usize)> {
        let own = |i: usize| {
            self.providers[i]
                .models
                .iter()
                .position(|m| m.matcher.is_match_lower(lower))
                .map(|m| (i, m))
        };
        own(p).or_else(|| {
            self.providers[p]
                .fallback_model_providers
                .iter()
                .filter_map(|fb| self.providers.iter().position(|x| &x.id == fb))
                .find_map(own)
        })
    }

    /// Our [`ModelPrice`] for a reference, priced as of a date (days since epoch, at
    /// 12:00 UTC for time-of-day prices — said in the source); `None` when the model
    /// has no price yet on that date.
    pub fn lookup(&self, reference: &str, as_of_days: i64) -> Option<ModelPrice> {
        let (p, m) = self.find(reference)?;
        model_price(p, m, as_of_days)
    }
}

/// Our [`ModelPrice`] of a provider's model as of a date (days since epoch; at 12:00
/// UTC for time-of-day prices — said in the source); `None` without both an input and
/// an output price on that date.
pub fn model_price(p: &Provider, m: &Model, as_of_days: i64) -> Option<ModelPrice> {
    let prices = m.prices_at(as_of_days, 12 * 3600)?;
    let input = prices.input.as_ref()?;
    let output = prices.output.as_ref()?;
    Some(ModelPrice {
        input: input.to_rate(),
        output: output.to_rate(),
        cache_read: prices.cache_read.as_ref().map(Tiered::to_rate),
        cache_write: prices.cache_write.as_ref().map(Tiered::to_rate),
        reasoning: None,
        per_request: prices.requests_kcount.map(|k| k / 1000.0).unwrap_or(0.0),
        context_window: m.context_window.map(|c| c.min(u32::MAX as u64) as u32),
        max_output_tokens: None,
        source: if m.has_time_of_day_prices() {
            format!(
                "genai-prices {}/{} (time-of-day prices taken at 12:00 UTC)",
                p.id, m.id
            )
        } else {
            format!("genai-prices {}/{}", p.id, m.id)
        },
    })
}

impl Extractor {
    /// Extract (model, usage) from a response body; `None` when a required field is
    /// absent or the root is missing.
    pub fn extract(&self, body: &Value) -> Option<(Option<String>, Usage)> {
        let mut root = body;
        for k in &self.root {
            root = root.get(k)?;
        }
        let mut model = body;
        let mut have_model = true;
        for k in &self.model_path {
            match model.get(k) {
                Some(x) => model = x,
                None => {
                    have_model = false;
                    break;
                }
            }
        }
        let model = if have_model {
            model.as_str().map(String::from)
        } else {
            None
        };
        let mut u = Usage::default();
        for mp in &self.mappings {
            let mut cur = root;
            let mut ok = true;
            for step in &mp.path {
                let next = match step {
                    PathStep::Key(k) => cur.get(k),
                    PathStep::ArrayMatch { field, matcher } => cur.as_array().and_then(|a| {
                        a.iter().find(|el| {
                            el.get(field)
                                .and_then(|f| f.as_str())
                                .is_some_and(|s| matcher.is_match(s))
                        })
                    }),
                };
                match next {
                    Some(n) => cur = n,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            let n = if ok { cur.as_u64() } else { None };
            match n {
                Some(n) => {
                    if let Some(slot) = u.slot(&mp.dest) {
                        *slot = Some(slot.unwrap_or(0) + n);
                    }
                }
                None if mp.required => return None,
                None => {}
            }
        }
        Some((model, u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiered_cliff_and_cached_tokens() {
        let p = Prices {
            input: Some(Tiered {
                base: 3.0,
                tiers: vec![(200_000, 6.0)],
            }),
            cache_read: Some(Tiered {
                base: 0.3,
                tiers: vec![],
            }),
            output: Some(Tiered {
                base: 15.0,
                tiers: vec![],
            }),
            ..Default::default()
        };
        let u = Usage {
            input_tokens: Some(1000),
            cache_read_tokens: Some(400),
            output_tokens: Some(10),
            ..Default::default()
        };
        let r = calc_price(&p, &u).unwrap();
        assert!((r.input - (600.0 * 3.0 + 400.0 * 0.3) / 1e6).abs() < 1e-18);
        assert!((r.output - 150.0 / 1e6).abs() < 1e-18);
        let big = Usage {
            input_tokens: Some(300_000),
            ..Default::default()
        };
        assert!((calc_price(&p, &big).unwrap().input - 1.8).abs() < 1e-12);
    }

    #[test]
    fn no_price_before_the_first_dated_price() {
        // One price, valid from day 20000: on day 19999 the model has no price (it did
        // not exist yet); from day 20000 it has.
        let m = Model {
            id: "m".into(),
            matcher: Match::parse(&serde_json::json!({"equals": "m"})).unwrap(),
            context_window: None,
            prices: vec![(
                Some(Constraint::StartDate(20_000)),
                Prices {
                    input: Some(Tiered {
                        base: 1.0,
                        tiers: vec![],
                    }),
                    ..Default::default()
                },
            )],
        };
        assert!(m.prices_at(19_999, 0).is_none());
        assert!(m.prices_at(20_000, 0).is_some());
    }

    #[test]
    fn match_rules_are_case_insensitive() {
        let m = Match::parse(
            &serde_json::json!({"or": [{"starts_with": "Claude-3-5"}, {"equals": "x"}]}),
        )
        .unwrap();
        assert!(m.is_match("claude-3-5-sonnet"));
        assert!(m.is_match("X"));
        assert!(!m.is_match("gpt-4o"));
    }
}
