//! Model mix: one horizontal stacked bar per policy (share of requests answered by
//! each model).

use super::{DrawResult, FONT, Hot, Shape, color, short};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Draw bars for `mix` (policy, [(model, share)]); `models` fixes colours and order.
pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    mix: &[(String, Vec<(String, f64)>)],
    models: &[String],
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let n = mix.len().max(1);
    let (chart_area, legend_area) = root.split_horizontally(1600 - 360);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            "Which model answered (share of covered requests)",
            (FONT, 34),
        )
        .margin(30)
        .x_label_area_size(70)
        .y_label_area_size(330)
        .build_cartesian_2d(0.0..1.0, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("share of requests")
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 26))
        .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    // Policy names, right-aligned next to their bars.
    for (row, (name, _)) in mix.iter().enumerate() {
        let y = (n - 1 - row) as f64 + 0.5;
        let px = chart.backend_coord(&(0.0, y));
        let label = short(name, 30);
        let style: TextStyle = (FONT, 22).into();
        let tw = chart_area
            .estimate_text_size(&label, &style)
            .map(|s| s.0 as i32)
            .unwrap_or_else(|_| super::text_width(&label, 22.0));
        chart_area.draw(&Text::new(label, (px.0 - 12 - tw, px.1 - 12), style))?;
    }
    for (row, (policy, shares)) in mix.iter().enumerate() {
        let y = (n - 1 - row) as f64;
        let mut x = 0.0;
        for (mi, m) in models.iter().enumerate() {
            let share = shares
                .iter()
                .find(|(name, _)| name == m)
                .map(|(_, s)| *s)
                .unwrap_or(0.0);
            if share <= 0.0 {
                continue;
            }
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y + 0.15), (x + share, y + 0.85)],
                color(mi).filled(),
            )))?;
            let (a, b) = (
                chart.backend_coord(&(x, y + 0.85)),
                chart.backend_coord(&(x + share, y + 0.15)),
            );
            hot.add(
                Shape::Rect {
                    x0: a.0,
                    y0: a.1,
                    x1: b.0,
                    y1: b.1,
                },
                policy,
                format!(
                    "model mix: {m} answered {:.1}% of covered requests",
                    share * 100.0
                ),
            );
            x += share;
        }
    }
    // Legend on the right.
    for (mi, m) in models.iter().enumerate() {
        let y = 120 + mi as i32 * 40;
        legend_area.draw(&Rectangle::new([(10, y), (40, y + 26)], color(mi).filled()))?;
        legend_area.draw(&Text::new(
            short(super::short_model(m), 24),
            (50, y),
            (FONT, 22),
        ))?;
    }
    root.present()?;
    Ok(())
}
