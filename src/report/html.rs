//! `index.html`: one self-contained page (inline CSS and SVG, no scripts, no network
//! references) with the tables and charts of the report.

use super::build::Analysis;
use super::fmt::{fh, usd};
use super::markdown::{headline, p_text, signed, signed_ms, signed_usd};
use crate::plot::ChartFile;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown bold (`**x**`) to HTML.
fn md_inline(s: &str) -> String {
    let e = esc(s);
    let mut out = String::new();
    let mut bold = false;
    for (i, part) in e.split("**").enumerate() {
        if i > 0 {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
        }
        out.push_str(part);
    }
    out
}

fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2rem auto;max-width:1400px;color:#222;padding:0 1rem}
.scroll{overflow-x:auto}
td.wrap{white-space:normal;text-align:left}
h1{font-size:1.8rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:.8rem 0}
th,td{padding:.35rem .55rem;border-bottom:1px solid #e5e5e5;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f6f6f6}
tr.baseline td{color:#666}
.chart{margin:1.2rem 0}.chart svg{width:100%;height:auto;border:1px solid #eee}
.note{color:#555;font-size:.9rem}
ul.headline li{margin:.4rem 0}
"#;

/// Render the page.
pub fn render(a: &Analysis, charts: &[ChartFile]) -> String {
    let o = &a.opts;
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!(
        "<title>routesim report: {}</title><style>{CSS}</style></head><body>\n",
        esc(&o.title)
    ));
    h.push_str(&format!("<h1>routesim report: {}</h1>\n", esc(&o.title)));
    h.push_str(&format!(
        "<p class=\"note\">{} requests × {} policies · seed {} · {} bootstrap resamples · baseline {}</p>\n",
        o.n_requests,
        a.summaries.len(),
        o.seed,
        o.bootstrap,
        esc(o.baseline.as_deref().unwrap_or("none"))
    ));
    if !a.comparisons.is_empty() {
        h.push_str("<h2>Headline</h2><ul class=\"headline\">\n");
        for c in &a.comparisons {
            h.push_str(&format!("<li>{}</li>\n", md_inline(&headline(a, c))));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>Policies</h2><div class=\"scroll\"><table><thead><tr><th>policy</th><th>coverage</th><th>cost</th><th>cost / 1k req</th><th>quality</th><th>95% CI</th><th>p50</th><th>p95</th><th>errors</th><th>fallback</th><th>top model</th></tr></thead><tbody>\n");
    for p in &a.summaries {
        let c = crate::report::tables::row_cells(p);
        h.push_str(&format!(
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>\n",
            if p.kind == "baseline" { " class=\"baseline\"" } else { "" },
            esc(&p.policy),
            c.coverage,
            c.cost,
            c.cost_per_1k,
            c.quality,
            c.ci,
            c.p50,
            c.p95,
            c.errors,
            c.fallback,
            esc(&c.top)
        ));
    }
    h.push_str("</tbody></table></div>\n");
    if !a.comparisons.is_empty() {
        h.push_str(&format!("<h2>Paired comparison with {}</h2>\n<p class=\"note\">Same requests on both sides; 95% intervals by paired bootstrap up to 10,000 pairs and by the normal approximation above (Δp95: m-out-of-n bootstrap); quality p-values are McNemar's test for 0/1 quality, otherwise from the same resamples or approximation, Holm-corrected.</p>\n", esc(o.baseline.as_deref().unwrap_or(""))));
        h.push_str("<table><thead><tr><th>policy</th><th>pairs</th><th>Δ quality</th><th>95% CI</th><th>p (Holm)</th><th>Δ cost / request</th><th>Δ p95</th></tr></thead><tbody>\n");
        for c in &a.comparisons {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&c.policy),
                c.stats.pairs,
                signed(c.stats.quality.delta, 3),
                signed(c.stats.quality.lo, 3),
                signed(c.stats.quality.hi, 3),
                esc(&p_text(c.p_quality_holm)),
                signed_usd(c.stats.cost.delta),
                signed_ms(c.stats.p95.delta)
            ));
        }
        h.push_str("</tbody></table>\n");
    }
    let t = &a.tradeoff;
    h.push_str(&format!(
        "<h2>Cost–quality trade-off</h2><p>Pareto frontier: {}.<br>AIQ over {} – {} per 1k requests: single models {}, with every policy {}.</p>\n",
        esc(&t.frontier.join(" → ")),
        usd(t.cost_range.0),
        usd(t.cost_range.1),
        fh(t.aiq_single_models, 4),
        fh(t.aiq_all, 4)
    ));
    if let Some(r) = &a.routellm {
        h.push_str(&super::routellm::html(r));
    }
    for c in charts {
        h.push_str(&format!(
            "<h2>{}</h2><div class=\"chart\">{}</div>\n",
            esc(&c.title),
            strip_xml_header(&c.svg)
        ));
    }
    let figure_notes = super::markdown::figure_notes(a);
    if !o.notes.is_empty() || !figure_notes.is_empty() {
        h.push_str("<h2>Notes</h2><ul class=\"note\">\n");
        for n in o.notes.iter().chain(&figure_notes) {
            h.push_str(&format!("<li>{}</li>\n", esc(n)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<p class=\"note\">Files: summary.csv, summary.json, segments.csv, trace/ (Parquet per policy), manifest.json, report.md, charts/.</p>\n");
    h.push_str("</body></html>\n");
    h
}
