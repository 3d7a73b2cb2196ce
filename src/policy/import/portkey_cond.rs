//! Portkey conditional-router queries → routesim conditions, with the semantics of
//! the gateway's `conditionalRouter.ts` (not its docs):
//!
//! - keys are read in JavaScript's `Object.entries` order (integer-like keys first);
//!   a key is `metadata.<k>`, `params.<k>` or `url.pathname` — only its first two
//!   segments count, and any other key names a value that is always undefined;
//! - a bare value means strict equality (`!==`): metadata values are strings, so a
//!   number or boolean never equals one; several keys are ANDed, the first false one
//!   ending the test;
//! - `$and` / `$or` with a list return at once: keys before them still count, keys
//!   after them are ignored;
//! - `$eq`/`$ne` strict; `$gt $gte $lt $lte` compare `parseFloat` of both sides
//!   (undefined → NaN → false); `$in`/`$nin` need a list (else false, even for an
//!   absent value), and an absent value is in no list (`$nin` holds); `$regex` tests
//!   the value as a string (an absent one as `"undefined"`), returns at once, and an
//!   invalid pattern is false; an unknown operator makes Portkey fail the request.
//!
//! Fields: `metadata._user` → `meta.user`, `metadata.<k>` → `meta.<k>`,
//! `params.model` → `meta.asked_model`, `params.<k>` → `meta.param_<k>`,
//! `url.pathname` → `meta.url_pathname` (the names the log importers write).

use super::emit::{CondOut, Kind, Unmapped, ValOut};
use super::tree::{Doc, Node, Value};

/// What reading conditions needs: diagnostics, the listing, the dataset's fields.
pub struct CondCx<'a> {
    /// Errors.
    pub doc: &'a mut Doc,
    /// Settings not reproduced exactly.
    pub un: &'a mut Vec<Unmapped>,
    /// The dataset's `meta.*` fields, when a dataset is given: a field it lacks is
    /// absent for every request, and is evaluated as such.
    pub meta_keys: Option<&'a [String]>,
}

impl CondCx<'_> {
    fn note(&mut self, kind: Kind, key: &str, value: &str, reason: impl Into<String>) {
        self.un.push(Unmapped {
            kind,
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        });
    }
}

/// Where a query key's value comes from.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// A `meta.*` field holding strings (metadata, the URL path).
    Text(String),
    /// A `meta.param_*` field (request body values: any JSON type, stored as text).
    Param(String),
    /// Always undefined.
    Undefined,
}

/// Entries in JavaScript `Object.entries` order: integer-like keys first, ascending.
pub fn js_order(m: &[(super::tree::Key, Node)]) -> Vec<&(super::tree::Key, Node)> {
    let int_key = |k: &str| -> Option<u64> {
        if k == "0"
            || (!k.starts_with('0')
                && !k.is_empty()
                && k.len() < 10
                && k.bytes().all(|b| b.is_ascii_digit()))
        {
            k.parse().ok()
        } else {
            None
        }
    };
    let mut ints: Vec<(u64, &(super::tree::Key, Node))> = m
        .iter()
        .filter_map(|e| int_key(&e.0.name).map(|i| (i, e)))
        .collect();
    ints.sort_by_key(|(i, _)| *i);
    let mut out: Vec<&(super::tree::Key, Node)> = ints.into_iter().map(|(_, e)| e).collect();
    out.extend(m.iter().filter(|e| int_key(&e.0.name).is_none()));
    out
}

fn field(cx: &CondCx, key: &str) -> Field {
    let mut parts = key.split('.');
    let (a, b) = (parts.next().unwrap_or(""), parts.next());
    let f = match (a, b) {
        ("metadata", Some("_user")) => Field::Text("user".into()),
        ("metadata", Some(k)) => Field::Text(k.to_string()),
        ("params", Some("model")) => Field::Text("asked_model".into()),
        ("params", Some(k)) => Field::Param(format!("param_{k}")),
        ("url", Some("pathname")) => Field::Text("url_pathname".into()),
        _ => Field::Undefined,
    };
    match (&f, cx.meta_keys) {
        (Field::Text(k) | Field::Param(k), Some(keys)) if !keys.iter().any(|x| x == k) => {
            Field::Undefined
        }
        _ => f,
    }
}

/// A query (the object of `conditions[].query`) as a condition.
pub fn query(cx: &mut CondCx, q: &Node, path: &str) -> CondOut {
    let Some(entries) = q.entries() else {
        cx.doc.err(
            q,
            format!(
                "{path}: expected a query object, found {}",
                q.value.type_name()
            ),
        );
        return CondOut::Never;
    };
    let ordered = js_order(entries);
    let mut acc = Vec::new();
    for (i, (k, v)) in ordered.iter().enumerate() {
        let kpath = format!("{path}.{}", k.name);
        if (k.name == "$or" || k.name == "$and") && v.items().is_some() {
            let items = v.items().expect("list");
            let parts: Vec<CondOut> = items
                .iter()
                .enumerate()
                .map(|(j, it)| query(cx, it, &format!("{kpath}[{j}]")))
                .collect();
            let c = if k.name == "$or" {
                CondOut::any(parts)
            } else {
                CondOut::all(parts)
            };
            acc.push(c);
            let rest: Vec<&str> = ordered[i + 1..]
                .iter()
                .map(|(k, _)| k.name.as_str())
                .collect();
            if !rest.is_empty() {
                cx.note(
                    Kind::Ignored,
                    &kpath,
                    "",
                    format!(
                        "Portkey returns the result of {} at once, so the keys after it ({}) are never tested",
                        k.name,
                        rest.join(", ")
                    ),
                );
            }
            return CondOut::all(acc);
        }
        let f = field(cx, &k.name);
        let c = match &v.value {
            Value::Map(ops) => operators(cx, &f, &k.name, ops, &kpath),
            Value::Seq(items) if items.is_empty() => CondOut::Always,
            Value::Seq(_) => {
                cx.doc.err(
                    v,
                    format!(
                        "{kpath}: a list is read as an operator object whose operators are its indexes; Portkey fails the request (unsupported operator \"0\")"
                    ),
                );
                CondOut::Never
            }
            _ => strict_eq(cx, &f, &k.name, v, &kpath),
        };
        acc.push(c);
    }
    CondOut::all(acc)
}

/// `value === literal` as a condition.
fn strict_eq(cx: &mut CondCx, f: &Field, key: &str, lit: &Node, path: &str) -> CondOut {
    let Some(v) = literal(lit) else {
        // null or an object: never strictly equal to a request value.
        return CondOut::Never;
    };
    match f {
        Field::Undefined => CondOut::Never,
        Field::Text(k) => match v {
            ValOut::Str(_) => CondOut::Meta(k.clone(), vec![("eq", v)]),
            _ => {
                cx.note(
                    Kind::Approx,
                    path,
                    &lit.brief(),
                    format!("{key} holds strings, and Portkey compares strictly: a number or boolean never equals it, so this never holds"),
                );
                CondOut::Never
            }
        },
        Field::Param(k) => {
            param_type_note(cx, path, lit, &v);
            CondOut::Meta(k.clone(), vec![("eq", v)])
        }
    }
}

/// Request parameters are stored as text: a literal whose text a value of another
/// type could have also matches it in routesim.
fn param_type_note(cx: &mut CondCx, path: &str, lit: &Node, v: &ValOut) {
    let ambiguous = match v {
        ValOut::Str(s) => {
            s.trim().parse::<f64>().is_ok()
                || s.eq_ignore_ascii_case("true")
                || s.eq_ignore_ascii_case("false")
        }
        ValOut::Num(_) | ValOut::Bool(_) => true,
        ValOut::List(_) => false,
    };
    if ambiguous {
        cx.note(
            Kind::Approx,
            path,
            &lit.brief(),
            "request parameters are stored as text: routesim also matches a value of another JSON type with the same text (Portkey compares strictly)",
        );
    }
}

/// A JSON primitive as a condition value (`None` for null, lists and objects).
fn literal(n: &Node) -> Option<ValOut> {
    match &n.value {
        Value::Str(s) => Some(ValOut::Str(s.clone())),
        Value::Int(i) => Some(ValOut::Num(*i as f64)),
        Value::Float(x) => Some(ValOut::Num(*x)),
        Value::Bool(b) => Some(ValOut::Bool(*b)),
        _ => None,
    }
}

/// JavaScript `parseFloat` of a compare value (`None` for NaN).
fn parse_float(n: &Node) -> Option<f64> {
    let text = match &n.value {
        Value::Int(i) => return Some(*i as f64),
        Value::Float(x) => return Some(*x),
        Value::Str(s) => s.clone(),
        Value::Seq(items) if !items.is_empty() => match &items[0].value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(x) => x.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    static NUM: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = NUM.get_or_init(|| {
        regex::Regex::new(r"^[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
            .expect("static pattern")
    });
    let t = text.trim_start();
    let m = re.find(t)?.as_str();
    match m.trim_start_matches(['+', '-']) {
        "Infinity" if m.starts_with('-') => Some(f64::NEG_INFINITY),
        "Infinity" => Some(f64::INFINITY),
        _ => m.parse::<f64>().ok(),
    }
}

/// The text JavaScript gives a value (`String(v)`), for `$regex` patterns.
fn js_string(n: &Node) -> String {
    match &n.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => crate::dataset::records::fmt_num(*x),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Seq(items) => items.iter().map(js_string).collect::<Vec<_>>().join(","),
        Value::Map(_) => "[object Object]".into(),
    }
}

fn operators(
    cx: &mut CondCx,
    f: &Field,
    key: &str,
    ops: &[(super::tree::Key, Node)],
    path: &str,
) -> CondOut {
    let ordered = js_order(ops);
    let mut acc: Vec<CondOut> = Vec::new();
    let mut simple: Vec<(&'static str, ValOut)> = Vec::new();
    let meta_key = match f {
        Field::Text(k) | Field::Param(k) => Some(k.clone()),
        Field::Undefined => None,
    };
    let is_param = matches!(f, Field::Param(_));
    for (i, (op, cmp)) in ordered.iter().enumerate() {
        let opath = format!("{path}.{}", op.name);
        match op.name.as_str() {
            "$eq" => {
                let c = strict_eq(cx, f, key, cmp, &opath);
                match c {
                    CondOut::Meta(_, mut o) => simple.append(&mut o),
                    c => acc.push(c),
                }
            }
            "$ne" => match (literal(cmp), &meta_key) {
                (None, _) | (_, None) => {} // never equal → $ne holds
                (Some(v), Some(k)) => {
                    if !is_param && !matches!(v, ValOut::Str(_)) {
                        // A string never equals a number: always holds.
                        let _ = k;
                    } else {
                        if is_param {
                            param_type_note(cx, &opath, cmp, &v);
                        }
                        simple.push(("ne", v));
                    }
                }
            },
            "$gt" | "$gte" | "$lt" | "$lte" => {
                let name = match op.name.as_str() {
                    "$gt" => "gt",
                    "$gte" => "ge",
                    "$lt" => "lt",
                    _ => "le",
                };
                match (parse_float(cmp), &meta_key) {
                    (Some(x), Some(_)) if x.is_finite() => simple.push((name, ValOut::Num(x))),
                    (Some(x), Some(_)) => {
                        // ±Infinity: x > -Infinity holds for every number.
                        let always =
                            matches!((name, x > 0.0), ("gt" | "ge", false) | ("lt" | "le", true));
                        if always {
                            simple.push(("ge", ValOut::Num(-f64::MAX)));
                        } else {
                            acc.push(CondOut::Never);
                        }
                    }
                    _ => acc.push(CondOut::Never),
                }
            }
            "$in" | "$nin" => {
                let Some(items) = cmp.items() else {
                    acc.push(CondOut::Never);
                    continue;
                };
                let mut vals: Vec<ValOut> = Vec::new();
                for it in items {
                    if let Some(v) = literal(it) {
                        if !is_param && !matches!(v, ValOut::Str(_)) {
                            continue; // never equal to a string
                        }
                        if is_param {
                            param_type_note(cx, &opath, it, &v);
                        }
                        vals.push(v);
                    }
                }
                let absent_key = meta_key.is_none();
                if op.name == "$in" {
                    if vals.is_empty() || absent_key {
                        acc.push(CondOut::Never);
                    } else {
                        simple.push(("in", ValOut::List(vals)));
                    }
                } else if !vals.is_empty() && !absent_key {
                    simple.push(("not_in", ValOut::List(vals)));
                }
            }
            "$regex" => {
                let pat = js_string(cmp);
                let rest: Vec<&str> = ordered[i + 1..]
                    .iter()
                    .map(|(k, _)| k.name.as_str())
                    .collect();
                if !rest.is_empty() {
                    cx.note(
                        Kind::Ignored,
                        &opath,
                        "",
                        format!(
                            "Portkey returns the result of $regex at once, so the operators after it ({}) are never tested",
                            rest.join(", ")
                        ),
                    );
                }
                let c = match regex::Regex::new(&pat) {
                    Err(_) => {
                        cx.note(
                            Kind::Unmapped,
                            &opath,
                            &format!("{pat:?}"),
                            "routesim cannot compile this pattern (JavaScript lookaround or backreferences, or invalid in both): the condition never holds",
                        );
                        CondOut::Never
                    }
                    Ok(re) => {
                        let undefined = re.is_match("undefined");
                        match &meta_key {
                            None => {
                                if undefined {
                                    CondOut::Always
                                } else {
                                    CondOut::Never
                                }
                            }
                            Some(k) => {
                                let test = CondOut::Meta(
                                    k.clone(),
                                    vec![("regex", ValOut::Str(pat.clone()))],
                                );
                                if undefined {
                                    CondOut::any(vec![
                                        test,
                                        CondOut::Meta(
                                            k.clone(),
                                            vec![("exists", ValOut::Bool(false))],
                                        ),
                                    ])
                                } else {
                                    test
                                }
                            }
                        }
                    }
                };
                acc.push(c);
                break;
            }
            "$length" => {
                cx.note(
                    Kind::Unmapped,
                    &opath,
                    &cmp.brief(),
                    "routesim metadata hold no lists: $length never holds",
                );
                acc.push(CondOut::Never);
            }
            other => {
                cx.doc.err_key(
                    op,
                    format!(
                        "{path}: unsupported operator \"{other}\" (Portkey fails every request that reaches it); expected $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $regex or $length"
                    ),
                );
                acc.push(CondOut::Never);
            }
        }
    }
    let mut parts = Vec::new();
    if !simple.is_empty() {
        match &meta_key {
            Some(k) => parts.push(CondOut::Meta(k.clone(), simple)),
            None => parts.push(CondOut::Never),
        }
    }
    parts.extend(acc);
    CondOut::all(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(q: &str, keys: Option<&[String]>) -> (String, Vec<String>) {
        let n = super::super::json::parse("q.json", q).unwrap();
        let mut doc = Doc::new("q.json");
        let mut un = Vec::new();
        let c = {
            let mut cx = CondCx {
                doc: &mut doc,
                un: &mut un,
                meta_keys: keys,
            };
            query(&mut cx, &n, "query")
        };
        let mut notes: Vec<String> = un.iter().map(|u| u.to_string()).collect();
        notes.extend(doc.diags.iter().map(|d| d.to_string()));
        (c.table(), notes)
    }

    #[test]
    fn parse_float_is_javascripts() {
        let f = |t: &str| parse_float(&super::super::json::parse("x", t).unwrap());
        assert_eq!(f("\"12abc\""), Some(12.0));
        assert_eq!(f("\"  -3.5e2x\""), Some(-350.0));
        assert_eq!(f("\"abc\""), None);
        assert_eq!(f("\"1e\""), Some(1.0));
        assert_eq!(f("1000"), Some(1000.0));
        assert_eq!(f("true"), None);
        assert_eq!(f("\".5\""), Some(0.5));
    }

    #[test]
    fn operators_follow_the_gateway_code() {
        // Bare value and $eq on metadata: strings, compared strictly.
        assert_eq!(
            cond(r#"{"metadata.user_plan": {"$eq": "paid"}}"#, None).0,
            "{ meta.user_plan = { eq = \"paid\" } }"
        );
        let (c, n) = cond(r#"{"metadata.tier": 1}"#, None);
        assert_eq!(c, "{ not = {} }");
        assert_eq!(n.len(), 1, "{n:?}");
        // $or returns at once: a key before it counts, one after it does not.
        let (c, n) = cond(
            r#"{"metadata.a": "x", "$or": [{"metadata.b": "y"}, {"params.temperature": {"$gte": 0.9}}], "metadata.c": "z"}"#,
            None,
        );
        assert_eq!(
            c,
            "{ meta.a = { eq = \"x\" }, any = [{ meta.b = { eq = \"y\" } }, { meta.param_temperature = { ge = 0.9 } }] }"
        );
        assert!(n[0].contains("(metadata.c) are never tested"), "{n:?}");
        // $regex: the absent value is "undefined"; later operators ignored.
        let (c, _) = cond(r#"{"url.pathname": {"$regex": "^u", "$eq": "x"}}"#, None);
        assert_eq!(
            c,
            "{ any = [{ meta.url_pathname = { regex = \"^u\" } }, { meta.url_pathname = { exists = false } }] }"
        );
        // $in needs a list; $nin with a non-list never holds; numbers never equal metadata.
        assert_eq!(
            cond(r#"{"metadata.r": {"$in": "eu"}}"#, None).0,
            "{ not = {} }"
        );
        assert_eq!(
            cond(r#"{"metadata.r": {"$nin": "eu"}}"#, None).0,
            "{ not = {} }"
        );
        assert_eq!(
            cond(r#"{"metadata.r": {"$in": ["eu", 1]}}"#, None).0,
            "{ meta.r = { in = [\"eu\"] } }"
        );
        // $ne on metadata with a number always holds; $gt with a prefix number.
        assert_eq!(cond(r#"{"metadata.r": {"$ne": 3}}"#, None).0, "{}");
        assert_eq!(
            cond(r#"{"params.max_tokens": {"$gt": "1000tok"}}"#, None).0,
            "{ meta.param_max_tokens = { gt = 1000 } }"
        );
        // A key outside metadata/params/url is always undefined.
        assert_eq!(cond(r#"{"foo.bar": {"$ne": "x"}}"#, None).0, "{}");
        assert_eq!(cond(r#"{"foo": "x"}"#, None).0, "{ not = {} }");
        // A field the dataset lacks is absent for every request.
        let keys = vec!["tier".to_string()];
        assert_eq!(
            cond(
                r#"{"url.pathname": {"$regex": "embeddings$"}}"#,
                Some(&keys)
            )
            .0,
            "{ not = {} }"
        );
        // Unknown operators are errors, with their position.
        let (_, n) = cond(r#"{"metadata.a": {"$exists": true}}"#, None);
        assert!(
            n[0].starts_with("q.json:1:17: query.metadata.a: unsupported operator \"$exists\""),
            "{n:?}"
        );
    }
}
