//! Command-line types (clap derive). The library never sees these; `app` converts them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use routesim::app::MissingMode;
use routesim::sim::ArrivalSpec;
use std::path::PathBuf;

/// Replay LLM request datasets through routing policies and measure cost, latency and
/// quality — before you change your gateway.
#[derive(Debug, Parser)]
#[command(name = "routesim", version, about, long_about = None)]
pub struct Cli {
    /// Command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate policies over a dataset and write a report folder.
    Run(RunArgs),
    /// Check policy files (and, with a dataset, that their models and fields exist).
    Validate(ValidateArgs),
    /// Generate a synthetic dataset with a realistic, documented shape.
    Synth(SynthArgs),
    /// Re-render a report folder from its trace folder (no simulation).
    Report(ReportArgs),
    /// Compare two report folders policy by policy.
    Compare(CompareArgs),
    /// Call live providers for the cells a dataset lacks and store their responses.
    Record(RecordArgs),
    /// Run a mock OpenAI/Anthropic-compatible provider on 127.0.0.1 (demos, benchmarks).
    MockServer(MockArgs),
    /// Combine the shards of a run (`run --shard i/n`) into its report folder.
    Merge(MergeArgs),
    /// Import gateway logs (LiteLLM, Portkey, OpenRouter, Helicone, OpenAI Batch) as a
    /// dataset folder, with each request's logged outcome.
    Import(ImportArgs),
}

/// `routesim import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Log files (or folders of them), one format; OpenAI Batch: output, error and
    /// input files together.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Dataset folder to write (default: datasets/<first file's name>); must not
    /// exist or be empty.
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Read every file as this format instead of detecting it: litellm-slp,
    /// litellm-spendlogs, portkey, openrouter, helicone, openai-batch.
    #[arg(long)]
    pub format: Option<String>,
    /// LiteLLM: name model columns by the model group (default), the provider model
    /// called, or the deployment (group@model_id).
    #[arg(long, value_name = "group|model|deployment")]
    pub model_key: Option<String>,
    /// Unit of the logged cost: usd, cents or nano (default: the format's documented
    /// unit — cents for Portkey, USD for the others).
    #[arg(long, value_name = "usd|cents|nano")]
    pub cost_unit: Option<String>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ImportArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::ImportArgs {
        routesim::app::ImportArgs {
            files: self.files,
            out: self.out,
            format: self.format,
            model_key: self.model_key,
            cost_unit: self.cost_unit,
            quiet: self.quiet,
        }
    }
}

/// `routesim merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard folders (every shard of one run, any order).
    #[arg(required = true, num_args = 1..)]
    pub shards: Vec<PathBuf>,
    /// Report folder to write.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// `routesim record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Dataset folder; responses are appended to <folder>/recorded.jsonl.
    #[arg(short, long)]
    pub dataset: PathBuf,
    /// Models to record (comma-separated dataset model names).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub models: Vec<String>,
    /// providers.toml.
    #[arg(long)]
    pub providers: PathBuf,
    /// Samples per cell.
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// Stop before spending more than this many USD.
    #[arg(long)]
    pub max_spend: Option<f64>,
    /// Calls in flight overall.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Extra pricing files.
    #[arg(long, num_args = 1..)]
    pub pricing: Vec<PathBuf>,
    /// Only the first N requests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Skip the preflight (one cheap call per provider and model before recording,
    /// which stops the run on a refused key, an unknown model or an unreachable
    /// endpoint).
    #[arg(long)]
    pub no_preflight: bool,
}

/// `routesim mock-server`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// Port on 127.0.0.1 (0 = any).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Added latency per answer, ms.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
}

impl RecordArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::provider::recorder::RecordOptions {
        routesim::provider::recorder::RecordOptions {
            dataset: self.dataset,
            models: self.models,
            providers: self.providers,
            samples: self.samples,
            max_spend: self.max_spend,
            concurrency: self.concurrency,
            pricing: self.pricing,
            limit: self.limit.map(|n| n as usize),
            cells: None,
            quiet: self.quiet,
            no_preflight: self.no_preflight,
        }
    }
}

/// `routesim report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report folder written by `routesim run`.
    pub dir: PathBuf,
    /// Segment by these fields instead.
    #[arg(long, num_args = 1..)]
    pub by: Vec<String>,
    /// Baseline for paired comparisons instead.
    #[arg(long)]
    pub baseline: Option<String>,
}

/// `routesim compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// First report folder (before).
    pub a: PathBuf,
    /// Second report folder (after).
    pub b: PathBuf,
    /// Write compare.md and compare.html into this folder (default: print Markdown).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

/// `--missing`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MissingArg {
    /// Leave the request out of that policy's figures (coverage says how many).
    Skip,
    /// Stop with the request and model named.
    Fail,
    /// Use the model's typical answer (flagged).
    Impute,
    /// Record it from live providers (--providers), then replay.
    Live,
}

impl From<MissingArg> for MissingMode {
    fn from(m: MissingArg) -> Self {
        match m {
            MissingArg::Skip => MissingMode::Skip,
            MissingArg::Fail => MissingMode::Fail,
            MissingArg::Impute => MissingMode::Impute,
            MissingArg::Live => MissingMode::Live,
        }
    }
}

/// `routesim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Use the shipped example: datasets/example and every policy in policies/.
    #[arg(long)]
    pub example: bool,
    /// Dataset: a folder with dataset.toml, a FastChat folder, a CSV/JSONL/Parquet
    /// file, or gateway log files (several: one dataset) or a folder of them.
    #[arg(short, long, num_args = 1..)]
    pub dataset: Vec<PathBuf>,
    /// Policy files (or folders of them).
    #[arg(short, long, num_args = 1..)]
    pub policy: Vec<PathBuf>,
    /// Pricing files, tried in order after the dataset's own (LiteLLM JSON, genai-prices data.json, pricing.toml).
    #[arg(long, num_args = 1..)]
    pub pricing: Vec<PathBuf>,
    /// Report folder (default: reports/<dataset name>).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Seed of every random choice (splits, shuffles, bootstrap).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// What to do when a chosen model has no recorded response: skip, fail, impute,
    /// or live (record it through --providers, then replay).
    #[arg(long, value_enum, default_value_t = MissingArg::Skip)]
    pub missing: MissingArg,
    /// providers.toml for --missing live.
    #[arg(long)]
    pub providers: Option<PathBuf>,
    /// Compare every policy with this one (paired, same requests).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Segment the analysis by these fields (e.g. meta.task).
    #[arg(long, num_args = 1..)]
    pub by: Vec<String>,
    /// Do not add the single-model, random and oracle baselines.
    #[arg(long)]
    pub no_baselines: bool,
    /// Arrival model: recorded (timestamps), uniform:RATE or poisson:RATE (requests/s), or
    /// trace:FILE.csv (the timestamps of a real arrival trace, in order).
    #[arg(long, default_value = "recorded", value_parser = ArrivalSpec::parse)]
    pub arrival: ArrivalSpec,
    /// Replay K times faster (divides inter-arrival gaps).
    #[arg(long, default_value_t = 1.0)]
    pub speedup: f64,
    /// A what-if applied to every policy and baseline, written like the body of a
    /// [[scenario]] table: 'outage = { model = "openai/gpt-4o", from = 600, to = 1200 }',
    /// 'latency = { model = "…", factor = 2 }', 'price = { … }', 'traffic = { factor = 3 }'.
    /// Repeatable.
    #[arg(long = "scenario", value_name = "TOML")]
    pub scenarios: Vec<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Bootstrap resamples for confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Price dated catalog entries as of this date (YYYY-MM-DD; default today).
    #[arg(long)]
    pub pricing_date: Option<String>,
    /// Only the first N requests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Run even when some models have no price (a quality-only benchmark): their
    /// costs are shown as unknown, never $0.
    #[arg(long)]
    pub unpriced: bool,
    /// Print the figures only; write no report folder.
    #[arg(long)]
    pub no_report: bool,
    /// No progress on stderr (it is also off when stderr is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// Run shard i of n (0-based): only the requests whose id hashes to it, written as
    /// mergeable figures (`routesim merge` combines the shards into the report).
    #[arg(long, value_name = "i/n", value_parser = routesim::app::ShardSpec::parse)]
    pub shard: Option<(usize, usize)>,
    /// Assign requests to shards by this field (e.g. meta.tenant) instead of the id:
    /// policies whose state is kept per that field (budgets `per` it) can then shard.
    #[arg(long, value_name = "FIELD")]
    pub shard_key: Option<String>,
}

/// `routesim validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy files (or folders of them).
    #[arg(required_unless_present = "example")]
    pub policies: Vec<PathBuf>,
    /// Also bind to this dataset (unknown models, missing fields).
    #[arg(short, long)]
    pub dataset: Option<PathBuf>,
    /// Validate the shipped policies against the shipped example dataset.
    #[arg(long)]
    pub example: bool,
}

/// `routesim synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Requests to generate.
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// Models (the first N of the built-in list of 8).
    #[arg(long, default_value_t = 8)]
    pub models: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Folder with the real calibration data (pricing catalogs); default ../shared/data.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Write responses as Parquet instead of CSV.
    #[arg(long)]
    pub parquet: bool,
}

impl RunArgs {
    /// Library options (plus the command line, for the manifest).
    pub fn into_options(self) -> routesim::app::RunOptions {
        routesim::app::RunOptions {
            example: self.example,
            dataset: self.dataset.first().cloned(),
            more_datasets: self.dataset.iter().skip(1).cloned().collect(),
            policies: self.policy,
            pricing: self.pricing,
            out: self.out,
            seed: self.seed,
            missing: self.missing.into(),
            baseline: self.baseline,
            by: self.by,
            no_baselines: self.no_baselines,
            arrival: self.arrival,
            scenarios: self.scenarios,
            speedup: self.speedup,
            threads: self.threads,
            bootstrap: self.bootstrap,
            pricing_date: self.pricing_date,
            limit: self.limit.map(|n| n as usize),
            command: std::env::args().skip(1).collect(),
            providers: self.providers,
            unpriced: self.unpriced,
            no_report: self.no_report,
            quiet: self.quiet,
            shard: self.shard,
            shard_key: self.shard_key,
        }
    }
}

impl SynthArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::SynthOptions {
        routesim::app::SynthOptions {
            out: self.out,
            requests: self.requests,
            models: self.models,
            seed: self.seed,
            calibration: self.calibration,
            parquet: self.parquet,
        }
    }
}
