//! `routesim record`: fill (request, model) cells by calling providers.
//!
//! Calls run on an explicitly built tokio runtime with bounded concurrency overall and
//! per provider, token-bucket rate limits (rpm, tpm), retries with exponential back-off
//! that honours `retry-after`, and per-call timeouts. A spend cap reserves each call's
//! worst-case cost (prompt + `max_tokens` at list price) before it starts, so the run
//! stops *before* the cap would be exceeded. Every outcome — success or final error —
//! is appended to the store as soon as it is known.
//!
//! With an LLM judge as the dataset's scorer, the answer is stored first and the judge
//! call made after (its verdict goes to `judged.jsonl`); the judge's calls are priced
//! and count against the spend cap like any other. Stored answers that have no verdict
//! yet (a crash between the two calls) are judged by the next run without calling the
//! model again.

use super::client::{CallOutcome, call_once, http_client};
use super::config::{self, Provider, Providers};
use crate::dataset::recorded::scorer::{Judge, Scorer};
use crate::dataset::recorded::store::{CellKey, JUDGED_FILE, JudgeRecord, Record, STORE_FILE, Store};
use crate::dataset::{self, Dataset, LoadOptions, Status, tokens::estimate_tokens};
use crate::error::{Diagnostic, InputError};
use crate::pricing::{ModelPrice, PriceBook, Usage};
use anyhow::{Context, Result};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of a recording run.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Dataset folder (the store is `<folder>/recorded.jsonl`).
    pub dataset: PathBuf,
    /// Models to fill (dataset model names; new models may be added).
    pub models: Vec<String>,
    /// providers.toml.
    pub providers: PathBuf,
    /// Samples per cell.
    pub samples: usize,
    /// Stop before spending more than this (USD).
    pub max_spend: Option<f64>,
    /// Calls in flight overall.
    pub concurrency: usize,
    /// Extra pricing files.
    pub pricing: Vec<PathBuf>,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Only these (request id, model) cells (used by `run --missing live`).
    pub cells: Option<Vec<(String, String)>>,
    /// No progress bar.
    pub quiet: bool,
}

/// What a recording run did.
#[derive(Debug, Clone, Default)]
pub struct RecordReport {
    /// Cells that needed a call.
    pub planned: usize,
    /// Records written this run.
    pub recorded: usize,
    /// Cells found already recorded.
    pub already: usize,
    /// Cells not called because of the spend cap.
    pub skipped_by_cap: usize,
    /// Spend of this run (sum of recorded costs, judge calls included), USD.
    pub spend_usd: f64,
    /// Judge verdicts written this run (0 without a judge).
    pub judged: usize,
    /// Of `spend_usd`, what the judge calls cost.
    pub judge_spend_usd: f64,
    /// Final statuses.
    pub statuses: BTreeMap<String, usize>,
    /// Calls made (retries included).
    pub calls: usize,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Client-side overhead (latency − server time) p50 and p99, ms, when the server
    /// reports its service time (the mock provider does).
    pub overhead_ms: Option<(f64, f64)>,
}

struct Bucket {
    capacity: f64,
    tokens: f64,
    per_ms: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_minute: f64) -> Mutex<Bucket> {
        // Bursts up to a tenth of a minute's allowance.
        let capacity = (per_minute / 10.0).max(1.0);
        Mutex::new(Bucket {
            capacity,
            tokens: capacity,
            per_ms: per_minute / 60_000.0,
            last: Instant::now(),
        })
    }
}

async fn take(bucket: &Mutex<Bucket>, n: f64) {
    loop {
        let wait_ms = {
            let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let el = now.duration_since(b.last).as_secs_f64() * 1000.0;
            b.tokens = (b.tokens + el * b.per_ms).min(b.capacity);
            b.last = now;
            let need = n.min(b.capacity);
            if b.tokens >= need {
                b.tokens -= need;
                return;
            }
            (need - b.tokens) / b.per_ms
        };
        tokio::time::sleep(Duration::from_secs_f64(wait_ms / 1000.0)).await;
    }
}

struct Lane {
    provider: Provider,
    key: Option<String>,
    permits: tokio::sync::Semaphore,
    rpm: Option<Mutex<Bucket>>,
    tpm: Option<Mutex<Bucket>>,
}

struct Task {
    req: usize,
    model: String,
    model_id: String,
    sample: u32,
    /// A stored answer that only needs the judge (no model call).
    judge_only: Option<String>,
}

/// The dataset's LLM judge, ready to call.
struct JudgeSetup {
    judge: Judge,
    lane: Arc<Lane>,
    model_id: String,
    price: ModelPrice,
    /// `provider/model`, as recorded.
    name: String,
}

fn new_lane(p: &Provider) -> Arc<Lane> {
    Arc::new(Lane {
        provider: p.clone(),
        key: p.api_key(),
        permits: tokio::sync::Semaphore::new(p.max_concurrency),
        rpm: p.rpm.map(|r| Bucket::new(r as f64)),
        tpm: p.tpm.map(|t| Bucket::new(t as f64)),
    })
}

/// One call through a lane: wait for a concurrency permit and the rate limits
/// (`tokens` against tpm), then call with retries. Returns the outcome and the number
/// of calls made.
async fn call_in_lane(
    client: &reqwest::Client,
    lane: &Lane,
    model_id: &str,
    prompt: &str,
    tokens: u32,
) -> (CallOutcome, u32) {
    let _permit = lane.permits.acquire().await.ok();
    if let Some(b) = &lane.rpm {
        take(b, 1.0).await;
    }
    if let Some(b) = &lane.tpm {
        take(b, tokens as f64).await;
    }
    call_with_retries(client, lane, model_id, prompt).await
}

/// Token counts of a finished call (usage when reported, else estimated from the
/// texts) and its price: (input, output, cost); failures cost 0.
fn billed(out: &CallOutcome, prompt: &str, output: &str, price: &ModelPrice) -> (u32, u32, f64) {
    let in_tok = out
        .usage
        .input_tokens
        .unwrap_or_else(|| estimate_tokens(prompt));
    let out_tok = out
        .usage
        .output_tokens
        .unwrap_or_else(|| estimate_tokens(output));
    let cached = out.usage.cached_tokens.unwrap_or(0).min(in_tok);
    let reasoning = out.usage.reasoning_tokens.unwrap_or(0).min(out_tok);
    let cost = if out.status.is_ok() {
        price.cost(&Usage {
            input_tokens: in_tok,
            cached_tokens: cached,
            cache_write_tokens: out.usage.cache_write_tokens.unwrap_or(0),
            output_tokens: out_tok,
            reasoning_tokens: reasoning,
        })
    } else {
        0.0
    };
    (in_tok, out_tok, cost)
}

fn now_utc() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    crate::dataset::time::format_ts(ms)
}

fn status_text(s: Status) -> String {
    s.to_string()
}

/// Call with retries; returns the last outcome and the number of calls.
async fn call_with_retries(
    client: &reqwest::Client,
    lane: &Lane,
    model_id: &str,
    prompt: &str,
) -> (CallOutcome, u32) {
    let p = &lane.provider;
    let mut calls = 0;
    loop {
        calls += 1;
        let out = call_once(client, p, model_id, prompt, lane.key.as_deref()).await;
        if out.status.is_ok() || !out.retryable || calls > p.retries {
            return (out, calls);
        }
        let mut wait = p.backoff_ms as f64 * 2f64.powi(calls as i32 - 1);
        if let Some(ra) = out.retry_after_ms {
            wait = wait.max(ra);
        }
        tokio::time::sleep(Duration::from_secs_f64(wait.min(120_000.0) / 1000.0)).await;
    }
}

/// Record the missing cells.
pub fn record(o: &RecordOptions) -> Result<RecordReport> {
    if !o.dataset.is_dir() {
        return Err(InputError::file(
            &o.dataset,
            "recording needs a dataset folder (the store is written into it)",
        )
        .into());
    }
    let ds = dataset::load(&o.dataset, &LoadOptions { limit: o.limit })?;
    let providers: Providers = config::load(&o.providers)?;
    let mut diags = Vec::new();
    let mut lanes: HashMap<String, Arc<Lane>> = HashMap::new();
    for m in &o.models {
        match providers.for_model(m) {
            Some(p) => {
                lanes.entry(p.name.clone()).or_insert_with(|| new_lane(p));
            }
            None => diags.push(Diagnostic::file(
                o.providers.to_string_lossy(),
                format!("no provider serves model \"{m}\" (add it to a provider's models table)"),
            )),
        }
    }
    let scorer = dataset::config::read(&o.dataset)
        .ok()
        .and_then(|c| c.scorer);
    let mut files = ds.pricing_files.clone();
    files.extend(o.pricing.iter().cloned());
    let book = PriceBook::load(&files, crate::pricing::today_days())?;
    let mut judge: Option<JudgeSetup> = None;
    if let Some(Scorer::Judge(j)) = &scorer {
        match providers.by_name(&j.provider) {
            None => diags.push(Diagnostic::file(
                o.providers.to_string_lossy(),
                format!(
                    "the dataset's judge uses provider \"{}\", which providers.toml does not define",
                    j.provider
                ),
            )),
            Some(jp) => {
                let lane = lanes
                    .entry(jp.name.clone())
                    .or_insert_with(|| new_lane(jp))
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
                o.providers.to_string_lossy(),
                format!(
                    "provider \"{}\": environment variable {env} is not set",
                    l.provider.name
                ),
            ));
        }
    }
    let prices: Vec<ModelPrice> = match book.resolve(&o.models) {
        Ok(p) => p,
        Err(e) => {
            diags.extend(e.diagnostics);
            Vec::new()
        }
    };
    if !diags.is_empty() {
        return Err(InputError::new(diags).into());
    }
    let price_of: HashMap<&str, &ModelPrice> = o
        .models
        .iter()
        .map(|m| m.as_str())
        .zip(prices.iter())
        .collect();

    let store_path = o.dataset.join(STORE_FILE);
    let (store, stored) = Store::<Record>::open_with(&store_path)
        .with_context(|| format!("opening {}", store_path.display()))?;
    let done: HashSet<CellKey> = stored.iter().map(Record::key).collect();
    // With a judge: its store, and the stored answers still waiting for a verdict.
    let (judge_store, unjudged) = match &judge {
        Some(_) => {
            let path = o.dataset.join(JUDGED_FILE);
            let (js, verdicts) = Store::<JudgeRecord>::open_with(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            // A judge call that failed (after its retries) is tried again next run;
            // an answered one, parseable or not, is final.
            let judged: HashSet<CellKey> = verdicts
                .iter()
                .filter(|v| v.status == "ok")
                .map(JudgeRecord::key)
                .collect();
            let unjudged: HashMap<CellKey, String> = stored
                .into_iter()
                .filter(|r| r.status == "ok" && r.quality.is_none() && !judged.contains(&r.key()))
                .map(|r| (r.key(), r.output.unwrap_or_default()))
                .collect();
            (Some(js), unjudged)
        }
        None => (None, HashMap::new()),
    };

    // Cells to fill.
    let wanted: Option<HashSet<(String, String)>> =
        o.cells.as_ref().map(|c| c.iter().cloned().collect());
    let samples = o.samples.max(1) as u32;
    let task = |req: usize, model: &String, sample: u32, judge_only: Option<String>| Task {
        req,
        model: model.clone(),
        model_id: providers
            .for_model(model)
            .and_then(|p| p.model_id(model))
            .unwrap_or(model)
            .to_string(),
        sample,
        judge_only,
    };
    let mut tasks = Vec::new();
    let mut already = 0usize;
    let mut no_input = Vec::new();
    for r in 0..ds.n_requests() {
        let id = &ds.requests.ids[r];
        for m in &o.models {
            if let Some(w) = &wanted
                && !w.contains(&(id.clone(), m.clone()))
            {
                continue;
            }
            let have = ds.model_id(m).map(|mid| ds.n_samples(r, mid)).unwrap_or(0) as u32;
            for k in 0..samples {
                let key: CellKey = (id.clone(), m.clone(), k);
                if k < have || done.contains(&key) {
                    already += 1;
                    if let Some(answer) = unjudged.get(&key) {
                        tasks.push(task(r, m, k, Some(answer.clone())));
                    }
                    continue;
                }
                if ds.requests.input.get(r).is_empty() {
                    no_input.push(id.clone());
                    continue;
                }
                tasks.push(task(r, m, k, None));
            }
        }
    }
    if !no_input.is_empty() {
        no_input.dedup();
        return Err(InputError::one(Diagnostic::file(
            o.dataset.to_string_lossy(),
            format!(
                "{} requests have no input text to send (e.g. \"{}\")",
                no_input.len(),
                no_input[0]
            ),
        ))
        .into());
    }
    let planned = tasks.iter().filter(|t| t.judge_only.is_none()).count();
    let n_tasks = tasks.len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = http_client(o.concurrency.max(1))?;
    let bar = if o.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(n_tasks as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} calls · {per_sec} · ETA {eta} · {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let stop = AtomicBool::new(false);
    let spend = Mutex::new((0.0f64, 0.0f64, 0.0f64)); // (spent, reserved, of which judge)
    let skipped = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    let judged = AtomicUsize::new(0);
    let statuses: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let overheads: Mutex<Vec<f64>> = Mutex::new(Vec::new());
    let tx = store.sender();
    let jtx = judge_store.as_ref().map(|s| s.sender());
    let t0 = Instant::now();
    let ds_ref: &Dataset = &ds;
    rt.block_on(async {
        futures_util::stream::iter(tasks)
            .for_each_concurrent(o.concurrency.max(1), |t| {
                let (client, lanes, tx, jtx, bar) =
                    (&client, &lanes, tx.clone(), jtx.clone(), &bar);
                let (stop, spend, skipped, calls, judged, statuses, overheads) = (
                    &stop, &spend, &skipped, &calls, &judged, &statuses, &overheads,
                );
                let (price_of, scorer, providers, judge) = (&price_of, &scorer, &providers, &judge);
                async move {
                    if stop.load(Ordering::SeqCst) {
                        skipped.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    let lane = lanes[&providers.for_model(&t.model).expect("checked").name].clone();
                    let price = price_of[t.model.as_str()];
                    let prompt = ds_ref.requests.input.get(t.req);
                    let reference = ds_ref
                        .requests
                        .reference
                        .as_ref()
                        .map(|c| c.get(t.req))
                        .filter(|s| !s.is_empty());
                    let est_in = ds_ref.requests.input_tokens[t.req].max(estimate_tokens(prompt));
                    // Worst case: the model call (unless only judging), then the judge
                    // reading template, question, answer and reference.
                    let mut worst = match &t.judge_only {
                        Some(_) => 0.0,
                        None => price.cost(&Usage::plain(est_in, lane.provider.max_tokens)),
                    };
                    if let Some(js) = judge {
                        let answer_tokens = match &t.judge_only {
                            Some(a) => estimate_tokens(a),
                            None => lane.provider.max_tokens,
                        };
                        let judge_in = estimate_tokens(&js.judge.template)
                            + est_in
                            + answer_tokens
                            + reference.map(estimate_tokens).unwrap_or(0);
                        worst += js
                            .price
                            .cost(&Usage::plain(judge_in, js.lane.provider.max_tokens));
                    }
                    if let Some(cap) = o.max_spend {
                        let mut s = spend.lock().unwrap_or_else(|e| e.into_inner());
                        if s.0 + s.1 + worst > cap {
                            stop.store(true, Ordering::SeqCst);
                            skipped.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        s.1 += worst;
                    }
                    let (answer, cost) = match &t.judge_only {
                        Some(a) => (Some(a.clone()), 0.0),
                        None => {
                            let (out, n_calls) = call_in_lane(
                                client,
                                &lane,
                                &t.model_id,
                                prompt,
                                est_in + lane.provider.max_tokens,
                            )
                            .await;
                            calls.fetch_add(n_calls as usize, Ordering::SeqCst);
                            if let Some(us) = out.server_us {
                                overheads
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .push(out.latency_ms - us as f64 / 1000.0);
                            }
                            let ok = out.status.is_ok();
                            let output = out.output.clone().unwrap_or_default();
                            let (in_tok, out_tok, cost) = billed(&out, prompt, &output, price);
                            let quality = match scorer {
                                Some(s) if ok => s.score(&output, reference),
                                _ => None,
                            };
                            let rec = Record {
                                request_id: ds_ref.requests.ids[t.req].clone(),
                                model: t.model.clone(),
                                sample: t.sample,
                                status: status_text(out.status),
                                output: out.output,
                                input_tokens: Some(in_tok),
                                output_tokens: ok.then_some(out_tok),
                                cached_tokens: out.usage.cached_tokens,
                                cache_write_tokens: out.usage.cache_write_tokens,
                                reasoning_tokens: out.usage.reasoning_tokens,
                                latency_ms: (out.latency_ms * 1000.0).round() / 1000.0,
                                ttft_ms: out.ttft_ms.map(|x| (x * 1000.0).round() / 1000.0),
                                retry_after_ms: out.retry_after_ms,
                                quality,
                                cost_usd: cost,
                                provider: lane.provider.name.clone(),
                                attempts: n_calls,
                                error: out.error,
                                recorded_at: now_utc(),
                            };
                            *statuses
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .entry(rec.status.clone())
                                .or_default() += 1;
                            // The store's writer thread appends it at once, before any
                            // judge call: a paid answer is never held back.
                            let _ = tx.send(rec);
                            (ok.then_some(output), cost)
                        }
                    };
                    let mut judge_cost = 0.0;
                    if let (Some(js), Some(answer), Some(jtx)) = (judge, answer, jtx) {
                        let jprompt = js.judge.prompt(prompt, &answer, reference);
                        let tokens = estimate_tokens(&jprompt) + js.lane.provider.max_tokens;
                        let (v, n_calls) =
                            call_in_lane(client, &js.lane, &js.model_id, &jprompt, tokens).await;
                        calls.fetch_add(n_calls as usize, Ordering::SeqCst);
                        let ok = v.status.is_ok();
                        let verdict = v.output.clone().unwrap_or_default();
                        judge_cost = billed(&v, &jprompt, &verdict, &js.price).2;
                        let _ = jtx.send(JudgeRecord {
                            request_id: ds_ref.requests.ids[t.req].clone(),
                            model: t.model.clone(),
                            sample: t.sample,
                            judge: js.name.clone(),
                            status: status_text(v.status),
                            quality: if ok { js.judge.parse(&verdict) } else { None },
                            verdict: ok.then(|| verdict.chars().take(2000).collect()),
                            cost_usd: judge_cost,
                            recorded_at: now_utc(),
                        });
                        judged.fetch_add(1, Ordering::SeqCst);
                    }
                    {
                        let mut s = spend.lock().unwrap_or_else(|e| e.into_inner());
                        if o.max_spend.is_some() {
                            s.1 -= worst;
                        }
                        s.0 += cost + judge_cost;
                        s.2 += judge_cost;
                        bar.set_message(format!("${:.4} spent", s.0));
                    }
                    bar.inc(1);
                }
            })
            .await;
    });
    drop(tx);
    drop(jtx);
    bar.finish_and_clear();
    let written = store.close().context("closing the store")?;
    if let Some(js) = judge_store {
        js.close().context("closing the judge store")?;
    }
    let (spent, _, judge_spent) = spend.into_inner().unwrap_or((0.0, 0.0, 0.0));
    let mut ov = overheads.into_inner().unwrap_or_default();
    ov.sort_by(f64::total_cmp);
    let overhead_ms = (!ov.is_empty()).then(|| {
        (
            crate::util::stats::quantile_sorted(&ov, 0.5).unwrap_or(f64::NAN),
            crate::util::stats::quantile_sorted(&ov, 0.99).unwrap_or(f64::NAN),
        )
    });
    Ok(RecordReport {
        planned,
        recorded: written,
        already,
        skipped_by_cap: skipped.into_inner(),
        spend_usd: spent,
        judged: judged.into_inner(),
        judge_spend_usd: judge_spent,
        statuses: statuses.into_inner().unwrap_or_default(),
        calls: calls.into_inner(),
        elapsed_s: t0.elapsed().as_secs_f64(),
        overhead_ms,
    })
}
