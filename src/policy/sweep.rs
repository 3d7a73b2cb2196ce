//! Parameter sweeps: one policy run at several values of its numeric settings.
//!
//! A sweep names a numeric value of a policy file by its TOML path — tables by key,
//! arrays of tables by their `name` (`rule.<name>`, `classifier.level.<name>`) or by
//! index — and gives the values to try (`start:stop:step`, inclusive, or a list
//! `a,b,c`). Sweeps come from `--sweep 'POLICY:PATH=VALUES'` or from `[[sweep]]`
//! tables of the policy file; several sweeps of one policy form the grid of their
//! values. Each value is written into the policy's *text* at the span of the value it
//! replaces and the text is parsed again, so every numeric field works and every
//! error keeps its file:line:col. A variant is named `name[path=value]`
//! (`name[p1=v1,p2=v2]` for a grid); [`base_name`] and [`curves`] recover the sweeps
//! from the names (a report re-rendered from its trace still draws them). This module
//! stops at policies: simulating and drawing the variants is the run's business.

use super::Policy;
use crate::error::{Diagnostic, suggest};
use crate::tomlx::{Span, Table, TomlDoc, get, type_name};
use toml::de::DeValue;

/// At most this many variants per policy (a grid grows fast).
pub const MAX_VARIANTS: usize = 1000;

/// One value of a sweep: the number and how it is written in names.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepValue {
    /// The number.
    pub x: f64,
    /// Its stable, readable text (`20`, `0.25`): the same for the same input.
    pub text: String,
}

/// Where a sweep was given (for error messages).
#[derive(Debug, Clone, PartialEq)]
pub enum SweepOrigin {
    /// On the command line: the flag and its text (`--sweep 'p:a.b=1,2'`).
    Cli(String),
    /// A `[[sweep]]` table: the span of its `param` value in the policy file.
    File(Span),
}

/// One swept parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The path as written (used in the variants' names).
    pub path: String,
    /// Values in sweep order.
    pub values: Vec<SweepValue>,
    /// Where it was given.
    pub origin: SweepOrigin,
}

/// The value a path names in a policy's text.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Byte span of the value.
    pub span: Span,
    /// Whether the file writes it as an integer.
    pub integer: bool,
    /// The full path with names (`rule.short.when.input_chars.lt`).
    pub canonical: String,
}

/// One setting of a variant: the path, the value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The path as the user wrote it.
    pub path: String,
    /// The value.
    pub value: SweepValue,
    /// The value it replaces in the file.
    pub target: Target,
}

/// A policy at one point of its sweep.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The policy, named `base[path=value,…]`.
    pub policy: Policy,
    /// Its settings, one per swept path.
    pub settings: Vec<Setting>,
}

/// Parse `start:stop:step` (inclusive) or a list `a,b,c` into values.
pub fn parse_values(text: &str) -> Result<Vec<SweepValue>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected values: start:stop:step or a list a,b,c".into());
    }
    if text.contains(':') {
        let parts: Vec<&str> = text.split(':').map(str::trim).collect();
        if parts.len() != 3 {
            return Err(format!(
                "expected start:stop:step (three numbers), found \"{text}\""
            ));
        }
        let num = |s: &str, what: &str| -> Result<f64, String> {
            match s.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(format!("{what}: expected a number, found \"{s}\"")),
            }
        };
        let (a, b, s) = (
            num(parts[0], "start")?,
            num(parts[1], "stop")?,
            num(parts[2], "step")?,
        );
        let decimals = parts.iter().map(|p| decimals_of(p)).max().unwrap_or(0);
        range(a, b, s, decimals)
    } else {
        let mut out = Vec::new();
        for item in text.split(',') {
            let item = item.trim();
            match item.parse::<f64>() {
                Ok(x) if x.is_finite() => out.push(value_of(x)),
                _ => return Err(format!("expected a number, found \"{item}\" in \"{text}\"")),
            }
        }
        check_distinct(&out)?;
        Ok(out)
    }
}

/// The values from `start` to `stop` (inclusive) by `step`, rounded to `decimals`
/// places (so 0.1 + 0.2 is written 0.3).
pub fn range(start: f64, stop: f64, step: f64, decimals: usize) -> Result<Vec<SweepValue>, String> {
    if step == 0.0 || (stop - start) * step < 0.0 {
        return Err(format!(
            "step {step} does not lead from {start} to {stop} (it must be non-zero and point towards stop)"
        ));
    }
    let n = ((stop - start) / step + 1e-9).floor() as usize + 1;
    if n > MAX_VARIANTS {
        return Err(format!(
            "{start}:{stop}:{step} gives {n} values; at most {MAX_VARIANTS}"
        ));
    }
    let scale = 10f64.powi(decimals.min(12) as i32);
    let out: Vec<SweepValue> = (0..n)
        .map(|i| {
            let x = ((start + i as f64 * step) * scale).round() / scale;
            SweepValue {
                x,
                text: format!("{x:.prec$}", prec = decimals.min(12)),
            }
        })
        .collect();
    Ok(out)
}

fn check_distinct(v: &[SweepValue]) -> Result<(), String> {
    for (i, a) in v.iter().enumerate() {
        if v[..i].iter().any(|b| b.x == a.x) {
            return Err(format!("value {} is listed twice", a.text));
        }
    }
    Ok(())
}

/// Decimal places written in a number's text (`0.25` → 2, `20` → 0, `1e-3` → 3).
fn decimals_of(s: &str) -> usize {
    let s = s.trim();
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (s, 0),
    };
    let frac = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i64;
    (frac - exp).max(0) as usize
}

/// A value written as given, normalised: integral numbers without a decimal point,
/// others in Rust's shortest round-trip form.
pub fn value_of(x: f64) -> SweepValue {
    SweepValue {
        x,
        text: number_text(x),
    }
}

fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Split a path at dots; `"…"` quotes a segment that holds dots (`route.split."a.b"`).
pub fn split_path(path: &str) -> Result<Vec<String>, String> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in path.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                if cur.is_empty() && !was_quoted {
                    return Err(format!("empty segment in path \"{path}\""));
                }
                segs.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("unclosed quote in path \"{path}\""));
    }
    if cur.is_empty() && !was_quoted {
        return Err(if path.trim().is_empty() {
            "empty path".to_string()
        } else {
            format!("empty segment in path \"{path}\"")
        });
    }
    segs.push(cur);
    Ok(segs)
}

/// The name an element of an array of tables is addressed by (its `name`).
fn element_name<'a>(v: &'a DeValue<'_>) -> Option<&'a str> {
    match v {
        DeValue::Table(t) => match get(t, "name").map(|n| n.get_ref()) {
            Some(DeValue::String(s)) => Some(s.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// The children of a table or array, as the segments that address them.
fn children(v: &DeValue<'_>) -> Vec<String> {
    match v {
        DeValue::Table(t) => t.iter().map(|(k, _)| k.get_ref().to_string()).collect(),
        DeValue::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| element_name(x.get_ref()).map_or(i.to_string(), String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn join(segs: &[String]) -> String {
    segs.iter()
        .map(|s| {
            if s.contains('.') || s.is_empty() {
                format!("\"{s}\"")
            } else {
                s.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Find the value `segs` names under `root`, or say which segment is wrong and what
/// the valid ones are there.
pub fn resolve(root: &Table<'_>, segs: &[String]) -> Result<Target, String> {
    let mut canonical: Vec<String> = Vec::new();
    // The root is a table; walk down one (or, for names holding dots, several) segments.
    let mut cur: &toml::Spanned<DeValue<'_>>;
    let mut i = 0;
    let root_children: Vec<String> = root.iter().map(|(k, _)| k.get_ref().to_string()).collect();
    let first = lookup_table(root, segs, &mut i);
    match first {
        Some((k, v)) => {
            canonical.push(k);
            cur = v;
        }
        None => {
            return Err(unknown_segment(&segs[0], "the policy file", &root_children));
        }
    }
    while i < segs.len() {
        let here = join(&canonical);
        let next = match cur.get_ref() {
            DeValue::Table(t) => lookup_table(t, segs, &mut i),
            DeValue::Array(a) => {
                let s = &segs[i];
                let by_name = a
                    .iter()
                    .find(|x| element_name(x.get_ref()) == Some(s.as_str()));
                let by_index = s.parse::<usize>().ok().and_then(|n| a.get(n));
                by_name.or(by_index).map(|v| {
                    i += 1;
                    (s.clone(), v)
                })
            }
            other => {
                return Err(format!(
                    "\"{here}\" is {}, it has no field \"{}\"",
                    type_name(other),
                    segs[i]
                ));
            }
        };
        match next {
            Some((k, v)) => {
                canonical.push(k);
                cur = v;
            }
            None => {
                let valid = children(cur.get_ref());
                let what = match cur.get_ref() {
                    DeValue::Array(_) => {
                        format!("\"{here}\" (an array: name an element by its `name` or index)")
                    }
                    _ => format!("\"{here}\""),
                };
                return Err(unknown_segment(&segs[i], &what, &valid));
            }
        }
    }
    let path = join(&canonical);
    match cur.get_ref() {
        DeValue::Integer(_) => Ok(Target {
            span: cur.span(),
            integer: true,
            canonical: path,
        }),
        DeValue::Float(_) => Ok(Target {
            span: cur.span(),
            integer: false,
            canonical: path,
        }),
        other => {
            let valid = children(other);
            let hint = if valid.is_empty() {
                String::new()
            } else {
                format!("; it holds: {}", valid.join(", "))
            };
            Err(format!(
                "\"{path}\" is {}, not a number{hint}",
                type_name(other)
            ))
        }
    }
}

/// A key of `t` starting at `segs[*i]`: the segment itself, or — for a name with
/// dots written without quotes (`route.split.claude-3.5-sonnet`) — several segments
/// joined by dots.
fn lookup_table<'a, 'v>(
    t: &'a Table<'v>,
    segs: &[String],
    i: &mut usize,
) -> Option<(String, &'a toml::Spanned<DeValue<'v>>)> {
    for end in *i + 1..=segs.len() {
        let key = segs[*i..end].join(".");
        if let Some(v) = t.get(key.as_str()) {
            *i = end;
            return Some((key, v));
        }
    }
    None
}

fn unknown_segment(seg: &str, within: &str, valid: &[String]) -> String {
    let hint = match suggest(seg, valid.iter().map(String::as_str)) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None if valid.is_empty() => String::new(),
        None => format!("; valid here: {}", valid.join(", ")),
    };
    format!("no \"{seg}\" in {within}{hint}")
}

/// Every numeric value of a document, as (path segments, target).
pub fn numeric_leaves(root: &Table<'_>) -> Vec<(Vec<String>, Target)> {
    fn walk(
        v: &toml::Spanned<DeValue<'_>>,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Target)>,
    ) {
        match v.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => out.push((
                path.clone(),
                Target {
                    span: v.span(),
                    integer: matches!(v.get_ref(), DeValue::Integer(_)),
                    canonical: join(path),
                },
            )),
            DeValue::Table(t) => {
                for (k, x) in t.iter() {
                    path.push(k.get_ref().to_string());
                    walk(x, path, out);
                    path.pop();
                }
            }
            DeValue::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(element_name(x.get_ref()).map_or(i.to_string(), String::from));
                    walk(x, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut path = Vec::new();
    for (k, v) in root.iter() {
        if k.get_ref() == "sweep" {
            continue;
        }
        path.push(k.get_ref().to_string());
        walk(v, &mut path, &mut out);
        path.pop();
    }
    out
}

/// Resolve a path as written: from the top of the file, or — when that fails — as the
/// end of exactly one numeric path (`cascade.threshold` when the policy has one
/// cascade). An ambiguous or unknown path is an error naming the candidates.
pub fn find(root: &Table<'_>, path: &str) -> Result<Target, String> {
    let segs = split_path(path)?;
    match resolve(root, &segs) {
        Ok(t) => Ok(t),
        Err(direct) => {
            let leaves = numeric_leaves(root);
            let matching: Vec<&Target> = leaves
                .iter()
                .filter(|(p, _)| p.len() > segs.len() && p.ends_with(&segs))
                .map(|(_, t)| t)
                .collect();
            match matching.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(direct),
                many => Err(format!(
                    "\"{path}\" is ambiguous: it ends {} numeric paths ({}); write one in full",
                    many.len(),
                    many.iter()
                        .map(|t| t.canonical.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

/// The `[[sweep]]` tables of a policy file, checked (unknown keys, types, values) and
/// resolved against the file.
pub fn file_sweeps(p: &Policy) -> (Vec<SweepSpec>, Vec<Diagnostic>) {
    let (mut doc, root) = TomlDoc::parse(&p.file, &p.source);
    let root = root.get_ref();
    let mut out = Vec::new();
    let Some(v) = get(root, "sweep") else {
        return (out, doc.diags);
    };
    let DeValue::Array(items) = v.get_ref() else {
        doc.err(v.span(), "sweep: expected [[sweep]] tables");
        return (out, doc.diags);
    };
    for it in items.iter() {
        let Some(t) = doc.table(it, "[[sweep]]") else {
            continue;
        };
        doc.check_keys(t, &["param", "values", "range"], "[[sweep]]");
        let param = match get(t, "param") {
            Some(pv) => doc.string(pv, "sweep.param").map(|s| (s, pv.span())),
            None => {
                doc.err(it.span(), "[[sweep]]: missing `param` (the TOML path of a numeric value, e.g. \"rule.short.when.input_chars.lt\")");
                None
            }
        };
        let values = match (get(t, "values"), get(t, "range")) {
            (Some(_), Some(r)) => {
                doc.err(r.span(), "[[sweep]]: give `values` or `range`, not both");
                None
            }
            (None, None) => {
                doc.err(
                    it.span(),
                    "[[sweep]]: missing `values = [a, b, …]` or `range = { start, stop, step }`",
                );
                None
            }
            (Some(vs), None) => read_value_list(&mut doc, vs),
            (None, Some(r)) => read_range(&mut doc, r),
        };
        if let (Some((path, span)), Some(values)) = (param, values) {
            match find(root, &path) {
                Ok(_) => out.push(SweepSpec {
                    path,
                    values,
                    origin: SweepOrigin::File(span),
                }),
                Err(e) => doc.err(span, format!("sweep.param: {e}")),
            }
        }
    }
    (out, crate::error::InputError::new(doc.diags).diagnostics)
}

fn read_value_list(doc: &mut TomlDoc, v: &crate::tomlx::Val<'_>) -> Option<Vec<SweepValue>> {
    let items = doc.array(v, "sweep.values")?;
    if items.is_empty() {
        doc.err(v.span(), "sweep.values: expected at least one number");
        return None;
    }
    let mut out = Vec::new();
    for x in items {
        out.push(value_of(doc.number(x, "sweep.values")?));
    }
    if let Err(e) = check_distinct(&out) {
        doc.err(v.span(), format!("sweep.values: {e}"));
        return None;
    }
    Some(out)
}

fn read_range(doc: &mut TomlDoc, v: &crate::tomlx::Val<'_>) -> Option<Vec<SweepValue>> {
    let t = doc.table(v, "sweep.range")?;
    doc.check_keys(t, &["start", "stop", "step"], "sweep.range");
    let mut nums = Vec::new();
    let mut decimals = 0;
    for key in ["start", "stop", "step"] {
        let x = doc.require(t, key, v.span(), "sweep.range")?;
        let n = doc.number(x, &format!("sweep.range.{key}"))?;
        decimals = decimals.max(decimals_of(&doc.source[x.span()]));
        nums.push(n);
    }
    match range(nums[0], nums[1], nums[2], decimals) {
        Ok(vs) => Some(vs),
        Err(e) => {
            doc.err(v.span(), format!("sweep.range: {e}"));
            None
        }
    }
}

/// A sweep given on the command line, `POLICY:PATH=VALUES`, split against the names of
/// the loaded policies (a policy name may itself hold a colon): (policy, spec).
pub fn parse_cli(spec: &str, policies: &[&str]) -> Result<(String, SweepSpec), String> {
    let origin = SweepOrigin::Cli(format!("--sweep '{spec}'"));
    let Some(eq) = spec.rfind('=') else {
        return Err("expected POLICY:PATH=VALUES (e.g. cost-by-complexity:classifier.level.simple.when.input_chars.lt=20:200:20)".into());
    };
    let (head, values) = (&spec[..eq], &spec[eq + 1..]);
    let policy = head
        .match_indices(':')
        .map(|(i, _)| &head[..i])
        .find(|name| policies.contains(name));
    let Some(policy) = policy else {
        let given = head.split(':').next().unwrap_or(head);
        return Err(format!(
            "no policy named \"{given}\" (expected POLICY:PATH=VALUES; policies: {})",
            policies.join(", ")
        ));
    };
    let path = head[policy.len() + 1..].trim().to_string();
    let values = parse_values(values)?;
    Ok((
        policy.to_string(),
        SweepSpec {
            path,
            values,
            origin,
        },
    ))
}

/// A `PATH=VALUES` parameter (`routesim tune --param`).
pub fn parse_param(spec: &str) -> Result<SweepSpec, String> {
    let Some(eq) = spec.rfind('=') else {
        return Err("expected PATH=VALUES (e.g. rule.short.when.input_chars.lt=20:200:20)".into());
    };
    Ok(SweepSpec {
        path: spec[..eq].trim().to_string(),
        values: parse_values(&spec[eq + 1..])?,
        origin: SweepOrigin::Cli(format!("--param '{spec}'")),
    })
}

/// The error of a sweep, where it was given.
fn sweep_diag(p: &Policy, s: &SweepSpec, msg: String) -> Diagnostic {
    match &s.origin {
        SweepOrigin::Cli(label) => Diagnostic::file(
            label.clone(),
            format!("policy \"{}\" ({}): {msg}", p.name, p.file),
        ),
        SweepOrigin::File(span) => p.diag(span, format!("sweep.param: {msg}")),
    }
}

/// The variants of `p` over the grid of `sweeps` (first sweep outermost), in sweep
/// order. Each variant is the policy's text with the values replaced, parsed again:
/// a value the field does not accept is reported at its file:line:col.
pub fn expand(p: &Policy, sweeps: &[SweepSpec]) -> Result<Vec<Variant>, Vec<Diagnostic>> {
    let (_doc, root) = TomlDoc::parse(&p.file, &p.source);
    let root = root.get_ref();
    let mut diags = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    for s in sweeps {
        match find(root, &s.path) {
            Ok(t) => {
                if let Some(prev) = targets.iter().position(|x| x.span == t.span) {
                    diags.push(sweep_diag(
                        p,
                        s,
                        format!(
                            "\"{}\" is swept twice (also as \"{}\")",
                            s.path, sweeps[prev].path
                        ),
                    ));
                }
                targets.push(t);
            }
            Err(e) => diags.push(sweep_diag(p, s, e)),
        }
    }
    let total = sweeps.iter().map(|s| s.values.len()).product::<usize>();
    if total > MAX_VARIANTS {
        diags.push(Diagnostic::file(
            &p.file,
            format!(
                "the sweeps of policy \"{}\" give {total} variants; at most {MAX_VARIANTS}",
                p.name
            ),
        ));
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; sweeps.len()];
    for _ in 0..total {
        let settings: Vec<Setting> = sweeps
            .iter()
            .zip(&targets)
            .zip(&idx)
            .map(|((s, t), &k)| Setting {
                path: s.path.clone(),
                value: s.values[k].clone(),
                target: t.clone(),
            })
            .collect();
        match variant(p, &settings) {
            Ok(v) => out.push(Variant {
                policy: v,
                settings,
            }),
            Err(d) => diags.extend(d),
        }
        // Next grid point: the last sweep moves fastest.
        for j in (0..idx.len()).rev() {
            idx[j] += 1;
            if idx[j] < sweeps[j].values.len() {
                break;
            }
            idx[j] = 0;
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// The policy's text with each setting's value written in place of the old one.
pub fn apply(source: &str, settings: &[Setting]) -> String {
    let mut order: Vec<&Setting> = settings.iter().collect();
    order.sort_by_key(|s| std::cmp::Reverse(s.target.span.start));
    let mut text = source.to_string();
    for s in order {
        let lit = if s.value.x.fract() == 0.0 && s.value.x.abs() < 1e15 {
            format!("{}", s.value.x as i64)
        } else {
            format!("{:?}", s.value.x)
        };
        text.replace_range(s.target.span.clone(), &lit);
    }
    text
}

/// The name of a variant: `base[path=value,…]`.
pub fn variant_name(base: &str, settings: &[Setting]) -> String {
    let inner: Vec<String> = settings
        .iter()
        .map(|s| format!("{}={}", s.path, s.value.text))
        .collect();
    format!("{base}[{}]", inner.join(","))
}

fn variant(p: &Policy, settings: &[Setting]) -> Result<Policy, Vec<Diagnostic>> {
    let text = apply(&p.source, settings);
    let name = variant_name(&p.name, settings);
    match super::parse(&p.file, &text, &p.name) {
        Ok(mut v) => {
            v.name = name;
            Ok(v)
        }
        Err(e) => Err(e
            .diagnostics
            .into_iter()
            .map(|mut d| {
                d.message = format!("in sweep variant \"{name}\": {}", d.message);
                d
            })
            .collect()),
    }
}

/// The policy a variant's name comes from: `base` of `base[…]`.
pub fn base_name(name: &str) -> Option<&str> {
    if !name.ends_with(']') {
        return None;
    }
    name.find('[').map(|i| &name[..i]).filter(|b| !b.is_empty())
}

/// The settings part of a variant's name: `path=value,…` of `base[path=value,…]`.
pub fn settings_label(name: &str) -> Option<&str> {
    let b = base_name(name)?;
    Some(&name[b.len() + 1..name.len() - 1])
}

/// The (path, value) pairs of a variant's name (empty for other names).
pub fn settings_pairs(name: &str) -> Vec<(&str, &str)> {
    settings_label(name)
        .map(|l| l.split(',').filter_map(|kv| kv.rsplit_once('=')).collect())
        .unwrap_or_default()
}

/// The sweeps of a run, from its policy names in order: for each swept policy (two or
/// more variants), the indices of its variants in sweep order.
pub fn curves(names: &[&str]) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(b) = base_name(n) {
            match out.iter_mut().find(|(x, _)| x == b) {
                Some((_, v)) => v.push(i),
                None => out.push((b.to_string(), vec![i])),
            }
        }
    }
    out.retain(|(_, v)| v.len() >= 2);
    out
}

/// Replace every swept policy of `policies` by its variants: sweeps from the command
/// line (`POLICY:PATH=VALUES`; they replace the policy's own `[[sweep]]` tables) or
/// from the file. A user policy whose name holds `[` or `]` is refused (the brackets
/// mark variants). Every problem is returned.
pub fn expand_all(policies: Vec<Policy>, cli: &[String]) -> (Vec<Policy>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let names: Vec<String> = policies.iter().map(|p| p.name.clone()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut by_policy: Vec<(String, SweepSpec)> = Vec::new();
    for spec in cli {
        match parse_cli(spec, &refs) {
            Ok(x) => by_policy.push(x),
            Err(e) => diags.push(Diagnostic::file(format!("--sweep '{spec}'"), e)),
        }
    }
    let mut out = Vec::new();
    for p in policies {
        if p.name.contains(['[', ']']) {
            diags.push(p.diag(
                &p.name_span,
                format!(
                    "policy name \"{}\": '[' and ']' mark sweep variants (name[param=value]); rename the policy",
                    p.name
                ),
            ));
            continue;
        }
        let (file, fd) = if p.kind.is_baseline() {
            (Vec::new(), Vec::new())
        } else {
            file_sweeps(&p)
        };
        if !fd.is_empty() {
            diags.extend(fd);
            continue;
        }
        let cli_specs: Vec<SweepSpec> = by_policy
            .iter()
            .filter(|(n, _)| *n == p.name)
            .map(|(_, s)| s.clone())
            .collect();
        let specs = if cli_specs.is_empty() {
            file
        } else {
            cli_specs
        };
        if specs.is_empty() {
            out.push(p);
            continue;
        }
        match expand(&p, &specs) {
            Ok(vs) => out.extend(vs.into_iter().map(|v| v.policy)),
            Err(d) => diags.extend(d),
        }
    }
    (out, diags)
}

/// The line of the policy file holding a setting, with the setting applied: what to
/// write into the file to keep that value (1-based line number, new line text).
pub fn snippet(source: &str, s: &Setting) -> (usize, String) {
    let start = source[..s.target.span.start]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end = source[s.target.span.end..]
        .find('\n')
        .map_or(source.len(), |i| s.target.span.end + i);
    let line_no = source[..start].matches('\n').count() + 1;
    let local = Setting {
        target: Target {
            span: s.target.span.start - start..s.target.span.end - start,
            ..s.target.clone()
        },
        ..s.clone()
    };
    (line_no, apply(&source[start..end], &[local]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"name = "cbc"
[models]
mini = "openai/gpt-4o-mini"
[classifier]
default = "medium"
[[classifier.level]]
name = "simple"
when = { input_chars = { lt = 50 } }
[[rule]]
name = "simple"
when = { complexity = "simple" }
route = "mini"
[[rule]]
name = "hard"
when = { input_tokens = { gt = 1000 } }
route.cascade = { models = ["mini", "openai/gpt-4o"], threshold = 0.7 }
[default]
route.split = { mini = 70, "anthropic/claude-3.5-sonnet" = 30 }
"#;

    fn pol() -> Policy {
        crate::policy::parse("p.toml", POLICY, "p").unwrap()
    }

    #[test]
    fn ranges_are_inclusive_and_written_stably() {
        let v = parse_values("20:200:20").unwrap();
        let texts: Vec<&str> = v.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "20", "40", "60", "80", "100", "120", "140", "160", "180", "200"
            ]
        );
        // 0.1 + 2 × 0.1 is 0.30000000000000004 in floating point: rounded to 0.3.
        let v = parse_values("0.1:0.5:0.1").unwrap();
        assert_eq!(v[2].x, 0.3);
        assert_eq!(v[2].text, "0.3");
        assert_eq!(v.len(), 5);
        // Decimals of the step decide the written precision: 0.05 → two places.
        let v = parse_values("0.5:0.6:0.05").unwrap();
        let texts: Vec<&str> = v.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, ["0.50", "0.55", "0.60"]);
        // Downwards.
        let v = parse_values("3:1:-1").unwrap();
        assert_eq!(v.iter().map(|x| x.x).collect::<Vec<_>>(), [3.0, 2.0, 1.0]);
        // Lists keep their order, normalised.
        let v = parse_values("0.70, 5,1e-3").unwrap();
        let texts: Vec<&str> = v.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, ["0.7", "5", "0.001"]);
    }

    #[test]
    fn bad_values_are_explained() {
        assert!(parse_values("1:2").unwrap_err().contains("start:stop:step"));
        assert!(parse_values("1:5:-1").unwrap_err().contains("towards stop"));
        assert!(parse_values("1:5:0").unwrap_err().contains("non-zero"));
        assert!(parse_values("1,x").unwrap_err().contains("\"x\""));
        assert!(parse_values("1,1").unwrap_err().contains("twice"));
        assert!(parse_values("0:1e6:1").unwrap_err().contains("at most"));
    }

    #[test]
    fn paths_resolve_by_key_by_name_and_by_suffix() {
        let p = pol();
        let (_d, root) = TomlDoc::parse("p.toml", &p.source);
        let root = root.get_ref();
        let t = find(root, "classifier.level.simple.when.input_chars.lt").unwrap();
        assert_eq!(&POLICY[t.span.clone()], "50");
        assert!(t.integer);
        let t = find(root, "rule.hard.route.cascade.threshold").unwrap();
        assert_eq!(&POLICY[t.span.clone()], "0.7");
        assert!(!t.integer);
        // The end of exactly one numeric path.
        let t = find(root, "cascade.threshold").unwrap();
        assert_eq!(t.canonical, "rule.hard.route.cascade.threshold");
        // Split weights by model, with a dotted name quoted or not.
        let t = find(root, "default.route.split.anthropic/claude-3.5-sonnet").unwrap();
        assert_eq!(&POLICY[t.span.clone()], "30");
        let t = find(root, "default.route.split.\"anthropic/claude-3.5-sonnet\"").unwrap();
        assert_eq!(&POLICY[t.span.clone()], "30");
        let t = find(root, "rule.1.when.input_tokens.gt").unwrap();
        assert_eq!(&POLICY[t.span.clone()], "1000");
    }

    #[test]
    fn bad_paths_name_the_segment_and_the_valid_ones() {
        let p = pol();
        let (_d, root) = TomlDoc::parse("p.toml", &p.source);
        let root = root.get_ref();
        let e = find(root, "classifier.level.simpel.when.input_chars.lt").unwrap_err();
        assert!(e.contains("no \"simpel\" in \"classifier.level\""), "{e}");
        assert!(e.contains("did you mean \"simple\""), "{e}");
        let e = find(root, "rule.hard.route.cascade.models").unwrap_err();
        assert!(e.contains("is an array, not a number"), "{e}");
        let e = find(root, "rule.simple.route").unwrap_err();
        assert!(
            e.contains("\"rule.simple.route\" is a string, not a number"),
            "{e}"
        );
        let e = find(root, "gateway.timeout_ms").unwrap_err();
        assert!(e.contains("no \"gateway\" in the policy file"), "{e}");
        assert!(
            e.contains("valid here: name, models, classifier, rule, default"),
            "{e}"
        );
        let e = find(root, "rule.hard.route.cascade.threshold.x").unwrap_err();
        assert!(e.contains("is a float, it has no field \"x\""), "{e}");
    }

    #[test]
    fn variants_carry_the_value_and_a_readable_name() {
        let p = pol();
        let s = parse_param("classifier.level.simple.when.input_chars.lt=20,80").unwrap();
        let c = parse_param("cascade.threshold=0.5:0.6:0.1").unwrap();
        let vs = expand(&p, &[s, c]).unwrap();
        let names: Vec<&str> = vs.iter().map(|v| v.policy.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cbc[classifier.level.simple.when.input_chars.lt=20,cascade.threshold=0.5]",
                "cbc[classifier.level.simple.when.input_chars.lt=20,cascade.threshold=0.6]",
                "cbc[classifier.level.simple.when.input_chars.lt=80,cascade.threshold=0.5]",
                "cbc[classifier.level.simple.when.input_chars.lt=80,cascade.threshold=0.6]",
            ]
        );
        // The parsed variant holds the new values.
        let v = &vs[3].policy;
        let lt = match &v.classifier.as_ref().unwrap().levels[0].1 {
            crate::policy::Cond::Num { test, .. } => test.lt,
            other => panic!("{other:?}"),
        };
        assert_eq!(lt, Some(80.0));
        match &v.rules[1].route.strategy {
            crate::policy::Strategy::Cascade { threshold, .. } => assert_eq!(*threshold, 0.6),
            other => panic!("{other:?}"),
        }
        assert_eq!(base_name(&v.name), Some("cbc"));
        assert_eq!(
            settings_label(&v.name),
            Some("classifier.level.simple.when.input_chars.lt=80,cascade.threshold=0.6")
        );
        assert_eq!(
            settings_pairs(&v.name),
            [
                ("classifier.level.simple.when.input_chars.lt", "80"),
                ("cascade.threshold", "0.6")
            ]
        );
        // The snippet is the file's line with the value in place.
        let (line, text) = snippet(&p.source, &vs[3].settings[0]);
        assert_eq!(line, 8);
        assert_eq!(text, "when = { input_chars = { lt = 80 } }");
    }

    #[test]
    fn a_value_the_field_refuses_is_reported_at_its_position() {
        let p = pol();
        // A split weight must be positive: the variant with 0 is refused at line 18.
        let s = parse_param("route.split.mini=0,10").unwrap();
        let e = expand(&p, &[s]).unwrap_err();
        let shown: Vec<String> = e.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].starts_with("p.toml:18:"), "{shown:?}");
        assert!(
            shown[0].contains("in sweep variant \"cbc[route.split.mini=0]\""),
            "{shown:?}"
        );
        assert!(shown[0].contains("expected a positive number"), "{shown:?}");
    }

    #[test]
    fn sweep_tables_in_the_file_are_checked_with_positions() {
        let src = format!(
            "{POLICY}[[sweep]]\nparam = \"cascade.threshold\"\nvalues = [0.5, 0.9]\n[[sweep]]\nparam = \"rule.hard.route.cascade.treshold\"\nrange = {{ start = 1, stop = 2, step = 1 }}\n[[sweep]]\nparam = \"rule.simple.when\"\nvalues = [1]\nvalue = 3\n"
        );
        let p = crate::policy::parse("p.toml", &src, "p").unwrap();
        let (specs, diags) = file_sweeps(&p);
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].values.len(), 2);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(
            shown[0].starts_with("p.toml:23:9: sweep.param: no \"treshold\""),
            "{shown:#?}"
        );
        assert!(
            shown[0].contains("did you mean \"threshold\""),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with("p.toml:26:9: sweep.param: \"rule.simple.when\" is a table"),
            "{shown:#?}"
        );
        assert!(
            shown[2].starts_with("p.toml:28:1: unknown key \"value\" in [[sweep]]"),
            "{shown:#?}"
        );
        let (pols, d) = expand_all(vec![p], &[]);
        assert!(!d.is_empty());
        assert!(pols.is_empty());
    }

    #[test]
    fn command_line_sweeps_replace_the_files_and_name_unknown_policies() {
        let src =
            format!("{POLICY}[[sweep]]\nparam = \"cascade.threshold\"\nvalues = [0.5, 0.9]\n");
        let p = crate::policy::parse("p.toml", &src, "p").unwrap();
        let (pols, d) = expand_all(vec![p.clone()], &[]);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(pols.len(), 2);
        assert_eq!(pols[0].name, "cbc[cascade.threshold=0.5]");
        let (pols, d) = expand_all(
            vec![p.clone()],
            &[
                "cbc:rule.simple.when.complexity=1".into(),
                "nope:a=1".into(),
            ],
        );
        let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|s| s.contains("no policy named \"nope\"") && s.contains("policies: cbc"))
        );
        assert!(shown.iter().any(|s| s.starts_with("--sweep 'cbc:rule.simple.when.complexity=1': policy \"cbc\" (p.toml): \"rule.simple.when.complexity\" is a string")));
        assert!(pols.is_empty());
        let (pols, d) = expand_all(vec![p], &["cbc:route.split.mini=10:30:10".into()]);
        assert!(d.is_empty(), "{d:?}");
        let names: Vec<&str> = pols.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cbc[route.split.mini=10]",
                "cbc[route.split.mini=20]",
                "cbc[route.split.mini=30]"
            ]
        );
        assert_eq!(curves(&names), vec![("cbc".to_string(), vec![0, 1, 2])]);
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, .. ProptestConfig::default() })]

        /// start:stop:step gives every value from start to stop, inclusive, evenly
        /// spaced, written with the inputs' decimals.
        #[test]
        fn ranges_hold_every_step(start in -500i64..500, step in 1i64..40, count in 1usize..30, cents in any::<bool>()) {
            let scale = if cents { 100.0 } else { 1.0 };
            let (a, d) = (start as f64 / scale, step as f64 / scale);
            let b = a + d * (count - 1) as f64;
            let text = if cents {
                format!("{a:.2}:{b:.2}:{d:.2}")
            } else {
                format!("{a}:{b}:{d}")
            };
            let v = parse_values(&text).unwrap();
            prop_assert_eq!(v.len(), count);
            for (i, x) in v.iter().enumerate() {
                let want = (start + step * i as i64) as f64 / scale;
                prop_assert!((x.x - want).abs() < 1e-9, "{} vs {want}", x.x);
                prop_assert_eq!(x.text.parse::<f64>().unwrap(), x.x);
                prop_assert_eq!(x.text.split_once('.').map_or(0, |(_, f)| f.len()), if cents { 2 } else { 0 });
            }
        }

        /// A value written into the policy is the value the parsed variant holds.
        #[test]
        fn written_values_are_read_back_exactly(x in 0.001f64..1e6, integral in any::<bool>()) {
            let x = if integral { x.round() } else { x };
            let p = pol();
            let vs = expand(&p, &[SweepSpec {
                path: "rule.hard.when.input_tokens.gt".into(),
                values: vec![value_of(x)],
                origin: SweepOrigin::Cli("test".into()),
            }]).unwrap();
            match &vs[0].policy.rules[1].when {
                crate::policy::Cond::Num { test, .. } => prop_assert_eq!(test.gt, Some(x)),
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn brackets_in_a_user_policy_name_are_refused() {
        let p = crate::policy::parse("b.toml", "name = \"x[1]\"\n[default]\nroute = \"m\"\n", "b")
            .unwrap();
        let (_, d) = expand_all(vec![p], &[]);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].to_string()
                .starts_with("b.toml:1:8: policy name \"x[1]\"")
        );
    }
}
