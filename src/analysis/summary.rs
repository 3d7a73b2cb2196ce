//! Per-policy (and per-segment) summaries computed with polars over the trace frame.

use super::stats::bootstrap_mean_ci;
use crate::util::hash::stable_hash;
use polars::prelude::*;

/// Summary options.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Bootstrap resamples for the quality CI.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            bootstrap: 1000,
            seed: 7,
        }
    }
}

/// What one policy did (over the requests it covered).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySummary {
    /// Policy name.
    pub policy: String,
    /// `policy` or `baseline`.
    pub kind: String,
    /// Requests in the dataset.
    pub requests: u64,
    /// Requests simulated (the chosen model had a response, or was imputed).
    pub covered: u64,
    /// covered / requests.
    pub coverage: f64,
    /// Share of covered requests that ended with an answer.
    pub success_rate: f64,
    /// Total cost, USD.
    pub cost_total: f64,
    /// Cost per 1,000 covered requests, USD.
    pub cost_per_1k: f64,
    /// Cost per successful request, USD.
    pub cost_per_success: f64,
    /// Mean quality (labelled requests; failures count as the failure quality).
    pub quality_mean: f64,
    /// Requests with a quality value.
    pub quality_n: u64,
    /// 95% CI of the mean quality (bootstrap percentile).
    pub quality_lo: f64,
    /// Upper end of the CI.
    pub quality_hi: f64,
    /// Latency percentiles, ms.
    pub latency_p50: f64,
    /// p90.
    pub latency_p90: f64,
    /// p95.
    pub latency_p95: f64,
    /// p99.
    pub latency_p99: f64,
    /// Time to first token p50 (NaN when unknown).
    pub ttft_p50: f64,
    /// TTFT p95.
    pub ttft_p95: f64,
    /// Share of requests that moved to a fallback model.
    pub fallback_rate: f64,
    /// Share with at least one retry.
    pub retry_rate: f64,
    /// Share served from cache.
    pub cache_rate: f64,
    /// Share escalated by a cascade.
    pub escalation_rate: f64,
    /// Share cut by the output cap.
    pub truncated_rate: f64,
    /// Mean calls per request.
    pub attempts_mean: f64,
    /// (model, share of covered requests answered or last tried by it), by share.
    pub model_mix: Vec<(String, f64)>,
    /// (rule, requests matched), in rule order where known.
    pub rule_hits: Vec<(String, u64)>,
}

fn str_col(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

fn rate(name: &str) -> Expr {
    col(name).cast(DataType::Float64).mean().alias(name)
}

/// Aggregations shared by policy and segment summaries.
fn aggregations() -> Vec<Expr> {
    let q =
        |c: &str, p: f64, alias: &str| col(c).quantile(lit(p), QuantileMethod::Linear).alias(alias);
    vec![
        len().alias("covered"),
        col("ok")
            .cast(DataType::Float64)
            .mean()
            .alias("success_rate"),
        col("cost_usd").sum().alias("cost_total"),
        col("ok").cast(DataType::Float64).sum().alias("n_ok"),
        col("quality").mean().alias("quality_mean"),
        col("quality").count().alias("quality_n"),
        q("latency_ms", 0.5, "latency_p50"),
        q("latency_ms", 0.9, "latency_p90"),
        q("latency_ms", 0.95, "latency_p95"),
        q("latency_ms", 0.99, "latency_p99"),
        q("ttft_ms", 0.5, "ttft_p50"),
        q("ttft_ms", 0.95, "ttft_p95"),
        rate("fell_back"),
        rate("retried"),
        rate("cache_hit"),
        rate("escalated"),
        rate("truncated"),
        col("attempts")
            .cast(DataType::Float64)
            .mean()
            .alias("attempts_mean"),
    ]
}

/// Summaries per policy, in the trace's policy order. `rules` lists each policy's
/// rule names (so rules that never fired show with 0 hits).
pub fn summarize(
    df: &DataFrame,
    rules: &[(String, Vec<String>)],
    opts: &SummaryOptions,
) -> PolarsResult<Vec<PolicySummary>> {
    let all = df.clone().lazy();
    let totals = all
        .clone()
        .group_by_stable([col("policy")])
        .agg([len().alias("requests"), col("kind").first().alias("kind")])
        .collect()?;
    let covered = all.clone().filter(col("uncovered").not());
    let agg = covered
        .clone()
        .group_by_stable([col("policy")])
        .agg(aggregations())
        .collect()?;
    let mix = covered
        .clone()
        .filter(col("model").is_not_null())
        .group_by_stable([col("policy"), col("model")])
        .agg([len().alias("n")])
        .collect()?;
    let hits = all
        .group_by_stable([col("policy"), col("rule")])
        .agg([len().alias("n")])
        .collect()?;

    let t_policy = str_col(&totals, "policy")?;
    let t_kind = str_col(&totals, "kind")?;
    let t_req = super::frame::f64_column(&totals, "requests")?;
    let a_policy = str_col(&agg, "policy")?;
    let num = |name: &str| super::frame::f64_column(&agg, name);
    let (covered_n, success, cost, n_ok, qmean, qn) = (
        num("covered")?,
        num("success_rate")?,
        num("cost_total")?,
        num("n_ok")?,
        num("quality_mean")?,
        num("quality_n")?,
    );
    let (p50, p90, p95, p99, t50, t95) = (
        num("latency_p50")?,
        num("latency_p90")?,
        num("latency_p95")?,
        num("latency_p99")?,
        num("ttft_p50")?,
        num("ttft_p95")?,
    );
    let (fb, rt, ch, esc, tr, att) = (
        num("fell_back")?,
        num("retried")?,
        num("cache_hit")?,
        num("escalated")?,
        num("truncated")?,
        num("attempts_mean")?,
    );
    let m_policy = str_col(&mix, "policy")?;
    let m_model = str_col(&mix, "model")?;
    let m_n = super::frame::f64_column(&mix, "n")?;
    let h_policy = str_col(&hits, "policy")?;
    let h_rule = str_col(&hits, "rule")?;
    let h_n = super::frame::f64_column(&hits, "n")?;

    // Quality values per policy for the bootstrap.
    let qdf = covered
        .filter(col("quality").is_not_null())
        .select([col("policy"), col("quality")])
        .collect()?;
    let q_policy = str_col(&qdf, "policy")?;
    let q_vals = super::frame::f64_column(&qdf, "quality")?;

    // Quality values grouped by policy in one pass; bootstrap CIs in parallel.
    let mut by_policy: std::collections::HashMap<&str, Vec<f64>> = std::collections::HashMap::new();
    for (p, v) in q_policy.iter().zip(&q_vals) {
        by_policy.entry(p.as_str()).or_default().push(*v);
    }
    let cis: std::collections::HashMap<&str, (f64, f64)> = {
        use rayon::prelude::*;
        by_policy
            .par_iter()
            .map(|(name, vals)| {
                (
                    *name,
                    bootstrap_mean_ci(
                        vals,
                        opts.bootstrap,
                        0.95,
                        opts.seed ^ stable_hash(name.as_bytes()),
                    ),
                )
            })
            .collect()
    };
    let mut out = Vec::with_capacity(t_policy.len());
    for (i, name) in t_policy.iter().enumerate() {
        let requests = t_req[i] as u64;
        let mut s = PolicySummary {
            policy: name.clone(),
            kind: t_kind[i].clone(),
            requests,
            covered: 0,
            coverage: 0.0,
            success_rate: f64::NAN,
            cost_total: 0.0,
            cost_per_1k: f64::NAN,
            cost_per_success: f64::NAN,
            quality_mean: f64::NAN,
            quality_n: 0,
            quality_lo: f64::NAN,
            quality_hi: f64::NAN,
            latency_p50: f64::NAN,
            latency_p90: f64::NAN,
            latency_p95: f64::NAN,
            latency_p99: f64::NAN,
            ttft_p50: f64::NAN,
            ttft_p95: f64::NAN,
            fallback_rate: f64::NAN,
            retry_rate: f64::NAN,
            cache_rate: f64::NAN,
            escalation_rate: f64::NAN,
            truncated_rate: f64::NAN,
            attempts_mean: f64::NAN,
            model_mix: Vec::new(),
            rule_hits: Vec::new(),
        };
        if let Some(j) = a_policy.iter().position(|p| p == name) {
            s.covered = covered_n[j] as u64;
            s.coverage = s.covered as f64 / requests.max(1) as f64;
            s.success_rate = success[j];
            s.cost_total = cost[j];
            s.cost_per_1k = cost[j] / covered_n[j] * 1000.0;
            s.cost_per_success = if n_ok[j] > 0.0 {
                cost[j] / n_ok[j]
            } else {
                f64::NAN
            };
            s.quality_mean = qmean[j];
            s.quality_n = qn[j] as u64;
            s.latency_p50 = p50[j];
            s.latency_p90 = p90[j];
            s.latency_p95 = p95[j];
            s.latency_p99 = p99[j];
            s.ttft_p50 = t50[j];
            s.ttft_p95 = t95[j];
            s.fallback_rate = fb[j];
            s.retry_rate = rt[j];
            s.cache_rate = ch[j];
            s.escalation_rate = esc[j];
            s.truncated_rate = tr[j];
            s.attempts_mean = att[j];
        }
        if let Some(&(lo, hi)) = cis.get(name.as_str()) {
            s.quality_lo = lo;
            s.quality_hi = hi;
        }
        let mut mixv: Vec<(String, f64)> = m_policy
            .iter()
            .zip(&m_model)
            .zip(&m_n)
            .filter(|((p, _), _)| *p == name)
            .map(|((_, m), n)| (m.clone(), *n / s.covered.max(1) as f64))
            .collect();
        mixv.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s.model_mix = mixv;
        let hitmap: Vec<(String, u64)> = h_policy
            .iter()
            .zip(&h_rule)
            .zip(&h_n)
            .filter(|((p, r), _)| *p == name && !r.is_empty())
            .map(|((_, r), n)| (r.clone(), *n as u64))
            .collect();
        s.rule_hits = match rules.iter().find(|(p, _)| p == name) {
            Some((_, names)) => names
                .iter()
                .map(|n| n.as_str())
                .chain(std::iter::once("default"))
                .map(|n| {
                    (
                        n.to_string(),
                        hitmap
                            .iter()
                            .find(|(r, _)| r == n)
                            .map(|(_, c)| *c)
                            .unwrap_or(0),
                    )
                })
                .collect(),
            None => hitmap,
        };
        out.push(s);
    }
    Ok(out)
}

/// One segment of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSummary {
    /// Policy.
    pub policy: String,
    /// Segment key (e.g. `meta.task`).
    pub key: String,
    /// Segment value (`(none)` when absent).
    pub value: String,
    /// Covered requests.
    pub covered: u64,
    /// Success rate.
    pub success_rate: f64,
    /// Total cost.
    pub cost_total: f64,
    /// Cost per 1k.
    pub cost_per_1k: f64,
    /// Mean quality.
    pub quality_mean: f64,
    /// Labelled requests.
    pub quality_n: u64,
    /// p50 latency.
    pub latency_p50: f64,
    /// p95 latency.
    pub latency_p95: f64,
}

/// Summaries per (policy, value of `key`), e.g. `key = "meta.task"`.
pub fn segments(df: &DataFrame, key: &str) -> PolarsResult<Vec<SegmentSummary>> {
    let seg = df
        .clone()
        .lazy()
        .filter(col("uncovered").not())
        .with_column(col(key).fill_null(lit("(none)")).alias("__seg"))
        .group_by_stable([col("policy"), col("__seg")])
        .agg(aggregations())
        .collect()?;
    let (p, v) = (str_col(&seg, "policy")?, str_col(&seg, "__seg")?);
    let num = |name: &str| super::frame::f64_column(&seg, name);
    let (cov, succ, cost, qm, qn, p50, p95) = (
        num("covered")?,
        num("success_rate")?,
        num("cost_total")?,
        num("quality_mean")?,
        num("quality_n")?,
        num("latency_p50")?,
        num("latency_p95")?,
    );
    let mut out: Vec<SegmentSummary> = (0..p.len())
        .map(|i| SegmentSummary {
            policy: p[i].clone(),
            key: key.to_string(),
            value: v[i].clone(),
            covered: cov[i] as u64,
            success_rate: succ[i],
            cost_total: cost[i],
            cost_per_1k: cost[i] / cov[i] * 1000.0,
            quality_mean: qm[i],
            quality_n: qn[i] as u64,
            latency_p50: p50[i],
            latency_p95: p95[i],
        })
        .collect();
    // Policies keep their order; values are sorted within a policy.
    let order: Vec<String> = {
        let mut seen = Vec::new();
        for s in &out {
            if !seen.contains(&s.policy) {
                seen.push(s.policy.clone());
            }
        }
        seen
    };
    out.sort_by(|a, b| {
        let ia = order.iter().position(|x| *x == a.policy);
        let ib = order.iter().position(|x| *x == b.policy);
        ia.cmp(&ib).then(a.value.cmp(&b.value))
    });
    Ok(out)
}
