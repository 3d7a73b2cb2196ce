//! Running one shard of a run (`routesim run --shard i/n`) and merging shards into the
//! normal report (`routesim merge`), so any batch system (Kubernetes Jobs, Slurm
//! arrays, a Spark or Ray fan-out) can run the shards.
//!
//! A shard keeps the requests whose id (or `--shard-key` field) hashes to it, simulates
//! them as a run over every request would (random streams keyed by each request's
//! position in the whole dataset, the whole dataset's clock), and writes mergeable
//! figures ([`crate::analysis::partial`]): counts, exact sums, second moments and
//! quantile sketches. Stateless policies shard by request. A policy that keeps state
//! across requests runs on a shard only when all of its state is kept per value of
//! the shard key (budgets `per` that field); otherwise the shard is refused, saying
//! why.

use super::plan::{MissingMode, RunPlan};
use super::run::{Loaded, report_options, run_manifest};
use crate::analysis::partial::PolicyPartial;
use crate::analysis::policy::{CURVE_POINTS, PolicyResult};
use crate::analysis::table::{PolicyView, RunContext};
use crate::analysis::tradeoff::{BaselineOutcomes, default_baseline};
use crate::dataset::{Dataset, ShardView};
use crate::error::{Diagnostic, InputError};
use crate::policy::Policy;
use crate::policy::cond::KeyRef;
use crate::report::build::{ReportOptions, assemble};
use crate::sim::{self, Arrival};
use crate::util::files::StagedDir;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `--shard i/n` (and `--shard-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSpec {
    /// This shard, 0-based.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
    /// Field requests are assigned by (`meta.<name>`); `None`: the request id.
    pub key: Option<String>,
}

impl ShardSpec {
    /// Parse `i/n` (0 ≤ i < n).
    pub fn parse(s: &str) -> Result<(usize, usize), String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected i/n (e.g. 0/4), found \"{s}\""))?;
        let (i, n): (usize, usize) = (
            i.trim()
                .parse()
                .map_err(|_| format!("expected a shard number, found \"{i}\""))?,
            n.trim()
                .parse()
                .map_err(|_| format!("expected a shard count, found \"{n}\""))?,
        );
        if n == 0 || i >= n {
            return Err(format!(
                "expected 0 ≤ i < n (shards are numbered from 0), found {i}/{n}"
            ));
        }
        Ok((i, n))
    }
}

/// The format name of a shard's `partial.json`.
const FORMAT: &str = "routesim-partial/1";

/// A shard's figures, as written to `partial.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShardFile {
    format: String,
    index: usize,
    count: usize,
    key: Option<String>,
    /// Requests in the whole dataset, and in this shard.
    total_requests: usize,
    requests: usize,
    /// First arrival of the whole dataset (epoch ms).
    clock_origin_ms: Option<i64>,
    models: Vec<String>,
    served_models: Vec<String>,
    /// One per policy, in run order.
    partials: Vec<PolicyPartial>,
}

/// Why policy `p` cannot run on a shard keyed by `key` (`None`: it can).
fn refusal(p: &Policy, key: Option<&str>) -> Option<String> {
    if !p.is_stateful() {
        return None;
    }
    let g = &p.gateway;
    let mut shared: Vec<&str> = Vec::new();
    if g.cooldown.is_some() {
        shared.push("cooldown");
    }
    if g.circuit_breaker.is_some() {
        shared.push("circuit breaker");
    }
    if g.cache.is_some() {
        shared.push("cache");
    }
    if p.deployments
        .iter()
        .any(|d| d.rpm.is_some() || d.tpm.is_some() || d.max_concurrency.is_some())
    {
        shared.push("rate or concurrency limits");
    }
    if !p.scenarios.is_empty() {
        shared.push("what-if scenarios");
    }
    if p.rules
        .iter()
        .map(|r| &r.route)
        .chain(std::iter::once(&p.default))
        .any(|r| r.strategy.is_stateful())
    {
        shared.push("routing on observed latency or load");
    }
    let per_key = |b: &crate::policy::gateway::Budget| match (&b.per, key) {
        (Some(KeyRef::Meta(name, _)), Some(k)) => k.strip_prefix("meta.").unwrap_or(k) == name,
        _ => false,
    };
    if g.budgets.iter().any(|b| !per_key(b)) {
        shared.push("a budget not kept per value of the shard key");
    }
    (!shared.is_empty()).then(|| {
        format!(
            "policy \"{}\" keeps state across requests ({}): its figures depend on every request, so it cannot run on a shard; run it unsharded{}",
            p.name,
            shared.join(", "),
            if g.budgets.is_empty() {
                String::new()
            } else {
                " (budgets kept `per` a field can shard with --shard-key meta.<that field>)"
                    .to_string()
            }
        )
    })
}

/// Keep this shard's requests.
fn select(ds: &mut Dataset, spec: &ShardSpec) -> Result<(), InputError> {
    let n = ds.n_requests();
    let col = match &spec.key {
        None => None,
        Some(k) => {
            let name = k.strip_prefix("meta.").unwrap_or(k);
            Some(
                ds.requests
                    .meta
                    .iter()
                    .find(|m| m.name == name)
                    .ok_or_else(|| {
                        InputError::one(Diagnostic::file(
                            "--shard-key",
                            format!("the dataset has no field \"{k}\""),
                        ))
                    })?,
            )
        }
    };
    let keep: Vec<usize> = (0..n)
        .filter(|&r| {
            let key = match col {
                None => ds.requests.ids[r].as_str(),
                Some(c) => c.get(r).unwrap_or(crate::analysis::summary::NO_VALUE),
            };
            crate::util::hash::stable_hash(key.as_bytes()) % spec.count as u64 == spec.index as u64
        })
        .collect();
    let origin = ds
        .requests
        .has_timestamps()
        .then(|| ds.requests.ts_ms.iter().copied().min())
        .flatten();
    crate::dataset::load::select(ds, &keep);
    ds.shard = Some(ShardView {
        index: spec.index,
        count: spec.count,
        key: spec.key.clone(),
        global_index: keep.iter().map(|&r| r as u32).collect(),
        clock_origin_ms: origin,
        total_requests: n,
    });
    Ok(())
}

/// Run one shard: refuse what cannot shard, keep this shard's requests, simulate, and
/// write `partial.json` and `manifest.json` into the output folder.
pub fn run_shard(plan: &RunPlan, mut l: Loaded, spec: &ShardSpec) -> Result<()> {
    check_shardable(plan, &l, spec)?;
    select(&mut l.ds, spec)?;
    let sim = sim::Simulation::new(
        &l.ds,
        &l.prices,
        &l.policies,
        &sim::SimOptions {
            record_attempts: false,
            ..plan.sim_options()
        },
    )
    .map_err(crate::report::build::sim_error)?;
    let ctx = RunContext::of_dataset(&l.ds, sim.policy_infos());
    let ropts = report_options(plan, &l, &ctx);
    let partials = shard_partials(plan, &ropts, &l, &sim, &ctx)?;
    let file = ShardFile {
        format: FORMAT.into(),
        index: spec.index,
        count: spec.count,
        key: spec.key.clone(),
        total_requests: l.ds.shard.as_ref().map_or(0, |v| v.total_requests),
        requests: l.ds.n_requests(),
        clock_origin_ms: l.ds.shard.as_ref().and_then(|v| v.clock_origin_ms),
        models: ctx.models.to_vec(),
        served_models: ctx.served_models.to_vec(),
        partials,
    };
    let dir = write_shard(plan, &l, spec, &ropts, &file)?;
    println!(
        "routesim: shard {}/{} — {} of {} requests × {} policies; partial figures written to {} (combine the shards with `routesim merge`)",
        spec.index,
        spec.count,
        l.ds.n_requests(),
        file.total_requests,
        ctx.policies.len(),
        dir.display()
    );
    Ok(())
}

/// Every reason the run cannot be sharded, at once: policies whose state spans
/// requests of several shards, `--missing impute|live`, a stateful policy without the
/// recorded clock.
fn check_shardable(plan: &RunPlan, l: &Loaded, spec: &ShardSpec) -> Result<()> {
    let key = spec.key.as_deref();
    let mut problems: Vec<String> = l.policies.iter().filter_map(|p| refusal(p, key)).collect();
    if matches!(plan.opts.missing, MissingMode::Impute | MissingMode::Live) {
        problems.push(format!(
            "--missing {} fills a cell from every request's answers: it cannot run on a shard; use --missing skip or fail",
            plan.opts.missing.name()
        ));
    }
    if l.policies.iter().any(Policy::is_stateful) && plan.arrival != Arrival::Recorded {
        problems.push(
            "a stateful policy on a shard needs --arrival recorded (the request timestamps as the clock)"
                .into(),
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(InputError::new(
        problems
            .into_iter()
            .map(|m| Diagnostic::file("--shard", m))
            .collect(),
    )
    .into())
}

/// The policies a merged report may compare against: the one named by `--baseline`,
/// or every single model (the default baseline is chosen from the merged figures).
fn baseline_candidates(baseline: Option<&str>, ctx: &RunContext) -> Result<Vec<usize>> {
    Ok(match baseline {
        Some(b) => vec![ctx.policy_index(b).ok_or_else(|| {
            InputError::one(Diagnostic::file(
                "--baseline",
                format!("no policy named \"{b}\""),
            ))
        })?],
        None => (0..ctx.policies.len())
            .filter(|&p| ctx.policies[p].kind.single_model().is_some())
            .collect(),
    })
}

/// Every policy's mergeable partial figures on this shard: the baseline candidates
/// first (their outcomes are kept for the paired comparisons), then the others, a
/// few policies at a time.
fn shard_partials(
    plan: &RunPlan,
    ropts: &ReportOptions,
    l: &Loaded,
    sim: &sim::Simulation,
    ctx: &RunContext,
) -> Result<Vec<PolicyPartial>> {
    let n_pol = ctx.policies.len();
    let candidates = baseline_candidates(ropts.baseline.as_deref(), ctx)?;
    let ts = (l.ds.requests.has_timestamps() && plan.arrival == Arrival::Recorded)
        .then_some(&l.ds.requests.ts_ms[..]);
    let group = rayon::current_num_threads().max(1);
    let progress = crate::util::progress::Progress::new("shard", n_pol as u64);
    let mut partials: Vec<Option<PolicyPartial>> = vec![None; n_pol];
    let mut outcomes: Vec<(usize, BaselineOutcomes)> = Vec::new();
    let rest: Vec<usize> = (0..n_pol).filter(|p| !candidates.contains(p)).collect();
    for (ps, keep) in [(&candidates, true), (&rest, false)] {
        for chunk in ps.chunks(group) {
            let traces = sim.run(chunk).map_err(crate::report::build::sim_error)?;
            let pairs: Vec<(usize, &BaselineOutcomes)> =
                outcomes.iter().map(|(p, o)| (*p, o)).collect();
            use rayon::prelude::*;
            let done: Vec<(usize, Option<PolicyPartial>)> = traces
                .par_iter()
                .map(|t| {
                    let with: &[(usize, &BaselineOutcomes)] =
                        if ctx.policies[t.p].kind.is_baseline() {
                            &[]
                        } else {
                            &pairs
                        };
                    (t.p, PolicyPartial::of(ctx, view(t), &plan.by, ts, with))
                })
                .collect();
            for (p, part) in done {
                partials[p] = Some(part.ok_or_else(|| anyhow::anyhow!("no field to segment by"))?);
            }
            if keep {
                for t in &traces {
                    outcomes.push((t.p, BaselineOutcomes::of(view(t))));
                }
            }
            progress.inc(chunk.len() as u64);
        }
    }
    progress.finish();
    Ok(partials
        .into_iter()
        .map(|p| p.unwrap_or_default())
        .collect())
}

fn view(t: &sim::PolicyTrace) -> PolicyView<'_> {
    PolicyView {
        p: t.p,
        rows: &t.rows,
        arrivals: &t.arrivals,
    }
}

/// `partial.json` and `manifest.json`, staged and moved into place together.
fn write_shard(
    plan: &RunPlan,
    l: &Loaded,
    spec: &ShardSpec,
    ropts: &ReportOptions,
    file: &ShardFile,
) -> Result<PathBuf> {
    let mut manifest = run_manifest(plan, l);
    manifest["report"] = crate::report::manifest::report_options_json(ropts);
    manifest["shard"] = serde_json::json!({
        "index": spec.index,
        "count": spec.count,
        "key": spec.key,
        "requests": l.ds.n_requests(),
    });
    let out = super::run::out_dir(plan, l);
    let staged = StagedDir::new(&out)?;
    staged.write("partial.json", &serde_json::to_vec(file)?)?;
    let mut m = serde_json::to_vec_pretty(&manifest)?;
    m.push(b'\n');
    staged.write("manifest.json", &m)?;
    staged.commit()
}

/// A shard folder, read.
struct Shard {
    dir: PathBuf,
    manifest: serde_json::Value,
    file: ShardFile,
}

fn read_shard(dir: &Path) -> Result<Shard> {
    let bad = |msg: String| -> anyhow::Error { InputError::file(dir, msg).into() };
    let (mp, pp) = (dir.join("manifest.json"), dir.join("partial.json"));
    if !mp.is_file() || !pp.is_file() {
        return Err(bad(
            "not a shard folder: expected partial.json and manifest.json (written by `routesim run --shard i/n`)".into(),
        ));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&mp)?).context("reading manifest.json")?;
    let file: ShardFile = serde_json::from_slice(&std::fs::read(&pp)?)
        .map_err(|e| bad(format!("partial.json: {e}")))?;
    if file.format != FORMAT {
        return Err(bad(format!(
            "partial.json has format \"{}\", expected \"{FORMAT}\"",
            file.format
        )));
    }
    Ok(Shard {
        dir: dir.to_path_buf(),
        manifest,
        file,
    })
}

/// What must be equal across the shards of one run.
fn run_identity(s: &Shard) -> serde_json::Value {
    let m = &s.manifest;
    let mut report = m["report"].clone();
    report["requests"] = serde_json::Value::Null;
    serde_json::json!({
        "version": m["version"],
        "seed": m["seed"],
        "options": m["options"],
        "dataset_files": m["dataset"]["files"],
        "policies": m["policies"],
        "pricing": m["pricing"],
        "report": report,
        "count": s.file.count,
        "key": s.file.key,
    })
}

/// `routesim merge`: combine every shard of a run into the normal report folder.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<PathBuf> {
    let shards = read_shards(dirs)?;
    let first = &shards[0];
    let count = first.file.count;
    let mut opts: ReportOptions =
        crate::report::manifest::report_options_from_json(&first.manifest["report"]);
    let mut merged = first.file.partials.clone();
    for s in &shards[1..] {
        for (m, p) in merged.iter_mut().zip(&s.file.partials) {
            m.merge(p);
        }
    }
    let ctx = RunContext {
        policies: std::borrow::Cow::Owned(opts.policies.clone()),
        models: std::borrow::Cow::Owned(first.file.models.clone()),
        served_models: std::borrow::Cow::Owned(first.file.served_models.clone()),
        ids: std::borrow::Cow::Owned(Vec::new()),
        meta: std::borrow::Cow::Owned(Vec::new()),
        propensity: std::borrow::Cow::Owned(Vec::new()),
    };
    let origin = first.file.clock_origin_ms.unwrap_or(0);
    let results: Vec<PolicyResult> = merged
        .iter()
        .zip(ctx.policies.iter())
        .map(|(m, info)| PolicyResult {
            summary: m.summary(info),
            segments: m.segment_rows(&info.name),
            covered: m.covered_sets.clone(),
            latency_curve: m.acc.latency.cdf_points(CURVE_POINTS),
            cost_curve: opts
                .has_timestamps
                .then(|| m.cost_curve(origin, CURVE_POINTS))
                .flatten(),
        })
        .collect();
    let baseline = merged_baseline(&opts, &ctx, &results);
    let comparisons = match baseline {
        Some(b) => (0..merged.len())
            .filter(|&p| p != b && !ctx.policies[p].kind.is_baseline())
            .filter_map(|p| {
                merged[p]
                    .comparison(&ctx.policies[p].name, b, &ctx.policies[b].name)
                    .map(|c| (p, c))
            })
            .collect(),
        None => Vec::new(),
    };
    opts.notes.push(format!(
        "merged from {count} shards (`routesim merge`): counts, totals and the quality estimate are exact; intervals use the normal approximation; latency and TTFT quantiles come from sketches, within 0.5% (a merged Δp95 has no interval); no trace folder"
    ));
    opts.n_requests = first.file.total_requests;
    let analysis = assemble(&ctx, results, comparisons, &opts, baseline);
    let manifest = merged_manifest(&shards, &analysis.opts);
    crate::report::write_merged(out, &analysis, &manifest)
}

/// Every shard folder, read and checked: one run, each shard exactly once (every
/// problem at once), in shard order.
fn read_shards(dirs: &[PathBuf]) -> Result<Vec<Shard>> {
    let progress = crate::util::progress::Progress::new("read shards", dirs.len() as u64);
    let mut shards = dirs
        .iter()
        .map(|d| {
            let s = read_shard(d);
            progress.inc(1);
            s
        })
        .collect::<Result<Vec<Shard>>>()?;
    progress.finish();
    shards.sort_by_key(|s| s.file.index);
    let Some(first) = shards.first() else {
        return Err(InputError::file("routesim merge", "no shard folders given").into());
    };
    let mut diags = Vec::new();
    let id = run_identity(first);
    for s in &shards[1..] {
        if run_identity(s) != id {
            diags.push(Diagnostic::file(
                crate::error::display_path(&s.dir),
                format!(
                    "not a shard of the same run as {} (tool version, dataset files, policies, prices, seed, options or shard count differ)",
                    crate::error::display_path(&first.dir)
                ),
            ));
        }
    }
    let count = first.file.count;
    for i in 0..count {
        let n = shards.iter().filter(|s| s.file.index == i).count();
        if n != 1 {
            diags.push(Diagnostic::file(
                "routesim merge",
                format!(
                    "shard {i}/{count} is given {n} times: expected every shard of the run exactly once"
                ),
            ));
        }
    }
    if !diags.is_empty() {
        return Err(InputError::new(diags).into());
    }
    Ok(shards)
}

/// The baseline of the merged report: the one named, or the best single model on the
/// merged figures.
fn merged_baseline(
    opts: &ReportOptions,
    ctx: &RunContext,
    results: &[PolicyResult],
) -> Option<usize> {
    match &opts.baseline {
        Some(b) => ctx.policy_index(b),
        None => {
            let singles: Vec<(usize, &crate::analysis::PolicySummary)> = results
                .iter()
                .enumerate()
                .filter(|(p, _)| ctx.policies[*p].kind.single_model().is_some())
                .map(|(p, r)| (p, &r.summary))
                .collect();
            default_baseline(&singles)
        }
    }
}

/// The first shard's manifest, made the merged run's: command, total requests, report
/// options, and every shard merged (with the hash of its partial figures).
fn merged_manifest(shards: &[Shard], opts: &ReportOptions) -> serde_json::Value {
    let first = &shards[0];
    let mut manifest = first.manifest.clone();
    manifest["command"] = serde_json::json!(std::env::args().skip(1).collect::<Vec<_>>());
    manifest["dataset"]["requests"] = serde_json::json!(first.file.total_requests);
    manifest["report"] = crate::report::manifest::report_options_json(opts);
    manifest["shard"] = serde_json::Value::Null;
    manifest["merged_from"] = serde_json::json!(shards
        .iter()
        .map(|s| serde_json::json!({
            "index": s.file.index,
            "requests": s.file.requests,
            "partial_sha256": crate::util::hash::sha256_file(&s.dir.join("partial.json")).unwrap_or_default(),
        }))
        .collect::<Vec<_>>());
    manifest
}
