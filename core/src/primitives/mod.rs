//! Primitive auditory separation algorithms and the per-patch features built from them
//! (PaC-HuBERT, section 2.4): each primitive splits a magnitude spectrogram into a
//! foreground and a background estimate; six primitives give 12 values per TF bin, whose
//! low/high sub-patch means make 24 features per patch and channel.

mod error;
pub mod features;
pub mod ft2d;
pub mod hpss;
mod median;
pub mod melody;
mod repeating;
pub mod repet;
pub mod repet_sim;
mod validate;

pub use error::PrimitiveError;

use ndarray::{Array2, ArrayView2};

/// What a primitive needs to know about the spectrogram besides its values: the frequency of
/// a bin and the duration of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrogramGeometry {
    /// Sample rate of the analysed audio in Hz.
    pub sample_rate: u32,
    /// FFT length: bin `k` is at `k · sample_rate / n_fft` Hz.
    pub n_fft: usize,
    /// Hop between frames in samples: frame `t` is at `t · hop_length / sample_rate` s.
    pub hop_length: usize,
}

impl SpectrogramGeometry {
    /// Centre frequency of bin `bin` in Hz.
    pub fn bin_hz(&self, bin: usize) -> f64 {
        bin as f64 * f64::from(self.sample_rate) / self.n_fft as f64
    }

    /// Frames per second.
    pub fn frame_rate(&self) -> f64 {
        f64::from(self.sample_rate) / self.hop_length as f64
    }
}

/// A primitive's estimate: two non-negative magnitude spectrograms of the input's shape
/// [bins × frames].
#[derive(Debug, Clone, PartialEq)]
pub struct ForegroundBackground {
    /// The part the primitive calls foreground (percussive, non-repeating, melodic, ...).
    pub foreground: Array2<f32>,
    /// The rest (harmonic, repeating, accompaniment, ...).
    pub background: Array2<f32>,
}

/// One primitive separation algorithm.
pub trait Primitive {
    /// Short stable name, used in feature metadata (e.g. `"hpss"`).
    fn name(&self) -> &'static str;

    /// Splits `magnitude` ([bins × frames], one channel, `n_fft/2 + 1` bins) into foreground
    /// and background magnitudes.
    fn separate(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<ForegroundBackground, PrimitiveError>;
}
