//! Progress on stderr for long work (loading, simulating, analysing, writing): a bar
//! per phase when stderr is a terminal, nothing otherwise or with `--quiet`. Never part
//! of a result, and never on stdout (which scripts read).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silence every progress display of this process (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether progress is shown: stderr is a terminal and `--quiet` was not given.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// One phase's progress: a bar with a count when the total is known, a spinner
/// otherwise. Hidden when progress is off.
pub struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// A phase of `total` steps (0: unknown, a spinner).
    pub fn new(what: &str, total: u64) -> Progress {
        let bar = if !enabled() {
            indicatif::ProgressBar::hidden()
        } else if total == 0 {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        } else {
            indicatif::ProgressBar::new(total)
        };
        let template = if total == 0 {
            "{spinner} {msg} ({elapsed})"
        } else {
            "{msg:>10} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})"
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Progress { bar }
    }

    /// `n` more steps done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Replace the message (a spinner's current step).
    pub fn set(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    /// The phase is over: the bar is cleared.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
