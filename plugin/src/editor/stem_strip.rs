//! One stem's strip: name, gain, mute, solo and a peak meter.

use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;

use crate::params::StemParams;

/// The meter's range, dB.
const METER_FLOOR_DB: f32 = -60.0;
const METER_CEILING_DB: f32 = 6.0;

pub fn show(ui: &mut egui::Ui, name: &str, stem: &StemParams, peak: f32, setter: &ParamSetter) {
    ui.vertical(|ui| {
        ui.set_width(170.0);
        ui.label(egui::RichText::new(name).strong());
        ui.add(ParamSlider::for_param(&stem.gain, setter).with_width(110.0));
        ui.horizontal(|ui| {
            toggle(ui, &stem.mute, "Mute", setter);
            toggle(ui, &stem.solo, "Solo", setter);
        });
        meter(ui, peak);
    });
}

/// A button that flips a boolean parameter, as one host gesture.
pub fn toggle(ui: &mut egui::Ui, param: &BoolParam, label: &str, setter: &ParamSetter) {
    if ui.selectable_label(param.value(), label).clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !param.value());
        setter.end_set_parameter(param);
    }
}

/// A horizontal peak meter with its level in dB.
fn meter(ui: &mut egui::Ui, peak: f32) {
    let db = util::gain_to_db(peak.max(1e-6));
    let fill = ((db - METER_FLOOR_DB) / (METER_CEILING_DB - METER_FLOOR_DB)).clamp(0.0, 1.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(160.0, 10.0), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(40));
    let mut level = rect;
    level.set_width(rect.width() * fill);
    let color = if db > 0.0 {
        egui::Color32::RED
    } else {
        egui::Color32::from_rgb(80, 200, 120)
    };
    painter.rect_filled(level, 2.0, color);
    ui.label(if db <= METER_FLOOR_DB {
        "−∞ dB".to_string()
    } else {
        format!("{db:.1} dB")
    });
}
