//! A spectrogram figure: time on x, frequency bands on y (labelled in Hz), values in dB
//! through a perceptually uniform colour map, with a colour bar; optionally a heatmap over
//! a patch grid on top (a model's attention), the spectrogram then in grey so the heat
//! stands out, with its own colour bar and one region outlined in red.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use ndarray::ArrayView2;
use plotters::coord::ranged1d::KeyPointHint;
use plotters::prelude::*;

use super::colorbar::draw_colorbar;
use super::font::{self, FAMILY};

/// Width in pixels of the colour-bar strip on the right of the figure.
const COLORBAR_WIDTH: u32 = 110;

/// Everything a spectrogram figure shows.
pub struct SpectrogramFigure<'a> {
    /// Heading above the plot, e.g. the file name and the analysis settings.
    pub title: String,
    /// Values in dB, shape [bands × frames] (row 0 = lowest band).
    pub values_db: ArrayView2<'a, f32>,
    /// Time covered by the frames, for the x axis.
    pub duration_secs: f64,
    /// Centre frequency of each band in Hz, for the y-axis labels (mel bands are not
    /// evenly spaced in Hz, so the axis is drawn in band index and labelled in Hz).
    pub band_hz: Vec<f64>,
    /// Colour-scale limits in dB; values outside are clamped.
    pub db_range: (f32, f32),
    /// Image size in pixels (width, height), colour bar included.
    pub size: (u32, u32),
    /// A heatmap over the spectrogram's patch grid.
    pub overlay: Option<PatchOverlay<'a>>,
}

/// Weights over a grid of equal spectrogram patches, drawn as heat over the spectrogram.
pub struct PatchOverlay<'a> {
    /// `[frequency patches × time patches]`, row 0 = the lowest patches.
    pub weights: ArrayView2<'a, f32>,
    /// What the colour bar calls the weights.
    pub label: String,
    /// The patches outlined in red: frequency and time patch ranges.
    pub outline: (Range<usize>, Range<usize>),
}

/// How opaque the heat of the largest weight is over the grey spectrogram.
const HEAT_OPACITY: f64 = 0.8;

/// Renders `figure` to a PNG at `path`.
pub fn render_spectrogram_png(figure: &SpectrogramFigure, path: &Path) -> Result<()> {
    let (bands, frames) = figure.values_db.dim();
    ensure!(
        bands > 0 && frames > 0,
        "nothing to draw: the spectrogram is empty"
    );
    ensure!(
        figure.band_hz.len() == bands,
        "{} band frequencies given for {bands} bands",
        figure.band_hz.len()
    );
    font::ensure_registered();
    let root = BitMapBackend::new(path, figure.size).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot_area, bar_area) =
        root.split_horizontally(figure.size.0.saturating_sub(COLORBAR_WIDTH));

    let band_hz = &figure.band_hz;
    let hz_label = |position: &f64| format_hz(interpolate(band_hz, *position));
    let y_axis = BandAxis {
        bands,
        ticks: tick_positions(band_hz),
    };
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(&figure.title, (FAMILY, 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(62)
        .build_cartesian_2d(0.0..figure.duration_secs, y_axis)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (s)")
        .y_desc("frequency (Hz)")
        .y_label_formatter(&hz_label)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()?;

    let (lo, hi) = figure.db_range;
    let heat_max = figure
        .overlay
        .as_ref()
        .map(|o| o.weights.fold(f32::MIN_POSITIVE, |acc, &w| acc.max(w)));
    let pixels = chart.plotting_area().strip_coord_spec();
    let (width, height) = pixels.dim_in_pixel();
    let column_frames = pixel_bins(frames, width as usize);
    for (column, frame_range) in column_frames.iter().enumerate() {
        for row in 0..height as usize {
            // Row 0 is the top of the plot: the highest band.
            let band = ((height as usize - 1 - row) * bands) / height as usize;
            // The loudest frame under a pixel keeps short transients visible when zoomed out.
            let value = figure
                .values_db
                .row(band)
                .slice(ndarray::s![frame_range.clone()])
                .fold(f32::NEG_INFINITY, |acc, &v| acc.max(v));
            let level = value.clamp(lo, hi);
            let color = match (&figure.overlay, heat_max) {
                (Some(overlay), Some(max)) => {
                    let (patches_f, patches_t) = overlay.weights.dim();
                    let weight = overlay.weights[[
                        band * patches_f / bands,
                        frame_range.start * patches_t / frames,
                    ]];
                    heat_over_grey((level - lo) / (hi - lo).max(1e-6), weight / max)
                }
                _ => ViridisRGB.get_color_normalized(level, lo, hi),
            };
            pixels.draw_pixel((column as i32, row as i32), &color)?;
        }
    }
    match (&figure.overlay, heat_max) {
        (Some(overlay), Some(max)) => {
            let (patches_f, patches_t) = overlay.weights.dim();
            let (freq, time) = &overlay.outline;
            // Patch edges in pixels: time left to right, frequency bottom to top.
            let x = |t: usize| (t * width as usize / patches_t) as i32;
            let y = |f: usize| height as i32 - (f * height as usize / patches_f) as i32;
            let (left, right) = (x(time.start), x(time.end) - 1);
            let (top, bottom) = (y(freq.end), y(freq.start) - 1);
            for inset in 0..2 {
                pixels.draw(&Rectangle::new(
                    [(left + inset, top + inset), (right - inset, bottom - inset)],
                    RED.stroke_width(1),
                ))?;
            }
            draw_colorbar(&bar_area, (0.0, max), &overlay.label, &HeatMap)?;
        }
        _ => draw_colorbar(&bar_area, figure.db_range, "dB", &ViridisRGB)?,
    }
    root.present()
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// The heat colour of a weight share `w` in 0..=1: from dark red through orange to pale
/// yellow (the colour bar of an overlay).
struct HeatMap;

impl ColorMap<RGBColor> for HeatMap {
    fn get_color_normalized(&self, h: f32, min: f32, max: f32) -> RGBColor {
        let w = ((h - min) / (max - min).max(1e-12)).clamp(0.0, 1.0);
        let red = 90.0 + 165.0 * (w / 0.4).min(1.0);
        let green = 242.0 * w;
        let blue = 153.0 * ((w - 0.6) / 0.4).max(0.0);
        RGBColor(red as u8, green as u8, blue as u8)
    }
}

/// A pixel of grey spectrogram level `level` (0..=1) under heat of weight share `w`
/// (0..=1), blended in proportion to the weight.
fn heat_over_grey(level: f32, w: f32) -> RGBColor {
    let grey = (40.0 + 200.0 * level.clamp(0.0, 1.0)) as f64;
    let heat = HeatMap.get_color_normalized(w, 0.0, 1.0);
    let alpha = HEAT_OPACITY * f64::from(w.clamp(0.0, 1.0));
    let blend = |c: u8| ((1.0 - alpha) * grey + alpha * f64::from(c)).round() as u8;
    RGBColor(blend(heat.0), blend(heat.1), blend(heat.2))
}

/// The y axis of a band-indexed spectrogram: positions are fractional band indices, ticks sit
/// at round frequencies. (plotters' own key-point wrapper cannot carry a custom label format
/// on an `f64` axis.)
struct BandAxis {
    /// Number of bands: the axis spans `0..bands`.
    bands: usize,
    /// Fractional band indices of the round frequencies to label.
    ticks: Vec<f64>,
}

impl Ranged for BandAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = value / self.bands as f64;
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.bands as f64
    }
}

/// The frames each of `width` pixel columns covers: contiguous, non-empty, in order.
fn pixel_bins(frames: usize, width: usize) -> Vec<std::ops::Range<usize>> {
    (0..width)
        .map(|column| {
            let start = column * frames / width;
            let end = ((column + 1) * frames / width).max(start + 1).min(frames);
            start.min(frames - 1)..end
        })
        .collect()
}

/// Frequencies worth a tick on a log-like frequency axis.
const ROUND_FREQUENCIES_HZ: [f64; 12] = [
    50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 3000.0, 5000.0, 8000.0, 10_000.0, 15_000.0, 20_000.0,
];

/// Frequency at fractional band index `position`, interpolating between band centres.
fn interpolate(band_hz: &[f64], position: f64) -> f64 {
    let last = band_hz.len() - 1;
    let position = position.clamp(0.0, last as f64);
    let below = (position.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    band_hz[below] + fraction * (band_hz[above] - band_hz[below])
}

/// Band positions of the round frequencies inside the bands' range, dropping any closer than
/// a twentieth of the axis to the previous one so labels never overlap.
fn tick_positions(band_hz: &[f64]) -> Vec<f64> {
    let min_gap = band_hz.len() as f64 / 20.0;
    let mut ticks: Vec<f64> = Vec::new();
    for &hz in &ROUND_FREQUENCIES_HZ {
        if hz < band_hz[0] || hz > band_hz[band_hz.len() - 1] {
            continue;
        }
        let position = band_position(band_hz, hz);
        if ticks
            .last()
            .is_none_or(|&previous| position - previous >= min_gap)
        {
            ticks.push(position);
        }
    }
    ticks
}

/// Fractional band index of `hz` (the inverse of [`interpolate`]; band centres increase).
fn band_position(band_hz: &[f64], hz: f64) -> f64 {
    let above = band_hz
        .partition_point(|&centre| centre < hz)
        .clamp(1, band_hz.len() - 1);
    let (low, high) = (band_hz[above - 1], band_hz[above]);
    (above - 1) as f64 + (hz - low) / (high - low)
}

/// "440", "1.5k", "12k": short frequency labels for an axis.
fn format_hz(hz: f64) -> String {
    if hz < 1000.0 {
        format!("{hz:.0}")
    } else if hz < 10_000.0 && hz % 1000.0 >= 1.0 {
        format!("{:.1}k", hz / 1000.0)
    } else {
        format!("{:.0}k", hz / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_bins_cover_every_frame_once_when_zoomed_out() {
        let bins = pixel_bins(1000, 300);
        assert_eq!(bins.first().unwrap().start, 0);
        assert_eq!(bins.last().unwrap().end, 1000);
        for pair in bins.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
    }

    #[test]
    fn pixel_bins_repeat_frames_when_zoomed_in() {
        let bins = pixel_bins(3, 9);
        assert!(bins.iter().all(|range| range.len() == 1 && range.end <= 3));
        assert_eq!(bins[0], 0..1);
        assert_eq!(bins[8], 2..3);
    }

    #[test]
    fn band_position_inverts_interpolation() {
        let band_hz = [100.0, 200.0, 400.0, 800.0];
        for hz in [100.0, 150.0, 300.0, 799.0] {
            assert!((interpolate(&band_hz, band_position(&band_hz, hz)) - hz).abs() < 1e-9);
        }
        assert_eq!(band_position(&band_hz, 300.0), 1.5);
    }

    #[test]
    fn ticks_keep_their_distance() {
        let band_hz: Vec<f64> = (0..128).map(|band| 30.0 * 1.05f64.powi(band)).collect();
        let ticks = tick_positions(&band_hz);
        assert!(ticks.len() >= 4);
        assert!(
            ticks
                .windows(2)
                .all(|pair| pair[1] - pair[0] >= 128.0 / 20.0)
        );
    }

    #[test]
    fn hz_labels_are_short() {
        assert_eq!(format_hz(440.0), "440");
        assert_eq!(format_hz(1500.0), "1.5k");
        assert_eq!(format_hz(2000.0), "2k");
        assert_eq!(format_hz(16_000.0), "16k");
    }
}
