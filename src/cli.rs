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

/// Commands. (Parsed once per process: the size of `run`'s arguments does not matter.)
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Simulate policies over a dataset and write a report folder.
    Run(Box<RunArgs>),
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
    /// Turn a gateway's config (LiteLLM config.yaml, Portkey config JSON) into a
    /// routesim policy; settings not reproduced exactly are listed.
    ImportConfig(ImportConfigArgs),
    /// Find the cheapest setting of a policy's parameters whose quality stays within a
    /// margin of a baseline: searched on a training split, reported on a held-out one.
    Tune(TuneArgs),
    /// What changes, request by request, when policy A is replaced by policy B.
    Diff(DiffArgs),
    /// Why one request went where it went under a policy, step by step.
    Explain(ExplainArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Search the price catalogs (built-in and --pricing files) and show how `run`
    /// prices a model name.
    Prices(PricesArgs),
    /// Import gateway logs (LiteLLM, Portkey, OpenRouter, Helicone, OpenAI Batch) as a
    /// dataset folder, with each request's logged outcome.
    Import(ImportArgs),
}

/// The gateway of `import-config`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GatewayArg {
    /// LiteLLM proxy config.yaml.
    Litellm,
    /// Portkey config JSON.
    Portkey,
}

/// `routesim import-config`.
#[derive(Debug, Args)]
pub struct ImportConfigArgs {
    /// Which gateway wrote the config.
    #[arg(value_enum)]
    pub gateway: GatewayArg,
    /// The config file.
    pub file: PathBuf,
    /// Policy file to write (default: print it).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Dataset the policy is for: model names are matched to its models, and the
    /// policy is checked to bind to it.
    #[arg(short, long)]
    pub dataset: Option<PathBuf>,
    /// Also write a pricing file: the provider model of each dataset model, and the
    /// config's custom prices.
    #[arg(long)]
    pub pricing_out: Option<PathBuf>,
    /// Policy name (default: the config file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Exit 1, writing nothing, when a routing setting is not reproduced exactly.
    #[arg(long)]
    pub strict: bool,
}

impl ImportConfigArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::ImportConfigOptions {
        routesim::app::ImportConfigOptions {
            gateway: match self.gateway {
                GatewayArg::Litellm => routesim::app::ConfigGateway::Litellm,
                GatewayArg::Portkey => routesim::app::ConfigGateway::Portkey,
            },
            file: self.file,
            out: self.out,
            dataset: self.dataset,
            pricing_out: self.pricing_out,
            name: self.name,
            strict: self.strict,
        }
    }
}

/// `routesim tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The policy file to tune.
    #[arg(short, long)]
    pub policy: PathBuf,
    /// Dataset: a folder with dataset.toml, a FastChat folder, or a CSV/JSONL/Parquet file.
    #[arg(short, long)]
    pub dataset: PathBuf,
    /// A parameter and its values, PATH=START:STOP:STEP or PATH=A,B,C (as in run
    /// --sweep, without the policy name); several form a grid. Default: the policy's
    /// [[sweep]] tables.
    #[arg(long = "param", value_name = "PATH=VALUES")]
    pub params: Vec<String>,
    /// Largest quality drop allowed: the 95% CI lower bound of Δquality against the
    /// baseline must be at least minus this.
    #[arg(long, default_value_t = 0.01)]
    pub max_quality_drop: f64,
    /// The policy to stay close to: a baseline (always:<model>, random, oracle) or the
    /// tuned policy's own name (as written).
    #[arg(long)]
    pub baseline: String,
    /// Share of the requests held out (by a stable hash of the id); the search never
    /// reads them.
    #[arg(long, default_value_t = 0.3)]
    pub holdout: f64,
    /// Seed of the split, of every random choice and of the bootstrap.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Pricing files, tried after the dataset's own.
    #[arg(long, num_args = 1..)]
    pub pricing: Vec<PathBuf>,
    /// Run even when some models have no price (such settings cannot qualify: their
    /// cost is unknown).
    #[arg(long)]
    pub unpriced: bool,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// What to do when a chosen model has no recorded response: skip, fail or impute.
    #[arg(long, value_enum, default_value_t = MissingArg::Skip)]
    pub missing: MissingArg,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
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

impl TuneArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::TuneOptions {
        routesim::app::TuneOptions {
            policy: self.policy,
            dataset: self.dataset,
            params: self.params,
            max_quality_drop: self.max_quality_drop,
            baseline: self.baseline,
            holdout: self.holdout,
            seed: self.seed,
            pricing: self.pricing,
            unpriced: self.unpriced,
            bootstrap: self.bootstrap,
            missing: self.missing.into(),
            quiet: self.quiet,
        }
    }
}

/// `routesim completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script of `shell` for the whole command line.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "routesim",
        &mut out,
    );
    out
}

/// What `diff` and `explain` read and how they simulate it (as `run`).
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Dataset: a folder with dataset.toml, a FastChat folder, or a CSV/JSONL/Parquet file.
    #[arg(short, long)]
    pub dataset: PathBuf,
    /// Pricing files, tried in order after the dataset's own.
    #[arg(long, num_args = 1..)]
    pub pricing: Vec<PathBuf>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// What to do when a chosen model has no recorded response (live is refused).
    #[arg(long, value_enum, default_value_t = MissingArg::Skip)]
    pub missing: MissingArg,
    /// Arrival model (as for run).
    #[arg(long, default_value = "recorded", value_parser = ArrivalSpec::parse)]
    pub arrival: ArrivalSpec,
    /// Only the first N requests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Run even when some models have no price (their costs are unknown).
    #[arg(long)]
    pub unpriced: bool,
    /// Price dated catalog entries as of this date (YYYY-MM-DD; default today).
    #[arg(long)]
    pub pricing_date: Option<String>,
    /// Print JSON instead of text (field names in the README).
    #[arg(long)]
    pub json: bool,
}

impl SimArgs {
    fn into_inputs(self) -> routesim::app::SimInputs {
        routesim::app::SimInputs {
            dataset: self.dataset,
            pricing: self.pricing,
            seed: self.seed,
            missing: self.missing.into(),
            arrival: self.arrival,
            limit: self.limit.map(|n| n as usize),
            unpriced: self.unpriced,
            pricing_date: self.pricing_date,
            json: self.json,
        }
    }
}

/// `routesim diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Policy A (before).
    pub a: PathBuf,
    /// Policy B (after).
    pub b: PathBuf,
    /// Also group the changes by these fields (e.g. meta.task).
    #[arg(long, num_args = 1..)]
    pub by: Vec<String>,
    /// Data and simulation.
    #[command(flatten)]
    pub sim: SimArgs,
}

impl DiffArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::DiffOptions {
        routesim::app::DiffOptions {
            a: self.a,
            b: self.b,
            by: self.by,
            inputs: self.sim.into_inputs(),
        }
    }
}

/// `routesim explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Policy file.
    #[arg(short, long)]
    pub policy: PathBuf,
    /// Id of the request to explain.
    #[arg(long)]
    pub request: String,
    /// Data and simulation.
    #[command(flatten)]
    pub sim: SimArgs,
}

impl ExplainArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::ExplainOptions {
        routesim::app::ExplainOptions {
            policy: self.policy,
            request: self.request,
            inputs: self.sim.into_inputs(),
        }
    }
}

/// `routesim prices`.
#[derive(Debug, Args)]
pub struct PricesArgs {
    /// A model name (also shows how `run` prices it), a substring, or a glob with * and ?.
    pub pattern: String,
    /// Prices on this date (YYYY-MM-DD; default today).
    #[arg(long)]
    pub date: Option<String>,
    /// Pricing files, searched before the built-in catalog (as `run --pricing`).
    #[arg(long, num_args = 1..)]
    pub pricing: Vec<PathBuf>,
    /// Leave the built-in catalog out.
    #[arg(long)]
    pub no_builtin_prices: bool,
    /// An alias, as `run --price-as NAME=TARGET`. Repeatable.
    #[arg(long = "price-as", value_name = "NAME=TARGET")]
    pub price_as: Vec<String>,
    /// JSON for scripts instead of the table.
    #[arg(long)]
    pub json: bool,
    /// At most this many catalog rows (0: all).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

impl PricesArgs {
    /// Library options.
    pub fn into_options(self) -> routesim::app::PricesOptions {
        routesim::app::PricesOptions {
            pattern: self.pattern,
            date: self.date,
            pricing: self.pricing,
            no_builtin_prices: self.no_builtin_prices,
            price_as: self.price_as,
            json: self.json,
            limit: self.limit,
        }
    }
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
    /// Print the deltas as JSON instead of Markdown (field names in the README).
    #[arg(long)]
    pub json: bool,
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
    /// Price a dataset model as this catalog name or entry (litellm:KEY,
    /// genai-prices:PROVIDER/ID), before any pricing.toml alias. Repeatable.
    #[arg(long = "price-as", value_name = "NAME=TARGET")]
    pub price_as: Vec<String>,
    /// Do not price from the built-in catalog what no pricing file knows.
    #[arg(long)]
    pub no_builtin_prices: bool,
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
    /// Sweep a numeric setting of a policy: 'POLICY:PATH=START:STOP:STEP' (inclusive)
    /// or 'POLICY:PATH=A,B,C', the path by TOML keys with rules and levels by name
    /// (classifier.level.simple.when.input_chars.lt). Each value runs as the policy
    /// `POLICY[PATH=VALUE]`; several --sweep of one policy form their grid. Repeatable.
    #[arg(long = "sweep", value_name = "POLICY:PATH=VALUES")]
    pub sweeps: Vec<String>,
    /// The strong model of a two-model family (RouteLLM metrics; default: the better of
    /// the two models when the dataset has exactly two).
    #[arg(long, requires = "weak")]
    pub strong: Option<String>,
    /// The weak model of a two-model family (with --strong).
    #[arg(long, requires = "strong")]
    pub weak: Option<String>,
    /// Print the figures as JSON instead of the table (field names in the README).
    #[arg(long)]
    pub json: bool,
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
            price_as: self.price_as,
            no_builtin_prices: self.no_builtin_prices,
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
            sweeps: self.sweeps,
            pair: self.strong.zip(self.weak),
            json: self.json,
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
