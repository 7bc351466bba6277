//! What probes, the multi-view disentangler and the plugin need from any pretrained model.

use candle_core::{Result, Tensor};

/// A frozen audio encoder.
pub trait Encoder {
    /// Sample rate the encoder expects its mono input at.
    fn sample_rate(&self) -> u32;

    /// Embeds mono audio at [`Self::sample_rate`]: one `(frames, dim)` tensor per
    /// transformer layer, first layer first. Audio longer than the model's clip is
    /// embedded clip by clip and concatenated over time.
    fn embed(&self, audio: &[f32]) -> Result<Vec<Tensor>>;
}
