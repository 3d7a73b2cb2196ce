//! Opening a run: the dataset, providers, prices and judge (every problem reported
//! at once), what the stores already hold, the plan, and the preflight.

use super::Session;
use super::progress::Progress;
use crate::dataset::recorded::scorer::Scorer;
use crate::dataset::recorded::store::{
    self, CellKey, JUDGED_FILE, JudgeRecord, Record, STORE_FILE,
};
use crate::dataset::{self, LoadOptions};
use crate::error::{Diagnostic, InputError};
use crate::pricing::PriceBook;
use crate::provider::config::{self, Providers};
use crate::provider::recorder::RecordOptions;
use crate::provider::recorder::cost::{Answerer, billed};
use crate::provider::recorder::judge::JudgeSetup;
use crate::provider::recorder::lane::Lane;
use crate::provider::recorder::plan::{Plan, Wanted, plan};
use crate::provider::recorder::preflight::{self, Probe};
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The stores' contents when the run starts.
pub(super) struct Stored {
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
    pub(super) fn stored(&self) -> Result<Stored> {
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
    pub(super) fn plan(&self, stored: Stored) -> Result<Plan> {
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

    /// One cheap call per (provider, model) with cells to record (and the judge):
    /// stop before anything is recorded when one gets no answer. Its cost is booked.
    pub(super) async fn preflight(
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
}
