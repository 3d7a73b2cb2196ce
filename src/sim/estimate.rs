//! Cross-fitted estimates for learned routes (`cheapest`, `best`): each model's mean
//! quality, cost and latency per segment, measured on *other* requests only (K folds
//! by a stable hash of the request id, or leave-one-out), and the decision table they
//! give. Never the request's own answer.

use super::bound::KeyCol;
use super::costs::Costs;
use crate::dataset::{Dataset, ModelId};
use crate::policy::route::Constraints;
use crate::util::hash::stable_hash;

/// Cross-fitting fold of each request: a stable hash of its id, salted by the seed.
pub fn fold_of(ds: &Dataset, folds: u32, seed: u64) -> Vec<u32> {
    let salt = format!("fold-{seed}");
    ds.requests
        .ids
        .iter()
        .map(|id| {
            let mut b = salt.as_bytes().to_vec();
            b.push(0);
            b.extend_from_slice(id.as_bytes());
            (stable_hash(&b) % folds as u64) as u32
        })
        .collect()
}

/// What `cheapest` / `best` optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Lowest estimated cost (ties: higher quality).
    Cheapest,
    /// Highest estimated quality (ties: lower cost).
    BestQuality,
}

/// Per-model estimates on a set of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// Mean quality of labelled successful answers (NaN when none).
    pub quality: f64,
    /// Mean cost of successful answers (NaN when none).
    pub cost: f64,
    /// Mean latency of successful answers (NaN when none).
    pub latency: f64,
    /// Labelled successful answers seen.
    pub n_quality: u32,
    /// Successful answers seen.
    pub n_ok: u32,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    q: f64,
    nq: u32,
    cost: f64,
    lat: f64,
    nok: u32,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.q += o.q;
        self.nq += o.nq;
        self.cost += o.cost;
        self.lat += o.lat;
        self.nok += o.nok;
    }
    fn sub(&self, o: &Acc) -> Acc {
        Acc {
            q: self.q - o.q,
            nq: self.nq - o.nq,
            cost: self.cost - o.cost,
            lat: self.lat - o.lat,
            nok: self.nok - o.nok,
        }
    }
    fn estimate(&self) -> Estimate {
        let div = |s: f64, n: u32| if n == 0 { f64::NAN } else { s / n as f64 };
        Estimate {
            quality: div(self.q, self.nq),
            cost: div(self.cost, self.nok),
            latency: div(self.lat, self.nok),
            n_quality: self.nq,
            n_ok: self.nok,
        }
    }
}

/// What learned routes estimate from: the dataset's answers, priced and timed with
/// the policy's what-ifs (so a `price` or `latency` scenario changes decisions too).
pub struct EstimateSource<'a> {
    /// Dataset.
    pub ds: &'a Dataset,
    /// Costs with price what-ifs.
    pub costs: &'a Costs,
    /// Latency what-if factor per model.
    pub latency_factor: &'a [f64],
}

fn accumulate(src: &EstimateSource, r: usize, m: ModelId) -> Acc {
    let smp = src.ds.cell(r, m);
    if !smp.status.is_ok() {
        return Acc::default();
    }
    let labelled = !smp.quality.is_nan();
    Acc {
        q: if labelled { smp.quality } else { 0.0 },
        nq: u32::from(labelled),
        cost: src.costs.sample_cost(smp, m as usize),
        lat: smp.latency_ms as f64 * src.latency_factor[m as usize],
        nok: 1,
    }
}

fn seg_of(seg: Option<&KeyCol>, r: usize) -> usize {
    seg.map(|s| s.group(r)).unwrap_or(0)
}

/// Leave-one-out decisions: request r's choice uses every other request's answers.
pub fn loo_table(
    src: &EstimateSource,
    cands: &[ModelId],
    cons: &Constraints,
    objective: Objective,
    otherwise: ModelId,
    seg: Option<&KeyCol>,
) -> Vec<ModelId> {
    let n = src.ds.n_requests();
    let n_seg = seg.map(KeyCol::n_groups).unwrap_or(1);
    let nm = cands.len();
    let mut seg_total = vec![Acc::default(); n_seg * nm];
    let mut grand = vec![Acc::default(); nm];
    for r in 0..n {
        let s = seg_of(seg, r);
        for (ci, &m) in cands.iter().enumerate() {
            let a = accumulate(src, r, m);
            seg_total[s * nm + ci].add(&a);
            grand[ci].add(&a);
        }
    }
    (0..n)
        .map(|r| {
            let s = seg_of(seg, r);
            let ests: Vec<Estimate> = cands
                .iter()
                .enumerate()
                .map(|(ci, &m)| {
                    let own = accumulate(src, r, m);
                    let train = seg_total[s * nm + ci].sub(&own);
                    if train.nq >= MIN_SEGMENT_SAMPLES || n_seg == 1 {
                        train.estimate()
                    } else {
                        grand[ci].sub(&own).estimate()
                    }
                })
                .collect();
            choose(cands, &ests, cons, objective).unwrap_or(otherwise)
        })
        .collect()
}

/// Segments with fewer labelled answers than this use the fold's overall estimate.
pub const MIN_SEGMENT_SAMPLES: u32 = 10;

/// Estimates per (fold, segment, model) from the *other* folds, and the decision for
/// each (fold, segment). Returns (segments, choice table).
#[allow(clippy::too_many_arguments)]
pub fn decision_table(
    src: &EstimateSource,
    cands: &[ModelId],
    cons: &Constraints,
    objective: Objective,
    otherwise: ModelId,
    fold: &[u32],
    folds: u32,
    seg: Option<&KeyCol>,
) -> (usize, Vec<ModelId>) {
    let ds = src.ds;
    let n_seg = seg.map(KeyCol::n_groups).unwrap_or(1);
    let k = folds as usize;
    let nm = cands.len();
    // acc[(fold * n_seg + seg) * nm + c]
    let mut acc = vec![Acc::default(); k * n_seg * nm];
    for (r, &f) in fold.iter().enumerate().take(ds.n_requests()) {
        let s = seg_of(seg, r);
        let f = f as usize;
        for (ci, &m) in cands.iter().enumerate() {
            acc[(f * n_seg + s) * nm + ci].add(&accumulate(src, r, m));
        }
    }
    // Totals per segment and overall, then leave-one-fold-out.
    let mut seg_total = vec![Acc::default(); n_seg * nm];
    let mut fold_all = vec![Acc::default(); k * nm];
    for f in 0..k {
        for s in 0..n_seg {
            for c in 0..nm {
                let a = acc[(f * n_seg + s) * nm + c];
                seg_total[s * nm + c].add(&a);
                fold_all[f * nm + c].add(&a);
            }
        }
    }
    let mut grand = vec![Acc::default(); nm];
    for f in 0..k {
        for c in 0..nm {
            grand[c].add(&fold_all[f * nm + c]);
        }
    }
    let mut choice = vec![otherwise; k * n_seg];
    for f in 0..k {
        for s in 0..n_seg {
            let ests: Vec<Estimate> = (0..nm)
                .map(|c| {
                    let train = seg_total[s * nm + c].sub(&acc[(f * n_seg + s) * nm + c]);
                    if train.nq >= MIN_SEGMENT_SAMPLES || n_seg == 1 {
                        train.estimate()
                    } else {
                        grand[c].sub(&fold_all[f * nm + c]).estimate()
                    }
                })
                .collect();
            choice[f * n_seg + s] = choose(cands, &ests, cons, objective).unwrap_or(otherwise);
        }
    }
    (n_seg, choice)
}

/// Pick a candidate from estimates: those meeting every constraint (unknown estimates
/// fail constraints), best by the objective; `None` when none qualifies.
pub fn choose(
    cands: &[ModelId],
    ests: &[Estimate],
    cons: &Constraints,
    objective: Objective,
) -> Option<ModelId> {
    let ok = |e: &Estimate| {
        cons.max_cost_usd.is_none_or(|x| e.cost <= x)
            && cons.max_latency_ms.is_none_or(|x| e.latency <= x)
            && cons.min_quality.is_none_or(|x| e.quality >= x)
            && e.n_ok > 0
    };
    let mut best: Option<(usize, &Estimate)> = None;
    for (i, e) in ests.iter().enumerate() {
        if !ok(e) {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) => match objective {
                Objective::Cheapest => {
                    e.cost < b.cost || (e.cost == b.cost && nan_lt(b.quality, e.quality))
                }
                Objective::BestQuality => {
                    nan_lt(b.quality, e.quality) || (e.quality == b.quality && e.cost < b.cost)
                }
            },
        };
        if better {
            best = Some((i, e));
        }
    }
    best.map(|(i, _)| cands[i])
}

/// a < b, with NaN lowest.
fn nan_lt(a: f64, b: f64) -> bool {
    match (a.is_nan(), b.is_nan()) {
        (true, false) => true,
        (false, false) => a < b,
        _ => false,
    }
}
