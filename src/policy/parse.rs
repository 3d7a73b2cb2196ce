//! Policy files: top-level structure and cross-checks (rule names, tiers, levels).

use super::cond::{Cond, parse_cond};
use super::gateway::{Gateway, parse_gateway, parse_retries, parse_scenario};
use super::route::{MAX_PLAN, Route, Strategy, TierSelect, model_refs, parse_route};
use super::{Classifier, Deployment, ModelRef, Policy, PolicyKind, Rule};
use crate::error::{Diagnostic, InputError, display_path};
use crate::tomlx::{Span, Table, TomlDoc, get, key_span};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::de::DeValue;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "models",
    "gateway",
    "classifier",
    "tiers",
    "estimate",
    "rule",
    "default",
    "scenario",
    "sweep",
];

/// Read and check a policy file.
pub fn load(path: &Path) -> Result<Policy, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "policy".into());
    parse(&display_path(path), &text, &stem)
}

/// Read several policy files, reporting the problems of all of them together, and
/// checking that names are unique.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Policy>, InputError> {
    let (out, diags) = load_all_partial(paths);
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(InputError::new(diags))
    }
}

/// Like [`load_all`], but also returns the policies that did parse (so callers can
/// check them further and report everything in one go).
pub fn load_all_partial(paths: &[PathBuf]) -> (Vec<Policy>, Vec<Diagnostic>) {
    let mut out: Vec<Policy> = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        match load(p) {
            Ok(pol) => {
                if let Some(prev) = out.iter().find(|q| q.name == pol.name) {
                    diags.push(Diagnostic::file(
                        &pol.file,
                        format!(
                            "policy name \"{}\" is already used by {}; names must be unique",
                            pol.name, prev.file
                        ),
                    ));
                } else {
                    out.push(pol);
                }
            }
            Err(e) => diags.extend(e.diagnostics),
        }
    }
    (out, diags)
}

/// Parse a policy from text; `default_name` is used when the file has no `name`.
/// Each section has its own reader; cross-section checks are named passes; every
/// problem of the file is reported together.
pub fn parse(file: &str, text: &str, default_name: &str) -> Result<Policy, InputError> {
    let (mut doc, root_sp) = TomlDoc::parse(file, text);
    let syntax_errors = doc.has_errors();
    let root = root_sp.get_ref();
    doc.check_keys(root, TOP_KEYS, "a policy file");
    let name = read_name(&mut doc, root, default_name);
    let description = get(root, "description")
        .and_then(|v| doc.string(v, "description"))
        .unwrap_or_default();
    let deployments = read_models(&mut doc, root);
    let gateway = match get(root, "gateway") {
        Some(v) => parse_gateway(&mut doc, v),
        None => Gateway::default(),
    };
    let tiers = read_tiers(&mut doc, root);
    let folds = read_estimate(&mut doc, root);
    let mut classifier = read_classifier(&mut doc, root);
    let rules = read_rules(&mut doc, root, text);
    let default = read_default(&mut doc, root, syntax_errors);
    let scenarios = read_scenarios(&mut doc, root);

    // Cross-section checks.
    if rules.iter().any(|r| r.when.uses_complexity()) && classifier.is_none() {
        classifier = Some(Classifier::seed_default());
    }
    check_complexity_levels(&mut doc, &rules, classifier.as_ref());
    let all_routes: Vec<&Route> = rules
        .iter()
        .map(|r| &r.route)
        .chain(default.iter())
        .collect();
    for r in &all_routes {
        check_route(&mut doc, r, &tiers);
    }

    let Some(default) = default else {
        // A missing or broken [default] has been reported (or a syntax error has).
        if doc.diags.is_empty() {
            doc.err(0..0, "missing [default] route");
        }
        return Err(InputError::new(doc.diags));
    };
    let name_span = get(root, "name").map(|v| v.span()).unwrap_or(0..0);
    doc.finish(Policy {
        name,
        description,
        kind: PolicyKind::User,
        file: file.to_string(),
        name_span,
        source: Arc::from(text),
        deployments,
        gateway,
        classifier,
        tiers,
        folds,
        rules,
        default,
        scenarios,
    })
}

/// `name` (default: the file's stem).
fn read_name(doc: &mut TomlDoc, root: &Table, default_name: &str) -> String {
    let name = get(root, "name")
        .and_then(|v| doc.string(v, "name"))
        .unwrap_or_else(|| default_name.to_string());
    if name.trim().is_empty() || name.contains(['/', '\\', ',']) {
        let span = key_span(root, "name").unwrap_or(0..0);
        doc.err(
            span,
            "name: expected a non-empty name without '/', '\\' or ','",
        );
    }
    name
}

/// `[models]`: aliases, with per-deployment limits.
fn read_models(doc: &mut TomlDoc, root: &Table) -> Vec<Deployment> {
    let mut deployments = Vec::new();
    if let Some(v) = get(root, "models")
        && let Some(t) = doc.table(v, "models")
    {
        for (k, val) in t.iter() {
            let alias = k.get_ref().to_string();
            match val.get_ref() {
                DeValue::String(s) => deployments.push(Deployment {
                    alias,
                    model: s.to_string(),
                    span: val.span(),
                    ..Default::default()
                }),
                DeValue::Table(dt) => {
                    doc.check_keys(
                        dt,
                        &[
                            "model",
                            "rpm",
                            "tpm",
                            "max_concurrency",
                            "retries",
                            "timeout_ms",
                        ],
                        &format!("models.{alias}"),
                    );
                    let Some(mv) = get(dt, "model") else {
                        doc.err(val.span(), format!("models.{alias}: missing `model`"));
                        continue;
                    };
                    let Some(model) = doc.string(mv, "model") else {
                        continue;
                    };
                    let limit = |doc: &mut TomlDoc, key: &str| -> Option<u64> {
                        let x = get(dt, key)?;
                        match doc.uint(x, key)? {
                            0 => {
                                doc.err(x.span(), format!("{key}: expected at least 1"));
                                None
                            }
                            n => Some(n),
                        }
                    };
                    let rpm = limit(doc, "rpm").map(|n| n.min(u32::MAX as u64) as u32);
                    let tpm = limit(doc, "tpm");
                    let max_concurrency =
                        limit(doc, "max_concurrency").map(|n| n.min(u32::MAX as u64) as u32);
                    let retries = get(dt, "retries").map(|x| parse_retries(doc, x));
                    let timeout_ms = get(dt, "timeout_ms")
                        .and_then(|x| doc.positive(x, &format!("models.{alias}.timeout_ms")));
                    deployments.push(Deployment {
                        alias,
                        model,
                        span: mv.span(),
                        rpm,
                        tpm,
                        max_concurrency,
                        retries,
                        timeout_ms,
                    });
                }
                _ => doc.err(
                    val.span(),
                    format!(
                        "models.{alias}: expected a model name or {{ model = \"…\", rpm = … }}"
                    ),
                ),
            }
        }
    }
    deployments
}

/// `[tiers]`: named groups of models.
fn read_tiers(doc: &mut TomlDoc, root: &Table) -> Vec<(String, Vec<ModelRef>)> {
    let mut tiers: Vec<(String, Vec<ModelRef>)> = Vec::new();
    if let Some(v) = get(root, "tiers")
        && let Some(t) = doc.table(v, "tiers")
    {
        for (k, val) in t.iter() {
            if let Some(ms) = model_refs(doc, val, &format!("tiers.{}", k.get_ref())) {
                if ms.is_empty() {
                    doc.err(
                        val.span(),
                        format!("tiers.{}: expected at least one model", k.get_ref()),
                    );
                }
                tiers.push((k.get_ref().to_string(), ms));
            }
        }
    }
    tiers
}

/// `[estimate]`: cross-fitting folds (0 = leave-one-out).
fn read_estimate(doc: &mut TomlDoc, root: &Table) -> u32 {
    let mut folds = 5u32;
    if let Some(v) = get(root, "estimate")
        && let Some(t) = doc.table(v, "estimate")
    {
        doc.check_keys(t, &["folds"], "[estimate]");
        if let Some(f) = get(t, "folds") {
            if let DeValue::String(s) = f.get_ref() {
                if s.as_ref() == "loo" {
                    folds = 0;
                } else {
                    doc.err(f.span(), format!("estimate.folds: expected 2 to 20 or \"loo\" (leave-one-out), found \"{s}\""));
                }
            } else if let Some(n) = doc.uint(f, "estimate.folds") {
                if (2..=20).contains(&n) {
                    folds = n as u32;
                } else {
                    doc.err(f.span(), "estimate.folds: expected 2 to 20, or \"loo\"");
                }
            }
        }
    }
    folds
}

/// `[classifier]`: named complexity levels.
fn read_classifier(doc: &mut TomlDoc, root: &Table) -> Option<Classifier> {
    let mut classifier = None;
    if let Some(v) = get(root, "classifier")
        && let Some(t) = doc.table(v, "classifier")
    {
        doc.check_keys(t, &["level", "default"], "[classifier]");
        let mut levels = Vec::new();
        if let Some(lv) = get(t, "level")
            && let Some(items) = doc.array(lv, "classifier.level")
        {
            for it in items {
                let Some(lt) = doc.table(it, "classifier.level") else {
                    continue;
                };
                doc.check_keys(lt, &["name", "when"], "[[classifier.level]]");
                let lname = get(lt, "name").and_then(|n| doc.string(n, "name"));
                let cond = match get(lt, "when") {
                    Some(w) => parse_cond(doc, w, "when"),
                    None => {
                        doc.err(it.span(), "[[classifier.level]]: missing `when`");
                        None
                    }
                };
                match (lname, cond) {
                    (Some(n), Some(c)) => levels.push((n, c)),
                    (None, _) => doc.err(it.span(), "[[classifier.level]]: missing `name`"),
                    _ => {}
                }
            }
        }
        let default_level = get(t, "default")
            .and_then(|d| doc.string(d, "classifier.default"))
            .unwrap_or_else(|| "default".into());
        classifier = Some(Classifier {
            levels,
            default_level,
        });
    }
    classifier
}

/// `[[rule]]`s in order; a repeated rule name is an error at the second one.
fn read_rules(doc: &mut TomlDoc, root: &Table, text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut rule_names: Vec<(String, Span)> = Vec::new();
    if let Some(v) = get(root, "rule") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    let Some(t) = doc.table(it, "rule") else {
                        continue;
                    };
                    doc.check_keys(t, &["name", "description", "when", "route"], "[[rule]]");
                    let rname = get(t, "name")
                        .and_then(|n| doc.string(n, "rule.name"))
                        .unwrap_or_else(|| format!("rule-{}", i + 1));
                    if let Some(d) = get(t, "description") {
                        doc.string(d, "rule.description");
                    }
                    let when = match get(t, "when") {
                        Some(w) => parse_cond(doc, w, "when"),
                        None => Some(Cond::Always),
                    };
                    let route = match get(t, "route") {
                        Some(r) => parse_route(doc, r, "route"),
                        None => {
                            doc.err(it.span(), format!("rule \"{rname}\": missing `route`"));
                            None
                        }
                    };
                    if let Some((_, prev)) = rule_names.iter().find(|(n, _)| *n == rname) {
                        let (line, _) = crate::error::line_col(text, prev.start);
                        doc.err(
                            it.span(),
                            format!("rule name \"{rname}\" already used on line {line}"),
                        );
                    }
                    rule_names.push((rname.clone(), it.span()));
                    if let (Some(when), Some(route)) = (when, route) {
                        rules.push(Rule {
                            name: rname,
                            when,
                            route,
                        });
                    }
                }
            }
            _ => doc.err(v.span(), "rule: expected [[rule]] tables"),
        }
    }
    rules
}

/// `[default]`: the route when no rule matches (required).
fn read_default(doc: &mut TomlDoc, root: &Table, syntax_errors: bool) -> Option<Route> {
    match get(root, "default") {
        Some(v) => match doc.table(v, "default") {
            Some(t) => {
                doc.check_keys(t, &["route"], "[default]");
                match get(t, "route") {
                    Some(r) => parse_route(doc, r, "default route"),
                    None => {
                        doc.err(v.span(), "[default]: missing `route`");
                        None
                    }
                }
            }
            None => None,
        },
        None => {
            if !syntax_errors {
                doc.err(0..0, "missing [default] route (used when no rule matches), e.g.\n[default]\nroute = \"openai/gpt-4o-mini\"");
            }
            None
        }
    }
}

/// `[[scenario]]`: what-ifs.
fn read_scenarios(doc: &mut TomlDoc, root: &Table) -> Vec<crate::policy::Scenario> {
    let mut scenarios = Vec::new();
    if let Some(v) = get(root, "scenario") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for it in items.iter() {
                    if let Some(s) = parse_scenario(doc, it) {
                        scenarios.push(s);
                    }
                }
            }
            _ => doc.err(v.span(), "scenario: expected [[scenario]] tables"),
        }
    }
    scenarios
}

/// Check pass: every `complexity` condition names a level of the classifier.
fn check_complexity_levels(doc: &mut TomlDoc, rules: &[Rule], classifier: Option<&Classifier>) {
    if let Some(c) = classifier {
        let names = c.names();
        for r in rules {
            check_levels(doc, &r.when, &names);
        }
    }
}

fn check_levels(doc: &mut TomlDoc, c: &Cond, names: &[&str]) {
    match c {
        Cond::Complexity { levels, span } => {
            for l in levels {
                if !names.contains(&l.as_str()) {
                    doc.err(
                        span.clone(),
                        format!(
                            "complexity \"{l}\" is not a level of [classifier] (levels: {})",
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        Cond::Any(v) | Cond::All(v) => v.iter().for_each(|x| check_levels(doc, x, names)),
        Cond::Not(x) => check_levels(doc, x, names),
        _ => {}
    }
}

fn check_route(doc: &mut TomlDoc, r: &Route, tiers: &[(String, Vec<ModelRef>)]) {
    let tier_names: Vec<&str> = tiers.iter().map(|(n, _)| n.as_str()).collect();
    let check_tier = |doc: &mut TomlDoc, name: &str, span: &Span| {
        if !tier_names.contains(&name) {
            let hint = if tier_names.is_empty() {
                "the policy has no [tiers] table".to_string()
            } else {
                format!("tiers: {}", tier_names.join(", "))
            };
            doc.err(span.clone(), format!("unknown tier \"{name}\" ({hint})"));
        }
    };
    let len = match &r.strategy {
        Strategy::Tier(TierSelect::Fixed(name, span)) => {
            check_tier(doc, name, span);
            tiers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, m)| m.len())
                .unwrap_or(1)
        }
        Strategy::Tier(TierSelect::ByKey {
            default, span, map, ..
        }) => {
            check_tier(doc, default, span);
            for (_, tier, tspan) in map {
                check_tier(doc, tier, tspan);
            }
            tiers.iter().map(|(_, m)| m.len()).max().unwrap_or(1)
        }
        Strategy::Fallback(v) => v.len(),
        Strategy::Cascade { chain, .. } => chain.len(),
        Strategy::Shuffle { models, .. } => models.len(),
        _ => 1,
    };
    if len + r.fallbacks.len() > MAX_PLAN {
        doc.err(
            r.span.clone(),
            format!(
                "this route can try {} models; at most {MAX_PLAN}",
                len + r.fallbacks.len()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESIGN_EXAMPLE: &str = r#"
name = "seed-hybrid"
description = "cheap for short prompts, fallback chain for analysis, A/B on coding"

[models]
mini   = "openai/gpt-4o-mini"
sonnet = { model = "anthropic/claude-3-5-sonnet", rpm = 500, tpm = 400_000, max_concurrency = 64 }

[gateway]
timeout_ms = 30_000
retries    = { max = 2, backoff_ms = 500, multiplier = 2.0, on = ["429", "5xx", "timeout"] }
max_output_tokens = 500
cooldown   = { allowed_fails = 3, window_s = 60, cooldown_s = 5 }
cache      = { kind = "exact", ttl_s = 3600 }
budget     = { limit_usd = 100, period = "30d", per = "meta.tenant", when_exceeded = { route = "mini" } }

[[rule]]
name = "short"
when = { input_chars = { lt = 50 } }
route = "mini"

[[rule]]
name = "analysis"
when.any = [ { input = { contains = "explain" } }, { input = { contains = "analyze" } } ]
route.fallback = ["sonnet", "openai/gpt-4o", "google/gemini-1.5-pro"]

[[rule]]
name = "coding-ab"
when = { meta.task = "coding" }
route.split = { sonnet = 50, "openai/gpt-4o" = 50 }
route.sticky = "meta.user_id"

[default]
route.best = { candidates = ["mini", "sonnet"], maximize = "quality", max_cost_usd = 0.01, max_latency_ms = 4000 }
"#;

    #[test]
    fn parses_the_design_example() {
        let p = parse("design.toml", DESIGN_EXAMPLE, "x").unwrap();
        assert_eq!(p.name, "seed-hybrid");
        assert_eq!(p.rules.len(), 3);
        assert_eq!(p.deployments[1].rpm, Some(500));
        assert_eq!(p.gateway.retries.max, 2);
        assert_eq!(p.gateway.budgets[0].period_s, 30.0 * 86400.0);
        assert!(matches!(p.default.strategy, Strategy::Best { .. }));
        assert!(p.is_stateful());
    }

    #[test]
    fn deployments_may_set_their_own_retries_and_timeout() {
        let src = "[models]\na = { model = \"m\", retries = { max = 1, on = [\"429\"] }, timeout_ms = 60000 }\nb = { model = \"n\", retries = 2 }\nc = { model = \"o\", timeout_ms = 0 }\n[default]\nroute = \"a\"\n";
        let e = parse("p.toml", src, "p").unwrap_err().to_string();
        assert_eq!(
            e,
            "p.toml:4:33: models.c.timeout_ms: expected a positive number, found 0"
        );
        let p = parse(
            "p.toml",
            &src.replace("timeout_ms = 0", "timeout_ms = 5"),
            "p",
        )
        .unwrap();
        let a = &p.deployments[0];
        let r = a.retries.as_ref().unwrap();
        assert_eq!((r.max, r.on), (1, crate::dataset::StatusClass::RATE_LIMIT));
        assert_eq!(a.timeout_ms, Some(60000.0));
        assert_eq!(p.deployments[1].retries.as_ref().unwrap().max, 2);
        assert_eq!(p.deployments[1].timeout_ms, None);
    }

    #[test]
    fn reports_all_errors_at_once_with_positions() {
        let src = r#"name = "bad"
colour = "red"
[gateway]
timeout = 5
[[rule]]
name = "a"
when = { input = { regex = "(" } }
route.split = { x = 0, y = 2 }
[[rule]]
name = "a"
route = "m"
"#;
        let e = parse("bad.toml", src, "bad").unwrap_err();
        let msgs: Vec<String> = e.diagnostics.iter().map(|d| d.to_string()).collect();
        let want = [
            "bad.toml:2:1: unknown key \"colour\"",
            "bad.toml:4:1: unknown key \"timeout\" in [gateway]; did you mean \"timeout_ms\"?",
            "bad.toml:7:28: invalid regular expression: error: unclosed group",
            "bad.toml:8:21: split weight of \"x\": expected a positive number, found 0",
            "rule name \"a\" already used on line 5",
            "missing [default] route",
        ];
        for w in want {
            assert!(
                msgs.iter().any(|m| m.contains(w)),
                "missing {w:?} in {msgs:#?}"
            );
        }
    }
}
