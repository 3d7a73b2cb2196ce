//! One recording run, step by step: open (dataset, providers, prices, judge), plan
//! the cells, preflight, call, score or judge, store, report.

use super::cost::{Answerer, Bill, billed};
use super::judge::{JudgeSetup, Judged};
use super::lane::Lane;
use super::ledger::SpendLedger;
use super::plan::{Plan, Task, Wanted, plan};
use super::preflight::{self, Probe};
use super::{RecordOptions, RecordReport, Stopped};
use crate::dataset::recorded::scorer::Scorer;
use crate::dataset::recorded::store::{
    self, CellKey, JUDGED_FILE, JudgeRecord, Record, STORE_FILE, Store,
};
use crate::dataset::{self, Dataset, LoadOptions, tokens::estimate_tokens};
use crate::error::{Diagnostic, InputError};
use crate::pricing::{ModelPrice, PriceBook, Usage};
use crate::provider::client::{CallOutcome, http_client};
use crate::provider::config::{self, Providers};
use crate::provider::served;
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
    /// Prices by dataset model name (the models asked for).
    prices: HashMap<String, ModelPrice>,
    /// Every price source (for models that answer in place of another).
    book: PriceBook,
    scorer: Option<Scorer>,
    judge: Option<JudgeSetup>,
}

/// Counters, the ledger and the stop flag, shared by the calls in flight.
struct Progress {
    /// Set by the spend cap or by a call that got no answer: start nothing more.
    stop: AtomicBool,
    stopped: Mutex<Option<Stopped>>,
    ledger: Mutex<SpendLedger>,
    skipped_by_cap: AtomicUsize,
    not_started: AtomicUsize,
    calls: AtomicUsize,
    judged: AtomicUsize,
    statuses: Mutex<BTreeMap<String, usize>>,
    /// (asked, served) → answers served by another model.
    served_other: Mutex<BTreeMap<(String, String), usize>>,
    /// Answers of an unpriced served model, priced at the asked model's price.
    asked_priced: AtomicUsize,
    overheads: Mutex<Vec<f64>>,
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(cap: Option<f64>, bar: indicatif::ProgressBar) -> Progress {
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

    fn ledger(&self) -> std::sync::MutexGuard<'_, SpendLedger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop the run for good (the first reason is kept).
    fn halt(&self, why: Stopped) {
        self.stop.store(true, Ordering::SeqCst);
        let mut s = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if s.is_none() {
            *s = Some(why);
        }
    }
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

/// The stores' contents when the run starts.
struct Stored {
    answers: Vec<Record>,
    verdicts: Vec<JudgeRecord>,
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
        let ds = dataset::load_prompts(&o.dataset, &LoadOptions { limit: o.limit })?;
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
            book,
            scorer,
            judge,
        })
    }

    /// Read what the stores hold (a torn last line is ignored).
    fn stored(&self) -> Result<Stored> {
        let path = self.o.dataset.join(STORE_FILE);
        let answers = store::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let verdicts = match &self.judge {
            Some(_) => {
                let path = self.o.dataset.join(JUDGED_FILE);
                store::read_as(&path).with_context(|| format!("reading {}", path.display()))?
            }
            None => Vec::new(),
        };
        Ok(Stored { answers, verdicts })
    }

    /// Plan the run: the cells still missing, and stored answers still waiting for a
    /// verdict.
    fn plan(&self, stored: Stored) -> Result<Plan> {
        let o = self.o;
        let done: HashSet<CellKey> = stored.answers.iter().map(Record::key).collect();
        let unjudged: HashMap<CellKey, String> = match &self.judge {
            Some(_) => {
                // A judge call that failed (after its retries) is tried again next
                // run; an answered one, parseable or not, is final.
                let judged: HashSet<CellKey> = stored
                    .verdicts
                    .iter()
                    .filter(|v| v.status == "ok")
                    .map(JudgeRecord::key)
                    .collect();
                stored
                    .answers
                    .into_iter()
                    .filter(|r| {
                        r.status == "ok" && r.quality.is_none() && !judged.contains(&r.key())
                    })
                    .map(|r| (r.key(), r.output.unwrap_or_default()))
                    .collect()
            }
            None => HashMap::new(),
        };
        let cells: Option<HashSet<(String, String)>> =
            o.cells.as_ref().map(|c| c.iter().cloned().collect());
        let wanted = Wanted {
            models: &o.models,
            samples: o.samples.max(1) as u32,
            cells: cells.as_ref(),
        };
        Ok(plan(&self.ds, &o.dataset, &wanted, &done, &unjudged)?)
    }

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

    /// One cheap call per (provider, model) with cells to record (and the judge):
    /// stop before anything is recorded when one gets no answer. Its cost is booked.
    async fn preflight(
        &self,
        client: &reqwest::Client,
        plan: &Plan,
        pr: &Progress,
    ) -> Result<Vec<preflight::Checked>> {
        let mut models: Vec<&str> = plan
            .tasks
            .iter()
            .filter(|t| t.judge_only.is_none())
            .map(|t| t.model.as_str())
            .collect();
        models.sort_unstable();
        models.dedup();
        let mut probes: Vec<Probe<'_>> = models
            .iter()
            .map(|m| {
                let lane = self.lane(m);
                Probe {
                    lane,
                    model: m,
                    model_id: lane.provider.model_id(m).unwrap_or(m),
                }
            })
            .collect();
        if let Some(js) = &self.judge
            && !plan.tasks.is_empty()
        {
            probes.push(Probe {
                lane: &js.lane,
                model: &js.judge.model,
                model_id: &js.model_id,
            });
        }
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        match preflight::check(client, &probes).await {
            Ok(checked) => {
                let mut spent = 0.0;
                for (c, out) in &checked {
                    let price = match self.prices.get(&c.model) {
                        Some(p) => p,
                        None => match &self.judge {
                            Some(js) => &js.price,
                            None => continue,
                        },
                    };
                    let output = out.output.as_deref().unwrap_or("");
                    spent +=
                        billed(out, preflight::PROMPT, output, price, Answerer::Asked).cost_usd;
                }
                pr.ledger().preflight += spent;
                Ok(checked.into_iter().map(|(c, _)| c).collect())
            }
            Err(problems) => anyhow::bail!(
                "the preflight stopped the run before any cell was recorded (--no-preflight skips it):\n  {}",
                problems.join("\n  ")
            ),
        }
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

    /// Call the model for a cell: the answer as a record (priced and scored), or
    /// `None` — the run stops — when the call got no answer after its retries.
    async fn call(&self, t: &Task, client: &reqwest::Client, pr: &Progress) -> Option<Record> {
        let lane = self.lane(&t.model);
        let p = &lane.provider;
        let model_id = p.model_id(&t.model).unwrap_or(&t.model);
        let prompt = self.ds.requests.input.get(t.req);
        let est_in = self.ds.requests.input_tokens[t.req].max(estimate_tokens(prompt));
        let t0 = Instant::now();
        let (out, n_calls) = lane
            .call(client, model_id, prompt, est_in + p.max_tokens, &pr.stop)
            .await;
        pr.calls.fetch_add(n_calls as usize, Ordering::SeqCst);
        if let Some(fault) = out.fault {
            pr.halt(Stopped {
                provider: p.name.clone(),
                model: t.model.clone(),
                model_id: model_id.to_string(),
                base_url: p.base_url.clone(),
                fault,
                error: out.error.unwrap_or_default(),
                calls: n_calls,
                seconds: t0.elapsed().as_secs_f64(),
            });
            return None;
        }
        if let Some(us) = out.server_us {
            pr.overheads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(out.latency_ms - us as f64 / 1000.0);
        }
        let ok = out.status.is_ok();
        let output = out.output.clone().unwrap_or_default();
        let answered = served::answered(model_id, &out.served).filter(|a| a.other);
        let served_model = answered.map(|a| served::dataset_name(p, &a.id));
        let served_id = out.served.deployment.clone().or(out.served.model.clone());
        let bill = self.bill(t, &out, prompt, &output, served_model.as_deref(), pr);
        let quality = match &self.scorer {
            Some(s) if ok => s.score(&output, self.reference(t.req)),
            _ => None,
        };
        Some(Record {
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
            cost_source: bill.source.map(String::from),
            served_model,
            served_id,
            response_id: out.response_id,
            provider: p.name.clone(),
            attempts: n_calls,
            concurrency: Some(self.concurrency(lane)),
            error: out.error,
            recorded_at: now_utc(),
        })
    }

    /// Tokens and cost of an answer: the gateway's figure, else the price of the
    /// model that answered (the asked model's when that one has none, counted).
    fn bill(
        &self,
        t: &Task,
        out: &CallOutcome,
        prompt: &str,
        output: &str,
        served_model: Option<&str>,
        pr: &Progress,
    ) -> Bill {
        let asked = &self.prices[&t.model];
        let served_price = served_model.map(|name| {
            self.book.lookup(name).or_else(|| {
                out.served
                    .deployment
                    .as_deref()
                    .and_then(|d| self.book.lookup(d))
            })
        });
        let who = match &served_price {
            None => Answerer::Asked,
            Some(p) => Answerer::Other(p.as_ref()),
        };
        if let Some(name) = served_model
            && out.status.is_ok()
        {
            *pr.served_other
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry((t.model.clone(), name.to_string()))
                .or_default() += 1;
        }
        let bill = billed(out, prompt, output, asked, who);
        if bill.source == Some("asked price") {
            pr.asked_priced.fetch_add(1, Ordering::SeqCst);
        }
        bill
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
    /// judge call's cost. A judge call without an answer stores no verdict and stops
    /// the run.
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
        let t0 = Instant::now();
        let (out, n_calls) = js
            .lane
            .call(client, &js.model_id, &prompt, tokens, &pr.stop)
            .await;
        pr.calls.fetch_add(n_calls as usize, Ordering::SeqCst);
        if let Some(fault) = out.fault {
            let p = &js.lane.provider;
            pr.halt(Stopped {
                provider: p.name.clone(),
                model: format!("{} (the judge)", js.judge.model),
                model_id: js.model_id.clone(),
                base_url: p.base_url.clone(),
                fault,
                error: out.error.unwrap_or_default(),
                calls: n_calls,
                seconds: t0.elapsed().as_secs_f64(),
            });
            return 0.0;
        }
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

    /// What the run did, and what the user should know about its figures.
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
