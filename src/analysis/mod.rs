//! Analysis of a trace with polars (DESIGN §6): per-policy and per-segment summaries,
//! trade-off statistics (Pareto frontier, convex hull, AIQ) and paired comparisons.
//! Owns numbers only; rendering lives in `report` and `plot`.

pub mod frame;
pub mod stats;
pub mod summary;
pub mod tradeoff;

pub use frame::trace_frame;
pub use summary::{PolicySummary, SegmentSummary, SummaryOptions, segments, summarize};
