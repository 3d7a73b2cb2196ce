//! One row interface over CSV, JSONL and Parquet files, plus typed field readers that
//! record a row-and-column diagnostic instead of failing.

use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use std::borrow::Cow;
use std::path::Path;

/// A field value as found in a file.
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    /// The column does not exist (or the JSON key is absent).
    Absent,
    /// Present but null / empty.
    Null,
    /// Text.
    Text(Cow<'a, str>),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// Any other JSON value (array, object).
    Json(&'a serde_json::Value),
}

/// A row of a table file.
pub trait Row {
    /// 1-based data row (CSV/Parquet) or line number (JSONL).
    fn number(&self) -> usize;
    /// Field by column name.
    fn get(&self, key: &str) -> Cell<'_>;
    /// Column names present in this row.
    fn keys(&self) -> Vec<String>;
}

/// Supported table formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// Format from a file extension.
    pub fn from_path(p: &Path) -> Option<TableFormat> {
        match p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => Some(Self::Csv),
            Some("jsonl") | Some("ndjson") | Some("json") => Some(Self::Jsonl),
            Some("parquet") | Some("pq") => Some(Self::Parquet),
            _ => None,
        }
    }
}

struct CsvRow<'a> {
    n: usize,
    header: &'a [String],
    rec: &'a csv::StringRecord,
}

impl Row for CsvRow<'_> {
    fn number(&self) -> usize {
        self.n
    }
    fn get(&self, key: &str) -> Cell<'_> {
        match self.header.iter().position(|h| h == key) {
            None => Cell::Absent,
            Some(i) => match self.rec.get(i) {
                None | Some("") => Cell::Null,
                Some(s) => Cell::Text(Cow::Borrowed(s)),
            },
        }
    }
    fn keys(&self) -> Vec<String> {
        self.header.to_vec()
    }
}

struct JsonRow<'a> {
    n: usize,
    obj: &'a serde_json::Map<String, serde_json::Value>,
}

impl Row for JsonRow<'_> {
    fn number(&self) -> usize {
        self.n
    }
    fn get(&self, key: &str) -> Cell<'_> {
        let v = match self.obj.get(key) {
            Some(v) => v,
            None => {
                // `meta.task` may also be written as {"meta": {"task": …}}.
                match key.split_once('.') {
                    Some((head, tail)) => match self.obj.get(head).and_then(|o| o.get(tail)) {
                        Some(v) => v,
                        None => return Cell::Absent,
                    },
                    None => return Cell::Absent,
                }
            }
        };
        json_cell(v)
    }
    fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in self.obj {
            if let serde_json::Value::Object(inner) = v
                && (k == "meta" || k == "score")
            {
                out.extend(inner.keys().map(|ik| format!("{k}.{ik}")));
                continue;
            }
            out.push(k.clone());
        }
        out
    }
}

fn json_cell(v: &serde_json::Value) -> Cell<'_> {
    match v {
        serde_json::Value::Null => Cell::Null,
        serde_json::Value::Bool(b) => Cell::Bool(*b),
        serde_json::Value::Number(n) => n.as_f64().map(Cell::Num).unwrap_or(Cell::Null),
        serde_json::Value::String(s) if s.is_empty() => Cell::Null,
        serde_json::Value::String(s) => Cell::Text(Cow::Borrowed(s)),
        other => Cell::Json(other),
    }
}

/// A Parquet column materialised once (reading cell by cell through polars is slow).
enum ColData {
    Num(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
}

fn materialise(df: &polars::prelude::DataFrame) -> Vec<(String, ColData)> {
    use polars::prelude::*;
    df.columns()
        .iter()
        .map(|c| {
            let name = c.name().to_string();
            let data = match c.dtype() {
                DataType::Boolean => {
                    ColData::Bool(c.bool().map(|b| b.iter().collect()).unwrap_or_default())
                }
                DataType::String => ColData::Text(
                    c.str()
                        .map(|s| {
                            s.iter()
                                .map(|v| v.filter(|x| !x.is_empty()).map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                dt if dt.is_primitive_numeric() => ColData::Num(
                    c.cast(&DataType::Float64)
                        .ok()
                        .and_then(|f| f.f64().ok().map(|f| f.iter().collect()))
                        .unwrap_or_default(),
                ),
                _ => ColData::Text(
                    (0..c.len())
                        .map(|i| {
                            c.get(i)
                                .ok()
                                .filter(|v| !v.is_null())
                                .map(|v| v.to_string())
                        })
                        .collect(),
                ),
            };
            (name, data)
        })
        .collect()
}

struct FrameRow<'a> {
    /// Row number in the file (1-based).
    n: usize,
    /// Row index (0-based) of the first row of the materialised slice.
    base: usize,
    cols: &'a [(String, ColData)],
}

impl Row for FrameRow<'_> {
    fn number(&self) -> usize {
        self.n
    }
    fn get(&self, key: &str) -> Cell<'_> {
        let Some((_, col)) = self.cols.iter().find(|(n, _)| n == key) else {
            return Cell::Absent;
        };
        let i = self.n - 1 - self.base;
        match col {
            ColData::Num(v) => v[i].map(Cell::Num).unwrap_or(Cell::Null),
            ColData::Bool(v) => v[i].map(Cell::Bool).unwrap_or(Cell::Null),
            ColData::Text(v) => v[i]
                .as_deref()
                .map(|s| Cell::Text(Cow::Borrowed(s)))
                .unwrap_or(Cell::Null),
        }
    }
    fn keys(&self) -> Vec<String> {
        self.cols.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// Call `f` on every row of a table file. Returns the column names seen (CSV and
/// Parquet: the header; JSONL: the union of keys). Malformed rows are diagnostics.
pub fn for_each_row(
    path: &Path,
    format: TableFormat,
    diags: &mut Diagnostics,
    f: &mut dyn FnMut(&dyn Row, &mut Diagnostics),
) -> Result<Vec<String>, InputError> {
    let file = display_path(path);
    match format {
        TableFormat::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(false)
                .from_path(path)
                .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
            let header: Vec<String> = rdr
                .headers()
                .map_err(|e| InputError::file(path, format!("cannot read the header row: {e}")))?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            let mut rec = csv::StringRecord::new();
            let mut n = 0;
            loop {
                match rdr.read_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        n += 1;
                        let row = CsvRow {
                            n,
                            header: &header,
                            rec: &rec,
                        };
                        f(&row, diags);
                    }
                    Err(e) => {
                        n += 1;
                        diags.push(Diagnostic::row(&file, n, format!("malformed CSV: {e}")));
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            break;
                        }
                    }
                }
                if diags.len() > 200 {
                    break;
                }
            }
            Ok(header)
        }
        TableFormat::Jsonl => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
            let mut keys: Vec<String> = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let n = i + 1;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(serde_json::Value::Object(obj)) => {
                        let row = JsonRow { n, obj: &obj };
                        for k in row.keys() {
                            if !keys.contains(&k) {
                                keys.push(k);
                            }
                        }
                        f(&row, diags);
                    }
                    Ok(_) => diags.push(Diagnostic::row(&file, n, "expected a JSON object")),
                    Err(e) => diags.push(Diagnostic::row(
                        &file,
                        n,
                        format!("invalid JSON at column {}: {e}", e.column()),
                    )),
                }
                if diags.len() > 200 {
                    break;
                }
            }
            Ok(keys)
        }
        TableFormat::Parquet => {
            use polars::prelude::*;
            let fh = std::fs::File::open(path)
                .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
            let df = ParquetReader::new(fh)
                .finish()
                .map_err(|e| InputError::file(path, format!("cannot read Parquet: {e}")))?;
            // Materialise a slice at a time: bounded memory however long the file.
            const SLICE: usize = 65_536;
            let mut base = 0;
            'slices: while base < df.height() {
                let len = SLICE.min(df.height() - base);
                let cols = materialise(&df.slice(base as i64, len));
                for i in 0..len {
                    let row = FrameRow {
                        n: base + i + 1,
                        base,
                        cols: &cols,
                    };
                    f(&row, diags);
                    if diags.len() > 200 {
                        break 'slices;
                    }
                }
                base += len;
            }
            Ok(df
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect())
        }
    }
}

/// Column names of a file with a header (CSV, Parquet); `None` for JSONL.
pub fn header(path: &Path, format: TableFormat) -> Result<Option<Vec<String>>, InputError> {
    match format {
        TableFormat::Jsonl => Ok(None),
        TableFormat::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .from_path(path)
                .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
            let h = rdr
                .headers()
                .map_err(|e| InputError::file(path, format!("cannot read the header row: {e}")))?;
            Ok(Some(h.iter().map(|x| x.trim().to_string()).collect()))
        }
        TableFormat::Parquet => {
            use polars::prelude::*;
            let fh = std::fs::File::open(path)
                .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
            let schema = ParquetReader::new(fh)
                .schema()
                .map_err(|e| InputError::file(path, format!("cannot read Parquet: {e}")))?;
            Ok(Some(schema.iter_names().map(|n| n.to_string()).collect()))
        }
    }
}

/// Typed field access that records diagnostics for one file.
pub struct Fields<'a> {
    /// File name as shown.
    pub file: &'a str,
    /// The same name, shared by every row's origin.
    pub shared_file: std::sync::Arc<str>,
}

impl<'a> Fields<'a> {
    /// Reader for `file`.
    pub fn new(file: &'a str) -> Self {
        Self {
            file,
            shared_file: file.into(),
        }
    }

    /// First present key among `keys` (aliases), with its cell.
    pub fn first<'r, 'k>(&self, row: &'r dyn Row, keys: &[&'k str]) -> (&'k str, Cell<'r>) {
        for k in keys {
            match row.get(k) {
                Cell::Absent => continue,
                c => return (k, c),
            }
        }
        (keys[0], Cell::Absent)
    }

    /// Optional text (numbers are formatted; null and absent give `None`).
    pub fn text(&self, cell: &Cell<'_>) -> Option<String> {
        match cell {
            Cell::Absent | Cell::Null => None,
            Cell::Text(s) => Some(s.to_string()),
            Cell::Num(x) => Some(fmt_num(*x)),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Json(v) => Some(v.to_string()),
        }
    }

    /// Required text: a diagnostic when absent or empty.
    pub fn required_text(
        &self,
        row: &dyn Row,
        keys: &[&str],
        diags: &mut Diagnostics,
    ) -> Option<String> {
        let (k, c) = self.first(row, keys);
        match c {
            Cell::Absent => {
                let alt = if keys.len() > 1 {
                    format!(" (or {})", keys[1..].join(", "))
                } else {
                    String::new()
                };
                diags.push(Diagnostic::row(
                    self.file,
                    row.number(),
                    format!("missing required column \"{}\"{alt}", keys[0]),
                ));
                None
            }
            Cell::Null => {
                diags.push(Diagnostic::cell(
                    self.file,
                    row.number(),
                    k,
                    "expected a value, found an empty cell",
                ));
                None
            }
            c => self.text(&c),
        }
    }

    /// Optional non-negative integer (token counts).
    pub fn count(
        &self,
        row: &dyn Row,
        key: &str,
        cell: &Cell<'_>,
        diags: &mut Diagnostics,
    ) -> Option<u32> {
        let x = match cell {
            Cell::Absent | Cell::Null => return None,
            Cell::Num(x) => Some(*x),
            Cell::Text(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64 => Some(x as u32),
            _ => {
                diags.push(Diagnostic::cell(
                    self.file,
                    row.number(),
                    key,
                    format!(
                        "expected a non-negative whole number, found {}",
                        describe(cell)
                    ),
                ));
                None
            }
        }
    }

    /// Optional finite number, with an inclusive lower bound.
    pub fn number(
        &self,
        row: &dyn Row,
        key: &str,
        cell: &Cell<'_>,
        min: f64,
        diags: &mut Diagnostics,
    ) -> Option<f64> {
        let x = match cell {
            Cell::Absent | Cell::Null => return None,
            Cell::Num(x) => Some(*x),
            Cell::Text(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() && x >= min => Some(x),
            _ => {
                let want = if min == 0.0 {
                    "a number ≥ 0".to_string()
                } else {
                    format!("a number ≥ {min}")
                };
                diags.push(Diagnostic::cell(
                    self.file,
                    row.number(),
                    key,
                    format!("expected {want}, found {}", describe(cell)),
                ));
                None
            }
        }
    }

    /// Optional quality: a number in 0..=1, or a boolean (true = 1, false = 0).
    pub fn quality(
        &self,
        row: &dyn Row,
        key: &str,
        cell: &Cell<'_>,
        diags: &mut Diagnostics,
    ) -> Option<f64> {
        let x = match cell {
            Cell::Absent | Cell::Null => return None,
            Cell::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Cell::Num(x) => Some(*x),
            Cell::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(1.0),
                "false" => Some(0.0),
                t => t.parse::<f64>().ok(),
            },
            Cell::Json(_) => None,
        };
        match x {
            Some(x) if (0.0..=1.0).contains(&x) => Some(x),
            _ => {
                diags.push(Diagnostic::cell(
                    self.file,
                    row.number(),
                    key,
                    format!(
                        "expected a quality between 0 and 1 (or true/false), found {}",
                        describe(cell)
                    ),
                ));
                None
            }
        }
    }
}

/// A short description of a cell for error messages.
pub fn describe(cell: &Cell<'_>) -> String {
    match cell {
        Cell::Absent => "nothing".into(),
        Cell::Null => "an empty value".into(),
        Cell::Text(s) => format!("\"{}\"", truncate(s, 40)),
        Cell::Num(x) => fmt_num(*x),
        Cell::Bool(b) => b.to_string(),
        Cell::Json(v) => truncate(&v.to_string(), 40),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Format a number without a trailing `.0` for integers.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_rows_across_materialised_slices_keep_numbers_and_values() {
        use polars::prelude::*;
        let n = 150_000usize; // three slices of 65,536 rows
        let mut df = df!(
            "x" => (0..n).map(|i| i as f64).collect::<Vec<f64>>(),
            "t" => (0..n).map(|i| format!("r{i}")).collect::<Vec<String>>(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        crate::analysis::frame::write_parquet(&mut df, &path).unwrap();
        let mut diags = Diagnostics::new();
        let mut seen = 0usize;
        let mut bad = Vec::new();
        for_each_row(&path, TableFormat::Parquet, &mut diags, &mut |row, _| {
            let i = row.number() - 1;
            let ok_x = matches!(row.get("x"), Cell::Num(x) if x == i as f64);
            let ok_t = matches!(row.get("t"), Cell::Text(t) if t == format!("r{i}"));
            if !(ok_x && ok_t) && bad.len() < 3 {
                bad.push(i);
            }
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, n);
        assert!(bad.is_empty(), "rows with wrong values: {bad:?}");
    }
}
