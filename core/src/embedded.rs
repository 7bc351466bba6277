//! The default models shipped in `assets/`, embedded so the plugin and the `tessera` binary
//! work without any model files next to them.

use std::path::Path;

use candle_core::Device;

use crate::checkpoint::CheckpointError;
use crate::models::{PupuJepa, Separator};

/// Separator-Tiny, trained with `tessera finetune separator` (see
/// assets/separator-tiny/MODEL_CARD.md).
pub const SEPARATOR_TINY: &[u8] =
    include_bytes!("../../assets/separator-tiny/model-f16.safetensors");

/// PupuJEPA-Tiny, pretrained with `tessera pretrain pupu-jepa` (see
/// assets/pupu-jepa-tiny/MODEL_CARD.md); the plugin's attention view runs its predictor.
pub const PUPU_JEPA_TINY: &[u8] =
    include_bytes!("../../assets/pupu-jepa-tiny/model-f16.safetensors");

/// The embedded default separator, in f32 on `device`.
pub fn default_separator(device: &Device) -> Result<Separator, CheckpointError> {
    Separator::load_bytes(
        SEPARATOR_TINY,
        Path::new("the embedded default separator"),
        device,
    )
}

/// The embedded PupuJEPA-Tiny, in f32 on `device`.
pub fn default_pupu_jepa(device: &Device) -> Result<PupuJepa, CheckpointError> {
    PupuJepa::load_bytes(
        PUPU_JEPA_TINY,
        Path::new("the embedded PupuJEPA-Tiny"),
        device,
    )
}
