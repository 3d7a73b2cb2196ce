//! Small building blocks with no knowledge of the domain: a seeded RNG, a stable
//! hash, order statistics, atomic output folders, file hashing and phase timings.

pub mod files;
pub mod hash;
pub mod rng;
pub mod stats;
pub mod timing;
