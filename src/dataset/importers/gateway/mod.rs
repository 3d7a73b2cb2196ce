//! Production logs of LLM gateways, read as datasets: LiteLLM (`StandardLoggingPayload`
//! and `LiteLLM_SpendLogs`), Portkey log exports, OpenRouter generation records,
//! Helicone request exports, and OpenAI Batch output joined to its input file.
//!
//! A log is a list of *attempts* (calls to providers); this module detects the format
//! from the content ([`sniff`] — a file it cannot place is an error saying what was
//! expected, never a silent misread), reads every record with the format's reader
//! (one submodule each, with its field mapping in `MAPPING`), groups attempts into
//! requests ([`log`]), and hands the result to a [`log::Sink`]: a
//! [`DatasetBuilder`] (`routesim run -d LOG`) or a dataset folder ([`folder`],
//! `routesim import`). Besides the request × model cells, each request gets its
//! *logged outcome* ([`crate::dataset::logged`]) — what production did — which the
//! `logged` baseline replays. Simulation lives elsewhere.

pub mod folder;
pub mod helicone;
pub mod litellm;
pub mod log;
pub mod openai_batch;
pub mod openrouter;
pub mod portkey;
pub mod source;
pub mod value;

use crate::dataset::build::{DatasetBuilder, MetaValue, Recorded, RequestRow, ResponseRow};
use crate::dataset::logged::LoggedRow;
use crate::dataset::{Sample, SourceFile};
use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use log::{Attempt, AttemptOut, Findings, Head, LogBuilder, RequestOut, Sink, TextStore};
use serde_json::Value;
use source::{Container, Place};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A log format routesim reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// LiteLLM `StandardLoggingPayload` (one per call; JSONL, or JSON).
    LitellmSlp,
    /// LiteLLM `LiteLLM_SpendLogs` rows (one per request; CSV, JSON, JSONL).
    LitellmSpendLogs,
    /// Portkey log export (one row per attempt, `trace_id` groups them).
    Portkey,
    /// OpenRouter generation records (`GET /api/v1/generation`).
    OpenRouter,
    /// Helicone request export (`npx @helicone/export`).
    Helicone,
    /// OpenAI Batch API output or error file.
    OpenAiBatchOutput,
    /// OpenAI Batch API input file (joined to the output by `custom_id`).
    OpenAiBatchInput,
}

impl Format {
    /// Every format, in the order detection tries them.
    pub const ALL: [Format; 7] = [
        Format::LitellmSpendLogs,
        Format::LitellmSlp,
        Format::Portkey,
        Format::OpenRouter,
        Format::Helicone,
        Format::OpenAiBatchOutput,
        Format::OpenAiBatchInput,
    ];

    /// The name used by `--format` and in `dataset.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Format::LitellmSlp => "litellm-slp",
            Format::LitellmSpendLogs => "litellm-spendlogs",
            Format::Portkey => "portkey",
            Format::OpenRouter => "openrouter",
            Format::Helicone => "helicone",
            Format::OpenAiBatchOutput => "openai-batch",
            Format::OpenAiBatchInput => "openai-batch-input",
        }
    }

    /// A format by its `--format` name (`openai-batch` covers input and output
    /// files: each is told apart by content).
    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// What the format's records are, for messages.
    pub fn title(self) -> &'static str {
        match self {
            Format::LitellmSlp => "LiteLLM StandardLoggingPayload",
            Format::LitellmSpendLogs => "LiteLLM_SpendLogs rows",
            Format::Portkey => "Portkey log export",
            Format::OpenRouter => "OpenRouter generation records",
            Format::Helicone => "Helicone request export",
            Format::OpenAiBatchOutput => "OpenAI Batch output",
            Format::OpenAiBatchInput => "OpenAI Batch input",
        }
    }

    /// The formats read together into one dataset with this one.
    fn family(self) -> Format {
        match self {
            Format::OpenAiBatchInput => Format::OpenAiBatchOutput,
            f => f,
        }
    }

    /// The keys that told this format apart (for the manifest).
    fn detect(self, v: &Value) -> Option<Vec<&'static str>> {
        let has = |k: &str| value::has(v, k);
        let all = |ks: &[&'static str]| ks.iter().all(|k| has(k)).then(|| ks.to_vec());
        let one_of = |ks: &[&'static str]| ks.iter().copied().find(|k| has(k));
        match self {
            Format::LitellmSpendLogs => all(&["request_id", "spend", "startTime"]),
            Format::LitellmSlp => {
                let mut k = all(&["response_cost", "startTime"])?;
                k.push(one_of(&[
                    "trace_id",
                    "call_type",
                    "model_map_information",
                    "hidden_params",
                ])?);
                Some(k)
            }
            Format::Portkey => {
                let mut k = vec![one_of(&["ai_model", "ai_org", "ai_provider"])?];
                k.extend(all(&["response_time", "created_at"])?);
                Some(k)
            }
            Format::OpenRouter => {
                if has("provider_responses") {
                    Some(vec!["provider_responses"])
                } else {
                    all(&["native_tokens_prompt", "total_cost"])
                        .or_else(|| all(&["generation_time", "tokens_prompt"]))
                }
            }
            Format::Helicone => {
                let mut k = all(&["request_created_at", "response_status"])?;
                k.push(one_of(&[
                    "delay_ms",
                    "request_model",
                    "cache_reference_id",
                    "response_created_at",
                ])?);
                Some(k)
            }
            Format::OpenAiBatchOutput => {
                let o = v.as_object()?;
                let ok = has("custom_id")
                    && (has("response") || has("error"))
                    && o.keys()
                        .all(|k| ["id", "custom_id", "response", "error"].contains(&k.as_str()));
                ok.then(|| {
                    vec![
                        "custom_id",
                        if has("response") { "response" } else { "error" },
                    ]
                })
            }
            Format::OpenAiBatchInput => all(&["custom_id", "method", "url", "body"]),
        }
    }
}

/// The message for a file routesim cannot read as a dataset or a log.
pub const EXPECTED: &str = "Expected a long table (request_id, model, …) or a gateway log: \
LiteLLM StandardLoggingPayload (response_cost, startTime, trace_id), LiteLLM_SpendLogs \
(request_id, spend, startTime), Portkey export (ai_model/ai_org, response_time, created_at), \
OpenRouter generation (provider_responses / native_tokens_prompt + total_cost), Helicone \
(request_created_at, response_status, delay_ms), OpenAI Batch (custom_id + response/error, or \
custom_id + method/url/body)";

/// What a file is.
#[derive(Debug, Clone, PartialEq)]
pub enum Sniffed {
    /// A gateway log in this format (and container), with the keys that told it.
    Log(Format, Container, Vec<&'static str>),
    /// A JSON file whose first record is a long table row (an id and a model).
    Long,
    /// A CSV file that is not a gateway export (a long or wide table).
    Table,
    /// JSON that is neither: the keys of its first record.
    Unknown(Vec<String>),
    /// A fragment of a log with a specific message (OpenRouter's content or one
    /// provider response).
    Fragment(String),
}

/// What `path` is (from its content; Parquet files are tables).
pub fn sniff(path: &Path) -> Result<Sniffed, InputError> {
    if path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("parquet"))
    {
        return Ok(Sniffed::Table);
    }
    let Some((container, first)) = source::sniff(path)? else {
        // Not JSON records routesim can place (empty, broken, or CSV): the table
        // readers take it and say what is wrong with it.
        return Ok(Sniffed::Table);
    };
    for f in Format::ALL {
        if let Some(keys) = f.detect(&first) {
            return Ok(Sniffed::Log(f, container, keys));
        }
    }
    if let Some(msg) = openrouter::fragment(&first) {
        return Ok(Sniffed::Fragment(msg));
    }
    if container == Container::Csv {
        return Ok(Sniffed::Table);
    }
    let has = |ks: &[&str]| ks.iter().any(|k| value::has(&first, k));
    if has(crate::dataset::long::ID) && has(&["model", "model_id", "model_name"]) {
        return Ok(Sniffed::Long);
    }
    Ok(Sniffed::Unknown(value::keys(&first)))
}

/// The error for a file that is not a format routesim reads.
pub fn unrecognised(path: &Path, keys: &[String]) -> InputError {
    let found = if keys.is_empty() {
        "no JSON object".to_string()
    } else {
        let mut k = keys.to_vec();
        k.truncate(20);
        format!("Found keys: {}", k.join(", "))
    };
    InputError::one(Diagnostic {
        file: display_path(path),
        location: crate::error::Location::Text { line: 1, col: 1 },
        message: format!("not a format routesim reads. {EXPECTED}. {found}"),
    })
}

/// The unit of a logged cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostUnit {
    /// US dollars.
    Usd,
    /// US cents (Portkey's export, per its docs).
    Cents,
    /// Billionths of a dollar (Helicone's raw ClickHouse `cost`).
    Nano,
}

impl CostUnit {
    /// By name (`usd`, `cents`, `nano`).
    pub fn from_name(s: &str) -> Option<CostUnit> {
        match s {
            "usd" => Some(CostUnit::Usd),
            "cents" => Some(CostUnit::Cents),
            "nano" => Some(CostUnit::Nano),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            CostUnit::Usd => "usd",
            CostUnit::Cents => "cents",
            CostUnit::Nano => "nano",
        }
    }

    /// A logged cost in this unit, in USD.
    pub fn to_usd(self, x: f64) -> f64 {
        match self {
            CostUnit::Usd => x,
            CostUnit::Cents => x / 100.0,
            CostUnit::Nano => x / 1e9,
        }
    }
}

/// Which name a LiteLLM call's model column gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelKey {
    /// The model group (`model_name` of the proxy config): what clients ask for.
    #[default]
    Group,
    /// The provider model called (`openai/gpt-4o`).
    Model,
    /// The deployment: `group@model_id`.
    Deployment,
}

impl ModelKey {
    /// By name.
    pub fn from_name(s: &str) -> Option<ModelKey> {
        match s {
            "group" => Some(ModelKey::Group),
            "model" => Some(ModelKey::Model),
            "deployment" => Some(ModelKey::Deployment),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKey::Group => "group",
            ModelKey::Model => "model",
            ModelKey::Deployment => "deployment",
        }
    }
}

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Force a format (default: detected from each file's content).
    pub format: Option<Format>,
    /// LiteLLM: the model column's name.
    pub model_key: ModelKey,
    /// The logged cost's unit (default: the format's documented unit).
    pub cost_unit: Option<CostUnit>,
    /// Show progress on stderr.
    pub progress: bool,
}

/// One source file of an import, for the manifest.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Path as given.
    pub path: String,
    /// SHA-256.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// Format read.
    pub format: Format,
    /// The keys that told the format.
    pub matched: Vec<&'static str>,
    /// Records read.
    pub records: u64,
    /// Records used.
    pub used: u64,
    /// Records skipped, with why.
    pub skipped: std::collections::BTreeMap<String, u64>,
}

/// A format reader's view of one record: where it is, the options, and what to
/// report.
pub struct Record<'a> {
    /// The record.
    pub v: &'a Value,
    /// Where it is.
    pub place: Place,
    /// File as shown.
    pub file: &'a str,
    /// Options.
    pub opts: &'a ImportOptions,
    /// Problems found (a record with a problem is skipped).
    pub diags: &'a mut Diagnostics,
}

impl Record<'_> {
    /// A problem with a field of this record.
    pub fn bad(&mut self, key: &str, msg: impl Into<String>) {
        let d = self.place.field(self.file, key, msg);
        self.diags.push(d);
    }
}

/// What a format reader makes of one record.
pub enum Read {
    /// Attempts (a generation with several provider responses gives several).
    Attempts(Vec<Attempt>),
    /// Request-level fields only (a batch input line), for request `key`.
    Head(String, Head),
    /// Nothing to import, and why (counted in the manifest).
    Skip(&'static str),
}

/// Read one record of `format`.
fn read_record(format: Format, r: &mut Record) -> Read {
    match format {
        Format::LitellmSlp => litellm::read_slp(r),
        Format::LitellmSpendLogs => litellm::read_spend_logs(r),
        Format::Portkey => portkey::read(r),
        Format::OpenRouter => openrouter::read(r),
        Format::Helicone => helicone::read(r),
        Format::OpenAiBatchOutput => openai_batch::read_output(r),
        Format::OpenAiBatchInput => openai_batch::read_input(r),
    }
}

/// The field mapping of a format (routesim field, source expression, note): written
/// into an imported dataset's `dataset.toml` and documented in the README.
pub fn mapping(format: Format) -> &'static [(&'static str, &'static str, &'static str)] {
    match format.family() {
        Format::LitellmSlp => litellm::SLP_MAPPING,
        Format::LitellmSpendLogs => litellm::SPEND_LOGS_MAPPING,
        Format::Portkey => portkey::MAPPING,
        Format::OpenRouter => openrouter::MAPPING,
        Format::Helicone => helicone::MAPPING,
        _ => openai_batch::MAPPING,
    }
}

/// Times of a format: epoch seconds (1000 ms per unit) or epoch ms.
fn time_unit_ms(format: Format) -> f64 {
    match format.family() {
        Format::LitellmSlp => 1000.0,
        _ => 1.0,
    }
}

/// Whether one record is one request (a key seen twice is an error).
fn one_row_per_request(format: Format) -> bool {
    matches!(
        format.family(),
        Format::LitellmSpendLogs | Format::Helicone | Format::OpenAiBatchOutput
    )
}

/// A log read into memory, grouped into requests, ready to emit.
pub struct OpenLog {
    /// The family of formats read.
    pub format: Format,
    /// Per file: what was read.
    pub files: Vec<FileReport>,
    /// The requests.
    pub log: LogBuilder,
    /// The options used.
    pub opts: ImportOptions,
    /// The assumptions made (the dataset's notes), one per line.
    pub notes: Vec<String>,
}

/// Read `files` (each sniffed unless `opts.format` forces it) into an open log whose
/// texts go to `texts`. Every problem of every file is reported together.
pub fn read(
    files: &[PathBuf],
    opts: &ImportOptions,
    texts: TextStore,
) -> Result<OpenLog, InputError> {
    let mut diags = Diagnostics::new();
    let mut kinds: Vec<(Format, Container, Vec<&'static str>)> = Vec::new();
    for f in files {
        if !f.is_file() {
            return Err(InputError::file(f, "no such file"));
        }
        let s = sniff(f)?;
        let found = match (s, opts.format) {
            (Sniffed::Log(fmt, c, keys), Some(forced)) if fmt.family() == forced.family() => {
                (fmt, c, keys)
            }
            (Sniffed::Log(fmt, _, _), Some(forced)) if fmt.family() != forced.family() => {
                diags.push(Diagnostic::file(
                    display_path(f),
                    format!(
                        "--format {} was given, but this file reads as {} ({})",
                        forced.name(),
                        fmt.title(),
                        fmt.name()
                    ),
                ));
                continue;
            }
            (_, Some(forced)) => {
                // Forced: read as the format from its container.
                let c = match source::sniff(f)? {
                    Some((c, _)) => c,
                    None => {
                        diags.push(Diagnostic::file(
                            display_path(f),
                            format!(
                                "--format {}: the file holds no JSON or CSV records",
                                forced.name()
                            ),
                        ));
                        continue;
                    }
                };
                (forced, c, Vec::new())
            }
            (Sniffed::Log(fmt, c, keys), None) => (fmt, c, keys),
            (Sniffed::Fragment(msg), None) => {
                diags.push(Diagnostic::file(display_path(f), msg));
                continue;
            }
            (Sniffed::Unknown(keys), None) => {
                diags.extend(unrecognised(f, &keys).diagnostics);
                continue;
            }
            (Sniffed::Long | Sniffed::Table, None) => {
                diags.push(Diagnostic::file(
                    display_path(f),
                    format!("not a gateway log: it reads as a dataset table. {EXPECTED}"),
                ));
                continue;
            }
        };
        kinds.push(found);
    }
    std::mem::replace(&mut diags, Diagnostics::new()).finish(())?;
    let family = kinds[0].0.family();
    if let Some((bad, _, _)) = kinds.iter().find(|k| k.0.family() != family) {
        return Err(InputError::one(Diagnostic::file(
            files
                .iter()
                .map(|p| display_path(p))
                .collect::<Vec<_>>()
                .join(", "),
            format!(
                "these files hold different formats ({} and {}); import each format on its own",
                kinds[0].0.title(),
                bad.title()
            ),
        )));
    }
    let mut log = LogBuilder::new(texts, time_unit_ms(family));
    log.one_row_per_request = one_row_per_request(family);
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let progress =
        crate::util::progress::Progress::new("import", if opts.progress { total } else { 0 });
    let mut reports = Vec::new();
    // Batch input files first: their heads name the request's model.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| kinds[i].0 != Format::OpenAiBatchInput);
    let mut dups = 0usize;
    for i in order {
        let path = &files[i];
        let (format, container, matched) = kinds[i].clone();
        let file = display_path(path);
        let mut rep = FileReport {
            path: file.clone(),
            sha256: crate::util::hash::sha256_file(path)
                .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?,
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            format,
            matched,
            records: 0,
            used: 0,
            skipped: Default::default(),
        };
        let fi = i as u16;
        let mut io_err: Option<std::io::Error> = None;
        source::for_each(
            path,
            container,
            &mut diags,
            &mut |n| progress.inc(n),
            &mut |v, place, diags| {
                rep.records += 1;
                let before = diags.len();
                let read = read_record(
                    format,
                    &mut Record {
                        v,
                        place,
                        file: &file,
                        opts,
                        diags,
                    },
                );
                if diags.len() > before {
                    return;
                }
                match read {
                    Read::Skip(why) => *rep.skipped.entry(why.to_string()).or_insert(0) += 1,
                    Read::Head(key, head) => {
                        rep.used += 1;
                        if let Err(e) = log.add_head(&key, &head, fi, place) {
                            io_err.get_or_insert(e);
                        }
                    }
                    Read::Attempts(list) => {
                        rep.used += 1;
                        for a in list {
                            match log.add(a, fi, place) {
                                Ok(None) => {}
                                Ok(Some(d)) => {
                                    dups += 1;
                                    if dups <= 20 {
                                        let first = &files[d.first.0 as usize];
                                        diags.push(place.diag(
                                            &file,
                                            format!(
                                                "duplicate request id \"{}\" (first in {}, record {}); {} has one record per request",
                                                d.key,
                                                display_path(first),
                                                d.first.1,
                                                format.title()
                                            ),
                                        ));
                                    }
                                }
                                Err(e) => {
                                    io_err.get_or_insert(e);
                                }
                            }
                        }
                    }
                }
            },
        )?;
        if let Some(e) = io_err {
            return Err(InputError::file(
                path,
                format!("cannot keep the texts while reading: {e}"),
            ));
        }
        if rep.records == 0 {
            diags.push(Diagnostic::file(
                &file,
                format!("no records: expected {}", format.title()),
            ));
        }
        reports.push(rep);
    }
    progress.finish();
    diags.finish(())?;
    reports.sort_by_key(|r| files.iter().position(|f| display_path(f) == r.path));
    let notes = notes_of(family, opts);
    Ok(OpenLog {
        format: family,
        files: reports,
        log,
        opts: opts.clone(),
        notes,
    })
}

/// The assumptions of an import, one sentence each (the dataset's notes).
fn notes_of(format: Format, opts: &ImportOptions) -> Vec<String> {
    let mut n = vec![
        "one request per trace: attempts (retries, fallbacks) that share the request key are grouped; request-level fields (asked model, prompt, metadata) come from the earliest attempt".to_string(),
        "the logged outcome (the `logged` baseline) is the final attempt's status and model, the sum of the attempts' logged costs and the span from the first start to the last end (time between attempts included)".to_string(),
        "cells: each attempt that called a model is a sample of its request × model cell, in start order; cache hits are logged outcomes only".to_string(),
        "logged cost wins over any price book; tokens include cached (input) and reasoning (output) tokens".to_string(),
    ];
    n.extend(match format {
        Format::LitellmSlp => litellm::SLP_NOTES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        Format::LitellmSpendLogs => litellm::SPEND_LOGS_NOTES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Format::Portkey => portkey::notes(opts),
        Format::OpenRouter => openrouter::NOTES.iter().map(|s| s.to_string()).collect(),
        Format::Helicone => helicone::notes(opts),
        _ => openai_batch::NOTES.iter().map(|s| s.to_string()).collect(),
    });
    if matches!(format, Format::LitellmSlp | Format::LitellmSpendLogs) {
        n.push(format!(
            "model columns: --model-key {}",
            opts.model_key.name()
        ));
    }
    n
}

/// Warnings from what an emitted log showed.
pub fn warnings_of(f: &Findings, format: Format) -> Vec<String> {
    let mut w = Vec::new();
    if !f.zero_cost.is_empty() {
        let list: Vec<String> = f
            .zero_cost
            .iter()
            .map(|(m, n)| format!("{n} on {m}"))
            .collect();
        let why = if matches!(format, Format::LitellmSlp | Format::LitellmSpendLogs) {
            " (LiteLLM logs $0 for a model missing from its price map)"
        } else {
            ""
        };
        w.push(format!(
            "successful calls with tokens logged at $0: {}{why}; the logged baseline keeps $0 (logged cost wins); price these models (pricing.toml) to compare them fairly",
            list.join(", ")
        ));
    }
    let gaps: Vec<f64> = f.gaps_ms.iter().copied().filter(|g| *g > 1.0).collect();
    if !gaps.is_empty() {
        let median = crate::util::stats::quantile_sorted(&gaps, 0.5).unwrap_or(0.0);
        w.push(format!(
            "{} requests with several attempts spent time between them that the log does not account for (median {:.0} ms: back-off, fallback set-up): their logged latency includes it, a replay of the attempts cannot",
            gaps.len(),
            median
        ));
    }
    if f.without_attempts > 0 {
        w.push(format!(
            "{} requests have no logged outcome (e.g. a batch input line without output: pass the output file); the logged baseline leaves them uncovered",
            f.without_attempts
        ));
    }
    w
}

/// Requests to a [`DatasetBuilder`] (`routesim run -d LOG`).
struct BuilderSink<'a> {
    b: &'a mut DatasetBuilder,
    diags: &'a mut Diagnostics,
    files: Vec<Arc<str>>,
}

impl Sink for BuilderSink<'_> {
    fn meta_keys(&mut self, _: &[String]) -> anyhow::Result<()> {
        Ok(())
    }

    fn request(&mut self, r: &RequestOut) -> anyhow::Result<()> {
        let row = request_row(r);
        let origin = (self.files[r.origin.0 as usize].clone(), r.origin.1);
        self.b.add_request(row, origin, self.diags);
        Ok(())
    }

    fn attempt(&mut self, id: &str, a: &AttemptOut) -> anyhow::Result<()> {
        let origin = (self.files[a.origin.0 as usize].clone(), a.origin.1);
        self.b
            .add_response(response_row(id, a, origin), None, self.diags);
        Ok(())
    }

    fn logged(&mut self, id: &str, row: &LoggedRow) -> anyhow::Result<()> {
        self.b.set_logged(id, row.clone());
        Ok(())
    }
}

/// The request row of an emitted request (what reading its folder gives, too).
pub fn request_row(r: &RequestOut) -> RequestRow {
    let mut row = RequestRow {
        id: r.id.clone(),
        ts_ms: r.ts_ms,
        input_tokens: r.input_tokens,
        ..Default::default()
    };
    if let Some(t) = &r.input
        && let Some((text, turns)) = crate::dataset::long::input_text(
            &crate::dataset::records::Cell::Text(t.as_str().into()),
        )
    {
        row.input = Some(text);
        row.turns = Some(turns);
    }
    for (k, v) in &r.meta {
        row.meta
            .push((k.as_str().into(), MetaValue::Str(v.as_str().into())));
    }
    row
}

/// The response row of an emitted attempt.
pub fn response_row(
    id: &str,
    a: &AttemptOut,
    origin: crate::dataset::build::Origin,
) -> ResponseRow {
    let s = Sample {
        status: a.status,
        cached_tokens: a.cached_tokens.unwrap_or(0),
        cache_write_tokens: a.cache_write_tokens.unwrap_or(0),
        reasoning_tokens: a.reasoning_tokens.unwrap_or(0),
        ttft_ms: a.ttft_ms as f32,
        cost_usd: a.cost_usd,
        ..Sample::MISSING
    };
    let mut rec = Recorded::measured(
        s,
        a.input_tokens,
        a.output_tokens,
        a.latency_ms,
        a.output.clone(),
        origin,
    );
    rec.served_model = a.served.clone();
    ResponseRow {
        request_id: id.into(),
        model: a.column.as_str().into(),
        sample: Some(a.sample),
        index: None,
        recorded: rec,
    }
}

/// Read gateway log files into `b` (a fresh builder without implicit requests):
/// requests, responses, logged outcomes, provenance and notes.
pub fn read_into(
    files: &[PathBuf],
    opts: &ImportOptions,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let mut open = read(files, opts, TextStore::Memory(Vec::new()))?;
    let shown: Vec<Arc<str>> = files.iter().map(|p| Arc::from(display_path(p))).collect();
    let mut sink = BuilderSink {
        b,
        diags,
        files: shown,
    };
    let findings = open
        .log
        .emit(&mut sink)
        .map_err(|e| InputError::file(&files[0], e.to_string()))?;
    b.info.source = files
        .iter()
        .map(|p| display_path(p))
        .collect::<Vec<_>>()
        .join(", ");
    b.info.description = format!("{} imported on the fly", open.format.title());
    b.info.notes = open.notes.join("\n");
    b.info.warnings.extend(warnings_of(&findings, open.format));
    for r in &open.files {
        b.sources.push(SourceFile {
            path: r.path.clone(),
            sha256: r.sha256.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detect(v: Value) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.detect(&v).is_some())
    }

    #[test]
    fn formats_are_told_apart_by_their_keys() {
        assert_eq!(
            detect(
                json!({"response_cost": 0, "startTime": 1, "trace_id": "t", "model": "m", "id": "x"})
            ),
            Some(Format::LitellmSlp)
        );
        // SpendLogs rows have `spend`, not `response_cost`.
        assert_eq!(
            detect(json!({"request_id": "r", "spend": 0, "startTime": "2025-01-01", "model": "m"})),
            Some(Format::LitellmSpendLogs)
        );
        assert_eq!(
            detect(json!({"ai_org": "openai", "response_time": 3, "created_at": "2025-01-01"})),
            Some(Format::Portkey)
        );
        assert_eq!(
            detect(
                json!({"ai_provider": "openai", "ai_model": "m", "response_time": 3, "created_at": "x"})
            ),
            Some(Format::Portkey)
        );
        assert_eq!(
            detect(json!({"id": "gen", "provider_responses": null})),
            Some(Format::OpenRouter)
        );
        assert_eq!(
            detect(json!({"request_created_at": "x", "response_status": 200, "delay_ms": 3})),
            Some(Format::Helicone)
        );
        assert_eq!(
            detect(
                json!({"id": "b", "custom_id": "c", "response": null, "error": {"code": "batch_expired"}})
            ),
            Some(Format::OpenAiBatchOutput)
        );
        assert_eq!(
            detect(json!({"custom_id": "c", "method": "POST", "url": "/v1/x", "body": {}})),
            Some(Format::OpenAiBatchInput)
        );
        // A long table row and an API response are no log.
        assert_eq!(
            detect(json!({"request_id": "r", "model": "m", "latency_ms": 3})),
            None
        );
        assert_eq!(
            detect(json!({"id": "c", "model": "m", "choices": [], "usage": {}})),
            None
        );
        // A batch output line with another key is not one.
        assert_eq!(
            detect(json!({"custom_id": "c", "response": {}, "latency": 3})),
            None
        );
    }

    #[test]
    fn cost_units_convert_to_dollars() {
        assert_eq!(CostUnit::Cents.to_usd(150.0), 1.5);
        assert_eq!(CostUnit::Nano.to_usd(2e9), 2.0);
        assert_eq!(CostUnit::Usd.to_usd(0.25), 0.25);
        for u in [CostUnit::Usd, CostUnit::Cents, CostUnit::Nano] {
            assert_eq!(CostUnit::from_name(u.name()), Some(u));
        }
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
    }
}
