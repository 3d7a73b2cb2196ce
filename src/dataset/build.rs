//! Assembling a [`Dataset`] from rows: interning, duplicate checks, token estimation,
//! latency modelling, and packing responses into the dense matrix.

use super::request_table::{IdIndex, RequestTable};
use super::tokens::estimate_tokens;
use super::{Dataset, DatasetInfo, ModelId, Requests, Sample, SourceFile, TextColumn, flags};
use crate::error::{Diagnostic, Diagnostics};
use std::collections::HashMap;

/// A metadata value as read.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Text.
    Str(super::records::MetaKey),
    /// Number.
    Num(f64),
}

/// A request as read, before packing.
#[derive(Debug, Clone, Default)]
pub struct RequestRow {
    /// Unique id.
    pub id: String,
    /// Arrival time (epoch ms).
    pub ts_ms: Option<i64>,
    /// Prompt text.
    pub input: Option<String>,
    /// User turns in the prompt.
    pub turns: Option<u16>,
    /// Recorded prompt tokens.
    pub input_tokens: Option<u32>,
    /// Reference answer.
    pub reference: Option<String>,
    /// Metadata, by key.
    pub meta: Vec<(super::records::MetaKey, MetaValue)>,
}

/// A response as read, before packing.
#[derive(Debug, Clone)]
pub struct ResponseRow {
    /// Request id.
    pub request_id: std::sync::Arc<str>,
    /// Model name.
    pub model: std::sync::Arc<str>,
    /// Explicit sample number (0-based), or `None` for order of appearance.
    pub sample: Option<u32>,
    /// The request's index when the reader already looked it up (in the index lent
    /// by [`DatasetBuilder::take_request_index`]); `None`: look it up by id.
    pub index: Option<u32>,
    /// What was recorded, and where.
    pub recorded: Recorded,
}

/// The recorded part of a response: kept as read until the dataset is packed.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Recorded fields; missing token counts are 0 with `has_*` false.
    pub sample_data: Sample,
    /// Whether input tokens were recorded.
    pub has_input_tokens: bool,
    /// Whether output tokens were recorded.
    pub has_output_tokens: bool,
    /// Whether latency was recorded.
    pub has_latency: bool,
    /// Output text.
    pub output: Option<String>,
    /// The model that answered, as recorded (kept when it differs from the cell's).
    pub served_model: Option<String>,
    /// Where it was read from (file, row), for duplicate messages.
    pub origin: Origin,
}

/// Where a row was read from: the file name as shown (shared, not copied per row) and
/// the 1-based row number.
pub type Origin = (std::sync::Arc<str>, usize);

/// The pending flags of a recorded sample: what it did not record.
fn pending_flags(r: &Recorded) -> u8 {
    let mut f = 0;
    if !r.has_input_tokens {
        f |= PENDING_INPUT;
    }
    if !r.has_output_tokens {
        f |= PENDING_OUTPUT;
    }
    if !r.has_latency {
        f |= PENDING_LATENCY;
    }
    f
}

/// Latency model for datasets that record none (e.g. Arena answers): a time to first
/// token of 400 ms plus 20 ms per output token (50 tokens/s). Documented in the README;
/// every sample that uses it carries [`flags::MODELLED_LATENCY`].
pub fn modelled_latency_ms(output_tokens: u32) -> (f32, f32) {
    let ttft = 400.0f32;
    (ttft + 20.0 * output_tokens as f32, ttft)
}

impl Recorded {
    /// A recorded sample whose token counts and latency may be absent: present values
    /// are written into `s`, and the `has_*` flags say which were.
    pub fn measured(
        mut s: Sample,
        input_tokens: Option<u32>,
        output_tokens: Option<u32>,
        latency_ms: Option<f64>,
        output: Option<String>,
        origin: Origin,
    ) -> Recorded {
        if let Some(t) = input_tokens {
            s.input_tokens = t;
        }
        if let Some(t) = output_tokens {
            s.output_tokens = t;
        }
        if let Some(l) = latency_ms {
            s.latency_ms = l as f32;
        }
        Recorded {
            sample_data: s,
            has_input_tokens: input_tokens.is_some(),
            has_output_tokens: output_tokens.is_some(),
            has_latency: latency_ms.is_some(),
            output,
            served_model: None,
            origin,
        }
    }
}

/// A response after its request and model are resolved: no per-row names kept.
#[derive(Debug)]
struct Packed {
    req: u32,
    model: ModelId,
    sample: Option<u32>,
    rec: Recorded,
}

/// Sample flags kept only while building: a value the file did not record, to be
/// estimated (tokens) or modelled (latency) when the dataset is packed.
const PENDING_INPUT: u8 = 16;
const PENDING_OUTPUT: u8 = 32;
const PENDING_LATENCY: u8 = 64;

/// Responses of declared requests placed straight into the model-major matrix as they
/// arrive (the usual case: one sample per cell, in any order) — no buffer of rows, no
/// sort. Whatever does not fit (a second sample, an explicit sample number other than
/// 0) goes to the builder's list of other responses, merged when packing.
#[derive(Debug, Default)]
struct Placed {
    /// Requests per model column.
    n: usize,
    /// First samples, model-major (`model * n + request`).
    cells: Vec<Sample>,
    /// Row and file index of each placed sample (for duplicate messages).
    origin_row: Vec<u32>,
    origin_file: Vec<u16>,
    /// Cells whose placed sample was numbered 0 explicitly.
    explicit_zero: Vec<u64>,
    /// Output text of placed samples.
    outputs: Vec<(u32, String)>,
}

impl Placed {
    fn ensure_models(&mut self, n_models: usize) {
        let want = n_models * self.n;
        if self.cells.len() < want {
            self.cells.resize(want, Sample::MISSING);
            self.origin_row.resize(want, 0);
            self.origin_file.resize(want, 0);
            self.explicit_zero.resize(want.div_ceil(64), 0);
        }
    }
}

/// Collects requests and responses, then packs them.
#[derive(Debug, Default)]
pub struct DatasetBuilder {
    /// Request ids and their positions.
    ids: IdIndex,
    /// The other request columns.
    table: RequestTable,
    /// Where each request was declared: (index into `files`, row).
    req_origin: Vec<(u16, u32)>,
    models: Vec<String>,
    model_index: HashMap<String, ModelId, crate::util::hash::FnvBuild>,
    served_models: Vec<String>,
    served_index: HashMap<String, u16>,
    responses: Vec<Packed>,
    placed: Option<Placed>,
    /// Files responses came from (a placed sample keeps an index into it).
    files: Vec<std::sync::Arc<str>>,
    /// Input tokens recorded by a response, per request (for requests without any).
    resp_input_tokens: Vec<Option<u32>>,
    judged: HashMap<(u32, ModelId, u32), f64>,
    /// The request and model of the previous response (a cache before the hash maps).
    last_req: u32,
    last_model: ModelId,
    /// Logged outcomes by request (gateway logs): (row, model id, served code).
    logged: Vec<Option<(super::logged::LoggedRow, ModelId, ModelId, u16)>>,
    /// Descriptive information.
    pub info: DatasetInfo,
    /// Files read.
    pub sources: Vec<SourceFile>,
    /// Files of `sources` whose hash is still to be taken (index, path): hashed while
    /// the dataset is packed.
    pub unhashed: Vec<(usize, std::path::PathBuf)>,
    /// Pricing files named by the dataset.
    pub pricing_files: Vec<std::path::PathBuf>,
    /// Whether responses may introduce requests not declared before.
    pub implicit_requests: bool,
}

impl DatasetBuilder {
    /// An empty builder. With `implicit_requests`, a response for an unknown request id
    /// creates the request; otherwise it is an error.
    pub fn new(implicit_requests: bool) -> Self {
        Self {
            implicit_requests,
            ..Default::default()
        }
    }

    /// Number of requests so far.
    pub fn n_requests(&self) -> usize {
        self.table.len()
    }

    /// Whether a request id is known.
    pub fn has_request(&self, id: &str) -> bool {
        self.ids.get(id).is_some()
    }

    /// The index of a file rows come from (files are few: a short scan).
    fn file_index(&mut self, f: &std::sync::Arc<str>) -> u16 {
        match self
            .files
            .iter()
            .rposition(|g| std::sync::Arc::ptr_eq(g, f) || g == f)
        {
            Some(i) => i as u16,
            None => {
                self.files.push(f.clone());
                (self.files.len() - 1) as u16
            }
        }
    }

    /// Store a request's columns and origin (its id is already in `ids`).
    fn push_request(&mut self, row: RequestRow, origin: &Origin) {
        let file = self.file_index(&origin.0);
        self.req_origin.push((file, origin.1 as u32));
        self.table.push(row);
    }

    /// Declare a request; a duplicate id is a diagnostic at `origin`.
    pub fn add_request(&mut self, mut row: RequestRow, origin: Origin, diags: &mut Diagnostics) {
        if let Some(i) = self.ids.get(&row.id) {
            let (f, r) = self.req_origin[i as usize];
            let f = &self.files[f as usize];
            diags.push(Diagnostic::row(
                &*origin.0,
                origin.1,
                format!(
                    "duplicate request id \"{}\" (first defined in {f}, row {r}); request ids must be unique",
                    row.id
                ),
            ));
            return;
        }
        // Placed samples are laid out for the requests known then: a new request
        // moves them back to the general list.
        if let Some(p) = self.placed.take() {
            self.unplace(p);
        }
        let _ = self.ids.insert(std::mem::take(&mut row.id));
        self.push_request(row, &origin);
    }

    /// Move placed samples back to the list of other responses.
    fn unplace(&mut self, mut p: Placed) {
        let mut outputs: HashMap<u32, String> = p.outputs.drain(..).collect();
        for (idx, s) in p.cells.iter().enumerate() {
            if !s.is_present() {
                continue;
            }
            let explicit = p.explicit_zero[idx >> 6] >> (idx & 63) & 1 == 1;
            let mut sample_data = *s;
            sample_data.flags &= !(PENDING_INPUT | PENDING_OUTPUT | PENDING_LATENCY);
            self.responses.push(Packed {
                req: (idx % p.n) as u32,
                model: (idx / p.n) as ModelId,
                sample: explicit.then_some(0),
                rec: Recorded {
                    sample_data,
                    has_input_tokens: s.flags & PENDING_INPUT == 0,
                    has_output_tokens: s.flags & PENDING_OUTPUT == 0,
                    has_latency: s.flags & PENDING_LATENCY == 0,
                    output: outputs.remove(&(idx as u32)),
                    served_model: None,
                    origin: (
                        self.files[p.origin_file[idx] as usize].clone(),
                        p.origin_row[idx] as usize,
                    ),
                },
            });
        }
    }

    /// Quality from an LLM judge for a recorded sample whose own quality is missing
    /// (later verdicts replace earlier ones; unknown cells are ignored).
    pub fn set_judged_quality(&mut self, request_id: &str, model: &str, sample: u32, q: f64) {
        if let (Some(r), Some(&m)) = (self.ids.get(request_id), self.model_index.get(model)) {
            self.judged.insert((r, m, sample), q);
        }
    }

    /// The `input_tokens` a request gives itself (its own row), if any.
    pub fn given_input_tokens(&self, id: &str) -> Option<u32> {
        self.ids
            .get(id)
            .and_then(|i| self.table.input_tokens[i as usize])
    }

    /// Register a model name (responses register their models automatically).
    pub fn add_model(&mut self, name: &str) -> ModelId {
        let last = self.last_model as usize;
        if last < self.models.len() && self.models[last] == name {
            return self.last_model;
        }
        if let Some(&m) = self.model_index.get(name) {
            self.last_model = m;
            return m;
        }
        let id = self.models.len() as ModelId;
        self.models.push(name.to_string());
        self.model_index.insert(name.to_string(), id);
        id
    }

    /// The logged outcome of request `id` (a gateway log's: what production did).
    /// Returns `false` when no such request was declared.
    pub fn set_logged(&mut self, id: &str, row: super::logged::LoggedRow) -> bool {
        let Some(i) = self.ids.get(id) else {
            return false;
        };
        let model = self.add_model(&row.model);
        let picked = match &row.picked {
            Some(p) => self.add_model(p),
            None => model,
        };
        let served = match &row.served {
            Some(s)
                if *s != row.model && self.served_models.len() < Sample::SAME_MODEL as usize =>
            {
                let next = self.served_models.len() as u16;
                *self.served_index.entry(s.clone()).or_insert_with(|| {
                    self.served_models.push(s.clone());
                    next
                })
            }
            _ => Sample::SAME_MODEL,
        };
        let i = i as usize;
        if self.logged.len() <= i {
            self.logged.resize(i + 1, None);
        }
        self.logged[i] = Some((row, model, picked, served));
        true
    }

    /// Lend the index of declared requests (id → position) to readers that look rows
    /// up in parallel; give it back with [`DatasetBuilder::restore_request_index`]
    /// before adding requests.
    pub fn take_request_index(&mut self) -> IdIndex {
        std::mem::take(&mut self.ids)
    }

    /// Return the index lent by [`DatasetBuilder::take_request_index`].
    pub fn restore_request_index(&mut self, index: IdIndex) {
        self.ids = index;
    }

    /// Add a response. With implicit requests, `request` supplies the request-level
    /// fields the first time an id is seen.
    pub fn add_response(
        &mut self,
        resp: ResponseRow,
        request: Option<RequestRow>,
        diags: &mut Diagnostics,
    ) {
        // Responses usually come grouped by request: try the previous one first.
        let last = self.last_req as usize;
        let cached = (resp.index.is_none()
            && last < self.ids.len()
            && *self.ids.ids[last] == *resp.request_id)
            .then_some(self.last_req);
        let req = match resp
            .index
            .or(cached)
            .or_else(|| self.ids.get(&resp.request_id))
        {
            Some(i) => i,
            None if self.implicit_requests => {
                let row = request.unwrap_or_default();
                let i = match self.ids.insert(resp.request_id.to_string()) {
                    Ok(i) | Err(i) => i,
                };
                self.push_request(row, &resp.recorded.origin);
                i
            }
            None => {
                diags.push(Diagnostic::cell(
                    &*resp.recorded.origin.0,
                    resp.recorded.origin.1,
                    "request_id",
                    format!(
                        "request id \"{}\" is not in the requests file",
                        resp.request_id
                    ),
                ));
                return;
            }
        };
        if self.models.len() >= u16::MAX as usize - 1
            && !self.model_index.contains_key(&*resp.model)
        {
            diags.push(Diagnostic::row(
                &*resp.recorded.origin.0,
                resp.recorded.origin.1,
                "too many distinct models (at most 65,534)",
            ));
            return;
        }
        let model = self.add_model(&resp.model);
        self.last_req = req;
        let mut rec = resp.recorded;
        if rec.has_input_tokens {
            if self.resp_input_tokens.len() <= req as usize {
                self.resp_input_tokens.resize(req as usize + 1, None);
            }
            let slot = &mut self.resp_input_tokens[req as usize];
            if slot.is_none() {
                *slot = Some(rec.sample_data.input_tokens);
            }
        }
        if let Some(served) = rec.served_model.take()
            && *served != *resp.model
            && self.served_models.len() < Sample::SAME_MODEL as usize
        {
            let next = self.served_models.len() as u16;
            let code = *self.served_index.entry(served.clone()).or_insert_with(|| {
                self.served_models.push(served);
                next
            });
            rec.sample_data.served = code;
        }
        if !self.implicit_requests && matches!(resp.sample, None | Some(0)) {
            let n = self.table.len();
            let placed = self.placed.get_or_insert_with(|| Placed {
                n,
                ..Placed::default()
            });
            placed.ensure_models(self.models.len());
            let idx = model as usize * placed.n + req as usize;
            if !placed.cells[idx].is_present() {
                let file =
                    match self.files.iter().rposition(|f| {
                        std::sync::Arc::ptr_eq(f, &rec.origin.0) || *f == rec.origin.0
                    }) {
                        Some(i) => i,
                        None => {
                            self.files.push(rec.origin.0.clone());
                            self.files.len() - 1
                        }
                    };
                let mut s = rec.sample_data;
                s.flags |= pending_flags(&rec);
                placed.cells[idx] = s;
                placed.origin_row[idx] = rec.origin.1 as u32;
                placed.origin_file[idx] = file as u16;
                if resp.sample == Some(0) {
                    placed.explicit_zero[idx >> 6] |= 1 << (idx & 63);
                }
                if let Some(o) = rec.output {
                    placed.outputs.push((idx as u32, o));
                }
                return;
            }
        }
        self.responses.push(Packed {
            req,
            model,
            sample: resp.sample,
            rec,
        });
    }

    /// Pack everything into a [`Dataset`]; duplicate responses are diagnostics.
    pub fn build(mut self, diags: &mut Diagnostics) -> Dataset {
        let clock = crate::util::timing::Timings::start(3);
        let n_req = self.table.len();
        let n_models = self.models.len();

        // Requests: the columns read, plus prompt lengths and token counts.
        let mut table = std::mem::take(&mut self.table);
        let meta = table.take_meta();
        let reference = table.reference.take();
        let RequestTable {
            ts_ms,
            input,
            turns,
            input_tokens: given_tokens,
            ..
        } = table;
        let mut requests = Requests {
            ids: std::mem::take(&mut self.ids.ids),
            ts_ms,
            input_chars: Vec::with_capacity(n_req),
            input_tokens: Vec::with_capacity(n_req),
            input_tokens_estimated: Vec::with_capacity(n_req),
            turns,
            input,
            reference: None,
            meta: Vec::new(),
        };
        // Input tokens from responses, for requests without recorded or estimable ones.
        let mut resp_input_tokens = std::mem::take(&mut self.resp_input_tokens);
        resp_input_tokens.resize(n_req, None);

        let mut n_estimated = 0usize;
        let mut n_no_tokens = 0usize;
        for i in 0..n_req {
            let text = requests.input.get(i);
            requests.input_chars.push(text.chars().count() as u32);
            let (tokens, est) = match (given_tokens[i], resp_input_tokens[i]) {
                (Some(t), _) => (t, false),
                (None, Some(t)) => (t, false),
                (None, None) if !text.is_empty() => {
                    n_estimated += 1;
                    (estimate_tokens(text), true)
                }
                (None, None) => {
                    n_no_tokens += 1;
                    (0, true)
                }
            };
            requests.input_tokens.push(tokens);
            requests.input_tokens_estimated.push(est);
        }
        requests.reference = reference;
        requests.meta = meta;
        if n_estimated > 0 {
            self.info.warnings.push(format!(
                "input tokens estimated from text (ceil(chars/4)) for {n_estimated} of {n_req} requests"
            ));
        }
        if n_no_tokens > 0 {
            self.info.warnings.push(format!(
                "{n_no_tokens} requests have neither input text nor input token counts; their input tokens are 0"
            ));
        }

        clock.lap("requests");
        // Responses: the placed first samples, then the others merged cell by cell
        // (explicit sample numbers first, in order, then the rest in order of appearance).
        let mut placed = self.placed.take().unwrap_or_default();
        if placed.n != n_req && !placed.cells.is_empty() {
            self.unplace(placed);
            placed = Placed::default();
        }
        placed.n = n_req;
        placed.ensure_models(n_models);
        let Placed {
            mut cells,
            origin_row,
            origin_file,
            explicit_zero,
            outputs: placed_outputs,
            ..
        } = placed;
        let any_output =
            !placed_outputs.is_empty() || self.responses.iter().any(|r| r.rec.output.is_some());
        let mut outputs: Vec<Option<String>> = if any_output {
            vec![None; n_req * n_models]
        } else {
            Vec::new()
        };
        for (idx, o) in placed_outputs {
            outputs[idx as usize] = Some(o);
        }
        self.responses
            .sort_by_key(|r| (r.req, r.model, r.sample.unwrap_or(u32::MAX)));
        // One slot more: it becomes the offsets (see below).
        let mut extra_count = Vec::with_capacity(n_req * n_models + 1);
        extra_count.resize(n_req * n_models, 0u32);
        let mut extra_rows: Vec<(usize, Sample)> = Vec::new();
        let mut extra_outputs: Vec<Option<String>> = Vec::new();
        let mut k = 0;
        let others = std::mem::take(&mut self.responses);
        while k < others.len() {
            let (req, m) = (others[k].req, others[k].model);
            let mut end = k + 1;
            while end < others.len() && others[end].req == req && others[end].model == m {
                end += 1;
            }
            let idx = m as usize * n_req + req as usize;
            // The cell's responses in order: (explicit sample, sample, output, origin).
            let mut list: Vec<(Option<u32>, Sample, Option<String>, Origin)> = Vec::new();
            if cells[idx].is_present() {
                let explicit = explicit_zero[idx >> 6] >> (idx & 63) & 1 == 1;
                list.push((
                    explicit.then_some(0),
                    cells[idx],
                    if any_output {
                        outputs[idx].take()
                    } else {
                        None
                    },
                    (
                        self.files[origin_file[idx] as usize].clone(),
                        origin_row[idx] as usize,
                    ),
                ));
            }
            for p in &others[k..end] {
                let mut s = p.rec.sample_data;
                s.flags |= pending_flags(&p.rec);
                list.push((p.sample, s, p.rec.output.clone(), p.rec.origin.clone()));
            }
            // Stable: explicit numbers ascending, then unnumbered in appearance order.
            list.sort_by_key(|e| e.0.unwrap_or(u32::MAX));
            let mut kept: Vec<(Option<u32>, Sample, Option<String>, Origin)> = Vec::new();
            for e in list {
                if let (Some(n), Some(prev)) = (e.0, kept.last())
                    && prev.0 == Some(n)
                {
                    let (f, row) = &prev.3;
                    diags.push(Diagnostic::row(
                        &*e.3.0,
                        e.3.1,
                        format!(
                            "duplicate response for request \"{}\", model \"{}\", sample {n} (first in {f}, row {row})",
                            requests.ids[req as usize], self.models[m as usize]
                        ),
                    ));
                    continue;
                }
                kept.push(e);
            }
            let mut it = kept.into_iter();
            if let Some((_, s, o, _)) = it.next() {
                cells[idx] = s;
                if any_output {
                    outputs[idx] = o;
                }
            }
            for (_, s, o, _) in it {
                extra_count[idx] += 1;
                extra_rows.push((idx, s));
                extra_outputs.push(o);
            }
            k = end;
        }
        // Memory: what only the merge needed goes before the finish (10M requests ×
        // 8 models: ~0.5 GB of origins, plus the unplaced responses).
        drop(others);
        drop(origin_row);
        drop(origin_file);
        clock.lap("merge");

        // Fill in what was not recorded: tokens from text, modelled latency.
        let judged = std::mem::take(&mut self.judged);
        let (mut n_est_out, mut n_modelled) = (0usize, 0usize);
        let mut finish = |s: &mut Sample, req: usize, output: Option<&str>| {
            if s.flags & PENDING_INPUT != 0 {
                s.input_tokens = requests.input_tokens[req];
                if requests.input_tokens_estimated[req] {
                    s.flags |= flags::EST_INPUT_TOKENS;
                }
            }
            if s.flags & PENDING_OUTPUT != 0
                && let Some(out) = output
            {
                s.output_tokens = estimate_tokens(out);
                s.flags |= flags::EST_OUTPUT_TOKENS;
                n_est_out += 1;
            }
            if s.flags & PENDING_LATENCY != 0 && s.status.is_ok() {
                let (lat, ttft) = modelled_latency_ms(s.output_tokens);
                s.latency_ms = lat;
                s.ttft_ms = ttft;
                s.flags |= flags::MODELLED_LATENCY;
                n_modelled += 1;
            }
            s.flags &= !(PENDING_INPUT | PENDING_OUTPUT | PENDING_LATENCY);
        };
        for (idx, s) in cells.iter_mut().enumerate() {
            if !s.is_present() {
                continue;
            }
            let (m, req) = (idx / n_req.max(1), idx % n_req.max(1));
            if s.quality.is_nan()
                && let Some(&q) = judged.get(&(req as u32, m as ModelId, 0))
            {
                s.quality = q;
            }
            let out = if any_output {
                outputs[idx].as_deref()
            } else {
                None
            };
            finish(s, req, out);
        }
        // Extra samples are in cell order after a stable sort by cell.
        let mut order: Vec<usize> = (0..extra_rows.len()).collect();
        order.sort_by_key(|&i| extra_rows[i].0);
        let mut next_sample: HashMap<usize, u32> = HashMap::new();
        for &i in &order {
            let (idx, ref mut s) = extra_rows[i];
            let (m, req) = (idx / n_req.max(1), idx % n_req.max(1));
            let k = next_sample.entry(idx).or_insert(1);
            if s.quality.is_nan()
                && let Some(&q) = judged.get(&(req as u32, m as ModelId, *k))
            {
                s.quality = q;
            }
            *k += 1;
            finish(s, req, extra_outputs[i].as_deref());
        }
        if n_est_out > 0 {
            self.info.warnings.push(format!(
                "output tokens estimated from output text (ceil(chars/4)) for {n_est_out} responses"
            ));
        }
        if n_modelled > 0 {
            self.info.warnings.push(format!(
                "latency not recorded for {n_modelled} successful responses: modelled as 400 ms + 20 ms per output token"
            ));
        }

        let (extra_offsets, extra) = if extra_rows.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            // The counts become the offsets in place (no second per-cell vector):
            // offsets[i] = extra samples of the cells before i, then the total.
            let mut offsets = extra_count;
            let mut acc = 0u32;
            for c in offsets.iter_mut() {
                let n = *c;
                *c = acc;
                acc += n;
            }
            offsets.push(acc);
            // Cell order is model-major; the stable sort keeps sample order per cell.
            extra_rows.sort_by_key(|(i, _)| *i);
            (offsets, extra_rows.into_iter().map(|(_, s)| s).collect())
        };
        let outputs = any_output.then(|| {
            let mut col = TextColumn::new();
            for o in &outputs {
                col.push(o.as_deref().unwrap_or(""));
            }
            col
        });

        let logged = (!self.logged.is_empty()).then(|| {
            let mut l = super::logged::Logged::default();
            let none = super::logged::LoggedRow::missing();
            for i in 0..n_req {
                match self.logged.get(i).and_then(|x| x.as_ref()) {
                    Some((row, m, p, s)) => l.push(row, *m, *p, *s),
                    None => l.push(
                        &none,
                        super::logged::NO_MODEL,
                        super::logged::NO_MODEL,
                        Sample::SAME_MODEL,
                    ),
                }
            }
            l
        });
        clock.lap("finish");
        let mut info = self.info;
        if info.name.is_empty() {
            info.name = "dataset".into();
        }
        Dataset {
            info,
            requests,
            models: self.models,
            cells,
            extra_offsets,
            extra,
            outputs,
            served_models: self.served_models,
            sources: self.sources,
            pricing_files: self.pricing_files,
            shard: None,
            logged,
        }
    }
}

/// Build a dataset directly from a row-major `[request][model]` matrix of samples
/// (tests, small fixtures).
pub fn from_matrix(
    info: DatasetInfo,
    requests: Requests,
    models: Vec<String>,
    cells: Vec<Sample>,
) -> Dataset {
    let (n, m) = (requests.len(), models.len());
    assert_eq!(cells.len(), n * m, "one sample per request and model");
    let major = (0..m)
        .flat_map(|j| (0..n).map(move |r| (r, j)))
        .map(|(r, j)| cells[r * m + j])
        .collect();
    from_model_major(info, requests, models, major)
}

/// Build a dataset from a model-major `[model][request]` matrix (synthetic data).
pub fn from_model_major(
    info: DatasetInfo,
    requests: Requests,
    models: Vec<String>,
    cells: Vec<Sample>,
) -> Dataset {
    assert_eq!(
        cells.len(),
        requests.len() * models.len(),
        "one sample per request and model"
    );
    Dataset {
        info,
        requests,
        models,
        cells,
        extra_offsets: Vec::new(),
        extra: Vec::new(),
        outputs: None,
        served_models: Vec::new(),
        sources: Vec::new(),
        pricing_files: Vec::new(),
        shard: None,
        logged: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(req: &str, model: &str, sample: Option<u32>, q: f64, row: usize) -> ResponseRow {
        ResponseRow {
            request_id: req.into(),
            model: model.into(),
            sample,
            index: None,
            recorded: Recorded {
                sample_data: Sample {
                    latency_ms: 100.0,
                    ..Sample::ok(10, 5, 100.0, q)
                },
                has_input_tokens: true,
                has_output_tokens: true,
                has_latency: true,
                served_model: None,
                output: None,
                origin: ("r.csv".into(), row),
            },
        }
    }

    #[test]
    fn packs_cells_and_samples_in_order() {
        let mut d = Diagnostics::new();
        let mut b = DatasetBuilder::new(true);
        b.add_response(resp("a", "m1", None, 0.1, 1), None, &mut d);
        b.add_response(resp("a", "m2", Some(1), 0.3, 2), None, &mut d);
        b.add_response(resp("a", "m2", Some(0), 0.2, 3), None, &mut d);
        b.add_response(resp("b", "m1", None, 0.4, 4), None, &mut d);
        let ds = b.build(&mut d);
        assert!(d.is_empty());
        assert_eq!(ds.models, vec!["m1", "m2"]);
        assert_eq!(ds.n_requests(), 2);
        assert_eq!(ds.cell(0, 1).quality, 0.2);
        assert_eq!(ds.sample(0, 1, 1).quality, 0.3);
        assert_eq!(
            ds.sample(0, 1, 5).quality,
            0.3,
            "later tries repeat the last sample"
        );
        assert_eq!(ds.n_samples(0, 1), 2);
        assert_eq!(ds.n_samples(1, 1), 0);
        assert!(!ds.cell(1, 1).is_present());
        assert_eq!(ds.sample(1, 0, 3).quality, 0.4);
    }

    #[test]
    fn duplicate_ids_and_samples_are_reported_with_rows() {
        let mut d = Diagnostics::new();
        let mut b = DatasetBuilder::new(false);
        let r = RequestRow {
            id: "x".into(),
            ..Default::default()
        };
        b.add_request(r.clone(), ("q.csv".into(), 1), &mut d);
        b.add_request(r, ("q.csv".into(), 7), &mut d);
        b.add_response(resp("x", "m", Some(0), 0.5, 2), None, &mut d);
        b.add_response(resp("x", "m", Some(0), 0.5, 3), None, &mut d);
        b.add_response(resp("nope", "m", None, 0.5, 4), None, &mut d);
        let _ = b.build(&mut d);
        let msgs: Vec<String> = d.into_vec().iter().map(|x| x.to_string()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("q.csv: row 7: duplicate request id \"x\"")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("r.csv: row 3: duplicate response for request \"x\", model \"m\", sample 0 (first in r.csv, row 2)")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("row 4, column \"request_id\"")),
            "{msgs:?}"
        );
    }
}
