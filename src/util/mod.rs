//! Small building blocks with no knowledge of the domain: a seeded RNG, a stable
//! hash, order statistics, atomic output folders, file hashing, progress bars, phase
//! timings and quiet broken pipes.

pub mod files;
pub mod hash;
pub mod pipe;
pub mod progress;
pub mod rng;
pub mod stats;
pub mod timing;
