//! Binding a policy to a dataset: resolves names (models, aliases, metadata keys,
//! tiers, levels) to ids and precomputes per-request tables, reporting unknown models,
//! missing metadata fields and conditions the data cannot answer at the policy file's
//! line and column — every problem at once. The result is a [`Bound`] policy.

use super::bound::*;
use super::costs::Costs;
use super::estimate::{EstimateSource, Objective, decision_table, fold_of, loo_table};
use crate::dataset::{Dataset, MetaColumn, ModelId, Status};
use crate::error::{Diagnostic, suggest};
use crate::policy::cond::{Cond, KeyRef, MetaOp, MetaValue, TextTest};
use crate::policy::gateway::{OverBudget, Scenario};
use crate::policy::route::{Constraints, Route, Strategy, TierSelect};
use crate::policy::{ModelRef, Policy};
use crate::pricing::ModelPrice;
use crate::tomlx::Span;
use crate::util::hash::{bucket_100, stable_hash};
use std::sync::Arc;

/// Shared inputs for binding.
pub struct BindCtx<'a> {
    /// Dataset.
    pub ds: &'a Dataset,
    /// Price per dataset model.
    pub prices: &'a [ModelPrice],
    /// Run seed.
    pub seed: u64,
    /// Whether arrivals follow the dataset's timestamps (`--arrival recorded`), so
    /// what-ifs given as timestamps can be placed on the virtual clock.
    pub recorded_clock: bool,
    /// `--speedup`: recorded gaps are divided by it (timestamp outages too).
    pub speedup: f64,
}

struct Binder<'a, 'p> {
    ctx: &'a BindCtx<'a>,
    p: &'p Policy,
    diags: Vec<Diagnostic>,
    /// Costs and latency factors with the policy's what-ifs, for learned routes.
    costs: Costs,
    latency_factor: Vec<f64>,
}

impl Binder<'_, '_> {
    fn err(&mut self, span: &Span, msg: String) {
        self.diags.push(self.p.diag(span, msg));
    }

    fn model(&mut self, m: &ModelRef) -> Option<ModelId> {
        let ds = self.ctx.ds;
        if let Some(d) = self.p.deployments.iter().find(|d| d.alias == m.name) {
            return match ds.model_id(&d.model) {
                Some(id) => Some(id),
                None => {
                    let span = d.span.clone();
                    let msg = format!(
                        "model \"{}\" (alias \"{}\") is not in the dataset{}",
                        d.model,
                        d.alias,
                        models_hint(ds, &d.model)
                    );
                    self.err(&span, msg);
                    None
                }
            };
        }
        match ds.model_id(&m.name) {
            Some(id) => Some(id),
            None => {
                let msg = format!(
                    "unknown model \"{}\": not an alias in [models] and not in the dataset{}",
                    m.name,
                    models_hint(ds, &m.name)
                );
                self.err(&m.span, msg);
                None
            }
        }
    }

    fn models(&mut self, ms: &[ModelRef]) -> Option<Vec<ModelId>> {
        let mut out = Vec::with_capacity(ms.len());
        let mut ok = true;
        for m in ms {
            match self.model(m) {
                Some(id) => out.push(id),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn candidates(&mut self, ms: &[ModelRef]) -> Option<Vec<ModelId>> {
        if ms.is_empty() {
            Some((0..self.ctx.ds.n_models() as ModelId).collect())
        } else {
            self.models(ms)
        }
    }

    fn meta_col(&mut self, key: &str, span: &Span) -> Option<usize> {
        let r = &self.ctx.ds.requests;
        match r.meta_index(key) {
            Some(i) => Some(i),
            None => {
                let names: Vec<&str> = r.meta.iter().map(|m| m.name.as_str()).collect();
                let hint = match suggest(key, names.iter().copied()) {
                    Some(s) => format!("; did you mean meta.{s}?"),
                    None if names.is_empty() => "; the dataset has no metadata fields".into(),
                    None => format!("; its fields: {}", names.join(", ")),
                };
                self.err(
                    span,
                    format!("condition on meta.{key}, but the dataset has no such field{hint}"),
                );
                None
            }
        }
    }

    fn key_col(&mut self, key: &KeyRef) -> Option<KeyCol> {
        let r = &self.ctx.ds.requests;
        match key {
            KeyRef::Id => Some(KeyCol {
                codes: Arc::new((0..r.len() as u32).collect()),
                n_codes: r.len(),
            }),
            KeyRef::Meta(k, span) => {
                let col = self.meta_col(k, span)?;
                let mc = &r.meta[col];
                Some(KeyCol {
                    codes: Arc::new(mc.codes.clone()),
                    n_codes: mc.dict.len(),
                })
            }
        }
    }

    /// A value per request from a key: `of` applied once per distinct value of the
    /// key (the request id, or a metadata field); a request without the field gets
    /// `absent` of its request id. `None` (with a diagnostic) for an unknown field.
    fn per_request<T: Clone>(
        &mut self,
        key: &KeyRef,
        of: impl Fn(&str) -> T,
        absent: impl Fn(&str) -> T,
    ) -> Option<Vec<T>> {
        let r = &self.ctx.ds.requests;
        match key {
            KeyRef::Id => Some(r.ids.iter().map(|id| of(id)).collect()),
            KeyRef::Meta(k, span) => {
                let col = self.meta_col(k, span)?;
                let mc = &r.meta[col];
                let per_code: Vec<T> = mc.dict.iter().map(|v| of(v)).collect();
                Some(
                    mc.codes
                        .iter()
                        .zip(&r.ids)
                        .map(|(&c, id)| {
                            if c == MetaColumn::NONE {
                                absent(id)
                            } else {
                                per_code[c as usize].clone()
                            }
                        })
                        .collect(),
                )
            }
        }
    }

    /// Stable uniform value in [0, 1) per request from a key (same key ⇒ same value;
    /// without the key, the request id's value — still stable).
    fn sticky_values(&mut self, key: &KeyRef, salt: &str) -> Option<Arc<Vec<f64>>> {
        let salted = |s: &str| {
            let mut b = salt.as_bytes().to_vec();
            b.push(0);
            b.extend_from_slice(s.as_bytes());
            (stable_hash(&b) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        };
        self.per_request(key, salted, salted).map(Arc::new)
    }

    fn cond(&mut self, c: &Cond) -> Option<BCond> {
        let ds = self.ctx.ds;
        Some(match c {
            Cond::Always => BCond::Always,
            Cond::Num { field, test, span } => {
                if field.needs_ts() && !ds.requests.has_timestamps() {
                    let msg = format!(
                        "condition on {}, but the dataset has no request timestamps (column ts)",
                        field.name()
                    );
                    self.err(span, msg);
                    return None;
                }
                BCond::Num(*field, *test)
            }
            Cond::Text(t) => BCond::Text(Arc::new(text_bits(t, &ds.requests.input))),
            Cond::Meta { key, span, ops } => {
                let col = self.meta_col(key, span)?;
                let mc = &ds.requests.meta[col];
                let mut parts = Vec::new();
                for op in ops {
                    parts.push(match op {
                        MetaOp::In(vals) => BCond::MetaCode {
                            col,
                            accept: mc
                                .dict
                                .iter()
                                .map(|d| vals.iter().any(|v| value_eq(v, d)))
                                .collect(),
                            absent: false,
                        },
                        MetaOp::NotIn(vals) => BCond::MetaCode {
                            col,
                            accept: mc
                                .dict
                                .iter()
                                .map(|d| !vals.iter().any(|v| value_eq(v, d)))
                                .collect(),
                            absent: true,
                        },
                        MetaOp::Regex(re) => BCond::MetaCode {
                            col,
                            accept: mc.dict.iter().map(|d| re.is_match(d)).collect(),
                            absent: false,
                        },
                        MetaOp::Exists(want) => BCond::MetaCode {
                            col,
                            accept: vec![*want; mc.dict.len()],
                            absent: !*want,
                        },
                        MetaOp::Num(test) => BCond::MetaNum { col, test: *test },
                    });
                }
                if parts.len() == 1 {
                    parts.pop().expect("one")
                } else {
                    BCond::All(parts)
                }
            }
            Cond::Bucket { key, lo, hi, salt } => {
                let salt = if salt.is_empty() {
                    self.p.name.clone()
                } else {
                    salt.clone()
                };
                let bucket = |v: &str| bucket_100(&salt, v.as_bytes());
                let buckets = self.per_request(key, bucket, bucket)?;
                BCond::Bucket {
                    buckets: Arc::new(buckets),
                    lo: *lo,
                    hi: *hi,
                }
            }
            Cond::Complexity { levels, .. } => {
                let names = self
                    .p
                    .classifier
                    .as_ref()
                    .map(|c| c.names())
                    .unwrap_or_default();
                BCond::Complexity(
                    names
                        .iter()
                        .map(|n| levels.iter().any(|l| l == n))
                        .collect(),
                )
            }
            Cond::Any(v) => BCond::Any(v.iter().map(|c| self.cond(c)).collect::<Option<Vec<_>>>()?),
            Cond::All(v) => BCond::All(v.iter().map(|c| self.cond(c)).collect::<Option<Vec<_>>>()?),
            Cond::Not(c) => BCond::Not(Box::new(self.cond(c)?)),
        })
    }

    /// `split`: cumulative weights, and a stable value per request when sticky.
    fn split(&mut self, arms: &[(ModelRef, f64)], sticky: Option<&KeyRef>) -> Option<BStrategy> {
        let models: Vec<ModelRef> = arms.iter().map(|(m, _)| m.clone()).collect();
        let models = self.models(&models)?;
        let mut acc = 0.0;
        let cum = arms
            .iter()
            .map(|(_, w)| {
                acc += w;
                acc
            })
            .collect();
        let sticky = match sticky {
            Some(k) => Some(self.sticky_values(k, &self.p.name.clone())?),
            None => None,
        };
        Some(BStrategy::Split {
            models,
            cum,
            sticky,
        })
    }

    /// `tier`: its members, and the tier of each request when chosen by a key.
    fn tier(&mut self, sel: &TierSelect) -> Option<BStrategy> {
        let mut tiers = Vec::new();
        for (_, ms) in &self.p.tiers {
            tiers.push(self.models(ms)?);
        }
        let idx = |name: &str| self.p.tiers.iter().position(|(n, _)| n == name);
        Some(match sel {
            TierSelect::Fixed(name, _) => BStrategy::Tier {
                tiers,
                by: None,
                default: idx(name)?,
            },
            TierSelect::ByKey {
                key, default, map, ..
            } => {
                let default = idx(default)?;
                let tier_of = |v: &str| -> usize {
                    let name = map
                        .iter()
                        .find(|(k, _, _)| k == v)
                        .map(|(_, t, _)| t.as_str())
                        .unwrap_or(v);
                    idx(name).unwrap_or(default)
                };
                let by = self.per_request(key, |v| tier_of(v) as u16, |_| default as u16)?;
                BStrategy::Tier {
                    tiers,
                    by: Some(Arc::new(by)),
                    default,
                }
            }
        })
    }

    /// `cheapest` / `best`: the decision per (fold, segment) from cross-fitted estimates.
    fn learned(
        &mut self,
        candidates: &[ModelRef],
        cons: &Constraints,
        per: Option<&KeyRef>,
        otherwise: Option<&ModelRef>,
        objective: Objective,
    ) -> Option<BStrategy> {
        let cands = self.candidates(candidates)?;
        let otherwise = match otherwise {
            Some(o) => self.model(o)?,
            None => cands[0],
        };
        let seg = match per {
            Some(k) => Some(self.key_col(k)?),
            None => None,
        };
        let folds = self.p.folds;
        let src = EstimateSource {
            ds: self.ctx.ds,
            costs: &self.costs,
            latency_factor: &self.latency_factor,
        };
        Some(if folds == 0 {
            let choice = loo_table(&src, &cands, cons, objective, otherwise, seg.as_ref());
            BStrategy::Table {
                fold: Arc::new((0..self.ctx.ds.n_requests() as u32).collect()),
                seg: None,
                n_seg: 1,
                choice,
            }
        } else {
            let fold = fold_of(self.ctx.ds, folds, self.ctx.seed);
            let (n_seg, choice) = decision_table(
                &src,
                &cands,
                cons,
                objective,
                otherwise,
                &fold,
                folds,
                seg.as_ref(),
            );
            BStrategy::Table {
                fold: Arc::new(fold),
                seg,
                n_seg,
                choice,
            }
        })
    }

    fn route(&mut self, r: &Route) -> Option<BRoute> {
        let fallbacks = self.models(&r.fallbacks);
        let strategy = match &r.strategy {
            Strategy::Model(m) => BStrategy::Chain(vec![self.model(m)?]),
            Strategy::Fallback(v) => BStrategy::Chain(self.models(v)?),
            Strategy::Split { arms, sticky } => self.split(arms, sticky.as_ref())?,
            Strategy::Shuffle { models, weights } => BStrategy::Shuffle {
                models: self.models(models)?,
                weights: weights.clone(),
            },
            Strategy::Tier(sel) => self.tier(sel)?,
            Strategy::Cheapest {
                candidates,
                cons,
                per,
                otherwise,
            } => self.learned(
                candidates,
                cons,
                per.as_ref(),
                otherwise.as_ref(),
                Objective::Cheapest,
            )?,
            Strategy::Best {
                candidates,
                cons,
                per,
                otherwise,
            } => self.learned(
                candidates,
                cons,
                per.as_ref(),
                otherwise.as_ref(),
                Objective::BestQuality,
            )?,
            Strategy::Cascade {
                chain,
                threshold,
                verifier_error,
            } => BStrategy::Cascade {
                chain: self.models(chain)?,
                threshold: *threshold,
                verifier_error: *verifier_error,
            },
            Strategy::Oracle { candidates } => BStrategy::Oracle(self.candidates(candidates)?),
            Strategy::Logged => {
                if self.ctx.ds.logged.is_none() {
                    let msg = "the logged baseline needs a dataset imported from a gateway log (routesim import, or run -d LOG)".to_string();
                    self.err(&r.span, msg);
                    return None;
                }
                BStrategy::Logged
            }
            Strategy::Random { candidates } => BStrategy::Random(self.candidates(candidates)?),
            Strategy::LowestLatency {
                candidates,
                window,
                stat,
                buffer,
            } => BStrategy::LowestLatency {
                candidates: self.candidates(candidates)?,
                window: *window,
                stat: *stat,
                buffer: *buffer,
            },
            Strategy::LeastBusy { candidates } => {
                BStrategy::LeastBusy(self.candidates(candidates)?)
            }
            Strategy::UsageBased { candidates } => {
                BStrategy::UsageBased(self.candidates(candidates)?)
            }
        };
        Some(BRoute {
            strategy,
            fallbacks: fallbacks?,
            fallback_on: r.fallback_on.unwrap_or(self.p.gateway.fallback_on),
        })
    }
}

fn models_hint(ds: &Dataset, name: &str) -> String {
    match suggest(name, ds.models.iter().map(|s| s.as_str())) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => {
            let mut list: Vec<&str> = ds.models.iter().map(|s| s.as_str()).take(12).collect();
            if ds.models.len() > 12 {
                list.push("…");
            }
            format!(" (it has: {})", list.join(", "))
        }
    }
}

fn value_eq(v: &MetaValue, dict_value: &str) -> bool {
    match v {
        MetaValue::Str(s) => s == dict_value,
        MetaValue::Bool(b) => dict_value.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        MetaValue::Num(x) => dict_value.trim().parse::<f64>().is_ok_and(|d| d == *x),
    }
}

/// Bind a policy. All problems are returned together.
pub fn bind(p: &Policy, ctx: &BindCtx) -> Result<Bound, Vec<Diagnostic>> {
    let mut b = Binder {
        ctx,
        p,
        diags: Vec::new(),
        costs: Costs::plain(ctx.prices),
        latency_factor: vec![1.0; ctx.ds.n_models()],
    };
    // What-ifs first: learned routes (cheapest, best) estimate with them.
    let whatif = b.scenarios();
    b.costs = Costs::new(ctx.prices, &whatif.price_factor);
    b.latency_factor = whatif.latency_factor.clone();

    let mut rules = Vec::new();
    for r in &p.rules {
        let c = b.cond(&r.when);
        let route = b.route(&r.route);
        if let (Some(c), Some(route)) = (c, route) {
            rules.push(BRule { when: c, route });
        }
    }
    let default = b.route(&p.default);
    // Models of [models] must exist even when no rule uses them.
    for d in &p.deployments {
        let _ = b.model(&ModelRef {
            name: d.alias.clone(),
            span: d.span.clone(),
        });
    }
    b.text_uses();
    let complexity = b.complexity_levels();
    let budgets = b.budgets();
    let limits = b.limits();
    let (model_retries, model_timeout_ms) = b.per_model_calls();
    let cache = b.cache();
    if !b.diags.is_empty() {
        return Err(b.diags);
    }
    Ok(Bound {
        name: p.name.clone(),
        kind: p.kind.clone(),
        salt: stable_hash(p.name.as_bytes()),
        rules,
        default: default.expect("no diagnostics"),
        gateway: p.gateway.clone(),
        complexity,
        context_window: ctx
            .prices
            .iter()
            .map(|p| p.context_window.unwrap_or(u32::MAX))
            .collect(),
        costs: b.costs,
        latency_factor: whatif.latency_factor,
        outages: whatif.outages,
        traffic_factor: whatif.traffic_factor,
        budgets,
        limits,
        model_retries,
        model_timeout_ms,
        cache,
        stateful: p.is_stateful(),
    })
}

impl Binder<'_, '_> {
    /// Each request's `[classifier]` level (an index into its levels), when a rule
    /// tests `complexity`; `None` when none does or a level's condition is invalid.
    fn complexity_levels(&mut self) -> Option<Vec<u8>> {
        let (p, ds) = (self.p, self.ctx.ds);
        let c = p
            .classifier
            .as_ref()
            .filter(|_| p.rules.iter().any(|r| r.when.uses_complexity()))?;
        let levels: Vec<Option<BCond>> = c.levels.iter().map(|(_, cond)| self.cond(cond)).collect();
        let levels: Vec<BCond> = levels.into_iter().collect::<Option<_>>()?;
        let default_idx = c
            .names()
            .iter()
            .position(|n| *n == c.default_level)
            .unwrap_or(0) as u8;
        Some(
            (0..ds.n_requests())
                .map(|r| {
                    levels
                        .iter()
                        .position(|l| eval(l, ds, r, None))
                        .map(|i| i as u8)
                        .unwrap_or(default_idx)
                })
                .collect(),
        )
    }

    /// The gateway's budgets: key column and downgrade model bound.
    fn budgets(&mut self) -> Vec<BBudget> {
        let p = self.p;
        let mut budgets = Vec::new();
        for bd in &p.gateway.budgets {
            let key = match &bd.per {
                Some(k) => self.key_col(k),
                None => None,
            };
            let downgrade = match &bd.when_exceeded {
                OverBudget::Reject => None,
                OverBudget::Downgrade(m) => self.model(m),
            };
            budgets.push(BBudget {
                limit_usd: bd.limit_usd,
                period_ms: bd.period_s * 1000.0,
                key,
                downgrade,
            });
        }
        budgets
    }

    /// Per dataset model, the limits its `[models]` deployments set (the first one
    /// that sets a limit wins when several aliases name the same model).
    fn limits(&self) -> Vec<Limits> {
        let ds = self.ctx.ds;
        let mut limits = vec![Limits::default(); ds.n_models()];
        for d in &self.p.deployments {
            if let Some(m) = ds.model_id(&d.model) {
                let l = &mut limits[m as usize];
                l.rpm = d.rpm.or(l.rpm);
                l.tpm = d.tpm.or(l.tpm);
                l.max_concurrency = d.max_concurrency.or(l.max_concurrency);
            }
        }
        limits
    }

    /// Per dataset model, the retries and timeout of its calls: those of its
    /// `[models]` deployment when it sets them (the first one wins when several aliases
    /// name the same model), otherwise the gateway's.
    fn per_model_calls(&self) -> (Vec<crate::policy::Retries>, Vec<Option<f64>>) {
        let ds = self.ctx.ds;
        let g = &self.p.gateway;
        let mut retries: Vec<Option<crate::policy::Retries>> = vec![None; ds.n_models()];
        let mut timeouts: Vec<Option<f64>> = vec![None; ds.n_models()];
        for d in &self.p.deployments {
            if let Some(m) = ds.model_id(&d.model) {
                let m = m as usize;
                if retries[m].is_none() {
                    retries[m] = d.retries.clone();
                }
                timeouts[m] = timeouts[m].or(d.timeout_ms);
            }
        }
        (
            retries
                .into_iter()
                .map(|r| r.unwrap_or_else(|| g.retries.clone()))
                .collect(),
            timeouts.into_iter().map(|t| t.or(g.timeout_ms)).collect(),
        )
    }

    /// A rule that reads the request text on a dataset without any (gateway logs
    /// often hold none) is refused, naming the rule and where it reads it: its
    /// conditions would otherwise be silently false for every request.
    fn text_uses(&mut self) {
        let p = self.p;
        if !self.ctx.ds.requests.input.all_empty() {
            return;
        }
        let levels_use_text = p.classifier.as_ref().is_some_and(|c| {
            c.levels
                .iter()
                .any(|(_, cond)| cond.text_use(false).is_some())
        });
        for r in &p.rules {
            if let Some((span, what)) = r.when.text_use(levels_use_text) {
                let msg = format!(
                    "rule \"{}\": {what} needs the request text, and dataset \"{}\" has none (no input, prompt or messages; gateway logs hold it only with message logging on); remove the condition or use a dataset with prompts",
                    r.name, self.ctx.ds.info.name
                );
                self.err(&span, msg);
            }
        }
    }

    /// The exact cache's request groups; refused when the dataset has no text.
    fn cache(&mut self) -> Option<CacheKeys> {
        let p = self.p;
        let c = p.gateway.cache.as_ref()?;
        if self.ctx.ds.requests.input.all_empty() {
            self.err(
                &c.span,
                "cache: an exact cache needs the request text, and this dataset has none (no input, prompt or messages column); remove the cache or add the prompts".into(),
            );
            return None;
        }
        Some(cache_groups(self.ctx.ds))
    }
}

/// A policy's what-ifs, resolved to models and the virtual clock.
struct WhatIf {
    latency_factor: Vec<f64>,
    price_factor: Vec<f64>,
    outages: Vec<BOutage>,
    traffic_factor: f64,
}

impl Binder<'_, '_> {
    fn scenarios(&mut self) -> WhatIf {
        let ds = self.ctx.ds;
        let nm = ds.n_models();
        let mut w = WhatIf {
            latency_factor: vec![1.0; nm],
            price_factor: vec![1.0; nm],
            outages: Vec::new(),
            traffic_factor: 1.0,
        };
        for s in &self.p.scenarios {
            if let Scenario::Traffic { factor } = s {
                w.traffic_factor *= factor;
            }
        }
        let first_ts = ds
            .requests
            .ts_ms
            .iter()
            .copied()
            .filter(|&t| t != crate::dataset::Requests::NO_TS)
            .min();
        // Recorded time runs this much faster on the virtual clock.
        let compress = self.ctx.speedup * w.traffic_factor;
        for s in &self.p.scenarios {
            match s {
                Scenario::Latency { model, factor } => {
                    if let Some(m) = self.model(model) {
                        w.latency_factor[m as usize] *= factor;
                    }
                }
                Scenario::Price { model, factor } => {
                    if let Some(m) = self.model(model) {
                        w.price_factor[m as usize] *= factor;
                    }
                }
                Scenario::Traffic { .. } => {}
                Scenario::Outage {
                    model,
                    from_ms,
                    to_ms,
                    relative,
                    status,
                } => {
                    let Some(m) = self.model(model) else {
                        continue;
                    };
                    // Offsets are on the virtual clock; timestamps name recorded
                    // wall-clock time, so they are compressed like the arrivals (the
                    // same requests are hit under --speedup or a traffic what-if).
                    let (from, to) = if *relative {
                        (*from_ms as f64, *to_ms as f64)
                    } else {
                        match first_ts {
                            Some(t) if self.ctx.recorded_clock => (
                                (from_ms - t) as f64 / compress,
                                (to_ms - t) as f64 / compress,
                            ),
                            Some(_) => {
                                let span = model.span.clone();
                                self.err(&span, "an outage given as timestamps needs the recorded arrival clock (--arrival recorded); with another arrival model use offsets in seconds (from = 600, to = 1200)".into());
                                continue;
                            }
                            None => {
                                let span = model.span.clone();
                                self.err(&span, "an outage with timestamps needs request timestamps; use offsets in seconds (from = 600, to = 1200)".into());
                                continue;
                            }
                        }
                    };
                    w.outages.push(BOutage {
                        model: m,
                        from_ms: from,
                        to_ms: to,
                        status: Status(*status),
                    });
                }
            }
        }
        w
    }
}

/// Requests that are the same request as recorded share a cache group: the same
/// text, the same prompt size (the text may be only the last message of a longer
/// context) and the same number of turns. Interned once, so the engine compares ids.
/// A request without text never hits (nothing says it repeats another).
fn cache_groups(ds: &Dataset) -> CacheKeys {
    let q = &ds.requests;
    let mut ids: std::collections::HashMap<(&str, u32, u16), u32> =
        std::collections::HashMap::new();
    let mut next = 0u32;
    let groups: Vec<u32> = (0..ds.n_requests())
        .map(|r| {
            let text = q.input.get(r);
            if text.is_empty() {
                next += 1;
                return next - 1;
            }
            *ids.entry((text, q.input_tokens[r], q.turns[r]))
                .or_insert_with(|| {
                    next += 1;
                    next - 1
                })
        })
        .collect();
    CacheKeys {
        group: Arc::new(groups),
        n_groups: next as usize,
    }
}

/// Evaluate a text test on every prompt (in parallel), as a bit set.
fn text_bits(t: &TextTest, input: &crate::dataset::TextColumn) -> Vec<u64> {
    use rayon::prelude::*;
    let n = input.len();
    (0..n.div_ceil(64))
        .into_par_iter()
        .map(|w| {
            let mut word = 0u64;
            for bit in 0..64 {
                let r = w * 64 + bit;
                if r < n && t.test(input.get(r)) {
                    word |= 1 << bit;
                }
            }
            word
        })
        .collect()
}
