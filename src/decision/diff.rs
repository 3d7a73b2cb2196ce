//! `routesim diff A B`: what changes, request by request, when policy A is replaced
//! by policy B on the same dataset.
//!
//! Requests are grouped by (rule fired in A, rule fired in B) and, for each `--by`
//! key, by segment. Each group carries the sums over its requests of B − A: cost,
//! quality and latency, on the requests both policies cover (a request one of them
//! leaves uncovered is counted, not compared). Sums are exact ([`ExactSum`]), so the
//! groups of a table add up to the total exactly; [`diff`] checks it and refuses to
//! report figures that do not. Owns the figures and their JSON; the text is
//! [`super::render`]'s.

use crate::analysis::exact::ExactSum;
use crate::dataset::{Dataset, MetaColumn};
use crate::sim::trace::{DEFAULT_RULE, NONE16, TraceRow};

/// Sums of B − A over a set of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeltaSums {
    /// Requests in the set.
    pub requests: usize,
    /// Requests both policies cover (the deltas are over these).
    pub compared: usize,
    /// Compared requests whose final model (or served model) differs.
    pub model_changed: usize,
    /// Compared requests routed by another rule (by name) in B than in A.
    pub rule_changed: usize,
    /// Σ cost B − cost A, USD (unknown when a cost is).
    pub cost: ExactSum,
    /// Σ quality B − quality A over the compared requests with a quality on both
    /// sides.
    pub quality: ExactSum,
    /// Requests in `quality`.
    pub quality_n: usize,
    /// Σ latency B − latency A, ms.
    pub latency: ExactSum,
}

impl DeltaSums {
    fn add(&mut self, a: &TraceRow, b: &TraceRow, rule_changed: bool) {
        self.requests += 1;
        if !(a.covered() && b.covered()) {
            return;
        }
        self.compared += 1;
        if (a.model, a.served) != (b.model, b.served) {
            self.model_changed += 1;
        }
        if rule_changed {
            self.rule_changed += 1;
        }
        self.cost.add(b.cost_usd - a.cost_usd);
        if a.quality.is_finite() && b.quality.is_finite() {
            self.quality.add(b.quality - a.quality);
            self.quality_n += 1;
        }
        self.latency.add(b.latency_ms - a.latency_ms);
    }

    fn merge(&mut self, o: &DeltaSums) {
        self.requests += o.requests;
        self.compared += o.compared;
        self.model_changed += o.model_changed;
        self.rule_changed += o.rule_changed;
        self.cost.merge(&o.cost);
        self.quality.merge(&o.quality);
        self.quality_n += o.quality_n;
        self.latency.merge(&o.latency);
    }

    /// As JSON (field names are documented in the README).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "compared": self.compared,
            "model_changed": self.model_changed,
            "rule_changed": self.rule_changed,
            "d_cost_usd": num(self.cost.value()),
            "d_quality": num(self.quality.value()),
            "quality_n": self.quality_n,
            "d_latency_ms": num(self.latency.value()),
        })
    }
}

/// A number for JSON, rounded to 1e-9 like the tables' widest figure; unknown as null.
pub fn num(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::Value::from((x * 1e9).round() / 1e9)
    } else {
        serde_json::Value::Null
    }
}

/// Requests routed by rule `a` in A and rule `b` in B.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// Rule in A.
    pub rule_a: String,
    /// Rule in B.
    pub rule_b: String,
    /// Their sums.
    pub sums: DeltaSums,
}

/// Requests of one segment value.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentGroup {
    /// The `--by` key (`meta.plan`).
    pub key: String,
    /// The value (`(none)` when absent).
    pub value: String,
    /// Their sums.
    pub sums: DeltaSums,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// Every request.
    pub total: DeltaSums,
    /// By (rule A, rule B), in A's rule order then B's (`default` last).
    pub by_rule: Vec<RuleGroup>,
    /// By segment, key by key, values in sorted order (`(none)` last).
    pub by_segment: Vec<SegmentGroup>,
    /// Final model changes (A's model → B's), most frequent first.
    pub model_changes: Vec<(String, String, usize)>,
}

/// One side of a diff: its rows and rule names.
pub struct Side<'a> {
    /// One row per request.
    pub rows: &'a [TraceRow],
    /// Rule names (index = rule id).
    pub rules: &'a [String],
}

impl Side<'_> {
    fn rule_name(&self, rule: u16) -> &str {
        match rule {
            DEFAULT_RULE => "default",
            NONE16 => "",
            i => self
                .rules
                .get(i as usize)
                .map(String::as_str)
                .unwrap_or("?"),
        }
    }

    /// Sort key of a rule: its position, `default` after every rule.
    fn order(rule: u16) -> u32 {
        if rule == DEFAULT_RULE {
            u32::MAX - 1
        } else {
            rule as u32
        }
    }
}

/// The model that answered a row (served model when recorded), for the changes table.
fn answered(ds: &Dataset, r: &TraceRow) -> String {
    if r.served != NONE16 {
        ds.served_models[r.served as usize].clone()
    } else if r.model == NONE16 {
        "(none)".into()
    } else {
        ds.models[r.model as usize].clone()
    }
}

/// Compare B with A request by request. `by` are `meta.<key>` segment keys (checked
/// against the dataset by the caller). Errs when the groups do not add up to the
/// total (a bug, reported rather than printed).
pub fn diff(ds: &Dataset, a: &Side, b: &Side, by: &[String]) -> Result<Diff, String> {
    let n = ds.n_requests();
    let mut total = DeltaSums::default();
    let mut groups: std::collections::BTreeMap<(u32, u32), DeltaSums> = Default::default();
    let mut changes: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for r in 0..n {
        let (ra, rb) = (&a.rows[r], &b.rows[r]);
        let rule_changed = a.rule_name(ra.rule) != b.rule_name(rb.rule);
        total.add(ra, rb, rule_changed);
        let key = (Side::order(ra.rule), Side::order(rb.rule));
        groups.entry(key).or_default().add(ra, rb, rule_changed);
        if ra.covered() && rb.covered() && (ra.model, ra.served) != (rb.model, rb.served) {
            *changes
                .entry((answered(ds, ra), answered(ds, rb)))
                .or_default() += 1;
        }
    }
    let rule_of = |o: u32| -> u16 {
        if o == u32::MAX - 1 {
            DEFAULT_RULE
        } else {
            o as u16
        }
    };
    let by_rule: Vec<RuleGroup> = groups
        .into_iter()
        .map(|((oa, ob), sums)| RuleGroup {
            rule_a: a.rule_name(rule_of(oa)).to_string(),
            rule_b: b.rule_name(rule_of(ob)).to_string(),
            sums,
        })
        .collect();
    check_adds_up("rule", by_rule.iter().map(|g| &g.sums), &total)?;
    let mut by_segment = Vec::new();
    for key in by {
        let field = key.strip_prefix("meta.").unwrap_or(key);
        let Some(col) = ds.requests.meta_index(field) else {
            return Err(format!("the dataset has no field \"{key}\""));
        };
        let mc: &MetaColumn = &ds.requests.meta[col];
        let mut per: Vec<DeltaSums> = vec![DeltaSums::default(); mc.dict.len() + 1];
        for r in 0..n {
            let c = mc.codes[r];
            let g = if c == MetaColumn::NONE {
                mc.dict.len()
            } else {
                c as usize
            };
            let (ra, rb) = (&a.rows[r], &b.rows[r]);
            per[g].add(ra, rb, a.rule_name(ra.rule) != b.rule_name(rb.rule));
        }
        let absent = per.pop().expect("the absent group");
        let mut segs: Vec<SegmentGroup> = per
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.requests > 0)
            .map(|(g, sums)| SegmentGroup {
                key: key.clone(),
                value: mc.dict[g].clone(),
                sums,
            })
            .collect();
        segs.sort_by(|x, y| x.value.cmp(&y.value));
        if absent.requests > 0 {
            segs.push(SegmentGroup {
                key: key.clone(),
                value: "(none)".into(),
                sums: absent,
            });
        }
        check_adds_up(key, segs.iter().map(|g| &g.sums), &total)?;
        by_segment.extend(segs);
    }
    let mut model_changes: Vec<(String, String, usize)> =
        changes.into_iter().map(|((x, y), k)| (x, y, k)).collect();
    model_changes.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| (&x.0, &x.1).cmp(&(&y.0, &y.1))));
    Ok(Diff {
        total,
        by_rule,
        by_segment,
        model_changes,
    })
}

/// The groups of one table add up to the total, exactly.
fn check_adds_up<'a>(
    what: &str,
    groups: impl Iterator<Item = &'a DeltaSums>,
    total: &DeltaSums,
) -> Result<(), String> {
    let mut sum = DeltaSums::default();
    for g in groups {
        sum.merge(g);
    }
    if &sum == total {
        Ok(())
    } else {
        Err(format!(
            "the {what} groups do not add up to the total ({sum:?} vs {total:?})"
        ))
    }
}

impl Diff {
    /// As JSON (field names documented in the README); `rules` holds the findings.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "total": self.total.json(),
            "by_rule": self.by_rule.iter().map(|g| {
                let mut v = g.sums.json();
                v["rule_a"] = g.rule_a.clone().into();
                v["rule_b"] = g.rule_b.clone().into();
                v
            }).collect::<Vec<_>>(),
            "by_segment": self.by_segment.iter().map(|g| {
                let mut v = g.sums.json();
                v["key"] = g.key.clone().into();
                v["value"] = g.value.clone().into();
                v
            }).collect::<Vec<_>>(),
            "model_changes": self.model_changes.iter().map(|(x, y, k)| serde_json::json!({
                "from": x, "to": y, "requests": k
            })).collect::<Vec<_>>(),
        })
    }
}

/// One policy of a diff, for the headings.
#[derive(Debug, Clone)]
pub struct PolicyRef {
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Rules that never fire or are shadowed.
    pub findings: Vec<super::rules::Finding>,
}

/// What `routesim diff` prints.
#[derive(Debug, Clone)]
pub struct DiffReport {
    /// Policy A (before).
    pub a: PolicyRef,
    /// Policy B (after).
    pub b: PolicyRef,
    /// Dataset name.
    pub dataset: String,
    /// The figures.
    pub diff: Diff,
}

fn signed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "unknown".into();
    }
    let s = crate::report::fmt::f(x, decimals);
    if s.chars().any(|c| c.is_ascii_digit() && c != '0') && !s.starts_with('-') {
        format!("+{s}")
    } else {
        s
    }
}

fn signed_usd(x: f64) -> String {
    match signed(x, 6) {
        s if s == "unknown" => s,
        s => match s.strip_prefix('-') {
            Some(rest) => format!("-${rest}"),
            None => match s.strip_prefix('+') {
                Some(rest) => format!("+${rest}"),
                None => format!("${s}"),
            },
        },
    }
}

/// An aligned text table: first column left-aligned, the others right-aligned.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(w[i] - c.chars().count());
                if i == 0 {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut s = line(header.iter().map(|h| h.to_string()).collect());
    s.push('\n');
    for r in rows {
        s.push_str(&line(r.clone()));
        s.push('\n');
    }
    s
}

fn cells(first: String, d: &DeltaSums) -> Vec<String> {
    vec![
        first,
        d.requests.to_string(),
        d.compared.to_string(),
        d.rule_changed.to_string(),
        d.model_changed.to_string(),
        signed_usd(d.cost.value()),
        signed(d.quality.value(), 3),
        format!("{} ms", signed(d.latency.value(), 0)),
    ]
}

const COLUMNS: [&str; 7] = [
    "requests",
    "compared",
    "rule changed",
    "model changed",
    "Δ cost",
    "Δ quality",
    "Δ latency",
];

impl DiffReport {
    /// The text `routesim diff` prints.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let (a, b, d) = (&self.a, &self.b, &self.diff);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "diff: \"{}\" ({}) → \"{}\" ({}) on {}, {} requests",
            a.name, a.file, b.name, b.file, self.dataset, d.total.requests
        );
        let _ = writeln!(
            s,
            "Δ = {} − {}, summed over the {} requests both cover (Δ quality over the {} with a quality on both sides)\n",
            b.name, a.name, d.total.compared, d.total.quality_n
        );
        let head = format!("by rule ({} → {})", a.name, b.name);
        let mut header = vec![head.as_str()];
        header.extend(COLUMNS);
        let mut rows: Vec<Vec<String>> = d
            .by_rule
            .iter()
            .map(|g| cells(format!("{} → {}", g.rule_a, g.rule_b), &g.sums))
            .collect();
        rows.push(cells("total".into(), &d.total));
        s.push_str(&table(&header, &rows));
        let mut keys: Vec<&str> = d.by_segment.iter().map(|g| g.key.as_str()).collect();
        keys.dedup();
        for key in keys {
            let head = format!("by {key}");
            let mut header = vec![head.as_str()];
            header.extend(COLUMNS);
            let mut rows: Vec<Vec<String>> = d
                .by_segment
                .iter()
                .filter(|g| g.key == key)
                .map(|g| cells(g.value.clone(), &g.sums))
                .collect();
            rows.push(cells("total".into(), &d.total));
            s.push('\n');
            s.push_str(&table(&header, &rows));
        }
        s.push('\n');
        if d.model_changes.is_empty() {
            let _ = writeln!(s, "final model changes: none");
        } else {
            let ch: Vec<String> = d
                .model_changes
                .iter()
                .map(|(x, y, k)| format!("{x} → {y} {k}"))
                .collect();
            let _ = writeln!(
                s,
                "final model changes ({} requests): {}",
                d.total.model_changed,
                ch.join(", ")
            );
        }
        for p in [a, b] {
            if p.findings.is_empty() {
                let _ = writeln!(s, "rules of \"{}\": every rule fires", p.name);
            } else {
                let _ = writeln!(s, "rules of \"{}\":", p.name);
                for f in &p.findings {
                    let _ = writeln!(s, "  {}", f.message);
                }
            }
        }
        s
    }

    /// The same as JSON (field names documented in the README).
    pub fn json(&self) -> serde_json::Value {
        let side = |p: &PolicyRef| {
            serde_json::json!({
                "policy": p.name,
                "file": p.file,
                "rules": super::rules::findings_json(&p.findings),
            })
        };
        let mut v = self.diff.json();
        v["a"] = side(&self.a);
        v["b"] = side(&self.b);
        v["dataset"] = self.dataset.clone().into();
        v
    }
}
