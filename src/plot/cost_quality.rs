//! Cost vs quality: one point per policy with its 95% CI, the non-decreasing convex
//! hull as the frontier, single-model baselines and the oracle labelled.

use super::{DrawResult, FONT, GREY, Hot, Shape, color, text_width};
use plotters::coord::Shift;
use plotters::prelude::*;

/// What a point stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user policy.
    Policy,
    /// A single-model baseline.
    Single,
    /// Random baseline.
    Random,
    /// Oracle (upper bound).
    Oracle,
    /// What production did (a gateway log's outcomes).
    Logged,
}

/// One policy on the chart.
#[derive(Debug, Clone)]
pub struct Point {
    /// Policy name (the hover target's).
    pub policy: String,
    /// Label (a single-model baseline: its model's short name).
    pub label: String,
    /// Kind.
    pub kind: Kind,
    /// Cost per 1,000 requests, USD.
    pub cost: f64,
    /// Mean quality.
    pub quality: f64,
    /// CI low.
    pub lo: f64,
    /// CI high.
    pub hi: f64,
    /// Left out of the hull (another request set, unknown cost): drawn hollow.
    pub left_out: bool,
}

/// A swept policy: its variants drawn as one connected curve, in sweep order.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepCurve {
    /// Curve label: the policy and the swept parameter(s).
    pub label: String,
    /// Indices of its variants in the points, in sweep order.
    pub members: Vec<usize>,
    /// Each variant's value(s), as written in its name (`20`; `20,0.5` for a grid).
    pub values: Vec<String>,
}

fn overlaps(a: (i32, i32, i32, i32), b: &(i32, i32, i32, i32)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Draw the chart; each sweep's variants are joined by a line in sweep order, in one
/// colour, labelled with the policy and parameter once and with each value.
pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    pts: &[Point],
    hull: &[(f64, f64)],
    sweeps: &[SweepCurve],
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let all = pts;
    // Colour per point: one per policy, one per sweep (its first variant's turn).
    let mut colours: Vec<Option<RGBColor>> = vec![None; all.len()];
    // Per point: (sweep, position in it).
    let mut member: Vec<Option<(usize, usize)>> = vec![None; all.len()];
    for (c, sw) in sweeps.iter().enumerate() {
        for (k, &i) in sw.members.iter().enumerate() {
            if i < all.len() {
                member[i] = Some((c, k));
            }
        }
    }
    {
        let mut next = 0usize;
        let mut sweep_colour: Vec<Option<RGBColor>> = vec![None; sweeps.len()];
        for (i, p) in all.iter().enumerate() {
            if p.kind != Kind::Policy {
                continue;
            }
            colours[i] = Some(match member[i] {
                Some((c, _)) => *sweep_colour[c].get_or_insert_with(|| {
                    next += 1;
                    color(next - 1)
                }),
                None => {
                    next += 1;
                    color(next - 1)
                }
            });
        }
    }
    let index_of = |p: &Point| all.iter().position(|q| std::ptr::eq(q, p)).unwrap_or(0);
    let unknown_cost: Vec<&str> = pts
        .iter()
        .filter(|p| !p.cost.is_finite() && p.quality.is_finite())
        .map(|p| p.label.as_str())
        .collect();
    let pts: Vec<&Point> = pts
        .iter()
        .filter(|p| p.cost.is_finite() && p.cost > 0.0 && p.quality.is_finite())
        .collect();
    if pts.is_empty() {
        if unknown_cost.is_empty() {
            root.draw(&Text::new(
                "no priced, labelled policies to plot",
                (60, 60),
                (FONT, 30),
            ))?;
            root.present()?;
            return Ok(());
        }
        return draw_quality_only(root, all, hot);
    }
    if !unknown_cost.is_empty() {
        root.draw(&Text::new(
            format!(
                "not shown, cost unknown: {}",
                crate::plot::short(&unknown_cost.join(", "), 110)
            ),
            (40, (super::SIZE.1 - 36) as i32),
            (FONT, 22),
        ))?;
    }
    let (cmin, cmax) = pts.iter().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.cost), b.max(p.cost))
    });
    let (qmin, qmax) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.lo.min(p.quality)), b.max(p.hi.max(p.quality)))
        });
    let x0 = 10f64.powf((cmin.log10() - 0.15).floor_to(0.5));
    let x1 = 10f64.powf((cmax.log10() + 0.25).ceil_to(0.5));
    let y0 = ((qmin - 0.04) * 20.0).floor() / 20.0;
    let y1 = (((qmax + 0.03) * 20.0).ceil() / 20.0).min(1.02);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            if pts.iter().any(|p| p.left_out) {
                "Cost vs quality (95% CI; dashed: convex hull; * hollow: other requests, not comparable)"
            } else {
                "Cost vs quality (95% CI; dashed: non-decreasing convex hull)"
            },
            (FONT, 34),
        )
        .margin(30)
        .x_label_area_size(80)
        .y_label_area_size(100)
        .build_cartesian_2d((x0..x1).log_scale(), y0.max(0.0)..y1)?;
    chart
        .configure_mesh()
        .x_desc("cost per 1,000 requests (USD, log scale)")
        .y_desc("mean quality")
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 26))
        .x_label_formatter(&|x| {
            if *x >= 1.0 {
                format!("${x:.0}")
            } else if *x >= 0.1 {
                format!("${x:.1}")
            } else {
                format!("${x:.2}")
            }
        })
        .y_label_formatter(&|y| format!("{y:.2}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    // Hull.
    let hull_pts: Vec<(f64, f64)> = hull
        .iter()
        .copied()
        .filter(|(c, _)| *c >= x0 && *c <= x1)
        .collect();
    if hull_pts.len() >= 2 {
        chart.draw_series(DashedLineSeries::new(
            hull_pts.clone(),
            12,
            8,
            RGBColor(90, 90, 90).stroke_width(2),
        ))?;
    }
    // Sweeps: one connected line through the variants, in sweep order.
    for sw in sweeps {
        let line: Vec<(f64, f64)> = sw
            .members
            .iter()
            .filter_map(|&i| all.get(i))
            .filter(|p| p.cost.is_finite() && p.cost > 0.0 && p.quality.is_finite())
            .map(|p| (p.cost, p.quality))
            .collect();
        let col = sw
            .members
            .first()
            .and_then(|&i| colours.get(i).copied().flatten())
            .unwrap_or(GREY);
        if line.len() >= 2 {
            chart.draw_series(std::iter::once(PathElement::new(line, col.stroke_width(3))))?;
        }
    }
    // CI bars.
    for p in &pts {
        if p.lo.is_finite() && p.hi.is_finite() {
            let c = if p.kind == Kind::Policy {
                RGBColor(120, 120, 120)
            } else {
                RGBColor(190, 190, 190)
            };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(p.cost, p.lo), (p.cost, p.hi)],
                c.stroke_width(2),
            )))?;
        }
    }
    // Points: baselines first, policies on top.
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let mut labels: Vec<(String, (i32, i32), RGBColor, bool)> = Vec::new();
    for kind in [
        Kind::Single,
        Kind::Random,
        Kind::Oracle,
        Kind::Logged,
        Kind::Policy,
    ] {
        for p in pts.iter().filter(|p| p.kind == kind) {
            let at = (p.cost, p.quality);
            // Hollow: not comparable with the hull (another request set).
            let style = |c: RGBColor| {
                if p.left_out {
                    c.stroke_width(3)
                } else {
                    c.filled()
                }
            };
            let mark = if p.left_out { " *" } else { "" };
            let i = index_of(p);
            let (col, label) = match p.kind {
                Kind::Policy => {
                    let c = colours[i].unwrap_or(GREY);
                    match member[i] {
                        Some((sc, k)) => {
                            chart.draw_series(std::iter::once(Circle::new(at, 8, style(c))))?;
                            let px = chart.backend_coord(&at);
                            if k == 0 {
                                labels.push((sweeps[sc].label.clone(), px, c, true));
                            }
                            let value = sweeps[sc].values.get(k).cloned().unwrap_or_default();
                            labels.push((format!("{value}{mark}"), px, c, false));
                            continue;
                        }
                        None => {
                            chart.draw_series(std::iter::once(Circle::new(at, 11, style(c))))?;
                            (c, format!("{}{mark}", p.label))
                        }
                    }
                }
                Kind::Single => {
                    let px = chart.backend_coord(&at);
                    root.draw(&Rectangle::new(
                        [(px.0 - 8, px.1 - 8), (px.0 + 8, px.1 + 8)],
                        style(GREY),
                    ))?;
                    (GREY, format!("{}{mark}", p.label))
                }
                Kind::Random => {
                    let px = chart.backend_coord(&at);
                    root.draw(&TriangleMarker::new(px, 11, style(GREY)))?;
                    (GREY, format!("random{mark}"))
                }
                Kind::Oracle => {
                    let px = chart.backend_coord(&at);
                    root.draw(&Cross::new(px, 11, RGBColor(0, 0, 0).stroke_width(3)))?;
                    (RGBColor(0, 0, 0), "oracle (hindsight)".to_string())
                }
                Kind::Logged => {
                    let px = chart.backend_coord(&at);
                    let black = RGBColor(0, 0, 0);
                    root.draw(&Rectangle::new(
                        [(px.0 - 9, px.1 - 9), (px.0 + 9, px.1 + 9)],
                        if p.left_out {
                            black.stroke_width(3)
                        } else {
                            black.filled()
                        },
                    ))?;
                    (black, format!("logged (production){mark}"))
                }
            };
            let px = chart.backend_coord(&at);
            hot.add(
                Shape::Circle {
                    x: px.0,
                    y: px.1,
                    r: 16,
                },
                &p.policy,
                point_detail(p),
            );
            labels.push((label, px, col, p.kind == Kind::Policy));
        }
    }
    // Labels: try right, left, above, below; skip a baseline label that cannot fit.
    let (w, h) = root.dim_in_pixel();
    for (_, px, _, _) in &labels {
        placed.push((px.0 - 11, px.1 - 11, px.0 + 11, px.1 + 11));
    }
    // Policy labels first (never dropped), then baselines where they fit.
    labels.sort_by_key(|l| !l.3);
    for (label, px, col, strong) in &labels {
        let size = if *strong { 24.0 } else { 20.0 };
        let est: TextStyle = (FONT, size).into();
        let tw = root
            .estimate_text_size(label, &est)
            .map(|s| s.0 as i32)
            .unwrap_or_else(|_| text_width(label, size));
        let th = size as i32 + 4;
        let mut candidates = vec![
            (px.0 + 16, px.1 - th / 2),
            (px.0 - 16 - tw, px.1 - th / 2),
            (px.0 - tw / 2, px.1 - 18 - th),
            (px.0 - tw / 2, px.1 + 18),
        ];
        for k in 1..=4 {
            let d = k * th;
            candidates.extend([
                (px.0 + 16, px.1 - th / 2 - d),
                (px.0 + 16, px.1 - th / 2 + d),
                (px.0 - 16 - tw, px.1 - th / 2 - d),
                (px.0 - 16 - tw, px.1 - th / 2 + d),
            ]);
        }
        let fits = |(x, y): (i32, i32)| {
            let r = (x, y, x + tw, y + th);
            r.0 >= 0
                && r.2 <= w as i32
                && r.1 >= 0
                && r.3 <= h as i32
                && !placed.iter().any(|p| overlaps(r, p))
        };
        let spot = candidates
            .iter()
            .copied()
            .find(|c| fits(*c))
            .or(if *strong { Some(candidates[0]) } else { None });
        if let Some((x, y)) = spot {
            placed.push((x, y, x + tw, y + th));
            if (x - px.0).abs() > tw + 40 || (y - px.1).abs() > 2 * th {
                root.draw(&PathElement::new(
                    vec![*px, (x + tw / 2, y + th / 2)],
                    col.mix(0.5).stroke_width(1),
                ))?;
            }
            let style = TextStyle::from((FONT, size).into_font()).color(col);
            root.draw(&Text::new(label.clone(), (x, y), style))?;
        }
    }
    root.present()?;
    Ok(())
}

/// Without any known cost (no prices): quality per policy with its CI, one row each,
/// titled so nobody reads a missing cost as $0.
fn draw_quality_only<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    pts: &[Point],
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let pts: Vec<&Point> = pts.iter().filter(|p| p.quality.is_finite()).collect();
    let n = pts.len();
    let (lo, hi) = pts.iter().fold((1.0f64, 0.0f64), |(a, b), p| {
        (
            a.min(if p.lo.is_finite() { p.lo } else { p.quality }),
            b.max(if p.hi.is_finite() { p.hi } else { p.quality }),
        )
    });
    let x0 = ((lo - 0.05) * 10.0).floor().max(0.0) / 10.0;
    let x1 = (((hi + 0.05) * 10.0).ceil() / 10.0).min(1.05);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Quality by policy (95% CI) — costs unknown: models without a price",
            (FONT, 34),
        )
        .margin(30)
        .x_label_area_size(80)
        .y_label_area_size(320)
        .build_cartesian_2d(x0..x1, -0.5f64..(n as f64 - 0.5))?;
    let labels: Vec<String> = pts.iter().map(|p| super::short(&p.label, 30)).collect();
    chart
        .configure_mesh()
        .x_desc("quality")
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 26))
        .y_labels(n.max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[labels.len() - 1 - i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|x| format!("{x:.2}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let mut k = 0usize;
    for (i, p) in pts.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let c = if p.kind == Kind::Policy {
            k += 1;
            color(k - 1)
        } else {
            GREY
        };
        if p.lo.is_finite() && p.hi.is_finite() {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(p.lo, y), (p.hi, y)],
                c.stroke_width(3),
            )))?;
        }
        chart.draw_series(std::iter::once(Circle::new((p.quality, y), 9, c.filled())))?;
        let px = chart.backend_coord(&(p.quality, y));
        hot.add(
            Shape::Circle {
                x: px.0,
                y: px.1,
                r: 14,
            },
            &p.policy,
            point_detail(p),
        );
    }
    root.present()?;
    Ok(())
}

/// What a point adds to the policy's figures (which the page shows with it).
fn point_detail(p: &Point) -> String {
    match (p.left_out, p.kind) {
        (true, _) => "measured on other requests: not comparable with the hull".into(),
        (false, Kind::Oracle) => "hindsight upper bound, not deployable".into(),
        (false, Kind::Single) => "single-model baseline".into(),
        (false, Kind::Random) => "uniform random baseline".into(),
        (false, Kind::Logged) => "what production did (the gateway log)".into(),
        (false, Kind::Policy) => String::new(),
    }
}

trait Snap {
    fn floor_to(self, step: f64) -> f64;
    fn ceil_to(self, step: f64) -> f64;
}

impl Snap for f64 {
    fn floor_to(self, step: f64) -> f64 {
        (self / step).floor() * step
    }
    fn ceil_to(self, step: f64) -> f64 {
        (self / step).ceil() * step
    }
}
