//! The policy an importer writes, as a small tree rendered to TOML text: `[models]`,
//! `[gateway]`, `[[rule]]`s and `[default]`, with the header comment block listing
//! every setting not reproduced exactly. Importers build it; [`PolicyOut::render`]
//! is the only place that writes TOML syntax (quoting, inline tables).

use std::fmt::Write as _;

/// How a gateway setting was carried into the policy, when not exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Mapped, with a stated difference.
    Approx,
    /// Routing-relevant, not reproduced.
    Unmapped,
    /// Not a routing setting (credentials, logging, infrastructure).
    Ignored,
}

impl Kind {
    /// Label in the listing.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Approx => "approx",
            Kind::Unmapped => "unmapped",
            Kind::Ignored => "ignored",
        }
    }
}

/// One setting not reproduced exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// Approximated, unmapped or ignored.
    pub kind: Kind,
    /// Where it is in the config (`router_settings.retry_policy`, `targets[1].retry`).
    pub key: String,
    /// Its value as written (empty when not shown, e.g. credentials).
    pub value: String,
    /// What routesim does instead, and why.
    pub reason: String,
}

impl std::fmt::Display for Unmapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value.is_empty() {
            write!(f, "{:<8} {}: {}", self.kind.label(), self.key, self.reason)
        } else {
            write!(
                f,
                "{:<8} {} = {}: {}",
                self.kind.label(),
                self.key,
                self.value,
                self.reason
            )
        }
    }
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum ValOut {
    /// Text.
    Str(String),
    /// Number.
    Num(f64),
    /// Boolean.
    Bool(bool),
    /// List.
    List(Vec<ValOut>),
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum CondOut {
    /// Always true.
    Always,
    /// Never true (`not = {}`).
    Never,
    /// `meta.<key> = value` (equals).
    MetaEq(String, ValOut),
    /// `meta.<key> = { op = value, … }`, ops in order.
    Meta(String, Vec<(&'static str, ValOut)>),
    /// `input_tokens = { gt = N }`.
    InputTokensGt(u64),
    /// `bucket = { key, ge, lt, salt }`.
    Bucket {
        /// `id` or `meta.<k>`.
        key: String,
        /// Inclusive low.
        ge: u8,
        /// Exclusive high.
        lt: u8,
        /// Salt.
        salt: String,
    },
    /// All hold.
    All(Vec<CondOut>),
    /// Any holds.
    Any(Vec<CondOut>),
    /// Negation.
    Not(Box<CondOut>),
}

impl CondOut {
    /// `a ∧ b`, simplified (`Always` dropped, `Never` absorbs, nested `All` flattened).
    pub fn and(self, other: CondOut) -> CondOut {
        let mut parts = Vec::new();
        for c in [self, other] {
            match c {
                CondOut::Always => {}
                CondOut::Never => return CondOut::Never,
                CondOut::All(v) => parts.extend(v),
                c => parts.push(c),
            }
        }
        match parts.len() {
            0 => CondOut::Always,
            1 => parts.pop().expect("one"),
            _ => CondOut::All(parts),
        }
    }

    /// All of `parts`, simplified.
    pub fn all(parts: Vec<CondOut>) -> CondOut {
        parts.into_iter().fold(CondOut::Always, CondOut::and)
    }

    /// Any of `parts`, simplified (`Never` dropped, `Always` absorbs).
    pub fn any(parts: Vec<CondOut>) -> CondOut {
        let mut out = Vec::new();
        for c in parts {
            match c {
                CondOut::Never => {}
                CondOut::Always => return CondOut::Always,
                CondOut::Any(v) => out.extend(v),
                c => out.push(c),
            }
        }
        match out.len() {
            0 => CondOut::Never,
            1 => out.pop().expect("one"),
            _ => CondOut::Any(out),
        }
    }

    /// The top-level key this condition takes in a `when` table.
    fn table_key(&self) -> String {
        match self {
            CondOut::MetaEq(k, _) | CondOut::Meta(k, _) => format!("meta.{}", key(k)),
            CondOut::InputTokensGt(_) => "input_tokens".into(),
            CondOut::Bucket { .. } => "bucket".into(),
            CondOut::All(_) => "all".into(),
            CondOut::Any(_) => "any".into(),
            CondOut::Not(_) | CondOut::Never => "not".into(),
            CondOut::Always => String::new(),
        }
    }

    /// `key = value` entries of this condition as a `when` table.
    fn entries(&self) -> Vec<String> {
        match self {
            CondOut::Always => Vec::new(),
            CondOut::Never => vec!["not = {}".into()],
            CondOut::MetaEq(k, v) => vec![format!("meta.{} = {}", key(k), val(v))],
            CondOut::Meta(k, ops) => {
                let ops: Vec<String> = ops
                    .iter()
                    .map(|(op, v)| format!("{op} = {}", val(v)))
                    .collect();
                vec![format!("meta.{} = {{ {} }}", key(k), ops.join(", "))]
            }
            CondOut::InputTokensGt(n) => vec![format!("input_tokens = {{ gt = {n} }}")],
            CondOut::Bucket {
                key: k,
                ge,
                lt,
                salt,
            } => vec![format!(
                "bucket = {{ key = {}, ge = {ge}, lt = {lt}, salt = {} }}",
                string(k),
                string(salt)
            )],
            CondOut::Not(c) => vec![format!("not = {}", c.table())],
            CondOut::Any(v) => {
                let items: Vec<String> = v.iter().map(CondOut::table).collect();
                vec![format!("any = [{}]", items.join(", "))]
            }
            CondOut::All(v) => {
                let keys: Vec<String> = v.iter().map(CondOut::table_key).collect();
                let mut uniq = keys.clone();
                uniq.sort();
                uniq.dedup();
                if uniq.len() == keys.len() && !keys.iter().any(|k| k == "all") {
                    v.iter().flat_map(CondOut::entries).collect()
                } else {
                    let items: Vec<String> = v.iter().map(CondOut::table).collect();
                    vec![format!("all = [{}]", items.join(", "))]
                }
            }
        }
    }

    /// This condition as an inline table.
    pub fn table(&self) -> String {
        let e = self.entries();
        if e.is_empty() {
            "{}".into()
        } else {
            format!("{{ {} }}", e.join(", "))
        }
    }
}

/// A strategy.
#[derive(Debug, Clone, PartialEq)]
pub enum StratOut {
    /// One model.
    Model(String),
    /// Try in order.
    Fallback(Vec<String>),
    /// Weighted pick.
    Split(Vec<(String, f64)>),
    /// Weighted random order.
    Shuffle(Vec<(String, f64)>),
    /// Fewest in flight.
    LeastBusy(Vec<String>),
    /// Lowest usage under limits.
    UsageBased(Vec<String>),
    /// Lowest latency.
    LowestLatency {
        /// Candidates.
        candidates: Vec<String>,
        /// Buffer.
        buffer: f64,
    },
    /// Cheapest candidate.
    Cheapest(Vec<String>),
}

/// A route.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteOut {
    /// Strategy.
    pub strategy: StratOut,
    /// Tried after the strategy's plan.
    pub fallbacks: Vec<String>,
    /// Failure classes that move on (default: the gateway's).
    pub fallback_on: Option<Vec<&'static str>>,
}

impl RouteOut {
    /// A route to one model.
    pub fn model(m: impl Into<String>) -> RouteOut {
        RouteOut {
            strategy: StratOut::Model(m.into()),
            fallbacks: Vec::new(),
            fallback_on: None,
        }
    }

    /// Every model the route can try, in plan order.
    pub fn models(&self) -> Vec<&str> {
        let mut v: Vec<&str> = match &self.strategy {
            StratOut::Model(m) => vec![m],
            StratOut::Fallback(v)
            | StratOut::LeastBusy(v)
            | StratOut::UsageBased(v)
            | StratOut::Cheapest(v)
            | StratOut::LowestLatency { candidates: v, .. } => {
                v.iter().map(String::as_str).collect()
            }
            StratOut::Split(v) | StratOut::Shuffle(v) => {
                v.iter().map(|(m, _)| m.as_str()).collect()
            }
        };
        v.extend(self.fallbacks.iter().map(String::as_str));
        v
    }

    /// The route as a TOML value.
    pub fn render(&self) -> String {
        let list = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| string(s)).collect();
            format!("[{}]", items.join(", "))
        };
        let weights = |v: &[(String, f64)]| {
            let items: Vec<String> = v
                .iter()
                .map(|(m, w)| format!("{} = {}", key(m), num(*w)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        };
        let strategy = match &self.strategy {
            StratOut::Model(m) => {
                if self.fallbacks.is_empty() && self.fallback_on.is_none() {
                    return string(m);
                }
                format!("model = {}", string(m))
            }
            StratOut::Fallback(v) => format!("fallback = {}", list(v)),
            StratOut::Split(v) => format!("split = {}", weights(v)),
            StratOut::Shuffle(v) => format!("shuffle = {}", weights(v)),
            StratOut::LeastBusy(v) => format!("least_busy = {}", list(v)),
            StratOut::UsageBased(v) => format!("usage_based = {}", list(v)),
            StratOut::LowestLatency { candidates, buffer } => format!(
                "lowest_latency = {{ candidates = {}, buffer = {} }}",
                list(candidates),
                num(*buffer)
            ),
            StratOut::Cheapest(v) => format!("cheapest = {{ candidates = {} }}", list(v)),
        };
        let mut parts = vec![strategy];
        if !self.fallbacks.is_empty() {
            parts.push(format!("fallbacks = {}", list(&self.fallbacks)));
        }
        if let Some(on) = &self.fallback_on {
            parts.push(format!("fallback_on = {}", classes(on)));
        }
        format!("{{ {} }}", parts.join(", "))
    }
}

/// A retry setting (`[gateway] retries` or a deployment's).
#[derive(Debug, Clone, PartialEq)]
pub struct RetriesOut {
    /// Retries after the first try.
    pub max: u32,
    /// First wait, ms.
    pub backoff_ms: f64,
    /// Growth per retry.
    pub multiplier: f64,
    /// Cap on one wait, ms.
    pub max_backoff_ms: f64,
    /// Failure classes retried.
    pub on: Vec<&'static str>,
    /// Wait at least the recorded retry-after.
    pub honor_retry_after: bool,
}

impl RetriesOut {
    /// As an inline table.
    pub fn render(&self) -> String {
        format!(
            "{{ max = {}, backoff_ms = {}, multiplier = {}, max_backoff_ms = {}, on = {}, honor_retry_after = {} }}",
            self.max,
            num(self.backoff_ms),
            num(self.multiplier),
            num(self.max_backoff_ms),
            classes(&self.on),
            self.honor_retry_after
        )
    }
}

/// A `[models]` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelOut {
    /// Alias.
    pub alias: String,
    /// Dataset model it stands for.
    pub model: String,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Calls in flight.
    pub max_concurrency: Option<u64>,
    /// Its own retries.
    pub retries: Option<RetriesOut>,
    /// Its own timeout, ms.
    pub timeout_ms: Option<f64>,
    /// Trailing comment (what it is in the gateway).
    pub comment: String,
}

/// A `[[rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOut {
    /// Name.
    pub name: String,
    /// Comment line above it.
    pub comment: String,
    /// Condition.
    pub when: CondOut,
    /// Route.
    pub route: RouteOut,
}

/// A policy to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyOut {
    /// First comment lines (what was imported, from where).
    pub intro: Vec<String>,
    /// Settings not reproduced exactly.
    pub unmapped: Vec<Unmapped>,
    /// Policy name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// `[models]`.
    pub models: Vec<ModelOut>,
    /// `[gateway]` entries: (key, rendered value, comment).
    pub gateway: Vec<(String, String, String)>,
    /// Rules in order.
    pub rules: Vec<RuleOut>,
    /// `[default]` route and its comment.
    pub default: (RouteOut, String),
}

impl PolicyOut {
    /// The policy file's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for l in &self.intro {
            let _ = writeln!(s, "{}", format!("# {l}").trim_end());
        }
        if self.unmapped.is_empty() {
            s.push_str("# Every setting of the config is reproduced exactly.\n");
        } else {
            let _ = writeln!(
                s,
                "# {} settings not reproduced exactly (approx = mapped with the difference given,\n# unmapped = not reproduced, ignored = not a routing setting or never used):",
                self.unmapped.len()
            );
            for u in &self.unmapped {
                let _ = writeln!(s, "#   {u}");
            }
        }
        let _ = writeln!(s, "\nname = {}", string(&self.name));
        let _ = writeln!(s, "description = {}", string(&self.description));
        if !self.models.is_empty() {
            s.push_str("\n[models]\n");
            for m in &self.models {
                let mut parts = Vec::new();
                if let Some(x) = m.rpm {
                    parts.push(format!("rpm = {x}"));
                }
                if let Some(x) = m.tpm {
                    parts.push(format!("tpm = {x}"));
                }
                if let Some(x) = m.max_concurrency {
                    parts.push(format!("max_concurrency = {x}"));
                }
                if let Some(r) = &m.retries {
                    parts.push(format!("retries = {}", r.render()));
                }
                if let Some(t) = m.timeout_ms {
                    parts.push(format!("timeout_ms = {}", num(t)));
                }
                let v = if parts.is_empty() {
                    string(&m.model)
                } else {
                    format!("{{ model = {}, {} }}", string(&m.model), parts.join(", "))
                };
                let c = if m.comment.is_empty() {
                    String::new()
                } else {
                    format!("  # {}", m.comment)
                };
                let _ = writeln!(s, "{} = {v}{c}", key(&m.alias));
            }
        }
        if !self.gateway.is_empty() {
            s.push_str("\n[gateway]\n");
            for (k, v, c) in &self.gateway {
                if c.is_empty() {
                    let _ = writeln!(s, "{k} = {v}");
                } else {
                    let _ = writeln!(s, "{k} = {v}  # {c}");
                }
            }
        }
        for r in &self.rules {
            s.push('\n');
            if !r.comment.is_empty() {
                let _ = writeln!(s, "# {}", r.comment);
            }
            s.push_str("[[rule]]\n");
            let _ = writeln!(s, "name = {}", string(&r.name));
            if r.when != CondOut::Always {
                let _ = writeln!(s, "when = {}", r.when.table());
            }
            let _ = writeln!(s, "route = {}", r.route.render());
        }
        s.push('\n');
        if !self.default.1.is_empty() {
            let _ = writeln!(s, "# {}", self.default.1);
        }
        let _ = writeln!(s, "[default]\nroute = {}", self.default.0.render());
        s
    }
}

/// A TOML basic string.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, else quoted.
pub fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_string()
    } else {
        string(s)
    }
}

/// A TOML number: whole numbers without a fraction.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn classes(on: &[&str]) -> String {
    let items: Vec<String> = on.iter().map(|c| string(c)).collect();
    format!("[{}]", items.join(", "))
}

fn val(v: &ValOut) -> String {
    match v {
        ValOut::Str(s) => string(s),
        ValOut::Num(x) => num(*x),
        ValOut::Bool(b) => b.to_string(),
        ValOut::List(items) => {
            let items: Vec<String> = items.iter().map(val).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_render_as_inline_tables() {
        let c = CondOut::all(vec![
            CondOut::Meta("tier".into(), vec![("eq", ValOut::Str("paid".into()))]),
            CondOut::Meta("param_max_tokens".into(), vec![("gt", ValOut::Num(1000.0))]),
        ]);
        assert_eq!(
            c.table(),
            "{ meta.tier = { eq = \"paid\" }, meta.param_max_tokens = { gt = 1000 } }"
        );
        // The same key twice needs an `all` list.
        let c = CondOut::all(vec![
            CondOut::MetaEq("a b".into(), ValOut::Bool(true)),
            CondOut::Meta("a b".into(), vec![("exists", ValOut::Bool(true))]),
        ]);
        assert_eq!(
            c.table(),
            "{ all = [{ meta.\"a b\" = true }, { meta.\"a b\" = { exists = true } }] }"
        );
        assert_eq!(CondOut::any(vec![CondOut::Never]).table(), "{ not = {} }");
        assert_eq!(
            CondOut::Never.and(CondOut::MetaEq("x".into(), ValOut::Num(1.5))),
            CondOut::Never
        );
    }

    #[test]
    fn routes_and_strings() {
        let r = RouteOut {
            strategy: StratOut::Split(vec![("a/b".into(), 0.7), ("c".into(), 3.0)]),
            fallbacks: vec!["d".into()],
            fallback_on: Some(vec!["429", "5xx"]),
        };
        assert_eq!(
            r.render(),
            "{ split = { \"a/b\" = 0.7, c = 3 }, fallbacks = [\"d\"], fallback_on = [\"429\", \"5xx\"] }"
        );
        assert_eq!(RouteOut::model("m").render(), "\"m\"");
        assert_eq!(string("a\"b\\\u{1}"), "\"a\\\"b\\\\\\u0001\"");
    }
}
