//! FastChat / Arena-Hard layout.
//!
//! - `question.jsonl`: `{question_id, category, turns: [prompt, …]}` → requests
//!   (`meta.category`; several turns are joined one per line).
//! - `model_answer/<model>.jsonl`: `{question_id, model_id, choices: [{turns: […]}]}` →
//!   one response per (question, file); the model is the file's stem, as FastChat
//!   names it (`load_model_answers`). `model_id` is what produced the answer — for a
//!   router's answer file, the model it routed to — kept as the answer's served model
//!   when it differs (the report's model mix shows it).
//! - `model_judgment/*.jsonl`: `{question_id, model, score[, turn]}`, one per judged
//!   turn; `model` is the answer file's stem or its `model_id`. An answer's quality is
//!   the mean of its parseable scores / 10. A score of `-1` or `null` means the judge's
//!   verdict could not be parsed: a *missing* label, never 0. Judgments for models
//!   without answers are ignored.
//! - `reference_answer/*.jsonl` (optional): the first file gives `reference`.
//!
//! No tokens, latencies or prices are recorded: tokens are estimated from text and
//! latency is modelled (both flagged, and said in the run output).

use crate::dataset::build::{DatasetBuilder, MetaValue, Recorded, RequestRow, ResponseRow};
use crate::dataset::{Sample, Status};
use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Whether `dir` looks like a FastChat folder.
pub fn detect(dir: &Path) -> bool {
    dir.join("question.jsonl").is_file() && dir.join("model_answer").is_dir()
}

fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn for_each_json(
    path: &Path,
    diags: &mut Diagnostics,
    mut f: impl FnMut(usize, &serde_json::Map<String, Value>, &mut Diagnostics),
) -> Result<(), InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    let file = display_path(path);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => f(i + 1, &o, diags),
            Ok(_) => diags.push(Diagnostic::row(&file, i + 1, "expected a JSON object")),
            Err(e) => diags.push(Diagnostic::row(&file, i + 1, format!("invalid JSON: {e}"))),
        }
    }
    Ok(())
}

fn str_field(
    o: &serde_json::Map<String, Value>,
    key: &str,
    file: &str,
    row: usize,
    diags: &mut Diagnostics,
) -> Option<String> {
    match o.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            diags.push(Diagnostic::cell(file, row, key, "expected a string"));
            None
        }
        None => {
            diags.push(Diagnostic::row(
                file,
                row,
                format!("missing required field \"{key}\""),
            ));
            None
        }
    }
}

fn turns_text(v: Option<&Value>) -> Option<(String, u16)> {
    let arr = v?.as_array()?;
    let parts: Vec<&str> = arr.iter().filter_map(|t| t.as_str()).collect();
    Some((parts.join("\n"), parts.len().max(1) as u16))
}

/// Read a FastChat folder into the builder.
pub fn read(dir: &Path, b: &mut DatasetBuilder, diags: &mut Diagnostics) -> Result<(), InputError> {
    let qpath = dir.join("question.jsonl");
    let qfile = display_path(&qpath);
    let mut references: HashMap<String, String> = HashMap::new();
    if let Some(rp) = jsonl_files(&dir.join("reference_answer")).first() {
        let rfile = display_path(rp);
        for_each_json(rp, diags, |row, o, d| {
            if let (Some(id), Some((text, _))) = (
                str_field(o, "question_id", &rfile, row, d),
                turns_text(
                    o.get("choices")
                        .and_then(|c| c.get(0))
                        .and_then(|c| c.get("turns")),
                ),
            ) {
                references.insert(id, text);
            }
        })?;
        b.sources.push(source(rp)?);
    }
    for_each_json(&qpath, diags, |row, o, d| {
        let Some(id) = str_field(o, "question_id", &qfile, row, d) else {
            return;
        };
        let Some((text, turns)) = turns_text(o.get("turns")) else {
            d.push(Diagnostic::cell(
                &qfile,
                row,
                "turns",
                "expected an array of strings",
            ));
            return;
        };
        let mut meta = Vec::new();
        if let Some(Value::String(c)) = o.get("category") {
            meta.push(("category".into(), MetaValue::Str(c.as_str().into())));
        }
        let reference = references.get(&id).cloned();
        b.add_request(
            RequestRow {
                id,
                input: Some(text),
                turns: Some(turns),
                reference,
                meta,
                ..Default::default()
            },
            (qfile.as_str().into(), row),
            d,
        );
    })?;
    b.sources.push(source(&qpath)?);

    // Answers. FastChat names a model by its answer file's stem; `model_id` inside is
    // what generated each answer — for a router's file, the model it routed to, kept
    // as the answer's served model.
    let mut rows: Vec<ResponseRow> = Vec::new();
    let mut alias: HashMap<String, Option<String>> = HashMap::new();
    for ap in jsonl_files(&dir.join("model_answer")) {
        let afile = display_path(&ap);
        let shared: std::sync::Arc<str> = afile.as_str().into();
        let stem = ap
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        alias.insert(stem.clone(), Some(stem.clone()));
        for_each_json(&ap, diags, |row, o, d| {
            let Some(q) = str_field(o, "question_id", &afile, row, d) else {
                return;
            };
            let model_id = match o.get("model_id") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            let Some((text, _)) = turns_text(
                o.get("choices")
                    .and_then(|c| c.get(0))
                    .and_then(|c| c.get("turns")),
            ) else {
                d.push(Diagnostic::cell(
                    &afile,
                    row,
                    "choices",
                    "expected choices[0].turns",
                ));
                return;
            };
            if let Some(id) = &model_id {
                // A judgment may name the answer by its model_id (Arena-Hard's judge
                // does); ambiguous when two files share a model_id.
                let e = alias
                    .entry(id.clone())
                    .or_insert_with(|| Some(stem.clone()));
                if e.as_deref() != Some(stem.as_str()) {
                    *e = None;
                }
            }
            rows.push(ResponseRow {
                request_id: q.into(),
                model: stem.as_str().into(),
                sample: Some(0),
                index: None,
                recorded: Recorded {
                    sample_data: Sample {
                        status: Status::OK,
                        ..Sample::MISSING
                    },
                    has_input_tokens: false,
                    has_output_tokens: false,
                    has_latency: false,
                    output: Some(text),
                    served_model: model_id.filter(|id| *id != stem),
                    origin: (shared.clone(), row),
                },
            });
        })?;
        b.sources.push(source(&ap)?);
    }

    // Judgments: one per judged turn (MT-bench judges turn 1 and turn 2 apart). An
    // answer's quality is the mean of its parseable verdicts / 10; -1 or null is an
    // unparseable verdict — a missing label, never 0.
    let mut scores: HashMap<(String, String), Vec<f64>> = HashMap::new();
    let mut unparseable: HashMap<(String, String), u32> = HashMap::new();
    for jp in jsonl_files(&dir.join("model_judgment")) {
        let jfile = display_path(&jp);
        for_each_json(&jp, diags, |row, o, d| {
            let (Some(q), Some(m)) = (
                str_field(o, "question_id", &jfile, row, d),
                str_field(o, "model", &jfile, row, d),
            ) else {
                return;
            };
            let m = match alias.get(&m) {
                Some(Some(stem)) => stem.clone(),
                _ => m,
            };
            let score = match o.get("score") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_f64(),
                Some(_) => {
                    d.push(Diagnostic::cell(
                        &jfile,
                        row,
                        "score",
                        "expected a number or null",
                    ));
                    return;
                }
            };
            match score {
                None | Some(-1.0) => *unparseable.entry((q, m)).or_default() += 1,
                Some(s) if (0.0..=10.0).contains(&s) => scores.entry((q, m)).or_default().push(s),
                Some(s) => d.push(Diagnostic::cell(
                    &jfile,
                    row,
                    "score",
                    format!("expected a score between 1 and 10 (or -1 for unparseable), found {s}"),
                )),
            }
        })?;
        b.sources.push(source(&jp)?);
    }

    let (mut n_missing_labels, mut n_partly, mut n_multi) = (0usize, 0usize, 0usize);
    for mut r in rows {
        let key = (r.request_id.to_string(), r.model.to_string());
        let s = scores.get(&key);
        let bad = unparseable.get(&key).copied().unwrap_or(0);
        r.recorded.sample_data.quality = match s {
            Some(v) => {
                if v.len() > 1 {
                    n_multi += 1;
                }
                if bad > 0 {
                    n_partly += 1;
                }
                v.iter().sum::<f64>() / v.len() as f64 / 10.0
            }
            None => {
                if bad > 0 {
                    n_missing_labels += 1;
                }
                f64::NAN
            }
        };
        b.add_response(r, None, diags);
    }
    if n_missing_labels > 0 {
        b.info.warnings.push(format!(
            "{n_missing_labels} answers have only unparseable judgments (score -1 or null): missing quality labels"
        ));
    }
    if n_multi > 0 {
        b.info.warnings.push(format!(
            "{n_multi} answers have several judgments (one per turn, or several judges): each answer's quality is the mean of its parseable verdicts{}",
            if n_partly > 0 {
                format!(
                    "; {n_partly} of them also have an unparseable one, left out (FastChat's show_result pools verdicts instead, so its average can differ)"
                )
            } else {
                String::new()
            }
        ));
    }
    if b.info.name.is_empty() {
        b.info.name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "fastchat".into());
    }
    if b.info.quality_scale.is_empty() {
        b.info.quality_scale = "judge score 1–10 divided by 10".into();
    }
    Ok(())
}

fn source(p: &Path) -> Result<crate::dataset::SourceFile, InputError> {
    Ok(crate::dataset::SourceFile {
        path: display_path(p),
        sha256: crate::util::hash::sha256_file(p)
            .map_err(|e| InputError::file(p, format!("cannot read: {e}")))?,
    })
}
