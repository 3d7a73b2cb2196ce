//! Assembling a [`Dataset`] from rows: interning, duplicate checks, token estimation,
//! latency modelling, and packing responses into the dense matrix.

use super::records::fmt_num;
use super::tokens::estimate_tokens;
use super::{
    Dataset, DatasetInfo, MetaColumn, ModelId, Requests, Sample, SourceFile, TextColumn, flags,
};
use crate::error::{Diagnostic, Diagnostics};
use std::collections::HashMap;

/// A metadata value as read.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Text.
    Str(String),
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
    pub meta: Vec<(String, MetaValue)>,
}

/// A response as read, before packing.
#[derive(Debug, Clone)]
pub struct ResponseRow {
    /// Request id.
    pub request_id: String,
    /// Model name.
    pub model: String,
    /// Explicit sample number (0-based), or `None` for order of appearance.
    pub sample: Option<u32>,
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

/// Collects requests and responses, then packs them.
#[derive(Debug, Default)]
pub struct DatasetBuilder {
    requests: Vec<RequestRow>,
    req_index: HashMap<String, u32>,
    req_origin: Vec<Origin>,
    models: Vec<String>,
    model_index: HashMap<String, ModelId>,
    served_models: Vec<String>,
    served_index: HashMap<String, u16>,
    responses: Vec<Packed>,
    judged: HashMap<(u32, ModelId, u32), f64>,
    /// The request and model of the previous response (a cache before the hash maps).
    last_req: u32,
    last_model: ModelId,
    /// Descriptive information.
    pub info: DatasetInfo,
    /// Files read.
    pub sources: Vec<SourceFile>,
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
        self.requests.len()
    }

    /// Whether a request id is known.
    pub fn has_request(&self, id: &str) -> bool {
        self.req_index.contains_key(id)
    }

    /// Declare a request; a duplicate id is a diagnostic at `origin`.
    pub fn add_request(&mut self, row: RequestRow, origin: Origin, diags: &mut Diagnostics) {
        if let Some(&i) = self.req_index.get(&row.id) {
            let (f, r) = &self.req_origin[i as usize];
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
        self.req_index
            .insert(row.id.clone(), self.requests.len() as u32);
        self.requests.push(row);
        self.req_origin.push(origin);
    }

    /// Quality from an LLM judge for a recorded sample whose own quality is missing
    /// (later verdicts replace earlier ones; unknown cells are ignored).
    pub fn set_judged_quality(&mut self, request_id: &str, model: &str, sample: u32, q: f64) {
        if let (Some(&r), Some(&m)) = (self.req_index.get(request_id), self.model_index.get(model))
        {
            self.judged.insert((r, m, sample), q);
        }
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
        let cached = (last < self.requests.len() && self.requests[last].id == resp.request_id)
            .then_some(self.last_req);
        let req = match cached.or_else(|| self.req_index.get(&resp.request_id).copied()) {
            Some(i) => i,
            None if self.implicit_requests => {
                let row = request.unwrap_or_else(|| RequestRow {
                    id: resp.request_id.clone(),
                    ..Default::default()
                });
                let i = self.requests.len() as u32;
                self.req_index.insert(resp.request_id.clone(), i);
                self.requests.push(row);
                self.req_origin.push(resp.recorded.origin.clone());
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
        if self.models.len() >= u16::MAX as usize - 1 && !self.model_index.contains_key(&resp.model)
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
        if let Some(served) = rec.served_model.take()
            && served != resp.model
            && self.served_models.len() < Sample::SAME_MODEL as usize
        {
            let next = self.served_models.len() as u16;
            let code = *self.served_index.entry(served.clone()).or_insert_with(|| {
                self.served_models.push(served);
                next
            });
            rec.sample_data.served = code;
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
        let n_req = self.requests.len();
        let n_models = self.models.len();

        // Requests.
        let mut requests = Requests {
            ids: Vec::with_capacity(n_req),
            ts_ms: Vec::with_capacity(n_req),
            input: TextColumn::new(),
            input_chars: Vec::with_capacity(n_req),
            input_tokens: Vec::with_capacity(n_req),
            input_tokens_estimated: Vec::with_capacity(n_req),
            turns: Vec::with_capacity(n_req),
            reference: None,
            meta: Vec::new(),
        };
        let any_reference = self.requests.iter().any(|r| r.reference.is_some());
        let mut reference = any_reference.then(TextColumn::new);
        let mut meta_keys: Vec<String> = Vec::new();
        let mut meta_pos: HashMap<String, usize> = HashMap::new();
        for r in &self.requests {
            for (k, _) in &r.meta {
                if !meta_pos.contains_key(k) {
                    meta_pos.insert(k.clone(), meta_keys.len());
                    meta_keys.push(k.clone());
                }
            }
        }
        let mut meta: Vec<MetaColumn> = meta_keys
            .iter()
            .map(|k| MetaColumn {
                name: k.clone(),
                codes: vec![MetaColumn::NONE; n_req],
                dict: Vec::new(),
                nums: vec![f64::NAN; n_req],
            })
            .collect();
        let mut dict_index: Vec<HashMap<String, u32>> = vec![HashMap::new(); meta.len()];

        // Input tokens from responses, for requests without recorded or estimable ones.
        let mut resp_input_tokens: Vec<Option<u32>> = vec![None; n_req];
        for r in &self.responses {
            if r.rec.has_input_tokens && resp_input_tokens[r.req as usize].is_none() {
                resp_input_tokens[r.req as usize] = Some(r.rec.sample_data.input_tokens);
            }
        }

        let mut n_estimated = 0usize;
        let mut n_no_tokens = 0usize;
        for (i, r) in self.requests.iter().enumerate() {
            requests.ids.push(r.id.clone());
            requests.ts_ms.push(r.ts_ms.unwrap_or(Requests::NO_TS));
            let text = r.input.as_deref().unwrap_or("");
            requests.input.push(text);
            requests.input_chars.push(text.chars().count() as u32);
            requests.turns.push(r.turns.unwrap_or(1));
            let (tokens, est) = match (r.input_tokens, resp_input_tokens[i]) {
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
            if let Some(refc) = reference.as_mut() {
                refc.push(r.reference.as_deref().unwrap_or(""));
            }
            for (k, v) in &r.meta {
                let col = meta_pos[k];
                let s = match v {
                    MetaValue::Str(s) => s.clone(),
                    MetaValue::Num(x) => fmt_num(*x),
                };
                let num = match v {
                    MetaValue::Num(x) => *x,
                    MetaValue::Str(s) => s.trim().parse::<f64>().unwrap_or(f64::NAN),
                };
                let di = &mut dict_index[col];
                let next = di.len() as u32;
                let code = *di.entry(s.clone()).or_insert(next);
                if code == next {
                    meta[col].dict.push(s);
                }
                meta[col].codes[i] = code;
                meta[col].nums[i] = if num.is_finite() { num } else { f64::NAN };
            }
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

        // Responses: order by cell, then explicit sample number, then appearance.
        self.responses
            .sort_by_key(|r| (r.req, r.model, r.sample.unwrap_or(u32::MAX)));
        let mut cells = vec![Sample::MISSING; n_req * n_models];
        let mut extra_count = vec![0u32; n_req * n_models];
        let mut extra_rows: Vec<(usize, Sample)> = Vec::new();
        let any_output = self.responses.iter().any(|r| r.rec.output.is_some());
        let mut outputs: Vec<Option<String>> = if any_output {
            vec![None; n_req * n_models]
        } else {
            Vec::new()
        };
        // Sorted (and the sort is stable), so a repeated explicit sample number is
        // adjacent to the first occurrence, which is the one kept.
        let mut last_explicit: Option<((u32, ModelId, u32), Origin)> = None;
        let (mut n_est_out, mut n_modelled) = (0usize, 0usize);
        for Packed {
            req,
            model: m,
            sample,
            rec: r,
        } in self.responses.drain(..)
        {
            if let Some(k) = sample {
                if let Some((key, (f, row))) = &last_explicit
                    && *key == (req, m, k)
                {
                    diags.push(Diagnostic::row(
                        &*r.origin.0,
                        r.origin.1,
                        format!(
                            "duplicate response for request \"{}\", model \"{}\", sample {k} (first in {f}, row {row})",
                            requests.ids[req as usize], self.models[m as usize]
                        ),
                    ));
                    continue;
                }
                last_explicit = Some(((req, m, k), r.origin.clone()));
            }
            let idx = m as usize * n_req + req as usize;
            let mut s = r.sample_data;
            if s.quality.is_nan()
                && let Some(k) = sample
                && let Some(&q) = self.judged.get(&(req, m, k))
            {
                s.quality = q;
            }
            if !r.has_input_tokens {
                s.input_tokens = requests.input_tokens[req as usize];
                if requests.input_tokens_estimated[req as usize] {
                    s.flags |= flags::EST_INPUT_TOKENS;
                }
            }
            if !r.has_output_tokens
                && let Some(out) = &r.output
            {
                s.output_tokens = estimate_tokens(out);
                s.flags |= flags::EST_OUTPUT_TOKENS;
                n_est_out += 1;
            }
            if !r.has_latency && s.status.is_ok() {
                let (lat, ttft) = modelled_latency_ms(s.output_tokens);
                s.latency_ms = lat;
                s.ttft_ms = ttft;
                s.flags |= flags::MODELLED_LATENCY;
                n_modelled += 1;
            }
            if !cells[idx].is_present() {
                cells[idx] = s;
                if any_output {
                    outputs[idx] = r.output;
                }
            } else {
                extra_count[idx] += 1;
                extra_rows.push((idx, s));
            }
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
            let mut offsets = Vec::with_capacity(cells.len() + 1);
            let mut acc = 0u32;
            offsets.push(0);
            for c in &extra_count {
                acc += c;
                offsets.push(acc);
            }
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
