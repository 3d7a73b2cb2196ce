//! `index.html`: one self-contained page (inline CSS, SVG and one small inline
//! script; no network references) with the tables and charts of the report.
//!
//! Every chart is interactive: each policy's marks (points, lines, bars, cells) get
//! an invisible hover target laid over the SVG, carrying the policy's name, what
//! the mark shows, and its figures from the summary (cost, quality with its CI,
//! latency, coverage, errors, fallbacks, top model); the script shows them in a
//! tooltip. Without the script the page reads as before.

use super::build::Analysis;
use super::fmt::{esc, fh, usd};
use super::markdown::{headline, p_text, signed, signed_ms, signed_usd};
use crate::analysis::PolicySummary;
use crate::plot::{ChartFile, HotSpot, Shape};

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
.hot .on{fill:#000;fill-opacity:.12;stroke:#000;stroke-opacity:.35}.hot polyline.on{fill:none}
#tip{position:absolute;display:none;pointer-events:none;background:#fff;border:1px solid #999;border-radius:4px;box-shadow:0 2px 8px rgba(0,0,0,.2);padding:.45rem .6rem;font-size:.85rem;white-space:pre-line;max-width:28rem;z-index:10}
#tip b{display:block;margin-bottom:.2rem}
"#;

/// The tooltip: shows a hover target's text next to the pointer.
const SCRIPT: &str = r#"(function(){var tip=document.getElementById('tip');if(!tip)return;
document.querySelectorAll('.hot [data-tip]').forEach(function(el){
function show(e){var t=el.getAttribute('data-tip').split('\n');tip.textContent='';var b=document.createElement('b');b.textContent=t[0];tip.appendChild(b);tip.appendChild(document.createTextNode(t.slice(1).join('\n')));tip.style.display='block';move(e);el.classList.add('on');}
function move(e){var x=e.pageX+14,y=e.pageY+14,w=tip.offsetWidth;if(x+w>window.scrollX+document.documentElement.clientWidth)x=e.pageX-14-w;tip.style.left=x+'px';tip.style.top=y+'px';}
el.addEventListener('mouseenter',show);el.addEventListener('mousemove',move);
el.addEventListener('mouseleave',function(){tip.style.display='none';el.classList.remove('on');});});})();"#;

/// " (imputed 12.0%)" in a `--missing impute` run, "" otherwise.
fn imputed_suffix(c: &crate::report::tables::RowCells) -> String {
    c.imputed
        .as_ref()
        .map(|x| format!(" (imputed {x})"))
        .unwrap_or_default()
}

/// A policy's figures for its tooltips (one line each).
fn figures(p: &PolicySummary) -> String {
    let c = crate::report::tables::row_cells(p);
    let mut lines = vec![
        format!("cost {} ({} per 1k requests)", c.cost, c.cost_per_1k),
        format!("quality {} {} (95% CI)", c.quality, c.ci),
        format!("latency p50 {}, p95 {}", c.p50, c.p95),
        format!(
            "coverage {}{}, errors {}, fallback {}",
            c.coverage,
            imputed_suffix(&c),
            c.errors,
            c.fallback
        ),
    ];
    if !c.top.is_empty() {
        lines.push(format!("top model {}", c.top));
    }
    lines.join("\n")
}

/// The hover targets of a chart, as an SVG group (its text in `data-tip`: the
/// policy's name, the mark's detail, then the policy's figures).
fn hot_layer(hot: &[HotSpot], summaries: &[PolicySummary]) -> String {
    let mut g = String::from("<g class=\"hot\">");
    for h in hot {
        let figs = summaries
            .iter()
            .find(|s| s.policy == h.policy)
            .map(figures)
            .unwrap_or_default();
        let tip = if h.detail.is_empty() {
            format!("{}\n{figs}", h.policy)
        } else {
            format!("{}\n{}\n{figs}", h.policy, h.detail)
        };
        let attrs = format!(
            "data-policy=\"{}\" data-tip=\"{}\"",
            esc(&h.policy),
            esc(&tip).replace('\n', "&#10;")
        );
        match &h.shape {
            Shape::Circle { x, y, r } => g.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"#000\" fill-opacity=\"0\" {attrs}/>"
            )),
            Shape::Rect { x0, y0, x1, y1 } => g.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#000\" fill-opacity=\"0\" {attrs}/>",
                x0.min(x1),
                y0.min(y1),
                (x1 - x0).abs().max(1),
                (y1 - y0).abs().max(1)
            )),
            Shape::Line(pts) if pts.len() >= 2 => {
                let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x},{y}")).collect();
                g.push_str(&format!(
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"#000\" stroke-opacity=\"0\" stroke-width=\"14\" pointer-events=\"stroke\" {attrs}/>",
                    d.join(" ")
                ));
            }
            Shape::Line(_) => {}
        }
    }
    g.push_str("</g>");
    g
}

/// The chart's SVG with its hover layer on top (inserted before the closing tag).
fn interactive_svg(c: &ChartFile, summaries: &[PolicySummary]) -> String {
    let svg = strip_xml_header(&c.svg);
    match svg.rfind("</svg>") {
        Some(i) if !c.hot.is_empty() => {
            format!("{}{}{}", &svg[..i], hot_layer(&c.hot, summaries), &svg[i..])
        }
        _ => svg.to_string(),
    }
}

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
            "<tr{}><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>\n",
            if p.kind == "baseline" { " class=\"baseline\"" } else { "" },
            esc(&p.policy),
            c.coverage,
            imputed_suffix(&c),
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
    if let Some(o) = &a.offpolicy {
        h.push_str(&super::ope::html(o));
    }
    for c in charts {
        h.push_str(&format!(
            "<h2>{}</h2><div class=\"chart\" id=\"chart-{}\">{}</div>\n",
            esc(&c.title),
            esc(&c.name),
            interactive_svg(c, &a.summaries)
        ));
    }
    if charts.iter().any(|c| !c.hot.is_empty()) {
        h.push_str("<p class=\"note\">Hover a point, line, bar or cell of a chart for the policy and its figures.</p>\n");
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
    h.push_str("<div id=\"tip\" role=\"tooltip\"></div>\n");
    h.push_str(&format!("<script>{SCRIPT}</script>\n"));
    h.push_str("</body></html>\n");
    h
}
