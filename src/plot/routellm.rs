//! Quality against the share of requests answered by the strong model (RouteLLM's
//! router chart): each swept policy's curve, single policies and baselines as points,
//! random routing's straight line, the optimal curve and the two models' qualities.

use super::{DrawResult, FONT, GREY, Hot, Shape, color, draw_legend};
use plotters::coord::Shift;
use plotters::prelude::*;

/// What a series is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// A swept policy's curve.
    Router,
    /// A policy (one point).
    Point,
    /// A baseline (one point).
    Baseline,
    /// The hindsight oracle baseline (one point).
    Oracle,
    /// Random routing's expected line.
    Random,
    /// The optimal curve.
    Optimal,
}

/// One series of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// What it is.
    pub kind: SeriesKind,
    /// The curve the metrics use: (strong share 0–1, quality), anchored.
    pub curve: Vec<(f64, f64)>,
    /// Measured points.
    pub points: Vec<(f64, f64)>,
    /// Its APGR (shown in the legend).
    pub apgr: f64,
}

/// Everything the chart draws.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLlmChart {
    /// Strong model and its quality.
    pub strong: (String, f64),
    /// Weak model and its quality.
    pub weak: (String, f64),
    /// Series, in table order.
    pub series: Vec<Series>,
}

fn pct(v: &[(f64, f64)]) -> Vec<(f64, f64)> {
    v.iter().map(|(x, y)| (x * 100.0, *y)).collect()
}

/// Draw the chart.
pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    d: &RouteLlmChart,
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let ys = d
        .series
        .iter()
        .flat_map(|s| s.curve.iter().chain(&s.points).map(|p| p.1))
        .chain([d.strong.1, d.weak.1])
        .filter(|y| y.is_finite());
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let pad = ((hi - lo) * 0.08).max(0.01);
    let (y0, y1) = ((lo - pad).max(0.0), hi + pad);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Quality vs share of requests answered by the strong model (RouteLLM)",
            (FONT, 34),
        )
        .margin(30)
        .x_label_area_size(80)
        .y_label_area_size(100)
        .build_cartesian_2d(0f64..100f64, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(format!("requests answered by {} (%)", d.strong.0))
        .y_desc("mean quality")
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 26))
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    // The two models' qualities.
    for ((name, q), col) in [
        (&d.weak, RGBColor(150, 150, 150)),
        (&d.strong, RGBColor(200, 60, 60)),
    ] {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, *q), (100.0, *q)],
                6,
                6,
                col.stroke_width(2),
            ))?
            .label(format!("{name} alone: {q:.3}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], col.stroke_width(2)));
    }
    let apgr = |a: f64| {
        if a.is_finite() {
            format!("APGR {a:.3}")
        } else {
            "APGR —".into()
        }
    };
    let mut k = 0usize;
    for s in &d.series {
        let label = format!("{}: {}", super::short(&s.name, 40), apgr(s.apgr));
        // Hover: the curve as a line, each measured point as a circle.
        if s.curve.len() > 1 {
            hot.add(
                Shape::Line(
                    pct(&s.curve)
                        .iter()
                        .map(|p| chart.backend_coord(p))
                        .collect(),
                ),
                &s.name,
                format!("quality vs strong-model share: {}", apgr(s.apgr)),
            );
        }
        for p in pct(&s.points) {
            let (x, y) = chart.backend_coord(&p);
            hot.add(
                Shape::Circle { x, y, r: 12 },
                &s.name,
                format!(
                    "{:.1}% of requests answered by {}, quality {:.3}",
                    p.0, d.strong.0, p.1
                ),
            );
        }
        match s.kind {
            SeriesKind::Random => {
                chart
                    .draw_series(DashedLineSeries::new(
                        pct(&s.curve),
                        12,
                        8,
                        GREY.stroke_width(3),
                    ))?
                    .label(label)
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 30, y)], GREY.stroke_width(3))
                    });
            }
            SeriesKind::Optimal => {
                let black = RGBColor(0, 0, 0);
                chart
                    .draw_series(LineSeries::new(pct(&s.curve), black.stroke_width(3)))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 30, y)], black.stroke_width(3))
                    });
            }
            SeriesKind::Router => {
                let c = color(k);
                k += 1;
                chart
                    .draw_series(LineSeries::new(pct(&s.curve), c.stroke_width(3)))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 30, y)], c.stroke_width(3))
                    });
                chart.draw_series(
                    pct(&s.points)
                        .into_iter()
                        .map(|p| Circle::new(p, 7, c.filled())),
                )?;
            }
            SeriesKind::Point => {
                let c = color(k);
                k += 1;
                chart
                    .draw_series(
                        pct(&s.points)
                            .into_iter()
                            .map(|p| Circle::new(p, 10, c.filled())),
                    )?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 15, y), 8, c.filled()));
            }
            SeriesKind::Oracle => {
                let black = RGBColor(0, 0, 0);
                chart
                    .draw_series(
                        pct(&s.points)
                            .into_iter()
                            .map(move |p| Cross::new(p, 11, black.stroke_width(3))),
                    )?
                    .label(label)
                    .legend(move |(x, y)| Cross::new((x + 15, y), 8, black.stroke_width(3)));
            }
            SeriesKind::Baseline => {
                chart
                    .draw_series(
                        pct(&s.points)
                            .into_iter()
                            .map(|p| TriangleMarker::new(p, 11, GREY.filled())),
                    )?
                    .label(label)
                    .legend(|(x, y)| TriangleMarker::new((x + 15, y), 9, GREY.filled()));
            }
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}
