//! The plugin's parameters and the editor settings saved with the project.

use std::sync::Arc;

use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;
use serde::{Deserialize, Serialize};

use crate::STEM_NAMES;

/// Version of the state this build writes; older or unknown versions load defaults for
/// the settings they lack (see [`crate::Tessera::filter_state`]).
pub const STATE_VERSION: u32 = 1;

/// Gain, mute and solo of one stem in the main output's remix.
#[derive(Params)]
pub struct StemParams {
    /// Gain of the stem in the remix and on its own output, dB.
    #[id = "gain"]
    pub gain: FloatParam,
    /// Takes the stem out of the remix (its own output keeps playing).
    #[id = "mute"]
    pub mute: BoolParam,
    /// While any stem is soloed, only soloed stems are in the remix.
    #[id = "solo"]
    pub solo: BoolParam,
}

impl StemParams {
    fn new(name: &str) -> Self {
        Self {
            gain: FloatParam::new(
                format!("{name} Gain"),
                0.0,
                FloatRange::Skewed {
                    min: -60.0,
                    max: 12.0,
                    factor: FloatRange::skew_factor(1.5),
                },
            )
            .with_smoother(SmoothingStyle::Linear(20.0))
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            mute: BoolParam::new(format!("{name} Mute"), false),
            solo: BoolParam::new(format!("{name} Solo"), false),
        }
    }
}

/// Which of the predictor's attention maps the editor draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AttentionAveraging {
    /// Mean over every layer and head.
    #[default]
    AllLayers,
    /// Mean over the heads of the last layer (the one that writes the prediction).
    LastLayer,
}

/// The masked target region of the attention view, in patches of PupuJEPA's grid
/// (frequency patches count from the lowest band; time patches from the oldest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionRegion {
    pub freq: (usize, usize),
    pub time: (usize, usize),
}

impl Default for AttentionRegion {
    /// A low-mid region in the newest quarter of the clip.
    fn default() -> Self {
        Self {
            freq: (1, 3),
            time: (11, 14),
        }
    }
}

/// Editor settings saved with the project (not automatable).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct ViewSettings {
    /// The target region the attention map is computed for.
    pub region: AttentionRegion,
    /// Which attention maps are averaged.
    pub averaging: AttentionAveraging,
}

#[derive(Params)]
pub struct TesseraParams {
    /// The editor window's size and open state (the window opens at the default size).
    pub editor_state: Arc<EguiEditorState>,
    /// State layout version, so later builds can migrate old projects.
    #[persist = "state-version"]
    pub state_version: std::sync::atomic::AtomicU32,
    /// Attention region and averaging, read by the attention worker.
    #[persist = "view"]
    pub view: Arc<parking_lot::Mutex<ViewSettings>>,
    /// Per-stem remix controls, in [`STEM_NAMES`] order.
    #[nested(id_prefix = "vocals", group = "Vocals")]
    pub vocals: StemParams,
    #[nested(id_prefix = "drums", group = "Drums")]
    pub drums: StemParams,
    #[nested(id_prefix = "bass", group = "Bass")]
    pub bass: StemParams,
    #[nested(id_prefix = "other", group = "Other")]
    pub other: StemParams,
    /// Mix of the remix (1) and the latency-aligned input (0) on the main output.
    #[id = "dry_wet"]
    pub dry_wet: FloatParam,
    /// Outputs the latency-aligned input on every output's place of the remix, so toggling
    /// it never shifts the timing.
    #[id = "bypass"]
    pub bypass: BoolParam,
}

impl TesseraParams {
    pub fn new(editor_state: Arc<EguiEditorState>) -> Self {
        Self {
            editor_state,
            state_version: std::sync::atomic::AtomicU32::new(STATE_VERSION),
            view: Arc::default(),
            vocals: StemParams::new(STEM_NAMES[0]),
            drums: StemParams::new(STEM_NAMES[1]),
            bass: StemParams::new(STEM_NAMES[2]),
            other: StemParams::new(STEM_NAMES[3]),
            dry_wet: FloatParam::new("Dry/Wet", 1.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_smoother(SmoothingStyle::Linear(20.0))
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
        }
    }

    /// The stems' parameters in [`STEM_NAMES`] order.
    pub fn stems(&self) -> [&StemParams; 4] {
        [&self.vocals, &self.drums, &self.bass, &self.other]
    }
}
