//! Portkey config JSON → policy. A config is a tree of targets: a leaf calls one
//! provider (its model from `override_params.model`), a node has a `strategy.mode`
//! (`single`, `fallback`, `loadbalance`, `conditional`) and `targets`. The tree is
//! flattened into ordered rules whose routes are flat plans, as the gateway's
//! `tryTargetsRecursively` would walk it:
//!
//! - `conditional` → one rule per condition, in order (first match wins), then its
//!   `default`; a nested node's rules carry the enclosing conditions;
//! - `loadbalance` over leaves → `split` (weights, default 1; weight 0 never picked);
//!   over composite targets → rules on a stable hash bucket of the request id, one
//!   per target, by cumulative weight in whole percents;
//! - `fallback` → the first target's route, with the other targets' models as
//!   `fallbacks` and `on_status_codes` as `fallback_on`;
//! - `retry`, `request_timeout` (inherited; a child's `retry` replaces its
//!   parent's), `cache`, `cb_config` → `[gateway]`, or `[models]` for a target whose
//!   own differs.
//!
//! A leaf without a model forwards the request's model: with `--dataset` it becomes
//! one rule per model the dataset's requests ask for (`meta.asked_model`).

use super::emit::{
    CondOut, Kind, ModelOut, PolicyOut, RetriesOut, RouteOut, RuleOut, StratOut, Unmapped, ValOut,
    num,
};
use super::portkey_cond::{CondCx, query};
use super::tree::{Doc, Node, Value};
use super::{Columns, ImportOptions, Imported, is_secret};

use crate::error::InputError;
use crate::policy::route::MAX_PLAN;

/// Portkey's retry codes when `retry.on_status_codes` is absent.
const DEFAULT_RETRY_CODES: &[i64] = &[429, 500, 502, 503, 504];

/// The per-call settings a target passes to its leaves.
#[derive(Debug, Clone, PartialEq)]
struct Inherited {
    retry: Option<RetriesOut>,
    timeout_ms: Option<f64>,
    model: Option<String>,
    max_tokens: Option<f64>,
    cache: Option<String>,
}

/// A model slot of a route: a fixed dataset model, or the request's own model sent
/// to a provider.
#[derive(Debug, Clone, PartialEq)]
enum Col {
    Fixed(String),
    Forward {
        provider: Option<String>,
        path: String,
    },
}

/// A leaf's call settings, for `[models]`.
#[derive(Debug, Clone, PartialEq)]
struct LeafCall {
    col: Col,
    path: String,
    retry: Option<RetriesOut>,
    timeout_ms: Option<f64>,
    max_tokens: Option<f64>,
}

/// A flat route with slots.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    /// First-tried slots: one (single/fallback) or several with weights (split).
    first: Vec<(Col, f64)>,
    split: bool,
    fallbacks: Vec<Col>,
    fallback_on: Option<Vec<&'static str>>,
}

struct Rule {
    name: String,
    when: CondOut,
    plan: Plan,
}

struct Cx<'a> {
    doc: Doc,
    un: Vec<Unmapped>,
    o: &'a ImportOptions,
    leaves: Vec<LeafCall>,
}

impl Cx<'_> {
    fn push(&mut self, kind: Kind, key: impl Into<String>, value: &str, reason: impl Into<String>) {
        let key = key.into();
        let value = if is_secret(&key) {
            String::new()
        } else {
            value.to_string()
        };
        self.un.push(Unmapped {
            kind,
            key,
            value,
            reason: reason.into(),
        });
    }
}

/// Status codes → failure classes, and whether the classes cover more codes.
fn classes_of(codes: &[i64]) -> (Vec<&'static str>, Vec<String>) {
    let mut out: Vec<&'static str> = Vec::new();
    let mut wider = Vec::new();
    let mut add = |c: &'static str| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    let mut five = Vec::new();
    let mut four = Vec::new();
    for &c in codes {
        match c {
            429 => add("429"),
            408 => add("timeout"),
            413 => add("context_length"),
            500..=599 => {
                add("5xx");
                five.push(c);
            }
            400..=499 => {
                add("4xx");
                four.push(c);
            }
            _ => {}
        }
    }
    if !five.is_empty() && five.len() < 100 {
        wider.push(format!(
            "5xx covers every 5xx, Portkey only {}",
            five.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !four.is_empty() {
        wider.push(format!(
            "4xx covers every other 4xx, Portkey only {}",
            four.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (out, wider)
}

fn codes(cx: &mut Cx, n: &Node, what: &str) -> Option<Vec<i64>> {
    let items = cx.doc.seq(n, what)?;
    let mut v = Vec::new();
    for it in items {
        match it.value {
            Value::Int(c) => v.push(c),
            _ => cx
                .doc
                .err(it, format!("{what}: expected HTTP status codes (numbers)")),
        }
    }
    Some(v)
}

/// `retry` → retries.
fn retry_of(cx: &mut Cx, n: &Node, path: &str) -> Option<RetriesOut> {
    let m = cx.doc.map(n, path)?;
    let mut attempts = 0;
    let mut on_codes: Vec<i64> = DEFAULT_RETRY_CODES.to_vec();
    let mut honor = false;
    for (k, v) in m {
        let key = format!("{path}.{}", k.name);
        match k.name.as_str() {
            "attempts" => attempts = cx.doc.count(v, &key)?,
            "on_status_codes" => on_codes = codes(cx, v, &key)?,
            "use_retry_after_header" | "use_retry_after_headers" => {
                honor = cx.doc.boolean(v, &key).unwrap_or(false)
            }
            _ => cx.push(
                Kind::Unmapped,
                key,
                &v.brief(),
                "not a retry setting routesim knows",
            ),
        }
    }
    let (on, wider) = classes_of(&on_codes);
    for w in wider {
        cx.push(Kind::Approx, format!("{path}.on_status_codes"), "", w);
    }
    let max = attempts.min(crate::policy::gateway::MAX_RETRIES as u64) as u32;
    if attempts > crate::policy::gateway::MAX_RETRIES as u64 {
        cx.push(
            Kind::Approx,
            format!("{path}.attempts"),
            &attempts.to_string(),
            format!(
                "routesim retries at most {} times",
                crate::policy::gateway::MAX_RETRIES
            ),
        );
    }
    if honor && max > 0 {
        cx.push(
            Kind::Approx,
            format!("{path}.use_retry_after_header"),
            "true",
            "Portkey waits a 429's retry-after instead of its backoff, and stops retrying when the waits would pass 60 s; routesim waits the longer of the two and keeps retrying",
        );
    }
    Some(RetriesOut {
        max,
        backoff_ms: 1000.0,
        multiplier: 2.0,
        max_backoff_ms: 512_000.0,
        on,
        honor_retry_after: honor,
    })
}

/// A target's settings after inheriting its parent's.
fn inherit(cx: &mut Cx, t: &Node, path: &str, parent: &Inherited, root: bool) -> Inherited {
    let mut h = parent.clone();
    if let Some(r) = t.get("retry") {
        h.retry = retry_of(cx, r, &format!("{path}.retry"));
    }
    if let Some(x) = t.get("request_timeout")
        && let Some(ms) = cx.doc.non_negative(x, &format!("{path}.request_timeout"))
    {
        h.timeout_ms = Some(ms);
    }
    if let Some(op) = t.get("override_params")
        && let Some(m) = cx.doc.map(op, &format!("{path}.override_params"))
    {
        for (k, v) in m {
            let key = format!("{path}.override_params.{}", k.name);
            match k.name.as_str() {
                "model" => h.model = cx.doc.string(v, &key).map(str::to_string),
                "max_tokens" | "max_completion_tokens" => {
                    h.max_tokens = cx.doc.non_negative(v, &key)
                }
                _ => cx.push(
                    Kind::Unmapped,
                    key,
                    &v.brief(),
                    "changes the request; the recorded answers are replayed as they are",
                ),
            }
        }
    }
    if let Some(c) = t.get("cache") {
        let what = format!("{path}.cache");
        let mode = c
            .get("mode")
            .and_then(|m| cx.doc.string(m, &format!("{what}.mode")))
            .map(str::to_string);
        match mode.as_deref() {
            Some("simple") => {
                let ttl = match c.get("max_age") {
                    Some(a) => cx.doc.non_negative(a, &format!("{what}.max_age")),
                    None => {
                        cx.push(
                            Kind::Approx,
                            format!("{what}.max_age"),
                            "",
                            "no max_age: routesim keeps cached answers for 7 days",
                        );
                        Some(604_800.0)
                    }
                };
                if let Some(t) = ttl {
                    h.cache = Some(format!(
                        "{{ kind = \"exact\", ttl_s = {} }}",
                        num(t.max(1.0))
                    ));
                }
            }
            Some("semantic") => {
                cx.push(
                    Kind::Unmapped,
                    what,
                    &c.brief(),
                    "a semantic cache is not reproduced (routesim's cache is exact)",
                );
                h.cache = None;
            }
            Some(other) => cx.doc.err(
                c,
                format!("{what}.mode: expected \"simple\" or \"semantic\", found \"{other}\""),
            ),
            None => cx
                .doc
                .err(c, format!("{what}: missing mode (simple or semantic)")),
        }
    }
    if !root && t.get("cb_config").is_some() {
        cx.push(
            Kind::Unmapped,
            format!("{path}.cb_config"),
            "",
            "a circuit breaker of a nested target is not reproduced (routesim's is the gateway's)",
        );
    }
    h
}

const TARGET_KEYS: &[&str] = &[
    "name",
    "strategy",
    "targets",
    "weight",
    "provider",
    "virtual_key",
    "override_params",
    "retry",
    "request_timeout",
    "cache",
    "cb_config",
    "on_status_codes",
];

const NOT_ROUTING: &[&str] = &[
    "api_key",
    "custom_host",
    "forward_headers",
    "strict_open_ai_compliance",
    "input_guardrails",
    "output_guardrails",
    "before_request_hooks",
    "after_request_hooks",
    "default_params",
    "drop_params",
    "passthrough",
    "id",
];

/// List a target's keys that are not routing settings, or not read.
fn check_keys(cx: &mut Cx, entries: &[(super::tree::Key, Node)], path: &str) {
    for (k, v) in entries {
        let key = format!("{path}.{}", k.name);
        let kn = k.name.as_str();
        if TARGET_KEYS.contains(&kn) {
            continue;
        }
        if NOT_ROUTING.contains(&kn)
            || is_secret(kn)
            || ["aws_", "vertex_", "azure_", "openai_"]
                .iter()
                .any(|p| kn.starts_with(p))
        {
            cx.push(Kind::Ignored, key, &v.brief(), "not a routing setting");
        } else {
            cx.push(
                Kind::Unmapped,
                key,
                &v.brief(),
                "not a config setting routesim reads",
            );
        }
    }
    if let Some((_, v)) = entries.iter().find(|(k, _)| k.name == "on_status_codes") {
        cx.push(
            Kind::Unmapped,
            format!("{path}.on_status_codes"),
            &v.brief(),
            "on_status_codes belongs in strategy (a fallback's); here it is not reproduced",
        );
    }
}

/// Flatten target `t` under condition `ctx`: its rules, the last one's condition
/// being `ctx` itself (so the list is exhaustive within `ctx`).
fn flatten(
    cx: &mut Cx,
    t: &Node,
    path: &str,
    ctx: CondOut,
    name: &str,
    inh: &Inherited,
    root: bool,
) -> Vec<Rule> {
    let Some(entries) = cx.doc.map(t, path).map(|m| m.to_vec()) else {
        return Vec::new();
    };
    check_keys(cx, &entries, path);
    let h = inherit(cx, t, path, inh, root);
    let Some(strategy) = t.get("strategy") else {
        if t.get("targets").is_some() {
            cx.doc.err(t, format!("{path}: targets without a strategy (mode: single, fallback, loadbalance or conditional)"));
            return Vec::new();
        }
        return vec![Rule {
            name: name.to_string(),
            when: ctx,
            plan: leaf(cx, t, path, &h),
        }];
    };
    let Some(mode) = strategy
        .get("mode")
        .and_then(|m| cx.doc.string(m, &format!("{path}.strategy.mode")))
        .map(str::to_string)
    else {
        if strategy.get("mode").is_none() {
            cx.doc.err(
                strategy,
                format!(
                    "{path}.strategy: missing mode (single, fallback, loadbalance or conditional)"
                ),
            );
        }
        return Vec::new();
    };
    let empty = Vec::new();
    let targets: Vec<Node> = match t.get("targets") {
        Some(n) => cx
            .doc
            .seq(n, &format!("{path}.targets"))
            .unwrap_or(&empty)
            .to_vec(),
        None => Vec::new(),
    };
    if targets.is_empty() {
        cx.doc
            .err(t, format!("{path}: strategy {mode} needs targets"));
        return Vec::new();
    }
    for (k, v) in strategy.entries().unwrap_or(&[]) {
        let ok = match k.name.as_str() {
            "mode" => true,
            "on_status_codes" => mode == "fallback",
            "conditions" | "default" => mode == "conditional",
            _ => false,
        };
        if !ok {
            cx.push(
                Kind::Unmapped,
                format!("{path}.strategy.{}", k.name),
                &v.brief(),
                format!("not used by mode {mode}"),
            );
        }
    }
    let tpath = |i: usize| {
        if root {
            format!("targets[{i}]")
        } else {
            format!("{path}.targets[{i}]")
        }
    };
    match mode.as_str() {
        "single" => {
            if targets.len() > 1 {
                cx.push(
                    Kind::Ignored,
                    format!("{path}.targets"),
                    "",
                    format!(
                        "mode single uses the first target only ({} more never used)",
                        targets.len() - 1
                    ),
                );
            }
            flatten(cx, &targets[0], &tpath(0), ctx, name, &h, false)
        }
        "fallback" => {
            let on = match strategy.get("on_status_codes") {
                None => vec!["any"],
                Some(n) => {
                    let c = codes(cx, n, &format!("{path}.strategy.on_status_codes"))
                        .unwrap_or_default();
                    let (on, wider) = classes_of(&c);
                    for w in wider {
                        cx.push(
                            Kind::Approx,
                            format!("{path}.strategy.on_status_codes"),
                            "",
                            w,
                        );
                    }
                    on
                }
            };
            let first = flatten(cx, &targets[0], &tpath(0), ctx, name, &h, false);
            let mut tail = Vec::new();
            for (i, c) in targets.iter().enumerate().skip(1) {
                tail.extend(chain_of(cx, c, &tpath(i), &h));
            }
            first
                .into_iter()
                .map(|mut r| {
                    if let Some(inner) = &r.plan.fallback_on
                        && !r.plan.fallbacks.is_empty()
                        && *inner != on
                        && !tail.is_empty()
                    {
                        cx.push(
                            Kind::Approx,
                            format!("{path}.strategy.on_status_codes"),
                            "",
                            "a nested fallback with other status codes: routesim has one fallback_on per route (this target's is used)",
                        );
                    }
                    r.plan.fallbacks.extend(tail.iter().cloned());
                    if !r.plan.fallbacks.is_empty() {
                        r.plan.fallback_on = Some(on.clone());
                    }
                    r
                })
                .collect()
        }
        "loadbalance" => {
            let mut arms = Vec::new();
            for (i, c) in targets.iter().enumerate() {
                let w = match c.get("weight") {
                    Some(w) => cx
                        .doc
                        .non_negative(w, &format!("{}.weight", tpath(i)))
                        .unwrap_or(1.0),
                    None => 1.0,
                };
                if w == 0.0 {
                    cx.push(
                        Kind::Ignored,
                        format!("{}.weight", tpath(i)),
                        "0",
                        "a target of weight 0 is never picked",
                    );
                    continue;
                }
                arms.push((i, c, w));
            }
            if arms.is_empty() {
                cx.doc.err(
                    t,
                    format!("{path}: every target of this loadbalance has weight 0"),
                );
                return Vec::new();
            }
            let all_leaves = arms.iter().all(|(_, c, _)| c.get("strategy").is_none());
            if all_leaves {
                let mut first: Vec<(Col, f64)> = Vec::new();
                for (i, c, w) in &arms {
                    if let Some(e) = c.entries() {
                        check_keys(cx, e, &tpath(*i));
                    }
                    let h2 = inherit(cx, c, &tpath(*i), &h, false);
                    let p = leaf(cx, c, &tpath(*i), &h2);
                    let col = p.first[0].0.clone();
                    match first.iter_mut().find(|(x, _)| *x == col) {
                        Some(e) => e.1 += w,
                        None => first.push((col, *w)),
                    }
                }
                let split = first.len() > 1;
                return vec![Rule {
                    name: name.to_string(),
                    when: ctx,
                    plan: Plan {
                        first,
                        split,
                        fallbacks: Vec::new(),
                        fallback_on: None,
                    },
                }];
            }
            // Composite targets: one rule per target on a hash bucket of the id.
            let total: f64 = arms.iter().map(|a| a.2).sum();
            let mut cum = 0.0;
            let mut lo = 0u8;
            let mut rules = Vec::new();
            let n = arms.len();
            for (j, (i, c, w)) in arms.iter().enumerate() {
                cum += w;
                let hi = if j + 1 == n {
                    100
                } else {
                    (100.0 * cum / total).round() as u8
                };
                let exact = 100.0 * w / total;
                if (exact - (hi - lo) as f64).abs() > 1e-9 {
                    cx.push(
                        Kind::Approx,
                        format!("{}.weight", tpath(*i)),
                        &num(*w),
                        format!(
                            "{}% of requests rounded to {}% (stable buckets of the request id)",
                            num((exact * 1e6).round() / 1e6),
                            hi - lo
                        ),
                    );
                }
                if hi > lo {
                    let cname = c
                        .get("name")
                        .and_then(|x| x.as_str())
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{name}-{}", j + 1));
                    let cond = if j + 1 == n {
                        ctx.clone()
                    } else {
                        ctx.clone().and(CondOut::Bucket {
                            key: "id".into(),
                            ge: lo,
                            lt: hi,
                            salt: format!("portkey {path}"),
                        })
                    };
                    rules.extend(flatten(cx, c, &tpath(*i), cond, &cname, &h, false));
                }
                lo = hi;
            }
            rules
        }
        "conditional" => {
            let names: Vec<Option<String>> = targets
                .iter()
                .map(|c| c.get("name").and_then(|x| x.as_str()).map(str::to_string))
                .collect();
            let find = |cx: &mut Cx, n: &Node, what: &str| -> Option<usize> {
                let s = cx.doc.string(n, what)?;
                match names.iter().position(|x| x.as_deref() == Some(s)) {
                    Some(i) => Some(i),
                    None => {
                        let known: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
                        cx.doc.err(n, format!("{what}: no target is named \"{s}\" (Portkey fails the request); targets: {}", known.join(", ")));
                        None
                    }
                }
            };
            let mut rules = Vec::new();
            let conds = match strategy.get("conditions") {
                Some(c) => cx
                    .doc
                    .seq(c, &format!("{path}.strategy.conditions"))
                    .unwrap_or(&empty)
                    .to_vec(),
                None => {
                    cx.doc.err(
                        strategy,
                        format!("{path}.strategy: mode conditional needs conditions"),
                    );
                    return Vec::new();
                }
            };
            let meta_keys: Option<Vec<String>> = cx.o.columns.as_ref().map(|c| c.meta_keys.clone());
            for (i, c) in conds.iter().enumerate() {
                let cpath = format!("{path}.strategy.conditions[{i}]");
                let (Some(q), Some(then)) = (c.get("query"), c.get("then")) else {
                    cx.doc
                        .err(c, format!("{cpath}: expected {{ query, then }}"));
                    continue;
                };
                let qc = {
                    let mut ccx = CondCx {
                        doc: &mut cx.doc,
                        un: &mut cx.un,
                        meta_keys: meta_keys.as_deref(),
                    };
                    query(&mut ccx, q, &format!("{cpath}.query"))
                };
                let Some(ti) = find(cx, then, &format!("{cpath}.then")) else {
                    continue;
                };
                if qc == CondOut::Never {
                    cx.push(
                        Kind::Ignored,
                        format!("{cpath}.query"),
                        "",
                        "never holds under Portkey's semantics (e.g. a number compared with metadata, $in without a list): no rule written",
                    );
                    continue;
                }
                let tname = names[ti].clone().unwrap_or_default();
                rules.extend(flatten(
                    cx,
                    &targets[ti],
                    &tpath(ti),
                    ctx.clone().and(qc),
                    &tname,
                    &h,
                    false,
                ));
            }
            match strategy.get("default") {
                Some(d) => {
                    if let Some(ti) = find(cx, d, &format!("{path}.strategy.default")) {
                        let tname = names[ti].clone().unwrap_or_default();
                        rules.extend(flatten(
                            cx,
                            &targets[ti],
                            &tpath(ti),
                            ctx,
                            &tname,
                            &h,
                            false,
                        ));
                    }
                }
                None => {
                    cx.push(
                        Kind::Unmapped,
                        format!("{path}.strategy.default"),
                        "",
                        "no default: Portkey fails a request no condition matches; routesim sends it to the first target",
                    );
                    let tname = names[0].clone().unwrap_or_else(|| name.to_string());
                    rules.extend(flatten(cx, &targets[0], &tpath(0), ctx, &tname, &h, false));
                }
            }
            rules
        }
        other => {
            let m = strategy.get("mode").expect("mode");
            cx.doc.err(m, format!("{path}.strategy.mode: expected single, fallback, loadbalance or conditional, found \"{other}\""));
            Vec::new()
        }
    }
}

/// The models a non-first target of a fallback adds, in order.
fn chain_of(cx: &mut Cx, t: &Node, path: &str, parent: &Inherited) -> Vec<Col> {
    if let Some(e) = t.entries() {
        check_keys(cx, e, path);
    }
    let h = inherit(cx, t, path, parent, false);
    let Some(strategy) = t.get("strategy") else {
        return leaf(cx, t, path, &h)
            .first
            .into_iter()
            .map(|(c, _)| c)
            .collect();
    };
    let mode = strategy.get("mode").and_then(|m| m.as_str()).unwrap_or("");
    let empty = Vec::new();
    let targets: Vec<Node> = t
        .get("targets")
        .and_then(|n| n.items())
        .unwrap_or(&empty)
        .to_vec();
    match mode {
        "single" if !targets.is_empty() => {
            chain_of(cx, &targets[0], &format!("{path}.targets[0]"), &h)
        }
        "fallback" => {
            if strategy.get("on_status_codes").is_some() {
                cx.push(
                    Kind::Approx,
                    format!("{path}.strategy.on_status_codes"),
                    "",
                    "a nested fallback's status codes: routesim has one fallback_on per route (the enclosing one is used)",
                );
            }
            let mut v = Vec::new();
            for (i, c) in targets.iter().enumerate() {
                v.extend(chain_of(cx, c, &format!("{path}.targets[{i}]"), &h));
            }
            v
        }
        "loadbalance" => {
            cx.push(
                Kind::Approx,
                path.to_string(),
                "",
                "a loadbalance after the first fallback target: Portkey picks one of its targets by weight, routesim tries them all in order of weight",
            );
            let mut arms: Vec<(f64, usize)> = targets
                .iter()
                .enumerate()
                .map(|(i, c)| (c.get("weight").and_then(|w| w.as_f64()).unwrap_or(1.0), i))
                .filter(|(w, _)| *w > 0.0)
                .collect();
            arms.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut v = Vec::new();
            for (_, i) in arms {
                v.extend(chain_of(
                    cx,
                    &targets[i],
                    &format!("{path}.targets[{i}]"),
                    &h,
                ));
            }
            v
        }
        _ => {
            cx.push(
                Kind::Unmapped,
                path.to_string(),
                "",
                "a conditional target after the first fallback target is not reproduced: left out of the chain",
            );
            Vec::new()
        }
    }
}

/// A leaf: its model slot, and its call settings recorded for `[models]`.
fn leaf(cx: &mut Cx, t: &Node, path: &str, h: &Inherited) -> Plan {
    let provider = match t.get("provider").and_then(|p| p.as_str()) {
        Some(p) if p.starts_with('@') => {
            cx.push(
                Kind::Approx,
                format!("{path}.provider"),
                &format!("{p:?}"),
                "a provider slug names an integration, not a provider: the model is looked up by its name alone",
            );
            None
        }
        Some(p) => Some(p.to_string()),
        None => {
            if t.get("virtual_key").is_some() {
                cx.push(
                    Kind::Approx,
                    format!("{path}.virtual_key"),
                    "",
                    "the provider behind a virtual key is not in the config: the model is looked up by its name alone",
                );
            }
            None
        }
    };
    let o = cx.o;
    let col = match &h.model {
        Some(m) => {
            let canonical = match &provider {
                Some(p) => format!("{p}/{m}"),
                None => m.clone(),
            };
            match o.columns.as_ref() {
                None => Col::Fixed(canonical),
                Some(cols) => {
                    let mut cands = vec![canonical.clone(), m.clone()];
                    cands.dedup();
                    // A model of a named provider is that provider's column (or the
                    // bare name); only a provider-less one is looked up by suffix.
                    let found = cols
                        .find(&cands)
                        .or_else(|| provider.is_none().then(|| cols.by_suffix(m)).flatten());
                    match found {
                        Some(c) => Col::Fixed(c),
                        None => {
                            let tried = if provider.is_none() {
                                format!("\"{m}\" and names ending in \"/{m}\"")
                            } else {
                                format!("\"{canonical}\" and \"{m}\"")
                            };
                            cx.doc.err(
                                t,
                                format!(
                                    "{path} ({canonical}): the dataset has no column for this target; tried {tried}"
                                ),
                            );
                            Col::Fixed(canonical)
                        }
                    }
                }
            }
        }
        None => Col::Forward {
            provider: provider.clone(),
            path: path.to_string(),
        },
    };
    if !cx.leaves.iter().any(|l| l.path == path) {
        cx.leaves.push(LeafCall {
            col: col.clone(),
            path: path.to_string(),
            retry: h.retry.clone(),
            timeout_ms: h.timeout_ms,
            max_tokens: h.max_tokens,
        });
    }
    Plan {
        first: vec![(col, 1.0)],
        split: false,
        fallbacks: Vec::new(),
        fallback_on: None,
    }
}

/// A slot for a request asking for `asked` (`None`: the model is unknown).
fn resolve(cols: Option<&Columns>, c: &Col, asked: Option<&str>) -> Option<String> {
    match c {
        Col::Fixed(s) => Some(s.clone()),
        Col::Forward { provider, .. } => {
            let a = asked?;
            let cols = cols?;
            match provider {
                Some(p) => cols.find(&[format!("{p}/{a}")]),
                None => cols.find(&[a.to_string()]).or_else(|| cols.by_suffix(a)),
            }
        }
    }
}

fn route_of(cols: Option<&Columns>, p: &Plan, asked: Option<&str>) -> Option<RouteOut> {
    let mut first: Vec<(String, f64)> = Vec::new();
    for (c, w) in &p.first {
        if let Some(s) = resolve(cols, c, asked) {
            match first.iter_mut().find(|(x, _)| *x == s) {
                Some(e) => e.1 += w,
                None => first.push((s, *w)),
            }
        }
    }
    let mut fallbacks: Vec<String> = Vec::new();
    for c in &p.fallbacks {
        if let Some(s) = resolve(cols, c, asked)
            && !fallbacks.contains(&s)
            && !first.iter().any(|(x, _)| *x == s)
        {
            fallbacks.push(s);
        }
    }
    let strategy = if first.is_empty() {
        if fallbacks.is_empty() {
            return None;
        }
        let m = fallbacks.remove(0);
        StratOut::Model(m)
    } else if p.split && first.len() > 1 {
        StratOut::Split(first)
    } else if first.len() == 1 {
        StratOut::Model(first.remove(0).0)
    } else {
        StratOut::Split(first)
    };
    let fallback_on = if fallbacks.is_empty() {
        None
    } else {
        p.fallback_on.clone()
    };
    Some(RouteOut {
        strategy,
        fallbacks,
        fallback_on,
    })
}

fn has_forward(p: &Plan) -> bool {
    p.first
        .iter()
        .map(|(c, _)| c)
        .chain(p.fallbacks.iter())
        .any(|c| matches!(c, Col::Forward { .. }))
}

/// Import a Portkey config.
pub fn import(text: &str, o: &ImportOptions) -> Result<Imported, InputError> {
    let root = super::json::parse(&o.file, text)?;
    let mut cx = Cx {
        doc: Doc::new(&o.file),
        un: Vec::new(),
        o,
        leaves: Vec::new(),
    };
    if cx.doc.map(&root, "the config").is_none() {
        return Err(InputError::new(cx.doc.diags));
    }
    let top = Inherited {
        retry: None,
        timeout_ms: None,
        model: None,
        max_tokens: None,
        cache: None,
    };
    let root_h = {
        // The root's own settings are the gateway's.
        let mut scratch = Cx {
            doc: Doc::new(&o.file),
            un: Vec::new(),
            o,
            leaves: Vec::new(),
        };
        inherit(&mut scratch, &root, "config", &top, true)
    };
    let rules = flatten(
        &mut cx,
        &root,
        "config",
        CondOut::Always,
        "default",
        &top,
        true,
    );
    if !cx.doc.diags.is_empty() {
        return Err(InputError::new(cx.doc.diags));
    }
    if rules.is_empty() {
        return Err(InputError::new(vec![cx.doc.diag_at(
            root.line,
            root.col,
            "the config routes nowhere",
        )]));
    }
    let cols = o.columns.clone();
    let asked: Vec<String> = cols
        .as_ref()
        .map(|c| c.asked_models.clone())
        .unwrap_or_default();
    let mut out_rules: Vec<RuleOut> = Vec::new();
    let mut used_names: Vec<String> = Vec::new();
    let mut unique = |base: &str| {
        let base = if base.is_empty() { "target" } else { base };
        let mut n = base.to_string();
        let mut k = 2;
        while used_names.contains(&n) || n == "default" {
            n = format!("{base}-{k}");
            k += 1;
        }
        used_names.push(n.clone());
        n
    };
    let last = rules.len() - 1;
    let mut default_route = None;
    let mut forward_notes: Vec<String> = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let is_last = i == last;
        if has_forward(&r.plan) {
            for c in r
                .plan
                .first
                .iter()
                .map(|(c, _)| c)
                .chain(r.plan.fallbacks.iter())
            {
                if let Col::Forward { path, .. } = c
                    && !forward_notes.contains(path)
                {
                    forward_notes.push(path.clone());
                    let reason = if asked.is_empty() {
                        "this target has no override_params.model: it sends the request's own model, which routesim can route to only per model asked for — pass --dataset with meta.asked_model; left out of its route".to_string()
                    } else {
                        "this target has no override_params.model: it sends the request's own model; one rule per model the dataset's requests ask for (meta.asked_model), and requests without one go to the target's other models".to_string()
                    };
                    cx.push(
                        if asked.is_empty() {
                            Kind::Unmapped
                        } else {
                            Kind::Approx
                        },
                        path.clone(),
                        "",
                        reason,
                    );
                }
            }
            let generic = route_of(cols.as_ref(), &r.plan, None);
            for a in &asked {
                let Some(route) = route_of(cols.as_ref(), &r.plan, Some(a)) else {
                    continue;
                };
                if Some(&route) == generic.as_ref() {
                    continue;
                }
                let when = r.when.clone().and(CondOut::MetaEq(
                    "asked_model".into(),
                    ValOut::Str(a.clone()),
                ));
                if when == CondOut::Never {
                    continue;
                }
                out_rules.push(RuleOut {
                    name: unique(&format!("{} {a}", r.name)),
                    comment: String::new(),
                    when,
                    route,
                });
            }
        }
        let route = match route_of(cols.as_ref(), &r.plan, None) {
            Some(route) => route,
            None => {
                if has_forward(&r.plan) && !asked.is_empty() {
                    // Requests without a known asked model: the first per-model route.
                    match out_rules.last() {
                        Some(prev) => {
                            cx.push(
                                Kind::Approx,
                                format!("(target {}, requests without meta.asked_model)", r.name),
                                "",
                                "Portkey would send whatever model they name; routesim sends them to the last per-model route",
                            );
                            prev.route.clone()
                        }
                        None => continue,
                    }
                } else {
                    let path = r
                        .plan
                        .first
                        .iter()
                        .map(|(c, _)| c)
                        .chain(r.plan.fallbacks.iter())
                        .find_map(|c| match c {
                            Col::Forward { path, .. } => Some(path.clone()),
                            Col::Fixed(_) => None,
                        })
                        .unwrap_or_else(|| "config".into());
                    let d = cx.doc.diag_at(
                        root.line,
                        root.col,
                        format!(
                            "{path} names no model (no override_params.model), so it sends each request's own model, and its route has no other: routesim can route that only per model asked for — pass --dataset DIR whose requests have meta.asked_model"
                        ),
                    );
                    return Err(InputError::one(d));
                }
            }
        };
        if is_last && r.when == CondOut::Always {
            default_route = Some((route, String::new()));
        } else {
            out_rules.push(RuleOut {
                name: unique(&r.name),
                comment: String::new(),
                when: r.when.clone(),
                route,
            });
        }
    }
    let default_route = match default_route {
        Some(d) => d,
        None => match out_rules.last() {
            // The rules above cover every request.
            Some(r) => (
                r.route.clone(),
                "unreachable: the rules above cover every request".to_string(),
            ),
            None => {
                return Err(InputError::one(cx.doc.diag_at(
                    root.line,
                    root.col,
                    "the config routes nowhere",
                )));
            }
        },
    };
    for r in &mut out_rules {
        if r.route.models().len() > MAX_PLAN {
            cx.un.push(Unmapped {
                kind: Kind::Approx,
                key: format!("(rule {})", r.name),
                value: String::new(),
                reason: format!(
                    "routesim tries at most {MAX_PLAN} models per request: the chain is cut"
                ),
            });
            r.route.fallbacks.truncate(MAX_PLAN - 1);
        }
    }

    // Gateway and per-model call settings.
    let mut gateway = Vec::new();
    if let Some(t) = root_h.timeout_ms {
        gateway.push(("timeout_ms".to_string(), num(t.max(1.0)), String::new()));
    }
    let gw_retry = root_h.retry.clone().unwrap_or(RetriesOut {
        max: 0,
        backoff_ms: 1000.0,
        multiplier: 2.0,
        max_backoff_ms: 512_000.0,
        on: vec!["429", "5xx"],
        honor_retry_after: false,
    });
    gateway.push((
        "retries".to_string(),
        gw_retry.render(),
        if root_h.retry.is_none() {
            "no retry in the config: Portkey does not retry".into()
        } else {
            String::new()
        },
    ));
    gateway.push((
        "fallback_on".to_string(),
        "[\"any\"]".to_string(),
        String::new(),
    ));
    if let Some(c) = &root_h.cache {
        if cols.as_ref().is_some_and(|c| !c.has_text) {
            cx.push(
                Kind::Unmapped,
                "config.cache",
                "",
                "the dataset has no request text, and an exact cache needs it: no cache",
            );
        } else {
            gateway.push(("cache".to_string(), c.clone(), String::new()));
        }
    }
    if let Some(cb) = root.get("cb_config") {
        breaker(&mut cx, cb, &mut gateway);
    }
    // [models]: a leaf whose retry or timeout differs from the gateway's.
    let mut models: Vec<ModelOut> = Vec::new();
    let mut max_tokens: Vec<(String, Option<f64>)> = Vec::new();
    let leaves = std::mem::take(&mut cx.leaves);
    for l in &leaves {
        let names: Vec<String> = match &l.col {
            Col::Fixed(s) => vec![s.clone()],
            Col::Forward { .. } => asked
                .iter()
                .filter_map(|a| resolve(cols.as_ref(), &l.col, Some(a)))
                .collect(),
        };
        let retry = l.retry.clone().unwrap_or(RetriesOut {
            max: 0,
            ..gw_retry.clone()
        });
        let own_retry = (retry != gw_retry).then_some(retry);
        let own_timeout = (l.timeout_ms != root_h.timeout_ms)
            .then_some(l.timeout_ms)
            .flatten();
        for n in names {
            max_tokens.push((n.clone(), l.max_tokens));
            if own_retry.is_none() && own_timeout.is_none() {
                continue;
            }
            match models.iter().find(|m| m.alias == n) {
                Some(m) if m.retries != own_retry || m.timeout_ms != own_timeout => cx.push(
                    Kind::Approx,
                    format!("{}.retry", l.path),
                    "",
                    format!("{n} is also called by another target with other retries or timeout: the first target's are used"),
                ),
                Some(_) => {}
                None => models.push(ModelOut {
                    alias: n.clone(),
                    model: n.clone(),
                    retries: own_retry.clone(),
                    timeout_ms: own_timeout,
                    comment: l.path.clone(),
                    ..Default::default()
                }),
            }
        }
    }
    // override_params.max_tokens → max_output_tokens when every target has the same.
    let mut caps: Vec<Option<f64>> = Vec::new();
    for (_, c) in &max_tokens {
        if !caps.contains(c) {
            caps.push(*c);
        }
    }
    if caps.iter().any(|c| c.is_some()) {
        if caps.len() == 1
            && let Some(Some(c)) = caps.first()
        {
            gateway.push((
                "max_output_tokens".to_string(),
                num(c.max(1.0).round()),
                String::new(),
            ));
            cx.push(
                Kind::Approx,
                "override_params.max_tokens",
                &num(*c),
                "the provider stops at max_tokens; routesim cuts each recorded answer at that many tokens (latency and cost scale down)",
            );
        } else {
            let with: Vec<String> = leaves
                .iter()
                .filter(|l| l.max_tokens.is_some())
                .map(|l| format!("{} ({})", l.path, num(l.max_tokens.expect("some"))))
                .collect();
            cx.push(
                Kind::Unmapped,
                "override_params.max_tokens",
                "",
                format!("set on some targets only ({}): routesim's output cap is the gateway's, so none is applied", with.join(", ")),
            );
        }
    }
    let mut un = std::mem::take(&mut cx.un);
    un.sort_by_key(|u| u.kind);
    un.dedup();
    let policy = PolicyOut {
        intro: vec![
            format!("Imported by `routesim import-config portkey` from {}.", o.file),
            "Conditions read request metadata as meta.<key> (metadata._user → meta.user), parameters as meta.param_<name> (params.model → meta.asked_model).".to_string(),
        ],
        unmapped: un,
        name: o.name.clone(),
        description: format!("Portkey config imported from {}", o.file),
        models,
        gateway,
        rules: out_rules,
        default: default_route,
    };
    Ok(Imported {
        policy,
        pricing: None,
    })
}

/// `cb_config` → `circuit_breaker`.
fn breaker(cx: &mut Cx, cb: &Node, gateway: &mut Vec<(String, String, String)>) {
    let Some(m) = cx.doc.map(cb, "config.cb_config") else {
        return;
    };
    let mut threshold = None;
    let mut cooldown = None;
    let mut on = vec!["5xx"];
    for (k, v) in m {
        let key = format!("config.cb_config.{}", k.name);
        match k.name.as_str() {
            "failure_threshold" => threshold = cx.doc.count(v, &key),
            "cooldown_interval" => cooldown = cx.doc.non_negative(v, &key),
            "failure_status_codes" => {
                if let Some(c) = codes(cx, v, &key) {
                    let (o, wider) = classes_of(&c);
                    for w in wider {
                        cx.push(Kind::Approx, key.clone(), "", w);
                    }
                    on = o;
                }
            }
            _ => cx.push(
                Kind::Unmapped,
                key,
                &v.brief(),
                "not a circuit-breaker setting routesim knows",
            ),
        }
    }
    let (Some(t), Some(c)) = (threshold, cooldown) else {
        cx.doc.err(
            cb,
            "config.cb_config: expected failure_threshold and cooldown_interval",
        );
        return;
    };
    let on: Vec<String> = on.iter().map(|c| format!("\"{c}\"")).collect();
    gateway.push((
        "circuit_breaker".into(),
        format!(
            "{{ failure_threshold = {}, cooldown_ms = {}, on = [{}], half_open_probes = 0 }}",
            t.max(1),
            num(c.max(1.0)),
            on.join(", ")
        ),
        String::new(),
    ));
    cx.push(
        Kind::Approx,
        "config.cb_config",
        "",
        "Portkey's circuit breaker runs in its hosted service (failures counted there); routesim opens after failure_threshold failures of a target, for cooldown_interval",
    );
}
