//! From a bound route to the ordered list of models a request will try.

use super::bound::{BRoute, BStrategy};
use super::costs::Costs;
use crate::dataset::{Dataset, ModelId};
use crate::policy::route::MAX_PLAN;
use crate::util::rng::LazyRng;

/// Models to try, in order (fixed capacity, no allocation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Models.
    pub models: [ModelId; MAX_PLAN],
    /// Used length.
    pub len: u8,
    /// The first `cascade_len` models form a cascade (0 = no cascade).
    pub cascade_len: u8,
    /// Cascade acceptance threshold.
    pub threshold: f64,
    /// Cascade verifier error rate.
    pub verifier_error: f64,
}

impl Plan {
    /// An empty plan.
    pub const EMPTY: Plan = Plan {
        models: [0; MAX_PLAN],
        len: 0,
        cascade_len: 0,
        threshold: 0.0,
        verifier_error: 0.0,
    };

    /// Append a model unless already present or full.
    #[inline]
    pub fn push(&mut self, m: ModelId) {
        let n = self.len as usize;
        if n < MAX_PLAN && !self.models[..n].contains(&m) {
            self.models[n] = m;
            self.len += 1;
        }
    }

    /// The first model (the pick), NONE16 when the plan is empty.
    #[inline]
    pub fn first(&self) -> ModelId {
        if self.len == 0 {
            super::trace::NONE16
        } else {
            self.models[0]
        }
    }

    /// The models.
    #[inline]
    pub fn as_slice(&self) -> &[ModelId] {
        &self.models[..self.len as usize]
    }
}

/// Plan for request `r`. Stateful strategies list their candidates in order; the
/// virtual-time engine reorders them with its state.
pub fn plan(route: &BRoute, ds: &Dataset, costs: &Costs, r: usize, rng: &mut LazyRng) -> Plan {
    let mut p = Plan::EMPTY;
    match &route.strategy {
        BStrategy::Chain(v) => v.iter().for_each(|&m| p.push(m)),
        BStrategy::Split {
            models,
            cum,
            sticky,
        } => {
            let total = *cum.last().unwrap_or(&1.0);
            let u = match sticky {
                Some(vals) => vals[r],
                None => rng.get().f64(),
            } * total;
            let i = cum.iter().position(|&c| u < c).unwrap_or(models.len() - 1);
            p.push(models[i]);
        }
        BStrategy::Shuffle { models, weights } => {
            // Weighted random order (Efraimidis–Spirakis keys u^(1/w)), fixed capacity.
            let mut keys = [(0.0f64, 0u16); MAX_PLAN];
            let n = models.len().min(MAX_PLAN);
            for i in 0..n {
                let u = rng.get().f64().max(f64::MIN_POSITIVE);
                keys[i] = (u.powf(1.0 / weights[i]), models[i]);
            }
            keys[..n].sort_by(|a, b| b.0.total_cmp(&a.0));
            keys[..n].iter().for_each(|&(_, m)| p.push(m));
        }
        BStrategy::Tier { tiers, by, default } => {
            let t = by.as_ref().map(|b| b[r] as usize).unwrap_or(*default);
            let members = &tiers[t];
            let first = rng.get().below(members.len() as u64) as usize;
            p.push(members[first]);
            members.iter().for_each(|&m| p.push(m));
        }
        BStrategy::Table {
            fold,
            seg,
            n_seg,
            choice,
        } => {
            let s = seg.as_ref().map(|s| s.group(r)).unwrap_or(0);
            p.push(choice[fold[r] as usize * n_seg + s]);
        }
        BStrategy::Cascade {
            chain,
            threshold,
            verifier_error,
        } => {
            chain.iter().for_each(|&m| p.push(m));
            p.cascade_len = p.len;
            p.threshold = *threshold;
            p.verifier_error = *verifier_error;
        }
        BStrategy::Oracle(cands) => p.push(oracle_pick(cands, ds, costs, r)),
        BStrategy::Random(cands) => p.push(cands[rng.get().below(cands.len() as u64) as usize]),
        BStrategy::LowestLatency { candidates, .. }
        | BStrategy::LeastBusy(candidates)
        | BStrategy::UsageBased(candidates) => candidates.iter().for_each(|&m| p.push(m)),
        // The logged baseline's rows are read from the log, never planned.
        BStrategy::Logged => {}
    }
    route.fallbacks.iter().for_each(|&m| p.push(m));
    p
}

/// Hindsight choice: a successful answer with the highest recorded quality (unlabelled
/// counts lowest), ties broken by lower cost, then lower latency, then list order.
/// When no candidate succeeded, the first candidate.
pub fn oracle_pick(cands: &[ModelId], ds: &Dataset, costs: &Costs, r: usize) -> ModelId {
    let mut best: Option<(ModelId, f64, f64, f32)> = None;
    for &m in cands {
        let s = ds.cell(r, m);
        if !s.status.is_ok() {
            continue;
        }
        let q = if s.quality.is_nan() { -1.0 } else { s.quality };
        let c = costs.sample_cost(s, m as usize);
        let better = match best {
            None => true,
            Some((_, bq, bc, bl)) => {
                q > bq || (q == bq && (c < bc || (c == bc && s.latency_ms < bl)))
            }
        };
        if better {
            best = Some((m, q, c, s.latency_ms));
        }
    }
    best.map(|b| b.0).unwrap_or(cands[0])
}
