//! Scatter plots with a legend: one series per group of points, told apart by colour and
//! marker, each point optionally sized and annotated (the multi-view paper's Figs. 2 and 3).

use std::ops::Range;
use std::path::Path;

use anyhow::{Result, ensure};
use plotters::prelude::*;

use super::font::{self, FAMILY};

/// Marker radius in the legend, pixels.
const LEGEND_RADIUS: i32 = 6;

/// A point's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
}

/// One point.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub x: f64,
    pub y: f64,
    /// Radius in pixels (a third quantity, e.g. accuracy, where a figure wants one).
    pub radius: f64,
    /// Written next to the point (e.g. its λ); empty for none.
    pub note: String,
}

/// Points drawn alike and named once in the legend.
#[derive(Debug, Clone)]
pub struct ScatterSeries {
    pub label: String,
    pub colour: RGBColor,
    pub marker: Marker,
    pub points: Vec<ScatterPoint>,
}

/// The frame of a scatter plot.
#[derive(Debug, Clone)]
pub struct ScatterAxes {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Draw the lines x = 0 and y = 0 (where margins change sign).
    pub zero_lines: bool,
}

/// Renders `series` in `axes` to a PNG at `path`.
pub fn render_scatter_png(axes: &ScatterAxes, series: &[ScatterSeries], path: &Path) -> Result<()> {
    let points: Vec<&ScatterPoint> = series.iter().flat_map(|s| &s.points).collect();
    ensure!(!points.is_empty(), "no points to draw");
    font::ensure_registered();
    let range = |value: fn(&ScatterPoint) -> f64| {
        let (mut low, mut high) = points
            .iter()
            .map(|p| value(p))
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if axes.zero_lines {
            (low, high) = (low.min(0.0), high.max(0.0));
        }
        if !low.is_finite() {
            // No finite value at all.
            (low, high) = (0.0, 1.0);
        } else if low >= high {
            // One distinct value: a unit-wide range around it.
            (low, high) = (low - 0.5, low + 0.5);
        }
        let pad = 0.08 * (high - low);
        (low - pad)..(high + pad)
    };
    let (x_range, y_range) = (range(|p| p.x), range(|p| p.y));
    let root = BitMapBackend::new(path, (900, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&axes.title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.clone(), y_range.clone())?;
    chart
        .configure_mesh()
        .x_desc(&axes.x_label)
        .y_desc(&axes.y_label)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .draw()?;
    if axes.zero_lines {
        let grey = ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1);
        chart.draw_series([
            PathElement::new(vec![(x_range.start, 0.0), (x_range.end, 0.0)], grey),
            PathElement::new(vec![(0.0, y_range.start), (0.0, y_range.end)], grey),
        ])?;
    }
    for group in series {
        let style = group.colour.mix(0.8).filled();
        let points = || {
            group
                .points
                .iter()
                .filter(|p| p.x.is_finite() && p.y.is_finite())
                .map(|p| ((p.x, p.y), pixels(p.radius)))
        };
        // One arm per marker: plotters' elements are distinct types.
        let legend = match group.marker {
            Marker::Circle => chart
                .draw_series(points().map(|(at, r)| Circle::new(at, r, style)))?
                .legend(move |(x, y)| Circle::new((x + 8, y), LEGEND_RADIUS, style)),
            Marker::Triangle => chart
                .draw_series(points().map(|(at, r)| TriangleMarker::new(at, r, style)))?
                .legend(move |(x, y)| TriangleMarker::new((x + 8, y), LEGEND_RADIUS, style)),
            Marker::Square => chart
                .draw_series(points().map(|(at, r)| {
                    EmptyElement::at(at) + Rectangle::new([(-r, -r), (r, r)], style)
                }))?
                .legend(move |(x, y)| {
                    let r = LEGEND_RADIUS;
                    Rectangle::new([(x + 8 - r, y - r), (x + 8 + r, y + r)], style)
                }),
        };
        legend.label(&group.label);
        chart.draw_series(
            group
                .points
                .iter()
                .filter(|p| !p.note.is_empty() && p.x.is_finite() && p.y.is_finite())
                .map(|p| {
                    EmptyElement::at((p.x, p.y))
                        + Text::new(
                            p.note.clone(),
                            (p.radius as i32 + 3, -6),
                            (FAMILY, 11).into_font().color(&BLACK.mix(0.7)),
                        )
                }),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 14))
        .position(emptiest_corner(&points, &x_range, &y_range))
        .draw()?;
    root.present()?;
    Ok(())
}

/// A radius in whole pixels, at least 2 so every point shows.
fn pixels(radius: f64) -> i32 {
    radius.round().max(2.0) as i32
}

/// The corner of the plot whose third of each axis holds the fewest points, for the legend,
/// so it hides as few points as possible.
fn emptiest_corner(
    points: &[&ScatterPoint],
    x_range: &Range<f64>,
    y_range: &Range<f64>,
) -> SeriesLabelPosition {
    let share = |value: f64, range: &Range<f64>| (value - range.start) / (range.end - range.start);
    let corners = [
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let crowd = |right: bool, upper: bool| {
        points
            .iter()
            .filter(|p| {
                let (x, y) = (share(p.x, x_range), share(p.y, y_range));
                (if right { x > 2.0 / 3.0 } else { x < 1.0 / 3.0 })
                    && (if upper { y > 2.0 / 3.0 } else { y < 1.0 / 3.0 })
            })
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, right, upper)| crowd(right, upper))
        .map(|(position, _, _)| position)
        .expect("four corners")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f64, y: f64) -> ScatterPoint {
        ScatterPoint {
            x,
            y,
            radius: 4.0,
            note: String::new(),
        }
    }

    #[test]
    fn the_legend_goes_to_the_corner_with_fewest_points() {
        let (x, y) = (0.0..1.0, 0.0..1.0);
        let corner = |points: &[ScatterPoint]| {
            let refs: Vec<&ScatterPoint> = points.iter().collect();
            emptiest_corner(&refs, &x, &y)
        };
        let crowded_lower_right = [at(0.9, 0.1), at(0.8, 0.2), at(0.5, 0.5)];
        assert!(matches!(
            corner(&crowded_lower_right),
            SeriesLabelPosition::UpperRight
        ));
        let all_but_upper_left = [at(0.9, 0.1), at(0.9, 0.9), at(0.1, 0.1)];
        assert!(matches!(
            corner(&all_but_upper_left),
            SeriesLabelPosition::UpperLeft
        ));
        let all_but_lower_left = [at(0.9, 0.1), at(0.9, 0.9), at(0.1, 0.9), at(0.2, 0.8)];
        assert!(matches!(
            corner(&all_but_lower_left),
            SeriesLabelPosition::LowerLeft
        ));
    }
}
