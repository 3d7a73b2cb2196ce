//! Datasets: requests plus the responses each model gave them.
//!
//! Owns the in-memory data model (ARCHITECTURE.md) and the readers that fill it. Requests are
//! stored as columns; models are interned to `u16`; responses form a dense
//! `[request][model]` matrix of small [`Sample`] structs (with extra samples for
//! retries in a side table), so the engine never touches a `String` or a hash map.
//! Reading, validation and importers live in submodules; simulation is elsewhere.

pub mod build;
pub mod config;
pub mod importers;
pub mod load;
pub mod logged;
pub mod long;
pub mod recorded;
pub mod records;
pub mod request_table;
pub mod status;
pub mod text;
pub mod time;
pub mod tokens;
pub mod wide;

pub use build::DatasetBuilder;
pub use load::{LoadOptions, load, load_prompts};
pub use status::{Status, StatusClass};
pub use text::TextColumn;

/// Index of a model in [`Dataset::models`].
pub type ModelId = u16;

/// Sample flags.
pub mod flags {
    /// Input tokens were estimated from text (not recorded).
    pub const EST_INPUT_TOKENS: u8 = 1;
    /// Output tokens were estimated from text (not recorded).
    pub const EST_OUTPUT_TOKENS: u8 = 2;
    /// Latency was modelled (not recorded).
    pub const MODELLED_LATENCY: u8 = 4;
    /// This sample was imputed for a missing cell.
    pub const IMPUTED: u8 = 8;
}

/// One recorded response (one sample of one request × model cell).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Outcome; [`Status::MISSING`] marks an empty cell.
    pub status: Status,
    /// Bit set of [`flags`].
    pub flags: u8,
    /// Prompt tokens billed (including cached ones).
    pub input_tokens: u32,
    /// Completion tokens billed (including reasoning tokens).
    pub output_tokens: u32,
    /// Prompt tokens served from the provider's prompt cache.
    pub cached_tokens: u32,
    /// Prompt tokens written to the provider's prompt cache.
    pub cache_write_tokens: u32,
    /// The model that actually answered, when it differs from the cell's model (a
    /// gateway fallback, a router's pick): an index into [`Dataset::served_models`],
    /// or [`Sample::SAME_MODEL`].
    pub served: u16,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: u32,
    /// Total latency, milliseconds.
    pub latency_ms: f32,
    /// Time to first token, milliseconds (NaN when unknown).
    pub ttft_ms: f32,
    /// Provider `retry-after` on a 429/503, milliseconds (NaN when absent).
    pub retry_after_ms: f32,
    /// Quality in 0..1 (NaN when unlabelled).
    pub quality: f64,
    /// Recorded cost in USD (NaN when not recorded: priced from the PriceBook).
    pub cost_usd: f64,
}

impl Sample {
    /// [`Sample::served`] when the cell's own model answered.
    pub const SAME_MODEL: u16 = u16::MAX;

    /// An empty cell.
    pub const MISSING: Sample = Sample {
        status: Status::MISSING,
        flags: 0,
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        cache_write_tokens: 0,
        served: Sample::SAME_MODEL,
        reasoning_tokens: 0,
        latency_ms: 0.0,
        ttft_ms: f32::NAN,
        retry_after_ms: f32::NAN,
        quality: f64::NAN,
        cost_usd: f64::NAN,
    };

    /// A successful sample with the given tokens, latency and quality (tests, synth).
    pub fn ok(input_tokens: u32, output_tokens: u32, latency_ms: f32, quality: f64) -> Sample {
        Sample {
            status: Status::OK,
            input_tokens,
            output_tokens,
            latency_ms,
            quality,
            ..Sample::MISSING
        }
    }

    /// Whether the cell holds a response.
    #[inline]
    pub fn is_present(&self) -> bool {
        self.status.is_present()
    }

    /// The billed token counts.
    #[inline]
    pub fn usage(&self) -> crate::pricing::Usage {
        crate::pricing::Usage {
            input_tokens: self.input_tokens,
            cached_tokens: self.cached_tokens,
            cache_write_tokens: self.cache_write_tokens,
            output_tokens: self.output_tokens,
            reasoning_tokens: self.reasoning_tokens,
        }
    }
}

/// A metadata column (`meta.<name>`): values interned as strings, numeric view alongside.
#[derive(Debug, Clone, Default)]
pub struct MetaColumn {
    /// Key without the `meta.` prefix.
    pub name: String,
    /// Per request: index into `dict`, or [`MetaColumn::NONE`] when absent.
    pub codes: Vec<u32>,
    /// Distinct values as strings.
    pub dict: Vec<String>,
    /// Per distinct value: its number (NaN when not a number) — the numeric view of
    /// the column, one entry per value rather than per request.
    pub dict_nums: Vec<f64>,
}

/// A metadata field as the command line names it (`tier` or `meta.tier`), always
/// with its `meta.` prefix.
pub fn meta_key(k: &str) -> String {
    if k.starts_with("meta.") {
        k.to_string()
    } else {
        format!("meta.{k}")
    }
}

/// A metadata value as a number (NaN when it is not one).
pub fn meta_number(s: &str) -> f64 {
    let x = s.trim().parse::<f64>().unwrap_or(f64::NAN);
    if x.is_finite() { x } else { f64::NAN }
}

impl MetaColumn {
    /// Code of an absent value.
    pub const NONE: u32 = u32::MAX;

    /// A column from codes and distinct values.
    pub fn new(name: impl Into<String>, codes: Vec<u32>, dict: Vec<String>) -> MetaColumn {
        let dict_nums = dict.iter().map(|s| meta_number(s)).collect();
        MetaColumn {
            name: name.into(),
            codes,
            dict,
            dict_nums,
        }
    }

    /// Value of request `i` as a number (NaN when absent or not a number).
    #[inline]
    pub fn num(&self, i: usize) -> f64 {
        match self.codes[i] {
            Self::NONE => f64::NAN,
            c => self.dict_nums[c as usize],
        }
    }

    /// Add a distinct value (its code is the next one).
    pub fn push_value(&mut self, value: String) -> u32 {
        self.dict_nums.push(meta_number(&value));
        self.dict.push(value);
        (self.dict.len() - 1) as u32
    }

    /// Value of request `i` as a string, if present.
    pub fn get(&self, i: usize) -> Option<&str> {
        let c = self.codes[i];
        (c != Self::NONE).then(|| self.dict[c as usize].as_str())
    }

    /// Code of a value, if some request has it.
    pub fn code_of(&self, value: &str) -> Option<u32> {
        self.dict.iter().position(|d| d == value).map(|p| p as u32)
    }
}

/// Request columns.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    /// Request ids as given (unique).
    pub ids: Vec<String>,
    /// Arrival time, ms since the Unix epoch ([`Requests::NO_TS`] when absent).
    pub ts_ms: Vec<i64>,
    /// Prompt text (chat messages flattened, one per line).
    pub input: TextColumn,
    /// Characters in the prompt.
    pub input_chars: Vec<u32>,
    /// Prompt tokens (recorded or estimated).
    pub input_tokens: Vec<u32>,
    /// Whether `input_tokens` was estimated.
    pub input_tokens_estimated: Vec<bool>,
    /// Number of user turns (1 for a plain prompt).
    pub turns: Vec<u16>,
    /// Reference answers, when the dataset has them.
    pub reference: Option<TextColumn>,
    /// Metadata columns (`meta.*`).
    pub meta: Vec<MetaColumn>,
}

impl Requests {
    /// Marker for "no timestamp".
    pub const NO_TS: i64 = i64::MIN;

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no requests.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether every request has a timestamp.
    pub fn has_timestamps(&self) -> bool {
        !self.ts_ms.is_empty() && self.ts_ms.iter().all(|&t| t != Self::NO_TS)
    }

    /// Index of a metadata column by key.
    pub fn meta_index(&self, key: &str) -> Option<usize> {
        self.meta.iter().position(|m| m.name == key)
    }
}

/// A source file of the dataset and its hash (for the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path as given.
    pub path: String,
    /// Hex SHA-256 of the contents.
    pub sha256: String,
}

/// Descriptive information from `dataset.toml` (or an importer).
#[derive(Debug, Clone, Default)]
pub struct DatasetInfo {
    /// Short name.
    pub name: String,
    /// One-paragraph description.
    pub description: String,
    /// Where the data came from.
    pub source: String,
    /// Licence of the data.
    pub license: String,
    /// What quality means and its scale.
    pub quality_scale: String,
    /// Free-form notes (assumptions of synthetic data, caveats).
    pub notes: String,
    /// Human-readable warnings produced while loading (estimated tokens, modelled
    /// latency, ignored columns…), shown with the results.
    pub warnings: Vec<String>,
}

/// Requests and the recorded responses of every model.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Description and provenance.
    pub info: DatasetInfo,
    /// Request columns.
    pub requests: Requests,
    /// Model names, indexed by [`ModelId`].
    pub models: Vec<String>,
    /// Dense model-major `[model * n_requests + request]` matrix of first samples
    /// (a policy that mostly uses a few models streams through their columns).
    pub cells: Vec<Sample>,
    /// CSR offsets into `extra` per cell (empty when no cell has more than one sample).
    pub extra_offsets: Vec<u32>,
    /// Second and later samples.
    pub extra: Vec<Sample>,
    /// Output text of the first sample per cell, when recorded.
    pub outputs: Option<TextColumn>,
    /// Names of models that answered in place of a cell's model ([`Sample::served`]).
    pub served_models: Vec<String>,
    /// Files read, with hashes.
    pub sources: Vec<SourceFile>,
    /// Pricing files named by the dataset (resolved paths).
    pub pricing_files: Vec<std::path::PathBuf>,
    /// When this is one shard of a larger dataset (`routesim run --shard`).
    pub shard: Option<ShardView>,
    /// What production did with each request, when the dataset is a gateway log
    /// (the `logged` baseline replays it).
    pub logged: Option<logged::Logged>,
}

/// What a shard keeps of the whole dataset so that its requests are simulated exactly
/// as in a run over every request: each request's position in the whole dataset (the
/// random streams of splits and random choices are keyed by it) and the whole
/// dataset's first arrival (budget periods start there).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardView {
    /// This shard, 0-based.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
    /// The field requests are sharded by (`None`: the request id).
    pub key: Option<String>,
    /// Position of each request in the whole dataset.
    pub global_index: Vec<u32>,
    /// First arrival of the whole dataset (epoch ms), when it has timestamps.
    pub clock_origin_ms: Option<i64>,
    /// Requests in the whole dataset.
    pub total_requests: usize,
}

impl Dataset {
    /// The index that keys request `r`'s random streams: its position in the whole
    /// dataset (a shard's requests draw what they would in a run over every request).
    #[inline]
    pub fn stream_index(&self, r: usize) -> u64 {
        match &self.shard {
            Some(v) => v.global_index[r] as u64,
            None => r as u64,
        }
    }

    /// Number of requests.
    #[inline]
    pub fn n_requests(&self) -> usize {
        self.requests.len()
    }

    /// Number of models.
    #[inline]
    pub fn n_models(&self) -> usize {
        self.models.len()
    }

    /// Index of a cell in `cells` (model-major).
    #[inline]
    pub fn cell_index(&self, req: usize, model: ModelId) -> usize {
        model as usize * self.requests.len() + req
    }

    /// First sample of a cell.
    #[inline]
    pub fn cell(&self, req: usize, model: ModelId) -> &Sample {
        &self.cells[self.cell_index(req, model)]
    }

    /// First sample of a cell, mutable (what-if edits, tests).
    pub fn cell_mut(&mut self, req: usize, model: ModelId) -> &mut Sample {
        let i = self.cell_index(req, model);
        &mut self.cells[i]
    }

    /// Number of samples recorded in a cell (0 when missing).
    #[inline]
    pub fn n_samples(&self, req: usize, model: ModelId) -> usize {
        let idx = self.cell_index(req, model);
        if !self.cells[idx].is_present() {
            return 0;
        }
        if self.extra_offsets.is_empty() {
            1
        } else {
            1 + (self.extra_offsets[idx + 1] - self.extra_offsets[idx]) as usize
        }
    }

    /// Sample for attempt `k` of a cell: sample k when recorded, otherwise the last one
    /// (with one sample, every retry repeats it — documented in the README).
    #[inline]
    pub fn sample(&self, req: usize, model: ModelId, k: usize) -> &Sample {
        let idx = self.cell_index(req, model);
        if k == 0 || self.extra_offsets.is_empty() {
            return &self.cells[idx];
        }
        let (lo, hi) = (
            self.extra_offsets[idx] as usize,
            self.extra_offsets[idx + 1] as usize,
        );
        if lo == hi {
            &self.cells[idx]
        } else {
            &self.extra[(lo + k - 1).min(hi - 1)]
        }
    }

    /// Model id by name.
    pub fn model_id(&self, name: &str) -> Option<ModelId> {
        self.models
            .iter()
            .position(|m| m == name)
            .map(|p| p as ModelId)
    }

    /// Per model: whether some successful response lacks a recorded cost (so pricing
    /// it needs the model's price).
    pub fn needs_price(&self) -> Vec<bool> {
        let n = self.n_requests();
        (0..self.n_models())
            .map(|m| {
                let unrecorded = |s: &Sample| s.status.is_ok() && s.cost_usd.is_nan();
                self.cells[m * n..(m + 1) * n].iter().any(unrecorded)
                    || (!self.extra_offsets.is_empty()
                        && (0..n).any(|r| {
                            let i = self.cell_index(r, m as ModelId);
                            self.extra
                                [self.extra_offsets[i] as usize..self.extra_offsets[i + 1] as usize]
                                .iter()
                                .any(unrecorded)
                        }))
            })
            .collect()
    }

    /// Share of cells that hold a response, per model.
    pub fn coverage_by_model(&self) -> Vec<f64> {
        let n = self.n_requests().max(1) as f64;
        (0..self.n_models())
            .map(|m| {
                (0..self.n_requests())
                    .filter(|&r| self.cell(r, m as ModelId).is_present())
                    .count() as f64
                    / n
            })
            .collect()
    }
}
