//! Charts with plotters, one file per chart, each drawn to PNG and SVG (1600×1000).
//!
//! Text uses DejaVu Sans embedded in the binary (registered with plotters' ab_glyph
//! backend), so PNGs render on machines without system fonts. Colours follow the
//! Okabe–Ito palette, which stays distinguishable for colour-blind readers.

pub mod cost_quality;
pub mod cost_time;
pub mod latency_cdf;
pub mod model_mix;
pub mod routellm;
pub mod segments;

use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (1600, 1000);

/// Okabe–Ito colours, most distinguishable first (yellow last: weak on white).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Grey for reference points (baselines).
pub const GREY: RGBColor = RGBColor(130, 130, 130);

/// Font family name used by every chart.
pub const FONT: &str = "sans-serif";

static FONTS: Once = Once::new();

/// Register the embedded fonts (once per process).
pub fn init_fonts() {
    FONTS.call_once(|| {
        let regular: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        let bold: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
        // Registration only fails on a corrupt font file, which include_bytes rules out.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, regular);
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, bold);
    });
}

/// Colour `i` of the palette (cycling).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A written chart: file stem and its SVG text (for inlining into HTML).
#[derive(Debug, Clone)]
pub struct ChartFile {
    /// File stem (`cost_quality` → `cost_quality.png` / `.svg`).
    pub name: String,
    /// Title shown in reports.
    pub title: String,
    /// SVG markup.
    pub svg: String,
    /// Where each policy is drawn (SVG pixels), for the interactive page.
    pub hot: Vec<HotSpot>,
}

/// The shape of a hover target, in the chart's pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A point's marker.
    Circle {
        /// Centre x.
        x: i32,
        /// Centre y.
        y: i32,
        /// Radius.
        r: i32,
    },
    /// A bar or a cell.
    Rect {
        /// Left.
        x0: i32,
        /// Top.
        y0: i32,
        /// Right.
        x1: i32,
        /// Bottom.
        y1: i32,
    },
    /// A line (hovered along its stroke).
    Line(Vec<(i32, i32)>),
}

/// A hover target of the interactive page: where a policy is drawn and what the
/// chart shows of it there. The page adds the policy's figures from the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpot {
    /// Shape.
    pub shape: Shape,
    /// Policy name.
    pub policy: String,
    /// What this mark shows (`model gpt-4o: 62.4% of covered requests`).
    pub detail: String,
}

/// Collects the hover targets of a chart while it is drawn (the SVG pass keeps
/// them; the PNG pass draws the same marks and drops them).
#[derive(Debug, Default)]
pub struct Hot(pub Vec<HotSpot>);

impl Hot {
    /// Add a target.
    pub fn add(&mut self, shape: Shape, policy: &str, detail: impl Into<String>) {
        self.0.push(HotSpot {
            shape,
            policy: policy.to_string(),
            detail: detail.into(),
        });
    }
}

/// Draw a chart to `<dir>/<name>.png` and `<dir>/<name>.svg` with the same drawing
/// function (generic over the backend).
#[macro_export]
macro_rules! draw_both {
    ($dir:expr, $name:expr, $title:expr, $f:expr) => {{
        use plotters::prelude::*;
        let png = $dir.join(format!("{}.png", $name));
        {
            let root = BitMapBackend::new(&png, $crate::plot::SIZE).into_drawing_area();
            $f(root, &mut $crate::plot::Hot::default())
                .map_err(|e| anyhow::anyhow!("drawing {}: {e}", $name))?;
        }
        let mut svg = String::new();
        let mut hot = $crate::plot::Hot::default();
        {
            let root = SVGBackend::with_string(&mut svg, $crate::plot::SIZE).into_drawing_area();
            $f(root, &mut hot).map_err(|e| anyhow::anyhow!("drawing {}: {e}", $name))?;
        }
        std::fs::write($dir.join(format!("{}.svg", $name)), &svg)?;
        $crate::plot::ChartFile {
            name: $name.to_string(),
            title: $title.to_string(),
            svg,
            hot: hot.0,
        }
    }};
}

/// Error type of the drawing functions.
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Draw the series legend of a line chart at `pos` in the common style (boxed, 22 px).
pub fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(pos)
        .label_font((FONT, 22))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}

/// One policy's line on a chart.
#[derive(Debug, Clone)]
pub struct Curve {
    /// Policy name.
    pub name: String,
    /// A baseline (drawn grey, for reference).
    pub baseline: bool,
    /// Points: sorted latencies (CDF) or (hours, cumulative USD).
    pub points: Vec<(f64, f64)>,
}

/// Quality by segment: key, segment values, rows of (policy, quality per value).
pub type SegmentGrid = (String, Vec<String>, Vec<(String, Vec<f64>)>);

/// Everything the charts need.
pub struct ChartData {
    /// Points for the cost–quality chart.
    pub points: Vec<cost_quality::Point>,
    /// Non-decreasing convex hull (cost per 1k, quality).
    pub hull: Vec<(f64, f64)>,
    /// Latencies per policy (sorted, as (ms, 0)), for the CDF.
    pub latencies: Vec<Curve>,
    /// Model mix per policy.
    pub mix: Vec<(String, Vec<(String, f64)>)>,
    /// Models in a stable order (colours).
    pub models: Vec<String>,
    /// Cumulative cost over time per policy: (hours since first arrival, USD).
    pub cost_time: Vec<Curve>,
    /// Policies left off the cost-over-time chart because their cost is unknown.
    pub cost_time_unknown: Vec<String>,
    /// Global budgets to draw: (policy, USD per period, period hours).
    pub budgets: Vec<(String, f64, f64)>,
    /// Quality by segment.
    pub segments: Option<SegmentGrid>,
    /// Swept policies, each drawn as one curve on the cost–quality chart.
    pub sweeps: Vec<cost_quality::SweepCurve>,
    /// Quality against the strong model's share, for a two-model family.
    pub routellm: Option<routellm::RouteLlmChart>,
}

/// Write every chart that has data into `dir`.
pub fn write_all(dir: &Path, d: &ChartData) -> Result<Vec<ChartFile>> {
    init_fonts();
    std::fs::create_dir_all(dir)?;
    let mut out = vec![
        draw_both!(dir, "cost_quality", "Cost vs quality", |root, hot| {
            cost_quality::draw(root, &d.points, &d.hull, &d.sweeps, hot)
        }),
        draw_both!(dir, "latency_cdf", "Latency distribution", |root, hot| {
            latency_cdf::draw(root, &d.latencies, hot)
        }),
        draw_both!(dir, "model_mix", "Model mix", |root, hot| model_mix::draw(
            root, &d.mix, &d.models, hot
        )),
    ];
    if !d.cost_time.is_empty() {
        out.push(draw_both!(
            dir,
            "cost_over_time",
            "Cumulative cost over time",
            |root, hot| cost_time::draw(root, &d.cost_time, &d.cost_time_unknown, &d.budgets, hot)
        ));
    }
    if let Some(r) = &d.routellm {
        out.push(draw_both!(
            dir,
            "routellm",
            "Quality vs share of strong-model calls (RouteLLM)",
            |root, hot| routellm::draw(root, r, hot)
        ));
    }
    if let Some((key, values, rows)) = &d.segments {
        out.push(draw_both!(
            dir,
            "quality_by_segment",
            format!("Quality by {key}"),
            |root, hot| segments::draw(root, key, values, rows, hot)
        ));
    }
    Ok(out)
}

/// Milliseconds for hover text (`850 ms`, `2.41 s`).
pub fn fmt_ms(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 1000.0 {
        format!("{:.2} s", x / 1000.0)
    } else {
        format!("{x:.0} ms")
    }
}

/// Approximate text width in pixels for a font size (DejaVu Sans averages ~0.55 em).
pub fn text_width(s: &str, size: f64) -> i32 {
    (s.chars().count() as f64 * size * 0.56) as i32
}

/// Model name without its provider prefix, for narrow tables and labels.
pub fn short_model(m: &str) -> &str {
    m.rsplit_once('/').map(|(_, b)| b).unwrap_or(m)
}

/// Shorten a label to `n` characters with an ellipsis.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!(
            "{}…",
            s.chars().take(n.saturating_sub(1)).collect::<String>()
        )
    }
}
