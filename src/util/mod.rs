//! Small building blocks with no knowledge of the domain: a seeded RNG, a stable
//! hash, order statistics, atomic output folders, file hashing, progress bars and phase timings.

pub mod files;
pub mod hash;
pub mod progress;
pub mod rng;
pub mod stats;
pub mod timing;
