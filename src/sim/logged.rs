//! The `logged` baseline: what production did, read back from the dataset's logged
//! outcomes ([`crate::dataset::logged`]) instead of simulated — one trace row per
//! request with the logged model, status, calls, cost, latency and time to first
//! token, so that its figures are the log's own totals. No state, no randomness: a
//! shard's rows are the whole run's rows for its requests. What-ifs do not apply (the
//! log is what happened); a request without a logged outcome is uncovered.

use super::bound::Bound;
use super::trace::{DEFAULT_RULE, NONE16, TraceRow, flags};
use crate::dataset::logged::{NO_MODEL, flags as lflags};
use crate::dataset::{Dataset, Status};

/// The trace rows of the logged baseline `b` over `ds` (`None` when `b` is not it).
pub fn rows(ds: &Dataset, b: &Bound) -> Option<Vec<TraceRow>> {
    if !matches!(b.default.strategy, super::bound::BStrategy::Logged) {
        return None;
    }
    let n = ds.n_requests();
    let Some(l) = ds.logged.as_ref() else {
        // Binding refuses the baseline without a log: every request uncovered.
        return Some(vec![
            TraceRow {
                flags: flags::UNCOVERED,
                ..TraceRow::EMPTY
            };
            n
        ]);
    };
    Some(
        (0..n)
            .map(|r| {
                let status = l.status[r];
                if status == Status::MISSING || l.model[r] == NO_MODEL {
                    return TraceRow {
                        flags: flags::UNCOVERED,
                        ..TraceRow::EMPTY
                    };
                }
                let f = l.flags[r];
                let mut fl = 0;
                if f & lflags::FELL_BACK != 0 {
                    fl |= flags::FELL_BACK;
                }
                if f & lflags::RETRIED != 0 {
                    fl |= flags::RETRIED;
                }
                if f & lflags::CACHE_HIT != 0 {
                    fl |= flags::CACHE_HIT;
                }
                TraceRow {
                    rule: DEFAULT_RULE,
                    model: l.model[r],
                    first: l.picked[r],
                    served: if l.served[r] == crate::dataset::Sample::SAME_MODEL {
                        NONE16
                    } else {
                        l.served[r]
                    },
                    status,
                    attempts: l.attempts[r],
                    flags: fl,
                    cost_usd: l.cost_usd[r],
                    latency_ms: l.latency_ms[r],
                    ttft_ms: l.ttft_ms[r] as f32,
                    quality: if status.is_ok() {
                        answer_quality(ds, r, l.model[r])
                    } else {
                        b.gateway.failure_quality
                    },
                    input_tokens: l.input_tokens[r],
                    output_tokens: l.output_tokens[r],
                    queue_ms: 0.0,
                }
            })
            .collect(),
    )
}

/// The quality of the answer a request's final cell recorded (its last successful
/// sample; NaN when unlabelled, as logs are, or when the cache answered).
fn answer_quality(ds: &Dataset, r: usize, m: crate::dataset::ModelId) -> f64 {
    (0..ds.n_samples(r, m))
        .rev()
        .map(|k| ds.sample(r, m, k))
        .find(|s| s.status.is_ok())
        .map_or(f64::NAN, |s| s.quality)
}
