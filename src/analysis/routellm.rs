//! RouteLLM's metrics for a two-model family (a strong and a weak model): quality
//! against the share of requests answered by the strong model, the call–performance
//! thresholds CPT(50 %) and CPT(80 %), and APGR, the average performance gap
//! recovered — as `lm-sys/RouteLLM`'s `evals/evaluate.py` defines them — with the
//! random-routing line and the optimal (hindsight) curve.
//!
//! Definitions (README "RouteLLM metrics"), with `w` and `s` the weak and strong
//! models' qualities:
//! - PGR(q) = (q − w) / (s − w);
//! - a router's curve is its points (strong share x, quality q) in order of x,
//!   anchored at (0, w) and (1, s) — the points RouteLLM's extreme thresholds give —
//!   when no point lies there;
//! - APGR = (AUC − w·(x₁ − x₀)) / ((s − w)·(x₁ − x₀)) with AUC the trapezoid area
//!   under the curve over its range [x₀, x₁] (RouteLLM's `apgr_metric`; the range
//!   is [0, 1] once anchored);
//! - CPT(p) = the first strong share at which the curve, joined linearly, reaches
//!   w + p·(s − w) (RouteLLM interpolates with `np.interp`, which assumes a rising
//!   curve: the two agree on one);
//! - random routing's curve is the straight line from (0, w) to (1, s) (analytic: the
//!   expected quality of sending a share x at random), so its APGR is ½;
//! - the optimal curve sends to the strong model the requests where it gains most
//!   (for 0/1 quality, RouteLLM's `get_optimal_accuracy`: weak-wrong, strong-right
//!   first), at most a share x of them.
//!
//! Owns numbers only: the rows come from the run's summaries, the per-request
//! qualities from the two single-model baselines; rendering is in `report`/`plot`.

use super::PolicySummary;
use crate::policy::sweep;
use crate::sim::trace::PolicyInfo;

/// A point of a curve: (share of requests answered by the strong model, quality).
pub type Pt = (f64, f64);

/// What a row of the RouteLLM table stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterKind {
    /// A swept policy: its variants trace the router's curve.
    Sweep,
    /// A policy (one point).
    Policy,
    /// A baseline routesim adds (random, single models): one point.
    Baseline,
    /// The hindsight oracle baseline: one point (labelled a baseline in tables).
    Oracle,
    /// Random routing's expected curve (analytic straight line).
    RandomLine,
    /// The optimal curve (hindsight; an upper bound).
    Optimal,
}

impl RouterKind {
    /// The `kind` column.
    pub fn label(self) -> &'static str {
        match self {
            RouterKind::Sweep => "sweep",
            RouterKind::Policy => "policy",
            RouterKind::Baseline | RouterKind::Oracle => "baseline",
            RouterKind::RandomLine => "random line",
            RouterKind::Optimal => "optimal",
        }
    }
}

/// A measured point: one policy's strong share and quality.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePoint {
    /// The policy.
    pub policy: String,
    /// Share of covered requests answered by the strong model.
    pub share: f64,
    /// Its quality.
    pub quality: f64,
    /// The optimal quality at that share (no router can do better).
    pub optimal: f64,
}

/// One row of the RouteLLM table.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterRow {
    /// A policy, a swept policy's name, `random (expected)` or `optimal`.
    pub name: String,
    /// What it is.
    pub kind: RouterKind,
    /// Its measured points (none for the analytic lines).
    pub points: Vec<RoutePoint>,
    /// The curve the metrics are computed on (anchored, sorted by share).
    pub curve: Vec<Pt>,
    /// CPT(50 %): strong share needed to recover half the gap (NaN: never).
    pub cpt50: f64,
    /// CPT(80 %).
    pub cpt80: f64,
    /// Average performance gap recovered.
    pub apgr: f64,
}

/// The RouteLLM section of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLlm {
    /// Strong model.
    pub strong: String,
    /// Weak model.
    pub weak: String,
    /// How the pair was chosen.
    pub chosen: String,
    /// Quality of every request sent to the strong model.
    pub strong_quality: f64,
    /// Quality of every request sent to the weak model.
    pub weak_quality: f64,
    /// Requests with a quality from both models (the optimal curve's requests).
    pub requests: usize,
    /// Rows: routers (sweeps, policies, baselines), then the random line and optimal.
    pub rows: Vec<RouterRow>,
    /// Policies left out, with the reason.
    pub left_out: Vec<(String, String)>,
}

/// Performance gap recovered by quality `q`.
pub fn pgr(q: f64, weak: f64, strong: f64) -> f64 {
    (q - weak) / (strong - weak)
}

/// Points sorted by share (stable), anchored at (0, weak) and (1, strong) when no
/// point lies at those shares.
pub fn anchored(points: &[Pt], weak: f64, strong: f64) -> Vec<Pt> {
    let mut v: Vec<Pt> = points.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    if v.first().is_none_or(|p| p.0 > 0.0) {
        v.insert(0, (0.0, weak));
    }
    if v.last().is_none_or(|p| p.0 < 1.0) {
        v.push((1.0, strong));
    }
    v
}

/// Trapezoid area under a curve sorted by x (`np.trapz(y, x)`).
pub fn auc(curve: &[Pt]) -> f64 {
    curve
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

/// APGR of a curve sorted by share: RouteLLM's
/// `(AUC − weak_auc) / (strong_auc − weak_auc)` over the curve's own range.
pub fn apgr(curve: &[Pt], weak: f64, strong: f64) -> f64 {
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
        return f64::NAN;
    };
    let width = last.0 - first.0;
    let (weak_auc, strong_auc) = (weak * width, strong * width);
    (auc(curve) - weak_auc) / (strong_auc - weak_auc)
}

/// CPT(`p`): the first share at which a curve sorted by share, joined linearly,
/// reaches `weak + p·(strong − weak)`; NaN when it never does.
pub fn cpt(curve: &[Pt], weak: f64, strong: f64, p: f64) -> f64 {
    let target = weak + p * (strong - weak);
    for (i, &(x, y)) in curve.iter().enumerate() {
        if y >= target {
            if i == 0 {
                return x;
            }
            let (x0, y0) = curve[i - 1];
            return x0 + (target - y0) / (y - y0) * (x - x0);
        }
    }
    f64::NAN
}

/// The optimal curve of requests with weak quality `qw[i]` and strong quality
/// `qs[i]`: at share x, every request goes to the weak model except the ⌊x·n⌋ (and a
/// fraction of the next) whose strong answer gains most, when it gains. Exact:
/// vertices at k/n up to the last gaining request, then flat to share 1.
pub fn optimal_curve(qw: &[f64], qs: &[f64]) -> Vec<Pt> {
    let n = qw.len().min(qs.len());
    if n == 0 {
        return Vec::new();
    }
    let base: f64 = qw[..n].iter().sum::<f64>() / n as f64;
    let mut gains: Vec<f64> = (0..n).map(|i| qs[i] - qw[i]).filter(|g| *g > 0.0).collect();
    gains.sort_by(|a, b| b.total_cmp(a));
    let mut curve = Vec::with_capacity(gains.len() + 2);
    let mut q = base;
    curve.push((0.0, q));
    for (k, g) in gains.iter().enumerate() {
        q += g / n as f64;
        curve.push(((k + 1) as f64 / n as f64, q));
    }
    if curve.last().is_some_and(|p| p.0 < 1.0) {
        curve.push((1.0, q));
    }
    curve
}

/// The value of a curve sorted by x at `x` (linear between vertices, flat outside).
pub fn value_at(curve: &[Pt], x: f64) -> f64 {
    let Some(first) = curve.first() else {
        return f64::NAN;
    };
    if x <= first.0 {
        return first.1;
    }
    for w in curve.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x1 {
            return if x1 > x0 {
                y0 + (x - x0) / (x1 - x0) * (y1 - y0)
            } else {
                y1
            };
        }
    }
    curve.last().map_or(f64::NAN, |p| p.1)
}

/// What the analysis reads of a run for the RouteLLM section.
pub struct Inputs<'a> {
    /// The run's policies, in order.
    pub policies: &'a [PolicyInfo],
    /// Their summaries, in order.
    pub summaries: &'a [PolicySummary],
    /// Whether each policy covers the same requests as both single-model baselines.
    pub same_requests: &'a [bool],
    /// Indices of the weak and strong single-model baselines.
    pub weak: usize,
    /// See `weak`.
    pub strong: usize,
    /// Per request covered by both: the weak model's and the strong model's quality.
    pub pairs: (&'a [f64], &'a [f64]),
    /// How the pair was chosen (for the report).
    pub chosen: String,
}

fn row(
    name: String,
    kind: RouterKind,
    points: Vec<RoutePoint>,
    curve: Vec<Pt>,
    w: f64,
    s: f64,
) -> RouterRow {
    RouterRow {
        name,
        kind,
        points,
        cpt50: cpt(&curve, w, s, 0.5),
        cpt80: cpt(&curve, w, s, 0.8),
        apgr: apgr(&curve, w, s),
        curve,
    }
}

/// The RouteLLM section: one row per swept policy (its variants in sweep order), per
/// other policy and per random / oracle baseline, then the random line and the
/// optimal curve. Policies covering other requests than the two models, or without
/// quality, are left out (listed).
pub fn analyze(inp: &Inputs) -> RouteLlm {
    let (w, s) = (
        inp.summaries[inp.weak].quality_mean,
        inp.summaries[inp.strong].quality_mean,
    );
    let strong_name = inp.policies[inp.strong]
        .kind
        .single_model()
        .unwrap_or_default()
        .to_string();
    let weak_name = inp.policies[inp.weak]
        .kind
        .single_model()
        .unwrap_or_default()
        .to_string();
    let optimal = optimal_curve(inp.pairs.0, inp.pairs.1);
    let mut left_out = Vec::new();
    let point = |p: usize| -> RoutePoint {
        let x = &inp.summaries[p];
        let share = x
            .model_mix
            .iter()
            .find(|(m, _)| *m == strong_name)
            .map_or(0.0, |(_, v)| *v);
        RoutePoint {
            policy: x.policy.clone(),
            share,
            quality: x.quality_mean,
            optimal: value_at(&optimal, share),
        }
    };
    let usable = |p: usize, left_out: &mut Vec<(String, String)>| -> bool {
        let name = &inp.policies[p].name;
        if !inp.same_requests[p] {
            left_out.push((
                name.clone(),
                "covers other requests than the two models".into(),
            ));
            false
        } else if !inp.summaries[p].quality_mean.is_finite() {
            left_out.push((name.clone(), "no quality labels".into()));
            false
        } else {
            true
        }
    };
    let names: Vec<&str> = inp.policies.iter().map(|p| p.name.as_str()).collect();
    let curves = sweep::curves(&names);
    let mut rows = Vec::new();
    let mut in_sweep = vec![false; names.len()];
    for (base, members) in &curves {
        let pts: Vec<RoutePoint> = members
            .iter()
            .filter(|&&p| usable(p, &mut left_out))
            .map(|&p| point(p))
            .collect();
        for &p in members {
            in_sweep[p] = true;
        }
        if pts.is_empty() {
            continue;
        }
        let xy: Vec<Pt> = pts.iter().map(|p| (p.share, p.quality)).collect();
        rows.push(row(
            base.clone(),
            RouterKind::Sweep,
            pts,
            anchored(&xy, w, s),
            w,
            s,
        ));
    }
    for (p, info) in inp.policies.iter().enumerate() {
        if in_sweep[p] || info.kind.single_model().is_some() {
            continue;
        }
        if !usable(p, &mut left_out) {
            continue;
        }
        let pt = point(p);
        let curve = anchored(&[(pt.share, pt.quality)], w, s);
        let kind = if matches!(
            info.kind,
            crate::policy::PolicyKind::Baseline(crate::policy::Baseline::Oracle)
        ) {
            RouterKind::Oracle
        } else if info.kind.is_baseline() {
            RouterKind::Baseline
        } else {
            RouterKind::Policy
        };
        rows.push(row(info.name.clone(), kind, vec![pt], curve, w, s));
    }
    rows.push(row(
        "random (expected)".into(),
        RouterKind::RandomLine,
        Vec::new(),
        vec![(0.0, w), (1.0, s)],
        w,
        s,
    ));
    rows.push(row(
        "optimal".into(),
        RouterKind::Optimal,
        Vec::new(),
        optimal,
        w,
        s,
    ));
    RouteLlm {
        strong: strong_name,
        weak: weak_name,
        chosen: inp.chosen.clone(),
        strong_quality: s,
        weak_quality: w,
        requests: inp.pairs.0.len(),
        rows,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Four requests, 0/1 quality:   r1    r2    r3    r4
    //                      weak     1     0     0     0    → w = 0.25
    //                      strong   1     1     1     0    → s = 0.75
    const QW: [f64; 4] = [1.0, 0.0, 0.0, 0.0];
    const QS: [f64; 4] = [1.0, 1.0, 1.0, 0.0];

    #[test]
    fn hand_worked_optimal_curve() {
        // Strong gains on r2 and r3 (1 each): the curve climbs 1/4 per request sent
        // there, (0, .25) → (.25, .5) → (.5, .75), then stays flat to (1, .75).
        let c = optimal_curve(&QW, &QS);
        assert_eq!(c, vec![(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (1.0, 0.75)]);
        // RouteLLM's get_optimal_accuracy at 10% strong calls: weak-correct 1 +
        // min(0.4 calls, 2 weak-wrong & strong-right) = 1.4 of 4 = 0.35.
        assert!((value_at(&c, 0.1) - 0.35).abs() < 1e-12);
        // PGR = min(2x, 1): APGR = ∫ = 0.25 + 0.5 = 0.75; CPT(50%) at x = 0.25,
        // CPT(80%) where 2x = 0.8: x = 0.4.
        assert!((apgr(&c, 0.25, 0.75) - 0.75).abs() < 1e-12);
        assert!((cpt(&c, 0.25, 0.75, 0.5) - 0.25).abs() < 1e-12);
        assert!((cpt(&c, 0.25, 0.75, 0.8) - 0.4).abs() < 1e-12);
    }

    #[test]
    fn hand_worked_router_curve() {
        // A router sending to the strong model the requests scoring at least T, with
        // scores r1 .9, r2 .7, r3 .2, r4 .5, swept over T = 1, .8, .6, .3, .1:
        //   T=1:  none          share 0,    quality .25
        //   T=.8: r1            share .25,  quality .25 (r1 is right on both)
        //   T=.6: r1 r2         share .5,   quality .5
        //   T=.3: r1 r2 r4      share .75,  quality .5
        //   T=.1: all           share 1,    quality .75
        let pts = [
            (0.0, 0.25),
            (0.25, 0.25),
            (0.5, 0.5),
            (0.75, 0.5),
            (1.0, 0.75),
        ];
        let c = anchored(&pts, 0.25, 0.75);
        assert_eq!(c, pts.to_vec(), "already spans 0..1: no anchor added");
        // PGR 0, 0, .5, .5, 1; trapezoids of width .25: 0 + .0625 + .125 + .1875.
        assert!((apgr(&c, 0.25, 0.75) - 0.375).abs() < 1e-12);
        // Half the gap (q = .5) first at share .5; 80% (q = .65) between (.75, .5)
        // and (1, .75): .75 + (.15 / .25) × .25 = .9.
        assert!((cpt(&c, 0.25, 0.75, 0.5) - 0.5).abs() < 1e-12);
        assert!((cpt(&c, 0.25, 0.75, 0.8) - 0.9).abs() < 1e-12);
        // Only T = .6 and .3 measured: anchored at both ends, PGR 0, .5, .5, 1 over
        // widths .5, .25, .25: .125 + .125 + .1875 = .4375.
        let c = anchored(&[(0.75, 0.5), (0.5, 0.5)], 0.25, 0.75);
        assert_eq!(c, vec![(0.0, 0.25), (0.5, 0.5), (0.75, 0.5), (1.0, 0.75)]);
        assert!((apgr(&c, 0.25, 0.75) - 0.4375).abs() < 1e-12);
        // One point (T = .6): (0,.25), (.5,.5), (1,.75) is the random line: ½.
        let c = anchored(&[(0.5, 0.5)], 0.25, 0.75);
        assert!((apgr(&c, 0.25, 0.75) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn apgr_over_a_partial_range_is_routellms() {
        // RouteLLM normalises by the curve's own range: PGR 0 → 1 linearly over
        // [.2, .6] averages ½ whatever the range.
        let c = [(0.2, 0.25), (0.6, 0.75)];
        assert!((apgr(&c, 0.25, 0.75) - 0.5).abs() < 1e-12);
        // A curve below the target never reaches it.
        assert!(cpt(&[(0.0, 0.25), (1.0, 0.5)], 0.25, 0.75, 0.8).is_nan());
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, .. ProptestConfig::default() })]

        /// No routing of the requests between the two models beats the optimal curve
        /// at its strong share, and no curve of such routings has a larger APGR.
        #[test]
        fn the_optimal_curve_is_above_every_routing(
            cells in proptest::collection::vec((0u8..=10, 0u8..=10, any::<bool>(), any::<bool>()), 1..40),
        ) {
            let qw: Vec<f64> = cells.iter().map(|c| c.0 as f64 / 10.0).collect();
            let qs: Vec<f64> = cells.iter().map(|c| c.1 as f64 / 10.0).collect();
            let n = cells.len() as f64;
            let opt = optimal_curve(&qw, &qs);
            let route = |pick: &dyn Fn(usize) -> bool| -> Pt {
                let k = (0..cells.len()).filter(|&i| pick(i)).count() as f64;
                let q = (0..cells.len()).map(|i| if pick(i) { qs[i] } else { qw[i] }).sum::<f64>() / n;
                (k / n, q)
            };
            let a = route(&|i| cells[i].2);
            let b = route(&|i| cells[i].3);
            let c = route(&|i| cells[i].2 && cells[i].3);
            for p in [a, b, c] {
                prop_assert!(p.1 <= value_at(&opt, p.0) + 1e-12, "{p:?} above {opt:?}");
            }
            let (w, s) = (qw.iter().sum::<f64>() / n, qs.iter().sum::<f64>() / n);
            if s > w + 1e-9 {
                let curve = anchored(&[a, b, c], w, s);
                prop_assert!(apgr(&curve, w, s) <= apgr(&opt, w, s) + 1e-9);
                // The line from all-weak to all-strong recovers half the gap.
                prop_assert!((apgr(&[(0.0, w), (1.0, s)], w, s) - 0.5).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn values_between_vertices_are_linear() {
        let c = [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)];
        assert_eq!(value_at(&c, 0.25), 0.5);
        assert_eq!(value_at(&c, 0.75), 1.0);
        assert_eq!(value_at(&c, -1.0), 0.0);
        assert_eq!(value_at(&c, 2.0), 1.0);
    }
}
