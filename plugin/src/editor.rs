//! The editor: status bar, the live spectrogram with the attention map and target region,
//! and one strip per stem (gain, mute, solo, meter) plus dry/wet and bypass.

mod spectrogram;
mod stem_strip;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::RepaintNotifier;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditor, EguiNiceSettings, NiceEguiApp};

use crate::STEM_NAMES;
use crate::analysis::AnalysisOutputs;
use crate::params::{AttentionAveraging, TesseraParams};
use crate::status::EngineStatus;
use spectrogram::SpectrogramPanel;

/// The window's size when first opened, logical pixels.
pub const DEFAULT_SIZE: LogicalSize<f32> = LogicalSize::new(960.0, 640.0);
/// The smallest size the layout still fits in.
const MIN_SIZE: LogicalSize<f32> = LogicalSize::new(720.0, 480.0);

/// Everything the editor reads and remembers between frames.
pub struct TesseraEditor {
    params: Arc<TesseraParams>,
    status: Arc<EngineStatus>,
    /// Spectrogram and attention, with the textures they are drawn through.
    spectrogram: SpectrogramPanel,
    /// The host's parameter interface, known once the window is built.
    gui_context: Option<GuiContext>,
}

/// The editor the plugin hands to the host.
pub fn create(
    params: Arc<TesseraParams>,
    status: Arc<EngineStatus>,
    analysis: Option<AnalysisOutputs>,
    repaint: RepaintNotifier,
) -> Option<EguiEditor<TesseraEditor>> {
    let settings = EguiNiceSettings::new()
        .with_tile("Tessera")
        .with_resize_hint(ResizeHint::resizable().with_min_logical_size(MIN_SIZE));
    nice_plug_egui::create_egui_editor(
        params.editor_state.clone(),
        repaint,
        settings,
        TesseraEditor {
            spectrogram: SpectrogramPanel::new(analysis, params.view.clone()),
            params,
            status,
            gui_context: None,
        },
    )
}

impl NiceEguiApp for TesseraEditor {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui_context = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui_context) = self.gui_context.as_ref() else {
            return;
        };
        let setter = gui_context.param_setter();
        status_bar(ui, &self.status);
        ui.separator();
        let strips_height = 170.0;
        let spectrogram_height = (ui.available_height() - strips_height - 40.0).max(120.0);
        self.spectrogram.show(ui, spectrogram_height);
        ui.horizontal(|ui| {
            ui.label("Attention:");
            let mut view = self.params.view.lock();
            egui::ComboBox::from_id_salt("averaging")
                .selected_text(match view.averaging {
                    AttentionAveraging::AllLayers => "mean of all layers and heads",
                    AttentionAveraging::LastLayer => "last layer, mean of heads",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut view.averaging,
                        AttentionAveraging::AllLayers,
                        "mean of all layers and heads",
                    );
                    ui.selectable_value(
                        &mut view.averaging,
                        AttentionAveraging::LastLayer,
                        "last layer, mean of heads",
                    );
                });
            ui.label("— drag on the spectrogram to choose the masked target region (red box)");
        });
        ui.separator();
        ui.horizontal(|ui| {
            for (s, stem) in self.params.stems().into_iter().enumerate() {
                let peak = self.status.stem_peaks[s].load(Ordering::Relaxed);
                stem_strip::show(ui, STEM_NAMES[s], stem, peak, &setter);
            }
            ui.separator();
            ui.vertical(|ui| {
                ui.label(egui::RichText::new("Output").strong());
                ui.label("Dry/Wet");
                ui.add(ParamSlider::for_param(&self.params.dry_wet, &setter).with_width(110.0));
                stem_strip::toggle(ui, &self.params.bypass, "Bypass", &setter);
            });
        });
    }
}

/// Latency, loads and the overload indicator.
fn status_bar(ui: &mut egui::Ui, status: &EngineStatus) {
    ui.horizontal(|ui| {
        ui.heading("Tessera");
        ui.separator();
        let rate = status.sample_rate.load(Ordering::Relaxed);
        let latency = status.latency_frames.load(Ordering::Relaxed);
        if rate > 0.0 {
            ui.label(format!("latency {:.0} ms", 1000.0 * latency as f32 / rate));
        } else {
            ui.label("not active");
        }
        ui.separator();
        ui.label(format!(
            "audio thread {:.1} % of each block",
            100.0 * status.audio_load.load(Ordering::Relaxed)
        ));
        ui.separator();
        ui.label(format!(
            "separation {:.2}× real time",
            status.worker_rtf.load(Ordering::Relaxed)
        ));
        ui.separator();
        if let Some(error) = status.worker_error.lock().as_ref() {
            ui.colored_label(egui::Color32::RED, format!("separation stopped: {error}"));
        } else if status.rendering.load(Ordering::Relaxed) {
            ui.colored_label(egui::Color32::GREEN, "rendering: waits for separation");
        } else {
            let overloads = status.overloads.load(Ordering::Relaxed);
            let color = if status.overloaded.load(Ordering::Relaxed) {
                egui::Color32::RED
            } else if overloads > 0 {
                egui::Color32::YELLOW
            } else {
                egui::Color32::GREEN
            };
            ui.colored_label(color, format!("overloads: {overloads}"));
        }
    });
}
