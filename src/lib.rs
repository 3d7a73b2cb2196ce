#![warn(missing_docs)]
//! routesim: replay LLM request datasets through routing policies and measure what each
//! policy would cost, how fast it would be and how good its answers would be.
//!
//! Pipeline (one direction): [`dataset::load`] → [`pricing::PriceBook`] →
//! [`policy::load`] → [`sim::run`] → [`analysis`] → [`report`]. The code map, with how
//! to add a strategy, a format or a chart, is `ARCHITECTURE.md` at the repository root.

pub mod analysis;
pub mod app;
pub mod dataset;
pub mod decision;
pub mod error;
pub mod plot;
pub mod policy;
pub mod pricing;
pub mod provider;
pub mod report;
pub mod sim;
pub mod synth;
pub mod tomlx;
pub mod util;
