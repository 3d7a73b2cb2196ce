//! `--missing impute`: a response for a cell the dataset lacks, drawn from the
//! model's recorded answers in the request's segment.
//!
//! Donors are the recorded first samples of a (model, segment) pair — the segment is
//! the request's value of the run's first `--by` key, or the whole dataset without
//! one. A pair with fewer than [`MIN_SUPPORT`] successful answers falls back to the
//! model's donors over the whole dataset (the *model pool*). An imputed call draws one
//! donor uniformly, deterministically from (run seed, model, request index):
//! - a failed donor makes the call fail with its status and latency, so imputed calls
//!   fail at the pool's observed error rate (context-length errors belong to the
//!   donor's own prompt and are no donors);
//! - a successful donor lends its latency, time to first token and output (and
//!   reasoning) tokens, so latency quantiles of imputed cells follow the pool's
//!   distribution and the cost of the tokens is the pool's on average (a median would
//!   under-price right-skewed lengths); input tokens are the request's own;
//! - the quality of an imputed answer is the pool's mean labelled quality (NaN when
//!   no donor is labelled).
//!
//! The draw depends on the cell, not on the attempt: like a recorded cell with one
//! sample, a retry of an imputed cell repeats it. The pools' sizes and quality spread
//! ([`ImputeModel`]) go into the report, whose intervals add the pools' estimation
//! error (`analysis::imputed`).
//!
//! Everything is precomputed per pool (donors sorted by latency); the engine indexes
//! into the arrays without allocating.

use crate::dataset::{Dataset, MetaColumn, ModelId, Sample, Status, flags as sflags};
use crate::util::rng::Rng;

/// Successful answers a (model, segment) pair needs to be its own pool.
pub const MIN_SUPPORT: u64 = 20;

/// The segment of requests without the key's value (as `segments.csv` names it).
pub const NO_SEGMENT: &str = "(none)";

/// Salt of the imputation draws' RNG stream (apart from the policies' streams).
const DRAW_SALT: u64 = 0x1A7E_D00D_5EED_0001;

/// What the report needs to know about one donor pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStats {
    /// Model (index into the dataset's models).
    pub model: ModelId,
    /// Segment value; `None` for the model pool (every request).
    pub segment: Option<String>,
    /// Donors: recorded answers and failures.
    pub n: u64,
    /// Successful donors.
    pub n_ok: u64,
    /// Successful donors with a quality label.
    pub n_labelled: u64,
    /// Mean labelled quality (the imputed answers' quality; NaN without labels).
    pub quality_mean: f64,
    /// Sample variance of the labelled qualities (NaN below two labels).
    pub quality_var: f64,
}

impl PoolStats {
    /// Failed donors / donors: the error rate of the pool's imputed calls.
    pub fn error_rate(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            (self.n - self.n_ok) as f64 / self.n as f64
        }
    }
}

/// The donor pools of a run: the segment key, and every pool's statistics (model
/// pools first, in model order, then segment pools by model and segment value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImputeModel {
    /// Segment key (`meta.x`), when the run has one.
    pub key: Option<String>,
    /// Minimum support of a segment pool.
    pub min_support: u64,
    /// Pools.
    pub pools: Vec<PoolStats>,
    /// (model, segment) pairs with donors but too few successes, which use the model pool.
    pub fallbacks: u64,
}

/// Which pool serves each (model, segment) pair, for the engine and the analysis alike.
#[derive(Debug, Clone, Default)]
pub struct PoolIndex {
    /// Index of the segment column in the requests' metadata.
    col: Option<usize>,
    /// Segment slots: the column's values, then "absent".
    n_slots: usize,
    /// Pool per (model, slot), `u32::MAX` for none.
    pool_of: Vec<u32>,
    /// The model pool of each model, `u32::MAX` for none.
    model_pool: Vec<u32>,
}

impl PoolIndex {
    /// The index of `model`'s pools over the requests' metadata `meta`: segment pools
    /// by value (values not in the column are ignored), else the model pool.
    pub fn new(model: &ImputeModel, n_models: usize, meta: &[MetaColumn]) -> PoolIndex {
        let key = model
            .key
            .as_deref()
            .map(|k| k.strip_prefix("meta.").unwrap_or(k));
        let col = key.and_then(|k| meta.iter().position(|m| m.name == k));
        let n_slots = col.map_or(1, |c| meta[c].dict.len() + 1);
        let mut pool_of = vec![u32::MAX; n_models * n_slots];
        let mut model_pool = vec![u32::MAX; n_models];
        for (i, p) in model.pools.iter().enumerate() {
            let m = p.model as usize;
            if m >= n_models {
                continue;
            }
            match (&p.segment, col) {
                (None, _) => {
                    model_pool[m] = i as u32;
                    for s in 0..n_slots {
                        if pool_of[m * n_slots + s] == u32::MAX {
                            pool_of[m * n_slots + s] = i as u32;
                        }
                    }
                }
                (Some(v), Some(c)) => {
                    let slot = if v == NO_SEGMENT {
                        Some(n_slots - 1)
                    } else {
                        meta[c].dict.iter().position(|d| d == v)
                    };
                    if let Some(s) = slot {
                        pool_of[m * n_slots + s] = i as u32;
                    }
                }
                (Some(_), None) => {}
            }
        }
        PoolIndex {
            col,
            n_slots,
            pool_of,
            model_pool,
        }
    }

    /// The pools request `r`'s recorded cell of model `m` is a donor of: the model
    /// pool, and the segment's own pool when it has one.
    pub fn donor_pools(&self, meta: &[MetaColumn], r: usize, m: ModelId) -> [Option<usize>; 2] {
        let whole = match self.model_pool.get(m as usize) {
            Some(&p) if p != u32::MAX => Some(p as usize),
            _ => None,
        };
        let seg = self.pool(meta, r, m).filter(|&p| Some(p) != whole);
        [whole, seg]
    }

    /// The pool that imputes request `r`'s cell of model `m`.
    #[inline]
    pub fn pool(&self, meta: &[MetaColumn], r: usize, m: ModelId) -> Option<usize> {
        let slot = match self.col {
            Some(c) => match meta[c].codes[r] {
                MetaColumn::NONE => self.n_slots - 1,
                code => code as usize,
            },
            None => 0,
        };
        match self.pool_of.get(m as usize * self.n_slots + slot) {
            Some(&p) if p != u32::MAX => Some(p as usize),
            _ => None,
        }
    }
}

/// A successful donor.
#[derive(Debug, Clone, Copy)]
struct Answer {
    latency_ms: f32,
    ttft_ms: f32,
    output_tokens: u32,
    reasoning_tokens: u32,
}

/// A failed donor.
#[derive(Debug, Clone, Copy)]
struct Failure {
    status: Status,
    latency_ms: f32,
    retry_after_ms: f32,
}

/// One pool's donors (answers sorted by latency).
#[derive(Debug, Clone, Default)]
struct Pool {
    answers: Vec<Answer>,
    failures: Vec<Failure>,
    quality: f64,
}

impl Pool {
    fn add(&mut self, s: &Sample) {
        if s.status.is_ok() {
            self.answers.push(Answer {
                latency_ms: s.latency_ms,
                ttft_ms: s.ttft_ms,
                output_tokens: s.output_tokens,
                reasoning_tokens: s.reasoning_tokens,
            });
        } else if s.status != Status::CONTEXT_LENGTH {
            self.failures.push(Failure {
                status: s.status,
                latency_ms: s.latency_ms,
                retry_after_ms: s.retry_after_ms,
            });
        }
    }

    fn n(&self) -> usize {
        self.answers.len() + self.failures.len()
    }
}

/// Running sums of a pool's labelled qualities.
#[derive(Debug, Clone, Copy, Default)]
struct QSums {
    n: u64,
    sum: f64,
    sum_sq: f64,
}

impl QSums {
    fn add(&mut self, q: f64) {
        if !q.is_nan() {
            self.n += 1;
            self.sum += q;
            self.sum_sq += q * q;
        }
    }

    fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum / self.n as f64
        }
    }

    fn var(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// The imputer of a run: the pools' donors and which pool serves each cell.
#[derive(Debug, Clone, Default)]
pub struct Imputer {
    pools: Vec<Pool>,
    index: PoolIndex,
    model: ImputeModel,
}

impl Imputer {
    /// Build the pools of `ds`, segmented by the metadata field `key` (`meta.x` or
    /// `x`) when given and present.
    pub fn new(ds: &Dataset, key: Option<&str>) -> Imputer {
        let name = key.map(|k| k.strip_prefix("meta.").unwrap_or(k));
        let col = name.and_then(|k| ds.requests.meta_index(k));
        let meta = &ds.requests.meta;
        let n_slots = col.map_or(0, |c| meta[c].dict.len() + 1);
        let mut pools = Vec::new();
        let mut stats = Vec::new();
        let mut seg_pools = Vec::new();
        let mut seg_stats = Vec::new();
        let mut fallbacks = 0;
        for m in 0..ds.n_models() as ModelId {
            let mut all = Pool::default();
            let mut all_q = QSums::default();
            let mut seg: Vec<(Pool, QSums)> = vec![Default::default(); n_slots];
            for r in 0..ds.n_requests() {
                let s = ds.cell(r, m);
                if !s.is_present() {
                    continue;
                }
                all.add(s);
                if s.status.is_ok() {
                    all_q.add(s.quality);
                }
                if let Some(c) = col {
                    let slot = match meta[c].codes[r] {
                        MetaColumn::NONE => n_slots - 1,
                        code => code as usize,
                    };
                    seg[slot].0.add(s);
                    if s.status.is_ok() {
                        seg[slot].1.add(s.quality);
                    }
                }
            }
            if all.answers.is_empty() {
                continue;
            }
            for (slot, (p, q)) in seg.into_iter().enumerate() {
                if p.answers.len() as u64 >= MIN_SUPPORT {
                    let c = col.expect("segments only with a column");
                    let value = meta[c]
                        .dict
                        .get(slot)
                        .cloned()
                        .unwrap_or_else(|| NO_SEGMENT.to_string());
                    seg_stats.push(stats_of(m, Some(value), &p, &q));
                    seg_pools.push(finish(p, &q));
                } else if p.n() > 0 {
                    fallbacks += 1;
                }
            }
            stats.push(stats_of(m, None, &all, &all_q));
            pools.push(finish(all, &all_q));
        }
        pools.extend(seg_pools);
        stats.extend(seg_stats);
        let model = ImputeModel {
            key: col.map(|c| format!("meta.{}", meta[c].name)),
            min_support: MIN_SUPPORT,
            pools: stats,
            fallbacks,
        };
        let index = PoolIndex::new(&model, ds.n_models(), meta);
        Imputer {
            pools,
            index,
            model,
        }
    }

    /// The pools' statistics (for the report).
    pub fn model(&self) -> &ImputeModel {
        &self.model
    }

    /// The imputed sample of request `r`'s cell of model `m` (flagged
    /// [`sflags::IMPUTED`]), drawn from its pool with the run's `seed`; `None` when
    /// the model has no successful answer anywhere.
    #[inline]
    pub fn sample(&self, ds: &Dataset, r: usize, m: ModelId, seed: u64) -> Option<Sample> {
        let pool = &self.pools[self.index.pool(&ds.requests.meta, r, m)?];
        let n = pool.n() as u64;
        let k = Rng::for_stream(seed ^ DRAW_SALT, m as u64, r as u64).below(n) as usize;
        let input_tokens = ds.requests.input_tokens[r];
        Some(match pool.answers.get(k) {
            Some(a) => Sample {
                status: Status::OK,
                flags: sflags::IMPUTED,
                input_tokens,
                output_tokens: a.output_tokens,
                reasoning_tokens: a.reasoning_tokens,
                latency_ms: a.latency_ms,
                ttft_ms: a.ttft_ms,
                quality: pool.quality,
                ..Sample::MISSING
            },
            None => {
                let f = pool.failures[k - pool.answers.len()];
                Sample {
                    status: f.status,
                    flags: sflags::IMPUTED,
                    input_tokens,
                    latency_ms: f.latency_ms,
                    retry_after_ms: f.retry_after_ms,
                    ..Sample::MISSING
                }
            }
        })
    }

    /// A sentence for the report's notes: how cells were imputed.
    pub fn note(&self) -> String {
        let m = &self.model;
        let segs = m.pools.iter().filter(|p| p.segment.is_some()).count();
        match &m.key {
            Some(key) => format!(
                "--missing impute: each missing cell drawn from the model's recorded answers and failures in its {key} segment ({segs} (model, segment) pools of ≥ {} answers; {} smaller {} the model's whole data); imputed quality is the pool's mean, and the intervals include the pools' estimation error",
                m.min_support,
                m.fallbacks,
                if m.fallbacks == 1 { "pair uses" } else { "pairs use" }
            ),
            None => "--missing impute: each missing cell drawn from the model's recorded answers and failures over the whole dataset (no --by key); imputed quality is the model's mean, and the intervals include its estimation error".to_string(),
        }
    }
}

fn stats_of(m: ModelId, segment: Option<String>, p: &Pool, q: &QSums) -> PoolStats {
    PoolStats {
        model: m,
        segment,
        n: p.n() as u64,
        n_ok: p.answers.len() as u64,
        n_labelled: q.n,
        quality_mean: q.mean(),
        quality_var: q.var(),
    }
}

fn finish(mut p: Pool, q: &QSums) -> Pool {
    p.answers.sort_by(|a, b| {
        a.latency_ms
            .total_cmp(&b.latency_ms)
            .then(a.ttft_ms.total_cmp(&b.ttft_ms))
            .then(a.output_tokens.cmp(&b.output_tokens))
            .then(a.reasoning_tokens.cmp(&b.reasoning_tokens))
    });
    p.failures.sort_by(|a, b| {
        a.status
            .0
            .cmp(&b.status.0)
            .then(a.latency_ms.total_cmp(&b.latency_ms))
    });
    p.quality = q.mean();
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::build::from_matrix;
    use crate::dataset::{DatasetInfo, Requests, TextColumn};

    /// One model; `cells[r]` its sample for request r, `task[r]` the request's segment.
    fn dataset(task: &[Option<&str>], cells: Vec<Sample>) -> Dataset {
        let n = task.len();
        let mut dict: Vec<String> = Vec::new();
        let codes = task
            .iter()
            .map(|t| match t {
                None => MetaColumn::NONE,
                Some(v) => match dict.iter().position(|d| d == v) {
                    Some(i) => i as u32,
                    None => {
                        dict.push(v.to_string());
                        (dict.len() - 1) as u32
                    }
                },
            })
            .collect();
        let req = Requests {
            ids: (0..n).map(|i| format!("r{i}")).collect(),
            ts_ms: vec![Requests::NO_TS; n],
            input: TextColumn::from_iter_str((0..n).map(|_| "x")),
            input_chars: vec![1; n],
            input_tokens: (0..n as u32).map(|i| 10 + i).collect(),
            input_tokens_estimated: vec![false; n],
            turns: vec![1; n],
            reference: None,
            meta: vec![MetaColumn::new("task", codes, dict)],
        };
        from_matrix(DatasetInfo::default(), req, vec!["m".into()], cells)
    }

    fn err(latency_ms: f32) -> Sample {
        Sample {
            status: Status::ERROR,
            latency_ms,
            ..Sample::MISSING
        }
    }

    /// Segment "a": 20 answers (latency 100, 200, …, 2000 ms; quality 1.0 and 0.5
    /// alternately; output 10·i tokens), 5 errors of 50 ms and one context-length
    /// error; segment "b": 3 answers of quality 0 (too few for a pool); then `gaps`
    /// requests without a cell in each of a, b and no segment.
    fn fixture(gaps: usize) -> Dataset {
        let mut task = Vec::new();
        let mut cells = Vec::new();
        for i in 1..=20u32 {
            task.push(Some("a"));
            let q = if i % 2 == 0 { 1.0 } else { 0.5 };
            cells.push(Sample::ok(0, 10 * i, 100.0 * i as f32, q));
        }
        for _ in 0..5 {
            task.push(Some("a"));
            cells.push(err(50.0));
        }
        task.push(Some("a"));
        cells.push(Sample {
            status: Status::CONTEXT_LENGTH,
            ..Sample::MISSING
        });
        for _ in 0..3 {
            task.push(Some("b"));
            cells.push(Sample::ok(0, 999, 10_000.0, 0.0));
        }
        for seg in [Some("a"), Some("b"), None] {
            for _ in 0..gaps {
                task.push(seg);
                cells.push(Sample::MISSING);
            }
        }
        dataset(&task, cells)
    }

    /// Sample variance, the textbook way (an independent check of the running sums).
    fn var(v: &[f64]) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
    }

    #[test]
    fn segment_pools_have_minimum_support_and_fall_back_to_the_model() {
        let ds = fixture(1);
        let imp = Imputer::new(&ds, Some("meta.task"));
        let m = imp.model();
        assert_eq!(m.key.as_deref(), Some("meta.task"));
        // The model pool, then segment a's; b (3 answers) falls back.
        assert_eq!(m.pools.len(), 2);
        assert_eq!(m.fallbacks, 1);
        let (all, a) = (&m.pools[0], &m.pools[1]);
        assert_eq!(all.segment, None);
        assert_eq!(a.segment.as_deref(), Some("a"));
        // Segment a: 20 answers + 5 errors (the context-length error is no donor).
        assert_eq!((a.n, a.n_ok, a.n_labelled), (25, 20, 20));
        assert_eq!(a.error_rate(), 0.2);
        assert_eq!(a.quality_mean, 0.75);
        let qa: Vec<f64> = (1..=20)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.5 })
            .collect();
        assert!((a.quality_var - var(&qa)).abs() < 1e-12);
        // Every request: 23 answers (10 × 1.0, 10 × 0.5, 3 × 0.0) and 5 errors.
        assert_eq!((all.n, all.n_ok, all.n_labelled), (28, 23, 23));
        assert!((all.quality_mean - 15.0 / 23.0).abs() < 1e-15);
        let mut q_all = qa.clone();
        q_all.extend([0.0; 3]);
        assert!((all.quality_var - var(&q_all)).abs() < 1e-12);
        // Which pool imputes each gap: a → a's pool; b and no segment → the model's.
        let gap = |k: usize| 29 + k;
        let idx = PoolIndex::new(m, 1, &ds.requests.meta);
        assert_eq!(idx.pool(&ds.requests.meta, gap(0), 0), Some(1));
        assert_eq!(idx.pool(&ds.requests.meta, gap(1), 0), Some(0));
        assert_eq!(idx.pool(&ds.requests.meta, gap(2), 0), Some(0));
        // Without a key: one pool, the model's.
        let whole = Imputer::new(&ds, None);
        assert_eq!(whole.model().pools.len(), 1);
        assert_eq!(whole.model().pools[0], *all);
    }

    #[test]
    fn draws_follow_the_pool_distribution_and_error_rate_deterministically() {
        let gaps = 2000;
        let ds = fixture(gaps);
        let imp = Imputer::new(&ds, Some("meta.task"));
        let first = 29;
        let draws: Vec<Sample> = (first..first + gaps)
            .map(|r| imp.sample(&ds, r, 0, 7).expect("segment a imputes"))
            .collect();
        // Same seed, same draws; another seed, other draws (NaN fields aside).
        let key = |s: &Sample| (s.status, s.latency_ms.to_bits(), s.output_tokens);
        let again: Vec<_> = (first..first + gaps)
            .map(|r| key(&imp.sample(&ds, r, 0, 7).unwrap()))
            .collect();
        let other: Vec<_> = (first..first + gaps)
            .map(|r| key(&imp.sample(&ds, r, 0, 8).unwrap()))
            .collect();
        let mine: Vec<_> = draws.iter().map(key).collect();
        assert_eq!(mine, again);
        assert_ne!(mine, other);
        let fails = draws.iter().filter(|s| !s.status.is_ok()).count() as f64;
        // Error rate 5/25 = 0.2: within 4 standard errors of a binomial share.
        let se = (0.2f64 * 0.8 / gaps as f64).sqrt();
        assert!((fails / gaps as f64 - 0.2).abs() < 4.0 * se, "{fails}");
        for (k, s) in draws.iter().enumerate() {
            assert_ne!(s.flags & sflags::IMPUTED, 0);
            assert_eq!(s.input_tokens, 10 + (first + k) as u32, "the request's own");
            if s.status.is_ok() {
                // A donor's latency and its own tokens (10 per 100 ms), a's mean quality.
                assert_eq!(s.quality, 0.75);
                assert_eq!(s.output_tokens as f32 * 10.0, s.latency_ms);
            } else {
                assert_eq!((s.status, s.latency_ms), (Status::ERROR, 50.0));
                assert!(s.quality.is_nan());
            }
        }
        // Latencies are a distribution, not a spike: every one of the 20 donors drawn.
        let mut lat: Vec<f64> = draws
            .iter()
            .filter(|s| s.status.is_ok())
            .map(|s| s.latency_ms as f64)
            .collect();
        lat.sort_by(f64::total_cmp);
        lat.dedup();
        assert_eq!(lat.len(), 20);
        // Segment b falls back to the model pool: its quality is 15/23.
        let b = (first + gaps..first + 2 * gaps)
            .map(|r| imp.sample(&ds, r, 0, 7).unwrap())
            .find(|s| s.status.is_ok())
            .unwrap();
        assert!((b.quality - 15.0 / 23.0).abs() < 1e-15);
    }

    #[test]
    fn no_imputation_for_a_model_without_answers() {
        let ds = dataset(&[Some("a"), Some("a")], vec![err(10.0), Sample::MISSING]);
        let imp = Imputer::new(&ds, Some("task"));
        assert!(imp.model().pools.is_empty());
        assert_eq!(imp.sample(&ds, 1, 0, 7), None);
    }

    #[test]
    fn the_absent_segment_is_named_as_segments_csv_names_it() {
        assert_eq!(NO_SEGMENT, crate::analysis::summary::NO_VALUE);
    }
}
