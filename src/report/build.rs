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
    /// `--strong M --weak M`: the two-model family of the RouteLLM section (default:
    /// the dataset's two models, when it has exactly two).
    pub pair: Option<(String, String)>,
    /// The donor pools of a `--missing impute` run (figures then show the imputed
    /// share, and intervals include the pools' estimation error).
    pub imputation: Option<crate::sim::impute::ImputeModel>,
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
    /// RouteLLM metrics of a two-model family (strong / weak), when the run has one.
    pub routellm: Option<crate::analysis::routellm::RouteLlm>,
    /// Off-policy estimates, when the dataset is a log with propensities.
    pub offpolicy: Option<crate::analysis::offpolicy::OffPolicy>,
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
        imputation: opts
            .imputation
            .clone()
            .map(|m| std::sync::Arc::new(crate::analysis::imputed::Imputation::new(m, ctx))),
    };
    let imp = aopts.imputation.as_deref();
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
    let one_at_a_time = ctx.n_requests() > LARGE_RUN;
    let group = if one_at_a_time {
        1
    } else {
        rayon::current_num_threads().max(1)
    };
    // Seconds spent loading (simulating), analysing and writing, for ROUTESIM_TIMINGS.
    let mut spent = [0.0f64; 2];
    // Off-policy estimates: the logged baseline's picks and outcomes, and every
    // target's picks, kept while their rows pass (a few bytes per request).
    use crate::analysis::offpolicy;
    let logged_p = (!ctx.propensity.is_empty())
        .then(|| {
            ctx.policies
                .iter()
                .position(|p| matches!(p.kind, PolicyKind::Baseline(Baseline::Logged)))
        })
        .flatten();
    let mut ope_side: Option<offpolicy::LoggedSide> = None;
    let mut ope_targets: offpolicy::Targets = Vec::new();
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
                    let write = || trace.map_or(Ok(()), |dir| write_policy(dir, v));
                    let analyse = || analyze_policy(ctx, v, &aopts);
                    let compare =
                        || compare.map(|b| compare_policy(ctx, v, b, resamples, opts.seed, imp));
                    // A very large run does the three one after another: their working
                    // sets (sorted copies, trace pages) never add up.
                    let (written, (result, comparison)) = if one_at_a_time {
                        (write(), (analyse(), compare()))
                    } else {
                        rayon::join(write, || rayon::join(analyse, compare))
                    };
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
                if logged_p == Some(t.p) {
                    ope_side = Some(offpolicy::LoggedSide::of(
                        ctx,
                        &t.rows,
                        opts.by.first().map(String::as_str),
                    ));
                } else if logged_p.is_some() && offpolicy::is_target(&ctx.policies[t.p].kind) {
                    ope_targets.push((t.p, offpolicy::picks(&t.rows)));
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
    let family = routellm_family(ctx, &results, opts);
    let covered: Vec<Vec<u64>> = match &family {
        Ok(Some(_)) => results.iter().map(|r| r.covered.clone()).collect(),
        _ => Vec::new(),
    };
    let mut a = assemble(ctx, results, comparisons, opts, baseline);
    ope_targets.sort_by_key(|t| t.0);
    a.offpolicy = match (logged_p, &ope_side) {
        (Some(l), Some(side)) => Some(offpolicy::estimate(ctx, l, side, &ope_targets)),
        _ => None,
    };
    if !ctx.propensity.is_empty() && logged_p.is_none() {
        let note = "no off-policy estimates: they need the logged baseline (drop --no-baselines)"
            .to_string();
        if !a.opts.notes.contains(&note) {
            a.opts.notes.push(note);
        }
    }
    match family {
        Ok(Some((weak, strong, chosen))) => {
            // The two single-model baselines' rows again (simulated or read), for the
            // per-request qualities of the optimal curve.
            let t = src.load(&[weak, strong])?;
            let (rw, rs) = (&t[0].rows, &t[1].rows);
            let both: Vec<u64> = covered[weak]
                .iter()
                .zip(&covered[strong])
                .map(|(a, b)| a & b)
                .collect();
            let (qw, qs): (Vec<f64>, Vec<f64>) = rw
                .iter()
                .zip(rs)
                .filter(|(x, y)| {
                    x.covered() && y.covered() && x.quality.is_finite() && y.quality.is_finite()
                })
                .map(|(x, y)| (x.quality, y.quality))
                .unzip();
            let same: Vec<bool> = covered.iter().map(|c| *c == both).collect();
            let r = crate::analysis::routellm::analyze(&crate::analysis::routellm::Inputs {
                policies: &ctx.policies,
                summaries: &a.summaries,
                same_requests: &same,
                weak,
                strong,
                pairs: (&qw, &qs),
                chosen,
            });
            a.charts.routellm = Some(routellm_chart(&r));
            a.routellm = Some(r);
        }
        Ok(None) => {}
        // A re-rendered report reads its notes back from the manifest: once only.
        Err(note) if !a.opts.notes.contains(&note) => a.opts.notes.push(note),
        Err(_) => {}
    }
    Ok(a)
}

/// The two-model family of the RouteLLM section: the indices of the weak and strong
/// single-model baselines and how they were chosen — `--strong/--weak`, or the
/// dataset's two models (the better one strong). `Ok(None)`: no family (more models,
/// none named); `Err`: a note saying why the section is missing.
fn routellm_family(
    ctx: &RunContext,
    results: &[PolicyResult],
    opts: &ReportOptions,
) -> std::result::Result<Option<(usize, usize, String)>, String> {
    let single = |m: &str| {
        ctx.policies
            .iter()
            .position(|p| p.kind.single_model() == Some(m))
    };
    let (strong, weak, chosen) = match &opts.pair {
        Some((s, w)) => (s.clone(), w.clone(), "--strong / --weak".to_string()),
        None if ctx.models.len() == 2 => {
            let (a, b) = (&ctx.models[0], &ctx.models[1]);
            let (Some(pa), Some(pb)) = (single(a), single(b)) else {
                return Ok(None);
            };
            let (qa, qb) = (
                results[pa].summary.quality_mean,
                results[pb].summary.quality_mean,
            );
            if !(qa.is_finite() && qb.is_finite()) {
                return Err("no RouteLLM metrics: the two models need quality labels".to_string());
            }
            if qa == qb {
                return Err(format!(
                    "no RouteLLM metrics: {a} and {b} have the same quality ({qa:.4}), so there is no gap to recover; name them with --strong and --weak"
                ));
            }
            let (s, w) = if qa > qb { (a, b) } else { (b, a) };
            (
                s.clone(),
                w.clone(),
                "the dataset's two models; the strong one has the higher quality".to_string(),
            )
        }
        None => return Ok(None),
    };
    match (single(&weak), single(&strong)) {
        (Some(w), Some(s)) => {
            let (qw, qs) = (
                results[w].summary.quality_mean,
                results[s].summary.quality_mean,
            );
            if qs.is_finite() && qw.is_finite() && qs != qw {
                Ok(Some((w, s, chosen)))
            } else {
                Err(format!(
                    "no RouteLLM metrics: {strong} ({qs:.4}) and {weak} ({qw:.4}) leave no quality gap to recover"
                ))
            }
        }
        _ => Err(format!(
            "no RouteLLM metrics: they need the single-model baselines always:{strong} and always:{weak} (drop --no-baselines)"
        )),
    }
}

/// The RouteLLM chart's data.
fn routellm_chart(r: &crate::analysis::routellm::RouteLlm) -> crate::plot::routellm::RouteLlmChart {
    use crate::analysis::routellm::RouterKind;
    use crate::plot::routellm::{Series, SeriesKind};
    crate::plot::routellm::RouteLlmChart {
        strong: (r.strong.clone(), r.strong_quality),
        weak: (r.weak.clone(), r.weak_quality),
        series: r
            .rows
            .iter()
            .map(|row| Series {
                name: row.name.clone(),
                kind: match row.kind {
                    RouterKind::Sweep => SeriesKind::Router,
                    RouterKind::Policy => SeriesKind::Point,
                    RouterKind::Oracle => SeriesKind::Oracle,
                    RouterKind::Baseline => SeriesKind::Baseline,
                    RouterKind::RandomLine => SeriesKind::Random,
                    RouterKind::Optimal => SeriesKind::Optimal,
                },
                curve: row.curve.clone(),
                points: row.points.iter().map(|p| (p.share, p.quality)).collect(),
                apgr: row.apgr,
            })
            .collect(),
    }
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
        routellm: None,
        offpolicy: None,
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
                policy: x.policy.clone(),
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
    let cost_time_unknown = if o.has_timestamps {
        shown
            .iter()
            .filter(|&&p| results[p].cost_curve.is_none())
            .map(|&p| policies[p].name.clone())
            .collect()
    } else {
        Vec::new()
    };
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
        cost_time_unknown,
        budgets: o.budgets.clone(),
        segments,
        sweeps: sweep_curves(policies),
        routellm: None,
    }
}

/// The run's swept policies (variants named `base[path=value]`), as chart curves.
fn sweep_curves(policies: &[PolicyInfo]) -> Vec<crate::plot::cost_quality::SweepCurve> {
    use crate::policy::sweep;
    let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    sweep::curves(&names)
        .into_iter()
        .map(|(base, members)| {
            let settings: Vec<Vec<(&str, &str)>> = members
                .iter()
                .map(|&i| sweep::settings_pairs(names[i]))
                .collect();
            let params: Vec<&str> = settings
                .first()
                .map(|s| s.iter().map(|(p, _)| *p).collect())
                .unwrap_or_default();
            crate::plot::cost_quality::SweepCurve {
                label: format!("{base} ({})", params.join(", ")),
                values: settings
                    .iter()
                    .map(|s| s.iter().map(|(_, v)| *v).collect::<Vec<_>>().join(","))
                    .collect(),
                members,
            }
        })
        .collect()
}
