//! `routesim compare A B`: two report folders, policy by policy.
//!
//! Policies with the same name are paired request by request (same request ids) from
//! the two trace folders: every figure (cost, quality, Δs) is on the requests
//! both runs covered. Δ quality and Δ cost per request get paired-bootstrap
//! intervals, quality differences a p-value (McNemar for 0/1 quality, bootstrap
//! otherwise), Holm-corrected over the policies compared.

use super::fmt::{f, fh, ms, usd};
use crate::analysis::stats::{Paired, holm};
use crate::analysis::tradeoff::{Outcomes, paired_stats};
use crate::util::hash::stable_hash;
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

/// One policy present in both reports.
#[derive(Debug, Clone)]
pub struct Delta {
    /// Policy.
    pub policy: String,
    /// Requests paired.
    pub pairs: usize,
    /// Cost per 1k requests in A and B, on the paired requests.
    pub cost_per_1k: (f64, f64),
    /// Quality in A and B, on the paired requests.
    pub quality: (f64, f64),
    /// B − A quality, paired.
    pub d_quality: Paired,
    /// p-value of the quality change.
    pub p: f64,
    /// Holm-adjusted.
    pub p_holm: f64,
    /// B − A cost per request, paired.
    pub d_cost: Paired,
    /// B − A p95 latency, paired.
    pub d_p95: Paired,
}

/// Every policy's covered outcomes in a report folder, by name.
fn load(dir: &Path) -> Result<HashMap<String, Outcomes>> {
    let r = super::open_report(dir)?;
    let mut out = HashMap::new();
    for p in 0..r.ctx.policies.len() {
        let t = super::build::PolicySource::load(&r.source, &[p])?;
        let t = &t[0];
        let v = crate::analysis::table::PolicyView {
            p,
            rows: &t.rows,
            arrivals: &t.arrivals,
        };
        out.insert(
            r.ctx.policies[p].name.clone(),
            Outcomes::of_policy(&r.ctx, v),
        );
    }
    Ok(out)
}

/// Compare two report folders (policies present in both, by name).
pub fn compare(a: &Path, b: &Path, resamples: usize, seed: u64) -> Result<Vec<Delta>> {
    let (sa, sb) = (load(a)?, load(b)?);
    let mut names: Vec<&String> = sa.keys().filter(|k| sb.contains_key(*k)).collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        // Deltas are B − A, on the requests both runs covered.
        let (y, x) = sb[name].pair_with(&sa[name]);
        let st = paired_stats(&y, &x, resamples, seed ^ stable_hash(name.as_bytes()));
        out.push(Delta {
            policy: name.clone(),
            pairs: st.pairs,
            cost_per_1k: (st.cost_means.1 * 1000.0, st.cost_means.0 * 1000.0),
            quality: (st.quality_values.1, st.quality_values.0),
            d_quality: st.quality,
            p: st.p_quality,
            p_holm: f64::NAN,
            d_cost: st.cost,
            d_p95: st.p95,
        });
    }
    let adj = holm(&out.iter().map(|d| d.p).collect::<Vec<_>>());
    for (d, p) in out.iter_mut().zip(adj) {
        d.p_holm = p;
    }
    Ok(out)
}

/// The deltas as JSON (`routesim compare --json`): the figures of the Markdown table,
/// unrounded (to 1e-8 like the CSV); field names documented in the README.
pub fn json(a: &Path, b: &Path, deltas: &[Delta]) -> serde_json::Value {
    use super::tables::jnum;
    let paired =
        |x: &Paired| serde_json::json!({"delta": jnum(x.delta), "ci95": [jnum(x.lo), jnum(x.hi)]});
    serde_json::json!({
        "a": a.display().to_string(),
        "b": b.display().to_string(),
        "policies": deltas.iter().map(|d| serde_json::json!({
            "policy": d.policy,
            "pairs": d.pairs,
            "cost_per_1k_usd": {"a": jnum(d.cost_per_1k.0), "b": jnum(d.cost_per_1k.1)},
            "quality": {"a": jnum(d.quality.0), "b": jnum(d.quality.1)},
            "d_quality": {"delta": jnum(d.d_quality.delta), "ci95": [jnum(d.d_quality.lo), jnum(d.d_quality.hi)], "p": jnum(d.p), "p_holm": jnum(d.p_holm)},
            "d_cost_per_request_usd": paired(&d.d_cost),
            "d_p95_ms": paired(&d.d_p95),
        })).collect::<Vec<_>>(),
    })
}

/// Markdown table of the deltas.
pub fn markdown(a: &Path, b: &Path, deltas: &[Delta]) -> String {
    let mut s = format!(
        "# routesim compare\n\nA = `{}`, B = `{}`; deltas are B − A on the same requests (95% paired-bootstrap CI; Holm-corrected p-values).\n\n",
        a.display(),
        b.display()
    );
    s.push_str("| policy | pairs | cost / 1k A → B | quality A → B | Δ quality [95% CI] | p (Holm) | Δ cost / request [95% CI] | Δ p95 |\n|---|---:|---|---|---|---:|---|---:|\n");
    for d in deltas {
        s.push_str(&format!(
            "| {} | {} | {} → {} | {} → {} | {} [{}, {}] | {} | {} [{}, {}] | {} |\n",
            d.policy,
            d.pairs,
            usd(d.cost_per_1k.0),
            usd(d.cost_per_1k.1),
            fh(d.quality.0, 3),
            fh(d.quality.1, 3),
            f(d.d_quality.delta, 3),
            f(d.d_quality.lo, 3),
            f(d.d_quality.hi, 3),
            fh(d.p_holm, 3),
            f(d.d_cost.delta, 6),
            f(d.d_cost.lo, 6),
            f(d.d_cost.hi, 6),
            ms(d.d_p95.delta),
        ));
    }
    if deltas.is_empty() {
        s.push_str("\nNo policy name appears in both reports.\n");
    }
    s
}

/// The same table as a self-contained HTML page.
pub fn html(md: &str) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>routesim compare</title><style>body{font-family:system-ui,\"DejaVu Sans\",sans-serif;max-width:1200px;margin:2rem auto}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>\n",
    );
    let mut in_table = false;
    for line in md.lines() {
        if let Some(t) = line.strip_prefix("# ") {
            h.push_str(&format!("<h1>{}</h1>\n", esc(t)));
        } else if line.starts_with("|---") {
            continue;
        } else if line.starts_with('|') {
            if !in_table {
                h.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<&str> = line
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim())
                .collect();
            h.push_str("<tr>");
            for c in cells {
                h.push_str(&format!("<td>{}</td>", esc(c)));
            }
            h.push_str("</tr>\n");
        } else {
            if in_table {
                h.push_str("</table>\n");
                in_table = false;
            }
            if !line.is_empty() {
                h.push_str(&format!("<p>{}</p>\n", esc(line)));
            }
        }
    }
    if in_table {
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
