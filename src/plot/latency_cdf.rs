//! Latency CDF per policy (log x).

use super::{Curve, DrawResult, FONT, Hot, Shape, color, short};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The empirical CDF of ascending latencies (ms) as at most ~400 steps of (latency,
/// share of requests at or below it) — small enough for an SVG, whatever the run size.
pub fn cdf_points(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let step = (n / 400).max(1);
    let mut pts: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|k| (sorted[k], (k + 1) as f64 / n as f64))
        .collect();
    pts.push((sorted[n - 1], 1.0));
    pts
}

/// Draw the CDF curves of `series` ([`cdf_points`] per policy).
pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[Curve],
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let all: Vec<f64> = series
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .filter(|x| *x > 0.0)
        .collect();
    if all.is_empty() {
        root.draw(&Text::new("no latencies to plot", (60, 60), (FONT, 30)))?;
        root.present()?;
        return Ok(());
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
    let hi = all.iter().copied().fold(0.0f64, f64::max).max(lo * 10.0);
    let x0 = 10f64.powf(lo.log10().floor());
    let x1 = 10f64.powf(hi.log10().ceil());
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "End-to-end latency (share of requests faster than x)",
            (FONT, 34),
        )
        .margin(30)
        .x_label_area_size(80)
        .y_label_area_size(100)
        .build_cartesian_2d((x0..x1).log_scale(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("end-to-end latency (log scale)")
        .y_desc("share of requests")
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 26))
        .x_label_formatter(&|x| {
            if *x >= 1000.0 {
                format!("{:.0} s", x / 1000.0)
            } else {
                format!("{x:.0} ms")
            }
        })
        .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, curve) in series.iter().enumerate() {
        if curve.points.is_empty() {
            continue;
        }
        let pts: Vec<(f64, f64)> = curve.points.iter().map(|&(x, y)| (x.max(x0), y)).collect();
        let median = curve
            .points
            .iter()
            .find(|p| p.1 >= 0.5)
            .map(|p| p.0)
            .unwrap_or(f64::NAN);
        hot.add(
            Shape::Line(pts.iter().map(|p| chart.backend_coord(p)).collect()),
            &curve.name,
            format!(
                "latency: half of the requests within {} (CDF)",
                super::fmt_ms(median)
            ),
        );
        let name = &curve.name;
        // Baselines in grey, policies in colour.
        let c = if curve.baseline {
            super::GREY
        } else {
            color(i)
        };
        let style = c.stroke_width(3);
        chart
            .draw_series(LineSeries::new(pts, style))?
            .label(short(name, 28))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(4)));
    }
    super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}
