//! A vertical colour bar: the colour scale of a heatmap with its value axis.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::FAMILY;

/// Draws the colour scale `colormap` for values `range.0..=range.1` into `area`, labelled
/// with `unit`.
pub fn draw_colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    range: (f32, f32),
    unit: &str,
    colormap: &impl ColorMap<RGBColor>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (lo, hi) = (f64::from(range.0), f64::from(range.1));
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(50)
        .margin_right(10)
        .y_label_area_size(0)
        .right_y_label_area_size(48)
        .build_cartesian_2d(0.0..1.0, lo..hi)?
        // The value axis sits on the bar's right, away from the heatmap it explains.
        .set_secondary_coord(0.0..1.0, lo..hi);
    chart
        .configure_secondary_axes()
        .y_desc(unit)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()?;
    let pixels = chart.plotting_area().strip_coord_spec();
    let (width, height) = pixels.dim_in_pixel();
    for row in 0..height {
        // Row 0 is the top of the bar: the highest value.
        let fraction = 1.0 - row as f32 / (height.max(2) - 1) as f32;
        let color = colormap.get_color_normalized(fraction, 0.0, 1.0);
        for column in 0..width {
            pixels.draw_pixel((column as i32, row as i32), &color)?;
        }
    }
    Ok(())
}
