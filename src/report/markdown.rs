//! `report.md`: a report ready to paste into a pull request.

use super::build::Analysis;
use super::fmt::{f, fh, ms, pct, usd};
use crate::analysis::tradeoff::Comparison;
use crate::plot::ChartFile;

pub(crate) fn signed(x: f64, d: usize) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 0.0 {
        format!("+{}", f(x, d))
    } else {
        f(x, d)
    }
}

pub(crate) fn signed_usd(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 0.0 {
        format!("+${}", f(x, 6))
    } else {
        format!("-${}", f(-x, 6))
    }
}

pub(crate) fn signed_ms(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 0.0 {
        format!("+{}", ms(x))
    } else {
        format!("-{}", ms(-x))
    }
}

pub(crate) fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "—".into()
    } else if p < 0.001 {
        "< 0.001".into()
    } else {
        f(p, 3)
    }
}

/// "p < 0.001" or "p = 0.012".
fn p_phrase(label: &str, p: f64) -> String {
    let t = p_text(p);
    if t.starts_with('<') {
        format!("{label} {t}")
    } else {
        format!("{label} = {t}")
    }
}

/// One sentence per policy: the change against the baseline, with its uncertainty.
pub fn headline(a: &Analysis, c: &Comparison) -> String {
    let find = |p: &str| a.summaries.iter().find(|s| s.policy == p);
    let (Some(sp), Some(sb)) = (find(&c.policy), find(&c.baseline)) else {
        return String::new();
    };
    let rel = if sb.cost_per_1k > 0.0 {
        (sp.cost_per_1k / sb.cost_per_1k - 1.0) * 100.0
    } else {
        f64::NAN
    };
    let verdict = if c.p_quality_holm < 0.05 {
        "significant"
    } else {
        "not significant"
    };
    format!(
        "**{}** vs {}: cost {}% ({} vs {} per 1k requests), quality {} (95% CI {} to {}; {}, {}), p95 latency {}",
        c.policy,
        c.baseline,
        signed(rel, 1),
        usd(sp.cost_per_1k),
        usd(sb.cost_per_1k),
        signed(c.quality.delta, 3),
        signed(c.quality.lo, 3),
        signed(c.quality.hi, 3),
        verdict,
        p_phrase("Holm p", c.p_quality_holm),
        signed_ms(c.p95.delta),
    )
}

/// Render `report.md`.
pub fn render(a: &Analysis, charts: &[ChartFile]) -> String {
    let o = &a.opts;
    let mut s = String::new();
    s.push_str(&format!("# routesim report: {}\n\n", o.title));
    s.push_str(&format!(
        "{} requests × {} policies. Seed {}, {} bootstrap resamples. Baseline for comparisons: {}.\n\n",
        o.n_requests,
        a.summaries.len(),
        o.seed,
        o.bootstrap,
        o.baseline.as_deref().unwrap_or("none"),
    ));
    if !a.comparisons.is_empty() {
        s.push_str("## Headline\n\n");
        for c in &a.comparisons {
            s.push_str(&format!("- {}\n", headline(a, c)));
        }
        s.push('\n');
    }
    s.push_str("## Policies\n\n");
    s.push_str("| policy | coverage | cost / 1k req | quality [95% CI] | p50 | p95 | errors | fallback | top model |\n");
    s.push_str("|---|---:|---:|---|---:|---:|---:|---:|---|\n");
    for p in &a.summaries {
        let top = crate::report::tables::top_model(p);
        s.push_str(&format!(
            "| {} | {} | {} | {} [{}, {}] | {} | {} | {} | {} | {} |\n",
            p.policy,
            pct(p.coverage),
            usd(p.cost_per_1k),
            fh(p.quality_mean, 3),
            fh(p.quality_lo, 3),
            fh(p.quality_hi, 3),
            ms(p.latency_p50),
            ms(p.latency_p95),
            pct(1.0 - p.success_rate),
            pct(p.fallback_rate),
            top
        ));
    }
    s.push('\n');
    if !a.comparisons.is_empty() {
        s.push_str(&format!(
            "## Paired comparison with {}\n\n",
            o.baseline.as_deref().unwrap_or("")
        ));
        s.push_str("Same requests on both sides; 95% paired-bootstrap intervals; quality p-values are McNemar's test for 0/1 quality, bootstrap otherwise, Holm-corrected over the policies compared.\n\n");
        s.push_str("| policy | pairs | Δ quality [95% CI] | p | p (Holm) | Δ cost / request [95% CI] | Δ p95 latency [95% CI] |\n");
        s.push_str("|---|---:|---|---:|---:|---|---|\n");
        for c in &a.comparisons {
            s.push_str(&format!(
                "| {} | {} | {} [{}, {}] | {} | {} | {} [{}, {}] | {} [{}, {}] |\n",
                c.policy,
                c.quality.n,
                signed(c.quality.delta, 3),
                signed(c.quality.lo, 3),
                signed(c.quality.hi, 3),
                p_text(c.p_quality),
                p_text(c.p_quality_holm),
                signed_usd(c.cost.delta),
                signed_usd(c.cost.lo),
                signed_usd(c.cost.hi),
                signed_ms(c.p95.delta),
                signed_ms(c.p95.lo),
                signed_ms(c.p95.hi),
            ));
        }
        s.push('\n');
    }
    let t = &a.tradeoff;
    s.push_str("## Cost–quality trade-off\n\n");
    s.push_str(&format!(
        "- Pareto frontier (cheapest first): {}\n",
        t.frontier.join(" → ")
    ));
    s.push_str(&format!(
        "- AIQ (RouterBench; mean of the non-decreasing convex hull over {} – {} per 1k requests): single models {}, with every policy {}\n\n",
        usd(t.cost_range.0),
        usd(t.cost_range.1),
        fh(t.aiq_single_models, 4),
        fh(t.aiq_all, 4)
    ));
    if !a.segments.is_empty() {
        s.push_str("## Segments\n\n");
        s.push_str("| policy | segment | requests | cost / 1k req | quality | p95 |\n|---|---|---:|---:|---:|---:|\n");
        for g in a.segments.iter().filter(|g| {
            a.summaries
                .iter()
                .any(|p| p.policy == g.policy && p.kind == "policy")
        }) {
            s.push_str(&format!(
                "| {} | {}={} | {} | {} | {} | {} |\n",
                g.policy,
                g.key,
                g.value,
                g.covered,
                usd(g.cost_per_1k),
                fh(g.quality_mean, 3),
                ms(g.latency_p95)
            ));
        }
        s.push_str("\nEvery policy and baseline is in `segments.csv`.\n\n");
    }
    if !charts.is_empty() {
        s.push_str("## Charts\n\n");
        for c in charts {
            s.push_str(&format!("![{}](charts/{}.png)\n\n", c.title, c.name));
        }
    }
    let rules: Vec<String> = a
        .summaries
        .iter()
        .flat_map(|p| {
            p.rule_hits
                .iter()
                .filter(|(r, n)| *n == 0 && r != "default")
                .map(move |(r, _)| format!("{}: {r}", p.policy))
        })
        .collect();
    if !o.notes.is_empty() || !rules.is_empty() {
        s.push_str("## Notes\n\n");
        for n in &o.notes {
            s.push_str(&format!("- {n}\n"));
        }
        if !rules.is_empty() {
            s.push_str(&format!("- rules that never fired: {}\n", rules.join(", ")));
        }
        s.push('\n');
    }
    s
}
