//! Decision support on top of the simulation: what changes between two policies
//! request by request ([`diff`]), why one request went where it went
//! ([`explain`]), and which rules never fire or are shadowed by earlier ones
//! ([`rules`]). Reads datasets, policies and simulated rows; knows nothing of report
//! folders (the `app` commands print and write).

pub mod diff;
pub mod explain;
pub mod rules;
