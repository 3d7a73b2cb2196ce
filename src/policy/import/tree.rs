//! A parsed configuration document (JSON or YAML) as a tree that keeps what the
//! importers need and a plain `serde_json::Value` loses: the order of object keys
//! (Portkey's query operators short-circuit in key order), and the line and column of
//! every value and key (errors name `file:line:col`). Readers: [`super::json`],
//! [`super::yaml`]. The tree is read with [`Doc`], which collects diagnostics.

use crate::error::{Diagnostic, Location};

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
}

/// A mapping key with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// A JSON / YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` (YAML: `~`, empty).
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number written without a fraction or exponent.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, keys in the order written (no duplicates).
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// What the value is, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The entries of a mapping (`None` for any other value).
    pub fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The items of a list.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(v) => Some(v),
            _ => None,
        }
    }

    /// A string value.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number value.
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(x) => Some(x),
            _ => None,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value as one line of text for messages (strings quoted, long values cut).
    pub fn brief(&self) -> String {
        let s = match &self.value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(x) => crate::dataset::records::fmt_num(*x),
            Value::Str(s) => format!("{s:?}"),
            Value::Seq(v) => {
                let parts: Vec<String> = v.iter().map(Node::brief).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        if super::is_secret(&k.name) {
                            format!("{}: …", k.name)
                        } else {
                            format!("{}: {}", k.name, v.brief())
                        }
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
        };
        if s.chars().count() > 120 {
            let cut: String = s.chars().take(117).collect();
            format!("{cut}…")
        } else {
            s
        }
    }
}

/// Reading a tree: the file name for messages and the problems found so far.
#[derive(Debug)]
pub struct Doc {
    /// The file, as the user named it.
    pub file: String,
    /// Problems found.
    pub diags: Vec<Diagnostic>,
}

impl Doc {
    /// A reader of `file`.
    pub fn new(file: impl Into<String>) -> Doc {
        Doc {
            file: file.into(),
            diags: Vec::new(),
        }
    }

    /// A diagnostic at a position.
    pub fn diag_at(&self, line: usize, col: usize, msg: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            location: Location::Text { line, col },
            message: msg.into(),
        }
    }

    /// Record a problem at a node.
    pub fn err(&mut self, n: &Node, msg: impl Into<String>) {
        let d = self.diag_at(n.line, n.col, msg);
        self.diags.push(d);
    }

    /// Record a problem at a key.
    pub fn err_key(&mut self, k: &Key, msg: impl Into<String>) {
        let d = self.diag_at(k.line, k.col, msg);
        self.diags.push(d);
    }

    /// A mapping, or an error naming `what`.
    pub fn map<'a>(&mut self, n: &'a Node, what: &str) -> Option<&'a [(Key, Node)]> {
        match &n.value {
            Value::Map(m) => Some(m),
            other => {
                self.err(
                    n,
                    format!("{what}: expected a mapping, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A list, or an error naming `what`.
    pub fn seq<'a>(&mut self, n: &'a Node, what: &str) -> Option<&'a [Node]> {
        match &n.value {
            Value::Seq(v) => Some(v),
            other => {
                self.err(
                    n,
                    format!("{what}: expected a list, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A string, or an error naming `what`.
    pub fn string<'a>(&mut self, n: &'a Node, what: &str) -> Option<&'a str> {
        match &n.value {
            Value::Str(s) => Some(s),
            other => {
                self.err(
                    n,
                    format!("{what}: expected a string, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A number (YAML strings holding a number are accepted, as Python's `float()`
    /// would), or an error naming `what`.
    pub fn number(&mut self, n: &Node, what: &str) -> Option<f64> {
        if let Some(x) = n.as_f64() {
            return Some(x);
        }
        if let Value::Str(s) = &n.value
            && let Ok(x) = s.trim().parse::<f64>()
            && x.is_finite()
        {
            return Some(x);
        }
        self.err(
            n,
            format!("{what}: expected a number, found {}", n.value.type_name()),
        );
        None
    }

    /// A number ≥ 0, or an error naming `what`.
    pub fn non_negative(&mut self, n: &Node, what: &str) -> Option<f64> {
        let x = self.number(n, what)?;
        if x < 0.0 {
            self.err(
                n,
                format!("{what}: expected a number ≥ 0, found {}", n.brief()),
            );
            return None;
        }
        Some(x)
    }

    /// A whole number ≥ 0, or an error naming `what`.
    pub fn count(&mut self, n: &Node, what: &str) -> Option<u64> {
        let x = self.number(n, what)?;
        if x < 0.0 || x.fract() != 0.0 || x > u32::MAX as f64 {
            self.err(
                n,
                format!("{what}: expected a whole number ≥ 0, found {}", n.brief()),
            );
            return None;
        }
        Some(x as u64)
    }

    /// A boolean, or an error naming `what`.
    pub fn boolean(&mut self, n: &Node, what: &str) -> Option<bool> {
        match n.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.err(
                    n,
                    format!("{what}: expected true or false, found {}", n.brief()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: Value) -> Node {
        Node {
            value,
            line: 3,
            col: 7,
        }
    }

    #[test]
    fn typed_getters_report_position_and_expectation() {
        let mut d = Doc::new("c.yaml");
        assert_eq!(d.number(&n(Value::Str("30".into())), "timeout"), Some(30.0));
        assert_eq!(d.count(&n(Value::Float(1.5)), "num_retries"), None);
        assert_eq!(d.boolean(&n(Value::Int(1)), "cache"), None);
        let msgs: Vec<String> = d.diags.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "c.yaml:3:7: num_retries: expected a whole number ≥ 0, found 1.5",
                "c.yaml:3:7: cache: expected true or false, found 1",
            ]
        );
    }
}
