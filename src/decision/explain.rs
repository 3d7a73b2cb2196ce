//! `routesim explain`: why one request went where it went under one policy.
//!
//! Two parts. [`conditions`] walks each rule's condition as written (the parsed
//! [`Cond`], for names and values) alongside its bound form (the [`BCond`] the engine
//! evaluates, for the result — so the explanation cannot disagree with the
//! simulation), giving one line per test: the request's value, the test, the
//! result. [`Explanation::new`] then adds what the engine's probe saw
//! ([`crate::sim::Simulation::explain`]): the plan, each admission with the gateway
//! state, each call's outcome and what followed, and the final row. Text and JSON
//! renderings live here too (one place for the field names).

use crate::dataset::{Dataset, MetaColumn, ModelId};
use crate::policy::cond::{Cond, MetaOp, MetaValue, NumField, NumTest};
use crate::policy::{Policy, Route};
use crate::sim::Explained;
use crate::sim::bound::{BCond, Bound, eval};
use crate::sim::engine::Admit;
use crate::sim::probe::{BreakerView, GateView, Next, ProbeEvent};
use crate::sim::trace::{DEFAULT_RULE, NONE16, flags};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// One test of a condition, evaluated for the request.
#[derive(Debug, Clone, PartialEq)]
pub struct CondLine {
    /// Nesting depth (0 for a rule's top-level tests).
    pub depth: usize,
    /// What was tested, with the request's value (`input_chars = 52 < 30`).
    pub text: String,
    /// The field tested (`input_chars`, `meta.task`, `any`, …).
    pub field: String,
    /// The request's value (`null` when absent; composites have none).
    pub value: Value,
    /// The test, as written (`< 30`, `in ["a", "b"]`).
    pub test: String,
    /// Whether it held.
    pub result: bool,
}

/// One rule, as tried for the request.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTrial {
    /// Rule name.
    pub rule: String,
    /// Whether the engine tried it (rules after the one taken are not).
    pub tried: bool,
    /// Whether its condition held.
    pub matched: bool,
    /// Its tests.
    pub conditions: Vec<CondLine>,
}

/// Format a number the way policies write them (`30`, `0.5`).
fn n(x: f64) -> String {
    crate::dataset::records::fmt_num(x)
}

/// Milliseconds to 0.1 ms (recorded latencies are f32: no binary noise shown).
fn ms1(x: f64) -> String {
    n((x * 10.0).round() / 10.0)
}

fn num_test_text(t: &NumTest) -> String {
    let mut parts = Vec::new();
    for (op, v) in [
        ("=", t.eq),
        ("≠", t.ne),
        ("<", t.lt),
        ("≤", t.le),
        (">", t.gt),
        ("≥", t.ge),
    ] {
        if let Some(v) = v {
            parts.push(format!("{op} {}", n(v)));
        }
    }
    parts.join(" and ")
}

fn values_text(vs: &[MetaValue]) -> String {
    let q: Vec<String> = vs
        .iter()
        .map(|v| match v {
            MetaValue::Str(s) => format!("{s:?}"),
            other => other.as_text(),
        })
        .collect();
    if q.len() == 1 {
        q[0].clone()
    } else {
        format!("[{}]", q.join(", "))
    }
}

fn meta_op_text(op: &MetaOp) -> String {
    match op {
        MetaOp::In(vs) if vs.len() == 1 => format!("is {}", values_text(vs)),
        MetaOp::In(vs) => format!("in {}", values_text(vs)),
        MetaOp::NotIn(vs) if vs.len() == 1 => format!("is not {}", values_text(vs)),
        MetaOp::NotIn(vs) => format!("not in {}", values_text(vs)),
        MetaOp::Num(t) => num_test_text(t),
        MetaOp::Regex(r) => format!("matches /{}/", r.as_str()),
        MetaOp::Exists(true) => "exists".into(),
        MetaOp::Exists(false) => "is absent".into(),
    }
}

/// A prompt excerpt for explanations (first 40 characters, one line).
fn excerpt(s: &str) -> String {
    let one: String = s.replace(['\n', '\r'], " ");
    if one.chars().count() <= 40 {
        one
    } else {
        format!("{}…", one.chars().take(39).collect::<String>())
    }
}

/// Context of a condition walk.
struct Walk<'a> {
    ds: &'a Dataset,
    r: usize,
    levels: Option<&'a [u8]>,
    level_names: Vec<String>,
    lines: Vec<CondLine>,
}

impl Walk<'_> {
    fn push(
        &mut self,
        depth: usize,
        field: &str,
        value: Value,
        shown: String,
        test: String,
        result: bool,
    ) {
        self.lines.push(CondLine {
            depth,
            text: format!("{field}{shown} {test}"),
            field: field.to_string(),
            value,
            test,
            result,
        });
    }

    fn walk(&mut self, c: &Cond, bc: &BCond, depth: usize) {
        let (ds, r) = (self.ds, self.r);
        let q = &ds.requests;
        let result = eval(bc, ds, r, self.levels);
        match (c, bc) {
            (Cond::Always, _) => self.push(
                depth,
                "no condition",
                Value::Null,
                String::new(),
                "(always)".into(),
                true,
            ),
            (Cond::Num { field, test, .. }, _) => {
                let x = match field {
                    NumField::InputTokens => q.input_tokens[r] as f64,
                    NumField::InputChars => q.input_chars[r] as f64,
                    NumField::Turns => q.turns[r] as f64,
                    NumField::Hour => crate::dataset::time::hour_utc(q.ts_ms[r]) as f64,
                    NumField::Weekday => crate::dataset::time::weekday_utc(q.ts_ms[r]) as f64,
                };
                self.push(
                    depth,
                    field.name(),
                    json!(x),
                    format!(" = {}", n(x)),
                    num_test_text(test),
                    result,
                );
            }
            (Cond::Text(t), _) => {
                let text = q.input.get(r);
                self.push(
                    depth,
                    "input",
                    json!(excerpt(text)),
                    format!(" {:?}", excerpt(text)),
                    t.label.clone(),
                    result,
                );
            }
            (Cond::Meta { key, ops, .. }, _) => {
                let field = format!("meta.{key}");
                let col = q
                    .meta_index(key)
                    .expect("bound conditions name dataset fields");
                let mc: &MetaColumn = &q.meta[col];
                let (value, shown) = match mc.get(r) {
                    Some(v) => (json!(v), format!(" = {v:?}")),
                    None => (Value::Null, " (absent)".to_string()),
                };
                let parts: Vec<&BCond> = match bc {
                    BCond::All(v) if ops.len() > 1 => v.iter().collect(),
                    one => vec![one],
                };
                for (op, part) in ops.iter().zip(parts) {
                    let ok = eval(part, ds, r, self.levels);
                    self.push(
                        depth,
                        &field,
                        value.clone(),
                        shown.clone(),
                        meta_op_text(op),
                        ok,
                    );
                }
            }
            (Cond::Bucket { key, lo, hi, .. }, BCond::Bucket { buckets, .. }) => {
                let b = buckets[r];
                self.push(
                    depth,
                    &format!("bucket of {}", key.label()),
                    json!(b),
                    format!(" = {b}"),
                    format!("in [{lo}, {hi})"),
                    result,
                );
            }
            (Cond::Complexity { levels, .. }, _) => {
                let level = self
                    .levels
                    .and_then(|l| self.level_names.get(l[r] as usize))
                    .cloned()
                    .unwrap_or_default();
                let want: Vec<MetaValue> =
                    levels.iter().map(|l| MetaValue::Str(l.clone())).collect();
                let test = if want.len() == 1 {
                    format!("is {}", values_text(&want))
                } else {
                    format!("in {}", values_text(&want))
                };
                self.push(
                    depth,
                    "complexity",
                    json!(level),
                    format!(" = {level:?}"),
                    test,
                    result,
                );
            }
            (Cond::Any(cs), BCond::Any(bs)) | (Cond::All(cs), BCond::All(bs)) => {
                let name = if matches!(c, Cond::Any(_)) {
                    "any"
                } else {
                    "all"
                };
                let test = if name == "any" {
                    format!("of {} conditions holds", cs.len())
                } else {
                    format!("{} conditions hold", cs.len())
                };
                self.push(depth, name, Value::Null, String::new(), test, result);
                for (c, b) in cs.iter().zip(bs) {
                    self.walk(c, b, depth + 1);
                }
            }
            (Cond::Not(c), BCond::Not(b)) => {
                self.push(
                    depth,
                    "not",
                    Value::Null,
                    String::new(),
                    "(the condition below fails)".into(),
                    result,
                );
                self.walk(c, b, depth + 1);
            }
            // Shapes always match (binding maps one to one); shown plainly otherwise.
            _ => self.push(
                depth,
                "condition",
                Value::Null,
                String::new(),
                String::new(),
                result,
            ),
        }
    }
}

/// Each rule as tried for request `r`: its tests with the request's values and their
/// results, up to the rule taken (later rules are listed as not tried).
pub fn conditions(p: &Policy, b: &Bound, ds: &Dataset, r: usize) -> Vec<RuleTrial> {
    let levels = b.complexity.as_deref();
    let level_names: Vec<String> = p
        .classifier
        .as_ref()
        .map(|c| c.names().into_iter().map(String::from).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut taken = false;
    for (rule, br) in p.rules.iter().zip(&b.rules) {
        let mut w = Walk {
            ds,
            r,
            levels,
            level_names: level_names.clone(),
            lines: Vec::new(),
        };
        // Top-level `all` (several keys in one table) is shown as its parts.
        match (&rule.when, &br.when) {
            (Cond::All(cs), BCond::All(bs)) => {
                for (c, bc) in cs.iter().zip(bs) {
                    w.walk(c, bc, 0);
                }
            }
            (c, bc) => w.walk(c, bc, 0),
        }
        let matched = eval(&br.when, ds, r, levels);
        out.push(RuleTrial {
            rule: rule.name.clone(),
            tried: !taken,
            matched,
            conditions: w.lines,
        });
        taken |= matched;
    }
    out
}

/// Everything `routesim explain` shows.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Request id.
    pub id: String,
    /// Its index in the dataset.
    pub index: usize,
    /// Dataset name.
    pub dataset: String,
    /// Policy name.
    pub policy: String,
    /// Policy file.
    pub file: String,
    /// Whether it ran in the virtual-time engine.
    pub stateful: bool,
    /// The rules as tried.
    pub rules: Vec<RuleTrial>,
    /// The rule taken (`default` for `[default]`).
    pub rule: String,
    /// The route's strategy (`fallback`, `split`, …).
    pub strategy: &'static str,
    /// Model names (index = model id).
    pub models: Vec<String>,
    /// Served-model names (index = served id).
    pub served_models: Vec<String>,
    /// What the engine saw and did.
    pub run: Explained,
    /// Request fields shown (name, value).
    pub fields: Vec<(String, String)>,
}

impl Explanation {
    /// Assemble the explanation of request `r` under policy `p` (`b` bound to `ds`).
    pub fn new(p: &Policy, b: &Bound, ds: &Dataset, r: usize, run: Explained) -> Explanation {
        let rules = conditions(p, b, ds, r);
        let (rule, route): (String, &Route) = match run.row.rule {
            DEFAULT_RULE => ("default".into(), &p.default),
            i => (p.rules[i as usize].name.clone(), &p.rules[i as usize].route),
        };
        let q = &ds.requests;
        let mut fields = vec![
            ("input_tokens".to_string(), q.input_tokens[r].to_string()),
            ("input_chars".to_string(), q.input_chars[r].to_string()),
            ("turns".to_string(), q.turns[r].to_string()),
        ];
        if q.has_timestamps() {
            fields.push(("ts".into(), crate::dataset::time::format_ts(q.ts_ms[r])));
        }
        for m in &q.meta {
            if let Some(v) = m.get(r) {
                fields.push((format!("meta.{}", m.name), v.to_string()));
            }
        }
        Explanation {
            id: q.ids[r].clone(),
            index: r,
            dataset: ds.info.name.clone(),
            policy: p.name.clone(),
            file: p.file.clone(),
            stateful: b.stateful,
            rules,
            rule,
            strategy: route.strategy.kind(),
            models: ds.models.clone(),
            served_models: ds.served_models.clone(),
            run,
            fields,
        }
    }

    fn model(&self, m: ModelId) -> &str {
        if m == NONE16 {
            "(none)"
        } else {
            &self.models[m as usize]
        }
    }

    /// Milliseconds after the request's arrival.
    fn rel(&self, t: f64) -> f64 {
        t - self.run.arrival_ms
    }
}

fn flag_names(f: u32) -> Vec<&'static str> {
    flags::NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// Seconds on the virtual clock, 3 decimals (`120.000 s`).
fn clock(t: f64) -> String {
    format!("{:.3} s", t / 1000.0)
}

fn usd6(x: f64) -> String {
    if x.is_finite() {
        format!("${x:.6}")
    } else {
        "unknown".into()
    }
}

/// `n thing` / `n things`.
fn plural(n: impl std::fmt::Display + PartialEq<u32> + Copy, what: &str) -> String {
    if n == 1 {
        format!("{n} {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The state of a model's mechanisms, one (mechanism, text) part each.
fn state_parts(s: &GateView) -> Vec<(&'static str, String)> {
    let mut parts = Vec::new();
    if let Some(c) = &s.cooldown {
        let mut p = format!(
            "cooldown: {} in the window from {} ({} allowed)",
            plural(c.fails, "failure"),
            clock(c.window_start_ms),
            c.allowed
        );
        if let Some(u) = c.until_ms {
            let _ = write!(p, ", cooling down until {}", clock(u));
        }
        parts.push(("cooldown", p));
    }
    match &s.breaker {
        Some(BreakerView::Closed {
            fails,
            total,
            threshold,
        }) => parts.push((
            "breaker",
            format!(
                "breaker closed ({} in {}; opens above {threshold})",
                plural(*fails, "failure"),
                plural(*total, "call")
            ),
        )),
        Some(BreakerView::Open { until_ms }) => parts.push((
            "breaker",
            format!("breaker open until {}", clock(*until_ms)),
        )),
        Some(BreakerView::HalfOpen { probes_left }) => parts.push((
            "breaker",
            format!("breaker half-open ({} left)", plural(*probes_left, "probe")),
        )),
        None => {}
    }
    if let Some(m) = &s.minute {
        let mut used = Vec::new();
        if let Some((u, limit)) = m.rpm {
            used.push(format!("{u} of {limit} rpm"));
        }
        if let Some((u, limit)) = m.tpm {
            used.push(format!("{u} of {limit} tpm"));
        }
        parts.push((
            "minute",
            format!("minute from {}: {}", clock(m.start_ms), used.join(", ")),
        ));
    }
    if let Some((inf, max, queued)) = s.concurrency {
        parts.push((
            "concurrency",
            format!("{inf} of {max} calls in flight, {queued} queued"),
        ));
    }
    if let Some(l) = s.latency {
        parts.push((
            "latency",
            format!(
                "latency {} ms per output token",
                n((l * 1000.0).round() / 1000.0)
            ),
        ));
    }
    parts
}

fn state_text(s: &GateView) -> String {
    let parts = state_parts(s);
    if parts.is_empty() {
        "no gateway state".into()
    } else {
        parts
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The parts of `after` that differ from `before` (what the call's end changed).
fn changed_text(before: Option<&GateView>, after: &GateView) -> String {
    let old = before.map(state_parts).unwrap_or_default();
    state_parts(after)
        .into_iter()
        .filter(|p| !old.contains(p))
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("; ")
}

fn admit_text(a: &Admit) -> String {
    match a {
        Admit::Go { .. } => "call".into(),
        Admit::Skip { flag } if *flag == flags::COOLDOWN_SKIP => "skip (cooling down)".into(),
        Admit::Skip { flag } if *flag == flags::BREAKER_SKIP => "skip (circuit open)".into(),
        Admit::Skip { .. } => "skip".into(),
        Admit::Reject { status, .. } => format!("refused by the gateway ({status}, rate limit)"),
        Admit::Park => "wait for a free slot (max_concurrency)".into(),
    }
}

fn admit_name(a: &Admit) -> &'static str {
    match a {
        Admit::Go { .. } => "call",
        Admit::Skip { flag } if *flag == flags::COOLDOWN_SKIP => "skip_cooldown",
        Admit::Skip { flag } if *flag == flags::BREAKER_SKIP => "skip_breaker",
        Admit::Skip { .. } => "skip",
        Admit::Reject { .. } => "reject_rate_limit",
        Admit::Park => "queue",
    }
}

fn next_text(next: &Next, e: &Explanation) -> String {
    match next {
        Next::Retry { at_ms } => format!("retry at +{} ms", ms1(e.rel(*at_ms))),
        Next::Fallback => "fall back to the next model".into(),
        Next::Escalate => "not accepted: escalate to the next model".into(),
        Next::Done => "done".into(),
    }
}

fn next_name(next: &Next) -> &'static str {
    match next {
        Next::Retry { .. } => "retry",
        Next::Fallback => "fallback",
        Next::Escalate => "escalate",
        Next::Done => "done",
    }
}

impl Explanation {
    /// The text `routesim explain` prints.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let row = &self.run.row;
        let _ = writeln!(
            s,
            "request \"{}\" (#{} of {}) under policy \"{}\" ({}{})",
            self.id,
            self.index + 1,
            self.dataset,
            self.policy,
            if self.file.is_empty() {
                "baseline"
            } else {
                &self.file
            },
            if self.stateful { ", stateful" } else { "" }
        );
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(s, "  {}", fields.join(", "));
        let _ = writeln!(
            s,
            "  arrives at {} on the simulated clock",
            clock(self.run.arrival_ms)
        );
        let _ = writeln!(s, "\nrules, in order:");
        if self.rules.is_empty() {
            let _ = writeln!(s, "  (none)");
        }
        for (i, t) in self.rules.iter().enumerate() {
            let verdict = match (t.tried, t.matched) {
                (false, _) => "not tried (an earlier rule was taken)",
                (true, true) => "taken",
                (true, false) => "not taken",
            };
            let _ = writeln!(s, "  {}. {} → {verdict}", i + 1, t.rule);
            for c in &t.conditions {
                let _ = writeln!(
                    s,
                    "     {}{}? {}",
                    "  ".repeat(c.depth),
                    c.text,
                    if c.result { "yes" } else { "no" }
                );
            }
        }
        let _ = writeln!(
            s,
            "  {}",
            if self.rule == "default" {
                "[default] → taken"
            } else {
                "[default] → not reached"
            }
        );
        let _ = writeln!(
            s,
            "\nroute of {}: {}",
            if self.rule == "default" {
                "[default]".to_string()
            } else {
                format!("rule \"{}\"", self.rule)
            },
            self.strategy
        );
        let _ = writeln!(s, "\nsteps (times after arrival):");
        let mut last_state: Option<&GateView> = None;
        for e in &self.run.events {
            match e {
                ProbeEvent::Arrival { cache, budgets, .. } => {
                    let mut parts = Vec::new();
                    if let Some(c) = cache {
                        parts.push(match (c.entry, c.hit) {
                            (Some((m, exp)), true) => format!(
                                "cache hit (answer of {} stored until {})",
                                self.model(m),
                                clock(exp)
                            ),
                            (Some((_, exp)), false) => {
                                format!("cache miss (the stored answer expired at {})", clock(exp))
                            }
                            (None, _) => "cache miss (nothing stored for this input)".into(),
                        });
                    }
                    for (i, bd) in budgets.iter().enumerate() {
                        let over = match bd.downgrade {
                            Some(m) => format!("when exceeded: route to {}", self.model(m)),
                            None => "when exceeded: reject".into(),
                        };
                        parts.push(format!(
                            "budget {}: {} of {} spent in the period from {} ({over})",
                            i + 1,
                            usd6(bd.spent_usd),
                            usd6(bd.limit_usd),
                            clock(bd.period_start_ms)
                        ));
                    }
                    if parts.is_empty() {
                        parts.push("no cache, no budget".into());
                    }
                    let _ = writeln!(s, "  at arrival: {}", parts.join("; "));
                }
                ProbeEvent::Plan { models } => {
                    let names: Vec<&str> = models.iter().map(|&m| self.model(m)).collect();
                    let _ = writeln!(s, "  plan: {}", names.join(" → "));
                }
                ProbeEvent::Admit {
                    t,
                    model,
                    admit,
                    state,
                } => {
                    last_state = Some(state);
                    let _ = writeln!(
                        s,
                        "  +{} ms {}: {} → {}",
                        ms1(self.rel(*t)),
                        self.model(*model),
                        state_text(state),
                        admit_text(admit)
                    );
                }
                ProbeEvent::ContextRefused {
                    t,
                    model,
                    input_tokens,
                    window,
                } => {
                    let _ = writeln!(
                        s,
                        "  +{} ms {}: refused without a call, the prompt's {input_tokens} tokens exceed its context window of {window}",
                        ms1(self.rel(*t)),
                        self.model(*model)
                    );
                }
                ProbeEvent::CallEnd { call, next, after } => {
                    let o = &call.outcome;
                    let what = if call.admitted {
                        format!(
                            "{} after {} ms, {}",
                            o.status,
                            ms1(o.latency_ms),
                            usd6(o.cost_usd)
                        )
                    } else {
                        format!("{} without a call", o.status)
                    };
                    let quality = if o.quality.is_finite() {
                        format!(", quality {:.3}", o.quality)
                    } else {
                        String::new()
                    };
                    let state = match after {
                        Some(v) => match changed_text(last_state, v) {
                            t if t.is_empty() => String::new(),
                            t => format!("; now {t}"),
                        },
                        None => String::new(),
                    };
                    let _ = writeln!(
                        s,
                        "     {} → {what}{quality}{state} → {}",
                        self.model(o.model),
                        next_text(next, self)
                    );
                }
            }
        }
        let answered = if row.served != NONE16 {
            format!(
                "{} (served by {})",
                self.model(row.model),
                self.served_models[row.served as usize]
            )
        } else {
            self.model(row.model).to_string()
        };
        let quality = if row.quality.is_finite() {
            format!("{:.3}", row.quality)
        } else {
            "—".into()
        };
        let fl = flag_names(row.flags);
        let _ = writeln!(
            s,
            "\noutcome: {} from {answered} after {}; cost {}; latency {} ms; quality {quality}{}",
            row.status,
            plural(row.attempts as u32, "call"),
            usd6(row.cost_usd),
            ms1(row.latency_ms),
            if fl.is_empty() {
                String::new()
            } else {
                format!("; {}", fl.join(", "))
            }
        );
        s
    }

    /// The same as JSON (field names documented in the README).
    pub fn json(&self) -> Value {
        let row = &self.run.row;
        let num = super::diff::num;
        let state = |v: &GateView| -> Value {
            json!({
                "cooldown": v.cooldown.map(|c| json!({
                    "fails": c.fails, "allowed": c.allowed,
                    "window_start_ms": num(c.window_start_ms),
                    "cooling_until_ms": c.until_ms.map(num),
                })),
                "breaker": v.breaker.map(|b| match b {
                    BreakerView::Closed { fails, total, threshold } => json!({"state": "closed", "fails": fails, "calls": total, "threshold": threshold}),
                    BreakerView::Open { until_ms } => json!({"state": "open", "until_ms": num(until_ms)}),
                    BreakerView::HalfOpen { probes_left } => json!({"state": "half_open", "probes_left": probes_left}),
                }),
                "rate_limit": v.minute.map(|m| json!({
                    "minute_start_ms": num(m.start_ms),
                    "rpm_used": m.rpm.map(|x| x.0), "rpm_limit": m.rpm.map(|x| x.1),
                    "tpm_used": m.tpm.map(|x| x.0), "tpm_limit": m.tpm.map(|x| x.1),
                })),
                "concurrency": v.concurrency.map(|(i, m, q)| json!({"in_flight": i, "max": m, "queued": q})),
                "in_flight": v.in_flight,
                "latency_per_token_ms": v.latency.map(num),
            })
        };
        let steps: Vec<Value> = self
            .run
            .events
            .iter()
            .map(|e| match e {
                ProbeEvent::Arrival { t, cache, budgets } => json!({
                    "kind": "arrival",
                    "clock_ms": num(*t),
                    "cache": cache.map(|c| json!({
                        "stored": c.entry.is_some(),
                        "hit": c.hit,
                        "model": c.entry.map(|(m, _)| self.model(m).to_string()),
                        "expires_ms": c.entry.map(|(_, x)| num(x)),
                    })),
                    "budgets": budgets.iter().map(|b| json!({
                        "limit_usd": num(b.limit_usd),
                        "spent_usd": num(b.spent_usd),
                        "period_ms": num(b.period_ms),
                        "period_start_ms": num(b.period_start_ms),
                        "when_exceeded": b.downgrade.map(|m| self.model(m).to_string()).unwrap_or_else(|| "reject".into()),
                    })).collect::<Vec<_>>(),
                }),
                ProbeEvent::Plan { models } => json!({
                    "kind": "plan",
                    "models": models.iter().map(|&m| self.model(m)).collect::<Vec<_>>(),
                }),
                ProbeEvent::Admit { t, model, admit, state: st } => json!({
                    "kind": "admit",
                    "at_ms": num(self.rel(*t)),
                    "model": self.model(*model),
                    "decision": admit_name(admit),
                    "state": state(st),
                }),
                ProbeEvent::ContextRefused { t, model, input_tokens, window } => json!({
                    "kind": "context_refused",
                    "at_ms": num(self.rel(*t)),
                    "model": self.model(*model),
                    "input_tokens": input_tokens,
                    "context_window": window,
                }),
                ProbeEvent::CallEnd { call, next, after } => {
                    let o = &call.outcome;
                    json!({
                        "kind": "call",
                        "model": self.model(o.model),
                        "called": call.admitted,
                        "start_ms": num(self.rel(call.start)),
                        "latency_ms": num(o.latency_ms),
                        "status": o.status.to_string(),
                        "cost_usd": num(o.cost_usd),
                        "quality": num(o.quality),
                        "next": next_name(next),
                        "retry_at_ms": match next { Next::Retry { at_ms } => num(self.rel(*at_ms)), _ => Value::Null },
                        "state_after": after.as_ref().map(state),
                    })
                }
            })
            .collect();
        json!({
            "request": {
                "id": self.id,
                "index": self.index,
                "arrival_ms": num(self.run.arrival_ms),
                "fields": self.fields.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
            },
            "dataset": self.dataset,
            "policy": {"name": self.policy, "file": self.file, "stateful": self.stateful},
            "rules": self.rules.iter().map(|t| json!({
                "rule": t.rule,
                "tried": t.tried,
                "matched": t.matched,
                "conditions": t.conditions.iter().map(|c| json!({
                    "depth": c.depth, "field": c.field, "value": c.value, "test": c.test, "result": c.result,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "rule": self.rule,
            "strategy": self.strategy,
            "steps": steps,
            "outcome": {
                "status": row.status.to_string(),
                "model": self.model(row.model),
                "served_model": (row.served != NONE16).then(|| self.served_models[row.served as usize].clone()),
                "calls": row.attempts,
                "cost_usd": num(row.cost_usd),
                "latency_ms": num(row.latency_ms),
                "ttft_ms": num(row.ttft_ms as f64),
                "quality": num(row.quality),
                "flags": flag_names(row.flags),
            },
        })
    }
}
