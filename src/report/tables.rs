//! Tables: `summary.csv`, `segments.csv`, `summary.json`, and the terminal table.
//! Each renders to bytes; [`super::write`] puts them on disk.

use super::fmt::{f, fh, ms, pct, usd};
use crate::analysis::{PolicySummary, SegmentSummary};

/// Column names of `summary.csv`.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "policy",
    "kind",
    "requests",
    "covered",
    "coverage",
    "success_rate",
    "rejected_rate",
    "cost_total_usd",
    "cost_per_1k_usd",
    "cost_per_success_usd",
    "quality_mean",
    "quality_ci_lo",
    "quality_ci_hi",
    "quality_n",
    "labelled_share",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "fallback_rate",
    "retry_rate",
    "cache_rate",
    "escalation_rate",
    "truncated_rate",
    "attempts_mean",
    "model_mix",
    "rule_hits",
];

fn csv_bytes(header: &[&str], rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(header).expect("in-memory write");
    for r in rows {
        w.write_record(&r).expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

/// Whether the run imputed cells (`--missing impute`): its tables then carry an
/// `imputed_share` column, left out otherwise.
pub fn has_imputed(s: &[PolicySummary]) -> bool {
    s.iter().any(|p| p.imputed_share.is_some())
}

/// `summary.csv` (with `imputed_share` last in a `--missing impute` run).
pub fn summary_csv(s: &[PolicySummary]) -> Vec<u8> {
    let imputed = has_imputed(s);
    let rows = s
        .iter()
        .map(|p| {
            let mut row = vec![
                p.policy.clone(),
                p.kind.clone(),
                p.requests.to_string(),
                p.covered.to_string(),
                f(p.coverage, 4),
                f(p.success_rate, 4),
                f(p.rejected_rate, 4),
                f(p.cost_total, 6),
                f(p.cost_per_1k, 6),
                f(p.cost_per_success, 8),
                f(p.quality_mean, 4),
                f(p.quality_lo, 4),
                f(p.quality_hi, 4),
                p.quality_n.to_string(),
                f(p.labelled_share, 4),
                f(p.latency_p50, 1),
                f(p.latency_p90, 1),
                f(p.latency_p95, 1),
                f(p.latency_p99, 1),
                f(p.ttft_p50, 1),
                f(p.ttft_p95, 1),
                f(p.fallback_rate, 4),
                f(p.retry_rate, 4),
                f(p.cache_rate, 4),
                f(p.escalation_rate, 4),
                f(p.truncated_rate, 4),
                f(p.attempts_mean, 4),
                p.model_mix
                    .iter()
                    .map(|(m, x)| format!("{m}:{}", f(*x, 4)))
                    .collect::<Vec<_>>()
                    .join(";"),
                p.rule_hits
                    .iter()
                    .map(|(r, n)| format!("{r}:{n}"))
                    .collect::<Vec<_>>()
                    .join(";"),
            ];
            if imputed {
                row.push(f(p.imputed_share.unwrap_or(f64::NAN), 4));
            }
            row
        })
        .collect();
    let mut header = SUMMARY_COLUMNS.to_vec();
    if imputed {
        header.push("imputed_share");
    }
    csv_bytes(&header, rows)
}

/// `segments.csv` (with `imputed_share` last in a `--missing impute` run).
pub fn segments_csv(s: &[SegmentSummary]) -> Vec<u8> {
    let imputed = s.iter().any(|g| g.imputed_share.is_some());
    let mut header = vec![
        "policy",
        "key",
        "value",
        "covered",
        "success_rate",
        "cost_total_usd",
        "cost_per_1k_usd",
        "quality_mean",
        "quality_n",
        "latency_p50_ms",
        "latency_p95_ms",
    ];
    if imputed {
        header.push("imputed_share");
    }
    let rows = s
        .iter()
        .map(|x| {
            let mut row = vec![
                x.policy.clone(),
                x.key.clone(),
                x.value.clone(),
                x.covered.to_string(),
                f(x.success_rate, 4),
                f(x.cost_total, 6),
                f(x.cost_per_1k, 6),
                f(x.quality_mean, 4),
                x.quality_n.to_string(),
                f(x.latency_p50, 1),
                f(x.latency_p95, 1),
            ];
            if imputed {
                row.push(f(x.imputed_share.unwrap_or(f64::NAN), 4));
            }
            row
        })
        .collect();
    csv_bytes(&header, rows)
}

/// A figure for JSON, rounded like the CSV (1e-8); unknown as null.
pub(crate) fn jnum(x: f64) -> serde_json::Value {
    if x.is_finite() {
        // Round like the CSV so JSON and CSV agree digit for digit.
        serde_json::Value::from((x * 1e8).round() / 1e8)
    } else {
        serde_json::Value::Null
    }
}

/// `summary.json`: the same figures as `summary.csv`, structured.
pub fn summary_json(s: &[PolicySummary]) -> Vec<u8> {
    let arr: Vec<serde_json::Value> = s.iter().map(summary_value).collect();
    let mut out = serde_json::to_vec_pretty(&arr).expect("serialisable");
    out.push(b'\n');
    out
}

/// One policy's object of `summary.json` (also in `routesim run --json`), with
/// `imputed_share` in a `--missing impute` run.
pub fn summary_value(p: &PolicySummary) -> serde_json::Value {
    let mut v = summary_object(p);
    if let Some(x) = p.imputed_share {
        v["imputed_share"] = jnum(x);
    }
    v
}

fn summary_object(p: &PolicySummary) -> serde_json::Value {
    serde_json::json!({
        "policy": p.policy,
        "kind": p.kind,
        "requests": p.requests,
        "covered": p.covered,
        "coverage": jnum(p.coverage),
        "success_rate": jnum(p.success_rate),
        "rejected_rate": jnum(p.rejected_rate),
        "cost_total_usd": jnum(p.cost_total),
        "cost_per_1k_usd": jnum(p.cost_per_1k),
        "cost_per_success_usd": jnum(p.cost_per_success),
        "quality": {"mean": jnum(p.quality_mean), "ci95": [jnum(p.quality_lo), jnum(p.quality_hi)], "n": p.quality_n, "labelled_share": jnum(p.labelled_share)},
        "latency_ms": {"p50": jnum(p.latency_p50), "p90": jnum(p.latency_p90), "p95": jnum(p.latency_p95), "p99": jnum(p.latency_p99)},
        "ttft_ms": {"p50": jnum(p.ttft_p50), "p95": jnum(p.ttft_p95)},
        "rates": {
            "fallback": jnum(p.fallback_rate), "retry": jnum(p.retry_rate), "cache": jnum(p.cache_rate),
            "escalation": jnum(p.escalation_rate), "truncated": jnum(p.truncated_rate)
        },
        "attempts_mean": jnum(p.attempts_mean),
        "model_mix": p.model_mix.iter().map(|(m, x)| serde_json::json!({"model": m, "share": jnum(*x)})).collect::<Vec<_>>(),
        "rule_hits": p.rule_hits.iter().map(|(r, n)| serde_json::json!({"rule": r, "requests": n})).collect::<Vec<_>>(),
    })
}

/// A paired comparison with the baseline as JSON (`routesim run --json`): the
/// figures of the headline and of the report's comparison table.
pub fn comparison_value(c: &crate::analysis::tradeoff::Comparison) -> serde_json::Value {
    let st = &c.stats;
    let paired = |x: &crate::analysis::stats::Paired| serde_json::json!({"delta": jnum(x.delta), "ci95": [jnum(x.lo), jnum(x.hi)]});
    serde_json::json!({
        "policy": c.policy,
        "baseline": c.baseline,
        "pairs": st.pairs,
        "cost_per_1k_usd": {"policy": jnum(st.cost_means.0 * 1000.0), "baseline": jnum(st.cost_means.1 * 1000.0)},
        "quality": {"policy": jnum(st.quality_values.0), "baseline": jnum(st.quality_values.1)},
        "d_quality": {"delta": jnum(st.quality.delta), "ci95": [jnum(st.quality.lo), jnum(st.quality.hi)], "p": jnum(st.p_quality), "p_holm": jnum(c.p_quality_holm)},
        "d_cost_per_request_usd": paired(&st.cost),
        "d_p95_ms": paired(&st.p95),
    })
}

/// The table printed by `routesim run` (an `imputed` column after `coverage` in a
/// `--missing impute` run).
pub fn terminal_table(s: &[PolicySummary]) -> String {
    let imputed = has_imputed(s);
    let mut header = vec![
        "policy",
        "requests",
        "coverage",
        "cost",
        "$/1k req",
        "quality [95% CI]",
        "p50",
        "p95",
        "errors",
        "fallback",
        "model mix",
    ];
    if imputed {
        header.insert(3, "imputed");
    }
    let rows: Vec<Vec<String>> = s
        .iter()
        .map(|p| {
            let mix = p
                .model_mix
                .iter()
                .take(3)
                .map(|(m, x)| format!("{} {}", short_model(m), pct(*x)))
                .collect::<Vec<_>>()
                .join(", ");
            let more = if p.model_mix.len() > 3 {
                format!(" +{}", p.model_mix.len() - 3)
            } else {
                String::new()
            };
            let mut row = vec![
                p.policy.clone(),
                p.requests.to_string(),
                pct(p.coverage),
                usd(p.cost_total),
                usd(p.cost_per_1k),
                if p.quality_mean.is_finite() {
                    format!(
                        "{} [{}, {}]",
                        fh(p.quality_mean, 3),
                        fh(p.quality_lo, 3),
                        fh(p.quality_hi, 3)
                    )
                } else {
                    "—".into()
                },
                ms(p.latency_p50),
                ms(p.latency_p95),
                pct(1.0 - p.success_rate),
                pct(p.fallback_rate),
                format!("{mix}{more}"),
            ];
            if imputed {
                row.insert(3, pct(p.imputed_share.unwrap_or(f64::NAN)));
            }
            row
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i] - c.chars().count();
                if i == 0 || i == cells.len() - 1 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::new();
    out.push_str(&line(
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    ));
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

use crate::plot::short_model;

/// One policy's row of the human tables (Markdown, HTML), formatted once.
pub struct RowCells {
    /// Coverage.
    pub coverage: String,
    /// Total cost.
    pub cost: String,
    /// Cost per 1,000 requests.
    pub cost_per_1k: String,
    /// Quality.
    pub quality: String,
    /// Its 95% CI, `[lo, hi]`.
    pub ci: String,
    /// p50 latency.
    pub p50: String,
    /// p95 latency.
    pub p95: String,
    /// Error share.
    pub errors: String,
    /// Fallback share.
    pub fallback: String,
    /// Most used model.
    pub top: String,
    /// Share of requests with an imputed call (`--missing impute` runs).
    pub imputed: Option<String>,
}

/// The formatted cells of a policy's row.
pub fn row_cells(p: &PolicySummary) -> RowCells {
    RowCells {
        coverage: pct(p.coverage),
        cost: usd(p.cost_total),
        cost_per_1k: usd(p.cost_per_1k),
        quality: fh(p.quality_mean, 3),
        ci: format!("[{}, {}]", fh(p.quality_lo, 3), fh(p.quality_hi, 3)),
        p50: ms(p.latency_p50),
        p95: ms(p.latency_p95),
        errors: pct(1.0 - p.success_rate),
        fallback: pct(p.fallback_rate),
        top: top_model(p),
        imputed: p.imputed_share.map(pct),
    }
}

/// The policy's most used model and its share (`gpt-4o 68.2%`), or "" when it
/// answered nothing.
pub fn top_model(p: &PolicySummary) -> String {
    p.model_mix
        .first()
        .map(|(m, x)| format!("{} {}", short_model(m), pct(*x)))
        .unwrap_or_default()
}
