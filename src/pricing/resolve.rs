//! The order in which a `PriceBook` asks its sources, and what it makes of the answer.
//!
//! For a model name: an alias (`--price-as`, then `[aliases]` of the pricing.toml
//! files) replaces it first; then `pricing.toml` `[models]` (exact name, then
//! case-folded); then the user's LiteLLM / genai-prices files through the name matcher,
//! level by level across them, the first file with candidates at the deciding level
//! deciding (the user's order is the user's precedence); then — only when no user file
//! had any candidate, and unless refused — the built-in catalog, whose two catalogs are
//! peers (a price disagreement between them is an ambiguity). The verdict is a price
//! with how it was found ([`PriceMatch`]), an ambiguity with the ranked candidates and
//! the one-line fix, or no price with the closest entries.

use super::builtin;
use super::matcher::{Candidate, Catalog as Cat, Found, Index, Source, Suggestion, same_price};
use super::{Catalog, ModelPrice, PriceBook};
use crate::error::display_path;
use std::sync::OnceLock;

/// How a model's price was found: for the run's notes and the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceMatch {
    /// The dataset's model name.
    pub model: String,
    /// `pricing.toml`, `LiteLLM` or `genai-prices`.
    pub catalog: String,
    /// The entry (`litellm:KEY`, `genai-prices:PROVIDER/ID`, or the pricing.toml name).
    pub entry: String,
    /// Matching level (0: pricing.toml name or a qualified alias; 1–4: matcher levels).
    pub level: u8,
    /// How it matched ("exact key", "catalog rule of anthropic/claude-3-5-sonnet", …).
    pub how: String,
    /// The genai-prices clause that accepted the name, for levels 2–3.
    pub rule: Option<String>,
    /// The file it came from, or `built-in`.
    pub source: String,
    /// The built-in snapshot (`LiteLLM 1.106.2 (2026-10-21)`), when built-in.
    pub snapshot: Option<String>,
    /// The alias followed, when one was (`--price-as` or `[aliases]`).
    pub alias: Option<String>,
    /// Whether the name is the entry's own name, exactly.
    pub exact: bool,
    /// Deprecation, a disagreeing other catalog.
    pub notes: Vec<String>,
    /// Base input price, USD per million tokens.
    pub input_per_mtok: f64,
    /// Base output price, USD per million tokens.
    pub output_per_mtok: f64,
}

impl PriceMatch {
    /// The run note: `priced "X" as litellm:Y (how), built-in LiteLLM 1.106.2
    /// (2026-10-21): $a / $b per Mtok; notes`.
    pub fn note(&self) -> String {
        let mut s = format!("priced \"{}\" as {} ({}", self.model, self.entry, self.how);
        if let Some(r) = &self.rule {
            s.push_str(&format!(": {r}"));
        }
        if let Some(a) = &self.alias {
            s.push_str(&format!("; alias from {a}"));
        }
        s.push_str("), ");
        s.push_str(&origin(&self.source, &self.snapshot));
        s.push_str(&format!(
            ": ${} / ${} per Mtok",
            fmt_mtok(self.input_per_mtok),
            fmt_mtok(self.output_per_mtok)
        ));
        for n in &self.notes {
            s.push_str("; ");
            s.push_str(n);
        }
        s
    }

    /// The manifest's record of it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "model": self.model,
            "catalog": self.catalog,
            "entry": self.entry,
            "level": self.level,
            "how": self.how,
            "rule": self.rule,
            "source": self.source,
            "snapshot": self.snapshot,
            "alias": self.alias,
            "exact": self.exact,
            "notes": self.notes,
            "input_per_mtok": self.input_per_mtok,
            "output_per_mtok": self.output_per_mtok,
        })
    }
}

/// USD per million tokens, shortest exact form (`0.15`, `10`, `1.923`).
pub fn fmt_mtok(x: f64) -> String {
    let r = (x * 1e9).round() / 1e9;
    let s = format!("{r}");
    s.strip_suffix(".0").map(String::from).unwrap_or(s)
}

/// Several entries at different prices for one name: the question routesim asks.
#[derive(Debug, Clone)]
pub struct Ambiguity {
    /// The dataset's model name.
    pub model: String,
    /// The name looked up (the alias target when an alias was followed).
    pub looked_up: String,
    /// The deciding level.
    pub level: u8,
    /// Candidates of that level, ranked.
    pub candidates: Vec<Candidate>,
    /// Which sources were asked (`built-in catalog LiteLLM 1.106.2 (…)`, a file).
    pub sources: String,
    /// The pricing date (days since epoch).
    pub as_of_days: i64,
}

/// What a book says about one name. (One per model name, never per request: the
/// size of the priced variant does not matter.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Resolution {
    /// Priced.
    Priced(ModelPrice, PriceMatch),
    /// Several prices: stop and ask.
    Ambiguous(Ambiguity),
    /// No entry; the closest ones, and a problem with an alias when there is one.
    Unpriced(Vec<Suggestion>, Option<String>),
}

/// The name of a matcher level.
pub fn level_name(level: u8) -> &'static str {
    match level {
        0 => "pricing.toml",
        1 => "own name",
        2 => "listed name",
        3 => "declared family",
        _ => "same model at another host",
    }
}

/// `built-in LiteLLM 1.106.2 (2026-10-21)`, or the file.
fn origin(source: &str, snapshot: &Option<String>) -> String {
    match snapshot {
        Some(s) => format!("built-in {s}"),
        None => source.to_string(),
    }
}

fn builtin_sources(b: &builtin::Builtin) -> [Source<'_>; 2] {
    [Source::LiteLlm(&b.litellm), Source::Genai(&b.genai)]
}

fn builtin_index() -> &'static Index {
    static I: OnceLock<Index> = OnceLock::new();
    I.get_or_init(|| Index::build(&builtin_sources(builtin::get())))
}

/// `LiteLLM 1.106.2 (2026-10-21), genai-prices 0.1.4 (2026-08-19)`.
pub fn builtin_label() -> String {
    let [l, g] = builtin::snapshots();
    format!("{}, {}", l.label(), g.label())
}

impl PriceBook {
    /// The user's LiteLLM and genai-prices files, in order, with their paths.
    fn user_sources(&self) -> (Vec<Source<'_>>, Vec<String>) {
        let mut s = Vec::new();
        let mut labels = Vec::new();
        for (p, c) in &self.catalogs {
            match c {
                Catalog::LiteLlm(l) => s.push(Source::LiteLlm(l)),
                Catalog::Genai(g) => s.push(Source::Genai(g)),
                Catalog::Overrides(_) => continue,
            }
            labels.push(display_path(p));
        }
        (s, labels)
    }

    fn user_index(&self) -> &Index {
        self.index
            .get_or_init(|| Index::build(&self.user_sources().0))
    }

    /// The alias of a name: `--price-as` first, then the first pricing.toml listing it.
    fn alias_of(&self, model: &str) -> Option<(String, String)> {
        if let Some((_, t)) = self.price_as.iter().find(|(n, _)| n == model) {
            return Some((t.clone(), format!("--price-as {model}={t}")));
        }
        self.catalogs.iter().find_map(|(p, c)| match c {
            Catalog::Overrides(o) => o
                .aliases
                .get(model)
                .map(|t| (t.clone(), format!("[aliases] of {}", display_path(p)))),
            _ => None,
        })
    }

    /// What the book says about one model name (module docs for the order).
    pub fn resolve_name(&self, model: &str) -> Resolution {
        self.resolve_with(model, self.builtin)
    }

    /// [`PriceBook::resolve_name`], asking the built-in catalog only if `use_builtin`.
    pub fn resolve_with(&self, model: &str, use_builtin: bool) -> Resolution {
        match self.alias_of(model) {
            Some((target, via)) => {
                let mut r = match self.qualified(&target, use_builtin) {
                    Some(r) => r,
                    None => self.plain(&target, use_builtin),
                };
                match &mut r {
                    Resolution::Priced(p, m) => {
                        m.alias = Some(via.clone());
                        m.model = model.to_string();
                        p.source = format!("{} (as {target}, {via})", p.source);
                    }
                    Resolution::Ambiguous(a) => a.model = model.to_string(),
                    Resolution::Unpriced(_, problem) => {
                        *problem = Some(format!(
                            "its alias ({via}) names \"{target}\", which no source prices"
                        ))
                    }
                }
                r
            }
            None => self.plain(model, use_builtin),
        }
    }

    /// A qualified alias target: `litellm:KEY` or `genai-prices:PROVIDER/MODEL_ID`
    /// names exactly one entry of the user's files, else of the built-in catalog.
    fn qualified(&self, target: &str, use_builtin: bool) -> Option<Resolution> {
        let (kind, rest) = target.split_once(':')?;
        let want = match kind {
            "litellm" => Cat::LiteLlm,
            "genai-prices" => Cat::Genai,
            _ => return None,
        };
        let (user, labels) = self.user_sources();
        let b = use_builtin.then(builtin::get);
        let b_sources = b.map(builtin_sources);
        let mut all: Vec<(Source, Option<String>)> =
            user.into_iter().zip(labels.into_iter().map(Some)).collect();
        if let Some(bs) = &b_sources {
            all.extend(bs.iter().map(|s| (*s, None)));
        }
        for (s, label) in all {
            let found = match (s, want) {
                (Source::LiteLlm(l), Cat::LiteLlm) => l.get(rest).map(|e| {
                    (
                        e.price.clone(),
                        format!("LiteLLM \"{}\"", e.key),
                        e.deprecation_date.clone(),
                    )
                }),
                (Source::Genai(g), Cat::Genai) => rest.split_once('/').and_then(|(p, m)| {
                    let prov = g.providers.iter().find(|x| x.id == p)?;
                    let model = prov.models.iter().find(|x| x.id == m)?;
                    super::genai::model_price(prov, model, self.as_of_days)
                        .map(|mp| (mp.clone(), mp.source, None))
                }),
                _ => None,
            };
            if let Some((mut price, what, deprecated)) = found {
                let (source, snapshot) = self.source_label(want, label.as_deref());
                price.source = format!("{}: {what}", origin(&source, &snapshot));
                let mut m = PriceMatch {
                    model: target.to_string(),
                    catalog: want.name().to_string(),
                    entry: target.to_string(),
                    level: 0,
                    how: "named entry".to_string(),
                    rule: None,
                    source,
                    snapshot,
                    alias: None,
                    exact: false,
                    notes: Vec::new(),
                    input_per_mtok: price.input.base * 1e6,
                    output_per_mtok: price.output.base * 1e6,
                };
                self.deprecation_note(deprecated.as_deref(), &mut m.notes);
                return Some(Resolution::Priced(price, m));
            }
        }
        Some(Resolution::Unpriced(Vec::new(), None))
    }

    fn source_label(&self, cat: Cat, file: Option<&str>) -> (String, Option<String>) {
        match file {
            Some(f) => (f.to_string(), None),
            None => {
                let [l, g] = builtin::snapshots();
                let snap = if cat == Cat::LiteLlm { l } else { g };
                ("built-in".to_string(), Some(snap.label()))
            }
        }
    }

    fn deprecation_note(&self, date: Option<&str>, notes: &mut Vec<String>) {
        if let Some(d) = date
            && is_past(d, self.as_of_days)
        {
            notes.push(format!("deprecated since {d} (LiteLLM)"));
        }
    }

    /// A name without an alias.
    fn plain(&self, name: &str, use_builtin: bool) -> Resolution {
        for exact in [true, false] {
            for (path, c) in &self.catalogs {
                let Catalog::Overrides(o) = c else { continue };
                let hit = if exact {
                    o.models.get_key_value(name)
                } else {
                    let mut keys: Vec<&String> = o
                        .models
                        .keys()
                        .filter(|k| k.eq_ignore_ascii_case(name))
                        .collect();
                    keys.sort();
                    keys.first().and_then(|k| o.models.get_key_value(*k))
                };
                if let Some((key, p)) = hit {
                    let file = display_path(path);
                    let mut price = p.clone();
                    price.source = format!("{file}: {}", p.source);
                    let m = PriceMatch {
                        model: name.to_string(),
                        catalog: "pricing.toml".to_string(),
                        entry: key.clone(),
                        level: 0,
                        how: if exact {
                            "exact name".into()
                        } else {
                            "name, case differs".into()
                        },
                        rule: None,
                        source: file,
                        snapshot: None,
                        alias: None,
                        exact,
                        notes: Vec::new(),
                        input_per_mtok: price.input.base * 1e6,
                        output_per_mtok: price.output.base * 1e6,
                    };
                    return Resolution::Priced(price, m);
                }
            }
        }
        let (user, labels) = self.user_sources();
        let mut suggestions = Vec::new();
        if !user.is_empty() {
            let idx = self.user_index();
            let found = idx.find(&user, name, self.as_of_days);
            if found.level().is_some() {
                return self.decide(name, &found, true, &|i| Some(labels[i].clone()));
            }
            suggestions = idx.suggest(&user, name, self.as_of_days, 5);
        }
        if use_builtin {
            let b = builtin::get();
            let bs = builtin_sources(b);
            let found = builtin_index().find(&bs, name, self.as_of_days);
            if found.level().is_some() {
                return self.decide(name, &found, false, &|_| None);
            }
            suggestions.extend(builtin_index().suggest(&bs, name, self.as_of_days, 5));
            suggestions.sort_by(|a, b| b.score.total_cmp(&a.score));
            suggestions.truncate(5);
        }
        Resolution::Unpriced(suggestions, None)
    }

    /// The verdict of one source set's candidates.
    fn decide(
        &self,
        name: &str,
        found: &Found,
        first_source_decides: bool,
        label: &dyn Fn(usize) -> Option<String>,
    ) -> Resolution {
        let cands = found.deciding(first_source_decides);
        let prices = Found::prices(&cands);
        let level = cands[0].level;
        if prices.len() > 1 {
            let sources = match label(cands[0].source) {
                Some(f) => f,
                None => format!("built-in catalog: {}", builtin_label()),
            };
            return Resolution::Ambiguous(Ambiguity {
                model: name.to_string(),
                looked_up: name.to_string(),
                level,
                candidates: cands.into_iter().cloned().collect(),
                sources,
                as_of_days: self.as_of_days,
            });
        }
        let w = cands[0];
        let (source, snapshot) = self.source_label(w.catalog, label(w.source).as_deref());
        let mut price = w.price.clone();
        let exact = level == 1 && w.sub == 0;
        // How it matched is the PriceMatch's (notes, manifest); the price keeps where
        // it is from, as a pricing file's entry always did.
        price.source = format!("{}: {}", origin(&source, &snapshot), w.price.source);
        let mut notes = Vec::new();
        self.deprecation_note(w.deprecated.as_deref(), &mut notes);
        let also: Vec<String> = cands[1..]
            .iter()
            .filter(|c| c.catalog != w.catalog)
            .map(|c| c.entry.clone())
            .collect();
        if !also.is_empty() {
            notes.push(format!("{} agrees", also.join(", ")));
        }
        // The other catalog's answer at a farther level, when it disagrees.
        for c in found.all.iter().filter(|c| {
            c.level > level
                && c.level <= 3
                && c.catalog != w.catalog
                && !same_price(c.signature(), w.signature())
        }) {
            notes.push(format!(
                "{} prices it as {} at ${} / ${} per Mtok (level {}, {}); the closer level wins",
                c.catalog.name(),
                c.entry,
                fmt_mtok(c.price.input.base * 1e6),
                fmt_mtok(c.price.output.base * 1e6),
                c.level,
                level_name(c.level)
            ));
        }
        let m = PriceMatch {
            model: name.to_string(),
            catalog: w.catalog.name().to_string(),
            entry: w.entry.clone(),
            level,
            how: w.why.clone(),
            rule: w.rule.clone(),
            source,
            snapshot,
            alias: None,
            exact,
            notes,
            input_per_mtok: price.input.base * 1e6,
            output_per_mtok: price.output.base * 1e6,
        };
        Resolution::Priced(price, m)
    }
}

impl Ambiguity {
    /// The question, as `run` and `prices` print it: the ranked candidates with their
    /// prices and the one-line fix.
    pub fn message(&self) -> String {
        let prices = Found::prices(&self.candidates.iter().collect::<Vec<_>>()).len();
        let mut s = format!(
            "\"{}\"{} matches {} catalog entries at {} different prices (level {}, {}; {}):\n",
            self.model,
            if self.looked_up != self.model {
                format!(" (as \"{}\")", self.looked_up)
            } else {
                String::new()
            },
            self.candidates.len(),
            prices,
            self.level,
            level_name(self.level),
            self.sources
        );
        s.push_str(&candidate_table(&self.candidates, self.as_of_days));
        s.push_str(
            "  ranked by closeness, then host, then catalog — not a recommendation: pick the host that served your data\n",
        );
        let first = &self.candidates[0].entry;
        s.push_str(&format!(
            "  fix: add to a pricing.toml  [aliases] \"{}\" = \"{first}\"\n   or: run with --price-as '{}={first}'",
            self.model, self.model
        ));
        s
    }
}

/// Whether a `YYYY-MM-DD` date is on or before a day (days since epoch).
pub fn is_past(date: &str, as_of_days: i64) -> bool {
    crate::dataset::time::parse_ts_ms(date)
        .is_some_and(|ms| ms.div_euclid(86_400_000) <= as_of_days)
}

/// The ranked candidates as a table (entry, in, out, ctx, why).
pub fn candidate_table(cands: &[Candidate], as_of_days: i64) -> String {
    let w = cands
        .iter()
        .map(|c| c.entry.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut s = format!(
        "   #  {:<w$}  {:>8}  {:>8}  {:>8}  why\n",
        "entry", "in $/M", "out $/M", "ctx"
    );
    for (i, c) in cands.iter().enumerate() {
        let mut why = c.why.clone();
        if let Some(d) = &c.deprecated {
            why.push_str(&if is_past(d, as_of_days) {
                format!("; deprecated since {d}")
            } else {
                format!("; deprecation date {d}")
            });
        }
        s.push_str(&format!(
            "  {:>2}  {:<w$}  {:>8}  {:>8}  {:>8}  {why}\n",
            i + 1,
            c.entry,
            fmt_mtok(c.price.input.base * 1e6),
            fmt_mtok(c.price.output.base * 1e6),
            c.price
                .context_window
                .map(|x| x.to_string())
                .unwrap_or_else(|| "—".into()),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::litellm::LiteLlm;
    use crate::pricing::overrides;
    use std::path::PathBuf;

    const DAY: i64 = 20_790; // 2026-12-03

    fn book(toml: &str, litellm: Option<serde_json::Value>) -> PriceBook {
        let mut b = PriceBook::load(&[], DAY).unwrap().with_builtin(true);
        b.push(
            PathBuf::from("p.toml"),
            Catalog::Overrides(overrides::parse("p.toml", toml).unwrap()),
        );
        if let Some(v) = litellm {
            b.push(
                PathBuf::from("mine.json"),
                Catalog::LiteLlm(LiteLlm::from_json(&v)),
            );
        }
        b
    }

    fn priced(b: &PriceBook, name: &str) -> (ModelPrice, PriceMatch) {
        match b.resolve_name(name) {
            Resolution::Priced(p, m) => (p, m),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn aliases_files_and_the_builtin_catalog_in_order() {
        let mix = "mistralai/Mixtral-8x7B-Instruct-v0.1";
        let b = book(
            &format!(
                "[aliases]\n\"a\" = \"litellm:deepinfra/{mix}\"\n\"b\" = \"Llama-2-70b-chat\"\n\"c\" = \"litellm:no-such-key\"\n\"d\" = \"M1\"\n[models.m1]\ninput_per_mtok = 1\noutput_per_mtok = 2\n"
            ),
            Some(serde_json::json!({
                mix: {"input_cost_per_token": 5e-7, "output_cost_per_token": 6e-7, "litellm_provider": "mine"}
            })),
        );
        // A qualified alias names one built-in entry: deepinfra's 0.40 / 0.40.
        let (p, m) = priced(&b, "a");
        assert_eq!(
            (m.entry.as_str(), m.level),
            (format!("litellm:deepinfra/{mix}").as_str(), 0)
        );
        assert!((p.input.base - 0.4e-6).abs() < 1e-18);
        assert_eq!(m.alias.as_deref(), Some("[aliases] of p.toml"));
        assert_eq!(m.snapshot.as_deref(), Some("LiteLLM 1.106.2 (2026-10-21)"));
        // The user's LiteLLM file has the name itself: it decides, the built-in catalog
        // (7 prices for this name) is not asked.
        let (p, m) = priced(&b, mix);
        assert_eq!((m.source.as_str(), m.exact), ("mine.json", true));
        assert!((p.output.base - 6e-7).abs() < 1e-18);
        // An alias to a name the built-in catalog finds ambiguous (3 prices, no user
        // file knows it) is the question, about the dataset's name.
        match b.resolve_name("b") {
            Resolution::Ambiguous(a) => {
                assert_eq!(
                    (a.model.as_str(), a.looked_up.as_str()),
                    ("b", "Llama-2-70b-chat")
                );
                assert!(
                    a.message()
                        .contains("\"b\" (as \"Llama-2-70b-chat\") matches 3 catalog entries")
                );
            }
            other => panic!("{other:?}"),
        }
        // An alias to nothing says so.
        match b.resolve_name("c") {
            Resolution::Unpriced(_, Some(problem)) => assert!(
                problem.contains("its alias ([aliases] of p.toml) names \"litellm:no-such-key\", which no source prices"),
                "{problem}"
            ),
            other => panic!("{other:?}"),
        }
        // pricing.toml names match exactly, then case-folded (and through an alias).
        let (_, m) = priced(&b, "d");
        assert_eq!(
            (m.entry.as_str(), m.how.as_str()),
            ("m1", "name, case differs")
        );
        // --price-as comes before the file's alias.
        let mut b = b;
        b.price_as = vec![("a".into(), "m1".into())];
        let (p, m) = priced(&b, "a");
        assert_eq!(m.entry, "m1");
        assert!((p.input.base - 1e-6).abs() < 1e-18);
        assert_eq!(m.alias.as_deref(), Some("--price-as a=m1"));
        // Without the built-in catalog the qualified alias finds nothing.
        b.builtin = false;
        b.price_as.clear();
        assert!(matches!(
            b.resolve_name("a"),
            Resolution::Unpriced(_, Some(_))
        ));
    }

    #[test]
    fn unpriced_and_ambiguous_models_are_one_error_each_or_unknown_with_unpriced() {
        let b = book("", None);
        let models = vec![
            "gpt-4o".to_string(),
            "Mixtral-8x7B-Instruct-v0.1".to_string(),
            "acme-unknown-1".to_string(),
        ];
        let e = b
            .resolve_all(&models, &[true, true, true], false)
            .unwrap_err();
        assert_eq!(e.diagnostics.len(), 2);
        let text = e.to_string();
        assert!(
            text.contains("\"Mixtral-8x7B-Instruct-v0.1\" matches 7 catalog entries"),
            "{text}"
        );
        assert!(
            text.contains(
                "no price for model \"acme-unknown-1\" (looked in p.toml, the built-in catalog"
            ),
            "{text}"
        );
        let r = b.resolve_all(&models, &[true, true, true], true).unwrap();
        assert_eq!(r.ambiguous, vec!["Mixtral-8x7B-Instruct-v0.1".to_string()]);
        assert_eq!(r.unpriced, vec!["acme-unknown-1".to_string()]);
        assert!(r.prices[0].is_known() && !r.prices[1].is_known() && !r.prices[2].is_known());
        assert_eq!(r.matches.len(), 1);
        // Not needed (every cell records its cost): no error, and the built-in catalog
        // is not asked.
        let r = b
            .resolve_all(&models, &[false, false, false], false)
            .unwrap();
        assert!(r.prices.iter().all(|p| !p.is_known()) && r.matches.is_empty());
    }
}
