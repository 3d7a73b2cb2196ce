//! The RouteLLM section of a report (a two-model family): `routellm.csv` (one row per
//! router), `routellm.json` (rows with their points and curves), and the section of
//! `report.md`, `index.html` and the terminal. Figures come from
//! [`crate::analysis::routellm`].

use super::fmt::{esc, f, fh, pct};
use crate::analysis::routellm::{RouteLlm, RouterRow};
use serde_json::{Value, json};

/// The definitions shown above the table.
pub const DEFINITIONS: &str = "Strong share: requests answered by the strong model. PGR(q) = (q − weak) / (strong − weak). A router's curve joins its points in order of strong share, anchored at 0% (the weak model alone) and 100% (the strong model alone); APGR is the area under its PGR curve divided by the share range, by trapezoids (RouteLLM's evaluate.py); CPT(x%) is the first strong share at which the curve recovers x% of the gap. Random routing is the analytic straight line (APGR ½); the optimal curve sends the requests with the largest gain to the strong model first (hindsight, an upper bound).";

fn points_range(r: &RouterRow) -> (f64, f64, f64, f64) {
    r.points.iter().fold(
        (f64::NAN, f64::NAN, f64::NAN, f64::NAN),
        |(a, b, c, d), p| {
            (
                a.min(p.share),
                b.max(p.share),
                c.min(p.quality),
                d.max(p.quality),
            )
        },
    )
}

/// `routellm.csv`: one row per router.
pub fn csv(r: &RouteLlm) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record([
        "router",
        "kind",
        "points",
        "strong_share_min",
        "strong_share_max",
        "quality_min",
        "quality_max",
        "cpt50",
        "cpt80",
        "apgr",
    ]);
    for row in &r.rows {
        let (a, b, c, d) = points_range(row);
        let _ = w.write_record([
            row.name.clone(),
            row.kind.label().to_string(),
            row.points.len().to_string(),
            f(a, 4),
            f(b, 4),
            f(c, 4),
            f(d, 4),
            f(row.cpt50, 4),
            f(row.cpt80, 4),
            f(row.apgr, 4),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// `routellm.json`: the family, every router with its points and curve, left-outs.
pub fn json(r: &RouteLlm) -> Vec<u8> {
    let v = json!({
        "strong": r.strong,
        "weak": r.weak,
        "chosen": r.chosen,
        "strong_quality": num(r.strong_quality),
        "weak_quality": num(r.weak_quality),
        "requests": r.requests,
        "routers": r.rows.iter().map(|row| json!({
            "router": row.name,
            "kind": row.kind.label(),
            "cpt50": num(row.cpt50),
            "cpt80": num(row.cpt80),
            "apgr": num(row.apgr),
            "points": row.points.iter().map(|p| json!({
                "policy": p.policy,
                "strong_share": num(p.share),
                "quality": num(p.quality),
                "optimal_quality": num(p.optimal),
            })).collect::<Vec<_>>(),
            "curve": row.curve.iter().map(|(x, y)| json!([num(*x), num(*y)])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "left_out": r.left_out.iter().map(|(p, why)| json!({"policy": p, "reason": why})).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The human cells of a row: points, strong share, quality, CPT(50%), CPT(80%), APGR.
fn cells(row: &RouterRow) -> [String; 6] {
    let (a, b, c, d) = points_range(row);
    let span = |lo: f64, hi: f64, show: &dyn Fn(f64) -> String| {
        if !lo.is_finite() {
            "—".to_string()
        } else if lo == hi {
            show(lo)
        } else {
            format!("{} – {}", show(lo), show(hi))
        }
    };
    [
        if row.points.is_empty() {
            "—".into()
        } else {
            row.points.len().to_string()
        },
        span(a, b, &pct),
        span(c, d, &|x| fh(x, 3)),
        pct(row.cpt50),
        pct(row.cpt80),
        fh(row.apgr, 3),
    ]
}

fn heading(r: &RouteLlm) -> String {
    format!(
        "Strong {} (quality {}), weak {} (quality {}) — {}; {} requests with both answers.",
        r.strong,
        fh(r.strong_quality, 3),
        r.weak,
        fh(r.weak_quality, 3),
        r.chosen,
        r.requests
    )
}

/// The section of `report.md`.
pub fn markdown(r: &RouteLlm) -> String {
    let mut s = String::from("## Two-model routing (RouteLLM metrics)\n\n");
    s.push_str(&heading(r));
    s.push_str("\n\n");
    s.push_str(DEFINITIONS);
    s.push_str("\n\n| router | kind | points | strong share | quality | CPT(50%) | CPT(80%) | APGR |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    for row in &r.rows {
        let c = cells(row);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.name,
            row.kind.label(),
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5]
        ));
    }
    if !r.left_out.is_empty() {
        let l: Vec<String> = r
            .left_out
            .iter()
            .map(|(p, why)| format!("{p} ({why})"))
            .collect();
        s.push_str(&format!("\nLeft out: {}.\n", l.join(", ")));
    }
    s.push_str("\nEvery point, with the optimal quality at its share, is in `routellm.json`.\n\n");
    s
}

/// The section of `index.html`.
pub fn html(r: &RouteLlm) -> String {
    let mut h = String::from("<h2>Two-model routing (RouteLLM metrics)</h2>\n");
    h.push_str(&format!(
        "<p>{}</p><p class=\"note\">{}</p>\n",
        esc(&heading(r)),
        esc(DEFINITIONS)
    ));
    h.push_str("<table><thead><tr><th>router</th><th>kind</th><th>points</th><th>strong share</th><th>quality</th><th>CPT(50%)</th><th>CPT(80%)</th><th>APGR</th></tr></thead><tbody>\n");
    for row in &r.rows {
        let c = cells(row);
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&row.name),
            row.kind.label(),
            c[0],
            esc(&c[1]),
            esc(&c[2]),
            c[3],
            c[4],
            c[5]
        ));
    }
    h.push_str("</tbody></table>\n");
    if !r.left_out.is_empty() {
        let l: Vec<String> = r
            .left_out
            .iter()
            .map(|(p, why)| format!("{p} ({why})"))
            .collect();
        h.push_str(&format!(
            "<p class=\"note\">Left out: {}.</p>\n",
            esc(&l.join(", "))
        ));
    }
    h
}

/// The terminal table.
pub fn terminal(r: &RouteLlm) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "router".into(),
        "points".into(),
        "strong share".into(),
        "quality".into(),
        "CPT(50%)".into(),
        "CPT(80%)".into(),
        "APGR".into(),
    ]];
    for row in &r.rows {
        let c = cells(row);
        rows.push([
            row.name.clone(),
            c[0].clone(),
            c[1].clone(),
            c[2].clone(),
            c[3].clone(),
            c[4].clone(),
            c[5].clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = format!("RouteLLM metrics: {}\n", heading(r));
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i] - c.chars().count();
                if i == 0 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}
