//! Confusion-matrix figures: one labelled heatmap per probe (true class down, predicted class
//! across), each cell coloured by the share of its true class predicted so, with the counts
//! written in when the classes are few enough to read them, and a colour bar.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colorbar::draw_colorbar;
use super::font::{self, FAMILY};

/// Width in pixels of the colour-bar strip on the right of the figure.
const COLORBAR_WIDTH: u32 = 110;
/// Classes up to which every cell shows its count (beyond, the digits would not fit).
const MAX_CLASSES_WITH_COUNTS: usize = 20;
/// Pixels kept for the class names left of and below each matrix.
const LABEL_MARGIN: u32 = 110;

/// One matrix of the figure.
pub struct ConfusionPanel {
    /// Heading of the panel, e.g. the probe and its accuracy.
    pub title: String,
    /// `[true class][predicted class]` counts.
    pub counts: Vec<Vec<u64>>,
}

/// Renders `panels` side by side, all over the class names `classes`, under `title`, to a
/// PNG at `path`.
pub fn render_confusion_png(
    title: &str,
    classes: &[String],
    panels: &[ConfusionPanel],
    path: &Path,
) -> Result<()> {
    let k = classes.len();
    ensure!(
        k > 0 && !panels.is_empty(),
        "nothing to draw: no classes or no matrices"
    );
    for panel in panels {
        ensure!(
            panel.counts.len() == k && panel.counts.iter().all(|row| row.len() == k),
            "a confusion matrix is not {k} × {k}"
        );
    }
    font::ensure_registered();
    let panel_size = 640;
    let size = (
        panel_size * panels.len() as u32 + COLORBAR_WIDTH,
        panel_size + 40,
    );
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, (FAMILY, 20))?;
    let (matrices, bar) = root.split_horizontally(size.0 - COLORBAR_WIDTH);
    for (panel, area) in panels.iter().zip(matrices.split_evenly((1, panels.len()))) {
        draw_panel(&area, panel, classes)?;
    }
    draw_colorbar(&bar, (0.0, 1.0), "share of the true class", &ViridisRGB)?;
    root.present()
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// One matrix with its class names, axis names and title.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &ConfusionPanel,
    classes: &[String],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let k = classes.len();
    let area = area.titled(&panel.title, (FAMILY, 16))?;
    let (width, height) = area.dim_in_pixel();
    let grid_px = width
        .saturating_sub(LABEL_MARGIN + 20)
        .min(height.saturating_sub(LABEL_MARGIN + 10));
    let cell = (grid_px as usize / k).max(1) as i32;
    let (left, top) = (LABEL_MARGIN as i32, 10);
    // Every n-th name when they would overlap.
    let every = (14 / cell.max(1) + 1) as usize;
    let name_size = (cell - 2).clamp(8, 14);
    for (truth, row) in panel.counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (predicted, &count) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                count as f32 / total as f32
            };
            let x0 = left + predicted as i32 * cell;
            let y0 = top + truth as i32 * cell;
            let color = ViridisRGB.get_color_normalized(share, 0.0, 1.0);
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                color.filled(),
            ))?;
            if k <= MAX_CLASSES_WITH_COUNTS && count > 0 {
                // Dark text on the bright end of viridis, light text on the dark end.
                let ink = if share > 0.6 { BLACK } else { WHITE };
                let style = TextStyle::from((FAMILY, (cell / 3).clamp(9, 16)).into_font())
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                area.draw_text(&count.to_string(), &style, (x0 + cell / 2, y0 + cell / 2))?;
            }
        }
    }
    let names = TextStyle::from((FAMILY, name_size).into_font()).color(&BLACK);
    let bottom = top + k as i32 * cell;
    for (i, name) in classes.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let centre = i as i32 * cell + cell / 2;
        let shown: String = name.chars().take(14).collect();
        area.draw_text(
            &shown,
            &names.pos(Pos::new(HPos::Right, VPos::Center)),
            (left - 4, top + centre),
        )?;
        area.draw_text(
            &shown,
            // Turned to read downwards from just below the column.
            &names
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center)),
            (left + centre, bottom + 4),
        )?;
    }
    let axis = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK);
    area.draw_text(
        "predicted class",
        &axis.pos(Pos::new(HPos::Center, VPos::Bottom)),
        (left + k as i32 * cell / 2, height as i32 - 2),
    )?;
    area.draw_text(
        "true class",
        &axis
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Top)),
        (2, top + k as i32 * cell / 2),
    )?;
    Ok(())
}
