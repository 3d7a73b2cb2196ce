//! Searching the catalogs by name (`routesim prices PATTERN`): every text-generation
//! entry of the book's LiteLLM and genai-prices files and of the built-in catalog whose
//! name contains the pattern (or matches it, when it has `*` or `?`), with its prices
//! on a date. What `routesim run` would do with the name is `PriceBook::resolve_name`.

use super::genai;
use super::resolve::builtin_label;
use super::{Catalog, ModelPrice, PriceBook, builtin};
use crate::error::display_path;

/// One catalog entry.
#[derive(Debug, Clone)]
pub struct Row {
    /// The alias target that names it (`litellm:KEY`, `genai-prices:PROVIDER/ID`).
    pub entry: String,
    /// Host (LiteLLM `litellm_provider`) or genai-prices provider.
    pub provider: String,
    /// Its price on the date (`None`: a genai-prices model with no price yet).
    pub price: Option<ModelPrice>,
    /// Where it is: a file, or `built-in LiteLLM 1.106.2 (2026-10-21)`.
    pub source: String,
    /// Whether it is the built-in catalog's.
    pub builtin: bool,
    /// Deprecation, `$0`, the genai-prices rule, "no price on the date".
    pub notes: Vec<String>,
}

/// Whether `text` (lower-cased) is matched by `pattern` (lower-cased): a glob with
/// `*` and `?` over the whole text, else a substring.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return text.contains(pattern);
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative glob with backtracking to the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Entries whose name matches `pattern`, user files first (in order), then the built-in
/// catalog when the book asks it; within a source sorted by entry.
pub fn search(book: &PriceBook, pattern: &str) -> Vec<Row> {
    let pat = pattern.to_lowercase();
    let mut rows = Vec::new();
    for (path, c) in &book.catalogs {
        let src = display_path(path);
        match c {
            Catalog::LiteLlm(l) => litellm_rows(l, &pat, (&src, false), book, &mut rows),
            Catalog::Genai(g) => genai_rows(g, &pat, (&src, false), book, &mut rows),
            Catalog::Overrides(o) => {
                let mut names: Vec<&String> = o
                    .models
                    .keys()
                    .filter(|k| pattern_matches(&pat, &k.to_lowercase()))
                    .collect();
                names.sort();
                for n in names {
                    rows.push(Row {
                        entry: n.clone(),
                        provider: String::new(),
                        price: Some(o.models[n].clone()),
                        source: src.clone(),
                        builtin: false,
                        notes: Vec::new(),
                    });
                }
            }
        }
    }
    if book.builtin {
        let b = builtin::get();
        let [l, g] = builtin::snapshots();
        let (ls, gs) = (
            format!("built-in {}", l.label()),
            format!("built-in {}", g.label()),
        );
        litellm_rows(&b.litellm, &pat, (&ls, true), book, &mut rows);
        genai_rows(&b.genai, &pat, (&gs, true), book, &mut rows);
    }
    rows
}

fn litellm_rows(
    l: &super::litellm::LiteLlm,
    pat: &str,
    (src, builtin): (&str, bool),
    book: &PriceBook,
    rows: &mut Vec<Row>,
) {
    for e in l.entries() {
        if !e.is_text() || !pattern_matches(pat, &e.key.to_lowercase()) {
            continue;
        }
        let mut notes = Vec::new();
        if let Some(d) = &e.deprecation_date {
            notes.push(if super::resolve::is_past(d, book.as_of_days) {
                format!("deprecated since {d}")
            } else {
                format!("deprecation date {d}")
            });
        }
        if e.price.input.base == 0.0 && e.price.output.base == 0.0 {
            notes.push("$0 (local): matched by its exact key only".into());
        }
        rows.push(Row {
            entry: format!("litellm:{}", e.key),
            provider: e.provider.clone(),
            price: Some(e.price.clone()),
            source: src.to_string(),
            builtin,
            notes,
        });
    }
}

fn genai_rows(
    g: &genai::GenaiData,
    pat: &str,
    (src, builtin): (&str, bool),
    book: &PriceBook,
    rows: &mut Vec<Row>,
) {
    let mut out = Vec::new();
    for p in &g.providers {
        for m in &p.models {
            let id = format!("{}/{}", p.id, m.id).to_lowercase();
            let listed = m
                .matcher
                .literals()
                .into_iter()
                .find(|l| pattern_matches(pat, l));
            let rule = (!pat.contains(['*', '?']))
                .then(|| m.matcher.rule_for(pat))
                .flatten();
            if !pattern_matches(pat, &id) && listed.is_none() && rule.is_none() {
                continue;
            }
            let price = genai::model_price(p, m, book.as_of_days);
            let mut notes = Vec::new();
            match (&price, listed) {
                (None, _) => notes.push("no price on the date".into()),
                (Some(_), Some(l)) if !pattern_matches(pat, &id) => {
                    notes.push(format!("lists \"{l}\""))
                }
                _ => {}
            }
            if let Some(r) = rule
                && listed.is_none()
                && !pattern_matches(pat, &id)
            {
                notes.push(format!("rule {r} accepts it"));
            }
            if m.has_time_of_day_prices() {
                notes.push("time-of-day prices: taken at 12:00 UTC".into());
            }
            if m.prices
                .iter()
                .any(|(c, _)| matches!(c, Some(genai::Constraint::StartDate(_))))
            {
                notes.push("dated prices: the one in force on the date".into());
            }
            out.push(Row {
                entry: format!("genai-prices:{}/{}", p.id, m.id),
                provider: p.id.clone(),
                price,
                source: src.to_string(),
                builtin,
                notes,
            });
        }
    }
    out.sort_by(|a, b| a.entry.cmp(&b.entry));
    rows.extend(out);
}

/// The built-in catalog's one-line provenance (for `prices`' footer).
pub fn builtin_footer() -> String {
    let [l, g] = builtin::snapshots();
    format!(
        "built-in catalog: {} — {} {} (sha256 {}…, {}), {} {} (sha256 {}…, {})",
        builtin_label(),
        l.package,
        l.version,
        &l.sha256[..12],
        l.licence,
        g.package,
        g.version,
        &g.sha256[..12],
        g.licence
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_substrings() {
        assert!(pattern_matches(
            "mixtral",
            "together_ai/mistralai/mixtral-8x7b"
        ));
        assert!(!pattern_matches("mixtral", "gpt-4o"));
        assert!(pattern_matches("gpt-4o*", "gpt-4o-mini"));
        assert!(!pattern_matches("gpt-4o*", "azure/gpt-4o"));
        assert!(pattern_matches("*gpt-4o", "azure/gpt-4o"));
        assert!(pattern_matches("gpt-?o", "gpt-4o"));
        assert!(!pattern_matches("gpt-?o", "gpt-4o-mini"));
        assert!(pattern_matches(
            "*/*mixtral*",
            "deepinfra/mistralai/mixtral-8x7b"
        ));
        assert!(pattern_matches("*", ""));
    }
}
