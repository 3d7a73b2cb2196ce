//! Finding and reading a dataset: a folder with `dataset.toml`, a FastChat folder, a
//! folder of wide CSVs, or a single table file (long or wide, detected from the header).

use super::Dataset;
use super::build::DatasetBuilder;
use super::config::{self, Layout, WideOptions};
use super::importers::fastchat;
use super::importers::gateway::{self, Sniffed};
use super::records::{TableFormat, header};
use super::{SourceFile, long, wide};
use crate::error::{Diagnostics, InputError, display_path};
use std::path::{Path, PathBuf};

/// Options for loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep only the first `n` requests (after loading), for quick looks.
    pub limit: Option<usize>,
}

fn hash_source(p: &Path) -> Result<SourceFile, InputError> {
    Ok(SourceFile {
        path: display_path(p),
        sha256: crate::util::hash::sha256_file(p)
            .map_err(|e| InputError::file(p, format!("cannot read: {e}")))?,
    })
}

/// Name `p` among the dataset's sources; its hash is taken while the dataset is
/// packed (in [`finish`], on a thread of its own).
fn hash_later(b: &mut DatasetBuilder, p: &Path) {
    b.unhashed.push((b.sources.len(), p.to_path_buf()));
    b.sources.push(SourceFile {
        path: display_path(p),
        sha256: String::new(),
    });
}

/// Load a dataset from `path`, collecting every problem found. A dataset without any
/// response is an error (nothing to simulate).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Dataset, InputError> {
    load_with(path, opts, false)
}

/// Load a dataset that may hold prompts only (a requests file and no responses yet),
/// for `routesim record` to fill.
pub fn load_prompts(path: &Path, opts: &LoadOptions) -> Result<Dataset, InputError> {
    load_with(path, opts, true)
}

fn load_with(path: &Path, opts: &LoadOptions, prompts_only: bool) -> Result<Dataset, InputError> {
    let mut diags = Diagnostics::new();
    if !path.exists() {
        return Err(InputError::file(path, "no such file or folder"));
    }
    let mut b;
    if path.is_dir() {
        if path.join("dataset.toml").is_file() {
            let cfg = config::read(path)?;
            b = DatasetBuilder::new(cfg.requests.is_none());
            hash_later(&mut b, &path.join("dataset.toml"));
            b.info.name = if cfg.name.is_empty() {
                dir_name(path)
            } else {
                cfg.name.clone()
            };
            b.info.description = cfg.description.clone();
            b.info.source = cfg.source.clone();
            b.info.license = cfg.license.clone();
            b.info.quality_scale = cfg.quality_scale.clone();
            b.info.notes = cfg.notes.clone();
            b.pricing_files = cfg.pricing.clone();
            for p in &cfg.pricing {
                if !p.is_file() {
                    diags.push(crate::error::Diagnostic::file(
                        display_path(&path.join("dataset.toml")),
                        format!("pricing file {} does not exist", display_path(p)),
                    ));
                }
            }
            match cfg.layout {
                Layout::Long => {
                    let clock = crate::util::timing::Timings::start(1);
                    if let Some(rq) = &cfg.requests {
                        long::read_requests(rq, &mut b, &mut diags)?;
                        clock.lap("read requests");
                        hash_later(&mut b, rq);
                    }
                    for f in &cfg.files {
                        long::read_responses(f, &mut b, &mut diags)?;
                        clock.lap("read responses");
                        hash_later(&mut b, f);
                    }
                }
                Layout::Wide => {
                    let many = cfg.files.len() > 1;
                    for f in &cfg.files {
                        let stem = file_stem(f);
                        let meta = many.then_some(("file", stem.as_str()));
                        wide::read_wide(f, &cfg.wide, &stem, meta, &mut b, &mut diags)?;
                        hash_later(&mut b, f);
                    }
                }
                Layout::FastChat => {
                    let dir = cfg.fastchat_dir.clone().unwrap_or_default();
                    fastchat::read(&dir, &mut b, &mut diags)?;
                }
            }
            if let Some(lp) = &cfg.logged {
                read_logged(lp, &mut b, &mut diags)?;
            }
            read_store(path, &mut b, &mut diags)?;
        } else if fastchat::detect(path) {
            b = DatasetBuilder::new(false);
            fastchat::read(path, &mut b, &mut diags)?;
            read_store(path, &mut b, &mut diags)?;
            b.info.source = format!("FastChat folder {}", display_path(path));
        } else {
            let files = table_files(path);
            if files.is_empty() {
                return Err(InputError::file(
                    path,
                    "not a dataset: expected dataset.toml, a FastChat folder (question.jsonl + model_answer/), or .csv/.jsonl/.parquet files",
                ));
            }
            // A `requests.*` file holds the prompts (possibly the only file: a
            // prompts-only dataset for `routesim record`).
            // Gateway logs are told apart by content before anything is read as a
            // table (an OpenAI batch input may well be called requests.jsonl).
            let mut logs = Vec::new();
            let mut requests = Vec::new();
            let mut others = Vec::new();
            for f in files {
                match gateway::sniff(&f)? {
                    Sniffed::Log(..) => logs.push(f),
                    _ if is_requests_file(&f) => requests.push(f),
                    Sniffed::Long | Sniffed::Table => others.push(f),
                    Sniffed::Fragment(msg) => return Err(InputError::file(&f, msg)),
                    Sniffed::Unknown(keys) => return Err(gateway::unrecognised(&f, &keys)),
                }
            }
            let files = others;
            let mut tables = requests.clone();
            tables.extend(files.iter().cloned());
            if !logs.is_empty() {
                if !tables.is_empty() {
                    let names = |v: &[PathBuf]| {
                        v.iter()
                            .map(|p| display_path(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(InputError::file(
                        path,
                        format!(
                            "the folder mixes gateway logs ({}) with dataset tables ({}); put them in separate folders",
                            names(&logs),
                            names(&tables)
                        ),
                    ));
                }
                return finish(
                    path,
                    opts,
                    prompts_only,
                    diags,
                    log_builder(&logs, dir_name(path))?,
                );
            }
            b = DatasetBuilder::new(requests.is_empty());
            b.info.name = dir_name(path);
            for f in &requests {
                long::read_requests(f, &mut b, &mut diags)?;
                hash_later(&mut b, f);
            }
            let many = files.len() > 1;
            for f in &files {
                let stem = file_stem(f);
                if is_long(f)? {
                    long::read_responses(f, &mut b, &mut diags)?;
                } else {
                    let meta = many.then_some(("file", stem.as_str()));
                    wide::read_wide(f, &WideOptions::default(), &stem, meta, &mut b, &mut diags)?;
                }
                hash_later(&mut b, f);
            }
            b.implicit_requests = false;
            read_store(path, &mut b, &mut diags)?;
            b.info.source = format!("files in {}", display_path(path));
        }
    } else {
        match gateway::sniff(path)? {
            Sniffed::Log(..) => {
                let b = log_builder(&[path.to_path_buf()], file_stem(path))?;
                return finish(path, opts, prompts_only, diags, b);
            }
            Sniffed::Fragment(msg) => return Err(InputError::file(path, msg)),
            Sniffed::Unknown(keys) => return Err(gateway::unrecognised(path, &keys)),
            Sniffed::Long | Sniffed::Table => {}
        }
        b = DatasetBuilder::new(true);
        b.info.name = file_stem(path);
        if is_long(path)? {
            long::read_responses(path, &mut b, &mut diags)?;
        } else {
            wide::read_wide(
                path,
                &WideOptions::default(),
                &file_stem(path),
                None,
                &mut b,
                &mut diags,
            )?;
        }
        hash_later(&mut b, path);
        b.info.source = display_path(path);
    }
    finish(path, opts, prompts_only, diags, b)
}

/// A builder holding gateway logs `files`, imported on the fly (default options).
fn log_builder(files: &[PathBuf], name: String) -> Result<DatasetBuilder, InputError> {
    let mut diags = Diagnostics::new();
    let mut b = DatasetBuilder::new(false);
    gateway::read_into(
        files,
        &gateway::ImportOptions::default(),
        &mut b,
        &mut diags,
    )?;
    b.info.name = name;
    diags.finish(b)
}

/// Load gateway log files (several logs of one format read as one dataset).
pub fn load_logs(files: &[PathBuf], opts: &LoadOptions) -> Result<Dataset, InputError> {
    let Some(first) = files.first() else {
        return Err(InputError::one(crate::error::Diagnostic::file(
            "routesim run",
            "no log files",
        )));
    };
    let b = log_builder(files, file_stem(first))?;
    finish(first, opts, false, Diagnostics::new(), b)
}

/// Read a dataset's logged outcomes (`logged.csv`) into `b`.
fn read_logged(
    path: &Path,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let rows = super::logged::read(path, diags)?;
    let file = display_path(path);
    for (id, row, n) in rows {
        if !b.set_logged(&id, row) {
            diags.push(crate::error::Diagnostic::cell(
                &file,
                n,
                "request_id",
                format!("request id \"{id}\" is not in the requests file"),
            ));
        }
    }
    hash_later(b, path);
    Ok(())
}

/// Pack the builder, check there is something to simulate, apply the limit.
fn finish(
    path: &Path,
    opts: &LoadOptions,
    prompts_only: bool,
    mut diags: Diagnostics,
    mut b: DatasetBuilder,
) -> Result<Dataset, InputError> {
    let clock = crate::util::timing::Timings::start(1);
    let unhashed = std::mem::take(&mut b.unhashed);
    let (mut ds, hashes) = std::thread::scope(|s| {
        let hashing = s.spawn(|| {
            unhashed
                .iter()
                .map(|(i, p)| hash_source(p).map(|h| (*i, h.sha256)))
                .collect::<Result<Vec<_>, InputError>>()
        });
        let ds = b.build(&mut diags);
        (ds, hashing.join())
    });
    let hashes = hashes.map_err(|_| InputError::file(path, "internal error: hashing failed"))??;
    for (i, h) in hashes {
        ds.sources[i].sha256 = h;
    }
    clock.lap("pack the dataset");
    if ds.n_requests() == 0 && diags.is_empty() {
        diags.push(crate::error::Diagnostic::file(
            display_path(path),
            "the dataset has no requests",
        ));
    }
    if ds.n_models() == 0 && diags.is_empty() && !prompts_only {
        diags.push(crate::error::Diagnostic::file(
            display_path(path),
            "the dataset has no responses yet (a prompts-only dataset): record some with `routesim record -d DATASET --models … --providers providers.toml`",
        ));
    }
    diags.finish(())?;
    if let Some(n) = opts.limit {
        truncate(&mut ds, n);
    }
    Ok(ds)
}

/// Responses recorded live (`routesim record`) into this folder are part of the dataset,
/// with the LLM judge's verdicts (`judged.jsonl`) as their quality.
fn read_store(
    dir: &Path,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    use super::recorded::notes::store_lines;
    use super::recorded::store::{JUDGED_FILE, JudgeRecord, STORE_FILE, read_as};
    use super::recorded::{concurrency_note, short_text_note};
    let store = dir.join(STORE_FILE);
    if store.is_file() {
        let implicit = b.implicit_requests;
        b.implicit_requests = false;
        long::read_responses(&store, b, diags)?;
        b.implicit_requests = implicit;
        hash_later(b, &store);
        let file = display_path(&store);
        let text = std::fs::read_to_string(&store)
            .map_err(|e| InputError::file(&store, format!("cannot read: {e}")))?;
        let lines = store_lines(&text);
        b.info.warnings.extend(concurrency_note(&file, &lines));
        let sent_vs_given = lines
            .iter()
            .filter(|l| l.status == "ok")
            .filter_map(|l| Some((l.input_tokens?, b.given_input_tokens(&l.request_id)?)));
        if let Some(n) = short_text_note(sent_vs_given) {
            b.info.warnings.push(format!(
                "{file}: {n}: live cells are priced and timed for the text sent, so they look cheaper and faster than cells measured on the whole context"
            ));
        }
    }
    let judged = dir.join(JUDGED_FILE);
    if judged.is_file() {
        let verdicts: Vec<JudgeRecord> =
            read_as(&judged).map_err(|e| InputError::file(&judged, e.to_string()))?;
        for v in verdicts {
            if let Some(q) = v.quality {
                b.set_judged_quality(&v.request_id, &v.model, v.sample, q);
            }
        }
        hash_later(b, &judged);
    }
    Ok(())
}

fn truncate(ds: &mut Dataset, n: usize) {
    if n < ds.n_requests() {
        select(ds, &(0..n).collect::<Vec<usize>>());
    }
}

/// Keep requests `keep` (ascending positions), with their responses.
pub fn select(ds: &mut Dataset, keep: &[usize]) {
    let n_old = ds.n_requests();
    let n = keep.len();
    let m = ds.n_models();
    // Cells are model-major: each model's column keeps the same requests.
    let mut cells = Vec::with_capacity(n * m);
    let mut offsets = Vec::new();
    let mut extra = Vec::new();
    let mut outputs = ds.outputs.as_ref().map(|_| super::TextColumn::new());
    if !ds.extra_offsets.is_empty() {
        offsets.push(0u32);
    }
    for j in 0..m {
        for &r in keep {
            let i = j * n_old + r;
            cells.push(ds.cells[i]);
            if !ds.extra_offsets.is_empty() {
                let (lo, hi) = (
                    ds.extra_offsets[i] as usize,
                    ds.extra_offsets[i + 1] as usize,
                );
                extra.extend_from_slice(&ds.extra[lo..hi]);
                offsets.push(extra.len() as u32);
            }
            if let (Some(out), Some(old)) = (outputs.as_mut(), ds.outputs.as_ref()) {
                out.push(old.get(i));
            }
        }
    }
    ds.cells = cells;
    ds.extra_offsets = offsets;
    ds.extra = extra;
    ds.outputs = outputs;
    let r = &mut ds.requests;
    let ids = std::mem::take(&mut r.ids);
    let mut ids: Vec<Option<String>> = ids.into_iter().map(Some).collect();
    r.ids = keep
        .iter()
        .map(|&i| ids[i].take().unwrap_or_default())
        .collect();
    fn pick_copy<T: Copy>(v: &mut Vec<T>, keep: &[usize]) {
        *v = keep.iter().map(|&i| v[i]).collect();
    }
    pick_copy(&mut r.ts_ms, keep);
    pick_copy(&mut r.input_chars, keep);
    pick_copy(&mut r.input_tokens, keep);
    pick_copy(&mut r.input_tokens_estimated, keep);
    pick_copy(&mut r.turns, keep);
    r.input = super::TextColumn::from_iter_str(keep.iter().map(|&i| r.input.get(i)));
    if let Some(rc) = &r.reference {
        r.reference = Some(super::TextColumn::from_iter_str(
            keep.iter().map(|&i| rc.get(i)),
        ));
    }
    for mc in &mut r.meta {
        pick_copy(&mut mc.codes, keep);
    }
    if let Some(l) = ds.logged.as_mut() {
        l.select(keep);
    }
}

fn dir_name(p: &Path) -> String {
    std::fs::canonicalize(p)
        .ok()
        .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into())
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

fn table_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && TableFormat::from_path(p).is_some())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n != super::recorded::store::STORE_FILE)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A file named `requests.*` without a model column: one row per request.
fn is_requests_file(p: &Path) -> bool {
    if file_stem(p) != "requests" {
        return false;
    }
    fn has_model<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
        keys.any(|k| ["model", "model_id", "model_name"].contains(&k))
    }
    match TableFormat::from_path(p) {
        Some(TableFormat::Jsonl) => {
            use std::io::BufRead;
            let first = std::fs::File::open(p).ok().and_then(|f| {
                std::io::BufReader::new(f)
                    .lines()
                    .map_while(|l| l.ok())
                    .find(|l| !l.trim().is_empty())
            });
            match first.and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok()) {
                Some(serde_json::Value::Object(o)) => !has_model(o.keys().map(|k| k.as_str())),
                _ => false,
            }
        }
        Some(fmt) => match header(p, fmt) {
            Ok(Some(cols)) => !has_model(cols.iter().map(|c| c.as_str())),
            _ => false,
        },
        None => false,
    }
}

/// A table is long when it has both a request id and a model column (JSONL and
/// Parquet files are always long).
fn is_long(p: &Path) -> Result<bool, InputError> {
    let fmt = TableFormat::from_path(p).ok_or_else(|| {
        InputError::file(p, "unknown table format: expected .csv, .jsonl or .parquet")
    })?;
    Ok(match header(p, fmt)? {
        None => true,
        Some(cols) => {
            let has = |names: &[&str]| cols.iter().any(|c| names.contains(&c.as_str()));
            has(&["model", "model_id", "model_name"])
        }
    })
}
