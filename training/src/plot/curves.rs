//! Training curves: one panel per metric, stacked, sharing the step axis.

use std::path::Path;

use anyhow::{Result, ensure};
use plotters::prelude::*;

use super::font::{self, FAMILY};

/// One metric's curve.
pub struct Curve {
    /// Axis label, e.g. "loss".
    pub label: String,
    /// (step, value) points in step order.
    pub points: Vec<(f64, f64)>,
}

/// Renders `curves` as stacked panels under `title` to a PNG at `path`.
pub fn render_curves_png(title: &str, curves: &[Curve], path: &Path) -> Result<()> {
    ensure!(!curves.is_empty(), "no curves to draw");
    font::ensure_registered();
    let height = 60 + 260 * curves.len() as u32;
    let root = BitMapBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, (FAMILY, 20))?;
    let panels = root.split_evenly((curves.len(), 1));
    let last_step = curves
        .iter()
        .flat_map(|c| c.points.last())
        .map(|p| p.0)
        .fold(1.0, f64::max);
    for (panel, curve) in panels.iter().zip(curves) {
        let finite: Vec<(f64, f64)> = curve
            .points
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .collect();
        let (low, high) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        let (low, high) = if low < high {
            (low, high)
        } else if low.is_finite() {
            (low - 1.0, low + 1.0)
        } else {
            (0.0, 1.0)
        };
        let pad = 0.05 * (high - low);
        let mut chart = ChartBuilder::on(panel)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..last_step, (low - pad)..(high + pad))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(&curve.label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format_value(*y))
            .label_style((FAMILY, 14))
            .draw()?;
        chart.draw_series(LineSeries::new(
            finite,
            ShapeStyle::from(&BLUE).stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// Tick labels that stay readable from learning rates (1e-5) to losses (0.5).
fn format_value(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.01 {
        format!("{value:.1e}")
    } else {
        format!("{value:.3}")
    }
}
