//! Calibration of synthetic data from the real data in `../shared/data`, with the same
//! figures embedded for machines without it.

use super::{MODELS, SynthConfig, TASK_DIFFICULTY, TASK_MIX, TASK_OUTPUT, TASKS};
use crate::pricing::{ModelPrice, PriceBook, Rate};
use std::path::Path;

/// Calibrated figures.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// Base quality per built-in model (Arena analogue's mean judge score / 10).
    pub quality: Vec<f64>,
    /// Prompt tokens of chat requests: (median, log-sd).
    pub conv_input: (f64, f64),
    /// Prompt tokens of coding requests: (median, log-sd).
    pub code_input: (f64, f64),
    /// Completion tokens of chat requests: (median, log-sd).
    pub conv_output: (f64, f64),
    /// Price per built-in model.
    pub prices: Vec<ModelPrice>,
    /// Where each figure came from.
    pub sources: Vec<String>,
}

/// Arena-Hard v1 means (score / 10) of the analogues, as computed from the shared data
/// on 2026-11-24 (used when `../shared/data` is absent).
const ARENA_DEFAULT: &[(&str, f64)] = &[
    ("gpt-4-1106-preview", 0.8865),
    ("gpt-4-0314", 0.8549),
    ("gpt-3.5-turbo", 0.6759),
    ("gpt-3.5-turbo-1106", 0.6676),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", 0.6541),
    ("claude-instant-1", 0.6190),
];

/// Catalog names used to price the built-in models.
const CATALOG_REF: [&str; 8] = [
    "anthropic/claude-3.5-sonnet",
    "openai/gpt-4o",
    "google/gemini-1.5-pro",
    "openai/gpt-4o-mini",
    "google/gemini-1.5-flash",
    "anthropic/claude-3.5-haiku",
    "openai/o1-preview",
    "openrouter/meta-llama/llama-3.1-70b-instruct",
];

/// Prices from genai-prices @47df840a / LiteLLM 1.106.2 (USD per million tokens:
/// input, output, cached input, tier start, tier input, tier output, context window),
/// used when the catalogs are absent.
const PRICE_DEFAULT: [(f64, f64, f64, u64, f64, f64, u32); 8] = [
    (3.0, 15.0, 0.3, 0, 0.0, 0.0, 200_000),
    (2.5, 10.0, 1.25, 0, 0.0, 0.0, 128_000),
    (1.25, 5.0, 1.25, 128_000, 2.5, 10.0, 1_000_000),
    (0.15, 0.6, 0.075, 0, 0.0, 0.0, 128_000),
    (0.075, 0.3, 0.01875, 128_000, 0.15, 0.6, 1_000_000),
    (0.8, 4.0, 0.08, 0, 0.0, 0.0, 200_000),
    (15.0, 60.0, 7.5, 0, 0.0, 0.0, 128_000),
    (0.1, 0.28, 0.1, 0, 0.0, 0.0, 131_072),
];

fn lognormal_fit(values: &[f64]) -> (f64, f64) {
    let logs: Vec<f64> = values
        .iter()
        .filter(|&&x| x > 0.0)
        .map(|x| x.ln())
        .collect();
    let n = logs.len().max(1) as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let mut sorted: Vec<f64> = values.iter().copied().filter(|&x| x > 0.0).collect();
    sorted.sort_by(f64::total_cmp);
    (
        crate::util::stats::quantile_sorted(&sorted, 0.5).unwrap_or(1.0),
        var.sqrt(),
    )
}

fn azure(path: &Path) -> Option<((f64, f64), (f64, f64))> {
    let mut rdr = csv::Reader::from_path(path).ok()?;
    let (mut ctx, mut gen_) = (Vec::new(), Vec::new());
    for rec in rdr.records().flatten() {
        ctx.push(rec.get(1)?.parse::<f64>().ok()?);
        gen_.push(rec.get(2)?.parse::<f64>().ok()?);
    }
    Some((lognormal_fit(&ctx), lognormal_fit(&gen_)))
}

fn arena_means(dir: &Path) -> Option<Vec<(String, f64)>> {
    let mut sums: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for e in std::fs::read_dir(dir.join("model_judgment")).ok()? {
        let p = e.ok()?.path();
        let text = std::fs::read_to_string(&p).ok()?;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let (Some(m), Some(s)) = (v["model"].as_str(), v["score"].as_f64()) else {
                continue;
            };
            if s < 0.0 {
                continue;
            }
            let e = sums.entry(m.to_string()).or_default();
            e.0 += s / 10.0;
            e.1 += 1;
        }
    }
    Some(
        sums.into_iter()
            .map(|(m, (s, n))| (m, s / n as f64))
            .collect(),
    )
}

/// Calibrate from `shared` (the `../shared/data` folder) where possible.
pub fn calibrate(shared: Option<&Path>) -> Calibration {
    let mut sources = Vec::new();
    let arena = shared.and_then(|d| arena_means(&d.join("arena-bench-v1")));
    let quality: Vec<f64> = MODELS
        .iter()
        .map(|m| {
            arena
                .as_ref()
                .and_then(|a| a.iter().find(|(n, _)| n == m.analogue).map(|(_, q)| *q))
                .or_else(|| {
                    ARENA_DEFAULT
                        .iter()
                        .find(|(n, _)| *n == m.analogue)
                        .map(|(_, q)| *q)
                })
                .unwrap_or(0.6)
        })
        .collect();
    sources.push(match &arena {
        Some(_) => "base quality: mean Arena-Hard v1 judge score / 10 of each model's analogue, read from ../shared/data/arena-bench-v1".into(),
        None => "base quality: embedded Arena-Hard v1 means (../shared/data absent)".into(),
    });
    let conv =
        shared.and_then(|d| azure(&d.join("azure-llm-trace-2023/AzureLLMInferenceTrace_conv.csv")));
    let code =
        shared.and_then(|d| azure(&d.join("azure-llm-trace-2023/AzureLLMInferenceTrace_code.csv")));
    let (conv_input, conv_output) = conv.unwrap_or(((1020.0, 0.985), (129.0, 0.859)));
    let code_input = code.map(|c| c.0).unwrap_or((1469.0, 1.36));
    sources.push(match conv {
        Some(_) => "token lengths: lognormal fits (median, log-sd) of the Azure LLM inference trace 2023, conversation and code services".into(),
        None => "token lengths: embedded fits of the Azure LLM inference trace 2023 (../shared/data absent)".into(),
    });
    let catalogs: Vec<std::path::PathBuf> = shared
        .map(|d| {
            vec![
                d.join("pricing/litellm/model_prices_and_context_window.json"),
                d.join("pricing/genai-prices/data.json"),
            ]
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    let book = if catalogs.is_empty() {
        None
    } else {
        let date = crate::dataset::time::parse_ts_ms("2024-06-03").unwrap_or(0) / 86_400_000;
        PriceBook::load(&catalogs, date).ok()
    };
    let prices: Vec<ModelPrice> = CATALOG_REF
        .iter()
        .enumerate()
        .map(|(i, name)| {
            book.as_ref()
                .and_then(|b| b.lookup(name))
                .unwrap_or_else(|| {
                    let (i_, o, c, ts, ti, to, cw) = PRICE_DEFAULT[i];
                    let mut p = ModelPrice::per_mtok(
                        i_,
                        o,
                        &format!("embedded copy of the catalog price of {name}"),
                    );
                    p.cache_read = Some(Rate::flat(c / 1e6));
                    if ts > 0 {
                        p.input.tiers.push((ts, ti / 1e6));
                        p.output.tiers.push((ts, to / 1e6));
                    }
                    p.context_window = Some(cw);
                    p
                })
        })
        .collect();
    sources.push(if book.is_some() {
        "prices: LiteLLM model_prices_and_context_window.json (1.106.2) then genai-prices data.json (@47df840a), as of 2024-06-03".into()
    } else {
        "prices: embedded copies of the catalog prices (../shared/data absent)".into()
    });
    Calibration {
        quality,
        conv_input,
        code_input,
        conv_output,
        prices,
        sources,
    }
}

fn per_mtok(x: f64) -> String {
    let v = (x * 1e6 * 1e9).round() / 1e9;
    format!("{v}")
}

/// `pricing.toml` for the generated models.
pub fn pricing_toml(cal: &Calibration, models: &[String]) -> String {
    let mut s = String::from(
        "# Prices of the synthetic models, copied from the catalogs by `routesim synth`.\n# USD per million tokens; tiers are cliffs on total prompt tokens.\n\n",
    );
    for (i, m) in models.iter().enumerate() {
        let p = &cal.prices[i];
        s.push_str(&format!("[models.\"{m}\"]\n"));
        s.push_str(&format!("input_per_mtok = {}\n", per_mtok(p.input.base)));
        s.push_str(&format!("output_per_mtok = {}\n", per_mtok(p.output.base)));
        if let Some(c) = &p.cache_read {
            s.push_str(&format!("cached_input_per_mtok = {}\n", per_mtok(c.base)));
        }
        if let Some(cw) = p.context_window {
            s.push_str(&format!("context_window = {cw}\n"));
        }
        let tiers = |t: &[(u64, f64)]| {
            t.iter()
                .map(|(a, x)| format!("{{ above = {a}, per_mtok = {} }}", per_mtok(*x)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !p.input.tiers.is_empty() {
            s.push_str(&format!("input_tiers = [{}]\n", tiers(&p.input.tiers)));
        }
        if !p.output.tiers.is_empty() {
            s.push_str(&format!("output_tiers = [{}]\n", tiers(&p.output.tiers)));
        }
        s.push_str(&format!("source = {}\n\n", toml_str(&p.source)));
    }
    s
}

fn toml_str(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

/// `dataset.toml` with every assumption written down.
pub fn dataset_toml(cfg: &SynthConfig, cal: &Calibration, parquet: bool) -> String {
    let nm = cfg.models;
    let mut s = String::new();
    s.push_str(&format!("name = \"synthetic-{}\"\n", cfg.requests));
    s.push_str(&format!(
        "description = \"{} synthetic chat requests × {} models with a realistic shape: task mix, per-model quality by task, token lengths, lognormal latencies and TTFT, errors, 429s and timeouts, a daily cycle, users, tenants and plans.\"\n",
        cfg.requests, nm
    ));
    s.push_str(&format!(
        "source = \"routesim synth --requests {} --models {} --seed {}\"\n",
        cfg.requests, nm, cfg.seed
    ));
    s.push_str("license = \"CC0-1.0\"\n");
    s.push_str("quality_scale = \"simulated judge score 1–10 divided by 10 (like Arena-Hard)\"\n");
    s.push_str("requests = \"requests.jsonl\"\n");
    s.push_str(if parquet {
        "responses = [\"responses.parquet\"]\n"
    } else {
        "responses = [\"responses.csv\"]\n"
    });
    s.push_str("pricing = [\"pricing.toml\"]\n");
    let mut notes = String::from("Synthetic data: no real model answered these requests.\n");
    for src in &cal.sources {
        notes.push_str(&format!("- {src}\n"));
    }
    notes.push_str("- `input` is the final user message; `input_tokens` counts the whole context (system prompt, history, documents).\n");
    notes.push_str("- quality = clamp(1 − (1 − (base + task skill)) × difficulty + N(0, 0.08)) rounded to tenths; difficulty is lognormal per request (shared by all models), so models agree on what is hard.\n");
    notes.push_str("- latency = TTFT (lognormal around the model's median, growing with prompt length) + output tokens / decode speed × lognormal noise.\n");
    notes.push_str("- failed first calls carry two more recorded samples, used by retries.\n");
    s.push_str(&format!("notes = {}\n\n", toml_str(&notes)));
    s.push_str("[assumptions]\n");
    s.push_str(&format!(
        "task_mix = {{ {} }}\n",
        TASKS
            .iter()
            .zip(TASK_MIX)
            .map(|(t, x)| format!("{t} = {x}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str(&format!(
        "task_output_multiplier = {{ {} }}\n",
        TASKS
            .iter()
            .zip(TASK_OUTPUT)
            .map(|(t, x)| format!("{t} = {x}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str(&format!(
        "task_difficulty_median = {{ {} }}\n",
        TASKS
            .iter()
            .zip(TASK_DIFFICULTY)
            .map(|(t, x)| format!("{t} = {x}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str(&format!(
        "prompt_tokens_chat = {{ median = {:.1}, log_sd = {:.3} }}\nprompt_tokens_code = {{ median = {:.1}, log_sd = {:.3} }}\ncompletion_tokens_chat = {{ median = {:.1}, log_sd = {:.3} }}\n",
        cal.conv_input.0, cal.conv_input.1, cal.code_input.0, cal.code_input.1, cal.conv_output.0, cal.conv_output.1
    ));
    s.push_str(&format!("days = {}\nusers = {}\ntenants = {}\nplans = {{ free = 0.5, pro = 0.35, enterprise = 0.15 }}\n", cfg.days, cfg.users, cfg.tenants));
    s.push_str(
        "daily_cycle = \"arrival intensity ∝ 1 + 0.8·sin(2π(h − 9)/24), peak at 15:00 UTC\"\n\n",
    );
    for (i, m) in MODELS[..nm].iter().enumerate() {
        s.push_str(&format!("[assumptions.models.\"{}\"]\n", m.name));
        s.push_str(&format!(
            "arena_analogue = \"{}\"\nbase_quality = {:.4}\ntask_skill = {{ {} }}\nttft_median_ms = {}\ntokens_per_s = {}\nverbosity = {}\nreasoning_share = {}\nerror_rates = {{ http_5xx = {}, http_429 = {}, timeout = {} }}\n\n",
            m.analogue,
            cal.quality[i],
            TASKS.iter().zip(m.task_skill).map(|(t, x)| format!("{t} = {x}")).collect::<Vec<_>>().join(", "),
            m.ttft_ms,
            m.tokens_per_s,
            m.verbosity,
            m.reasoning_share,
            m.errors.0,
            m.errors.1,
            m.errors.2
        ));
    }
    s
}
