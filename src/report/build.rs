//! From a run's rows to everything a report shows: summaries, segments,
//! trade-offs, paired comparisons and chart data, streaming policy by policy.
//! `routesim run` and `routesim report DIR` both go through [`analyze`], so a
//! re-rendered report equals the original.

use crate::analysis::frame::write_policy;
use crate::analysis::policy::{AnalysisOptions, PolicyResult, analyze_policy};
use crate::analysis::table::{PolicyView, RunContext};
use crate::analysis::tradeoff::{
    BaselineOutcomes, Comparison, Tradeoff, compare_policy, default_baseline, holm_adjust, tradeoff,
};
use crate::analysis::{PolicySummary, SegmentSummary, SummaryOptions};
use crate::plot::cost_quality::{Kind, Point};
use crate::plot::{ChartData, Curve};
use crate::policy::{Baseline, PolicyKind};
use crate::sim::PolicyTrace;
use crate::sim::trace::PolicyInfo;
use anyhow::Result;
use rayon::prelude::*;

/// Requests above which policies are analysed one at a time (memory).
const LARGE_RUN: usize = 2_000_000;

/// What the analysis needs besides the rows (kept in `manifest.json`).
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Report title (dataset name).
    pub title: String,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Baseline for paired comparisons (default: best single model).
    pub baseline: Option<String>,
    /// Segment keys (`meta.x`).
    pub by: Vec<String>,
    /// Whether requests carry real timestamps (cost-over-time chart).
    pub has_timestamps: bool,
    /// Global budgets to draw: (policy, USD per period, period hours).
    pub budgets: Vec<(String, f64, f64)>,
    /// The run's policies (names, kinds, rules), in order.
    pub policies: Vec<PolicyInfo>,
    /// Models of the dataset, in order.
    pub models: Vec<String>,
    /// Notes to print (dataset warnings, modelled values).
    pub notes: Vec<String>,
    /// Requests in the dataset.
    pub n_requests: usize,
}

/// The notes a run's report starts with: the dataset's warnings (estimated, modelled
/// values) and the models whose costs are unknown.
pub fn run_notes(warnings: &[String], unpriced: &[String]) -> Vec<String> {
    let mut notes = warnings.to_vec();
    if !unpriced.is_empty() {
        notes.push(format!(
            "no price for {} (--unpriced): every cost that involves them is unknown, not $0",
            unpriced.join(", ")
        ));
    }
    notes
}

/// Everything rendered in a report.
pub struct Analysis {
    /// Options it was made with (baseline resolved).
    pub opts: ReportOptions,
    /// Per-policy summaries.
    pub summaries: Vec<PolicySummary>,
    /// Per-segment summaries.
    pub segments: Vec<SegmentSummary>,
    /// Trade-off figures.
    pub tradeoff: Tradeoff,
    /// Paired comparisons with the baseline.
    pub comparisons: Vec<Comparison>,
    /// Chart inputs.
    pub charts: ChartData,
}

impl Analysis {
    /// The kind of a policy by name.
    pub fn kind_of(&self, policy: &str) -> Option<&PolicyKind> {
        self.opts
            .policies
            .iter()
            .find(|p| p.name == policy)
            .map(|p| &p.kind)
    }
}

fn chart_kind(k: &PolicyKind) -> Kind {
    match k {
        PolicyKind::User => Kind::Policy,
        PolicyKind::Baseline(Baseline::Single(_)) => Kind::Single,
        PolicyKind::Baseline(Baseline::Oracle) => Kind::Oracle,
        PolicyKind::Baseline(Baseline::Random) => Kind::Random,
        PolicyKind::Baseline(Baseline::Logged) => Kind::Logged,
    }
}

/// Where a report's policies come from, a few at a time: simulated on demand, or read
/// back from a report folder.
pub trait PolicySource: Sync {
    /// The rows of policies `ps`, in that order.
    fn load(&self, ps: &[usize]) -> Result<Vec<PolicyTrace>>;
}

impl PolicySource for crate::sim::Simulation<'_> {
    fn load(&self, ps: &[usize]) -> Result<Vec<PolicyTrace>> {
        self.run(ps).map_err(sim_error)
    }
}

/// A simulation error as the run reports it.
pub fn sim_error(e: crate::sim::SimError) -> anyhow::Error {
    use crate::sim::SimError;
    match e {
        SimError::Input(e) => e.into(),
        SimError::Missing(m) => anyhow::anyhow!(
            "policy \"{}\" met request #{} without a response from model #{}",
            m.policy,
            m.request,
            m.model
        ),
        SimError::Internal(m) => anyhow::anyhow!("internal error (please report): {m}"),
    }
}

fn view(t: &PolicyTrace) -> PolicyView<'_> {
    PolicyView {
        p: t.p,
        rows: &t.rows,
        arrivals: &t.arrivals,
    }
}

/// Analyse a run, streaming its policies from `src` a few at a time (as many as
/// there are threads): each policy is summarised, segmented, compared with the
/// baseline and written into the trace folder `trace` (when given) while its rows are
/// in memory, then dropped. The baseline goes first: the one named, or — by default —
/// the best single model, chosen once the single-model baselines are summarised.
pub fn analyze(
    ctx: &RunContext,
    src: &dyn PolicySource,
    opts: &ReportOptions,
    trace: Option<&std::path::Path>,
) -> Result<Analysis> {
    let clock = crate::util::timing::Timings::start(2);
    let n_pol = ctx.policies.len();
    let aopts = AnalysisOptions {
        summary: SummaryOptions {
            bootstrap: opts.bootstrap,
            seed: opts.seed,
        },
        by: opts.by.clone(),
        cost_curve: opts.has_timestamps,
    };
    let resamples = opts.bootstrap.max(200);
    let explicit = match &opts.baseline {
        Some(b) => Some(
            ctx.policy_index(b)
                .ok_or_else(|| anyhow::anyhow!("no policy named \"{b}\" to compare with"))?,
        ),
        None => None,
    };
    let singles: Vec<usize> = (0..n_pol)
        .filter(|&p| ctx.policies[p].kind.single_model().is_some())
        .collect();
    let first: Vec<usize> = match explicit {
        Some(b) => vec![b],
        None => singles.clone(),
    };
    let rest: Vec<usize> = (0..n_pol).filter(|p| !first.contains(p)).collect();
    let mut results: Vec<Option<PolicyResult>> = (0..n_pol).map(|_| None).collect();
    let mut comparisons: Vec<(usize, Comparison)> = Vec::new();
    let mut base: Option<BaselineOutcomes> = None;
    // Policies in flight at once: one per thread, or — for very large runs, where a
    // policy's rows and working set are gigabytes — one at a time (its trace file is
    // then written while it is analysed).
    let group = if ctx.n_requests() > LARGE_RUN {
        1
    } else {
        rayon::current_num_threads().max(1)
    };
    // Seconds spent loading (simulating), analysing and writing, for ROUTESIM_TIMINGS.
    let mut spent = [0.0f64; 2];
    let progress = crate::util::progress::Progress::new("analyse", n_pol as u64);

    let mut process = |ps: &[usize],
                       base: &Option<BaselineOutcomes>,
                       keep_base: Option<usize>,
                       results: &mut Vec<Option<PolicyResult>>,
                       comparisons: &mut Vec<(usize, Comparison)>|
     -> Result<Option<BaselineOutcomes>> {
        let mut kept = None;
        for chunk in ps.chunks(group) {
            let t0 = std::time::Instant::now();
            let traces = src.load(chunk)?;
            spent[0] += t0.elapsed().as_secs_f64();
            let t0 = std::time::Instant::now();
            type Analysed = (usize, Option<PolicyResult>, Option<Comparison>);
            let analysed: Vec<Analysed> = traces
                .par_iter()
                .map(|t| -> Result<Analysed> {
                    let v = view(t);
                    let compare = base
                        .as_ref()
                        .filter(|b| b.p != t.p && !ctx.policies[t.p].kind.is_baseline());
                    let (written, (result, comparison)) = rayon::join(
                        || trace.map_or(Ok(()), |dir| write_policy(dir, v)),
                        || {
                            rayon::join(
                                || analyze_policy(ctx, v, &aopts),
                                || compare.map(|b| compare_policy(ctx, v, b, resamples, opts.seed)),
                            )
                        },
                    );
                    written?;
                    Ok((t.p, result, comparison))
                })
                .collect::<Result<_>>()?;
            spent[1] += t0.elapsed().as_secs_f64();
            for (p, r, c) in analysed {
                results[p] = Some(r.ok_or_else(|| anyhow::anyhow!("no field to segment by"))?);
                if let Some(c) = c {
                    comparisons.push((p, c));
                }
            }
            for t in &traces {
                if keep_base == Some(t.p) {
                    kept = Some(BaselineOutcomes::of(view(t)));
                }
            }
            progress.inc(chunk.len() as u64);
        }
        Ok(kept)
    };

    let kept = process(&first, &None, explicit, &mut results, &mut comparisons)?;
    let baseline = match explicit {
        Some(b) => {
            base = kept;
            Some(b)
        }
        None => {
            let cands: Vec<(usize, &PolicySummary)> = singles
                .iter()
                .filter_map(|&p| results[p].as_ref().map(|r| (p, &r.summary)))
                .collect();
            let chosen = default_baseline(&cands);
            if let Some(b) = chosen {
                // Its rows are gone: simulate (or read) them again, once.
                let t = src.load(&[b])?;
                base = t.first().map(|t| BaselineOutcomes::of(view(t)));
            }
            chosen
        }
    };
    process(&rest, &base, None, &mut results, &mut comparisons)?;
    progress.finish();
    if std::env::var_os("ROUTESIM_TIMINGS").is_some() {
        eprintln!(
            "timing:     of which simulate {:.3} s, analyse and write the trace {:.3} s",
            spent[0], spent[1]
        );
    }
    clock.lap("summaries, segments and comparisons");

    let results: Vec<PolicyResult> = results
        .into_iter()
        .map(|r| r.expect("every policy analysed"))
        .collect();
    Ok(assemble(ctx, results, comparisons, opts, baseline))
}

/// Put a report together from every policy's figures and its comparisons with the
/// baseline (`(policy index, comparison)`, any order): Holm's adjustment, the
/// trade-off and the chart data.
pub fn assemble(
    ctx: &RunContext,
    results: Vec<PolicyResult>,
    mut comparisons: Vec<(usize, Comparison)>,
    opts: &ReportOptions,
    baseline: Option<usize>,
) -> Analysis {
    comparisons.sort_by_key(|(p, _)| *p);
    let mut comparisons: Vec<Comparison> = comparisons.into_iter().map(|(_, c)| c).collect();
    holm_adjust(&mut comparisons);
    let summaries: Vec<PolicySummary> = results.iter().map(|r| r.summary.clone()).collect();
    let covered: Vec<&[u64]> = results.iter().map(|r| r.covered.as_slice()).collect();
    let trade = tradeoff(ctx, &summaries, &covered);
    let segs: Vec<SegmentSummary> = results.iter().flat_map(|r| r.segments.clone()).collect();
    let mut o = opts.clone();
    o.baseline = baseline.map(|b| ctx.policies[b].name.clone());
    let charts = chart_data(ctx, &results, &segs, &trade, &o, baseline);
    Analysis {
        opts: o,
        summaries,
        segments: segs,
        tradeoff: trade,
        comparisons,
        charts,
    }
}

fn chart_data(
    ctx: &RunContext,
    results: &[PolicyResult],
    segs: &[SegmentSummary],
    trade: &Tradeoff,
    o: &ReportOptions,
    baseline: Option<usize>,
) -> ChartData {
    let policies = &ctx.policies;
    let points = results
        .iter()
        .zip(policies.iter())
        .map(|(r, info)| {
            let x = &r.summary;
            Point {
                label: match info.kind.single_model() {
                    Some(m) => crate::plot::short_model(m).to_string(),
                    None => x.policy.clone(),
                },
                kind: chart_kind(&info.kind),
                cost: x.cost_per_1k,
                quality: x.quality_mean,
                lo: x.quality_lo,
                hi: x.quality_hi,
                left_out: trade.left_out.iter().any(|l| l.0 == x.policy),
            }
        })
        .collect();
    // Curves for user policies, plus the baseline for reference.
    let mut shown: Vec<usize> = (0..policies.len())
        .filter(|&p| !policies[p].kind.is_baseline())
        .collect();
    if let Some(b) = baseline
        && !shown.contains(&b)
    {
        shown.push(b);
    }
    let curve = |p: usize, points: Vec<(f64, f64)>| Curve {
        name: policies[p].name.clone(),
        baseline: policies[p].kind.is_baseline(),
        points,
    };
    let latencies = shown
        .iter()
        .map(|&p| curve(p, results[p].latency_curve.clone()))
        .collect();
    let cost_time = shown
        .iter()
        .filter_map(|&p| results[p].cost_curve.clone().map(|c| curve(p, c)))
        .collect();
    let mix = results
        .iter()
        .zip(policies.iter())
        .filter(|(_, info)| info.kind.single_model().is_none())
        .map(|(r, _)| (r.summary.policy.clone(), r.summary.model_mix.clone()))
        .collect();
    let segments = o.by.first().map(|key| {
        let mut values: Vec<String> = segs
            .iter()
            .filter(|x| &x.key == key)
            .map(|x| x.value.clone())
            .collect();
        values.sort();
        values.dedup();
        let oracle = policies.iter().position(|p| p.kind.is_oracle());
        let rows = shown
            .iter()
            .copied()
            .chain(oracle)
            .map(|p| {
                let name = &policies[p].name;
                let q = values
                    .iter()
                    .map(|v| {
                        segs.iter()
                            .find(|x| &x.policy == name && &x.key == key && &x.value == v)
                            .map(|x| x.quality_mean)
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
                (name.clone(), q)
            })
            .collect();
        (key.clone(), values, rows)
    });
    ChartData {
        points,
        hull: trade.hull.clone(),
        latencies,
        mix,
        models: ctx
            .models
            .iter()
            .chain(ctx.served_models.iter())
            .cloned()
            .collect(),
        cost_time,
        budgets: o.budgets.clone(),
        segments,
    }
}
