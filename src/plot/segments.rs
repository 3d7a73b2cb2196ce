//! Quality by segment: a heatmap of policies × segment values with the value printed.

use super::{DrawResult, FONT, Hot, Shape, short};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Sequential colour (light yellow → dark blue, viridis-like) for a value in 0..1.
fn heat(v: f64) -> RGBColor {
    const STOPS: [(f64, (u8, u8, u8)); 5] = [
        (0.0, (253, 231, 37)),
        (0.25, (94, 201, 98)),
        (0.5, (33, 145, 140)),
        (0.75, (59, 82, 139)),
        (1.0, (68, 1, 84)),
    ];
    let v = v.clamp(0.0, 1.0);
    for w in STOPS.windows(2) {
        if v <= w[1].0 {
            let f = (v - w[0].0) / (w[1].0 - w[0].0);
            let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
            return RGBColor(
                mix(w[0].1.0, w[1].1.0),
                mix(w[0].1.1, w[1].1.1),
                mix(w[0].1.2, w[1].1.2),
            );
        }
    }
    RGBColor(68, 1, 84)
}

/// Draw rows (policy, quality per value) against `values` of `key`.
pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    key: &str,
    values: &[String],
    rows: &[(String, Vec<f64>)],
    hot: &mut Hot,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        format!("Mean quality by {key}"),
        (40, 24),
        (FONT, 34),
    ))?;
    let (w, h) = root.dim_in_pixel();
    let left = 360i32;
    let top = 130i32;
    let nc = values.len().max(1) as i32;
    let nr = rows.len().max(1) as i32;
    let cw = ((w as i32 - left - 40) / nc).max(40);
    let ch = ((h as i32 - top - 60) / nr).clamp(18, 70);
    // Scale colours to the observed range so differences are visible.
    let all: Vec<f64> = rows
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|x| x.is_finite())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    for (j, v) in values.iter().enumerate() {
        let x = left + j as i32 * cw;
        root.draw(&Text::new(
            short(v, (cw / 13).max(4) as usize),
            (x + 6, top - 36),
            (FONT, 22),
        ))?;
    }
    let text_size: f64 = if ch >= 40 { 22.0 } else { 16.0 };
    for (i, (name, vals)) in rows.iter().enumerate() {
        let y = top + i as i32 * ch;
        root.draw(&Text::new(
            short(name, 28),
            (10, y + ch / 2 - 11),
            (FONT, text_size.min(22.0)),
        ))?;
        for (j, q) in vals.iter().enumerate() {
            let x = left + j as i32 * cw;
            hot.add(
                Shape::Rect {
                    x0: x,
                    y0: y,
                    x1: x + cw - 2,
                    y1: y + ch - 2,
                },
                name,
                format!(
                    "{key} = {}: quality {}",
                    values.get(j).map(String::as_str).unwrap_or(""),
                    if q.is_finite() {
                        format!("{q:.3}")
                    } else {
                        "— (no requests)".into()
                    }
                ),
            );
            if !q.is_finite() {
                root.draw(&Rectangle::new(
                    [(x, y), (x + cw - 2, y + ch - 2)],
                    RGBColor(240, 240, 240).filled(),
                ))?;
                continue;
            }
            let t = (q - lo) / span;
            root.draw(&Rectangle::new(
                [(x, y), (x + cw - 2, y + ch - 2)],
                heat(t).filled(),
            ))?;
            let fg = if t > 0.45 { WHITE } else { BLACK };
            let style = TextStyle::from((FONT, text_size).into_font()).color(&fg);
            root.draw(&Text::new(
                format!("{q:.2}"),
                (x + cw / 2 - 22, y + ch / 2 - (text_size as i32) / 2),
                style,
            ))?;
        }
    }
    root.present()?;
    Ok(())
}
