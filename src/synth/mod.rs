//! Synthetic datasets with a documented, realistic shape (`routesim synth`).
//!
//! Calibrated from real figures when `../shared/data` is available (and from the same
//! figures, embedded, when it is not):
//! - relative model quality from Arena-Hard v1 judgments (each synthetic model has a
//!   named Arena analogue; its base quality is that model's mean judge score / 10),
//! - prompt and completion token lengths from the Azure LLM inference trace 2023
//!   (lognormal fits of the conversation and code services),
//! - prices from the LiteLLM and genai-prices catalogs (written to `pricing.toml`
//!   with the source of each price).
//!
//! Everything else (task mix, per-task skill, latency, error rates, daily cycle, users
//! and tenants) is an assumption, written into the dataset's `dataset.toml`.

pub mod calibrate;
pub mod text;

use crate::dataset::build::from_model_major;
use crate::dataset::{Dataset, DatasetInfo, MetaColumn, Requests, Sample, Status, TextColumn};
use crate::util::rng::Rng;
pub use calibrate::{Calibration, calibrate};

/// A synthetic model.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Name (provider/model).
    pub name: &'static str,
    /// Arena-Hard v1 model whose mean judge score sets the base quality.
    pub analogue: &'static str,
    /// Quality offset per task (coding, reasoning, creative, simple, multimodal, analysis).
    pub task_skill: [f64; 6],
    /// Median time to first token, ms.
    pub ttft_ms: f64,
    /// Decode speed, tokens/s.
    pub tokens_per_s: f64,
    /// Output length multiplier.
    pub verbosity: f64,
    /// Share of output tokens that are reasoning tokens.
    pub reasoning_share: f64,
    /// Rates of 5xx, 429 and timeouts per call.
    pub errors: (f64, f64, f64),
    /// Whether the provider reports cached prompt tokens.
    pub caches: bool,
}

/// The eight built-in models (the seed guide's).
pub const MODELS: [ModelSpec; 8] = [
    ModelSpec {
        name: "anthropic/claude-3.5-sonnet",
        analogue: "gpt-4-1106-preview",
        task_skill: [0.04, 0.0, 0.03, 0.0, -0.02, 0.02],
        ttft_ms: 800.0,
        tokens_per_s: 60.0,
        verbosity: 1.1,
        reasoning_share: 0.0,
        errors: (0.006, 0.012, 0.002),
        caches: true,
    },
    ModelSpec {
        name: "openai/gpt-4o",
        analogue: "gpt-4-0314",
        task_skill: [0.0, 0.0, 0.0, 0.0, 0.02, 0.0],
        ttft_ms: 450.0,
        tokens_per_s: 80.0,
        verbosity: 1.0,
        reasoning_share: 0.0,
        errors: (0.004, 0.015, 0.002),
        caches: true,
    },
    ModelSpec {
        name: "google/gemini-1.5-pro",
        analogue: "gpt-4-0314",
        task_skill: [-0.03, -0.02, 0.0, 0.0, 0.05, 0.0],
        ttft_ms: 900.0,
        tokens_per_s: 55.0,
        verbosity: 1.0,
        reasoning_share: 0.0,
        errors: (0.015, 0.01, 0.003),
        caches: true,
    },
    ModelSpec {
        name: "openai/gpt-4o-mini",
        analogue: "gpt-3.5-turbo-1106",
        task_skill: [-0.02, -0.06, 0.0, 0.0, 0.0, -0.03],
        ttft_ms: 350.0,
        tokens_per_s: 110.0,
        verbosity: 0.9,
        reasoning_share: 0.0,
        errors: (0.004, 0.01, 0.001),
        caches: true,
    },
    ModelSpec {
        name: "google/gemini-1.5-flash",
        analogue: "claude-instant-1",
        task_skill: [-0.05, -0.06, 0.0, 0.0, 0.03, -0.03],
        ttft_ms: 350.0,
        tokens_per_s: 150.0,
        verbosity: 0.9,
        reasoning_share: 0.0,
        errors: (0.008, 0.01, 0.001),
        caches: true,
    },
    ModelSpec {
        name: "anthropic/claude-3.5-haiku",
        analogue: "gpt-3.5-turbo",
        task_skill: [0.0, -0.03, 0.02, 0.0, -0.1, 0.0],
        ttft_ms: 500.0,
        tokens_per_s: 90.0,
        verbosity: 0.9,
        reasoning_share: 0.0,
        errors: (0.006, 0.012, 0.001),
        caches: true,
    },
    ModelSpec {
        name: "openai/o1-preview",
        analogue: "gpt-4-1106-preview",
        task_skill: [0.03, 0.08, -0.04, 0.0, -0.1, 0.03],
        ttft_ms: 8000.0,
        tokens_per_s: 40.0,
        verbosity: 1.6,
        reasoning_share: 0.6,
        errors: (0.005, 0.02, 0.004),
        caches: true,
    },
    ModelSpec {
        name: "meta-llama/llama-3.1-70b-instruct",
        analogue: "mistralai/Mixtral-8x7B-Instruct-v0.1",
        task_skill: [-0.04, -0.03, 0.01, 0.0, -0.15, -0.02],
        ttft_ms: 600.0,
        tokens_per_s: 70.0,
        verbosity: 1.2,
        reasoning_share: 0.0,
        errors: (0.01, 0.02, 0.003),
        caches: false,
    },
];

/// Task names, in the order of `task_skill`.
pub const TASKS: [&str; 6] = [
    "coding",
    "reasoning",
    "creative",
    "simple",
    "multimodal",
    "analysis",
];
/// Task mix (shares sum to 1).
pub const TASK_MIX: [f64; 6] = [0.25, 0.15, 0.15, 0.30, 0.05, 0.10];
/// Output length multiplier per task (on the conversation trace's completion length).
pub const TASK_OUTPUT: [f64; 6] = [2.0, 1.5, 2.0, 0.5, 1.0, 2.5];
/// Difficulty median per task (simple questions are easy for every model).
pub const TASK_DIFFICULTY: [f64; 6] = [1.0, 1.1, 0.9, 0.45, 1.0, 1.0];

/// Synthesis settings.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Requests.
    pub requests: usize,
    /// Models (first N of [`MODELS`]).
    pub models: usize,
    /// Seed.
    pub seed: u64,
    /// First arrival (epoch ms); requests spread over `days`.
    pub start_ms: i64,
    /// Days covered.
    pub days: f64,
    /// Users (Zipf-distributed activity).
    pub users: usize,
    /// Tenants.
    pub tenants: usize,
}

impl SynthConfig {
    /// Defaults for `n` requests: a Monday start, ~20k requests per day.
    pub fn new(requests: usize, models: usize, seed: u64) -> Self {
        SynthConfig {
            requests,
            models: models.clamp(1, MODELS.len()),
            seed,
            start_ms: crate::dataset::time::parse_ts_ms("2024-06-03T00:00:00Z").unwrap_or(0),
            days: (requests as f64 / 20_000.0).ceil().max(1.0),
            users: (requests / 5).clamp(20, 50_000),
            tenants: 20,
        }
    }
}

/// Quality on the judge's 1–10 scale divided by 10.
fn judge_round(q: f64) -> f64 {
    ((q * 10.0).round() / 10.0).clamp(0.1, 1.0)
}

/// Generate a dataset in memory.
pub fn generate(cfg: &SynthConfig, cal: &Calibration) -> Dataset {
    let n = cfg.requests;
    let models = &MODELS[..cfg.models];
    let nm = models.len();
    let mut rng = Rng::new(cfg.seed);

    // Users: Zipf(1.1) activity; each belongs to a tenant with a plan.
    let weights: Vec<f64> = (1..=cfg.users)
        .map(|k| 1.0 / (k as f64).powf(1.1))
        .collect();
    let mut cum = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w;
        cum.push(acc);
    }
    let plans = ["free", "pro", "enterprise"];
    let tenant_plan: Vec<usize> = (0..cfg.tenants)
        .map(|t| {
            let u = Rng::for_stream(cfg.seed, 0x7E4A, t as u64).f64();
            if u < 0.5 {
                0
            } else if u < 0.85 {
                1
            } else {
                2
            }
        })
        .collect();

    // Arrivals: a daily cycle peaking mid-afternoon UTC (thinning of a Poisson process).
    let span_ms = cfg.days * 86_400_000.0;
    let mut ts: Vec<i64> = Vec::with_capacity(n);
    let mean_gap = span_ms / n as f64;
    let mut t = 0.0;
    while ts.len() < n {
        t += rng.exponential(mean_gap * 0.55);
        let hour = (t / 3_600_000.0) % 24.0;
        let intensity = 1.0 + 0.8 * ((hour - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin();
        if rng.f64() * 1.8 < intensity {
            ts.push(cfg.start_ms + t as i64);
        }
    }

    let mut req = Requests {
        ids: Vec::with_capacity(n),
        ts_ms: ts,
        input: TextColumn::new(),
        input_chars: Vec::with_capacity(n),
        input_tokens: Vec::with_capacity(n),
        input_tokens_estimated: vec![false; n],
        turns: Vec::with_capacity(n),
        reference: None,
        meta: Vec::new(),
    };
    let mut task_col = MetaColumn {
        name: "task".into(),
        codes: Vec::with_capacity(n),
        dict: TASKS.iter().map(|s| s.to_string()).collect(),
        nums: vec![f64::NAN; n],
    };
    let mut user_col = MetaColumn {
        name: "user_id".into(),
        codes: Vec::with_capacity(n),
        dict: (0..cfg.users).map(|u| format!("u{u:05}")).collect(),
        nums: vec![f64::NAN; n],
    };
    let mut tenant_col = MetaColumn {
        name: "tenant".into(),
        codes: Vec::with_capacity(n),
        dict: (0..cfg.tenants).map(|t| format!("t{t:02}")).collect(),
        nums: vec![f64::NAN; n],
    };
    let mut plan_col = MetaColumn {
        name: "plan".into(),
        codes: Vec::with_capacity(n),
        dict: plans.iter().map(|s| s.to_string()).collect(),
        nums: vec![f64::NAN; n],
    };

    let mut cells = vec![Sample::MISSING; n * nm];
    let mut extra_rows: Vec<(usize, Sample)> = Vec::new();
    let task_cum: Vec<f64> = TASK_MIX
        .iter()
        .scan(0.0, |a, x| {
            *a += x;
            Some(*a)
        })
        .collect();
    for r in 0..n {
        let mut rr = Rng::for_stream(cfg.seed, 0x5EED, r as u64);
        req.ids.push(format!("r{r:07}"));
        let task = rr.pick_cumulative(&task_cum);
        let user = rr.pick_cumulative(&cum);
        let tenant = (crate::util::hash::stable_hash(format!("tenant{user}").as_bytes())
            % cfg.tenants as u64) as usize;
        let turns: u16 = if rr.chance(0.2) {
            2 + rr.below(4) as u16
        } else {
            1
        };
        let prompt = text::prompt(TASKS[task], &mut rr);
        req.input.push(&prompt);
        req.input_chars.push(prompt.chars().count() as u32);
        req.turns.push(turns);
        let (im, is) = if task == 0 {
            cal.code_input
        } else {
            cal.conv_input
        };
        let in_tok = rr
            .lognormal(im * if turns > 1 { 1.5 } else { 1.0 }, is)
            .round()
            .clamp(8.0, 100_000.0) as u32;
        req.input_tokens.push(in_tok);
        task_col.codes.push(task as u32);
        user_col.codes.push(user as u32);
        tenant_col.codes.push(tenant as u32);
        plan_col.codes.push(tenant_plan[tenant] as u32);

        let difficulty = rr.lognormal(TASK_DIFFICULTY[task], 0.5);
        let out_base = rr.lognormal(
            cal.conv_output.0 * TASK_OUTPUT[task],
            cal.conv_output.1 * 0.7,
        );
        for (mi, spec) in models.iter().enumerate() {
            let base = cal.quality[mi];
            let skill = (base + spec.task_skill[task]).clamp(0.05, 0.99);
            let draw = |rr: &mut Rng| -> Sample {
                let u = rr.f64();
                let (e5, e429, eto) = spec.errors;
                let cached = if spec.caches && turns > 1 {
                    (in_tok as f64 * (0.5 + 0.3 * rr.f64())) as u32
                } else {
                    0
                };
                if u < e5 {
                    let code = [500u16, 502, 503][rr.below(3) as usize];
                    return Sample {
                        status: Status(code),
                        input_tokens: in_tok,
                        latency_ms: rr.lognormal(600.0, 0.6) as f32,
                        ..Sample::MISSING
                    };
                }
                if u < e5 + e429 {
                    return Sample {
                        status: Status::RATE_LIMITED,
                        input_tokens: in_tok,
                        latency_ms: rr.lognormal(120.0, 0.4) as f32,
                        retry_after_ms: (1000.0 * (1 + rr.below(5)) as f64) as f32,
                        ..Sample::MISSING
                    };
                }
                if u < e5 + e429 + eto {
                    return Sample {
                        status: Status::TIMEOUT,
                        input_tokens: in_tok,
                        latency_ms: 60_000.0,
                        ..Sample::MISSING
                    };
                }
                let out = (out_base * spec.verbosity * rr.lognormal(1.0, 0.25))
                    .round()
                    .clamp(1.0, 4096.0) as u32;
                let ttft = rr.lognormal(spec.ttft_ms * (1.0 + in_tok as f64 / 20_000.0), 0.35);
                let latency =
                    ttft + out as f64 / spec.tokens_per_s * 1000.0 * rr.lognormal(1.0, 0.2);
                let q = 1.0 - (1.0 - skill) * difficulty + 0.08 * rr.normal();
                Sample {
                    status: Status::OK,
                    input_tokens: in_tok,
                    output_tokens: out,
                    cached_tokens: cached,
                    reasoning_tokens: (out as f64 * spec.reasoning_share).round() as u32,
                    latency_ms: latency as f32,
                    ttft_ms: ttft as f32,
                    quality: judge_round(q),
                    ..Sample::MISSING
                }
            };
            let mut mr = Rng::for_stream(cfg.seed ^ 0xCE11, r as u64, mi as u64);
            let s0 = draw(&mut mr);
            cells[mi * n + r] = s0;
            if !s0.status.is_ok() {
                // Retries of a failed call: two more recorded samples (transient errors
                // mostly clear on retry).
                for _ in 0..2 {
                    let mut s = draw(&mut mr);
                    if !s.status.is_ok() && mr.chance(0.5) {
                        s = draw(&mut mr);
                    }
                    extra_rows.push((mi * n + r, s));
                }
            }
        }
    }
    req.meta = vec![task_col, user_col, tenant_col, plan_col];
    let info = DatasetInfo {
        name: "synthetic".into(),
        description: format!(
            "{n} synthetic requests × {nm} models (routesim synth, seed {})",
            cfg.seed
        ),
        source: format!(
            "routesim synth --requests {n} --models {nm} --seed {}",
            cfg.seed
        ),
        license: "CC0-1.0".into(),
        quality_scale: "simulated judge score 1–10 divided by 10".into(),
        notes: String::new(),
        warnings: Vec::new(),
    };
    let mut ds = from_model_major(
        info,
        req,
        models.iter().map(|m| m.name.to_string()).collect(),
        cells,
    );
    if !extra_rows.is_empty() {
        let mut counts = vec![0u32; ds.cells.len()];
        for (i, _) in &extra_rows {
            counts[*i] += 1;
        }
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        let mut a = 0u32;
        offsets.push(0);
        for c in counts {
            a += c;
            offsets.push(a);
        }
        extra_rows.sort_by_key(|(i, _)| *i);
        ds.extra_offsets = offsets;
        ds.extra = extra_rows.into_iter().map(|(_, s)| s).collect();
    }
    ds
}

/// Write a generated dataset as a folder: `dataset.toml`, `requests.jsonl`,
/// `responses.csv` (or `.parquet`) and `pricing.toml`.
pub fn write(
    ds: &Dataset,
    cfg: &SynthConfig,
    cal: &Calibration,
    dir: &std::path::Path,
    parquet: bool,
) -> anyhow::Result<()> {
    use std::io::Write;
    let staged = crate::util::files::StagedDir::new(dir)?;
    // requests.jsonl
    {
        let f = std::fs::File::create(staged.path("requests.jsonl"))?;
        let mut w = std::io::BufWriter::new(f);
        let q = &ds.requests;
        for r in 0..ds.n_requests() {
            let mut meta = serde_json::Map::new();
            for mc in &q.meta {
                if let Some(v) = mc.get(r) {
                    meta.insert(mc.name.clone(), serde_json::Value::from(v));
                }
            }
            let obj = serde_json::json!({
                "id": q.ids[r],
                "ts": crate::dataset::time::format_ts(q.ts_ms[r]),
                "input": q.input.get(r),
                "input_tokens": q.input_tokens[r],
                "turns": q.turns[r],
                "meta": meta,
            });
            serde_json::to_writer(&mut w, &obj)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    // responses
    let mut rows: Vec<(usize, usize, u32, Sample)> = Vec::new();
    for r in 0..ds.n_requests() {
        for m in 0..ds.n_models() {
            let k = ds.n_samples(r, m as u16);
            for s in 0..k {
                rows.push((r, m, s as u32, *ds.sample(r, m as u16, s)));
            }
        }
    }
    let opt = |x: f32| {
        if x.is_nan() {
            String::new()
        } else {
            format!("{x:.1}")
        }
    };
    if parquet {
        use polars::prelude::*;
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(
                "request_id".into(),
                rows.iter()
                    .map(|x| ds.requests.ids[x.0].as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "model".into(),
                rows.iter()
                    .map(|x| ds.models[x.1].as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "sample".into(),
                rows.iter().map(|x| x.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "status".into(),
                rows.iter()
                    .map(|x| x.3.status.to_string())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "input_tokens".into(),
                rows.iter().map(|x| x.3.input_tokens).collect::<Vec<_>>(),
            ),
            Column::new(
                "output_tokens".into(),
                rows.iter().map(|x| x.3.output_tokens).collect::<Vec<_>>(),
            ),
            Column::new(
                "cached_tokens".into(),
                rows.iter().map(|x| x.3.cached_tokens).collect::<Vec<_>>(),
            ),
            Column::new(
                "reasoning_tokens".into(),
                rows.iter()
                    .map(|x| x.3.reasoning_tokens)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "latency_ms".into(),
                rows.iter()
                    .map(|x| x.3.latency_ms as f64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "ttft_ms".into(),
                rows.iter()
                    .map(|x| (!x.3.ttft_ms.is_nan()).then_some(x.3.ttft_ms as f64))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "retry_after_ms".into(),
                rows.iter()
                    .map(|x| (!x.3.retry_after_ms.is_nan()).then_some(x.3.retry_after_ms as f64))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "quality".into(),
                rows.iter()
                    .map(|x| (!x.3.quality.is_nan()).then_some(x.3.quality))
                    .collect::<Vec<_>>(),
            ),
        ])?;
        crate::analysis::frame::write_parquet(&mut df, &staged.path("responses.parquet"))?;
    } else {
        let mut w = csv::Writer::from_path(staged.path("responses.csv"))?;
        w.write_record([
            "request_id",
            "model",
            "sample",
            "status",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "latency_ms",
            "ttft_ms",
            "retry_after_ms",
            "quality",
        ])?;
        for (r, m, k, s) in &rows {
            w.write_record([
                ds.requests.ids[*r].clone(),
                ds.models[*m].clone(),
                k.to_string(),
                s.status.to_string(),
                s.input_tokens.to_string(),
                if s.status.is_ok() {
                    s.output_tokens.to_string()
                } else {
                    String::new()
                },
                if s.status.is_ok() {
                    s.cached_tokens.to_string()
                } else {
                    String::new()
                },
                if s.status.is_ok() {
                    s.reasoning_tokens.to_string()
                } else {
                    String::new()
                },
                opt(s.latency_ms),
                opt(s.ttft_ms),
                opt(s.retry_after_ms),
                if s.quality.is_nan() {
                    String::new()
                } else {
                    format!("{:.1}", s.quality)
                },
            ])?;
        }
        w.flush()?;
    }
    staged.write(
        "pricing.toml",
        calibrate::pricing_toml(cal, &ds.models).as_bytes(),
    )?;
    staged.write(
        "dataset.toml",
        calibrate::dataset_toml(cfg, cal, parquet).as_bytes(),
    )?;
    staged.commit()?;
    Ok(())
}
