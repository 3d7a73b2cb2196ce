//! Grouping a log's attempts into requests, in bounded memory.
//!
//! Format readers hand over [`Attempt`]s (one call to a provider, or a cache hit) in
//! file order; attempts sharing a request key (LiteLLM `trace_id`, Portkey rows of one
//! trace, OpenRouter `provider_responses[]`) are one request. File order is not time
//! order, so every request stays open until the end — held compactly: numbers in
//! fixed-size records linked per request, names interned, texts in one store (in
//! memory, or a spill file when importing to a folder), no JSON kept. Then
//! [`LogBuilder::emit`] hands each request to a [`Sink`] twice: first every request
//! (its arrival, prompt and metadata), then every request's attempts in start order
//! (sample k of a cell is its k-th attempt on that model) and its logged outcome.
//!
//! Request-level fields come from the request's earliest attempt (the asked model of
//! a LiteLLM fallback is on the failed first line, not on the answer).

use super::source::Place;
use crate::dataset::Status;
use crate::dataset::logged::{LoggedRow, flags as lflags};
use crate::dataset::request_table::IdIndex;
use std::collections::HashMap;

/// Request-level fields carried by a record.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// The model, alias or group the client asked for.
    pub asked: Option<String>,
    /// The prompt: chat messages as compact JSON, or plain text.
    pub input: Option<String>,
    /// Metadata, `(key without "meta.", value)`.
    pub meta: Vec<(String, String)>,
}

/// One call as a log records it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The request it belongs to.
    pub key: String,
    /// Start, in the format's time unit since the epoch (NaN: not logged).
    pub start: f64,
    /// End, same unit (NaN: start + latency, or not logged).
    pub end: f64,
    /// The call's own duration, ms (NaN: end − start).
    pub latency_ms: f64,
    /// Time to first token within the call, ms (NaN: not streamed / not logged).
    pub ttft_ms: f64,
    /// The dataset model column the call goes to (empty: the request's asked model).
    pub column: String,
    /// The model that answered, when it is not the column.
    pub served: Option<String>,
    /// Outcome.
    pub status: Status,
    /// Prompt tokens billed.
    pub input_tokens: Option<u32>,
    /// Completion tokens billed (reasoning included).
    pub output_tokens: Option<u32>,
    /// Prompt tokens read from the provider's cache.
    pub cached_tokens: Option<u32>,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: Option<u32>,
    /// Reasoning tokens (part of the output).
    pub reasoning_tokens: Option<u32>,
    /// Logged cost, USD (NaN: none logged).
    pub cost_usd: f64,
    /// Answer text.
    pub output: Option<String>,
    /// Served from the gateway's cache (not a call of the model: no cell).
    pub cache_hit: bool,
    /// Calls the log counts but does not list (LiteLLM SpendLogs' retries and
    /// fallbacks of a request).
    pub extra_attempts: u16,
    /// The log says the request was retried.
    pub retried: bool,
    /// The log says the request fell back.
    pub fell_back: bool,
    /// Probability of the router's choice, when logged (NaN otherwise).
    pub propensity: f64,
    /// The catalog name to price the column as (LiteLLM: the provider model a group
    /// called), when it is not the column itself.
    pub price_as: Option<String>,
    /// Request-level fields of this record.
    pub head: Option<Head>,
}

impl Attempt {
    /// An attempt of request `key` with nothing logged yet.
    pub fn new(key: String) -> Attempt {
        Attempt {
            key,
            start: f64::NAN,
            end: f64::NAN,
            latency_ms: f64::NAN,
            ttft_ms: f64::NAN,
            column: String::new(),
            served: None,
            status: Status::ERROR,
            input_tokens: None,
            output_tokens: None,
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            cost_usd: f64::NAN,
            output: None,
            cache_hit: false,
            extra_attempts: 0,
            retried: false,
            fell_back: false,
            propensity: f64::NAN,
            price_as: None,
            head: None,
        }
    }
}

/// A text in a [`TextStore`]: offset and length (`len == u32::MAX`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TextRef {
    at: u64,
    len: u32,
}

impl TextRef {
    const NONE: TextRef = TextRef {
        at: 0,
        len: u32::MAX,
    };
}

/// Where the texts of an open log are kept: in memory, or appended to a spill file
/// (importing a big log to a folder keeps its texts on disk until they are written).
pub enum TextStore {
    /// One buffer.
    Memory(Vec<u8>),
    /// A file being appended to, and its length.
    Spill(std::io::BufWriter<std::fs::File>, std::path::PathBuf, u64),
}

impl TextStore {
    /// Texts kept in a spill file at `path` (created; removed by the caller).
    pub fn spill(path: &std::path::Path) -> std::io::Result<TextStore> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        Ok(TextStore::Spill(
            std::io::BufWriter::with_capacity(1 << 20, f),
            path.to_path_buf(),
            0,
        ))
    }

    fn put(&mut self, s: Option<&str>) -> std::io::Result<TextRef> {
        let Some(s) = s else {
            return Ok(TextRef::NONE);
        };
        let len = s.len().min(u32::MAX as usize - 1);
        let s = &s.as_bytes()[..len];
        match self {
            TextStore::Memory(v) => {
                let at = v.len() as u64;
                v.extend_from_slice(s);
                Ok(TextRef {
                    at,
                    len: len as u32,
                })
            }
            TextStore::Spill(w, _, n) => {
                use std::io::Write;
                let at = *n;
                w.write_all(s)?;
                *n += len as u64;
                Ok(TextRef {
                    at,
                    len: len as u32,
                })
            }
        }
    }

    /// Make every text written so far readable.
    fn seal(&mut self) -> std::io::Result<()> {
        if let TextStore::Spill(w, _, _) = self {
            use std::io::Write;
            w.flush()?;
        }
        Ok(())
    }

    fn get(&self, r: TextRef) -> std::io::Result<Option<String>> {
        if r.len == u32::MAX {
            return Ok(None);
        }
        let bytes = match self {
            TextStore::Memory(v) => v[r.at as usize..r.at as usize + r.len as usize].to_vec(),
            TextStore::Spill(w, _, _) => {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; r.len as usize];
                w.get_ref().read_exact_at(&mut buf, r.at)?;
                buf
            }
        };
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// Names interned to dense codes.
#[derive(Debug, Default)]
struct Interner {
    names: Vec<String>,
    index: HashMap<String, u32, crate::util::hash::FnvBuild>,
}

impl Interner {
    const NONE: u32 = u32::MAX;

    fn code(&mut self, s: &str) -> u32 {
        if let Some(&c) = self.index.get(s) {
            return c;
        }
        let c = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), c);
        c
    }

    fn opt(&mut self, s: Option<&str>) -> u32 {
        s.map_or(Self::NONE, |s| self.code(s))
    }

    fn name(&self, c: u32) -> Option<&str> {
        (c != Self::NONE).then(|| self.names[c as usize].as_str())
    }
}

/// Token counts present (bits of [`Rec::has`]).
const HAS_IN: u8 = 1;
const HAS_OUT: u8 = 2;
const HAS_CACHED: u8 = 4;
const HAS_WRITE: u8 = 8;
const HAS_REASONING: u8 = 16;
/// Attempt flags (bits of [`Rec::what`]).
const CACHE: u8 = 1;
const SAID_RETRIED: u8 = 2;
const SAID_FELL_BACK: u8 = 4;

const END: u32 = u32::MAX;

/// One attempt, as kept while the log is open.
#[derive(Debug, Clone, Copy)]
struct Rec {
    next: u32,
    file: u16,
    n: u32,
    start: f64,
    end: f64,
    latency_ms: f64,
    ttft_ms: f32,
    column: u32,
    served: u32,
    status: Status,
    has: u8,
    what: u8,
    extra: u16,
    tokens: [u32; 5],
    cost_usd: f64,
    propensity: f64,
    output: TextRef,
}

/// Whether an attempt called a model (not a cache hit, not refused before any call).
fn is_call(a: &Rec) -> bool {
    a.what & CACHE == 0 && a.status != Status::GATEWAY_REJECTED
}

/// One request, as kept while the log is open.
#[derive(Debug, Clone, Copy)]
struct Open {
    first: u32,
    last: u32,
    /// Where the request was first seen.
    file: u16,
    n: u32,
    /// The start of the attempt its head came from (+∞: a head without a start).
    head_start: f64,
    asked: u32,
    input: TextRef,
    meta_at: u32,
    meta_len: u16,
}

/// A request as emitted.
#[derive(Debug, Clone)]
pub struct RequestOut {
    /// Request id.
    pub id: String,
    /// Arrival (first start), epoch ms.
    pub ts_ms: Option<i64>,
    /// Prompt (messages as JSON, or text).
    pub input: Option<String>,
    /// Prompt tokens of the final successful attempt.
    pub input_tokens: Option<u32>,
    /// Metadata in the log's key order (`asked_model` first when known).
    pub meta: Vec<(String, String)>,
    /// Where it was first seen: (file index, record number).
    pub origin: (u16, usize),
}

/// An attempt as emitted (a cell's sample).
#[derive(Debug, Clone)]
pub struct AttemptOut {
    /// Model column.
    pub column: String,
    /// Sample number within the request × column cell (start order).
    pub sample: u32,
    /// Outcome.
    pub status: Status,
    /// Token counts (`None`: not logged).
    pub input_tokens: Option<u32>,
    /// Completion tokens.
    pub output_tokens: Option<u32>,
    /// Cached prompt tokens.
    pub cached_tokens: Option<u32>,
    /// Cache-write tokens.
    pub cache_write_tokens: Option<u32>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u32>,
    /// Duration, ms (`None`: not logged).
    pub latency_ms: Option<f64>,
    /// Time to first token within the call, ms (NaN: unknown).
    pub ttft_ms: f64,
    /// Logged cost (NaN: none).
    pub cost_usd: f64,
    /// Answer text.
    pub output: Option<String>,
    /// Served model, when not the column.
    pub served: Option<String>,
    /// Where it was read: (file index, record number).
    pub origin: (u16, usize),
}

/// What an emitted log goes into: a dataset being built, or a dataset folder.
pub trait Sink {
    /// Every metadata key, in the order columns are written (before any request).
    fn meta_keys(&mut self, keys: &[String]) -> anyhow::Result<()>;
    /// A request (all requests come before any attempt).
    fn request(&mut self, r: &RequestOut) -> anyhow::Result<()>;
    /// An attempt of request `id` that called a model.
    fn attempt(&mut self, id: &str, a: &AttemptOut) -> anyhow::Result<()>;
    /// The logged outcome of request `id` (after its attempts).
    fn logged(&mut self, id: &str, row: &LoggedRow) -> anyhow::Result<()>;
}

/// Counts and findings of an emitted log, for the notes and the manifest.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Requests.
    pub requests: u64,
    /// Attempts (records of calls, cache hits included).
    pub attempts: u64,
    /// Cache hits.
    pub cache_hits: u64,
    /// Requests by final status (`ok`, `429`, …; `missing` for none).
    pub statuses: std::collections::BTreeMap<String, u64>,
    /// Requests with several attempts and the time between them that the log does
    /// not account for (sorted gaps, ms).
    pub gaps_ms: Vec<f64>,
    /// Successful calls with tokens logged at $0, per column.
    pub zero_cost: std::collections::BTreeMap<String, u64>,
    /// Requests without any attempt (a batch input line without output).
    pub without_attempts: u64,
}

/// The open log.
pub struct LogBuilder {
    ids: IdIndex,
    open: Vec<Open>,
    recs: Vec<Rec>,
    meta: Vec<(u32, u32)>,
    texts: TextStore,
    columns: Interner,
    served: Interner,
    asked: Interner,
    meta_keys: Interner,
    meta_vals: Interner,
    /// Column code → catalog name (the first one logged).
    aliases: HashMap<u32, String>,
    any_propensity: bool,
    /// Multiply a time by this for ms (1000 for epoch seconds, 1 for epoch ms).
    pub to_ms: f64,
    /// Whether a request key seen twice is an error (formats with one row per
    /// request) rather than a second attempt.
    pub one_row_per_request: bool,
}

/// A key seen twice in a format with one row per request.
#[derive(Debug, Clone)]
pub struct Duplicate {
    /// The key.
    pub key: String,
    /// Where it was first seen: (file index, record number).
    pub first: (u16, usize),
}

impl LogBuilder {
    /// An empty log whose times are in `to_ms`-ms units, texts kept in `texts`.
    pub fn new(texts: TextStore, to_ms: f64) -> LogBuilder {
        LogBuilder {
            ids: IdIndex::default(),
            open: Vec::new(),
            recs: Vec::new(),
            meta: Vec::new(),
            texts,
            columns: Interner::default(),
            served: Interner::default(),
            asked: Interner::default(),
            meta_keys: Interner::default(),
            meta_vals: Interner::default(),
            aliases: HashMap::new(),
            any_propensity: false,
            to_ms,
            one_row_per_request: false,
        }
    }

    /// Requests so far.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no request was added.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    fn open_request(&mut self, key: &str, file: u16, place: Place) -> Result<usize, usize> {
        match self.ids.insert(key.to_string()) {
            Ok(i) => {
                self.open.push(Open {
                    first: END,
                    last: END,
                    file,
                    n: place.n as u32,
                    head_start: f64::INFINITY,
                    asked: Interner::NONE,
                    input: TextRef::NONE,
                    meta_at: 0,
                    meta_len: 0,
                });
                Ok(i as usize)
            }
            Err(i) => Err(i as usize),
        }
    }

    fn set_head(&mut self, i: usize, head: &Head, start: f64) -> std::io::Result<()> {
        let o = self.open[i];
        // The earliest record gives the request's fields; a head without a start
        // (a batch input line) gives way to nothing but fills what is empty.
        let earlier = start < o.head_start
            || o.head_start == f64::INFINITY
                && o.asked == Interner::NONE
                && o.input == TextRef::NONE
                && o.meta_len == 0;
        if !earlier {
            return Ok(());
        }
        let asked = self.asked.opt(head.asked.as_deref());
        let input = self.texts.put(head.input.as_deref())?;
        let meta_at = self.meta.len() as u32;
        for (k, v) in head.meta.iter().take(u16::MAX as usize) {
            let k = self.meta_keys.code(k);
            let v = self.meta_vals.code(v);
            self.meta.push((k, v));
        }
        let o = &mut self.open[i];
        o.head_start = if start.is_nan() { f64::INFINITY } else { start };
        o.asked = asked;
        o.input = input;
        o.meta_at = meta_at;
        o.meta_len = head.meta.len().min(u16::MAX as usize) as u16;
        Ok(())
    }

    /// Add request-level fields for `key` without an attempt (a batch input line).
    pub fn add_head(
        &mut self,
        key: &str,
        head: &Head,
        file: u16,
        place: Place,
    ) -> std::io::Result<()> {
        let i = match self.open_request(key, file, place) {
            Ok(i) | Err(i) => i,
        };
        if self.open[i].asked == Interner::NONE
            && self.open[i].input == TextRef::NONE
            && self.open[i].meta_len == 0
        {
            self.set_head(i, head, f64::NAN)?;
        }
        Ok(())
    }

    /// Add an attempt read at `place` of file `file`. `Ok(Some(dup))` when
    /// [`LogBuilder::one_row_per_request`] and the key was already seen.
    pub fn add(
        &mut self,
        a: Attempt,
        file: u16,
        place: Place,
    ) -> std::io::Result<Option<Duplicate>> {
        let i = match self.open_request(&a.key, file, place) {
            Ok(i) => i,
            Err(i) if self.one_row_per_request && self.open[i].first != END => {
                let o = self.open[i];
                return Ok(Some(Duplicate {
                    key: a.key,
                    first: (o.file, o.n as usize),
                }));
            }
            Err(i) => i,
        };
        if let Some(h) = &a.head {
            self.set_head(i, h, a.start)?;
        }
        // A propensity the client logged with its request (custom metadata
        // `propensity`: the probability its router gave the model it picked).
        let propensity = if a.propensity.is_nan() {
            a.head
                .as_ref()
                .and_then(|h| h.meta.iter().find(|(k, _)| k == "propensity"))
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .filter(|p| *p > 0.0 && *p <= 1.0)
                .unwrap_or(f64::NAN)
        } else {
            a.propensity
        };
        let mut has = 0;
        let mut tokens = [0u32; 5];
        for (k, (t, bit)) in [
            (a.input_tokens, HAS_IN),
            (a.output_tokens, HAS_OUT),
            (a.cached_tokens, HAS_CACHED),
            (a.cache_write_tokens, HAS_WRITE),
            (a.reasoning_tokens, HAS_REASONING),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(t) = t {
                tokens[k] = t;
                has |= bit;
            }
        }
        let mut what = 0;
        if a.cache_hit {
            what |= CACHE;
        }
        if a.retried {
            what |= SAID_RETRIED;
        }
        if a.fell_back {
            what |= SAID_FELL_BACK;
        }
        let rec = Rec {
            next: END,
            file,
            n: place.n as u32,
            start: a.start,
            end: a.end,
            latency_ms: a.latency_ms,
            ttft_ms: a.ttft_ms as f32,
            column: if a.column.is_empty() {
                Interner::NONE
            } else {
                self.columns.code(&a.column)
            },
            served: self.served.opt(a.served.as_deref()),
            status: a.status,
            has,
            what,
            extra: a.extra_attempts,
            tokens,
            cost_usd: a.cost_usd,
            propensity,
            output: self.texts.put(a.output.as_deref())?,
        };
        if let Some(p) = a.price_as.filter(|p| *p != a.column)
            && rec.column != Interner::NONE
        {
            self.aliases.entry(rec.column).or_insert(p);
        }
        self.any_propensity |= !propensity.is_nan();
        let r = self.recs.len() as u32;
        self.recs.push(rec);
        let o = &mut self.open[i];
        if o.first == END {
            o.first = r;
        } else {
            self.recs[o.last as usize].next = r;
        }
        o.last = r;
        Ok(None)
    }

    /// The attempts of request `i` in start order (ties: end, then file order).
    fn ordered(&self, i: usize, out: &mut Vec<u32>) {
        out.clear();
        let mut r = self.open[i].first;
        while r != END {
            out.push(r);
            r = self.recs[r as usize].next;
        }
        let key = |r: &u32| {
            let a = &self.recs[*r as usize];
            let s = if a.start.is_nan() {
                f64::INFINITY
            } else {
                a.start
            };
            (s, self.end_of(a), a.file, a.n)
        };
        out.sort_by(|x, y| {
            let (a, b) = (key(x), key(y));
            a.0.total_cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
    }

    /// An attempt's end (start + latency when only those are logged; NaN unknown).
    fn end_of(&self, a: &Rec) -> f64 {
        if !a.end.is_nan() {
            a.end
        } else {
            a.start + a.latency_ms / self.to_ms
        }
    }

    /// An attempt's duration, ms (NaN unknown).
    fn latency_of(&self, a: &Rec) -> f64 {
        if !a.latency_ms.is_nan() {
            a.latency_ms
        } else {
            (a.end - a.start) * self.to_ms
        }
    }

    /// The column of an attempt: its own, or the request's asked model.
    fn column_of(&self, a: &Rec, o: &Open) -> Option<&str> {
        self.columns
            .name(a.column)
            .or_else(|| self.asked.name(o.asked))
    }

    /// The logged outcome of request `i` from its ordered attempts.
    fn outcome(&self, i: usize, order: &[u32], f: &mut Findings) -> LoggedRow {
        let o = &self.open[i];
        if order.is_empty() {
            f.without_attempts += 1;
            return LoggedRow::missing();
        }
        let recs: Vec<&Rec> = order.iter().map(|&r| &self.recs[r as usize]).collect();
        // The final attempt: the one that ended last (the last in order on ties or
        // when ends are unknown).
        let mut fin = recs.len() - 1;
        let mut best = f64::NEG_INFINITY;
        for (k, a) in recs.iter().enumerate() {
            let e = self.end_of(a);
            if !e.is_nan() && e >= best {
                best = e;
                fin = k;
            }
        }
        let last = recs[fin];
        let calls: Vec<&&Rec> = recs.iter().filter(|a| is_call(a)).collect();
        let mut flags = 0u8;
        if last.what & CACHE != 0 {
            flags |= lflags::CACHE_HIT;
        }
        let first_col = calls.first().map(|a| a.column);
        if recs.iter().any(|a| a.what & SAID_FELL_BACK != 0)
            || (first_col.is_some() && first_col != Some(last.column) && last.what & CACHE == 0)
        {
            flags |= lflags::FELL_BACK;
        }
        let mut per_col: Vec<u32> = calls.iter().map(|a| a.column).collect();
        per_col.sort_unstable();
        if recs.iter().any(|a| a.what & SAID_RETRIED != 0)
            || per_col.windows(2).any(|w| w[0] == w[1])
        {
            flags |= lflags::RETRIED;
        }
        let mut cost = 0.0f64;
        for a in &recs {
            cost += a.cost_usd;
        }
        let starts_known = recs
            .iter()
            .all(|a| !a.start.is_nan() && !self.end_of(a).is_nan());
        let latency = if recs.len() == 1 {
            self.latency_of(recs[0])
        } else if starts_known {
            let lo = recs.iter().map(|a| a.start).fold(f64::INFINITY, f64::min);
            let hi = recs
                .iter()
                .map(|a| self.end_of(a))
                .fold(f64::NEG_INFINITY, f64::max);
            let span = (hi - lo) * self.to_ms;
            let busy: f64 = recs.iter().map(|a| self.latency_of(a)).sum();
            f.gaps_ms.push(span - busy);
            span
        } else {
            recs.iter().map(|a| self.latency_of(a)).sum()
        };
        let first_start = recs.iter().map(|a| a.start).fold(f64::INFINITY, f64::min);
        let ttft = if last.ttft_ms.is_nan() {
            f64::NAN
        } else if recs.len() == 1 || first_start.is_infinite() {
            last.ttft_ms as f64
        } else {
            (last.start - first_start) * self.to_ms + last.ttft_ms as f64
        };
        let extra: u32 = recs.iter().map(|a| a.extra as u32).sum();
        for a in &calls {
            if a.status.is_ok() && a.cost_usd == 0.0 && a.has & HAS_OUT != 0 && a.tokens[1] > 0 {
                let c = self.column_of(a, o).unwrap_or("").to_string();
                *f.zero_cost.entry(c).or_insert(0) += 1;
            }
        }
        // Production's pick: the first call's model (the first attempt's when none
        // reached a provider), with the propensity the router gave it.
        let pick = calls.first().copied().copied().unwrap_or(recs[0]);
        let model = self.column_of(last, o).unwrap_or("").to_string();
        let picked = self
            .column_of(pick, o)
            .filter(|p| *p != model)
            .map(str::to_string);
        let propensity = if pick.propensity.is_nan() {
            // Logged with the request rather than the attempt.
            recs.iter()
                .map(|a| a.propensity)
                .find(|p| !p.is_nan())
                .unwrap_or(f64::NAN)
        } else {
            pick.propensity
        };
        LoggedRow {
            model,
            picked,
            served: self.served.name(last.served).map(str::to_string),
            status: last.status,
            attempts: (calls.len() as u32 + extra).min(u16::MAX as u32) as u16,
            flags,
            cost_usd: cost,
            latency_ms: latency,
            ttft_ms: ttft,
            input_tokens: if last.has & HAS_IN != 0 {
                last.tokens[0]
            } else {
                0
            },
            output_tokens: if last.has & HAS_OUT != 0 {
                last.tokens[1]
            } else {
                0
            },
            propensity,
        }
    }

    /// Hand every request to `sink` (see the module doc), in order of first
    /// appearance; returns what was found on the way.
    pub fn emit(&mut self, sink: &mut dyn Sink) -> anyhow::Result<Findings> {
        self.texts.seal()?;
        sink.meta_keys(&self.meta_keys.names)?;
        let mut f = Findings::default();
        let mut order = Vec::new();
        let n = self.open.len();
        let progress = crate::util::progress::Progress::new("requests", 2 * n as u64);
        let tick = |i: usize| {
            if i % 4096 == 4095 {
                progress.inc(4096);
            }
        };
        // Pass 1: requests.
        for i in 0..self.open.len() {
            tick(i);
            self.ordered(i, &mut order);
            let o = self.open[i];
            let first = order
                .iter()
                .map(|&r| self.recs[r as usize].start)
                .fold(f64::INFINITY, f64::min);
            let fin_ok = order
                .iter()
                .rev()
                .map(|&r| &self.recs[r as usize])
                .find(|a| a.status.is_ok() && a.has & HAS_IN != 0);
            let mut meta: Vec<(String, String)> = Vec::with_capacity(o.meta_len as usize + 1);
            if let Some(a) = self.asked.name(o.asked) {
                meta.push(("asked_model".into(), a.to_string()));
            }
            let mut pairs: Vec<(u32, u32)> =
                self.meta[o.meta_at as usize..o.meta_at as usize + o.meta_len as usize].to_vec();
            pairs.sort_by_key(|p| p.0);
            for (k, v) in pairs {
                meta.push((
                    self.meta_keys.names[k as usize].clone(),
                    self.meta_vals.names[v as usize].clone(),
                ));
            }
            sink.request(&RequestOut {
                id: self.ids.ids[i].clone(),
                ts_ms: first
                    .is_finite()
                    .then(|| (first * self.to_ms).round() as i64),
                input: self.texts.get(o.input)?,
                input_tokens: fin_ok.map(|a| a.tokens[0]),
                meta,
                origin: (o.file, o.n as usize),
            })?;
        }
        // Pass 2: attempts and outcomes.
        let mut seen: Vec<(u32, u32)> = Vec::new();
        for i in 0..self.open.len() {
            tick(i);
            self.ordered(i, &mut order);
            let o = self.open[i];
            let id = self.ids.ids[i].clone();
            seen.clear();
            f.requests += 1;
            for &r in &order {
                let a = self.recs[r as usize];
                f.attempts += 1;
                if a.what & CACHE != 0 {
                    f.cache_hits += 1;
                }
                if !is_call(&a) {
                    continue;
                }
                let Some(column) = self.column_of(&a, &o).map(str::to_string) else {
                    continue;
                };
                let sample = match seen.iter_mut().find(|s| s.0 == a.column) {
                    Some(s) => {
                        s.1 += 1;
                        s.1
                    }
                    None => {
                        seen.push((a.column, 0));
                        0
                    }
                };
                let tok = |bit: u8, k: usize| (a.has & bit != 0).then_some(a.tokens[k]);
                let lat = self.latency_of(&a);
                sink.attempt(
                    &id,
                    &AttemptOut {
                        column,
                        sample,
                        status: a.status,
                        input_tokens: tok(HAS_IN, 0),
                        output_tokens: tok(HAS_OUT, 1),
                        cached_tokens: tok(HAS_CACHED, 2),
                        cache_write_tokens: tok(HAS_WRITE, 3),
                        reasoning_tokens: tok(HAS_REASONING, 4),
                        latency_ms: (!lat.is_nan()).then_some(lat),
                        ttft_ms: a.ttft_ms as f64,
                        cost_usd: a.cost_usd,
                        output: self.texts.get(a.output)?,
                        served: self.served.name(a.served).map(str::to_string),
                        origin: (a.file, a.n as usize),
                    },
                )?;
            }
            let row = self.outcome(i, &order, &mut f);
            *f.statuses.entry(row.status.to_string()).or_insert(0) += 1;
            if row.status.is_present() {
                sink.logged(&id, &row)?;
            }
        }
        progress.finish();
        f.gaps_ms.sort_by(f64::total_cmp);
        Ok(f)
    }

    /// Whether some attempt logged a propensity.
    pub fn has_propensity(&self) -> bool {
        self.any_propensity
    }

    /// Model columns to price as another (catalog) name, sorted by column.
    pub fn aliases(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .aliases
            .iter()
            .map(|(c, p)| (self.columns.names[*c as usize].clone(), p.clone()))
            .collect();
        v.sort();
        v
    }

    /// Remove the spill file, if any.
    pub fn cleanup(&mut self) {
        if let TextStore::Spill(_, path, _) = &self.texts {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::importers::gateway::source::Container;

    /// Everything a sink is told, as text.
    #[derive(Default)]
    struct Record(Vec<String>);

    impl Sink for Record {
        fn meta_keys(&mut self, keys: &[String]) -> anyhow::Result<()> {
            self.0.push(format!("keys {keys:?}"));
            Ok(())
        }
        fn request(&mut self, r: &RequestOut) -> anyhow::Result<()> {
            self.0.push(format!(
                "request {} {:?} {:?} {:?} {:?}",
                r.id, r.ts_ms, r.input, r.input_tokens, r.meta
            ));
            Ok(())
        }
        fn attempt(&mut self, id: &str, a: &AttemptOut) -> anyhow::Result<()> {
            self.0.push(format!(
                "attempt {id} {} #{} {} {:?} {:?}",
                a.column, a.sample, a.status, a.latency_ms, a.cost_usd
            ));
            Ok(())
        }
        fn logged(&mut self, id: &str, row: &LoggedRow) -> anyhow::Result<()> {
            self.0.push(format!("logged {id} {row:?}"));
            Ok(())
        }
    }

    fn attempt(key: &str, col: &str, start: f64, end: f64, status: Status, cost: f64) -> Attempt {
        let mut a = Attempt::new(key.into());
        a.start = start;
        a.end = end;
        a.column = col.into();
        a.status = status;
        a.cost_usd = cost;
        a.head = Some(Head {
            asked: Some(format!("asked-{col}")),
            input: Some(format!("from {col} at {start}")),
            meta: vec![("user".into(), format!("u-{col}"))],
        });
        a
    }

    fn emit(list: &[Attempt]) -> (Vec<String>, Findings) {
        let mut log = LogBuilder::new(TextStore::Memory(Vec::new()), 1000.0);
        let place = Place {
            n: 1,
            container: Container::Jsonl,
        };
        for a in list {
            assert!(log.add(a.clone(), 0, place).unwrap().is_none());
        }
        let mut rec = Record::default();
        let f = log.emit(&mut rec).unwrap();
        (rec.0, f)
    }

    #[test]
    fn attempts_group_by_key_in_start_order_whatever_the_file_order() {
        let ok = Status::OK;
        // r1: a 429 on A (1.0–1.5 s), a retry of A that fails (2.0–2.25), then B
        // answers (3.0–4.0); r2: one call.
        let list = vec![
            attempt("r1", "B", 3.0, 4.0, ok, 0.25),
            attempt("r2", "A", 0.5, 0.75, ok, 0.5),
            attempt("r1", "A", 2.0, 2.25, Status(500), 0.0),
            attempt("r1", "A", 1.0, 1.5, Status(429), 0.0),
        ];
        let (events, f) = emit(&list);
        // Requests in order of first appearance; the head is the earliest call's.
        assert_eq!(
            events[1],
            "request r1 Some(1000) Some(\"from A at 1\") None [(\"asked_model\", \"asked-A\"), (\"user\", \"u-A\")]"
        );
        assert!(events[2].starts_with("request r2 Some(500)"));
        // Samples of a cell in start order: A #0 is the 429, A #1 the 500.
        assert_eq!(events[3], "attempt r1 A #0 429 Some(500.0) 0.0");
        assert_eq!(events[4], "attempt r1 A #1 500 Some(250.0) 0.0");
        assert_eq!(events[5], "attempt r1 B #0 ok Some(1000.0) 0.25");
        // The outcome: B, 3 calls, fell back and retried, span 1.0 → 4.0 s.
        assert!(events[6].contains("model: \"B\""), "{}", events[6]);
        assert!(
            events[6].contains("attempts: 3, flags: 3,"),
            "{}",
            events[6]
        );
        assert!(events[6].contains("latency_ms: 3000.0"), "{}", events[6]);
        assert!(events[6].contains("cost_usd: 0.25"), "{}", events[6]);
        // Gaps: 3000 − (500 + 250 + 1000) = 1250 ms between calls.
        assert_eq!(f.gaps_ms, vec![1250.0]);
        assert_eq!(f.statuses.get("ok"), Some(&2));
        // Any other file order gives the same events.
        for perm in [[3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1]] {
            let shuffled: Vec<Attempt> = perm.iter().map(|&i| list[i].clone()).collect();
            let (e, _) = emit(&shuffled);
            let skip_order = |v: &[String]| {
                let mut v = v.to_vec();
                v.sort();
                v
            };
            assert_eq!(skip_order(&e), skip_order(&events), "{perm:?}");
        }
    }

    #[test]
    fn a_second_row_of_a_one_row_format_is_a_duplicate() {
        let mut log = LogBuilder::new(TextStore::Memory(Vec::new()), 1.0);
        log.one_row_per_request = true;
        let at = |n| Place {
            n,
            container: Container::Csv,
        };
        let a = attempt("x", "A", 0.0, 1.0, Status::OK, 0.0);
        assert!(log.add(a.clone(), 0, at(1)).unwrap().is_none());
        let d = log.add(a, 0, at(7)).unwrap().expect("a duplicate");
        assert_eq!((d.key.as_str(), d.first), ("x", (0, 1)));
    }

    #[test]
    fn texts_spilled_to_a_file_read_back() {
        let dir = std::env::temp_dir().join(format!("routesim-spill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.spill");
        let mut t = TextStore::spill(&path).unwrap();
        let a = t.put(Some("héllo")).unwrap();
        let b = t.put(None).unwrap();
        let c = t.put(Some("")).unwrap();
        t.seal().unwrap();
        assert_eq!(t.get(a).unwrap().as_deref(), Some("héllo"));
        assert_eq!(t.get(b).unwrap(), None);
        assert_eq!(t.get(c).unwrap().as_deref(), Some(""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
