//! One recording run, step by step: open (dataset, providers, prices, judge), plan
//! the cells, call, score or judge, store, report.

use super::cost::billed;
use super::judge::{JudgeSetup, Judged};
use super::lane::Lane;
use super::ledger::SpendLedger;
use super::plan::{Plan, Task, Wanted, plan};
use super::{RecordOptions, RecordReport};
use crate::dataset::recorded::scorer::Scorer;
use crate::dataset::recorded::store::{
    CellKey, JUDGED_FILE, JudgeRecord, Record, STORE_FILE, Store,
};
use crate::dataset::{self, Dataset, LoadOptions, tokens::estimate_tokens};
use crate::error::{Diagnostic, InputError};
use crate::pricing::{ModelPrice, PriceBook, Usage};
use crate::provider::client::http_client;
use crate::provider::config::{self, Providers};
use anyhow::{Context, Result};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

/// Everything a run needs, read and checked before the first call.
pub(super) struct Session<'a> {
    o: &'a RecordOptions,
    ds: Dataset,
    providers: Providers,
    /// Lanes by provider name.
    lanes: HashMap<String, Arc<Lane>>,
    /// Prices by dataset model name.
    prices: HashMap<String, ModelPrice>,
    scorer: Option<Scorer>,
    judge: Option<JudgeSetup>,
}

/// Counters and the ledger, shared by the calls in flight.
struct Progress {
    stop: AtomicBool,
    ledger: Mutex<SpendLedger>,
    skipped: AtomicUsize,
    calls: AtomicUsize,
    judged: AtomicUsize,
    statuses: Mutex<BTreeMap<String, usize>>,
    overheads: Mutex<Vec<f64>>,
    bar: indicatif::ProgressBar,
}

/// Where finished work goes (the stores' writer threads).
#[derive(Clone)]
struct Sinks {
    answers: mpsc::Sender<Record>,
    verdicts: Option<mpsc::Sender<JudgeRecord>>,
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
    /// Read the dataset, providers, prices and judge; every problem is reported at once.
    pub fn open(o: &'a RecordOptions) -> Result<Session<'a>> {
        if !o.dataset.is_dir() {
            return Err(InputError::file(
                &o.dataset,
                "recording needs a dataset folder (the store is written into it)",
            )
            .into());
        }
        let ds = dataset::load(&o.dataset, &LoadOptions { limit: o.limit })?;
        let providers: Providers = config::load(&o.providers)?;
        let providers_file = o.providers.to_string_lossy();
        let mut diags = Vec::new();
        let mut lanes: HashMap<String, Arc<Lane>> = HashMap::new();
        for m in &o.models {
            match providers.for_model(m) {
                Some(p) => {
                    lanes.entry(p.name.clone()).or_insert_with(|| Lane::new(p));
                }
                None => diags.push(Diagnostic::file(
                    providers_file.clone(),
                    format!(
                        "no provider serves model \"{m}\" (add it to a provider's models table)"
                    ),
                )),
            }
        }
        let scorer = dataset::config::read(&o.dataset)
            .ok()
            .and_then(|c| c.scorer);
        let mut files = ds.pricing_files.clone();
        files.extend(o.pricing.iter().cloned());
        let book = PriceBook::load(&files, crate::pricing::today_days())?;
        let mut judge = None;
        if let Some(Scorer::Judge(j)) = &scorer {
            match providers.by_name(&j.provider) {
                None => diags.push(Diagnostic::file(
                    providers_file.clone(),
                    format!(
                        "the dataset's judge uses provider \"{}\", which providers.toml does not define",
                        j.provider
                    ),
                )),
                Some(jp) => {
                    let lane = lanes
                        .entry(jp.name.clone())
                        .or_insert_with(|| Lane::new(jp))
                        .clone();
                    match book.resolve(std::slice::from_ref(&j.model)) {
                        Ok(mut p) => {
                            judge = Some(JudgeSetup {
                                judge: j.clone(),
                                lane,
                                model_id: jp.model_id(&j.model).unwrap_or(&j.model).to_string(),
                                price: p.remove(0),
                                name: format!("{}/{}", jp.name, j.model),
                            })
                        }
                        Err(e) => diags.extend(e.diagnostics),
                    }
                }
            }
        }
        for l in lanes.values() {
            if let Some(env) = &l.provider.api_key_env
                && l.key.is_none()
            {
                diags.push(Diagnostic::file(
                    providers_file.clone(),
                    format!(
                        "provider \"{}\": environment variable {env} is not set",
                        l.provider.name
                    ),
                ));
            }
        }
        let prices = match book.resolve(&o.models) {
            Ok(p) => o.models.iter().cloned().zip(p).collect(),
            Err(e) => {
                diags.extend(e.diagnostics);
                HashMap::new()
            }
        };
        if !diags.is_empty() {
            return Err(InputError::new(diags).into());
        }
        Ok(Session {
            o,
            ds,
            providers,
            lanes,
            prices,
            scorer,
            judge,
        })
    }

    /// Open the stores and plan the run: the cells still missing, and stored answers
    /// still waiting for a verdict.
    fn plan(&self) -> Result<(Plan, Store<Record>, Option<Store<JudgeRecord>>)> {
        let o = self.o;
        let store_path = o.dataset.join(STORE_FILE);
        let (store, stored) = Store::<Record>::open_with(&store_path)
            .with_context(|| format!("opening {}", store_path.display()))?;
        let done: HashSet<CellKey> = stored.iter().map(Record::key).collect();
        let (judge_store, unjudged) = match &self.judge {
            Some(_) => {
                let path = o.dataset.join(JUDGED_FILE);
                let (js, verdicts) = Store::<JudgeRecord>::open_with(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                // A judge call that failed (after its retries) is tried again next
                // run; an answered one, parseable or not, is final.
                let judged: HashSet<CellKey> = verdicts
                    .iter()
                    .filter(|v| v.status == "ok")
                    .map(JudgeRecord::key)
                    .collect();
                let unjudged: HashMap<CellKey, String> = stored
                    .into_iter()
                    .filter(|r| {
                        r.status == "ok" && r.quality.is_none() && !judged.contains(&r.key())
                    })
                    .map(|r| (r.key(), r.output.unwrap_or_default()))
                    .collect();
                (Some(js), unjudged)
            }
            None => (None, HashMap::new()),
        };
        let cells: Option<HashSet<(String, String)>> =
            o.cells.as_ref().map(|c| c.iter().cloned().collect());
        let wanted = Wanted {
            models: &o.models,
            samples: o.samples.max(1) as u32,
            cells: cells.as_ref(),
        };
        let plan = plan(&self.ds, &o.dataset, &wanted, &done, &unjudged)?;
        Ok((plan, store, judge_store))
    }

    /// Run the session: plan, call every task with bounded concurrency, store, report.
    pub fn run(self) -> Result<RecordReport> {
        let (plan, store, judge_store) = self.plan()?;
        let planned = plan.planned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let client = http_client(self.o.concurrency.max(1))?;
        let progress = Progress {
            stop: AtomicBool::new(false),
            ledger: Mutex::new(SpendLedger::new(self.o.max_spend)),
            skipped: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            judged: AtomicUsize::new(0),
            statuses: Mutex::new(BTreeMap::new()),
            overheads: Mutex::new(Vec::new()),
            bar: progress_bar(self.o.quiet, plan.tasks.len()),
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
        Ok(self.report(progress, planned, written, plan.already, t0))
    }

    /// One task: reserve its worst case, call the model (unless only judging), store
    /// the answer, judge it, book the spend.
    async fn task(&self, t: Task, client: &reqwest::Client, pr: &Progress, sinks: &Sinks) {
        if pr.stop.load(Ordering::SeqCst) {
            pr.skipped.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let worst = self.worst_case(&t);
        if !pr
            .ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_reserve(worst)
        {
            pr.stop.store(true, Ordering::SeqCst);
            pr.skipped.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let (answer, cost) = match &t.judge_only {
            Some(a) => (Some(a.clone()), 0.0),
            None => {
                let rec = self.call(&t, client, pr).await;
                let ok = rec.status == "ok";
                let cost = rec.cost_usd;
                let output = rec.output.clone().unwrap_or_default();
                self.store(rec, pr, sinks);
                (ok.then_some(output), cost)
            }
        };
        let judge_cost = match answer {
            Some(a) => self.judge(&t, &a, client, pr, sinks).await,
            None => 0.0,
        };
        let mut l = pr.ledger.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Call the model for a cell and turn the outcome into a record (priced and
    /// scored).
    async fn call(&self, t: &Task, client: &reqwest::Client, pr: &Progress) -> Record {
        let lane = self.lane(&t.model);
        let p = &lane.provider;
        let model_id = p.model_id(&t.model).unwrap_or(&t.model);
        let prompt = self.ds.requests.input.get(t.req);
        let est_in = self.ds.requests.input_tokens[t.req].max(estimate_tokens(prompt));
        let (out, n_calls) = lane
            .call(client, model_id, prompt, est_in + p.max_tokens)
            .await;
        pr.calls.fetch_add(n_calls as usize, Ordering::SeqCst);
        if let Some(us) = out.server_us {
            pr.overheads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(out.latency_ms - us as f64 / 1000.0);
        }
        let ok = out.status.is_ok();
        let output = out.output.clone().unwrap_or_default();
        let bill = billed(&out, prompt, &output, &self.prices[&t.model]);
        let quality = match &self.scorer {
            Some(s) if ok => s.score(&output, self.reference(t.req)),
            _ => None,
        };
        Record {
            request_id: self.ds.requests.ids[t.req].clone(),
            model: t.model.clone(),
            sample: t.sample,
            status: out.status.to_string(),
            output: out.output,
            input_tokens: Some(bill.input_tokens),
            output_tokens: ok.then_some(bill.output_tokens),
            cached_tokens: out.usage.cached_tokens,
            cache_write_tokens: out.usage.cache_write_tokens,
            reasoning_tokens: out.usage.reasoning_tokens,
            latency_ms: round3(out.latency_ms),
            ttft_ms: out.ttft_ms.map(round3),
            retry_after_ms: out.retry_after_ms,
            quality,
            cost_usd: bill.cost_usd,
            provider: p.name.clone(),
            attempts: n_calls,
            error: out.error,
            recorded_at: now_utc(),
        }
    }

    /// Hand a record to the store's writer thread, which appends it at once — before
    /// any judge call: a paid answer is never held back.
    fn store(&self, rec: Record, pr: &Progress, sinks: &Sinks) {
        *pr.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(rec.status.clone())
            .or_default() += 1;
        let _ = sinks.answers.send(rec);
    }

    /// Judge a stored answer (when the dataset's scorer is a judge); returns the
    /// judge call's cost.
    async fn judge(
        &self,
        t: &Task,
        answer: &str,
        client: &reqwest::Client,
        pr: &Progress,
        sinks: &Sinks,
    ) -> f64 {
        let (Some(js), Some(tx)) = (&self.judge, &sinks.verdicts) else {
            return 0.0;
        };
        let prompt = js.judge.prompt(
            self.ds.requests.input.get(t.req),
            answer,
            self.reference(t.req),
        );
        let tokens = estimate_tokens(&prompt) + js.lane.provider.max_tokens;
        let (out, n_calls) = js.lane.call(client, &js.model_id, &prompt, tokens).await;
        pr.calls.fetch_add(n_calls as usize, Ordering::SeqCst);
        let about = Judged {
            request_id: &self.ds.requests.ids[t.req],
            model: &t.model,
            sample: t.sample,
        };
        let rec = js.record(&about, &prompt, &out, now_utc());
        let cost = rec.cost_usd;
        let _ = tx.send(rec);
        pr.judged.fetch_add(1, Ordering::SeqCst);
        cost
    }

    /// What the run did.
    fn report(
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
        RecordReport {
            planned,
            recorded,
            already,
            skipped_by_cap: pr.skipped.into_inner(),
            spend_usd: ledger.spent(),
            judged: pr.judged.into_inner(),
            judge_spend_usd: ledger.judge,
            statuses: pr.statuses.into_inner().unwrap_or_default(),
            calls: pr.calls.into_inner(),
            elapsed_s: t0.elapsed().as_secs_f64(),
            overhead_ms: (!ov.is_empty()).then(|| (q(0.5), q(0.99))),
        }
    }
}

fn progress_bar(quiet: bool, len: usize) -> indicatif::ProgressBar {
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
