//! Spectrogram patches → tokens, as one linear layer (no conv: matmul is candle's fast path).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::linear::Linear;

/// Cuts `(batch, freq, time)` spectrograms into `patch_freq × patch_time` patches and
/// projects each to `dim`. Tokens come out row-major over the patch grid, frequency
/// first: `index = f · time_patches + t`, the order `core::masking` uses.
#[derive(Debug, Clone)]
pub struct PatchEmbed {
    /// Flattened patch → token.
    proj: Linear,
    /// Patch height in mel bins.
    patch_freq: usize,
    /// Patch width in frames.
    patch_time: usize,
}

impl PatchEmbed {
    pub fn new(patch_freq: usize, patch_time: usize, dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            proj: Linear::new(patch_freq * patch_time, dim, vb.pp("proj"))?,
            patch_freq,
            patch_time,
        })
    }

    /// The patch grid `(freq_patches, time_patches)` of a `freq × time` spectrogram.
    pub fn grid(&self, freq: usize, time: usize) -> Result<(usize, usize)> {
        if !freq.is_multiple_of(self.patch_freq)
            || !time.is_multiple_of(self.patch_time)
            || freq == 0
            || time == 0
        {
            candle_core::bail!(
                "a {freq} × {time} spectrogram does not tile into {} × {} patches",
                self.patch_freq,
                self.patch_time
            );
        }
        Ok((freq / self.patch_freq, time / self.patch_time))
    }
}

impl Module for PatchEmbed {
    /// `(batch, freq, time)` → `(batch, freq_patches · time_patches, dim)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, freq, time) = x.dims3()?;
        let (rows, cols) = self.grid(freq, time)?;
        let patches = x
            .reshape((batch, rows, self.patch_freq, cols, self.patch_time))?
            .permute((0, 1, 3, 2, 4))?
            .contiguous()?
            .reshape((batch, rows * cols, self.patch_freq * self.patch_time))?;
        self.proj.forward(&patches)
    }
}
