//! Live providers: record responses for cells a dataset lacks, crash-safely, and score
//! them (ARCHITECTURE.md).
//!
//! - [`config`]: `providers.toml` (OpenAI-compatible endpoints and Anthropic).
//! - [`client`]: one HTTP call (JSON or streaming), usage, TTFT, errors, `retry-after`.
//! - [`recorder`]: `routesim record` — concurrency, rate limits, retries, spend cap.
//!
//! What a recording adds to a dataset — the store and the scorers — belongs to the
//! dataset ([`crate::dataset::recorded`]); this module only writes it.
//! - [`served`]: which model answered (a gateway's fallback or the one asked for).
//! - [`mock`]: a loopback mock provider for tests, benchmarks and demos.
//!
//! Keys are read from the environment when a call is made, sent in headers only, and
//! redacted from every error text that is kept or printed.

pub mod client;
pub mod config;
pub mod mock;
pub mod recorder;
pub mod served;
