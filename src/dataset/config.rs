//! `dataset.toml`: what a dataset folder holds and where it came from.

use crate::error::InputError;
use crate::tomlx::{TomlDoc, get};
use std::path::{Path, PathBuf};

/// Layout of the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One row per request × model.
    Long,
    /// One row per request, columns per model (RouterBench / RouteLLM).
    Wide,
    /// FastChat / Arena folder (`question.jsonl`, `model_answer/`, `model_judgment/`).
    FastChat,
}

/// Options for wide files.
#[derive(Debug, Clone, Default)]
pub struct WideOptions {
    /// Column holding the request id (default: first of request_id, id, sample_id…).
    pub id_column: Option<String>,
    /// Column holding the prompt (default: prompt or input).
    pub input_column: Option<String>,
    /// Model columns (default: every column that is not the id, prompt or metadata and
    /// has no `|` or `_response` suffix).
    pub models: Option<Vec<String>>,
    /// Extra metadata columns (besides `meta.*` and the known eval_name/category).
    pub meta_columns: Vec<String>,
}

/// Parsed `dataset.toml`.
#[derive(Debug, Clone)]
pub struct DatasetConfig {
    /// Descriptive fields.
    pub name: String,
    /// Description.
    pub description: String,
    /// Provenance.
    pub source: String,
    /// Licence.
    pub license: String,
    /// Quality scale.
    pub quality_scale: String,
    /// Notes.
    pub notes: String,
    /// Layout.
    pub layout: Layout,
    /// Requests file (long layout).
    pub requests: Option<PathBuf>,
    /// Response files (long) or wide files.
    pub files: Vec<PathBuf>,
    /// Pricing files, tried before any given on the command line.
    pub pricing: Vec<PathBuf>,
    /// Wide options.
    pub wide: WideOptions,
    /// FastChat folder (relative to the dataset folder), when layout is fastchat.
    pub fastchat_dir: Option<PathBuf>,
    /// Quality scorer for recorded answers.
    pub scorer: Option<super::recorded::scorer::Scorer>,
    /// Logged outcomes (`logged.csv` of an imported gateway log).
    pub logged: Option<PathBuf>,
}

const KEYS: &[&str] = &[
    "name",
    "description",
    "source",
    "license",
    "quality_scale",
    "notes",
    "format",
    "requests",
    "responses",
    "files",
    "pricing",
    "wide",
    "path",
    "assumptions",
    "scorer",
    "logged",
    "import",
];

/// Read `dir/dataset.toml`.
pub fn read(dir: &Path) -> Result<DatasetConfig, InputError> {
    let path = dir.join("dataset.toml");
    let file = path.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| InputError::file(&path, format!("cannot read: {e}")))?;
    parse(&file, &text, dir)
}

/// Parse a `dataset.toml` text; relative paths are resolved against `dir`.
pub fn parse(file: &str, text: &str, dir: &Path) -> Result<DatasetConfig, InputError> {
    let (mut doc, root) = TomlDoc::parse(file, text);
    let root = root.get_ref();
    doc.check_keys(root, KEYS, "dataset.toml");
    let s = |k: &str, doc: &mut TomlDoc| -> String {
        get(root, k)
            .and_then(|v| doc.string(v, k))
            .unwrap_or_default()
    };
    let name = s("name", &mut doc);
    let description = s("description", &mut doc);
    let source = s("source", &mut doc);
    let license = s("license", &mut doc);
    let quality_scale = s("quality_scale", &mut doc);
    let notes = s("notes", &mut doc);
    let paths = |k: &str, doc: &mut TomlDoc| -> Vec<PathBuf> {
        get(root, k)
            .and_then(|v| doc.strings(v, k))
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| dir.join(p))
            .collect()
    };
    let requests = paths("requests", &mut doc).into_iter().next();
    let responses = paths("responses", &mut doc);
    let wide_files = paths("files", &mut doc);
    let pricing = paths("pricing", &mut doc);
    let fastchat_dir = paths("path", &mut doc).into_iter().next();
    let logged = paths("logged", &mut doc).into_iter().next();
    // `[import]` is provenance (how a gateway log was imported): kept, not read.
    if let Some(v) = get(root, "import") {
        let _ = doc.table(v, "import");
    }
    let layout = match get(root, "format") {
        Some(v) => match doc.string(v, "format").as_deref() {
            Some("long") => Layout::Long,
            Some("wide") => Layout::Wide,
            Some("fastchat") | Some("arena") => Layout::FastChat,
            Some(other) => {
                doc.err(
                    v.span(),
                    format!(
                        "format: expected \"long\", \"wide\" or \"fastchat\", found \"{other}\""
                    ),
                );
                Layout::Long
            }
            None => Layout::Long,
        },
        None if !wide_files.is_empty() => Layout::Wide,
        None => Layout::Long,
    };
    let mut wide = WideOptions::default();
    if let Some(v) = get(root, "wide")
        && let Some(t) = doc.table(v, "wide")
    {
        doc.check_keys(
            t,
            &["id_column", "input_column", "models", "meta_columns"],
            "[wide]",
        );
        wide.id_column = get(t, "id_column").and_then(|v| doc.string(v, "id_column"));
        wide.input_column = get(t, "input_column").and_then(|v| doc.string(v, "input_column"));
        wide.models = get(t, "models")
            .and_then(|v| doc.strings(v, "models"))
            .map(|l| l.into_iter().map(|(s, _)| s).collect());
        wide.meta_columns = get(t, "meta_columns")
            .and_then(|v| doc.strings(v, "meta_columns"))
            .map(|l| l.into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default();
    }
    let scorer =
        get(root, "scorer").and_then(|v| super::recorded::scorer::parse_scorer(&mut doc, v));
    let files = match layout {
        Layout::Wide => wide_files,
        _ => responses,
    };
    if layout == Layout::Long && files.is_empty() && requests.is_none() {
        doc.err(0..0, "no data: expected `requests = \"requests.jsonl\"` (prompts, for `routesim record` to answer), `responses = [\"responses.csv\"]` (long layout) or `files = [...]` with format = \"wide\"");
    }
    if layout == Layout::FastChat && fastchat_dir.is_none() {
        doc.err(
            0..0,
            "format = \"fastchat\" needs `path` = the FastChat folder",
        );
    }
    doc.finish(DatasetConfig {
        name,
        description,
        source,
        license,
        quality_scale,
        notes,
        layout,
        requests,
        files,
        pricing,
        wide,
        fastchat_dir,
        scorer,
        logged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let ok = parse(
            "d/dataset.toml",
            "name = \"x\"\nrequests = \"q.jsonl\"\nresponses = [\"r.csv\"]\npricing = \"p.toml\"\n",
            Path::new("d"),
        )
        .unwrap();
        assert_eq!(ok.layout, Layout::Long);
        assert_eq!(ok.files, vec![PathBuf::from("d/r.csv")]);
        assert_eq!(ok.pricing, vec![PathBuf::from("d/p.toml")]);
        let err = parse(
            "d/dataset.toml",
            "name = \"x\"\nresponse = \"r.csv\"\n",
            Path::new("d"),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("d/dataset.toml:2:1: unknown key \"response\""),
            "{text}"
        );
        assert!(text.contains("did you mean \"responses\""), "{text}");
    }
}
