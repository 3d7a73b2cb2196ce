//! Rules that never fire, and rules shadowed by earlier ones.
//!
//! Rules are tried in order and the first whose `when` holds routes the request, so a
//! rule is *shadowed* when every request its condition holds for was taken by an
//! earlier rule. Two checks:
//! - **on a dataset** ([`rule_usage`]): for each rule, the requests its condition
//!   holds for and how many it actually routes; a rule that routes none is dead
//!   (its condition holds for no request) or shadowed (each of its requests went to
//!   an earlier rule — named, with counts);
//! - **statically** ([`static_findings`]): a rule whose condition *implies* an earlier
//!   rule's condition can never fire on any dataset — identical conditions, a
//!   narrower numeric range on the same field, a subset of the same metadata values
//!   or levels, or an earlier rule without a condition. [`implies`] is conservative:
//!   `false` whenever it cannot prove the implication.
//!
//! Owns the findings; printing them is the caller's (validate, diff).

use crate::dataset::Dataset;
use crate::policy::cond::{Cond, MetaOp, MetaValue, NumTest};
use crate::policy::{Policy, Rule};
use crate::sim::bound::{Bound, eval};

/// How one rule is used on a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUse {
    /// Rule name (`default` for `[default]`).
    pub rule: String,
    /// Requests its condition holds for (all requests for `[default]`).
    pub matches: usize,
    /// Requests it routes (its condition holds and no earlier rule's does).
    pub fires: usize,
    /// Earlier rules that took some of its matching requests, with how many (in rule
    /// order).
    pub taken_by: Vec<(String, usize)>,
}

/// Each rule's use on the dataset, then `[default]`'s (how many requests no rule
/// took). Rule selection does not depend on randomness or gateway state, so this is
/// exactly what every simulation of the policy routes.
pub fn rule_usage(p: &Policy, b: &Bound, ds: &Dataset) -> Vec<RuleUse> {
    let nr = b.rules.len();
    let levels = b.complexity.as_deref();
    let mut matches = vec![0usize; nr];
    let mut fires = vec![0usize; nr + 1];
    // taken[j][i]: requests matching rule j routed by earlier rule i.
    let mut taken = vec![vec![0usize; nr]; nr];
    let mut held = vec![false; nr];
    for r in 0..ds.n_requests() {
        for (j, rule) in b.rules.iter().enumerate() {
            held[j] = eval(&rule.when, ds, r, levels);
        }
        let first = held.iter().position(|&h| h);
        fires[first.unwrap_or(nr)] += 1;
        for j in 0..nr {
            if held[j] {
                matches[j] += 1;
                if let Some(i) = first.filter(|&i| i < j) {
                    taken[j][i] += 1;
                }
            }
        }
    }
    let mut out: Vec<RuleUse> = (0..nr)
        .map(|j| RuleUse {
            rule: p.rules[j].name.clone(),
            matches: matches[j],
            fires: fires[j],
            taken_by: (0..j)
                .filter(|&i| taken[j][i] > 0)
                .map(|i| (p.rules[i].name.clone(), taken[j][i]))
                .collect(),
        })
        .collect();
    out.push(RuleUse {
        rule: "default".into(),
        matches: ds.n_requests(),
        fires: fires[nr],
        taken_by: Vec::new(),
    });
    out
}

/// What is wrong with a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Its condition holds for no request of the dataset.
    NeverMatches,
    /// Every request it matches on the dataset was taken by earlier rules.
    ShadowedOnData,
    /// Its condition implies an earlier rule's: it can never fire, on any data.
    ShadowedStatically,
    /// `[default]` routes nothing: earlier rules take every request.
    DefaultUnreached,
}

impl Kind {
    /// The stable name used in JSON (`never_matches`, `shadowed`, `shadowed_static`,
    /// `default_unreached`).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::NeverMatches => "never_matches",
            Kind::ShadowedOnData => "shadowed",
            Kind::ShadowedStatically => "shadowed_static",
            Kind::DefaultUnreached => "default_unreached",
        }
    }
}

/// One finding about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule name (`default` for `[default]`).
    pub rule: String,
    /// What.
    pub kind: Kind,
    /// The earlier rules involved (with request counts on the dataset; 0 statically).
    pub by: Vec<(String, usize)>,
    /// The sentence shown to users.
    pub message: String,
}

/// Findings from a dataset's rule use (rules that route no request).
pub fn data_findings(usage: &[RuleUse], dataset: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let (default, rules) = usage.split_last().expect("default is always listed");
    for u in rules.iter().filter(|u| u.fires == 0) {
        if u.matches == 0 {
            out.push(Finding {
                rule: u.rule.clone(),
                kind: Kind::NeverMatches,
                by: Vec::new(),
                message: format!(
                    "rule \"{}\" never fires: its condition holds for no request of {dataset}",
                    u.rule
                ),
            });
        } else {
            let by: Vec<String> = u
                .taken_by
                .iter()
                .map(|(r, n)| format!("\"{r}\" {n}"))
                .collect();
            out.push(Finding {
                rule: u.rule.clone(),
                kind: Kind::ShadowedOnData,
                by: u.taken_by.clone(),
                message: format!(
                    "rule \"{}\" never fires: earlier rules take {} its condition holds for on {dataset} ({})",
                    u.rule,
                    if u.matches == 1 {
                        "the one request".to_string()
                    } else {
                        format!("all {} requests", u.matches)
                    },
                    by.join(", ")
                ),
            });
        }
    }
    if default.fires == 0 && default.matches > 0 {
        out.push(Finding {
            rule: "default".into(),
            kind: Kind::DefaultUnreached,
            by: Vec::new(),
            message: format!("[default] never fires: the rules take every request of {dataset}"),
        });
    }
    out
}

/// Rules that can never fire whatever the data: their condition implies an earlier
/// rule's (the first such rule is named).
pub fn static_findings(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for (j, rule) in p.rules.iter().enumerate() {
        if let Some(earlier) = p.rules[..j].iter().find(|e| implies(&rule.when, &e.when)) {
            out.push(Finding {
                rule: rule.name.clone(),
                kind: Kind::ShadowedStatically,
                by: vec![(earlier.name.clone(), 0)],
                message: shadow_message(rule, earlier),
            });
        }
    }
    if let Some(open) = p.rules.iter().find(|r| matches!(r.when, Cond::Always)) {
        out.push(Finding {
            rule: "default".into(),
            kind: Kind::DefaultUnreached,
            by: vec![(open.name.clone(), 0)],
            message: format!(
                "[default] is never reached: rule \"{}\" has no condition",
                open.name
            ),
        });
    }
    out
}

fn shadow_message(rule: &Rule, earlier: &Rule) -> String {
    if matches!(earlier.when, Cond::Always) {
        format!(
            "rule \"{}\" can never fire: the earlier rule \"{}\" has no condition and takes every request",
            rule.name, earlier.name
        )
    } else {
        format!(
            "rule \"{}\" can never fire: every request its condition holds for also meets the earlier rule \"{}\"'s",
            rule.name, earlier.name
        )
    }
}

/// Every finding of a policy: static ones first, then the dataset's (a rule found
/// statically is not listed again).
pub fn all_findings(p: &Policy, usage: Option<(&[RuleUse], &str)>) -> Vec<Finding> {
    let mut out = static_findings(p);
    if let Some((u, name)) = usage {
        for f in data_findings(u, name) {
            if !out.iter().any(|s| s.rule == f.rule) {
                out.push(f);
            }
        }
    }
    out
}

/// Findings as JSON: `rule`, `kind` ([`Kind::name`]), `by` (earlier rules, with the
/// requests they took on the dataset), `message`.
pub fn findings_json(fs: &[Finding]) -> serde_json::Value {
    fs.iter()
        .map(|f| {
            serde_json::json!({
                "rule": f.rule,
                "kind": f.kind.name(),
                "by": f.by.iter().map(|(r, n)| serde_json::json!({"rule": r, "requests": n})).collect::<Vec<_>>(),
                "message": f.message,
            })
        })
        .collect()
}

/// Whether every request meeting `a` meets `b`, provably from the conditions alone
/// (false when unsure).
pub fn implies(a: &Cond, b: &Cond) -> bool {
    match (a, b) {
        (_, Cond::Always) => true,
        (_, Cond::All(bs)) => bs.iter().all(|b| implies(a, b)),
        (Cond::Any(xs), _) => xs.iter().all(|x| implies(x, b)),
        (Cond::All(xs), _) => xs.iter().any(|x| implies(x, b)),
        (_, Cond::Any(bs)) => bs.iter().any(|b| implies(a, b)),
        (
            Cond::Num {
                field: fa,
                test: ta,
                ..
            },
            Cond::Num {
                field: fb,
                test: tb,
                ..
            },
        ) => fa == fb && num_implies(ta, tb),
        (
            Cond::Meta {
                key: ka, ops: oa, ..
            },
            Cond::Meta {
                key: kb, ops: ob, ..
            },
        ) => ka == kb && ob.iter().all(|o| oa.iter().any(|x| meta_op_implies(x, o))),
        (Cond::Text(ta), Cond::Text(tb)) => !ta.label.is_empty() && ta.label == tb.label,
        (
            Cond::Bucket {
                key: ka,
                lo: la,
                hi: ha,
                salt: sa,
            },
            Cond::Bucket {
                key: kb,
                lo: lb,
                hi: hb,
                salt: sb,
            },
        ) => ka == kb && sa == sb && lb <= la && ha <= hb,
        (Cond::Complexity { levels: la, .. }, Cond::Complexity { levels: lb, .. }) => {
            la.iter().all(|l| lb.contains(l))
        }
        (Cond::Not(x), Cond::Not(y)) => implies(y, x),
        _ => false,
    }
}

/// A bound of an interval: value and whether it is included.
type Bnd = (f64, bool);

/// The interval a numeric test accepts (`eq` and `ne` aside): (low, high).
fn interval(t: &NumTest) -> (Bnd, Bnd) {
    let mut lo: Bnd = (f64::NEG_INFINITY, false);
    let mut hi: Bnd = (f64::INFINITY, false);
    let mut raise = |v: f64, incl: bool| {
        if v > lo.0 || (v == lo.0 && !incl) {
            lo = (v, incl);
        }
    };
    if let Some(v) = t.gt {
        raise(v, false);
    }
    if let Some(v) = t.ge {
        raise(v, true);
    }
    if let Some(v) = t.eq {
        raise(v, true);
    }
    let mut lower = |v: f64, incl: bool| {
        if v < hi.0 || (v == hi.0 && !incl) {
            hi = (v, incl);
        }
    };
    if let Some(v) = t.lt {
        lower(v, false);
    }
    if let Some(v) = t.le {
        lower(v, true);
    }
    if let Some(v) = t.eq {
        lower(v, true);
    }
    (lo, hi)
}

/// Whether every number passing `a` passes `b`.
fn num_implies(a: &NumTest, b: &NumTest) -> bool {
    let ((alo, alo_in), (ahi, ahi_in)) = interval(a);
    let below = |v: f64| ahi < v || (ahi == v && !ahi_in); // every x < v
    let at_most = |v: f64| ahi <= v; // every x ≤ v
    let above = |v: f64| alo > v || (alo == v && !alo_in); // every x > v
    let at_least = |v: f64| alo >= v; // every x ≥ v
    b.lt.is_none_or(below)
        && b.le.is_none_or(at_most)
        && b.gt.is_none_or(above)
        && b.ge.is_none_or(at_least)
        && b.eq
            .is_none_or(|v| a.eq == Some(v) || (alo == v && ahi == v && alo_in && ahi_in))
        && b.ne
            .is_none_or(|v| a.ne == Some(v) || below(v) || above(v) || a.eq.is_some_and(|x| x != v))
}

fn values_subset(a: &[MetaValue], b: &[MetaValue]) -> bool {
    a.iter()
        .all(|x| b.iter().any(|y| x.as_text() == y.as_text()))
}

/// Whether a metadata test `x` implies the test `o` on the same field.
fn meta_op_implies(x: &MetaOp, o: &MetaOp) -> bool {
    match (x, o) {
        (MetaOp::In(a), MetaOp::In(b)) => values_subset(a, b),
        (MetaOp::In(a), MetaOp::NotIn(b)) => {
            a.iter().all(|x| !values_subset(std::slice::from_ref(x), b))
        }
        (MetaOp::NotIn(a), MetaOp::NotIn(b)) => values_subset(b, a),
        (MetaOp::Num(a), MetaOp::Num(b)) => num_implies(a, b),
        (MetaOp::Regex(a), MetaOp::Regex(b)) => a.as_str() == b.as_str(),
        (MetaOp::Exists(a), MetaOp::Exists(b)) => a == b,
        // A value test fails on an absent field, so it implies the field exists.
        (MetaOp::In(_) | MetaOp::Num(_) | MetaOp::Regex(_), MetaOp::Exists(true)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tomlx::TomlDoc;

    fn cond(src: &str) -> Cond {
        let text = format!("when = {src}");
        let (mut doc, root) = TomlDoc::parse("p.toml", &text);
        let v = root.get_ref().get("when").expect("when").clone();
        let c = crate::policy::cond::parse_cond(&mut doc, &v, "when");
        assert!(doc.diags.is_empty(), "{:?}", doc.diags);
        c.expect("parses")
    }

    #[test]
    fn numeric_ranges_imply_wider_ranges_on_the_same_field() {
        let lt10 = cond("{ input_chars = { lt = 10 } }");
        let lt30 = cond("{ input_chars = { lt = 30 } }");
        let le10 = cond("{ input_chars = { le = 10 } }");
        assert!(implies(&lt10, &lt30));
        assert!(!implies(&lt30, &lt10));
        assert!(implies(&lt10, &le10));
        assert!(!implies(&le10, &lt10), "10 passes le 10, not lt 10");
        let tok = cond("{ input_tokens = { lt = 10 } }");
        assert!(!implies(&lt10, &tok), "another field");
        let between = cond("{ turns = { between = [2, 4] } }");
        assert!(implies(&between, &cond("{ turns = { gt = 1 } }")));
        assert!(!implies(&between, &cond("{ turns = { gt = 2 } }")));
        assert!(implies(&cond("{ turns = 3 }"), &between));
        assert!(implies(
            &cond("{ turns = 3 }"),
            &cond("{ turns = { ne = 5 } }")
        ));
        assert!(!implies(&between, &cond("{ turns = { ne = 3 } }")));
    }

    fn num_test(bounds: [Option<i8>; 6]) -> NumTest {
        let f = |x: Option<i8>| x.map(|v| v as f64);
        NumTest {
            lt: f(bounds[0]),
            le: f(bounds[1]),
            gt: f(bounds[2]),
            ge: f(bounds[3]),
            eq: f(bounds[4]),
            ne: f(bounds[5]),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, failure_persistence: None, ..Default::default() })]
        /// Soundness: when `num_implies(a, b)` says so, every value passing `a`
        /// passes `b` (checked on a grid of halves around every bound).
        #[test]
        fn numeric_implication_is_sound(
            a in proptest::array::uniform6(proptest::option::weighted(0.4, -4i8..5)),
            b in proptest::array::uniform6(proptest::option::weighted(0.4, -4i8..5)),
        ) {
            let (ta, tb) = (num_test(a), num_test(b));
            if num_implies(&ta, &tb) {
                for k in -14..=14 {
                    let x = k as f64 / 2.0;
                    proptest::prop_assert!(!ta.test(x) || tb.test(x), "x = {x}: {ta:?} ⇒ {tb:?}");
                }
            }
        }
    }

    #[test]
    fn metadata_values_levels_and_composites() {
        let simple = cond("{ meta.task = \"simple\" }");
        let two = cond("{ meta.task = [\"simple\", \"reasoning\"] }");
        assert!(implies(&simple, &two));
        assert!(!implies(&two, &simple));
        assert!(implies(
            &simple,
            &cond("{ meta.task = { ne = \"coding\" } }")
        ));
        assert!(!implies(&simple, &cond("{ meta.plan = \"simple\" }")));
        // Extra conditions narrow: A and B implies A.
        let both = cond("{ meta.task = \"simple\", input_chars = { lt = 5 } }");
        assert!(implies(&both, &simple));
        assert!(!implies(&simple, &both));
        // any: every branch must imply.
        let any = cond("{ any = [ { meta.task = \"simple\" }, { input_chars = { lt = 5 } } ] }");
        assert!(!implies(&any, &simple));
        assert!(implies(&simple, &any));
        assert!(implies(
            &cond("{ complexity = \"simple\" }"),
            &cond("{ complexity = [\"simple\", \"medium\"] }")
        ));
        // Text: only the same test as written.
        let ex = cond("{ input = { contains = \"explain\" } }");
        assert!(implies(&ex, &cond("{ input = \"explain\" }")));
        assert!(!implies(&ex, &cond("{ input = \"Explain it\" }")));
        // not: contraposition.
        assert!(implies(
            &cond("{ not = { meta.task = [\"simple\", \"reasoning\"] } }"),
            &cond("{ not = { meta.task = \"simple\" } }")
        ));
        assert!(implies(&simple, &Cond::Always));
    }
}
