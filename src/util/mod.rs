//! Small building blocks with no knowledge of the domain: a seeded RNG, a stable
//! hash, order statistics, atomic output folders and file hashing.

pub mod files;
pub mod hash;
pub mod rng;
pub mod stats;
