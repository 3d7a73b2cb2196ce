//! Rule conditions (`when`): numeric fields, prompt text, metadata, hash buckets,
//! complexity levels, and `any` / `all` / `not`. Keys of one table are ANDed.

use crate::tomlx::{Span, Table, TomlDoc, Val, as_f64, get, type_name};
use regex::Regex;
use toml::de::DeValue;

/// Numeric request fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumField {
    /// Prompt tokens (recorded or estimated).
    InputTokens,
    /// Prompt characters.
    InputChars,
    /// User turns.
    Turns,
    /// UTC hour of arrival (0–23).
    Hour,
    /// ISO weekday of arrival (1 = Monday … 7 = Sunday).
    Weekday,
}

impl NumField {
    const ALL: [(&'static str, NumField); 5] = [
        ("input_tokens", NumField::InputTokens),
        ("input_chars", NumField::InputChars),
        ("turns", NumField::Turns),
        ("hour", NumField::Hour),
        ("weekday", NumField::Weekday),
    ];

    /// Whether the field needs request timestamps.
    pub fn needs_ts(self) -> bool {
        matches!(self, NumField::Hour | NumField::Weekday)
    }

    /// Field name as written in policies.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// Comparisons on a number; all given bounds must hold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NumTest {
    /// x < lt
    pub lt: Option<f64>,
    /// x ≤ le
    pub le: Option<f64>,
    /// x > gt
    pub gt: Option<f64>,
    /// x ≥ ge
    pub ge: Option<f64>,
    /// x = eq
    pub eq: Option<f64>,
    /// x ≠ ne
    pub ne: Option<f64>,
}

impl NumTest {
    /// Whether `x` passes (NaN never passes).
    #[inline]
    pub fn test(&self, x: f64) -> bool {
        if x.is_nan() {
            return false;
        }
        self.lt.is_none_or(|v| x < v)
            && self.le.is_none_or(|v| x <= v)
            && self.gt.is_none_or(|v| x > v)
            && self.ge.is_none_or(|v| x >= v)
            && self.eq.is_none_or(|v| x == v)
            && self.ne.is_none_or(|v| x != v)
    }
}

/// A compiled text pattern: literal words (Aho–Corasick, ASCII case folding unless
/// case-sensitive) or a regular expression. Matching allocates nothing.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Any of these words.
    Words(aho_corasick::AhoCorasick),
    /// A regular expression.
    Regex(Regex),
}

impl Pattern {
    /// Whether the pattern occurs in `text`.
    #[inline]
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Words(ac) => ac.is_match(text),
            Pattern::Regex(r) => r.is_match(text),
        }
    }
}

/// A prompt-text test.
#[derive(Debug, Clone)]
pub struct TextTest {
    /// Every pattern must match.
    pub all: Vec<Pattern>,
    /// No pattern may match.
    pub none: Vec<Pattern>,
    /// The test as written, for explanations and for comparing conditions
    /// (`contains_any ["explain", "analyze"]`).
    pub label: String,
    /// Where the test was written (empty for built-in tests).
    pub span: Span,
}

impl TextTest {
    /// Matches when any of `words` occurs.
    pub fn contains_any(words: &[&str], case_sensitive: bool) -> Result<TextTest, String> {
        Ok(TextTest {
            all: vec![literal_alternation(words, case_sensitive)?],
            none: Vec::new(),
            label: text_label("contains_any", words, case_sensitive),
            span: 0..0,
        })
    }

    /// Whether `text` passes.
    #[inline]
    pub fn test(&self, text: &str) -> bool {
        self.all.iter().all(|r| r.is_match(text)) && !self.none.iter().any(|r| r.is_match(text))
    }
}

/// `op "w"` or `op ["a", "b"]`, plus ` (case-sensitive)`.
fn text_label<S: AsRef<str>>(op: &str, words: &[S], case_sensitive: bool) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("{:?}", w.as_ref())).collect();
    let list = if quoted.len() == 1 {
        quoted[0].clone()
    } else {
        format!("[{}]", quoted.join(", "))
    };
    let case = if case_sensitive {
        " (case-sensitive)"
    } else {
        ""
    };
    format!("{op} {list}{case}")
}

/// Literal words. Case-sensitive words use an Aho–Corasick automaton; case-insensitive
/// ones an escaped regular-expression alternation, whose SIMD literal prefilter
/// (Teddy) measured faster than a case-folding automaton in the engine benchmark.
fn literal_alternation<S: AsRef<str>>(
    words: &[S],
    case_sensitive: bool,
) -> Result<Pattern, String> {
    if case_sensitive {
        aho_corasick::AhoCorasick::builder()
            .build(words.iter().map(|w| w.as_ref()))
            .map(Pattern::Words)
            .map_err(|e| e.to_string())
    } else {
        let alt: Vec<String> = words.iter().map(|w| regex::escape(w.as_ref())).collect();
        Regex::new(&format!("(?i)(?:{})", alt.join("|")))
            .map(Pattern::Regex)
            .map_err(|e| e.to_string())
    }
}

/// A metadata value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Text (compared with the interned value).
    Str(String),
    /// Number (compared numerically).
    Num(f64),
    /// Boolean (compared with "true"/"false").
    Bool(bool),
}

impl MetaValue {
    /// As text, the way the dataset stores it.
    pub fn as_text(&self) -> String {
        match self {
            MetaValue::Str(s) => s.clone(),
            MetaValue::Num(x) => crate::dataset::records::fmt_num(*x),
            MetaValue::Bool(b) => b.to_string(),
        }
    }
}

/// One test on a metadata field.
#[derive(Debug, Clone)]
pub enum MetaOp {
    /// Equal to one of the values (`eq`, `in`, or a bare value).
    In(Vec<MetaValue>),
    /// Equal to none of the values (`ne`, `not_in`).
    NotIn(Vec<MetaValue>),
    /// Numeric comparison.
    Num(NumTest),
    /// Regular expression on the text value.
    Regex(Regex),
    /// Present (true) or absent (false).
    Exists(bool),
}

/// A key whose value identifies a request or a group of requests (for `bucket`,
/// sticky splits, `per` estimates and budgets).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRef {
    /// The request id.
    Id,
    /// A metadata field.
    Meta(String, Span),
}

impl KeyRef {
    /// Parse `id` or `meta.<name>`.
    pub fn parse(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<KeyRef> {
        let s = doc.string(v, what)?;
        if s == "id" || s == "request_id" {
            Some(KeyRef::Id)
        } else if let Some(k) = s.strip_prefix("meta.").filter(|k| !k.is_empty()) {
            Some(KeyRef::Meta(k.to_string(), v.span()))
        } else {
            doc.err(
                v.span(),
                format!("{what}: expected \"id\" or \"meta.<field>\", found \"{s}\""),
            );
            None
        }
    }

    /// As written.
    pub fn label(&self) -> String {
        match self {
            KeyRef::Id => "id".into(),
            KeyRef::Meta(k, _) => format!("meta.{k}"),
        }
    }
}

/// A condition.
#[derive(Debug, Clone)]
pub enum Cond {
    /// Always true (no `when`).
    Always,
    /// Numeric field test.
    Num {
        /// Field.
        field: NumField,
        /// Test.
        test: NumTest,
        /// Where the field was written.
        span: Span,
    },
    /// Prompt text test.
    Text(TextTest),
    /// Metadata test.
    Meta {
        /// Key without `meta.`.
        key: String,
        /// Where the key was written.
        span: Span,
        /// Tests, all of which must hold.
        ops: Vec<MetaOp>,
    },
    /// Stable hash bucket of a key in `lo..hi` (0–100).
    Bucket {
        /// Key hashed.
        key: KeyRef,
        /// Inclusive lower bound.
        lo: u8,
        /// Exclusive upper bound.
        hi: u8,
        /// Salt mixed into the hash.
        salt: String,
    },
    /// Complexity level is one of these.
    Complexity {
        /// Accepted level names.
        levels: Vec<String>,
        /// Where written.
        span: Span,
    },
    /// Any holds.
    Any(Vec<Cond>),
    /// All hold.
    All(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
}

impl Cond {
    /// Where this condition (or a part of it) reads the request's text — a text test,
    /// `input_chars`, or, when `levels_use_text`, a complexity level — with what it
    /// is; `None` when it does not.
    pub fn text_use(&self, levels_use_text: bool) -> Option<(Span, &'static str)> {
        match self {
            Cond::Text(t) => Some((t.span.clone(), "a text condition (input)")),
            Cond::Num {
                field: NumField::InputChars,
                span,
                ..
            } => Some((span.clone(), "input_chars")),
            Cond::Complexity { span, .. } if levels_use_text => Some((
                span.clone(),
                "complexity (its [classifier] levels test the text)",
            )),
            Cond::Any(v) | Cond::All(v) => v.iter().find_map(|c| c.text_use(levels_use_text)),
            Cond::Not(c) => c.text_use(levels_use_text),
            _ => None,
        }
    }

    /// Whether this condition (or a part of it) tests complexity.
    pub fn uses_complexity(&self) -> bool {
        match self {
            Cond::Complexity { .. } => true,
            Cond::Any(v) | Cond::All(v) => v.iter().any(Cond::uses_complexity),
            Cond::Not(c) => c.uses_complexity(),
            _ => false,
        }
    }
}

const COND_KEYS: &[&str] = &[
    "input_tokens",
    "input_chars",
    "turns",
    "hour",
    "weekday",
    "input",
    "meta",
    "bucket",
    "complexity",
    "any",
    "all",
    "not",
];

/// Parse a condition table (`when = {…}`).
pub fn parse_cond(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<Cond> {
    let t = doc.table(v, what)?;
    let mut parts = Vec::new();
    let mut ok = true;
    for (k, val) in t.iter() {
        let key: &str = k.get_ref();
        let c = match key {
            "input" => parse_text(doc, val),
            "meta" => parse_meta_table(doc, val),
            "bucket" => parse_bucket(doc, val),
            "complexity" => {
                let levels = doc.strings(val, "complexity");
                levels.map(|l| Cond::Complexity {
                    levels: l.into_iter().map(|(s, _)| s).collect(),
                    span: val.span(),
                })
            }
            "any" | "all" => {
                let items = doc.array(val, key);
                items.and_then(|items| {
                    if items.is_empty() {
                        doc.err(val.span(), format!("`{key}` needs at least one condition"));
                        return None;
                    }
                    let mut cs = Vec::new();
                    let mut all_ok = true;
                    for it in items {
                        match parse_cond(doc, it, key) {
                            Some(c) => cs.push(c),
                            None => all_ok = false,
                        }
                    }
                    all_ok.then(|| {
                        if key == "any" {
                            Cond::Any(cs)
                        } else {
                            Cond::All(cs)
                        }
                    })
                })
            }
            "not" => parse_cond(doc, val, "not").map(|c| Cond::Not(Box::new(c))),
            other => match NumField::ALL.iter().find(|(n, _)| *n == other) {
                Some((_, field)) => parse_num_test(doc, val, other).map(|test| Cond::Num {
                    field: *field,
                    test,
                    span: k.span(),
                }),
                None => {
                    doc.check_keys(t, COND_KEYS, "a condition");
                    None
                }
            },
        };
        match c {
            Some(c) => parts.push(c),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    Some(match parts.len() {
        0 => Cond::Always,
        1 => parts.pop().expect("one part"),
        _ => Cond::All(parts),
    })
}

const NUM_OPS: &[&str] = &["lt", "le", "gt", "ge", "eq", "ne", "between"];

/// Parse a number (meaning `eq`) or a table of comparisons.
pub fn parse_num_test(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<NumTest> {
    if let Some(x) = as_f64(v.get_ref()) {
        return Some(NumTest {
            eq: Some(x),
            ..Default::default()
        });
    }
    let t = match v.get_ref() {
        DeValue::Table(t) => t,
        other => {
            doc.err(
                v.span(),
                format!(
                    "{what}: expected a number or a table like {{ lt = 50 }}, found {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    doc.check_keys(t, NUM_OPS, &format!("the test on {what}"));
    let mut test = NumTest::default();
    let mut ok = true;
    for (k, val) in t.iter() {
        let key: &str = k.get_ref();
        if key == "between" {
            match doc.array(val, "between") {
                Some([a, b]) => {
                    let (a, b) = (doc.number(a, "between"), doc.number(b, "between"));
                    match (a, b) {
                        (Some(a), Some(b)) if a <= b => {
                            test.ge = Some(a);
                            test.le = Some(b);
                        }
                        (Some(_), Some(_)) => {
                            doc.err(val.span(), "between: expected [low, high] with low ≤ high");
                            ok = false;
                        }
                        _ => ok = false,
                    }
                }
                Some(_) => {
                    doc.err(val.span(), "between: expected two numbers [low, high]");
                    ok = false;
                }
                None => ok = false,
            }
            continue;
        }
        if !NUM_OPS.contains(&key) {
            ok = false;
            continue;
        }
        let Some(x) = doc.number(val, &format!("{what}.{key}")) else {
            ok = false;
            continue;
        };
        match key {
            "lt" => test.lt = Some(x),
            "le" => test.le = Some(x),
            "gt" => test.gt = Some(x),
            "ge" => test.ge = Some(x),
            "eq" => test.eq = Some(x),
            "ne" => test.ne = Some(x),
            _ => {}
        }
    }
    if t.is_empty() {
        doc.err(
            v.span(),
            format!("{what}: empty test; expected e.g. {{ lt = 50 }}"),
        );
        ok = false;
    }
    ok.then_some(test)
}

const TEXT_OPS: &[&str] = &[
    "contains",
    "contains_any",
    "contains_all",
    "not_contains",
    "regex",
    "case_sensitive",
];

fn parse_text(doc: &mut TomlDoc, v: &Val) -> Option<Cond> {
    if let DeValue::String(s) = v.get_ref() {
        return words(doc, v.span(), &[s.as_ref()], false).map(|r| {
            Cond::Text(TextTest {
                all: vec![r],
                none: vec![],
                label: text_label("contains", &[s.as_ref()], false),
                span: v.span(),
            })
        });
    }
    let t = doc.table(v, "input")?;
    doc.check_keys(t, TEXT_OPS, "the test on input");
    let case_sensitive = get(t, "case_sensitive")
        .and_then(|v| doc.boolean(v, "case_sensitive"))
        .unwrap_or(false);
    let mut test = TextTest {
        all: Vec::new(),
        none: Vec::new(),
        label: String::new(),
        span: v.span(),
    };
    let mut labels: Vec<String> = Vec::new();
    let mut ok = true;
    for (k, val) in t.iter() {
        let key: &str = k.get_ref();
        if let Some(ws) = match key {
            "regex" => val.get_ref().as_str().map(|p| vec![p.to_string()]),
            "case_sensitive" => None,
            _ => match val.get_ref() {
                DeValue::String(w) => Some(vec![w.to_string()]),
                DeValue::Array(a) => Some(
                    a.iter()
                        .filter_map(|x| x.get_ref().as_str().map(String::from))
                        .collect(),
                ),
                _ => None,
            },
        } {
            labels.push(text_label(key, &ws, false));
        }
        match key {
            "contains" | "contains_any" | "not_contains" => {
                let Some(words) = doc.strings(val, key) else {
                    ok = false;
                    continue;
                };
                if words.is_empty() {
                    doc.err(val.span(), format!("{key}: expected at least one string"));
                    ok = false;
                    continue;
                }
                let w: Vec<&str> = words.iter().map(|(s, _)| s.as_str()).collect();
                match self::words(doc, val.span(), &w, case_sensitive) {
                    Some(r) if key == "not_contains" => test.none.push(r),
                    Some(r) => test.all.push(r),
                    None => ok = false,
                }
            }
            "contains_all" => {
                let Some(words) = doc.strings(val, key) else {
                    ok = false;
                    continue;
                };
                for (w, span) in words {
                    match self::words(doc, span, &[w.as_str()], case_sensitive) {
                        Some(r) => test.all.push(r),
                        None => ok = false,
                    }
                }
            }
            "regex" => {
                let Some(pat) = doc.string(val, "regex") else {
                    ok = false;
                    continue;
                };
                let pat = if case_sensitive {
                    pat
                } else {
                    format!("(?i){pat}")
                };
                match compile(doc, val.span(), Regex::new(&pat)) {
                    Some(r) => test.all.push(Pattern::Regex(r)),
                    None => ok = false,
                }
            }
            _ => {}
        }
    }
    if test.all.is_empty() && test.none.is_empty() && ok {
        doc.err(
            v.span(),
            "input: expected contains, contains_any, contains_all, not_contains or regex",
        );
        ok = false;
    }
    test.label = labels.join(" and ");
    if case_sensitive {
        test.label.push_str(" (case-sensitive)");
    }
    ok.then_some(Cond::Text(test))
}

fn compile(doc: &mut TomlDoc, span: Span, r: Result<Regex, regex::Error>) -> Option<Regex> {
    match r {
        Ok(r) => Some(r),
        Err(e) => {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("invalid").trim().to_string();
            doc.err(span, format!("invalid regular expression: {last}"));
            None
        }
    }
}

fn words(doc: &mut TomlDoc, span: Span, w: &[&str], case_sensitive: bool) -> Option<Pattern> {
    match literal_alternation(w, case_sensitive) {
        Ok(p) => Some(p),
        Err(e) => {
            doc.err(span, format!("cannot build the word matcher: {e}"));
            None
        }
    }
}

const META_OPS: &[&str] = &[
    "eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between", "regex", "exists",
];

fn meta_value(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<MetaValue> {
    match v.get_ref() {
        DeValue::String(s) => Some(MetaValue::Str(s.to_string())),
        DeValue::Boolean(b) => Some(MetaValue::Bool(*b)),
        other => match as_f64(other) {
            Some(x) => Some(MetaValue::Num(x)),
            None => {
                doc.err(
                    v.span(),
                    format!(
                        "{what}: expected a string, number or boolean, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        },
    }
}

fn meta_values(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<Vec<MetaValue>> {
    match v.get_ref() {
        DeValue::Array(a) => a.iter().map(|x| meta_value(doc, x, what)).collect(),
        _ => meta_value(doc, v, what).map(|x| vec![x]),
    }
}

fn parse_meta_table(doc: &mut TomlDoc, v: &Val) -> Option<Cond> {
    let t: &Table = doc.table(v, "meta")?;
    if t.is_empty() {
        doc.err(
            v.span(),
            "meta: expected at least one field test, e.g. meta.task = \"coding\"",
        );
        return None;
    }
    let mut parts = Vec::new();
    let mut ok = true;
    for (k, val) in t.iter() {
        let key = k.get_ref().to_string();
        match meta_field_ops(doc, &key, val) {
            Some(ops) => parts.push(Cond::Meta {
                key,
                span: k.span(),
                ops,
            }),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    Some(if parts.len() == 1 {
        parts.pop().expect("one")
    } else {
        Cond::All(parts)
    })
}

/// The tests on one metadata field: a value (equals) or a table of operators.
/// Every problem is reported; `None` when there was one.
fn meta_field_ops(doc: &mut TomlDoc, key: &str, val: &Val) -> Option<Vec<MetaOp>> {
    let what = format!("meta.{key}");
    let DeValue::Table(ops_t) = val.get_ref() else {
        return meta_values(doc, val, &what).map(|vs| vec![MetaOp::In(vs)]);
    };
    doc.check_keys(ops_t, META_OPS, &format!("the test on {what}"));
    if ops_t.is_empty() {
        doc.err(val.span(), format!("{what}: empty test"));
        return None;
    }
    let mut ops = Vec::new();
    let mut num = NumTest::default();
    let mut has_num = false;
    let mut ok = true;
    for (op_key, ov) in ops_t.iter() {
        let op: &str = op_key.get_ref();
        match meta_op(doc, &what, op, ov, &mut num) {
            Some(MetaParsed::Op(o)) => ops.push(o),
            Some(MetaParsed::Num) => has_num = true,
            None => ok = false,
        }
    }
    if has_num {
        ops.push(MetaOp::Num(num));
    }
    ok.then_some(ops)
}

/// What one operator of a metadata test gave.
enum MetaParsed {
    /// A test of its own.
    Op(MetaOp),
    /// A numeric bound, folded into the field's one numeric test.
    Num,
}

/// One operator of a metadata test (`eq`, `in`, `lt`, `between`, `regex`, …).
fn meta_op(
    doc: &mut TomlDoc,
    what: &str,
    op: &str,
    ov: &Val,
    num: &mut NumTest,
) -> Option<MetaParsed> {
    match op {
        "eq" | "in" => meta_values(doc, ov, what).map(|vs| MetaParsed::Op(MetaOp::In(vs))),
        "ne" | "not_in" => meta_values(doc, ov, what).map(|vs| MetaParsed::Op(MetaOp::NotIn(vs))),
        "lt" | "le" | "gt" | "ge" => {
            let x = doc.number(ov, &format!("{what}.{op}"))?;
            match op {
                "lt" => num.lt = Some(x),
                "le" => num.le = Some(x),
                "gt" => num.gt = Some(x),
                _ => num.ge = Some(x),
            }
            Some(MetaParsed::Num)
        }
        "between" => {
            let Some([a, b]) = doc.array(ov, "between") else {
                doc.err(ov.span(), "between: expected two numbers [low, high]");
                return None;
            };
            match (doc.number(a, "between"), doc.number(b, "between")) {
                (Some(a), Some(b)) if a <= b => {
                    num.ge = Some(a);
                    num.le = Some(b);
                    Some(MetaParsed::Num)
                }
                _ => {
                    doc.err(ov.span(), "between: expected [low, high] with low ≤ high");
                    None
                }
            }
        }
        "regex" => {
            let p = doc.string(ov, "regex")?;
            compile(doc, ov.span(), Regex::new(&p)).map(|r| MetaParsed::Op(MetaOp::Regex(r)))
        }
        "exists" => doc
            .boolean(ov, "exists")
            .map(|b| MetaParsed::Op(MetaOp::Exists(b))),
        // Unknown operators were reported by `check_keys`.
        _ => None,
    }
}

fn parse_bucket(doc: &mut TomlDoc, v: &Val) -> Option<Cond> {
    let t = doc.table(v, "bucket")?;
    doc.check_keys(t, &["key", "lt", "ge", "salt"], "bucket");
    let key = match get(t, "key") {
        Some(k) => KeyRef::parse(doc, k, "bucket.key")?,
        None => {
            doc.err(
                v.span(),
                "bucket: missing `key` (e.g. key = \"meta.user_id\")",
            );
            return None;
        }
    };
    let bound = |doc: &mut TomlDoc, k: &str, default: u8| -> Option<u8> {
        match get(t, k) {
            None => Some(default),
            Some(x) => match doc.number(x, &format!("bucket.{k}")) {
                Some(n) if (0.0..=100.0).contains(&n) && n.fract() == 0.0 => Some(n as u8),
                Some(_) => {
                    doc.err(
                        x.span(),
                        format!("bucket.{k}: expected a whole number between 0 and 100"),
                    );
                    None
                }
                None => None,
            },
        }
    };
    let lo = bound(doc, "ge", 0)?;
    let hi = bound(doc, "lt", 100)?;
    if lo >= hi {
        doc.err(v.span(), "bucket: expected ge < lt");
        return None;
    }
    let salt = get(t, "salt")
        .and_then(|s| doc.string(s, "bucket.salt"))
        .unwrap_or_default();
    Some(Cond::Bucket { key, lo, hi, salt })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(src: &str) -> (Option<Cond>, Vec<String>) {
        let (mut doc, root) = TomlDoc::parse("p.toml", src);
        let v = root.get_ref().get("when").expect("when").clone();
        let c = parse_cond(&mut doc, &v, "when");
        (c, doc.diags.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn parses_the_design_examples() {
        let (c, e) = cond("when = { input_chars = { lt = 50 } }");
        assert!(e.is_empty(), "{e:?}");
        match c.unwrap() {
            Cond::Num { field, test, .. } => {
                assert_eq!(field, NumField::InputChars);
                assert!(test.test(49.0) && !test.test(50.0));
            }
            other => panic!("{other:?}"),
        }
        let (c, e) = cond(
            "when.any = [ { input = { contains = \"explain\" } }, { input = { contains = \"analyze\" } } ]",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(matches!(c.unwrap(), Cond::Any(v) if v.len() == 2));
        let (c, e) =
            cond("when = { meta.task = \"coding\", input_tokens = { between = [10, 20] } }");
        assert!(e.is_empty(), "{e:?}");
        assert!(matches!(c.unwrap(), Cond::All(v) if v.len() == 2));
    }

    #[test]
    fn text_tests_keep_how_they_were_written() {
        let label = |src: &str| match cond(src).0 {
            Some(Cond::Text(t)) => t.label,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            label("when = { input = \"explain\" }"),
            "contains \"explain\""
        );
        assert_eq!(
            label(
                "when = { input = { contains_any = [\"a\", \"b\"], not_contains = \"c\", case_sensitive = true } }"
            ),
            "contains_any [\"a\", \"b\"] and not_contains \"c\" (case-sensitive)"
        );
        assert_eq!(
            label("when = { input = { regex = \"^fix\" } }"),
            "regex \"^fix\""
        );
    }

    #[test]
    fn text_tests_are_case_insensitive_by_default() {
        let (c, _) = cond(
            "when = { input = { contains_all = [\"Explain\", \"code\"], not_contains = \"python\" } }",
        );
        let Some(Cond::Text(t)) = c else { panic!() };
        assert!(t.test("please EXPLAIN this Code"));
        assert!(!t.test("explain this"));
        assert!(!t.test("explain this code in Python"));
    }

    #[test]
    fn reports_bad_regex_unknown_keys_and_types() {
        let (c, e) =
            cond("when = { input = { regex = \"(unclosed\" }, input_char = 3, turns = \"many\" }");
        assert!(c.is_none());
        assert!(
            e.iter()
                .any(|m| m.starts_with("p.toml:1:28: invalid regular expression")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("unknown key \"input_char\"")
                && m.contains("did you mean \"input_chars\"")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("turns: expected a number or a table")),
            "{e:?}"
        );
    }
}
