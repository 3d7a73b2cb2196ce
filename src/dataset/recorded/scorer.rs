//! Quality scorers for recorded answers, configured per dataset (`[scorer]` in
//! `dataset.toml`):
//!
//! ```toml
//! [scorer]
//! kind = "numeric"        # exact | contains | regex | numeric | json | judge
//! tolerance = 1e-6        # numeric: |answer − reference| ≤ tolerance × max(1, |reference|)
//! pattern = "…"           # regex: the answer matches
//! # judge: an LLM grades the answer through a provider of providers.toml
//! provider = "openai"
//! model = "gpt-4o-mini"
//! template = "Question: {question}\nReference: {reference}\nAnswer: {answer}\nRate 1-10 as [[N]]."
//! score_pattern = "\\[\\[(\\d+(?:\\.\\d+)?)\\]\\]"
//! scale = 10
//! ```
//! Every scorer returns a quality in 0..1, or `None` — a *missing* label (no
//! reference, or a judge verdict that cannot be parsed), never a silent 0.

use crate::error::InputError;
use crate::tomlx::{Table, TomlDoc, Val, get};
use regex::Regex;

/// A scorer.
#[derive(Debug, Clone)]
pub enum Scorer {
    /// Answer equals the reference (trimmed, case-insensitive).
    Exact,
    /// Answer contains the reference (case-insensitive).
    Contains,
    /// Answer matches a regular expression.
    Regex(Regex),
    /// Last number in the answer equals the reference number within a tolerance.
    Numeric {
        /// Relative tolerance (absolute below 1).
        tolerance: f64,
    },
    /// Answer is valid JSON (code fences allowed).
    Json,
    /// An LLM judge.
    Judge(Judge),
}

/// LLM-as-judge settings.
#[derive(Debug, Clone)]
pub struct Judge {
    /// Provider name in providers.toml.
    pub provider: String,
    /// Dataset-side model name the provider maps (or the provider's model id).
    pub model: String,
    /// Prompt template with {question}, {answer}, {reference}.
    pub template: String,
    /// Regex whose first group is the score.
    pub score_pattern: Regex,
    /// Divide the score by this to get 0..1.
    pub scale: f64,
}

impl Judge {
    /// The judge prompt.
    pub fn prompt(&self, question: &str, answer: &str, reference: Option<&str>) -> String {
        self.template
            .replace("{question}", question)
            .replace("{answer}", answer)
            .replace("{reference}", reference.unwrap_or("(none)"))
    }

    /// Parse a verdict; `None` when unparseable or out of range (a missing label).
    pub fn parse(&self, verdict: &str) -> Option<f64> {
        let caps = self.score_pattern.captures_iter(verdict).last()?;
        let x: f64 = caps.get(1)?.as_str().parse().ok()?;
        let q = x / self.scale;
        (0.0..=1.0).contains(&q).then_some(q)
    }
}

/// The last number in a text (commas as thousands separators allowed).
pub fn last_number(s: &str) -> Option<f64> {
    let re = Regex::new(r"-?\d[\d,]*(?:\.\d+)?").expect("static regex");
    re.find_iter(s)
        .last()
        .and_then(|m| m.as_str().replace(',', "").parse().ok())
}

impl Scorer {
    /// Score an answer (judges are scored by the recorder, which makes the call).
    pub fn score(&self, answer: &str, reference: Option<&str>) -> Option<f64> {
        let b = |x: bool| Some(if x { 1.0 } else { 0.0 });
        match self {
            Scorer::Exact => b(answer.trim().eq_ignore_ascii_case(reference?.trim())),
            Scorer::Contains => b(answer
                .to_lowercase()
                .contains(&reference?.trim().to_lowercase())),
            Scorer::Regex(r) => b(r.is_match(answer)),
            Scorer::Numeric { tolerance } => {
                let want = last_number(reference?)?;
                match last_number(answer) {
                    Some(got) => b((got - want).abs() <= tolerance * want.abs().max(1.0)),
                    None => Some(0.0),
                }
            }
            Scorer::Json => {
                let t = answer.trim();
                let t = t
                    .strip_prefix("```json")
                    .or_else(|| t.strip_prefix("```"))
                    .unwrap_or(t);
                let t = t.strip_suffix("```").unwrap_or(t);
                b(serde_json::from_str::<serde_json::Value>(t.trim()).is_ok())
            }
            Scorer::Judge(_) => None,
        }
    }
}

/// Parse `[scorer]` (called by the dataset.toml reader).
pub fn parse_scorer(doc: &mut TomlDoc, v: &Val) -> Option<Scorer> {
    let t: &Table = doc.table(v, "scorer")?;
    doc.check_keys(
        t,
        &[
            "kind",
            "tolerance",
            "pattern",
            "provider",
            "model",
            "template",
            "score_pattern",
            "scale",
        ],
        "[scorer]",
    );
    let kv = doc.require(t, "kind", v.span(), "[scorer]")?;
    let kind = doc.string(kv, "kind")?;
    let regex = |doc: &mut TomlDoc, key: &str, default: Option<&str>| -> Option<Regex> {
        let (text, span) = match get(t, key) {
            Some(x) => (doc.string(x, key)?, x.span()),
            None => match default {
                Some(d) => (d.to_string(), v.span()),
                None => {
                    doc.err(v.span(), format!("[scorer]: missing `{key}`"));
                    return None;
                }
            },
        };
        match Regex::new(&text) {
            Ok(r) => Some(r),
            Err(e) => {
                doc.err(
                    span,
                    format!(
                        "{key}: invalid regular expression: {}",
                        e.to_string().lines().last().unwrap_or("")
                    ),
                );
                None
            }
        }
    };
    Some(match kind.as_str() {
        "exact" => Scorer::Exact,
        "contains" => Scorer::Contains,
        "json" => Scorer::Json,
        "regex" => Scorer::Regex(regex(doc, "pattern", None)?),
        "numeric" => Scorer::Numeric {
            tolerance: get(t, "tolerance")
                .and_then(|x| doc.non_negative(x, "tolerance"))
                .unwrap_or(1e-6),
        },
        "judge" => {
            let pv = doc.require(t, "provider", v.span(), "[scorer] judge")?;
            let provider = doc.string(pv, "provider")?;
            let mv = doc.require(t, "model", v.span(), "[scorer] judge")?;
            let model = doc.string(mv, "model")?;
            let template = match get(t, "template") {
                Some(x) => doc.string(x, "template")?,
                None => "Please act as an impartial judge. Rate the assistant's answer to the question from 1 to 10, strictly in the format [[rating]].\n\n[Question]\n{question}\n\n[Reference answer]\n{reference}\n\n[Assistant's answer]\n{answer}".into(),
            };
            Scorer::Judge(Judge {
                provider,
                model,
                template,
                score_pattern: regex(doc, "score_pattern", Some(r"\[\[(\d+(?:\.\d+)?)\]\]"))?,
                scale: get(t, "scale")
                    .and_then(|x| doc.positive(x, "scale"))
                    .unwrap_or(10.0),
            })
        }
        other => {
            doc.err(kv.span(), format!("kind: expected exact, contains, regex, numeric, json or judge, found \"{other}\""));
            return None;
        }
    })
}

/// Parse a `[scorer]` table from a whole TOML text (tests, tools).
pub fn from_toml(file: &str, text: &str) -> Result<Option<Scorer>, InputError> {
    let (mut doc, root) = TomlDoc::parse(file, text);
    let s = get(root.get_ref(), "scorer").and_then(|v| parse_scorer(&mut doc, v));
    doc.finish(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scorers_score_and_missing_labels_stay_missing() {
        assert_eq!(Scorer::Exact.score(" Paris ", Some("paris")), Some(1.0));
        assert_eq!(Scorer::Exact.score("Lyon", Some("Paris")), Some(0.0));
        assert_eq!(
            Scorer::Exact.score("Paris", None),
            None,
            "no reference: missing, not 0"
        );
        assert_eq!(
            Scorer::Contains.score("It is Paris.", Some("paris")),
            Some(1.0)
        );
        let num = Scorer::Numeric { tolerance: 1e-6 };
        assert_eq!(
            num.score("so she makes $18 a day. #### 18", Some("#### 18")),
            Some(1.0)
        );
        assert_eq!(num.score("the answer is 1,234", Some("1234")), Some(1.0));
        assert_eq!(num.score("no idea", Some("7")), Some(0.0));
        assert_eq!(
            Scorer::Json.score("```json\n{\"a\": 1}\n```", None),
            Some(1.0)
        );
        assert_eq!(Scorer::Json.score("{a: 1}", None), Some(0.0));
        let s = from_toml(
            "d.toml",
            "[scorer]\nkind = \"judge\"\nprovider = \"p\"\nmodel = \"m\"\n",
        )
        .unwrap()
        .unwrap();
        let Scorer::Judge(j) = s else { panic!() };
        assert_eq!(j.parse("Rating: [[8]]"), Some(0.8));
        assert_eq!(
            j.parse("I cannot rate this."),
            None,
            "unparseable verdict: missing label"
        );
        assert_eq!(j.parse("[[42]]"), None);
        let e = from_toml("d.toml", "[scorer]\nkind = \"regex\"\npattern = \"(\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("d.toml:3:11: pattern: invalid regular expression"),
            "{e}"
        );
    }
}
