//! `routesim prices PATTERN`: how `routesim run` would price a name, and the catalog
//! entries whose names contain the pattern — the search a user makes before writing an
//! alias. Text for people, `--json` for scripts; the library does the finding
//! (`pricing::resolve`, `pricing::search`).

use crate::error::{Diagnostic, InputError};
use crate::pricing::resolve::{fmt_mtok, level_name};
use crate::pricing::search::{self, Row};
use crate::pricing::{PriceBook, Resolution, builtin, today_days};
use anyhow::Result;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Options of `routesim prices`.
#[derive(Debug, Clone, Default)]
pub struct PricesOptions {
    /// A name, a substring, or a glob (`*`, `?`).
    pub pattern: String,
    /// Prices on this date (YYYY-MM-DD; default today).
    pub date: Option<String>,
    /// Pricing files searched before the built-in catalog.
    pub pricing: Vec<PathBuf>,
    /// Leave the built-in catalog out.
    pub no_builtin_prices: bool,
    /// `--price-as NAME=TARGET` aliases, as `run` takes them.
    pub price_as: Vec<String>,
    /// JSON instead of text.
    pub json: bool,
    /// At most this many catalog rows (0: all).
    pub limit: usize,
}

/// Parse `--price-as NAME=TARGET` values; every bad one is a diagnostic.
pub fn parse_price_as(values: &[String]) -> Result<Vec<(String, String)>, InputError> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for v in values {
        match v.split_once('=') {
            Some((n, t)) if !n.trim().is_empty() && !t.trim().is_empty() => {
                out.push((n.trim().to_string(), t.trim().to_string()))
            }
            _ => diags.push(Diagnostic::file(
                "--price-as",
                format!("expected NAME=TARGET (a dataset model name, `=`, a catalog name or entry such as litellm:KEY), found \"{v}\""),
            )),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(InputError::new(diags))
    }
}

fn date_days(date: &Option<String>) -> Result<i64, InputError> {
    match date {
        None => Ok(today_days()),
        Some(d) => crate::dataset::time::parse_ts_ms(d)
            .map(|ms| ms.div_euclid(86_400_000))
            .ok_or_else(|| {
                InputError::one(Diagnostic::file(
                    "--date",
                    format!("expected YYYY-MM-DD, found \"{d}\""),
                ))
            }),
    }
}

/// `routesim prices`.
pub fn prices(o: &PricesOptions) -> Result<()> {
    let days = date_days(&o.date)?;
    let mut book = PriceBook::load(&o.pricing, days)?.with_builtin(!o.no_builtin_prices);
    book.price_as = parse_price_as(&o.price_as)?;
    if o.pricing.is_empty() && o.no_builtin_prices {
        return Err(InputError::one(Diagnostic::file(
            "routesim prices",
            "nothing to search: pass --pricing FILE or drop --no-builtin-prices",
        ))
        .into());
    }
    let date = crate::dataset::time::format_ts(days * 86_400_000)[..10].to_string();
    let verdict = (!o.pattern.contains(['*', '?'])).then(|| book.resolve_name(&o.pattern));
    let mut rows = search::search(&book, &o.pattern);
    // The entries the verdict names come first, in its order.
    let named: Vec<String> = match &verdict {
        Some(Resolution::Priced(_, m)) => vec![m.entry.clone()],
        Some(Resolution::Ambiguous(a)) => a.candidates.iter().map(|c| c.entry.clone()).collect(),
        _ => Vec::new(),
    };
    rows.sort_by_key(|r| {
        named
            .iter()
            .position(|e| *e == r.entry)
            .unwrap_or(usize::MAX)
    });
    let shown = if o.limit == 0 {
        rows.len()
    } else {
        rows.len().min(o.limit)
    };
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&prices_json(
                o,
                &date,
                verdict.as_ref(),
                &rows[..shown],
                rows.len()
            ))?
        );
        return Ok(());
    }
    if let Some(v) = &verdict {
        println!("How `routesim run` prices \"{}\" on {date}:", o.pattern);
        print!("{}", verdict_text(v));
        println!();
    }
    if rows.is_empty() {
        println!("No catalog entry contains \"{}\".", o.pattern);
    } else {
        println!(
            "Catalog entries {} \"{}\" ({} of {}), prices on {date} in USD per million tokens:",
            if o.pattern.contains(['*', '?']) {
                "matching"
            } else {
                "containing"
            },
            o.pattern,
            shown,
            rows.len()
        );
        print!("{}", rows_table(&rows[..shown]));
        if shown < rows.len() {
            println!(
                "… {} more: narrow the pattern or pass --limit 0",
                rows.len() - shown
            );
        }
    }
    if book.builtin {
        println!();
        println!("{}", search::builtin_footer());
    }
    Ok(())
}

/// The verdict as text.
fn verdict_text(v: &Resolution) -> String {
    match v {
        Resolution::Priced(p, m) => {
            let mut s = format!(
                "  MATCH — level {} ({}): {} — ${} / ${} per Mtok{}\n    how: {}{}\n    from: {}\n",
                m.level,
                level_name(m.level),
                m.entry,
                fmt_mtok(m.input_per_mtok),
                fmt_mtok(m.output_per_mtok),
                p.context_window
                    .map(|c| format!(", context {c}"))
                    .unwrap_or_default(),
                m.how,
                m.rule
                    .as_ref()
                    .map(|r| format!(" (catalog rule {r})"))
                    .unwrap_or_default(),
                p.source
            );
            for n in &m.notes {
                s.push_str(&format!("    note: {n}\n"));
            }
            s
        }
        Resolution::Ambiguous(a) => {
            let mut s = String::from("  AMBIGUOUS — ");
            s.push_str(&a.message().replace('\n', "\n  "));
            s.push('\n');
            s
        }
        Resolution::Unpriced(sugg, problem) => {
            let mut s = String::from(
                "  NO PRICE — no catalog entry is this model as far as the catalogs say",
            );
            if let Some(p) = problem {
                s.push_str(&format!(" ({p})"));
            }
            s.push('\n');
            if !sugg.is_empty() {
                s.push_str("  closest entries (a suggestion, not a match):\n");
                for x in sugg {
                    s.push_str(&format!(
                        "    {}  ${} / ${}\n",
                        x.entry,
                        fmt_mtok(x.price.input.base * 1e6),
                        fmt_mtok(x.price.output.base * 1e6)
                    ));
                }
            }
            s
        }
    }
}

fn rate(r: Option<&crate::pricing::Rate>) -> String {
    r.map(|r| fmt_mtok(r.base * 1e6))
        .unwrap_or_else(|| "—".into())
}

fn tiers(p: &crate::pricing::ModelPrice) -> String {
    p.input
        .tiers
        .iter()
        .zip(
            p.output
                .tiers
                .iter()
                .map(Some)
                .chain(std::iter::repeat(None)),
        )
        .map(|((start, i), o)| {
            format!(
                ">{}k {}/{}",
                start / 1000,
                fmt_mtok(i * 1e6),
                o.map(|(_, o)| fmt_mtok(o * 1e6))
                    .unwrap_or_else(|| "—".into())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn rows_table(rows: &[Row]) -> String {
    let w = rows.iter().map(|r| r.entry.len()).max().unwrap_or(5).max(5);
    let pw = rows
        .iter()
        .map(|r| r.provider.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut s = format!(
        "{:<w$}  {:<pw$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  notes\n",
        "entry", "provider", "in", "out", "cache rd", "cache wr", "ctx"
    );
    for r in rows {
        let (i, o, cr, cw, ctx, t) = match &r.price {
            Some(p) => (
                fmt_mtok(p.input.base * 1e6),
                fmt_mtok(p.output.base * 1e6),
                rate(p.cache_read.as_ref()),
                rate(p.cache_write.as_ref()),
                p.context_window
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "—".into()),
                tiers(p),
            ),
            None => (
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                String::new(),
            ),
        };
        let mut notes = r.notes.clone();
        if !t.is_empty() {
            notes.insert(0, format!("tiers {t}"));
        }
        if !r.builtin {
            notes.push(r.source.clone());
        }
        s.push_str(&format!(
            "{:<w$}  {:<pw$}  {i:>8}  {o:>8}  {cr:>8}  {cw:>8}  {ctx:>8}  {}\n",
            r.entry,
            r.provider,
            notes.join("; ")
        ));
    }
    s
}

fn price_json(p: &crate::pricing::ModelPrice) -> Value {
    let t = |r: &crate::pricing::Rate| {
        r.tiers
            .iter()
            .map(|(s, x)| json!({"above": s, "per_mtok": (x * 1e6 * 1e9).round() / 1e9}))
            .collect::<Vec<_>>()
    };
    let m = |x: f64| (x * 1e6 * 1e9).round() / 1e9;
    json!({
        "input_per_mtok": m(p.input.base),
        "output_per_mtok": m(p.output.base),
        "cache_read_per_mtok": p.cache_read.as_ref().map(|r| m(r.base)),
        "cache_write_per_mtok": p.cache_write.as_ref().map(|r| m(r.base)),
        "input_tiers": t(&p.input),
        "output_tiers": t(&p.output),
        "context_window": p.context_window,
    })
}

fn prices_json(
    o: &PricesOptions,
    date: &str,
    verdict: Option<&Resolution>,
    rows: &[Row],
    total: usize,
) -> Value {
    let verdict = verdict.map(|v| match v {
        Resolution::Priced(p, m) => json!({
            "verdict": "match",
            "match": m.to_json(),
            "price": price_json(p),
        }),
        Resolution::Ambiguous(a) => json!({
            "verdict": "ambiguous",
            "level": a.level,
            "candidates": a.candidates.iter().map(|c| json!({
                "entry": c.entry,
                "catalog": c.catalog.name(),
                "host": c.host,
                "why": c.why,
                "deprecation_date": c.deprecated,
                "price": price_json(&c.price),
            })).collect::<Vec<_>>(),
            "fix": format!("[aliases] \"{}\" = \"{}\"", a.model, a.candidates[0].entry),
        }),
        Resolution::Unpriced(s, problem) => json!({
            "verdict": "unpriced",
            "problem": problem,
            "suggestions": s.iter().map(|x| json!({
                "entry": x.entry,
                "score": (x.score * 1000.0).round() / 1000.0,
                "price": price_json(&x.price),
            })).collect::<Vec<_>>(),
        }),
    });
    json!({
        "pattern": o.pattern,
        "date": date,
        "run": verdict,
        "rows": rows.iter().map(|r| json!({
            "entry": r.entry,
            "provider": r.provider,
            "source": r.source,
            "price": r.price.as_ref().map(price_json),
            "notes": r.notes,
        })).collect::<Vec<_>>(),
        "rows_total": total,
        "builtin": (!o.no_builtin_prices).then(|| builtin::snapshots().iter().map(|s| s.to_json()).collect::<Vec<_>>()),
    })
}
