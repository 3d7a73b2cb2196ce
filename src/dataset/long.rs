//! Long layout: one row per request × model (× sample), in CSV, JSONL or Parquet,
//! with an optional separate requests file.
//!
//! Column names (aliases in parentheses) are listed in the README. Request-level
//! columns (`input`, `ts`, `reference`, `meta.*`) may sit in the responses file; the
//! first row of a request supplies them. Unknown columns are ignored with a warning;
//! the bookkeeping columns of `routesim record`'s store are known and skipped quietly.

use super::build::{DatasetBuilder, MetaValue, Recorded, RequestRow, ResponseRow};
use super::records::{Cell, Fields, Raw, Row, TableFormat, describe, map_rows};
use super::{Sample, Status};
use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use std::path::Path;

pub(crate) static ID: &[&str] = &["request_id", "id", "question_id", "sample_id", "prompt_id"];
static MODEL: &[&str] = &["model", "model_id", "model_name"];
static SAMPLE: &[&str] = &["sample", "sample_index"];
static STATUS: &[&str] = &["status"];
static OUTPUT: &[&str] = &["output", "response", "completion"];
static IN_TOK: &[&str] = &["input_tokens", "prompt_tokens"];
static OUT_TOK: &[&str] = &["output_tokens", "completion_tokens"];
static CACHED: &[&str] = &["cached_tokens", "cache_read_tokens"];
static CACHE_WRITE: &[&str] = &["cache_write_tokens", "cache_creation_input_tokens"];
static REASONING: &[&str] = &["reasoning_tokens"];
static LATENCY: &[&str] = &["latency_ms"];
static TTFT: &[&str] = &["ttft_ms"];
static RETRY_AFTER: &[&str] = &["retry_after_ms"];
static QUALITY: &[&str] = &["quality", "score", "correct"];
static COST: &[&str] = &["cost_usd", "cost"];
static PROVIDER: &[&str] = &["provider"];
static SERVED: &[&str] = &["served_model", "response_model"];
static TURNS: &[&str] = &["turns"];
pub(crate) static INPUT: &[&str] = &["input", "prompt", "messages"];
pub(crate) static TS: &[&str] = &["ts", "timestamp", "time"];
pub(crate) static REFERENCE: &[&str] = &["reference", "answer"];

/// The columns of a requests file.
static REQUEST_COLUMNS: &[&[&str]] = &[ID, INPUT, TS, REFERENCE, IN_TOK, TURNS];

/// The columns of a responses file.
static RESPONSE_COLUMNS: &[&[&str]] = &[
    ID,
    MODEL,
    SAMPLE,
    STATUS,
    OUTPUT,
    IN_TOK,
    OUT_TOK,
    CACHED,
    CACHE_WRITE,
    REASONING,
    LATENCY,
    TTFT,
    RETRY_AFTER,
    QUALITY,
    COST,
    PROVIDER,
    SERVED,
    INPUT,
    TS,
    REFERENCE,
    TURNS,
];

fn known(groups: &[&[&str]], key: &str) -> bool {
    key.starts_with("meta.") || key.starts_with("score.") || groups.iter().any(|g| g.contains(&key))
}

/// Read a requests file (one row per request).
pub fn read_requests(
    path: &Path,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let file = display_path(path);
    let format = TableFormat::from_path(path).ok_or_else(|| unknown_format(path))?;
    let fields = Fields::new(&file);
    if !header_has(path, format, &[ID], "one row per request", diags)? {
        return Ok(());
    }
    // Each batch goes into the builder's columns as soon as it is read: no row
    // objects pile up, however many requests there are.
    let cols = map_rows(
        path,
        format,
        REQUEST_COLUMNS,
        diags,
        &|row: &dyn Row, d: &mut Diagnostics| {
            let id = fields.required_text(row, ID, d)?;
            Some((request_fields(&fields, row, id, d), row.number()))
        },
        &mut |batch, d| {
            for (r, n) in batch {
                b.add_request(r, (fields.shared_file.clone(), n), d);
            }
        },
    )?;
    warn_ignored(b, &file, &cols, REQUEST_COLUMNS);
    Ok(())
}

/// Read a long responses file.
pub fn read_responses(
    path: &Path,
    b: &mut DatasetBuilder,
    diags: &mut Diagnostics,
) -> Result<(), InputError> {
    let file = display_path(path);
    let format = TableFormat::from_path(path).ok_or_else(|| unknown_format(path))?;
    let fields = Fields::new(&file);
    if !header_has(
        path,
        format,
        &[ID, MODEL],
        "one row per request × model",
        diags,
    )? {
        return Ok(());
    }
    let implicit = b.implicit_requests;
    // CSV and Parquet: the common simple values taken straight from the fields.
    let fast = super::records::header(path, format)?.map(|names| FastColumns::of(&names));
    // Declared requests are looked up by the reading threads (the index is only read
    // while the file is read); implicit ones are added in file order by the builder.
    let index = (!implicit).then(|| b.take_request_index());
    let cols = map_rows(
        path,
        format,
        RESPONSE_COLUMNS,
        diags,
        &|row: &dyn Row, d: &mut Diagnostics| {
            let (id, model) = match fast.as_ref().and_then(|c| c.names(row)) {
                Some((id, model)) => (intern::id(id), intern::model(model)),
                None => {
                    let id = fields.required_str(row, ID, d);
                    let model = fields.required_str(row, MODEL, d);
                    let (Some(id), Some(model)) = (id, model) else {
                        return None;
                    };
                    (intern::id(&id), intern::model(&model))
                }
            };
            let at = index.as_ref().and_then(|ix| intern::position(&id, ix));
            let resp = fast
                .as_ref()
                .and_then(|c| c.response(&fields, row, &id, &model))
                .unwrap_or_else(|| response_fields(&fields, row, id.clone(), model, d));
            let req = implicit.then(|| Box::new(request_fields(&fields, row, id.to_string(), d)));
            Some((ResponseRow { index: at, ..resp }, req))
        },
        &mut |batch, d| {
            for (resp, req) in batch {
                b.add_response(resp, req.map(|r| *r), d);
            }
        },
    );
    if let Some(ix) = index {
        b.restore_request_index(ix);
    }
    let cols = cols?;
    // The store's bookkeeping columns (`routesim record`) are known too.
    let known: Vec<&[&str]> = RESPONSE_COLUMNS
        .iter()
        .copied()
        .chain([super::recorded::store::BOOKKEEPING_COLUMNS])
        .collect();
    warn_ignored(b, &file, &cols, &known);
    Ok(())
}

fn unknown_format(path: &Path) -> InputError {
    InputError::file(
        path,
        "unknown table format: expected a .csv, .jsonl or .parquet file",
    )
}

/// For files with a header (CSV, Parquet): check required columns up front, so a
/// missing column is one clear error rather than one per row. JSONL rows are checked
/// one by one instead.
fn header_has(
    path: &Path,
    format: TableFormat,
    required: &[&[&str]],
    what: &str,
    diags: &mut Diagnostics,
) -> Result<bool, InputError> {
    let Some(cols) = super::records::header(path, format)? else {
        return Ok(true);
    };
    if cols.iter().all(|c| c.is_empty()) {
        diags.push(Diagnostic::file(
            display_path(path),
            format!("the file is empty: expected a header row and {what}"),
        ));
        return Ok(false);
    }
    let mut ok = true;
    for aliases in required {
        if !cols.iter().any(|c| aliases.contains(&c.as_str())) {
            let alt = if aliases.len() > 1 {
                format!(" (or {})", aliases[1..].join(", "))
            } else {
                String::new()
            };
            diags.push(Diagnostic::file(
                display_path(path),
                format!(
                    "missing required column \"{}\"{alt} ({what}); found columns: {}",
                    aliases[0],
                    cols.join(", ")
                ),
            ));
            ok = false;
        }
    }
    Ok(ok)
}

fn warn_ignored(b: &mut DatasetBuilder, file: &str, cols: &[String], groups: &[&[&str]]) {
    let ignored: Vec<&str> = cols
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !known(groups, c))
        .collect();
    if !ignored.is_empty() {
        b.info.warnings.push(format!(
            "{file}: ignored columns {} (metadata columns need the prefix \"meta.\")",
            ignored.join(", ")
        ));
    }
}

/// Request-level fields of a row.
pub(crate) fn request_fields(
    fields: &Fields<'_>,
    row: &dyn Row,
    id: String,
    diags: &mut Diagnostics,
) -> RequestRow {
    let mut r = RequestRow {
        id,
        ..Default::default()
    };
    let (_, c) = fields.first(row, INPUT);
    if let Some((text, turns)) = input_text(&c) {
        r.input = Some(text);
        r.turns = Some(turns);
    }
    let (k, c) = fields.first(row, TS);
    match &c {
        Cell::Absent | Cell::Null => {}
        Cell::Num(x) => r.ts_ms = Some((x * 1000.0).round() as i64),
        Cell::Text(s) => match super::time::parse_ts_ms(s) {
            Some(t) => r.ts_ms = Some(t),
            None => diags.push(Diagnostic::cell(
                fields.file,
                row.number(),
                k,
                format!(
                    "expected a timestamp (epoch seconds or YYYY-MM-DDTHH:MM:SSZ), found {}",
                    describe(&c)
                ),
            )),
        },
        _ => diags.push(Diagnostic::cell(
            fields.file,
            row.number(),
            k,
            "expected a timestamp",
        )),
    }
    let (k, c) = fields.first(row, IN_TOK);
    r.input_tokens = fields.count(row, k, &c, diags);
    if let (k, c @ (Cell::Num(_) | Cell::Text(_))) = fields.first(row, TURNS) {
        r.turns = fields
            .count(row, k, &c, diags)
            .map(|t| t.min(u16::MAX as u32) as u16);
    }
    let (_, c) = fields.first(row, REFERENCE);
    r.reference = fields.text(&c);
    for (name, cell) in row.meta_cells() {
        match cell {
            Cell::Absent | Cell::Null => {}
            Cell::Num(x) => r.meta.push((name, MetaValue::Num(x))),
            Cell::Bool(b) => r.meta.push((name, MetaValue::Str(b.to_string().into()))),
            Cell::Text(s) => r.meta.push((name, MetaValue::Str(s.as_ref().into()))),
            Cell::Json(v) => r.meta.push((name, MetaValue::Str(v.to_string().into()))),
        }
    }
    r
}

/// Prompt text and user-turn count from a cell: plain text, or chat messages (a JSON
/// array of `{role, content}`), flattened one message per line.
pub(crate) fn input_text(c: &Cell<'_>) -> Option<(String, u16)> {
    match c {
        Cell::Text(s) => {
            let t = s.trim_start();
            if t.starts_with('[')
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
                && let Some(m) = messages(&v)
            {
                return Some(m);
            }
            Some((s.to_string(), 1))
        }
        Cell::Json(v) => messages(v).or_else(|| Some((v.to_string(), 1))),
        Cell::Num(x) => Some((x.to_string(), 1)),
        _ => None,
    }
}

fn messages(v: &serde_json::Value) -> Option<(String, u16)> {
    let arr = v.as_array()?;
    let mut text = String::new();
    let mut turns = 0u16;
    for m in arr {
        let content = match m.get("content") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(other) => other.to_string(),
            None => match m.as_str() {
                Some(s) => s.to_string(),
                None => return None,
            },
        };
        if m.get("role").and_then(|r| r.as_str()).unwrap_or("user") == "user" {
            turns = turns.saturating_add(1);
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&content);
    }
    Some((text, turns.max(1)))
}

fn response_fields(
    fields: &Fields<'_>,
    row: &dyn Row,
    request_id: std::sync::Arc<str>,
    model: std::sync::Arc<str>,
    diags: &mut Diagnostics,
) -> ResponseRow {
    let mut s = Sample {
        status: Status::OK,
        ..Sample::MISSING
    };
    let (k, c) = fields.first(row, STATUS);
    if let Some(text) = fields.text(&c) {
        match Status::parse(&text) {
            Some(st) => s.status = st,
            None => diags.push(Diagnostic::cell(
                fields.file,
                row.number(),
                k,
                format!(
                    "expected a status (ok, error, timeout, context_length, or an HTTP code), found \"{text}\""
                ),
            )),
        }
    }
    let (k, c) = fields.first(row, SAMPLE);
    let sample = fields.count(row, k, &c, diags);
    let (k, c) = fields.first(row, IN_TOK);
    let in_tok = fields.count(row, k, &c, diags);
    let (k, c) = fields.first(row, OUT_TOK);
    let out_tok = fields.count(row, k, &c, diags);
    let (k, c) = fields.first(row, CACHED);
    s.cached_tokens = fields.count(row, k, &c, diags).unwrap_or(0);
    let (k, c) = fields.first(row, CACHE_WRITE);
    s.cache_write_tokens = fields.count(row, k, &c, diags).unwrap_or(0);
    let (k, c) = fields.first(row, REASONING);
    s.reasoning_tokens = fields.count(row, k, &c, diags).unwrap_or(0);
    let (k, c) = fields.first(row, LATENCY);
    let latency = fields.number(row, k, &c, 0.0, diags);
    let (k, c) = fields.first(row, TTFT);
    s.ttft_ms = fields
        .number(row, k, &c, 0.0, diags)
        .map(|x| x as f32)
        .unwrap_or(f32::NAN);
    let (k, c) = fields.first(row, RETRY_AFTER);
    s.retry_after_ms = fields
        .number(row, k, &c, 0.0, diags)
        .map(|x| x as f32)
        .unwrap_or(f32::NAN);
    let (k, c) = fields.first(row, QUALITY);
    s.quality = fields.quality(row, k, &c, diags).unwrap_or(f64::NAN);
    let (k, c) = fields.first(row, COST);
    s.cost_usd = fields.number(row, k, &c, 0.0, diags).unwrap_or(f64::NAN);
    if let Some(t) = in_tok
        && s.cached_tokens as u64 + s.cache_write_tokens as u64 > t as u64
    {
        diags.push(Diagnostic::cell(
            fields.file,
            row.number(),
            "cached_tokens",
            format!(
                "cached tokens ({}) and cache-write tokens ({}) exceed input tokens ({t})",
                s.cached_tokens, s.cache_write_tokens
            ),
        ));
    }
    let (_, c) = fields.first(row, OUTPUT);
    let output = fields.text(&c);
    let (_, c) = fields.first(row, SERVED);
    let served_model = fields.text(&c).filter(|s| !s.is_empty());
    ResponseRow {
        request_id,
        model,
        sample,
        index: None,
        recorded: Recorded {
            served_model,
            ..Recorded::measured(
                s,
                in_tok,
                out_tok,
                latency,
                output,
                (fields.shared_file.clone(), row.number()),
            )
        },
    }
}

/// Positions of a CSV responses file's columns (the first alias present, as
/// [`Row::first`] finds it), for reading the common simple values straight from the
/// field bytes. Any value that is not plainly valid (a sign, spaces, a decimal token
/// count, text where a number goes, a status other than `ok`, …) sends the whole row
/// down the generic path, which reads it the same way or reports it: both paths give
/// the same rows and diagnostics.
struct FastColumns {
    id: Option<usize>,
    model: Option<usize>,
    sample: Option<usize>,
    status: Option<usize>,
    output: Option<usize>,
    in_tok: Option<usize>,
    out_tok: Option<usize>,
    cached: Option<usize>,
    cache_write: Option<usize>,
    reasoning: Option<usize>,
    latency: Option<usize>,
    ttft: Option<usize>,
    retry_after: Option<usize>,
    quality: Option<usize>,
    cost: Option<usize>,
    served: Option<usize>,
}

/// A plain field: `Some(None)` when empty, `Some(Some(x))` when plainly valid, `None`
/// when the generic path must read it.
type Plain<T> = Option<Option<T>>;

impl FastColumns {
    fn of(names: &[String]) -> FastColumns {
        let pos = |aliases: &[&str]| {
            aliases
                .iter()
                .find_map(|a| names.iter().position(|n| n == a))
        };
        FastColumns {
            id: pos(ID),
            model: pos(MODEL),
            sample: pos(SAMPLE),
            status: pos(STATUS),
            output: pos(OUTPUT),
            in_tok: pos(IN_TOK),
            out_tok: pos(OUT_TOK),
            cached: pos(CACHED),
            cache_write: pos(CACHE_WRITE),
            reasoning: pos(REASONING),
            latency: pos(LATENCY),
            ttft: pos(TTFT),
            retry_after: pos(RETRY_AFTER),
            quality: pos(QUALITY),
            cost: pos(COST),
            served: pos(SERVED),
        }
    }

    fn raw(row: &dyn Row, col: Option<usize>) -> Option<Raw<'_>> {
        match col {
            None => Some(Raw::Null),
            Some(i) => row.raw(i),
        }
    }

    fn text(row: &dyn Row, col: Option<usize>) -> Plain<&str> {
        match Self::raw(row, col)? {
            Raw::Null | Raw::Bytes(b"") => Some(None),
            Raw::Bytes(b) => std::str::from_utf8(b).ok().map(Some),
            Raw::Num(_) => None,
        }
    }

    fn count(row: &dyn Row, col: Option<usize>) -> Plain<u32> {
        let b = match Self::raw(row, col)? {
            Raw::Null | Raw::Bytes(b"") => return Some(None),
            Raw::Num(x) => {
                return (x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64)
                    .then_some(Some(x as u32));
            }
            Raw::Bytes(b) => b,
        };
        if b.len() > 9 {
            return None;
        }
        let mut v = 0u32;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + d as u32;
        }
        Some(Some(v))
    }

    fn number(row: &dyn Row, col: Option<usize>, max: f64) -> Plain<f64> {
        let x: f64 = match Self::raw(row, col)? {
            Raw::Null | Raw::Bytes(b"") => return Some(None),
            Raw::Num(x) => x,
            Raw::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok()?,
        };
        (x.is_finite() && x >= 0.0 && x <= max).then_some(Some(x))
    }

    /// The request id and model, when both are plain non-empty text.
    fn names<'r>(&self, row: &'r dyn Row) -> Option<(&'r str, &'r str)> {
        let id = Self::text(row, Some(self.id?))??;
        let model = Self::text(row, Some(self.model?))??;
        Some((id, model))
    }

    /// The response of a row whose every field is plainly valid.
    fn response(
        &self,
        fields: &Fields<'_>,
        row: &dyn Row,
        id: &std::sync::Arc<str>,
        model: &std::sync::Arc<str>,
    ) -> Option<ResponseRow> {
        let status = match Self::raw(row, self.status)? {
            Raw::Null | Raw::Bytes(b"" | b"ok") => Status::OK,
            _ => return None,
        };
        let in_tok = Self::count(row, self.in_tok)?;
        let cached = Self::count(row, self.cached)?.unwrap_or(0);
        let cache_write = Self::count(row, self.cache_write)?.unwrap_or(0);
        if cached as u64 + cache_write as u64 > in_tok.unwrap_or(u32::MAX) as u64 {
            return None;
        }
        let s = Sample {
            status,
            cached_tokens: cached,
            cache_write_tokens: cache_write,
            reasoning_tokens: Self::count(row, self.reasoning)?.unwrap_or(0),
            ttft_ms: Self::number(row, self.ttft, f64::MAX)?.map_or(f32::NAN, |x| x as f32),
            retry_after_ms: Self::number(row, self.retry_after, f64::MAX)?
                .map_or(f32::NAN, |x| x as f32),
            quality: Self::number(row, self.quality, 1.0)?.unwrap_or(f64::NAN),
            cost_usd: Self::number(row, self.cost, f64::MAX)?.unwrap_or(f64::NAN),
            ..Sample::MISSING
        };
        let sample = Self::count(row, self.sample)?;
        let out_tok = Self::count(row, self.out_tok)?;
        let latency = Self::number(row, self.latency, f64::MAX)?;
        let output = Self::text(row, self.output)?.map(str::to_string);
        let served_model = Self::text(row, self.served)?.map(str::to_string);
        Some(ResponseRow {
            request_id: id.clone(),
            model: model.clone(),
            sample,
            index: None,
            recorded: Recorded {
                served_model,
                ..Recorded::measured(
                    s,
                    in_tok,
                    out_tok,
                    latency,
                    output,
                    (fields.shared_file.clone(), row.number()),
                )
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_messages_flatten_and_count_user_turns() {
        let v: serde_json::Value = serde_json::json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "explain"}]}
        ]);
        let (text, turns) = input_text(&Cell::Json(&v)).unwrap();
        assert_eq!(text, "be brief\nhi\nhello\nexplain");
        assert_eq!(turns, 2);
    }

    #[test]
    fn a_remembered_position_belongs_to_its_own_index() {
        // Two datasets read in one process, the same id at other positions: the
        // thread's cache of the last position must not leak from one to the other.
        use crate::dataset::request_table::IdIndex;
        let mut a = IdIndex::default();
        let _ = a.insert("x".into());
        let mut b = IdIndex::default();
        let _ = b.insert("y".into());
        let _ = b.insert("x".into());
        let id = super::intern::id("x");
        assert_eq!(super::intern::position(&id, &a), Some(0));
        assert_eq!(super::intern::position(&id, &b), Some(1));
        assert_eq!(super::intern::position(&id, &a), Some(0));
    }
}

/// Shared names for the rows of a responses file: rows of one request follow each
/// other and a file has few models, so each thread keeps the last request id and its
/// models and hands out clones instead of a new string per row.
mod intern {
    use std::cell::RefCell;
    use std::sync::Arc;

    thread_local! {
        static LAST_ID: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
        static MODELS: RefCell<Vec<Arc<str>>> = const { RefCell::new(Vec::new()) };
        static LAST_POS: RefCell<Option<(Arc<str>, u32, u64)>> = const { RefCell::new(None) };
    }

    /// A request id.
    pub fn id(s: &str) -> Arc<str> {
        LAST_ID.with_borrow_mut(|last| match last {
            Some(a) if **a == *s => a.clone(),
            _ => {
                let a: Arc<str> = s.into();
                *last = Some(a.clone());
                a
            }
        })
    }

    /// The position of request `id` in the requests file (`index`), remembered for
    /// the rows of the same request that follow — of the same index only: threads
    /// outlive a load, and another dataset read later in the process (tests, a
    /// library user) may have the same id at another position.
    pub fn position(id: &Arc<str>, index: &crate::dataset::request_table::IdIndex) -> Option<u32> {
        let g = index.generation();
        LAST_POS.with_borrow_mut(|last| match last {
            Some((a, p, lg)) if *lg == g && (Arc::ptr_eq(a, id) || **a == **id) => Some(*p),
            _ => {
                let p = index.get(id);
                *last = p.map(|p| (id.clone(), p, g));
                p
            }
        })
    }

    /// A model name.
    pub fn model(s: &str) -> Arc<str> {
        MODELS.with_borrow_mut(|v| {
            if let Some(a) = v.iter().find(|a| ***a == *s) {
                return a.clone();
            }
            let a: Arc<str> = s.into();
            if v.len() < 256 {
                v.push(a.clone());
            }
            a
        })
    }
}
