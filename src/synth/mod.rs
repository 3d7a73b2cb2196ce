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
    Generator::new(cfg, cal).chunk(cfg.requests)
}

/// One request and its recorded samples, before it is placed in a chunk.
struct Generated {
    prompt: String,
    in_tok: u32,
    turns: u16,
    task: usize,
    user: usize,
    tenant: usize,
    /// First sample per model.
    first: Vec<Sample>,
    /// Retry samples: (model, sample).
    extra: Vec<(usize, Sample)>,
}

/// Generates a synthetic dataset a chunk of requests at a time (bounded memory at any
/// size): request `r` depends only on the seed, `r` and its arrival time, and the
/// arrivals are one sequential process, so chunks of any size give the same data.
pub struct Generator<'a> {
    cfg: &'a SynthConfig,
    cal: &'a Calibration,
    /// Cumulative Zipf(1.1) user activity.
    users_cum: Vec<f64>,
    tenant_plan: Vec<usize>,
    task_cum: Vec<f64>,
    arrivals: Rng,
    t: f64,
    next: usize,
}

impl<'a> Generator<'a> {
    /// A generator positioned at the first request.
    pub fn new(cfg: &'a SynthConfig, cal: &'a Calibration) -> Generator<'a> {
        // Users: Zipf(1.1) activity; each belongs to a tenant with a plan.
        let mut users_cum = Vec::with_capacity(cfg.users);
        let mut acc = 0.0;
        for k in 1..=cfg.users {
            acc += 1.0 / (k as f64).powf(1.1);
            users_cum.push(acc);
        }
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
        let task_cum: Vec<f64> = TASK_MIX
            .iter()
            .scan(0.0, |a, x| {
                *a += x;
                Some(*a)
            })
            .collect();
        Generator {
            cfg,
            cal,
            users_cum,
            tenant_plan,
            task_cum,
            arrivals: Rng::new(cfg.seed),
            t: 0.0,
            next: 0,
        }
    }

    /// Requests not generated yet.
    pub fn remaining(&self) -> usize {
        self.cfg.requests - self.next
    }

    /// The next (at most) `max` requests as a dataset of their own (request ids and
    /// arrival times continue from the previous chunk).
    pub fn chunk(&mut self, max: usize) -> Dataset {
        use rayon::prelude::*;
        let cfg = self.cfg;
        let n = max.min(self.remaining());
        let start = self.next;
        let nm = cfg.models;
        // Arrivals: a daily cycle peaking mid-afternoon UTC (thinning of a Poisson
        // process).
        let span_ms = cfg.days * 86_400_000.0;
        let mean_gap = span_ms / cfg.requests.max(1) as f64;
        let mut ts: Vec<i64> = Vec::with_capacity(n);
        while ts.len() < n {
            self.t += self.arrivals.exponential(mean_gap * 0.55);
            let hour = (self.t / 3_600_000.0) % 24.0;
            let intensity = 1.0 + 0.8 * ((hour - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin();
            if self.arrivals.f64() * 1.8 < intensity {
                ts.push(cfg.start_ms + self.t as i64);
            }
        }
        self.next += n;
        let this = &*self;
        let generated: Vec<Generated> = (start..start + n)
            .into_par_iter()
            .with_min_len(1024)
            .map(|r| this.request(r))
            .collect();

        let plans = ["free", "pro", "enterprise"];
        let meta_col =
            |name: &str, dict: Vec<String>| MetaColumn::new(name, Vec::with_capacity(n), dict);
        let mut task_col = meta_col("task", TASKS.iter().map(|s| s.to_string()).collect());
        let mut user_col = meta_col(
            "user_id",
            (0..cfg.users).map(|u| format!("u{u:05}")).collect(),
        );
        let mut tenant_col = meta_col(
            "tenant",
            (0..cfg.tenants).map(|t| format!("t{t:02}")).collect(),
        );
        let mut plan_col = meta_col("plan", plans.iter().map(|s| s.to_string()).collect());
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
        let mut cells = vec![Sample::MISSING; n * nm];
        let mut extra_rows: Vec<(usize, Sample)> = Vec::new();
        for (i, g) in generated.into_iter().enumerate() {
            req.ids.push(format!("r{:07}", start + i));
            req.input.push(&g.prompt);
            req.input_chars.push(g.prompt.chars().count() as u32);
            req.turns.push(g.turns);
            req.input_tokens.push(g.in_tok);
            task_col.codes.push(g.task as u32);
            user_col.codes.push(g.user as u32);
            tenant_col.codes.push(g.tenant as u32);
            plan_col.codes.push(self.tenant_plan[g.tenant] as u32);
            for (mi, s) in g.first.into_iter().enumerate() {
                cells[mi * n + i] = s;
            }
            extra_rows.extend(g.extra.into_iter().map(|(mi, s)| (mi * n + i, s)));
        }
        req.meta = vec![task_col, user_col, tenant_col, plan_col];
        let info = DatasetInfo {
            name: "synthetic".into(),
            description: format!(
                "{} synthetic requests × {nm} models (routesim synth, seed {})",
                cfg.requests, cfg.seed
            ),
            source: format!(
                "routesim synth --requests {} --models {nm} --seed {}",
                cfg.requests, cfg.seed
            ),
            license: "CC0-1.0".into(),
            quality_scale: "simulated judge score 1–10 divided by 10".into(),
            notes: String::new(),
            warnings: Vec::new(),
        };
        let mut ds = from_model_major(
            info,
            req,
            MODELS[..nm].iter().map(|m| m.name.to_string()).collect(),
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

    /// Request `r` and its samples (its own random streams: independent of chunking
    /// and of the thread that generates it).
    fn request(&self, r: usize) -> Generated {
        let (cfg, cal) = (self.cfg, self.cal);
        let models = &MODELS[..cfg.models];
        let mut rr = Rng::for_stream(cfg.seed, 0x5EED, r as u64);
        let task = rr.pick_cumulative(&self.task_cum);
        let user = rr.pick_cumulative(&self.users_cum);
        let tenant = (crate::util::hash::stable_hash(format!("tenant{user}").as_bytes())
            % cfg.tenants as u64) as usize;
        let turns: u16 = if rr.chance(0.2) {
            2 + rr.below(4) as u16
        } else {
            1
        };
        let prompt = text::prompt(TASKS[task], &mut rr);
        let (im, is) = if task == 0 {
            cal.code_input
        } else {
            cal.conv_input
        };
        let in_tok = rr
            .lognormal(im * if turns > 1 { 1.5 } else { 1.0 }, is)
            .round()
            .clamp(8.0, 100_000.0) as u32;
        let difficulty = rr.lognormal(TASK_DIFFICULTY[task], 0.5);
        let out_base = rr.lognormal(
            cal.conv_output.0 * TASK_OUTPUT[task],
            cal.conv_output.1 * 0.7,
        );
        let mut first = Vec::with_capacity(models.len());
        let mut extra = Vec::new();
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
            first.push(s0);
            if !s0.status.is_ok() {
                // Retries of a failed call: two more recorded samples (transient errors
                // mostly clear on retry).
                for _ in 0..2 {
                    let mut s = draw(&mut mr);
                    if !s.status.is_ok() && mr.chance(0.5) {
                        s = draw(&mut mr);
                    }
                    extra.push((mi, s));
                }
            }
        }
        Generated {
            prompt,
            in_tok,
            turns,
            task,
            user,
            tenant,
            first,
            extra,
        }
    }
}

/// Requests generated and written at a time by [`write`].
const WRITE_CHUNK: usize = 100_000;

/// Generate a dataset and write it as a folder — `dataset.toml`, `requests.jsonl`,
/// `responses.csv` (or `.parquet`) and `pricing.toml` — a chunk of requests at a time,
/// so memory stays bounded at any size (10M requests and more). The folder appears
/// only when complete.
pub fn write(
    cfg: &SynthConfig,
    cal: &Calibration,
    dir: &std::path::Path,
    parquet: bool,
) -> anyhow::Result<()> {
    use std::io::Write;
    let staged = crate::util::files::StagedDir::new(dir)?;
    let mut requests = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(staged.path("requests.jsonl"))?,
    );
    let mut responses = if parquet {
        ResponsesOut::parquet(&staged.path("responses.parquet"))?
    } else {
        ResponsesOut::csv(&staged.path("responses.csv"))?
    };
    let mut generator = Generator::new(cfg, cal);
    let progress = crate::util::progress::Progress::new("synth", cfg.requests as u64);
    let mut models = Vec::new();
    while generator.remaining() > 0 {
        let ds = generator.chunk(WRITE_CHUNK);
        write_requests(&ds, &mut requests)?;
        responses.write(&ds)?;
        progress.inc(ds.n_requests() as u64);
        models = ds.models;
    }
    requests.flush()?;
    responses.finish()?;
    progress.finish();
    staged.write(
        "pricing.toml",
        calibrate::pricing_toml(cal, &models).as_bytes(),
    )?;
    staged.write(
        "dataset.toml",
        calibrate::dataset_toml(cfg, cal, parquet).as_bytes(),
    )?;
    staged.commit()?;
    Ok(())
}

/// One JSON object per request.
fn write_requests(ds: &Dataset, w: &mut impl std::io::Write) -> anyhow::Result<()> {
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
        serde_json::to_writer(&mut *w, &obj)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// The responses file, written a chunk at a time.
enum ResponsesOut {
    Csv(Box<csv::Writer<std::fs::File>>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<std::fs::File>>),
}

/// Columns of a synthetic responses file.
const RESPONSE_COLUMNS: [&str; 12] = [
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
];

impl ResponsesOut {
    fn csv(path: &std::path::Path) -> anyhow::Result<ResponsesOut> {
        let mut w = csv::WriterBuilder::new()
            .buffer_capacity(1 << 20)
            .from_path(path)?;
        w.write_record(RESPONSE_COLUMNS)?;
        Ok(ResponsesOut::Csv(Box::new(w)))
    }

    fn parquet(path: &std::path::Path) -> anyhow::Result<ResponsesOut> {
        use polars::prelude::*;
        let f = std::fs::File::create(path)?;
        let dtypes = [
            DataType::String,
            DataType::String,
            DataType::UInt32,
            DataType::String,
            DataType::UInt32,
            DataType::UInt32,
            DataType::UInt32,
            DataType::UInt32,
            DataType::Float64,
            DataType::Float64,
            DataType::Float64,
            DataType::Float64,
        ];
        let schema = Schema::from_iter(
            RESPONSE_COLUMNS
                .iter()
                .zip(dtypes)
                .map(|(n, t)| Field::new((*n).into(), t)),
        );
        let w = ParquetWriter::new(f)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&schema)?;
        Ok(ResponsesOut::Parquet(Box::new(w)))
    }

    /// The chunk's rows: request by request, model by model, sample by sample.
    fn write(&mut self, ds: &Dataset) -> anyhow::Result<()> {
        let mut rows: Vec<(usize, usize, u32, Sample)> = Vec::new();
        for r in 0..ds.n_requests() {
            for m in 0..ds.n_models() {
                for k in 0..ds.n_samples(r, m as u16) {
                    rows.push((r, m, k as u32, *ds.sample(r, m as u16, k)));
                }
            }
        }
        match self {
            ResponsesOut::Csv(w) => write_csv_rows(ds, &rows, w),
            ResponsesOut::Parquet(w) => {
                w.write_batch(&parquet_rows(ds, &rows)?)?;
                Ok(())
            }
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            ResponsesOut::Csv(mut w) => w.flush()?,
            ResponsesOut::Parquet(w) => {
                w.finish()?;
            }
        }
        Ok(())
    }
}

fn write_csv_rows(
    ds: &Dataset,
    rows: &[(usize, usize, u32, Sample)],
    w: &mut csv::Writer<std::fs::File>,
) -> anyhow::Result<()> {
    let opt = |x: f32| {
        if x.is_nan() {
            String::new()
        } else {
            format!("{x:.1}")
        }
    };
    let if_ok = |s: &Sample, x: u32| {
        if s.status.is_ok() {
            x.to_string()
        } else {
            String::new()
        }
    };
    for (r, m, k, s) in rows {
        w.write_record([
            ds.requests.ids[*r].clone(),
            ds.models[*m].clone(),
            k.to_string(),
            s.status.to_string(),
            s.input_tokens.to_string(),
            if_ok(s, s.output_tokens),
            if_ok(s, s.cached_tokens),
            if_ok(s, s.reasoning_tokens),
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
    Ok(())
}

fn parquet_rows(
    ds: &Dataset,
    rows: &[(usize, usize, u32, Sample)],
) -> anyhow::Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    // The values the CSV holds (one decimal), so both formats give the same dataset.
    let tenth = |x: f64| format!("{x:.1}").parse::<f64>().unwrap_or(x);
    let f32_opt = |x: f32| (!x.is_nan()).then(|| tenth(x as f64));
    let cols = vec![
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
                .map(|x| tenth(x.3.latency_ms as f64))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "ttft_ms".into(),
            rows.iter()
                .map(|x| f32_opt(x.3.ttft_ms))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "retry_after_ms".into(),
            rows.iter()
                .map(|x| f32_opt(x.3.retry_after_ms))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "quality".into(),
            rows.iter()
                .map(|x| (!x.3.quality.is_nan()).then(|| tenth(x.3.quality)))
                .collect::<Vec<_>>(),
        ),
    ];
    Ok(DataFrame::new_infer_height(cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_any_size_generate_the_same_requests() {
        let cal = calibrate(None);
        let cfg = SynthConfig::new(300, 5, 11);
        let whole = generate(&cfg, &cal);
        let mut g = Generator::new(&cfg, &cal);
        let mut seen = 0usize;
        while g.remaining() > 0 {
            let part = g.chunk(37);
            for i in 0..part.n_requests() {
                let r = seen + i;
                assert_eq!(part.requests.ids[i], whole.requests.ids[r]);
                assert_eq!(part.requests.ts_ms[i], whole.requests.ts_ms[r]);
                assert_eq!(part.requests.input.get(i), whole.requests.input.get(r));
                for (pm, wm) in part.requests.meta.iter().zip(&whole.requests.meta) {
                    assert_eq!(pm.get(i), wm.get(r), "{} of request {r}", pm.name);
                }
                for m in 0..whole.n_models() as u16 {
                    assert_eq!(part.n_samples(i, m), whole.n_samples(r, m));
                    for k in 0..part.n_samples(i, m) {
                        let (a, b) = (part.sample(i, m, k), whole.sample(r, m, k));
                        assert_eq!(format!("{a:?}"), format!("{b:?}"), "request {r} model {m}");
                    }
                }
            }
            seen += part.n_requests();
        }
        assert_eq!(seen, 300);
        assert!(!whole.extra.is_empty(), "retry samples exercised");
    }
}
