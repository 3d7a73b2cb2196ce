//! One recording run, step by step: open (dataset, providers, prices, judge), plan
//! the cells, preflight ([`open`]), call, score or judge, store ([`call`]), report
//! ([`progress`]).

mod call;
mod open;
mod progress;

use super::judge::JudgeSetup;
use super::lane::Lane;
use super::plan::Task;
use super::{RecordOptions, RecordReport};
use crate::dataset::Dataset;
use crate::dataset::recorded::scorer::Scorer;
use crate::dataset::recorded::store::{JUDGED_FILE, JudgeRecord, Record, STORE_FILE, Store};
use crate::dataset::tokens::estimate_tokens;
use crate::pricing::{ModelPrice, PriceBook, Usage};
use crate::provider::client::http_client;
use crate::provider::config::Providers;
use anyhow::{Context, Result};
use futures_util::StreamExt;
use progress::{Progress, Sinks, progress_bar};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Everything a run needs, read and checked before the first call.
pub(super) struct Session<'a> {
    o: &'a RecordOptions,
    ds: Dataset,
    providers: Providers,
    /// Lanes by provider name.
    lanes: HashMap<String, Arc<Lane>>,
    /// Prices by dataset model name (the models asked for).
    prices: HashMap<String, ModelPrice>,
    /// Every price source (for models that answer in place of another).
    book: PriceBook,
    scorer: Option<Scorer>,
    judge: Option<JudgeSetup>,
}

fn now_utc() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    crate::dataset::time::format_ts(ms)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl<'a> Session<'a> {
    /// Run the session: plan, preflight, call every task with bounded concurrency,
    /// store, report.
    pub fn run(self) -> Result<RecordReport> {
        let plan = self.plan(self.stored()?)?;
        let planned = plan.planned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let client = http_client(self.o.concurrency.max(1))?;
        let progress = Progress::new(
            self.o.max_spend,
            progress_bar(self.o.quiet, plan.tasks.len()),
        );
        let checked = if self.o.no_preflight {
            Vec::new()
        } else {
            rt.block_on(self.preflight(&client, &plan, &progress))?
        };
        let store = Store::<Record>::append(&self.o.dataset.join(STORE_FILE))
            .context("opening the store")?;
        let judge_store = match &self.judge {
            Some(_) => Some(
                Store::<JudgeRecord>::append(&self.o.dataset.join(JUDGED_FILE))
                    .context("opening the judge store")?,
            ),
            None => None,
        };
        let sinks = Sinks {
            answers: store.sender(),
            verdicts: judge_store.as_ref().map(|s| s.sender()),
        };
        let t0 = Instant::now();
        let this = &self;
        rt.block_on(futures_util::stream::iter(plan.tasks).for_each_concurrent(
            self.o.concurrency.max(1),
            |t| {
                let (client, progress, sinks) = (&client, &progress, sinks.clone());
                async move { this.task(t, client, progress, &sinks).await }
            },
        ));
        drop(sinks);
        progress.bar.finish_and_clear();
        let written = store.close().context("closing the store")?;
        if let Some(js) = judge_store {
            js.close().context("closing the judge store")?;
        }
        let mut report = self.report(progress, planned, written, plan.already, t0);
        report.preflight = checked;
        Ok(report)
    }

    /// One task: reserve its worst case, call the model (unless only judging), store
    /// the answer, judge it, book the spend. A call without an answer stores nothing
    /// and stops the run.
    async fn task(&self, t: Task, client: &reqwest::Client, pr: &Progress, sinks: &Sinks) {
        if pr.stop.load(Ordering::SeqCst) {
            let why_stopped = pr
                .stopped
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some();
            let counter = if why_stopped {
                &pr.not_started
            } else {
                &pr.skipped_by_cap
            };
            counter.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let worst = self.worst_case(&t);
        if !pr.ledger().try_reserve(worst) {
            pr.stop.store(true, Ordering::SeqCst);
            pr.skipped_by_cap.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let (answer, cost) = match &t.judge_only {
            Some(a) => (Some(a.clone()), 0.0),
            None => match self.call(&t, client, pr).await {
                Some(rec) => {
                    let ok = rec.status == "ok";
                    let cost = rec.cost_usd;
                    let output = rec.output.clone().unwrap_or_default();
                    self.store(rec, pr, sinks);
                    (ok.then_some(output), cost)
                }
                None => (None, 0.0),
            },
        };
        let judge_cost = match answer {
            Some(a) => self.judge(&t, &a, client, pr, sinks).await,
            None => 0.0,
        };
        let mut l = pr.ledger();
        l.settle(worst, cost, judge_cost);
        pr.bar.set_message(format!("${:.4} spent", l.spent()));
        pr.bar.inc(1);
    }

    /// Worst-case cost of a task: the model call (prompt + `max_tokens` at list
    /// price) unless only judging, then the judge reading template, question, answer
    /// and reference.
    fn worst_case(&self, t: &Task) -> f64 {
        let lane = self.lane(&t.model);
        let prompt = self.ds.requests.input.get(t.req);
        let est_in = self.ds.requests.input_tokens[t.req].max(estimate_tokens(prompt));
        let mut worst = match &t.judge_only {
            Some(_) => 0.0,
            None => self.prices[&t.model].cost(&Usage::plain(est_in, lane.provider.max_tokens)),
        };
        if let Some(js) = &self.judge {
            let answer_tokens = match &t.judge_only {
                Some(a) => estimate_tokens(a),
                None => lane.provider.max_tokens,
            };
            let reference = self.reference(t.req).map(estimate_tokens).unwrap_or(0);
            worst += js.worst_case(est_in, answer_tokens, reference);
        }
        worst
    }

    fn lane(&self, model: &str) -> &Arc<Lane> {
        let p = self
            .providers
            .for_model(model)
            .expect("checked when opening");
        &self.lanes[&p.name]
    }

    fn reference(&self, req: usize) -> Option<&str> {
        self.ds
            .requests
            .reference
            .as_ref()
            .map(|c| c.get(req))
            .filter(|s| !s.is_empty())
    }

    /// Calls in flight allowed to a provider.
    fn concurrency(&self, lane: &Lane) -> u32 {
        self.o.concurrency.max(1).min(lane.provider.max_concurrency) as u32
    }
}
