//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod gateway;

/// `../shared/data/<rel>` when present; otherwise prints why the test is skipped.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let p = root.join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} not found (the shared real-data folder ../shared/data is absent)",
            p.display()
        );
        None
    }
}

/// Path of a fixture file.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Relative error |a-b| / max(|a|,|b|,tiny).
pub fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}
