//! Audio in and out: decode any common format into planar `f32`, encode WAV, and convert
//! between channel layouts.

pub mod channels;
pub mod decode;
pub mod encode;
mod error;

pub use error::{AudioError, MAX_CHANNELS, MAX_SAMPLE_RATE};

/// Planar `f32` audio and the rate it was recorded at: `channels[c][i]` is sample `i` of
/// channel `c`. Every channel has the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    /// Samples per second of every channel.
    pub sample_rate: u32,
    /// One `Vec` per channel, all the same length (planar layout, as DSP code wants it).
    pub channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    /// Number of channels (1 = mono, 2 = stereo).
    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    /// Number of samples per channel.
    pub fn num_frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.num_frames() as f64 / f64::from(self.sample_rate)
    }
}
