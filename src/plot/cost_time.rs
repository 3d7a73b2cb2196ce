//! Cumulative cost over time per policy, with budget limits as a staircase.

use super::{Curve, DrawResult, FONT, Hot, Shape, color, short};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Draw `series` (policy, [(hours, cumulative USD)]) and `budgets` (policy, USD per
/// period, period hours); `unknown` policies (cost unknown) are named as not shown.
pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[Curve],
    unknown: &[String],
    budgets: &[(String, f64, f64)],
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    if !unknown.is_empty() {
        root.draw(&Text::new(
            format!(
                "not shown, cost unknown: {}",
                short(&unknown.join(", "), 110)
            ),
            (40, (super::SIZE.1 - 36) as i32),
            (FONT, 22),
        ))?;
    }
    let xmax = series
        .iter()
        .flat_map(|c| c.points.last().map(|p| p.0))
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let ymax = series
        .iter()
        .flat_map(|c| c.points.last().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.08;
    let mut chart = ChartBuilder::on(&root)
        .caption("Cumulative cost over time", (FONT, 34))
        .margin(30)
        .x_label_area_size(80)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
    chart
        .configure_mesh()
        .x_desc("hours since the first request")
        .y_desc("cumulative cost (USD)")
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 26))
        .y_label_formatter(&|y| {
            if ymax < 1.0 {
                format!("${y:.3}")
            } else {
                format!("${y:.2}")
            }
        })
        .x_label_formatter(&|x| format!("{x:.1}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, curve) in series.iter().enumerate() {
        let (name, pts) = (&curve.name, &curve.points);
        let c = if curve.baseline {
            super::GREY
        } else {
            color(i)
        };
        let step = (pts.len() / 800).max(1);
        let thin: Vec<(f64, f64)> = pts
            .iter()
            .step_by(step)
            .copied()
            .chain(pts.last().copied())
            .collect();
        let last = pts.last().copied().unwrap_or((0.0, 0.0));
        let budget = budgets
            .iter()
            .find(|(p, _, _)| p == name)
            .map(|(_, l, h)| format!(" (budget ${l} per {h} h)"))
            .unwrap_or_default();
        hot.add(
            Shape::Line(thin.iter().map(|p| chart.backend_coord(p)).collect()),
            name,
            format!(
                "cumulative cost: ${:.4} after {}{budget}",
                last.1,
                if last.0 < 1.0 {
                    format!("{:.0} min", last.0 * 60.0)
                } else {
                    format!("{:.1} h", last.0)
                }
            ),
        );
        chart
            .draw_series(LineSeries::new(thin, c.stroke_width(3)))?
            .label(short(name, 28))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(4)));
        if let Some((_, limit, period_h)) = budgets.iter().find(|(p, _, _)| p == name) {
            // Allowed spend: `limit` per period, as a staircase.
            let mut stairs = Vec::new();
            let mut k = 0.0;
            while k * period_h <= xmax {
                stairs.push((k * period_h, (k + 1.0) * limit));
                stairs.push(((k + 1.0) * period_h, (k + 1.0) * limit));
                k += 1.0;
            }
            chart.draw_series(DashedLineSeries::new(stairs, 10, 6, c.stroke_width(2)))?;
        }
    }
    super::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}
