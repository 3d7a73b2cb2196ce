//! What the analysis reads. A run is analysed one policy at a time ([`PolicyView`]:
//! its rows, one per request, and the requests' arrival times), against the run-wide
//! [`RunContext`] (request ids, metadata, the names behind the codes). Rows come straight
//! from the engine, or back from a report's `trace/` folder — so `routesim report DIR`
//! re-renders the same figures — and never need to be in memory all at once.

use crate::dataset::{Dataset, MetaColumn};
use crate::sim::trace::{PolicyInfo, Trace, TraceRow};
use std::borrow::Cow;

/// The run-wide names and request columns the figures need.
#[derive(Debug, Clone)]
pub struct RunContext<'a> {
    /// Policies, in run order.
    pub policies: Cow<'a, [PolicyInfo]>,
    /// Dataset model names (row codes index them).
    pub models: Cow<'a, [String]>,
    /// Names of models that answered in place of a dataset model.
    pub served_models: Cow<'a, [String]>,
    /// Request ids, by request index.
    pub ids: Cow<'a, [String]>,
    /// Metadata columns (segments).
    pub meta: Cow<'a, [MetaColumn]>,
    /// The probability production's router gave its pick, by request (a gateway
    /// log's; NaN unknown), for off-policy estimates. Empty: the dataset has no
    /// logged outcomes.
    pub propensity: Cow<'a, [f64]>,
}

impl<'a> RunContext<'a> {
    /// The context of a run of `policies` over `ds`.
    pub fn of_dataset(ds: &'a Dataset, policies: Vec<PolicyInfo>) -> RunContext<'a> {
        RunContext {
            policies: Cow::Owned(policies),
            models: Cow::Borrowed(&ds.models),
            served_models: Cow::Borrowed(&ds.served_models),
            ids: Cow::Borrowed(&ds.requests.ids),
            meta: Cow::Borrowed(&ds.requests.meta),
            propensity: logged_propensity(ds),
        }
    }

    /// Requests per policy.
    pub fn n_requests(&self) -> usize {
        self.ids.len()
    }

    /// Index of a policy by name.
    pub fn policy_index(&self, name: &str) -> Option<usize> {
        self.policies.iter().position(|p| p.name == name)
    }

    /// The model that answered a row (or was last tried): its served model when the
    /// recording names one, else its own; "" for none.
    pub fn answered_by(&self, r: &TraceRow) -> &str {
        use crate::sim::trace::NONE16;
        if r.served != NONE16 {
            &self.served_models[r.served as usize]
        } else if r.model != NONE16 {
            &self.models[r.model as usize]
        } else {
            ""
        }
    }
}

/// The logged propensities of a dataset (empty without a log, or when none is known).
fn logged_propensity(ds: &Dataset) -> Cow<'_, [f64]> {
    match &ds.logged {
        Some(l) if l.propensity.iter().any(|p| !p.is_nan()) => Cow::Borrowed(&l.propensity),
        _ => Cow::Borrowed(&[]),
    }
}

/// One policy's rows.
#[derive(Debug, Clone, Copy)]
pub struct PolicyView<'a> {
    /// Policy index in the run.
    pub p: usize,
    /// One row per request.
    pub rows: &'a [TraceRow],
    /// Arrival of each request on the policy's clock, ms after the first arrival.
    pub arrivals: &'a [f64],
}

/// Every policy's rows in memory with their context (tests, small runs).
#[derive(Debug, Clone)]
pub struct RunTable<'a> {
    /// Names and request columns.
    pub ctx: RunContext<'a>,
    /// The rows.
    pub trace: Cow<'a, Trace>,
}

impl<'a> RunTable<'a> {
    /// The table of a run that has just been simulated.
    pub fn of_run(trace: &'a Trace, ds: &'a Dataset) -> RunTable<'a> {
        RunTable {
            ctx: RunContext {
                policies: Cow::Borrowed(&trace.policies),
                models: Cow::Borrowed(&trace.models),
                served_models: Cow::Borrowed(&trace.served_models),
                ids: Cow::Borrowed(&ds.requests.ids),
                meta: Cow::Borrowed(&ds.requests.meta),
                propensity: logged_propensity(ds),
            },
            trace: Cow::Borrowed(trace),
        }
    }

    /// Policy `p`'s rows.
    pub fn view(&self, p: usize) -> PolicyView<'_> {
        PolicyView {
            p,
            rows: self.trace.policy_rows(p),
            arrivals: &self.trace.arrivals[p],
        }
    }

    /// Requests per policy.
    pub fn n_requests(&self) -> usize {
        self.trace.n_requests
    }
}
