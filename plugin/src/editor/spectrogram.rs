//! The live spectrogram with PupuJEPA's attention map over it, the target region's red box,
//! a colour bar, and dragging to choose a new region.

use std::sync::Arc;

use egui::{self, Color32, Pos2, Rect, Sense, Stroke, StrokeKind, TextureOptions};
use parking_lot::Mutex;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};

use crate::analysis::{AnalysisOutputs, AttentionView, SILENCE_DB, SpectrogramView};
use crate::params::{AttentionRegion, ViewSettings};

/// The spectrogram's dynamic range below its loudest bin, dB.
const RANGE_DB: f32 = 80.0;
/// The heatmap's colour; its opacity follows the attention weight.
const HEAT: Color32 = Color32::from_rgb(255, 90, 0);
/// Opacity of the strongest attention cell.
const MAX_HEAT_ALPHA: f32 = 0.75;
const COLOUR_BAR_WIDTH: f32 = 56.0;

/// The panel's state between frames.
pub struct SpectrogramPanel {
    /// What the analysis threads publish; `None` when they could not start.
    analysis: Option<AnalysisOutputs>,
    /// Region and averaging (shared with the attention thread, saved with the project).
    view: Arc<Mutex<ViewSettings>>,
    spectrogram_texture: Option<egui::TextureHandle>,
    attention_texture: Option<egui::TextureHandle>,
    /// Where the current drag started, in the spectrogram's rectangle.
    drag_start: Option<Pos2>,
}

impl SpectrogramPanel {
    pub fn new(analysis: Option<AnalysisOutputs>, view: Arc<Mutex<ViewSettings>>) -> Self {
        Self {
            analysis,
            view,
            spectrogram_texture: None,
            attention_texture: None,
            drag_start: None,
        }
    }

    pub fn show(&mut self, ui: &mut egui::Ui, height: f32) {
        let Some(analysis) = self.analysis.as_mut() else {
            ui.label("The spectrogram view could not start (see the log).");
            return;
        };
        let (row, _) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), height), Sense::hover());
        let (rect, bar_rect) = row.split_left_right_at_x(row.right() - COLOUR_BAR_WIDTH);
        let response = ui.interact(rect, egui::Id::unique("tessera-spectrogram"), Sense::drag());
        let spectrogram = analysis.spectrogram.read().clone();
        let attention = analysis.attention.read().clone();
        let grid = (analysis.model.grid().freq, analysis.model.grid().time);
        let painter = ui.painter_at(rect);
        let image = spectrogram_image(&spectrogram);
        let texture = self.spectrogram_texture.get_or_insert_with(|| {
            ui.ctx()
                .load_texture("spectrogram", image.clone(), TextureOptions::LINEAR)
        });
        texture.set(image, TextureOptions::LINEAR);
        painter.image(texture.id(), rect, full_uv(), Color32::WHITE);

        let max_weight = attention.map.iter().copied().fold(0.0f32, f32::max);
        if let Some(error) = &attention.error {
            painter.text(
                rect.left_top() + egui::vec2(8.0, 8.0),
                egui::Align2::LEFT_TOP,
                format!("attention unavailable: {error}"),
                egui::FontId::proportional(13.0),
                Color32::RED,
            );
        } else if !attention.map.is_empty() && max_weight > 0.0 {
            let image = attention_image(&attention, max_weight);
            let texture = self.attention_texture.get_or_insert_with(|| {
                ui.ctx()
                    .load_texture("attention", image.clone(), TextureOptions::NEAREST)
            });
            texture.set(image, TextureOptions::NEAREST);
            // The map belongs to the clip that ended `shift` columns ago: it scrolls
            // left with the audio it was computed on.
            let shift = spectrogram.total.saturating_sub(attention.end_column) as f32
                / spectrogram.columns as f32;
            let offset = -shift * rect.width();
            painter.image(
                texture.id(),
                rect.translate(egui::vec2(offset, 0.0)),
                full_uv(),
                Color32::WHITE,
            );
            let computed_box =
                region_rect(rect, grid, attention.region).translate(egui::vec2(offset, 0.0));
            painter.rect_stroke(
                computed_box,
                0.0,
                Stroke::new(1.0, Color32::from_rgba_unmultiplied(255, 0, 0, 110)),
                StrokeKind::Inside,
            );
        }
        let region = self.view.lock().region;
        painter.rect_stroke(
            region_rect(rect, grid, region),
            0.0,
            Stroke::new(2.0, Color32::RED),
            StrokeKind::Inside,
        );

        if response.drag_started() {
            self.drag_start = response.interact_pointer_pos();
        }
        if let (Some(start), Some(now)) = (self.drag_start, response.interact_pointer_pos()) {
            let dragged = Rect::from_two_pos(start, now);
            painter.rect_stroke(
                dragged,
                0.0,
                Stroke::new(1.5, Color32::YELLOW),
                StrokeKind::Inside,
            );
            if response.drag_stopped() {
                if let Some(region) = patch_region(rect, grid, dragged) {
                    self.view.lock().region = region;
                }
                self.drag_start = None;
            }
        }
        colour_bar(ui, bar_rect, max_weight);
    }
}

fn full_uv() -> Rect {
    Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0))
}

/// The window as an image: time left to right, lowest mel band at the bottom, Viridis
/// over the loudest bin's top [`RANGE_DB`]. The scale never ends below the silence floor
/// plus that range, so silence draws in Viridis' darkest colour, not its brightest.
fn spectrogram_image(view: &SpectrogramView) -> egui::ColorImage {
    let loudest = view
        .data
        .iter()
        .copied()
        .fold(SILENCE_DB + RANGE_DB, f32::max);
    let floor = loudest - RANGE_DB;
    let mut pixels = vec![Color32::BLACK; view.columns * view.mels];
    for c in 0..view.columns {
        for (m, &db) in view.column(c).iter().enumerate() {
            let color = ViridisRGB.get_color_normalized(db.clamp(floor, loudest), floor, loudest);
            let row = view.mels - 1 - m;
            pixels[row * view.columns + c] = Color32::from_rgb(color.0, color.1, color.2);
        }
    }
    egui::ColorImage::new([view.columns, view.mels], pixels)
}

/// The attention map as a translucent image, one texel per patch.
fn attention_image(view: &AttentionView, max_weight: f32) -> egui::ColorImage {
    let (freq, time) = view.grid;
    let mut pixels = vec![Color32::TRANSPARENT; freq * time];
    for f in 0..freq {
        for t in 0..time {
            let alpha = MAX_HEAT_ALPHA * view.map[f * time + t] / max_weight;
            let row = freq - 1 - f;
            pixels[row * time + t] = Color32::from_rgba_unmultiplied(
                HEAT.r(),
                HEAT.g(),
                HEAT.b(),
                (alpha * 255.0) as u8,
            );
        }
    }
    egui::ColorImage::new([time, freq], pixels)
}

/// Screen rectangle of a patch region.
fn region_rect(rect: Rect, (freq, time): (usize, usize), region: AttentionRegion) -> Rect {
    let x = |t: usize| rect.left() + rect.width() * t as f32 / time as f32;
    let y = |f: usize| rect.bottom() - rect.height() * f as f32 / freq as f32;
    Rect::from_min_max(
        Pos2::new(x(region.time.0), y(region.freq.1)),
        Pos2::new(x(region.time.1), y(region.freq.0)),
    )
}

/// The patches a dragged rectangle covers (at least one, never the whole grid).
fn patch_region(
    rect: Rect,
    (freq, time): (usize, usize),
    dragged: Rect,
) -> Option<AttentionRegion> {
    let dragged = dragged.intersect(rect);
    if !dragged.is_positive() {
        return None;
    }
    let to_time = |x: f32| (x - rect.left()) / rect.width() * time as f32;
    let to_freq = |y: f32| (rect.bottom() - y) / rect.height() * freq as f32;
    let t0 = (to_time(dragged.left()).floor() as usize).min(time - 1);
    let t1 = (to_time(dragged.right()).ceil() as usize).clamp(t0 + 1, time);
    let f0 = (to_freq(dragged.bottom()).floor() as usize).min(freq - 1);
    let f1 = (to_freq(dragged.top()).ceil() as usize).clamp(f0 + 1, freq);
    let whole = (t1 - t0) * (f1 - f0) == freq * time;
    (!whole).then_some(AttentionRegion {
        freq: (f0, f1),
        time: (t0, t1),
    })
}

/// The heatmap's scale: opacity from 0 to the strongest cell's weight.
fn colour_bar(ui: &egui::Ui, rect: Rect, max_weight: f32) {
    let painter = ui.painter_at(rect);
    let bar = Rect::from_min_max(
        rect.left_top() + egui::vec2(6.0, 14.0),
        Pos2::new(rect.left() + 20.0, rect.bottom() - 14.0),
    );
    let steps = 32;
    for i in 0..steps {
        let top = bar.bottom() - bar.height() * (i + 1) as f32 / steps as f32;
        let bottom = bar.bottom() - bar.height() * i as f32 / steps as f32;
        let alpha = MAX_HEAT_ALPHA * (i as f32 + 0.5) / steps as f32;
        painter.rect_filled(
            Rect::from_min_max(Pos2::new(bar.left(), top), Pos2::new(bar.right(), bottom)),
            0.0,
            Color32::from_rgba_unmultiplied(HEAT.r(), HEAT.g(), HEAT.b(), (alpha * 255.0) as u8),
        );
    }
    painter.rect_stroke(
        bar,
        0.0,
        Stroke::new(1.0, Color32::GRAY),
        StrokeKind::Outside,
    );
    let font = egui::FontId::proportional(11.0);
    painter.text(
        Pos2::new(bar.right() + 3.0, bar.top()),
        egui::Align2::LEFT_CENTER,
        format!("{max_weight:.3}"),
        font.clone(),
        Color32::LIGHT_GRAY,
    );
    painter.text(
        Pos2::new(bar.right() + 3.0, bar.bottom()),
        egui::Align2::LEFT_CENTER,
        "0",
        font.clone(),
        Color32::LIGHT_GRAY,
    );
    painter.text(
        Pos2::new(bar.left(), rect.top()),
        egui::Align2::LEFT_TOP,
        "attention",
        font,
        Color32::LIGHT_GRAY,
    );
}
