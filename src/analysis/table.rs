//! What the analysis reads: the rows of a run (policy-major, one per policy × request)
//! with the requests' ids and metadata — straight from the engine, or read back from
//! a report's `trace.parquet` (so `routesim report DIR` re-renders the same figures).

use crate::dataset::{Dataset, MetaColumn};
use crate::sim::trace::Trace;
use std::borrow::Cow;

/// A run's rows and the request columns the analysis needs.
#[derive(Debug, Clone)]
pub struct RunTable<'a> {
    /// Policies, models and rows.
    pub trace: Cow<'a, Trace>,
    /// Request ids, by request index.
    pub ids: Cow<'a, [String]>,
    /// Metadata columns (segments).
    pub meta: Cow<'a, [MetaColumn]>,
}

impl<'a> RunTable<'a> {
    /// The table of a run that has just been simulated.
    pub fn of_run(trace: &'a Trace, ds: &'a Dataset) -> RunTable<'a> {
        RunTable {
            trace: Cow::Borrowed(trace),
            ids: Cow::Borrowed(&ds.requests.ids),
            meta: Cow::Borrowed(&ds.requests.meta),
        }
    }

    /// Requests per policy.
    pub fn n_requests(&self) -> usize {
        self.trace.n_requests
    }

    /// Index of a policy by name.
    pub fn policy_index(&self, name: &str) -> Option<usize> {
        self.trace.policy_index(name)
    }
}
