//! Analysis of a run (ARCHITECTURE.md; README "What the figures mean"): per-policy and per-segment summaries, trade-off
//! statistics (Pareto frontier, convex hull, AIQ) and paired comparisons, computed
//! from the run's rows ([`table::RunTable`]); [`frame`] writes and reads them as
//! Parquet with polars. Owns numbers only; rendering lives in `report` and `plot`.

pub mod exact;
pub mod frame;
pub mod imputed;
pub mod offpolicy;
pub mod ope;
pub mod partial;
pub mod policy;
pub mod quality;
pub mod routellm;
pub mod sketch;
pub mod stats;
pub mod summary;
pub mod table;
pub mod tradeoff;

pub use summary::{PolicySummary, SegmentSummary, SummaryOptions, segments, summarize};
pub use table::{PolicyView, RunContext, RunTable};
