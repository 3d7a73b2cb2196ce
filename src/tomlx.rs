//! Reading TOML with positions, collecting every error.
//!
//! All our TOML files (policies, `dataset.toml`, `pricing.toml`, `providers.toml`) are
//! read through [`TomlDoc`]: it parses with error recovery, keeps the span of every key
//! and value, and offers typed accessors that record a [`Diagnostic`] (file:line:col and
//! what was expected) instead of failing. Unknown keys are errors with a suggestion.
//! Callers build their own typed structs from the tree and return all problems at once.

use crate::error::{Diagnostic, suggest};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A value with its span in the source.
pub type Val<'i> = Spanned<DeValue<'i>>;
/// A table of spanned keys and values.
pub type Table<'i> = DeTable<'i>;
/// A byte range in the source.
pub type Span = Range<usize>;

/// A parsed TOML document plus the diagnostics found so far.
pub struct TomlDoc<'i> {
    /// File name as shown to the user.
    pub file: String,
    /// Full source text.
    pub source: &'i str,
    /// Problems found so far (syntax and semantic).
    pub diags: Vec<Diagnostic>,
}

impl<'i> TomlDoc<'i> {
    /// The end of every reader: `value` when nothing was found wrong, else every
    /// problem found (syntax and semantic) as one error.
    pub fn finish<T>(self, value: T) -> Result<T, crate::error::InputError> {
        if self.diags.is_empty() {
            Ok(value)
        } else {
            Err(crate::error::InputError::new(self.diags))
        }
    }

    /// Parse `source`, recording syntax errors. The returned root holds what could be
    /// recovered, so semantic checks can still run and report more problems.
    pub fn parse(file: &str, source: &'i str) -> (Self, Spanned<Table<'i>>) {
        let (root, errors) = DeTable::parse_recoverable(source);
        let mut doc = Self {
            file: file.to_string(),
            source,
            diags: Vec::new(),
        };
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let msg = first_line(e.message());
            doc.err(span, format!("invalid TOML: {msg}"));
        }
        (doc, root)
    }

    /// Whether a syntax error was found (semantic checks may then be misleading).
    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// Record a problem at `span`.
    pub fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at_offset(
            &self.file,
            self.source,
            span.start,
            msg,
        ));
    }

    /// Report keys of `table` not in `allowed`, with a suggestion when one is close.
    pub fn check_keys(&mut self, table: &Table<'_>, allowed: &[&str], context: &str) {
        for (k, _) in table.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                let hint = match suggest(name, allowed.iter().copied()) {
                    Some(s) => format!("; did you mean \"{s}\"?"),
                    None => format!("; expected one of: {}", allowed.join(", ")),
                };
                self.err(
                    k.span(),
                    format!("unknown key \"{name}\" in {context}{hint}"),
                );
            }
        }
    }

    /// A required key of a table; an error at `span` (the table) when absent.
    pub fn require<'a, 'v>(
        &mut self,
        t: &'a Table<'v>,
        key: &str,
        span: Span,
        what: &str,
    ) -> Option<&'a Val<'v>> {
        let v = t.get(key);
        if v.is_none() {
            self.err(span, format!("{what}: missing `{key}`"));
        }
        v
    }

    /// A string value, or an error naming what was expected.
    pub fn string(&mut self, v: &Val<'_>, what: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.err(
                    v.span(),
                    format!("{what}: expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A number (integer or float).
    pub fn number(&mut self, v: &Val<'_>, what: &str) -> Option<f64> {
        match as_f64(v.get_ref()) {
            Some(x) if x.is_finite() => Some(x),
            Some(_) => {
                self.err(v.span(), format!("{what}: expected a finite number"));
                None
            }
            None => {
                self.err(
                    v.span(),
                    format!(
                        "{what}: expected a number, found {}",
                        type_name(v.get_ref())
                    ),
                );
                None
            }
        }
    }

    /// A number that must be > 0.
    pub fn positive(&mut self, v: &Val<'_>, what: &str) -> Option<f64> {
        let x = self.number(v, what)?;
        if x > 0.0 {
            Some(x)
        } else {
            self.err(
                v.span(),
                format!("{what}: expected a positive number, found {x}"),
            );
            None
        }
    }

    /// A number that must be ≥ 0.
    pub fn non_negative(&mut self, v: &Val<'_>, what: &str) -> Option<f64> {
        let x = self.number(v, what)?;
        if x >= 0.0 {
            Some(x)
        } else {
            self.err(
                v.span(),
                format!("{what}: expected a number ≥ 0, found {x}"),
            );
            None
        }
    }

    /// A probability in [0, 1].
    pub fn fraction(&mut self, v: &Val<'_>, what: &str) -> Option<f64> {
        let x = self.number(v, what)?;
        if (0.0..=1.0).contains(&x) {
            Some(x)
        } else {
            self.err(
                v.span(),
                format!("{what}: expected a number between 0 and 1, found {x}"),
            );
            None
        }
    }

    /// A non-negative integer.
    pub fn uint(&mut self, v: &Val<'_>, what: &str) -> Option<u64> {
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(x) if x >= 0 => Some(x as u64),
                _ => {
                    self.err(v.span(), format!("{what}: expected an integer ≥ 0"));
                    None
                }
            },
            other => {
                self.err(
                    v.span(),
                    format!("{what}: expected an integer, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, v: &Val<'_>, what: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.err(
                    v.span(),
                    format!("{what}: expected true or false, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A table.
    pub fn table<'a, 'v>(&mut self, v: &'a Val<'v>, what: &str) -> Option<&'a Table<'v>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.err(
                    v.span(),
                    format!("{what}: expected a table, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An array.
    pub fn array<'a, 'v>(&mut self, v: &'a Val<'v>, what: &str) -> Option<&'a [Val<'v>]> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            other => {
                self.err(
                    v.span(),
                    format!("{what}: expected an array, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An array of strings, each with its span (a single string is accepted as one item).
    pub fn strings(&mut self, v: &Val<'_>, what: &str) -> Option<Vec<(String, Span)>> {
        match v.get_ref() {
            DeValue::String(s) => Some(vec![(s.to_string(), v.span())]),
            DeValue::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                let mut ok = true;
                for item in a.iter() {
                    match self.string(item, what) {
                        Some(s) => out.push((s, item.span())),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            other => {
                self.err(
                    v.span(),
                    format!(
                        "{what}: expected a string or an array of strings, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }
}

/// Look up `key` in a table.
pub fn get<'a, 'v>(t: &'a Table<'v>, key: &str) -> Option<&'a Val<'v>> {
    t.get(key)
}

/// The span of `key` itself (for "missing …" errors pointing at the parent's key).
pub fn key_span(t: &Table<'_>, key: &str) -> Option<Span> {
    t.get_key_value(key).map(|(k, _)| k.span())
}

/// A number from an integer or float value.
pub fn as_f64(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|x| x as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        _ => None,
    }
}

/// A short human name of a TOML value's type.
pub fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_syntax_and_semantic_errors_with_positions() {
        let src = "a = 1\nb = \"x\"\nc = [1, 2\n";
        let (mut doc, root) = TomlDoc::parse("t.toml", src);
        assert!(doc.has_errors());
        let root = root.get_ref();
        doc.check_keys(root, &["a", "bb"], "the top level");
        let msgs: Vec<String> = doc.diags.iter().map(|d| d.to_string()).collect();
        assert!(msgs.iter().any(|m| m.starts_with("t.toml:3:")), "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("t.toml:2:1: unknown key \"b\"") && m.contains("\"bb\"")),
            "{msgs:?}"
        );
    }

    #[test]
    fn typed_accessors_report_type_mismatch() {
        let src = "n = \"ten\"\nw = -1\nu = 1_000\n";
        let (mut doc, root) = TomlDoc::parse("t.toml", src);
        let root = root.get_ref();
        assert_eq!(doc.number(get(root, "n").unwrap(), "n"), None);
        assert_eq!(doc.positive(get(root, "w").unwrap(), "weight"), None);
        assert_eq!(doc.uint(get(root, "u").unwrap(), "u"), Some(1000));
        let msgs: Vec<String> = doc.diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(msgs[0], "t.toml:1:5: n: expected a number, found a string");
        assert_eq!(
            msgs[1],
            "t.toml:2:5: weight: expected a positive number, found -1"
        );
    }
}
