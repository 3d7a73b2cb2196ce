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

/// One sentence per policy: the change against the baseline on the requests both
/// cover (costs, quality and latency all on that same set), with its uncertainty.
pub fn headline(a: &Analysis, c: &Comparison) -> String {
    let st = &c.stats;
    let (ca, cb) = st.cost_means;
    let on = if st.pairs < a.opts.n_requests {
        format!(
            " on the {} of {} requests both cover",
            st.pairs, a.opts.n_requests
        )
    } else {
        String::new()
    };
    let cost = if ca.is_finite() && cb.is_finite() {
        let rel = if cb > 0.0 {
            (ca / cb - 1.0) * 100.0
        } else {
            f64::NAN
        };
        format!(
            "cost {}% ({} vs {} per 1k requests{on})",
            signed(rel, 1),
            usd(ca * 1000.0),
            usd(cb * 1000.0),
        )
    } else {
        format!("cost unknown (a model has no price){on}")
    };
    let quality = if st.quality.delta.is_finite() {
        let verdict = if !c.p_quality_holm.is_finite() {
            "not tested"
        } else if c.p_quality_holm < 0.05 {
            "significant"
        } else {
            "not significant"
        };
        format!(
            "quality {} (95% CI {} to {}; {}, {})",
            signed(st.quality.delta, 3),
            signed(st.quality.lo, 3),
            signed(st.quality.hi, 3),
            verdict,
            p_phrase("Holm p", c.p_quality_holm),
        )
    } else {
        "quality not compared (no quality labels)".to_string()
    };
    format!(
        "**{}** vs {}: {cost}, {quality}, p95 latency {}{}",
        c.policy,
        c.baseline,
        signed_ms(st.p95.delta),
        imputed_phrase(a, c),
    )
}

/// "; imputed 12.0% vs 0.0%" when either side of a comparison used imputed cells
/// (its intervals then include their estimation error); "" otherwise.
fn imputed_phrase(a: &Analysis, c: &Comparison) -> String {
    let share = |name: &str| {
        a.summaries
            .iter()
            .find(|s| s.policy == name)
            .and_then(|s| s.imputed_share)
    };
    match (share(&c.policy), share(&c.baseline)) {
        (Some(x), Some(y)) if x > 0.0 || y > 0.0 => {
            format!("; imputed {} vs {}", pct(x), pct(y))
        }
        _ => String::new(),
    }
}

/// Notes every format shows: what a figure leaves out or assumes.
pub fn figure_notes(a: &Analysis) -> Vec<String> {
    let mut notes = Vec::new();
    for p in &a.summaries {
        if p.labelled_share.is_finite() && p.labelled_share < 1.0 && p.labelled_share > 0.0 {
            notes.push(format!(
                "{}: {} of successful answers carry a quality label; its quality assumes the others are like them",
                p.policy,
                pct(p.labelled_share)
            ));
        }
        if p.rejected_rate > 0.0 {
            notes.push(format!(
                "{}: the gateway refused {} of requests without calling a provider (budget, context window, cooldowns, rate limits); they count as errors but not in latency",
                p.policy,
                pct(p.rejected_rate)
            ));
        }
        if p.covered > 0 && !p.cost_total.is_finite() {
            notes.push(format!(
                "{}: cost unknown (a model it used has no price and its cells no recorded cost)",
                p.policy
            ));
        }
    }
    let t = &a.tradeoff;
    if !t.left_out.is_empty() {
        notes.push(format!(
            "left out of the frontier and AIQ (compared on the {} requests the others cover): {}",
            t.requests,
            t.left_out
                .iter()
                .map(|(p, why)| format!("{p} ({why})"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    notes
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
    let imputed = crate::report::tables::has_imputed(&a.summaries);
    let (imp_head, imp_rule) = if imputed {
        (" imputed |", "---:|")
    } else {
        ("", "")
    };
    s.push_str(&format!("| policy | coverage |{imp_head} cost / 1k req | quality [95% CI] | p50 | p95 | errors | fallback | top model |\n"));
    s.push_str(&format!(
        "|---|---:|{imp_rule}---:|---|---:|---:|---:|---:|---|\n"
    ));
    for p in &a.summaries {
        let c = crate::report::tables::row_cells(p);
        let imp = c
            .imputed
            .as_ref()
            .map(|x| format!(" {x} |"))
            .unwrap_or_default();
        s.push_str(&format!(
            "| {} | {} |{imp} {} | {} {} | {} | {} | {} | {} | {} |\n",
            p.policy,
            c.coverage,
            c.cost_per_1k,
            c.quality,
            c.ci,
            c.p50,
            c.p95,
            c.errors,
            c.fallback,
            c.top
        ));
    }
    s.push('\n');
    if !a.comparisons.is_empty() {
        s.push_str(&format!(
            "## Paired comparison with {}\n\n",
            o.baseline.as_deref().unwrap_or("")
        ));
        s.push_str("Same requests on both sides; 95% intervals by paired bootstrap up to 10,000 pairs and by the normal approximation above (Δp95: m-out-of-n bootstrap); quality p-values are McNemar's test for 0/1 quality, otherwise from the same resamples or approximation, Holm-corrected over the policies compared.\n\n");
        s.push_str("| policy | pairs | Δ quality [95% CI] | p | p (Holm) | Δ cost / request [95% CI] | Δ p95 latency [95% CI] |\n");
        s.push_str("|---|---:|---|---:|---:|---|---|\n");
        for c in &a.comparisons {
            s.push_str(&format!(
                "| {} | {} | {} [{}, {}] | {} | {} | {} [{}, {}] | {} [{}, {}] |\n",
                c.policy,
                c.stats.pairs,
                signed(c.stats.quality.delta, 3),
                signed(c.stats.quality.lo, 3),
                signed(c.stats.quality.hi, 3),
                p_text(c.stats.p_quality),
                p_text(c.p_quality_holm),
                signed_usd(c.stats.cost.delta),
                signed_usd(c.stats.cost.lo),
                signed_usd(c.stats.cost.hi),
                signed_ms(c.stats.p95.delta),
                signed_ms(c.stats.p95.lo),
                signed_ms(c.stats.p95.hi),
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
    if let Some(r) = &a.routellm {
        s.push_str(&super::routellm::markdown(r));
    }
    if let Some(o) = &a.offpolicy {
        s.push_str(&super::ope::markdown(o));
    }
    if !a.segments.is_empty() {
        s.push_str("## Segments\n\n");
        let imputed = a.segments.iter().any(|g| g.imputed_share.is_some());
        s.push_str(if imputed {
            "| policy | segment | requests | imputed | cost / 1k req | quality | p95 |\n|---|---|---:|---:|---:|---:|---:|\n"
        } else {
            "| policy | segment | requests | cost / 1k req | quality | p95 |\n|---|---|---:|---:|---:|---:|\n"
        });
        for g in a
            .segments
            .iter()
            .filter(|g| a.kind_of(&g.policy).is_some_and(|k| !k.is_baseline()))
        {
            let imp = g
                .imputed_share
                .map(|x| format!(" {} |", pct(x)))
                .unwrap_or_default();
            s.push_str(&format!(
                "| {} | {}={} | {} |{imp} {} | {} | {} |\n",
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
    let figure_notes = figure_notes(a);
    if !o.notes.is_empty() || !rules.is_empty() || !figure_notes.is_empty() {
        s.push_str("## Notes\n\n");
        for n in o.notes.iter().chain(&figure_notes) {
            s.push_str(&format!("- {n}\n"));
        }
        if !rules.is_empty() {
            s.push_str(&format!("- rules that never fired: {}\n", rules.join(", ")));
        }
        s.push('\n');
    }
    s
}
