//! The records of one log file, whatever its container: JSON Lines (read a line at a
//! time, never the whole file), one JSON object or array (pretty-printed exports,
//! OpenRouter's `{"data": …}` wrapper), or CSV with a header (LiteLLM SpendLogs and
//! Helicone exports; each row becomes an object of strings). Progress is reported in
//! bytes read. What a record means is for the format readers.

use crate::error::{Diagnostic, Diagnostics, InputError, display_path};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// How a file holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// One JSON object per line.
    Jsonl,
    /// A whole-file JSON value: an object (one record) or an array of records.
    Json,
    /// A CSV table with a header row.
    Csv,
}

/// The first bytes of a file, to tell its container.
fn head(path: &Path) -> Result<Vec<u8>, InputError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(InputError::file(path, format!("cannot read: {e}"))),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// The container of a file, from its content (a first line that is a whole JSON
/// object is JSON Lines; a first `{` or `[` that is not is one JSON value; anything
/// else is CSV when the name ends in `.csv`), and its first record (`None`: empty, or
/// not a container routesim reads as a log).
pub fn sniff(path: &Path) -> Result<Option<(Container, Value)>, InputError> {
    let bytes = head(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') {
        let first = t.lines().next().unwrap_or("");
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(first) {
            return Ok(Some((Container::Jsonl, unwrap_data(v))));
        }
        // Not a line of JSON: one (pretty-printed) value, or broken JSON Lines that
        // the table reader reports line by line.
        return Ok(first_of_whole(path)
            .ok()
            .flatten()
            .map(|v| (Container::Json, v)));
    }
    if t.starts_with('[') {
        return Ok(first_of_whole(path)
            .ok()
            .flatten()
            .map(|v| (Container::Json, v)));
    }
    let is_csv = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
    if is_csv {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(bytes.as_slice());
        if let Ok(h) = rdr.headers() {
            let mut o = serde_json::Map::new();
            for k in h.iter() {
                o.insert(k.trim().to_string(), Value::Null);
            }
            return Ok(Some((Container::Csv, Value::Object(o))));
        }
    }
    Ok(None)
}

/// `{"data": {…}}` (OpenRouter's generation response) → the inner object; anything
/// else as it is.
pub fn unwrap_data(v: Value) -> Value {
    match v {
        Value::Object(mut o) if o.len() == 1 && o.get("data").is_some_and(Value::is_object) => {
            o.remove("data").expect("checked")
        }
        other => other,
    }
}

fn read_whole(path: &Path) -> Result<Value, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')).map_err(|e| {
        InputError::one(Diagnostic {
            file: display_path(path),
            location: crate::error::Location::Text {
                line: e.line(),
                col: e.column(),
            },
            message: format!("invalid JSON: {e}"),
        })
    })
}

fn first_of_whole(path: &Path) -> Result<Option<Value>, InputError> {
    Ok(match unwrap_data(read_whole(path)?) {
        Value::Array(a) => a.into_iter().next().map(unwrap_data),
        v @ Value::Object(_) => Some(v),
        _ => None,
    })
}

/// Where a record is: its line (JSON Lines, CSV: the data row + 1 for the header) or
/// its position in a JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based line (JSONL), row (CSV) or element (JSON array; 1 for one object).
    pub n: usize,
    /// Which of the three `n` is.
    pub container: Container,
}

impl Place {
    /// A diagnostic for this record.
    pub fn diag(&self, file: &str, msg: impl Into<String>) -> Diagnostic {
        match self.container {
            Container::Jsonl => Diagnostic {
                file: file.to_string(),
                location: crate::error::Location::Text {
                    line: self.n,
                    col: 1,
                },
                message: msg.into(),
            },
            Container::Csv => Diagnostic::row(file, self.n, msg),
            Container::Json => Diagnostic::file(file, format!("record {}: {}", self.n, msg.into())),
        }
    }

    /// A diagnostic for one field of this record.
    pub fn field(&self, file: &str, key: &str, msg: impl Into<String>) -> Diagnostic {
        match self.container {
            Container::Csv => Diagnostic::cell(file, self.n, key, msg),
            _ => self.diag(file, format!("field \"{key}\": {}", msg.into())),
        }
    }
}

/// Call `f` with every record of `path` in order (`bytes` is told how far the file
/// has been read, for progress). Lines that are not JSON objects are diagnostics.
pub fn for_each(
    path: &Path,
    container: Container,
    diags: &mut Diagnostics,
    bytes: &mut dyn FnMut(u64),
    f: &mut dyn FnMut(&Value, Place, &mut Diagnostics),
) -> Result<(), InputError> {
    let file = display_path(path);
    match container {
        Container::Jsonl => {
            let fh = std::fs::File::open(path)
                .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
            let mut rd = BufReader::with_capacity(1 << 20, fh);
            let mut line = String::new();
            let mut n = 0usize;
            let mut pending = 0u64;
            loop {
                line.clear();
                let k = rd.read_line(&mut line).map_err(|e| {
                    InputError::file(path, format!("cannot read line {}: {e}", n + 1))
                })?;
                if k == 0 {
                    break;
                }
                n += 1;
                pending += k as u64;
                if pending >= 1 << 20 {
                    bytes(pending);
                    pending = 0;
                }
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                let place = Place { n, container };
                match serde_json::from_str::<Value>(t) {
                    Ok(v @ Value::Object(_)) => f(&unwrap_data(v), place, diags),
                    Ok(_) => diags.push(place.diag(&file, "expected a JSON object")),
                    Err(e) => {
                        let at = Place { n, container };
                        diags.push(Diagnostic {
                            file: file.clone(),
                            location: crate::error::Location::Text {
                                line: at.n,
                                col: e.column(),
                            },
                            message: format!("invalid JSON: {e}"),
                        })
                    }
                }
                if diags.len() > 100 {
                    break;
                }
            }
            bytes(pending);
        }
        Container::Json => {
            let v = unwrap_data(read_whole(path)?);
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            match v {
                Value::Array(a) => {
                    for (i, r) in a.into_iter().enumerate() {
                        let place = Place {
                            n: i + 1,
                            container,
                        };
                        match unwrap_data(r) {
                            r @ Value::Object(_) => f(&r, place, diags),
                            _ => diags.push(place.diag(&file, "expected a JSON object")),
                        }
                    }
                }
                v @ Value::Object(_) => f(&v, Place { n: 1, container }, diags),
                _ => diags.push(Diagnostic::file(
                    &file,
                    "expected a JSON object or an array of objects",
                )),
            }
            bytes(len);
        }
        Container::Csv => {
            let fh = std::fs::File::open(path)
                .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(fh);
            let header: Vec<String> = rdr
                .headers()
                .map_err(|e| InputError::file(path, format!("cannot read the header row: {e}")))?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            let mut last = 0u64;
            for (i, rec) in rdr.records().enumerate() {
                let place = Place {
                    n: i + 1,
                    container,
                };
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        diags.push(place.diag(&file, format!("cannot read the row: {e}")));
                        continue;
                    }
                };
                let at = rec.position().map(|p| p.byte()).unwrap_or(last);
                if at - last >= 1 << 20 {
                    bytes(at - last);
                    last = at;
                }
                let mut o = serde_json::Map::new();
                for (k, cell) in header.iter().zip(rec.iter()) {
                    if !cell.is_empty() {
                        o.insert(k.clone(), Value::String(cell.to_string()));
                    }
                }
                f(&Value::Object(o), place, diags);
            }
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            bytes(len.saturating_sub(last));
        }
    }
    Ok(())
}
