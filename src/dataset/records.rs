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

/// A metadata key or short value: stored inline up to 24 bytes (no allocation for
/// the usual `task`, `tenant`, `plan` keys and values).
pub type MetaKey = compact_str::CompactString;

/// A field as stored (see [`Row::raw`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw<'a> {
    /// Text (CSV: every field; empty means null).
    Bytes(&'a [u8]),
    /// A number (Parquet numeric columns).
    Num(f64),
    /// Null.
    Null,
}

/// A row of a table file.
pub trait Row {
    /// 1-based data row (CSV/Parquet) or line number (JSONL).
    fn number(&self) -> usize;
    /// Field by column name.
    fn get(&self, key: &str) -> Cell<'_>;
    /// Column names present in this row.
    fn keys(&self) -> Vec<String>;
    /// The field at column position `i` as stored, for files with a header (CSV:
    /// its bytes; Parquet: text bytes or a number); `None` when the row has no such
    /// access. Lets a reader take the common simple values (plain integers and
    /// numbers) without the generic [`Cell`] path.
    fn raw(&self, _i: usize) -> Option<Raw<'_>> {
        None
    }
    /// The first of `aliases` present in this row, with its cell (`aliases[0]` and
    /// [`Cell::Absent`] when none is).
    fn first(&self, aliases: &'static [&'static str]) -> (&'static str, Cell<'_>) {
        for k in aliases {
            match self.get(k) {
                Cell::Absent => continue,
                c => return (k, c),
            }
        }
        (aliases[0], Cell::Absent)
    }

    /// The `meta.<key>` fields present in this row: (key without the prefix, value).
    fn meta_cells(&self) -> Vec<(MetaKey, Cell<'_>)> {
        self.keys()
            .into_iter()
            .filter_map(|k| {
                let name = MetaKey::from(k.strip_prefix("meta.")?);
                let c = self.get(&k);
                Some((name, c))
            })
            .collect()
    }
}

/// The columns of a file with a header, looked up by name in constant time (a row's
/// fields are read by name; resolving the name once per file, not per field of every
/// row, is what makes large files fast).
#[derive(Debug, Clone)]
pub struct Header {
    /// Column names, in file order.
    pub names: Vec<String>,
    index: std::collections::HashMap<String, usize, crate::util::hash::FnvBuild>,
    /// `meta.*` columns: (position, key without the prefix).
    meta: Vec<(usize, MetaKey)>,
    /// Alias lists resolved once: (address of the list, the alias found and its
    /// position), sorted by address.
    resolved: Vec<(usize, Option<(&'static str, usize)>)>,
}

impl Header {
    /// A header from column names (trimmed).
    pub fn new(names: Vec<String>) -> Header {
        let mut index =
            std::collections::HashMap::with_hasher(crate::util::hash::FnvBuild::default());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        let meta = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.strip_prefix("meta.").map(|k| (i, MetaKey::from(k))))
            .collect();
        Header {
            names,
            index,
            meta,
            resolved: Vec::new(),
        }
    }

    /// Resolve alias lists once for the whole file (see [`Row::first`]).
    pub fn resolve(mut self, groups: &[&'static [&'static str]]) -> Header {
        self.resolved = groups
            .iter()
            .map(|g| {
                let hit = g.iter().find_map(|k| self.pos(k).map(|i| (*k, i)));
                (g.as_ptr() as usize, hit)
            })
            .collect();
        self.resolved.sort_by_key(|r| r.0);
        self
    }

    /// A resolved alias list: `Some(hit)` when it was resolved (hit: the alias found
    /// and its position, or `None` when the file has none of them).
    #[inline]
    fn lookup(&self, aliases: &'static [&'static str]) -> Option<Option<(&'static str, usize)>> {
        let key = aliases.as_ptr() as usize;
        self.resolved
            .binary_search_by_key(&key, |r| r.0)
            .ok()
            .map(|i| self.resolved[i].1)
    }

    /// Position of a column.
    #[inline]
    pub fn pos(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }
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

/// [`Row::first`] by looking each alias up by name.
fn first_by_name<'r>(
    row: &'r dyn Row,
    aliases: &'static [&'static str],
) -> (&'static str, Cell<'r>) {
    for k in aliases {
        match row.get(k) {
            Cell::Absent => continue,
            c => return (k, c),
        }
    }
    (aliases[0], Cell::Absent)
}

/// A CSV record: its fields are `data[start..end]` for each `(start, end)` of
/// `bounds` (a plain line split at commas, or a quoted record unescaped by csv-core).
struct CsvRow<'a> {
    n: usize,
    header: &'a Header,
    data: &'a [u8],
    bounds: &'a [(u32, u32)],
}

impl CsvRow<'_> {
    #[inline]
    fn field(&self, i: usize) -> Option<&[u8]> {
        self.bounds
            .get(i)
            .map(|&(a, b)| &self.data[a as usize..b as usize])
    }

    fn at(&self, i: usize) -> Cell<'_> {
        match self.field(i) {
            None | Some(b"") => Cell::Null,
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) => Cell::Text(Cow::Borrowed(s)),
                Err(_) => Cell::Text(String::from_utf8_lossy(b)),
            },
        }
    }
}

impl Row for CsvRow<'_> {
    fn number(&self) -> usize {
        self.n
    }
    fn first(&self, aliases: &'static [&'static str]) -> (&'static str, Cell<'_>) {
        match self.header.lookup(aliases) {
            Some(Some((k, i))) => (k, self.at(i)),
            Some(None) => (aliases[0], Cell::Absent),
            None => first_by_name(self, aliases),
        }
    }
    fn get(&self, key: &str) -> Cell<'_> {
        match self.header.pos(key) {
            None => Cell::Absent,
            Some(i) => self.at(i),
        }
    }
    fn keys(&self) -> Vec<String> {
        self.header.names.to_vec()
    }
    fn raw(&self, i: usize) -> Option<Raw<'_>> {
        self.field(i).map(Raw::Bytes)
    }
    fn meta_cells(&self) -> Vec<(MetaKey, Cell<'_>)> {
        self.header
            .meta
            .iter()
            .map(|(i, k)| (k.clone(), self.at(*i)))
            .collect()
    }
}

/// A JSON line's fields, parsed without building a `serde_json::Value` tree for plain
/// values: strings stay borrowed from the line when they have no escapes, numbers are
/// numbers; only arrays (and objects other than `meta`/`score`) become `Value`s. The
/// `meta` and `score` objects are flattened to `meta.<key>` fields.
struct JsonRow<'a> {
    n: usize,
    fields: Vec<(Cow<'a, str>, Light<'a>)>,
}

/// A JSON value as [`JsonRow`] keeps it.
enum Light<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    Json(serde_json::Value),
}

impl<'a> JsonRow<'a> {
    /// Parse one line (a JSON object).
    fn parse(n: usize, line: &'a str) -> Result<JsonRow<'a>, String> {
        let bad = |e: serde_json::Error| format!("invalid JSON at column {}: {e}", e.column());
        let mut de = serde_json::Deserializer::from_str(line);
        let fields = serde::Deserializer::deserialize_any(&mut de, TopVisitor).map_err(bad)?;
        de.end().map_err(bad)?;
        match fields {
            Some(fields) => Ok(JsonRow { n, fields }),
            None => Err("expected a JSON object".into()),
        }
    }
}

/// A top-level value: an object's fields, or `None` for anything else.
struct TopVisitor;

impl<'de> serde::de::Visitor<'de> for TopVisitor {
    type Value = Option<Vec<(Cow<'de, str>, Light<'de>)>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(16);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let nest = key == "meta" || key == "score";
            match map.next_value_seed(LightSeed { nest })? {
                Nested::Flat(v) => out.push((key, v)),
                Nested::Object(inner) => {
                    for (k, v) in inner {
                        out.push((Cow::Owned(format!("{key}.{k}")), v));
                    }
                }
            }
        }
        Ok(Some(out))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A field value: a light value, or (for `meta`/`score`) an object's fields.
enum Nested<'a> {
    Flat(Light<'a>),
    Object(Vec<(Cow<'a, str>, Light<'a>)>),
}

/// Reads one value; `nest` flattens an object one level.
struct LightSeed {
    nest: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for LightSeed {
    type Value = Nested<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LightSeed {
    type Value = Nested<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Null))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Null))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Bool(b)))
    }
    fn visit_i64<E>(self, x: i64) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Num(x as f64)))
    }
    fn visit_u64<E>(self, x: u64) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Num(x as f64)))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Num(x)))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Str(Cow::Borrowed(s))))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Str(Cow::Owned(s.to_string()))))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Nested::Flat(Light::Str(Cow::Owned(s))))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v: serde_json::Value =
            serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Nested::Flat(Light::Json(v)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !self.nest {
            let v: serde_json::Value =
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            return Ok(Nested::Flat(Light::Json(v)));
        }
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            let v = match map.next_value_seed(LightSeed { nest: false })? {
                Nested::Flat(v) => v,
                Nested::Object(fields) => Light::Json(serde_json::Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), light_to_value(v)))
                        .collect(),
                )),
            };
            out.push((k, v));
        }
        Ok(Nested::Object(out))
    }
}

fn light_to_value(v: Light<'_>) -> serde_json::Value {
    match v {
        Light::Null => serde_json::Value::Null,
        Light::Bool(b) => b.into(),
        Light::Num(x) => x.into(),
        Light::Str(s) => s.into_owned().into(),
        Light::Json(v) => v,
    }
}

impl Row for JsonRow<'_> {
    fn number(&self) -> usize {
        self.n
    }
    fn get(&self, key: &str) -> Cell<'_> {
        match self.fields.iter().find(|(k, _)| k == key) {
            None => Cell::Absent,
            Some((_, v)) => match v {
                Light::Null => Cell::Null,
                Light::Bool(b) => Cell::Bool(*b),
                Light::Num(x) => Cell::Num(*x),
                Light::Str(s) if s.is_empty() => Cell::Null,
                Light::Str(s) => Cell::Text(Cow::Borrowed(s)),
                Light::Json(v) => Cell::Json(v),
            },
        }
    }
    fn keys(&self) -> Vec<String> {
        self.fields.iter().map(|(k, _)| k.to_string()).collect()
    }
    fn meta_cells(&self) -> Vec<(MetaKey, Cell<'_>)> {
        self.fields
            .iter()
            .filter_map(|(k, _)| {
                let name = k.strip_prefix("meta.")?;
                Some((MetaKey::from(name), self.get(k)))
            })
            .collect()
    }
}

/// A Parquet column materialised once (reading cell by cell through polars is slow).
enum ColData {
    Num(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    /// Text, read in place (one chunk).
    Text(polars::prelude::StringChunked),
    /// Other types, formatted.
    Other(Vec<Option<String>>),
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
                        .map(|s| s.rechunk().into_owned())
                        .unwrap_or_else(|_| StringChunked::full_null("".into(), c.len())),
                ),
                dt if dt.is_primitive_numeric() => ColData::Num(
                    c.cast(&DataType::Float64)
                        .ok()
                        .and_then(|f| f.f64().ok().map(|f| f.iter().collect()))
                        .unwrap_or_default(),
                ),
                _ => ColData::Other(
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
    header: &'a Header,
    cols: &'a [(String, ColData)],
}

impl FrameRow<'_> {
    fn at(&self, c: usize) -> Cell<'_> {
        let i = self.n - 1 - self.base;
        match &self.cols[c].1 {
            ColData::Num(v) => v[i].map(Cell::Num).unwrap_or(Cell::Null),
            ColData::Bool(v) => v[i].map(Cell::Bool).unwrap_or(Cell::Null),
            ColData::Text(v) => match v.get(i) {
                None | Some("") => Cell::Null,
                Some(s) => Cell::Text(Cow::Borrowed(s)),
            },
            ColData::Other(v) => v[i]
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| Cell::Text(Cow::Borrowed(s)))
                .unwrap_or(Cell::Null),
        }
    }

    fn raw_at(&self, c: usize) -> Option<Raw<'_>> {
        let i = self.n - 1 - self.base;
        match &self.cols[c].1 {
            ColData::Num(v) => Some(v[i].map_or(Raw::Null, Raw::Num)),
            ColData::Text(v) => Some(v.get(i).map_or(Raw::Null, |s| Raw::Bytes(s.as_bytes()))),
            _ => None,
        }
    }
}

impl Row for FrameRow<'_> {
    fn number(&self) -> usize {
        self.n
    }
    fn first(&self, aliases: &'static [&'static str]) -> (&'static str, Cell<'_>) {
        match self.header.lookup(aliases) {
            Some(Some((k, i))) => (k, self.at(i)),
            Some(None) => (aliases[0], Cell::Absent),
            None => first_by_name(self, aliases),
        }
    }
    fn get(&self, key: &str) -> Cell<'_> {
        match self.header.pos(key) {
            None => Cell::Absent,
            Some(c) => self.at(c),
        }
    }
    fn keys(&self) -> Vec<String> {
        self.header.names.to_vec()
    }
    fn raw(&self, i: usize) -> Option<Raw<'_>> {
        self.raw_at(i)
    }
    fn meta_cells(&self) -> Vec<(MetaKey, Cell<'_>)> {
        self.header
            .meta
            .iter()
            .map(|(i, k)| (k.clone(), self.at(*i)))
            .collect()
    }
}

/// Rows per parallel batch.
const BATCH_ROWS: usize = 65_536;
/// Bytes of a CSV or JSONL file read per batch (rows are parsed in parallel within it).
const BLOCK_BYTES: usize = 32 << 20;

/// Map every row of a table file with `f`, in parallel: rows are read a block at a
/// time (bounded memory however large the file), the rows of a block are mapped by
/// every thread, and the results go to `sink` part by part in file order, each part's
/// diagnostics added first, in row order. Returns the column names seen (CSV and
/// Parquet: the header; JSONL: the union of keys). Malformed rows are diagnostics.
///
/// `aliases` lists the alias lists `f` reads with [`Row::first`]: for CSV and Parquet
/// they are resolved once against the header instead of on every row.
pub fn map_rows<T: Send, F>(
    path: &Path,
    format: TableFormat,
    aliases: &[&'static [&'static str]],
    diags: &mut Diagnostics,
    f: &F,
    sink: &mut dyn FnMut(Vec<T>, &mut Diagnostics),
) -> Result<Vec<String>, InputError>
where
    F: Fn(&dyn Row, &mut Diagnostics) -> Option<T> + Sync + ?Sized,
{
    let file = display_path(path);
    // Progress in bytes read (CSV, JSONL) or rows (Parquet), on a terminal only.
    let name = path
        .file_name()
        .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
    let total = match format {
        TableFormat::Parquet => 0,
        _ => std::fs::metadata(path).map_or(0, |m| m.len()),
    };
    let progress = crate::util::progress::Progress::new(&format!("read {name}"), total);
    let r = match format {
        TableFormat::Csv => csv_blocks(path, &file, aliases, diags, f, sink, &progress),
        TableFormat::Jsonl => jsonl_blocks(path, &file, diags, f, sink, &progress),
        TableFormat::Parquet => parquet_slices(path, aliases, diags, f, sink, &progress),
    };
    progress.finish();
    r
}

/// Run `f` over `n` items split into `parts` contiguous ranges, in parallel, keeping
/// the results in order.
fn in_parts<R: Send>(
    n: usize,
    parts: usize,
    f: &(dyn Fn(std::ops::Range<usize>) -> R + Sync),
) -> Vec<R> {
    use rayon::prelude::*;
    let parts = parts.clamp(1, n.max(1));
    let size = n.div_ceil(parts).max(1);
    let ranges: Vec<std::ops::Range<usize>> =
        (0..n).step_by(size).map(|a| a..(a + size).min(n)).collect();
    ranges.into_par_iter().map(f).collect()
}

/// Read `path` a block of whole records at a time on a thread of its own (the file
/// read and the record boundaries found while the caller maps the block before) and
/// give each block and its record ends (`ends_of`) to `consume`, in file order, until
/// it returns `false`. A last record without its newline gets one.
fn blocks(
    path: &Path,
    progress: &crate::util::progress::Progress,
    ends_of: impl Fn(&[u8]) -> Vec<usize> + Send,
    consume: &mut dyn FnMut(Vec<u8>, Vec<usize>) -> Result<bool, InputError>,
) -> Result<(), InputError> {
    use std::io::Read;
    let mut fh = std::fs::File::open(path)
        .map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
    type Block = Result<(Vec<u8>, Vec<usize>), InputError>;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut buf: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; BLOCK_BYTES];
            loop {
                let got = match fh.read(&mut chunk) {
                    Ok(got) => got,
                    Err(e) => {
                        let _ = tx.send(Err(InputError::file(path, format!("cannot read: {e}"))));
                        return;
                    }
                };
                let eof = got == 0;
                if eof {
                    if !buf.is_empty() && buf.last() != Some(&b'\n') {
                        buf.push(b'\n');
                    }
                } else {
                    buf.extend_from_slice(&chunk[..got]);
                    progress.inc(got as u64);
                    if buf.len() < BLOCK_BYTES {
                        continue;
                    }
                }
                let ends = ends_of(&buf);
                if let Some(&last) = ends.last() {
                    let tail = buf[last..].to_vec();
                    buf.truncate(last);
                    if tx
                        .send(Ok((std::mem::replace(&mut buf, tail), ends)))
                        .is_err()
                    {
                        return;
                    }
                }
                if eof {
                    return;
                }
            }
        });
        for block in rx {
            let (block, ends) = block?;
            if !consume(block, ends)? {
                break;
            }
        }
        Ok(())
    })
}

/// One mapped block's parts: rows and the diagnostics of each part, in order.
type Parts<T> = Vec<(Vec<T>, Diagnostics)>;

/// The block mapped last, waiting for the sink: the sink takes a block's rows while
/// the next block is mapped (it runs on the caller's thread, serially, in file order).
struct Pending<T>(Option<Parts<T>>);

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending(None)
    }
}

impl<T: Send> Pending<T> {
    /// Map a block with `map` on the thread pool while the block before goes to `sink`.
    fn map_then_sink(
        &mut self,
        diags: &mut Diagnostics,
        sink: &mut dyn FnMut(Vec<T>, &mut Diagnostics),
        map: &(dyn Fn() -> Parts<T> + Sync),
    ) {
        let mut mapped = None;
        let before = self.0.take();
        rayon::in_place_scope(|s| {
            s.spawn(|_| mapped = Some(map()));
            if let Some(parts) = before {
                for (out, d) in parts {
                    diags.extend(d);
                    sink(out, diags);
                }
            }
        });
        self.0 = mapped;
    }

    /// Give the last mapped block to `sink`.
    fn flush(&mut self, diags: &mut Diagnostics, sink: &mut dyn FnMut(Vec<T>, &mut Diagnostics)) {
        for (out, d) in self.0.take().into_iter().flatten() {
            diags.extend(d);
            sink(out, diags);
        }
    }
}

/// Record boundaries of CSV bytes: the end (exclusive, after `\n`) of every non-empty
/// record, with quotes respected (a newline inside a quoted field is not a boundary).
fn csv_record_ends(buf: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut in_quotes = false;
    let mut line_start = 0usize;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            let line = &buf[line_start..i];
            if !(line.is_empty() || line == b"\r") {
                ends.push(i + 1);
            }
            line_start = i + 1;
        }
    }
    ends
}

/// Receives one record: its bytes and each field's `(start, end)` in them.
type RecordSink<'a> = dyn FnMut(&[u8], &[(u32, u32)]) + 'a;

/// Splits one CSV record (its bytes up to and including the `\n`) into fields: a line
/// without quotes or carriage returns inside is split at commas directly; any other is
/// read by csv-core (quotes, doubled quotes, `\r` terminators), as the csv crate would.
struct RecordSplitter {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    bounds: Vec<(u32, u32)>,
}

impl RecordSplitter {
    fn new() -> RecordSplitter {
        RecordSplitter {
            core: csv_core::Reader::new(),
            out: vec![0; 1024],
            ends: vec![0; 64],
            bounds: Vec::with_capacity(64),
        }
    }

    /// Call `emit(data, bounds)` for each record in `rec` (one, except for a bare `\r`
    /// inside an unquoted line, which csv treats as a record end).
    fn split(&mut self, rec: &[u8], emit: &mut RecordSink<'_>) {
        let mut line = rec.strip_suffix(b"\n").unwrap_or(rec);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        self.bounds.clear();
        if memchr::memchr2(b'"', b'\r', line).is_none() {
            let mut s = 0u32;
            for c in memchr::memchr_iter(b',', line) {
                self.bounds.push((s, c as u32));
                s = c as u32 + 1;
            }
            self.bounds.push((s, line.len() as u32));
            emit(line, &self.bounds);
            return;
        }
        use csv_core::ReadRecordResult as R;
        let mut input = rec;
        let (mut nout, mut nend) = (0usize, 0usize);
        loop {
            let (res, i, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            input = &input[i..];
            nout += o;
            nend += e;
            match res {
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => {
                    self.bounds.clear();
                    let mut s = 0usize;
                    for &e in &self.ends[..nend] {
                        self.bounds.push((s as u32, e as u32));
                        s = e;
                    }
                    emit(&self.out[..nout], &self.bounds);
                    nout = 0;
                    nend = 0;
                }
                R::InputEmpty if input.is_empty() => {
                    // A record without a terminator (the last line): flush it.
                    let (res, _, o, e) =
                        self.core
                            .read_record(&[], &mut self.out[nout..], &mut self.ends[nend..]);
                    nout += o;
                    nend += e;
                    if res == R::Record {
                        self.bounds.clear();
                        let mut s = 0usize;
                        for &e in &self.ends[..nend] {
                            self.bounds.push((s as u32, e as u32));
                            s = e;
                        }
                        emit(&self.out[..nout], &self.bounds);
                    }
                    return;
                }
                R::InputEmpty => {}
                R::End => return,
            }
        }
    }
}

fn csv_blocks<T: Send, F>(
    path: &Path,
    file: &str,
    aliases: &[&'static [&'static str]],
    diags: &mut Diagnostics,
    f: &F,
    sink: &mut dyn FnMut(Vec<T>, &mut Diagnostics),
    progress: &crate::util::progress::Progress,
) -> Result<Vec<String>, InputError>
where
    F: Fn(&dyn Row, &mut Diagnostics) -> Option<T> + Sync + ?Sized,
{
    let parts = rayon::current_num_threads().max(1);
    let mut header: Option<Header> = None;
    let mut rows_before = 0usize;
    let mut pending = Pending::default();
    blocks(path, progress, csv_record_ends, &mut |block, ends| {
        let mut start = 0usize;
        let mut ends = &ends[..];
        if header.is_none() {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&block[..ends[0]]);
            let mut rec = csv::StringRecord::new();
            let names = match rdr.read_record(&mut rec) {
                Ok(true) => rec.iter().map(|h| h.trim().to_string()).collect(),
                Ok(false) => Vec::new(),
                Err(e) => {
                    return Err(InputError::file(
                        path,
                        format!("cannot read the header row: {e}"),
                    ));
                }
            };
            header = Some(Header::new(names).resolve(aliases));
            start = ends[0];
            ends = &ends[1..];
        }
        let h = header.as_ref().expect("read above");
        let n = ends.len();
        let first = rows_before;
        rows_before += n;
        let block = &block[..];
        pending.map_then_sink(diags, sink, &|| {
            in_parts(n, parts, &|range| {
                let mut out = Vec::with_capacity(range.len());
                let mut d = Diagnostics::new();
                if range.is_empty() {
                    return (out, d);
                }
                let from_of = |k: usize| if k == 0 { start } else { ends[k - 1] };
                let mut splitter = RecordSplitter::new();
                for (k, &to) in ends[range.clone()].iter().enumerate() {
                    let number = first + range.start + k + 1;
                    let rec = &block[from_of(range.start + k)..to];
                    splitter.split(rec, &mut |data, bounds| {
                        if bounds.len() != h.names.len() {
                            d.push(Diagnostic::row(
                                file,
                                number,
                                format!(
                                    "malformed CSV: expected {} fields (the header's), found {}",
                                    h.names.len(),
                                    bounds.len()
                                ),
                            ));
                            return;
                        }
                        let row = CsvRow {
                            n: number,
                            header: h,
                            data,
                            bounds,
                        };
                        if let Some(t) = f(&row, &mut d) {
                            out.push(t);
                        }
                    });
                    if d.len() > 200 {
                        break;
                    }
                }
                (out, d)
            })
        });
        Ok(diags.len() <= 200)
    })?;
    pending.flush(diags, sink);
    Ok(header.map(|h| h.names).unwrap_or_default())
}

fn jsonl_blocks<T: Send, F>(
    path: &Path,
    file: &str,
    diags: &mut Diagnostics,
    f: &F,
    sink: &mut dyn FnMut(Vec<T>, &mut Diagnostics),
    progress: &crate::util::progress::Progress,
) -> Result<Vec<String>, InputError>
where
    F: Fn(&dyn Row, &mut Diagnostics) -> Option<T> + Sync + ?Sized,
{
    let parts = rayon::current_num_threads().max(1);
    let mut lines_before = 0usize;
    // Column names are collected per part and merged in file order.
    let seen_parts = std::sync::Mutex::new(Vec::<Vec<String>>::new());
    let mut pending = Pending::default();
    let line_ends =
        |buf: &[u8]| -> Vec<usize> { memchr::memchr_iter(b'\n', buf).map(|i| i + 1).collect() };
    blocks(path, progress, line_ends, &mut |block, ends| {
        let n = ends.len();
        let first = lines_before;
        lines_before += n;
        let (block, ends) = (&block[..], &ends[..]);
        let seen_parts = &seen_parts;
        pending.map_then_sink(diags, sink, &|| {
            let results = in_parts(n, parts, &|range| {
                let mut out = Vec::new();
                let mut seen: Vec<String> = Vec::new();
                let mut d = Diagnostics::new();
                for k in range {
                    let from = if k == 0 { 0 } else { ends[k - 1] };
                    let raw = &block[from..ends[k]];
                    let number = first + k + 1;
                    let line = match std::str::from_utf8(raw) {
                        Ok(l) => l.trim(),
                        Err(_) => {
                            d.push(Diagnostic::row(file, number, "not valid UTF-8 text"));
                            continue;
                        }
                    };
                    if line.is_empty() {
                        continue;
                    }
                    match JsonRow::parse(number, line) {
                        Ok(row) => {
                            if seen.len() < 512 {
                                for (k, _) in &row.fields {
                                    if !seen.iter().any(|s| s == k) {
                                        seen.push(k.to_string());
                                    }
                                }
                            }
                            if let Some(t) = f(&row, &mut d) {
                                out.push(t);
                            }
                        }
                        Err(e) => d.push(Diagnostic::row(file, number, e)),
                    }
                    if d.len() > 200 {
                        break;
                    }
                }
                (out, d, seen)
            });
            let mut parts_seen = seen_parts.lock().unwrap_or_else(|e| e.into_inner());
            results
                .into_iter()
                .map(|(out, d, seen)| {
                    parts_seen.push(seen);
                    (out, d)
                })
                .collect()
        });
        Ok(diags.len() <= 200)
    })?;
    pending.flush(diags, sink);
    let mut keys: Vec<String> = Vec::new();
    for seen in seen_parts.into_inner().unwrap_or_else(|e| e.into_inner()) {
        for k in seen {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

fn parquet_slices<T: Send, F>(
    path: &Path,
    aliases: &[&'static [&'static str]],
    diags: &mut Diagnostics,
    f: &F,
    sink: &mut dyn FnMut(Vec<T>, &mut Diagnostics),
    progress: &crate::util::progress::Progress,
) -> Result<Vec<String>, InputError>
where
    F: Fn(&dyn Row, &mut Diagnostics) -> Option<T> + Sync + ?Sized,
{
    let parts = rayon::current_num_threads().max(1);
    use polars::prelude::*;
    let open = || {
        std::fs::File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))
    };
    let bad = |e: PolarsError| InputError::file(path, format!("cannot read Parquet: {e}"));
    let total = ParquetReader::new(open()?).num_rows().map_err(bad)?;
    let names: Vec<String> = ParquetReader::new(open()?)
        .schema()
        .map_err(bad)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    let header = Header::new(names.clone()).resolve(aliases);
    // Read a slice at a time: bounded memory however long the file.
    const SLICE: usize = 1 << 20;
    let mut base = 0;
    while base < total {
        let len = SLICE.min(total - base);
        progress.inc(len as u64);
        let df = ParquetReader::new(open()?)
            .with_slice(Some((base, len)))
            .finish()
            .map_err(bad)?;
        let mut start = 0;
        while start < df.height() {
            let m = BATCH_ROWS.min(df.height() - start);
            let cols = materialise(&df.slice(start as i64, m));
            let first = base + start;
            let results = in_parts(m, parts, &|range| {
                let mut out = Vec::new();
                let mut d = Diagnostics::new();
                for i in range {
                    let row = FrameRow {
                        n: first + i + 1,
                        base: first,
                        header: &header,
                        cols: &cols,
                    };
                    if let Some(t) = f(&row, &mut d) {
                        out.push(t);
                    }
                    if d.len() > 200 {
                        break;
                    }
                }
                (out, d)
            });
            for (out, d) in results {
                diags.extend(d);
                sink(out, diags);
            }
            if diags.len() > 200 {
                return Ok(names);
            }
            start += m;
        }
        base += len;
    }
    Ok(names)
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
    pub fn first<'r>(
        &self,
        row: &'r dyn Row,
        keys: &'static [&'static str],
    ) -> (&'static str, Cell<'r>) {
        row.first(keys)
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
        keys: &'static [&'static str],
        diags: &mut Diagnostics,
    ) -> Option<String> {
        self.required_str(row, keys, diags).map(Cow::into_owned)
    }

    /// Required text, borrowed from the row when it can be.
    pub fn required_str<'r>(
        &self,
        row: &'r dyn Row,
        keys: &'static [&'static str],
        diags: &mut Diagnostics,
    ) -> Option<Cow<'r, str>> {
        match row.first(keys) {
            (_, Cell::Text(s)) => Some(s),
            (k, c) => self.require(row, keys, k, c, diags).map(Cow::Owned),
        }
    }

    /// Required text of one named column (a name given in a config).
    pub fn required_column(
        &self,
        row: &dyn Row,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        self.require(row, &[key], key, row.get(key), diags)
    }

    /// The text of `cell` (found under `k`, the first present of `keys`), or a
    /// diagnostic when it is absent or empty.
    fn require(
        &self,
        row: &dyn Row,
        keys: &[&str],
        k: &str,
        c: Cell<'_>,
        diags: &mut Diagnostics,
    ) -> Option<String> {
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
        map_rows(
            &path,
            TableFormat::Parquet,
            &[],
            &mut diags,
            &|row: &dyn Row, _: &mut Diagnostics| {
                let i = row.number() - 1;
                let ok_x = matches!(row.get("x"), Cell::Num(x) if x == i as f64);
                let ok_t = matches!(row.get("t"), Cell::Text(t) if t == format!("r{i}"));
                Some((i, ok_x && ok_t))
            },
            &mut |rows: Vec<(usize, bool)>, _| {
                for (i, ok) in rows {
                    // In file order: row i is the i-th seen.
                    if (!ok || i != seen) && bad.len() < 3 {
                        bad.push(i);
                    }
                    seen += 1;
                }
            },
        )
        .unwrap();
        assert_eq!(seen, n);
        assert!(bad.is_empty(), "rows with wrong values: {bad:?}");
    }
}
