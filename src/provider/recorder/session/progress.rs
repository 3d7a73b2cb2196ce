//! What a run counts while calls are in flight (the ledger, statuses, the stop
//! flag), where finished records go, and the report at the end.

use super::Session;
use crate::dataset::recorded::store::{JudgeRecord, Record};
use crate::dataset::{self, tokens::estimate_tokens};
use crate::provider::recorder::ledger::SpendLedger;
use crate::provider::recorder::{RecordReport, Stopped};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

/// Counters, the ledger and the stop flag, shared by the calls in flight.
pub(super) struct Progress {
    /// Set by the spend cap or by a call that got no answer: start nothing more.
    pub(super) stop: AtomicBool,
    pub(super) stopped: Mutex<Option<Stopped>>,
    pub(super) ledger: Mutex<SpendLedger>,
    pub(super) skipped_by_cap: AtomicUsize,
    pub(super) not_started: AtomicUsize,
    pub(super) calls: AtomicUsize,
    pub(super) judged: AtomicUsize,
    pub(super) statuses: Mutex<BTreeMap<String, usize>>,
    /// (asked, served) → answers served by another model.
    pub(super) served_other: Mutex<BTreeMap<(String, String), usize>>,
    /// Answers of an unpriced served model, priced at the asked model's price.
    pub(super) asked_priced: AtomicUsize,
    pub(super) overheads: Mutex<Vec<f64>>,
    pub(super) bar: indicatif::ProgressBar,
}

impl Progress {
    pub(super) fn new(cap: Option<f64>, bar: indicatif::ProgressBar) -> Progress {
        Progress {
            stop: AtomicBool::new(false),
            stopped: Mutex::new(None),
            ledger: Mutex::new(SpendLedger::new(cap)),
            skipped_by_cap: AtomicUsize::new(0),
            not_started: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            judged: AtomicUsize::new(0),
            statuses: Mutex::new(BTreeMap::new()),
            served_other: Mutex::new(BTreeMap::new()),
            asked_priced: AtomicUsize::new(0),
            overheads: Mutex::new(Vec::new()),
            bar,
        }
    }

    pub(super) fn ledger(&self) -> std::sync::MutexGuard<'_, SpendLedger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop the run for good (the first reason is kept).
    pub(super) fn halt(&self, why: Stopped) {
        self.stop.store(true, Ordering::SeqCst);
        let mut s = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if s.is_none() {
            *s = Some(why);
        }
    }
}

/// Where finished work goes (the stores' writer threads).
#[derive(Clone)]
pub(super) struct Sinks {
    pub(super) answers: mpsc::Sender<Record>,
    pub(super) verdicts: Option<mpsc::Sender<JudgeRecord>>,
}

impl Session<'_> {
    /// What the run did, and what the user should know about its figures.
    pub(super) fn report(
        &self,
        pr: Progress,
        planned: usize,
        recorded: usize,
        already: usize,
        t0: Instant,
    ) -> RecordReport {
        let ledger = pr.ledger.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut ov = pr.overheads.into_inner().unwrap_or_default();
        ov.sort_by(f64::total_cmp);
        let q = |p| crate::util::stats::quantile_sorted(&ov, p).unwrap_or(f64::NAN);
        let concurrency: BTreeMap<String, u32> = self
            .o
            .models
            .iter()
            .map(|m| {
                let lane = self.lane(m);
                (lane.provider.name.clone(), self.concurrency(lane))
            })
            .collect();
        let mut notes = Vec::new();
        let served_other = pr.served_other.into_inner().unwrap_or_default();
        if !served_other.is_empty() {
            let pairs: Vec<String> = served_other
                .iter()
                .map(|((asked, served), n)| format!("{asked} → {served}: {n}"))
                .collect();
            notes.push(format!(
                "answers served by another model than the one asked for (a gateway fallback), stored with served_model: {}",
                pairs.join(", ")
            ));
        }
        let asked_priced = pr.asked_priced.into_inner();
        if asked_priced > 0 {
            notes.push(format!(
                "{asked_priced} answers came from a model without a price and without a cost from the gateway: priced as the model asked for (cost_source \"asked price\"); add the served model to a pricing file to price them right"
            ));
        }
        notes.extend(self.short_text_note(planned));
        RecordReport {
            planned,
            recorded,
            already,
            skipped_by_cap: pr.skipped_by_cap.into_inner(),
            spend_usd: ledger.spent(),
            judged: pr.judged.into_inner(),
            judge_spend_usd: ledger.judge,
            statuses: pr.statuses.into_inner().unwrap_or_default(),
            calls: pr.calls.into_inner(),
            elapsed_s: t0.elapsed().as_secs_f64(),
            overhead_ms: (!ov.is_empty()).then(|| (q(0.5), q(0.99))),
            preflight: Vec::new(),
            preflight_spend_usd: ledger.preflight,
            stopped: pr.stopped.into_inner().unwrap_or_else(|e| e.into_inner()),
            not_started: pr.not_started.into_inner(),
            concurrency,
            notes,
        }
    }

    /// A note when the text sent is far shorter than the dataset's `input_tokens`
    /// (synthetic data counts a whole context but keeps only the last message).
    fn short_text_note(&self, planned: usize) -> Option<String> {
        if planned == 0 {
            return None;
        }
        let r = &self.ds.requests;
        let pairs = (0..r.len())
            .filter(|&i| !r.input_tokens_estimated[i])
            .map(|i| (estimate_tokens(r.input.get(i)), r.input_tokens[i]));
        dataset::recorded::short_text_note(pairs).map(|n| {
            format!(
                "{n}; live answers are priced and timed for the text sent, so they look cheaper and faster than cells recorded for the whole context"
            )
        })
    }
}

pub(super) fn progress_bar(quiet: bool, len: usize) -> indicatif::ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} calls · {per_sec} · ETA {eta} · {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}
