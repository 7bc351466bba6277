//! Signal processing on planar `f32` audio: windows, (streaming) STFT, mel filterbanks,
//! spectrogram scalings, resampling and 2D patch grids.
//!
//! Array conventions follow librosa: a spectrogram is an `ndarray` of shape
//! `[frequency bins × frames]`, so fixtures made with librosa compare element for element.

mod error;
pub mod mel;
pub mod patches;
pub mod resample;
pub mod spectrogram;
pub mod stft;
pub mod streaming;
pub mod window;

pub use error::DspError;
