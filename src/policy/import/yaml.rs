//! A YAML reader into a [`Node`] tree (key order and positions kept), on the
//! `yaml-rust2` event parser. Plain scalars are typed as PyYAML's `safe_load` types
//! them (LiteLLM reads its config with it, YAML 1.1): `yes`/`no`/`on`/`off` and
//! `true`/`false` are booleans, `~`/`null`/empty is null, decimal integers (with `_`)
//! and numbers with a decimal point are numbers — so `1e3` stays a string, as in
//! Python. Quoted scalars are strings. Anchors, aliases and `<<` merge keys are
//! resolved; a key written twice in one mapping is an error; only the first document
//! is read.

use super::tree::{Key, Node, Value};
use crate::error::{Diagnostic, InputError, Location};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Parse `text` (the contents of `file`). An empty document is `null`.
pub fn parse(file: &str, text: &str) -> Result<Node, InputError> {
    let mut b = Builder {
        file,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        error: None,
        docs: 0,
    };
    let mut p = Parser::new_from_str(text);
    if let Err(e) = p.load(&mut b, false) {
        let m = e.marker();
        return Err(InputError::one(Diagnostic {
            file: file.to_string(),
            location: Location::Text {
                line: m.line(),
                col: m.col() + 1,
            },
            message: format!("invalid YAML: {}", e.info()),
        }));
    }
    if let Some(d) = b.error {
        return Err(InputError::one(d));
    }
    Ok(b.root.unwrap_or(Node {
        value: Value::Null,
        line: 1,
        col: 1,
    }))
}

enum Frame {
    Seq(Node, usize),
    /// The mapping, its anchor, the key waiting for its value, and the keys that came
    /// from `<<` merges (an explicit key replaces those).
    Map(Node, usize, Option<Key>, Vec<String>),
}

struct Builder<'a> {
    file: &'a str,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    error: Option<Diagnostic>,
    docs: usize,
}

/// A plain scalar typed as PyYAML (YAML 1.1) types it.
fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let first_digit = body.chars().next().is_some_and(|c| c.is_ascii_digit());
    if first_digit && body.chars().all(|c| c.is_ascii_digit() || c == '_') {
        if let Ok(i) = clean.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(x) = clean.parse::<f64>() {
            return Value::Float(x);
        }
    }
    // PyYAML floats need a decimal point: 1.5, 1., .5, 1.5e+3.
    let has_dot = body.contains('.');
    let ok_chars = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '_' | 'e' | 'E' | '+' | '-'));
    if has_dot
        && ok_chars
        && body.chars().filter(|&c| c == '.').count() == 1
        && body.chars().any(|c| c.is_ascii_digit())
        && !body.starts_with(['e', 'E'])
        && let Ok(x) = clean.parse::<f64>()
    {
        return Value::Float(x);
    }
    Value::Str(s.to_string())
}

impl Builder<'_> {
    fn fail(&mut self, m: Marker, msg: String) {
        self.fail_at(m.line(), m.col() + 1, msg);
    }

    fn fail_at(&mut self, line: usize, col: usize, msg: String) {
        if self.error.is_none() {
            self.error = Some(Diagnostic {
                file: self.file.to_string(),
                location: Location::Text { line, col },
                message: msg,
            });
        }
    }

    fn node(m: Marker, value: Value) -> Node {
        Node {
            value,
            line: m.line(),
            col: m.col() + 1,
        }
    }

    /// A finished value: into its parent, or the root.
    fn push(&mut self, n: Node, anchor: usize, m: Marker) {
        if anchor > 0 {
            self.anchors.push((anchor, n.clone()));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(n);
                }
            }
            Some(Frame::Seq(s, _)) => {
                if let Value::Seq(v) = &mut s.value {
                    if v.is_empty() {
                        // A collection is placed where its first item is.
                        s.line = n.line;
                        s.col = n.col;
                    }
                    v.push(n);
                }
            }
            Some(Frame::Map(map, _, pending, merged)) => match pending.take() {
                None => {
                    if matches!(&map.value, Value::Map(e) if e.is_empty()) {
                        map.line = n.line;
                        map.col = n.col;
                    }
                    let name = match &n.value {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(x) => crate::dataset::records::fmt_num(*x),
                        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                        Value::Null => "None".to_string(),
                        _ => {
                            self.fail(m, "a mapping key must be a plain value".into());
                            return;
                        }
                    };
                    *pending = Some(Key {
                        name,
                        line: n.line,
                        col: n.col,
                    });
                }
                Some(key) => {
                    let Value::Map(entries) = &mut map.value else {
                        return;
                    };
                    if key.name == "<<" {
                        // Merge keys: entries not already present, from a mapping or a
                        // list of mappings.
                        let sources: Vec<Node> = match n.value {
                            Value::Map(_) => vec![n],
                            Value::Seq(v) => v,
                            _ => {
                                self.fail(m, "`<<` (merge) expects a mapping".into());
                                return;
                            }
                        };
                        for src in sources {
                            if let Value::Map(es) = src.value {
                                for (k, v) in es {
                                    if !entries.iter().any(|(e, _)| e.name == k.name) {
                                        merged.push(k.name.clone());
                                        entries.push((k, v));
                                    }
                                }
                            }
                        }
                        return;
                    }
                    if let Some(i) = merged.iter().position(|m| *m == key.name) {
                        merged.remove(i);
                        entries.retain(|(e, _)| e.name != key.name);
                    }
                    if let Some((prev, _)) = entries.iter().find(|(e, _)| e.name == key.name) {
                        let msg = format!(
                            "key \"{}\" is written twice in this mapping (first on line {}); keep one",
                            key.name, prev.line
                        );
                        self.fail_at(key.line, key.col, msg);
                        return;
                    }
                    entries.push((key, n));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, m: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => self.docs += 1,
            Event::Scalar(s, style, anchor, _tag) => {
                if self.docs > 1 {
                    return;
                }
                let value = if style == TScalarStyle::Plain {
                    plain(&s)
                } else {
                    Value::Str(s)
                };
                self.push(Self::node(m, value), anchor, m);
            }
            Event::SequenceStart(anchor, _) => {
                if self.docs > 1 {
                    return;
                }
                self.stack
                    .push(Frame::Seq(Self::node(m, Value::Seq(Vec::new())), anchor));
            }
            Event::MappingStart(anchor, _) => {
                if self.docs > 1 {
                    return;
                }
                self.stack.push(Frame::Map(
                    Self::node(m, Value::Map(Vec::new())),
                    anchor,
                    None,
                    Vec::new(),
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if self.docs > 1 {
                    return;
                }
                match self.stack.pop() {
                    Some(Frame::Seq(n, a)) | Some(Frame::Map(n, a, _, _)) => self.push(n, a, m),
                    None => {}
                }
            }
            Event::Alias(id) => {
                if self.docs > 1 {
                    return;
                }
                match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                    Some((_, n)) => {
                        let mut n = n.clone();
                        n.line = m.line();
                        n.col = m.col() + 1;
                        self.push(n, 0, m);
                    }
                    None => self.fail(m, "alias to an unknown anchor".into()),
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_scalars_like_pyyaml_and_keeps_positions() {
        let n = parse(
            "c.yaml",
            "model_list:\n  - model_name: a\n    rpm: 1_000\n    w: 1.5\n    e: 1e3\n    q: \"30\"\n    flag: yes\n    n: ~\n",
        )
        .unwrap();
        let ml = n.get("model_list").unwrap();
        assert_eq!((ml.line, ml.col), (2, 5));
        let e = &ml.items().unwrap()[0];
        assert_eq!((e.line, e.col), (2, 5));
        let k = &e.entries().unwrap()[1].0;
        assert_eq!((k.name.as_str(), k.line, k.col), ("rpm", 3, 5));
        assert_eq!(e.get("rpm").unwrap().value, Value::Int(1000));
        assert_eq!(e.get("w").unwrap().value, Value::Float(1.5));
        assert_eq!(e.get("e").unwrap().value, Value::Str("1e3".into()));
        assert_eq!(e.get("q").unwrap().value, Value::Str("30".into()));
        assert_eq!(e.get("flag").unwrap().value, Value::Bool(true));
        assert_eq!(e.get("n").unwrap().value, Value::Null);
    }

    #[test]
    fn anchors_merge_keys_and_errors() {
        let n = parse(
            "c.yaml",
            "base: &b {rpm: 5, tpm: 9}\nd:\n  <<: *b\n  rpm: 7\n",
        )
        .unwrap();
        let d = n.get("d").unwrap();
        let keys: Vec<&str> = d
            .entries()
            .unwrap()
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect();
        assert_eq!(keys, ["tpm", "rpm"]);
        assert_eq!(d.get("rpm").unwrap().value, Value::Int(7));
        let msg = |t: &str| parse("c.yaml", t).unwrap_err().to_string();
        assert_eq!(
            msg("a: 1\nb: 2\na: 3\n"),
            "c.yaml:3:1: key \"a\" is written twice in this mapping (first on line 1); keep one"
        );
        assert!(
            msg("a: [1, 2\nb: 3\n").starts_with("c.yaml:"),
            "{}",
            msg("a: [1, 2\nb: 3\n")
        );
    }
}
