//! What probes, the multi-view disentangler and the plugin need from any pretrained model.

use candle_core::{Result, Tensor, bail};

/// A frozen audio encoder.
pub trait Encoder {
    /// Sample rate the encoder expects its input at.
    fn sample_rate(&self) -> u32;

    /// Embeds mono audio at [`Self::sample_rate`]: one `(frames, dim)` tensor per
    /// transformer layer, first layer first. Audio longer than the model's clip is
    /// embedded clip by clip and concatenated over time. An encoder of several channels
    /// hears the mono audio on each of them.
    fn embed(&self, audio: &[f32]) -> Result<Vec<Tensor>>;

    /// How many channels the encoder hears: 2 for WavJEPA-Nat's ears, 1 for the others.
    fn channels(&self) -> usize {
        1
    }

    /// [`Self::embed`] for audio of exactly [`Self::channels`] equally long channels, so a
    /// two-ear encoder can hear a two-ear recording as such.
    fn embed_channels(&self, channels: &[&[f32]]) -> Result<Vec<Tensor>> {
        match channels {
            [mono] => self.embed(mono),
            _ => bail!("the encoder hears one channel, not {}", channels.len()),
        }
    }
}
