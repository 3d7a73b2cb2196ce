//! One cell: call the model, turn the outcome into a priced and scored record (or
//! stop the run when there is no answer), store it, judge it.

use super::progress::{Progress, Sinks};
use super::{Session, now_utc, round3};
use crate::dataset::recorded::store::Record;
use crate::dataset::tokens::estimate_tokens;
use crate::provider::client::CallOutcome;
use crate::provider::recorder::Stopped;
use crate::provider::recorder::cost::{Answerer, Bill, billed};
use crate::provider::recorder::judge::Judged;
use crate::provider::recorder::plan::Task;
use crate::provider::served;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Session<'_> {
    /// Call the model for a cell: the answer as a record (priced and scored), or
    /// `None` — the run stops — when the call got no answer after its retries.
    pub(super) async fn call(
        &self,
        t: &Task,
        client: &reqwest::Client,
        pr: &Progress,
    ) -> Option<Record> {
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
    pub(super) fn bill(
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
    pub(super) fn store(&self, rec: Record, pr: &Progress, sinks: &Sinks) {
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
    pub(super) async fn judge(
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
}
