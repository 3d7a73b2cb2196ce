//! `routesim run`'s options resolved once into a typed plan (ripgrep's low-level →
//! high-level arguments): enums instead of strings, the pricing date and segment keys
//! normalised, every problem with the flags collected into one error. What depends on
//! the loaded inputs (the baseline's name, the segment fields) is checked by
//! [`RunPlan::check_inputs`], again all at once.

use super::run::Loaded;
use crate::dataset;
use crate::error::{Diagnostic, InputError};
use crate::pricing::today_days;
use crate::sim::{Arrival, ArrivalSpec, SimOptions, engine::Missing};
use std::path::PathBuf;

/// What to do with a cell the dataset lacks (`--missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingMode {
    /// Leave the request out of that policy's figures (coverage says how many).
    #[default]
    Skip,
    /// Stop with the request and model named.
    Fail,
    /// Use the model's typical answer (flagged).
    Impute,
    /// Record it from live providers first (`--providers`), then replay.
    Live,
}

impl MissingMode {
    /// The name written on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            MissingMode::Skip => "skip",
            MissingMode::Fail => "fail",
            MissingMode::Impute => "impute",
            MissingMode::Live => "live",
        }
    }

    /// What the engine does (live cells are recorded before the engine runs).
    pub fn engine(self) -> Missing {
        match self {
            MissingMode::Skip | MissingMode::Live => Missing::Skip,
            MissingMode::Fail => Missing::Fail,
            MissingMode::Impute => Missing::Impute,
        }
    }
}

/// Options of `routesim run`, as given (the binary converts its clap types into them).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Use the shipped example.
    pub example: bool,
    /// Dataset path.
    pub dataset: Option<PathBuf>,
    /// Further gateway log files read with `dataset` as one dataset (`-d a.jsonl b.jsonl`).
    pub more_datasets: Vec<PathBuf>,
    /// Policy files or folders.
    pub policies: Vec<PathBuf>,
    /// Extra pricing files.
    pub pricing: Vec<PathBuf>,
    /// `--price-as NAME=TARGET` aliases.
    pub price_as: Vec<String>,
    /// Refuse the built-in price catalog.
    pub no_builtin_prices: bool,
    /// Report folder.
    pub out: Option<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// Missing-cell handling.
    pub missing: MissingMode,
    /// Baseline policy for paired comparisons.
    pub baseline: Option<String>,
    /// Segment keys (`task` or `meta.task`).
    pub by: Vec<String>,
    /// Skip automatic baselines.
    pub no_baselines: bool,
    /// Arrival model.
    pub arrival: ArrivalSpec,
    /// `--scenario` what-ifs (TOML bodies), applied to every policy.
    pub scenarios: Vec<String>,
    /// Speed-up factor.
    pub speedup: f64,
    /// Threads.
    pub threads: Option<usize>,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Pricing date (YYYY-MM-DD).
    pub pricing_date: Option<String>,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Command line, for the manifest.
    pub command: Vec<String>,
    /// providers.toml for `--missing live`.
    pub providers: Option<PathBuf>,
    /// Accept unknown costs for models without a price (quality-only benchmarks).
    pub unpriced: bool,
    /// Print the figures only; write no report folder.
    pub no_report: bool,
    /// No progress on stderr.
    pub quiet: bool,
    /// `--shard i/n`: run shard i (0-based) of n.
    pub shard: Option<(usize, usize)>,
    /// `--shard-key`: assign requests to shards by this field instead of the id.
    pub shard_key: Option<String>,
    /// `--sweep POLICY:PATH=VALUES` (each a policy's numeric setting over values).
    pub sweeps: Vec<String>,
    /// `--strong M --weak M`: the two-model family of the RouteLLM metrics.
    pub pair: Option<(String, String)>,
    /// `--json`: print the figures as JSON instead of the table.
    pub json: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            example: false,
            dataset: None,
            more_datasets: Vec::new(),
            policies: Vec::new(),
            pricing: Vec::new(),
            price_as: Vec::new(),
            no_builtin_prices: false,
            out: None,
            seed: 7,
            missing: MissingMode::Skip,
            baseline: None,
            by: Vec::new(),
            no_baselines: false,
            arrival: ArrivalSpec::Recorded,
            scenarios: Vec::new(),
            speedup: 1.0,
            threads: None,
            bootstrap: 1000,
            pricing_date: None,
            limit: None,
            command: Vec::new(),
            providers: None,
            unpriced: false,
            no_report: false,
            quiet: false,
            shard: None,
            shard_key: None,
            sweeps: Vec::new(),
            pair: None,
            json: false,
        }
    }
}

/// A run, resolved: what to load, how to simulate, what to report.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The options it came from.
    pub opts: RunOptions,
    /// The dataset to load.
    pub dataset: PathBuf,
    /// Policy files and folders.
    pub policies: Vec<PathBuf>,
    /// Arrival model (a trace file read).
    pub arrival: Arrival,
    /// Pricing date, days since the epoch.
    pub pricing_days: i64,
    /// `--price-as` aliases, parsed.
    pub price_as: Vec<(String, String)>,
    /// Segment keys, each `meta.<field>`.
    pub by: Vec<String>,
    /// Where the report goes (default: `reports/<dataset name>`, decided once loaded).
    pub out: Option<PathBuf>,
    /// The shard to run (`--shard`), when not the whole run.
    pub shard: Option<super::shard::ShardSpec>,
}

impl RunPlan {
    /// Resolve the options; every problem with them is reported together.
    pub fn resolve(o: &RunOptions) -> Result<RunPlan, InputError> {
        let mut diags = Vec::new();
        let dataset = match (&o.dataset, o.example) {
            (Some(p), _) => Some(p.clone()),
            (None, true) => Some(super::find_root("datasets/example")),
            (None, false) => {
                diags.push(Diagnostic::file(
                    "routesim run",
                    "no dataset: pass -d DATASET or --example",
                ));
                None
            }
        };
        let mut policies = o.policies.clone();
        if policies.is_empty() && o.example {
            policies.push(super::find_root("policies"));
        }
        if !(o.speedup > 0.0 && o.speedup.is_finite()) {
            diags.push(Diagnostic::file("--speedup", "expected a positive number"));
        }
        if o.missing == MissingMode::Live && o.providers.is_none() {
            diags.push(Diagnostic::file(
                "--missing live",
                "needs --providers providers.toml",
            ));
        }
        let pricing_days = match &o.pricing_date {
            None => today_days(),
            Some(d) => match dataset::time::parse_ts_ms(d) {
                Some(ms) => ms.div_euclid(86_400_000),
                None => {
                    diags.push(Diagnostic::file(
                        "--pricing-date",
                        format!("expected YYYY-MM-DD, found \"{d}\""),
                    ));
                    0
                }
            },
        };
        let price_as = match super::parse_price_as(&o.price_as) {
            Ok(p) => p,
            Err(e) => {
                diags.extend(e.diagnostics);
                Vec::new()
            }
        };
        let arrival = match o.arrival.resolve() {
            Ok(a) => Some(a),
            Err(e) => {
                diags.extend(e.diagnostics);
                None
            }
        };
        let mut by: Vec<String> = o.by.iter().map(|k| crate::dataset::meta_key(k)).collect();
        if by.is_empty() && o.example {
            by.push("meta.task".into());
        }
        let shard_key = o.shard_key.as_deref().map(crate::dataset::meta_key);
        if shard_key.is_some() && o.shard.is_none() {
            diags.push(Diagnostic::file("--shard-key", "needs --shard i/n"));
        }
        if o.shard.is_some() && o.no_report {
            diags.push(Diagnostic::file(
                "--shard",
                "a shard writes its partial figures (no report to leave out): drop --no-report",
            ));
        }
        let shard = o.shard.map(|(index, count)| super::shard::ShardSpec {
            index,
            count,
            key: shard_key.clone(),
        });
        match (dataset, arrival) {
            (Some(dataset), Some(arrival)) if diags.is_empty() => Ok(RunPlan {
                opts: o.clone(),
                dataset,
                policies,
                arrival,
                pricing_days,
                price_as,
                by,
                out: o.out.clone(),
                shard,
            }),
            _ => Err(InputError::new(diags)),
        }
    }

    /// Check what depends on the loaded inputs: the baseline names a policy, the
    /// segment keys name dataset fields.
    pub fn check_inputs(&self, loaded: &Loaded) -> Result<(), InputError> {
        let mut diags = Vec::new();
        if let Some(b) = &self.opts.baseline
            && !loaded.policies.iter().any(|p| &p.name == b)
        {
            let names: Vec<&str> = loaded.policies.iter().map(|p| p.name.as_str()).collect();
            diags.push(Diagnostic::file(
                "--baseline",
                format!("no policy named \"{b}\"; policies: {}", names.join(", ")),
            ));
        }
        if let Some((strong, weak)) = &self.opts.pair {
            for (flag, m) in [("--strong", strong), ("--weak", weak)] {
                if loaded.ds.model_id(m).is_none() {
                    diags.push(Diagnostic::file(
                        flag,
                        format!(
                            "\"{m}\" is not a model of the dataset; models: {}",
                            loaded.ds.models.join(", ")
                        ),
                    ));
                }
            }
            if strong == weak {
                diags.push(Diagnostic::file(
                    "--strong",
                    format!("\"{strong}\" is also --weak; name two different models"),
                ));
            }
        }
        let req = &loaded.ds.requests;
        for key in &self.by {
            if req.meta_index(&key["meta.".len()..]).is_none() {
                let names: Vec<String> = req
                    .meta
                    .iter()
                    .map(|m| format!("meta.{}", m.name))
                    .collect();
                diags.push(Diagnostic::file(
                    "--by",
                    format!(
                        "the dataset has no field \"{key}\"; fields: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        if diags.is_empty() {
            Ok(())
        } else {
            Err(InputError::new(diags))
        }
    }

    /// The simulation's options.
    pub fn sim_options(&self) -> SimOptions {
        SimOptions {
            seed: self.opts.seed,
            missing: self.opts.missing.engine(),
            arrival: self.arrival.clone(),
            speedup: self.opts.speedup,
            impute_by: self.by.first().cloned(),
            ..SimOptions::default()
        }
    }

    /// Whether arrivals follow the dataset's own timestamps.
    pub fn recorded_clock(&self) -> bool {
        self.arrival == Arrival::Recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_problem_is_reported_at_once() {
        let o = RunOptions {
            speedup: 0.0,
            pricing_date: Some("yesterday".into()),
            missing: MissingMode::Live,
            ..RunOptions::default()
        };
        let e = RunPlan::resolve(&o).unwrap_err().to_string();
        for part in [
            "no dataset",
            "--speedup",
            "--pricing-date: expected YYYY-MM-DD, found \"yesterday\"",
            "--missing live: needs --providers",
        ] {
            assert!(e.contains(part), "{part} in {e}");
        }
    }

    #[test]
    fn segment_keys_are_normalised_once() {
        let o = RunOptions {
            dataset: Some("d".into()),
            by: vec!["task".into(), "meta.user".into()],
            ..RunOptions::default()
        };
        assert_eq!(
            RunPlan::resolve(&o).unwrap().by,
            vec!["meta.task", "meta.user"]
        );
    }
}
