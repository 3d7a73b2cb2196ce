//! Phase timings for profiling: printed on stderr when `ROUTESIM_TIMINGS` is set,
//! silent (and nearly free) otherwise. Never part of a report.

use std::cell::Cell;
use std::time::Instant;

/// A lap clock; each [`Timings::lap`] prints the time since the previous lap.
pub struct Timings {
    on: bool,
    indent: usize,
    last: Cell<Instant>,
}

impl Timings {
    /// Start a clock whose lines are indented by `indent` levels (nested phases).
    pub fn start(indent: usize) -> Timings {
        Timings {
            on: std::env::var_os("ROUTESIM_TIMINGS").is_some(),
            indent,
            last: Cell::new(Instant::now()),
        }
    }

    /// Print the time since the previous lap (or the start) under `what`.
    pub fn lap(&self, what: &str) {
        let now = Instant::now();
        if self.on {
            eprintln!(
                "timing: {:w$}{what}: {:.3} s (resident {:.2} GB)",
                "",
                now.duration_since(self.last.get()).as_secs_f64(),
                resident_bytes() as f64 / 1e9,
                w = 2 * self.indent
            );
        }
        self.last.set(now);
    }
}

/// Resident memory of this process (Linux; 0 elsewhere).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
