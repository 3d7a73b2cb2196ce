//! The off-policy section of a report: `ope.csv` (one row per policy × outcome ×
//! estimator, with the overlap diagnostics), and the sections of `report.md`,
//! `index.html` and the terminal. Figures come from [`crate::analysis::ope`].

use super::fmt::{esc, f, fh};
use crate::analysis::offpolicy::{METRICS, OffPolicy, OpeRow};
use crate::analysis::ope::{Interval, MAX_UNSUPPORTED, MIN_ESS, MIN_MATCHED};

/// What the estimates mean, shown above the tables.
pub fn definitions(o: &OffPolicy) -> String {
    format!(
        "Estimated from the log of {} with the propensity production's router gave each pick ({} requests with one): what each policy's picks would have got, had production's calls after the pick (retries, fallbacks) stayed as logged. IPS weighs each logged outcome by 1[policy's pick = logged pick] / propensity; SNIPS divides by the sum of the weights; DR adds a reward model (the mean logged outcome per segment and model, cross-fitted over two halves of the requests). 95% intervals are normal. ESS is the effective sample size (Σw)²/Σw². An estimate is refused when fewer than {MIN_MATCHED} requests agree with the log, the ESS is below {MIN_ESS}, or more than {:.0}% of the policy's picks are models the log never picked.",
        o.logged,
        o.with_propensity,
        MAX_UNSUPPORTED * 100.0
    )
}

/// Decimals of an outcome's figures.
fn decimals(metric: usize) -> usize {
    match metric {
        0 | 3 => 4,
        1 => 6,
        _ => 1,
    }
}

/// `ope.csv`: one row per policy, outcome and estimator; refused rows have empty
/// figures and the reason.
pub fn csv(o: &OffPolicy) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record([
        "policy",
        "metric",
        "estimator",
        "estimate",
        "ci_low",
        "ci_high",
        "se",
        "requests",
        "used",
        "matched",
        "ess",
        "max_weight",
        "min_propensity",
        "unsupported_share",
        "refused",
    ]);
    for row in &o.rows {
        let ov = &row.eval.overlap;
        let d = decimals(row.metric) + 2;
        let diag = [
            ov.requests.to_string(),
            ov.used.to_string(),
            ov.matched.to_string(),
            f(ov.ess, 2),
            f(ov.max_weight, 4),
            f(ov.min_propensity, 4),
            f(ov.unsupported, 4),
        ];
        let est: [(&str, Option<Interval>); 3] = match &row.eval.result {
            Ok(e) => [
                ("ips", Some(e.ips)),
                ("snips", Some(e.snips)),
                ("dr", Some(e.dr)),
            ],
            Err(_) => [("ips", None), ("snips", None), ("dr", None)],
        };
        for (name, iv) in est {
            let mut rec = vec![
                row.policy.clone(),
                METRICS[row.metric].0.to_string(),
                name.to_string(),
            ];
            match iv {
                Some(iv) => rec.extend([f(iv.value, d), f(iv.lo, d), f(iv.hi, d), f(iv.se, d)]),
                None => rec.extend(std::iter::repeat_n(String::new(), 4)),
            }
            rec.extend(diag.iter().cloned());
            rec.push(row.eval.result.as_ref().err().cloned().unwrap_or_default());
            let _ = w.write_record(&rec);
        }
    }
    w.into_inner().unwrap_or_default()
}

/// The DR cell of a row: "estimate [lo, hi]", or "refused".
fn dr_cell(row: &OpeRow) -> String {
    match &row.eval.result {
        Ok(e) => {
            let d = decimals(row.metric);
            format!(
                "{} [{}, {}]",
                fh(e.dr.value, d),
                fh(e.dr.lo, d),
                fh(e.dr.hi, d)
            )
        }
        Err(_) => "refused".into(),
    }
}

/// Rows of the human tables: (policy, outcome, DR cell, matched, ESS, refusal).
fn table_rows(o: &OffPolicy) -> Vec<[String; 6]> {
    o.rows
        .iter()
        .map(|row| {
            [
                row.policy.clone(),
                METRICS[row.metric].1.to_string(),
                dr_cell(row),
                row.eval.overlap.matched.to_string(),
                fh(row.eval.overlap.ess, 1),
                row.eval.result.as_ref().err().cloned().unwrap_or_default(),
            ]
        })
        .collect()
}

/// The section of `report.md`.
pub fn markdown(o: &OffPolicy) -> String {
    let mut s = String::from("## Counterfactuals: off-policy estimates\n\n");
    s.push_str(&definitions(o));
    s.push_str("\n\n| policy | outcome | doubly robust [95% CI] | matched | ESS | refused because |\n|---|---|---:|---:|---:|---|\n");
    for r in table_rows(o) {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s.push_str("\nIPS and SNIPS, with every diagnostic, are in `ope.csv`.\n\n");
    s
}

/// The section of `index.html`.
pub fn html(o: &OffPolicy) -> String {
    let mut h = String::from("<h2>Counterfactuals: off-policy estimates</h2>\n");
    h.push_str(&format!("<p class=\"note\">{}</p>\n", esc(&definitions(o))));
    h.push_str("<table id=\"ope\"><thead><tr><th>policy</th><th>outcome</th><th>doubly robust [95% CI]</th><th>matched</th><th>ESS</th><th>refused because</th></tr></thead><tbody>\n");
    for r in table_rows(o) {
        h.push_str("<tr>");
        for c in &r {
            h.push_str(&format!("<td>{}</td>", esc(c)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
    h
}

/// The terminal lines: a heading, then one line per policy and outcome (the user
/// policies, or every target when the run has none; all of them are in `ope.csv`).
pub fn terminal(o: &OffPolicy) -> String {
    let any_user = o.rows.iter().any(|r| r.user);
    let shown: Vec<&OpeRow> = o.rows.iter().filter(|r| r.user || !any_user).collect();
    let policies = {
        let mut p: Vec<&str> = shown.iter().map(|r| r.policy.as_str()).collect();
        p.dedup();
        p.len()
    };
    let mut s = format!(
        "off-policy estimates from the logged propensities, {policies} {} (doubly robust; IPS, SNIPS and the baselines in ope.csv):\n",
        if policies == 1 { "policy" } else { "policies" }
    );
    for row in shown {
        let what = match &row.eval.result {
            Ok(_) => format!(
                "{}  (ESS {:.0}, {} matched)",
                dr_cell(row),
                row.eval.overlap.ess,
                row.eval.overlap.matched
            ),
            Err(why) => format!("refused: {why}"),
        };
        s.push_str(&format!(
            "  {} {}: {}\n",
            row.policy, METRICS[row.metric].1, what
        ));
    }
    s
}
