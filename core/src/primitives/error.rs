use thiserror::Error;

use crate::dsp::DspError;

/// Why a primitive refused its input.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PrimitiveError {
    /// A parameter is out of its valid range; the message names it and the range.
    #[error("invalid primitive configuration: {0}")]
    InvalidConfig(String),
    /// The spectrogram does not fit the geometry or is too small for the algorithm.
    #[error("{primitive}: {problem}")]
    BadInput {
        primitive: &'static str,
        problem: String,
    },
    /// The STFT or patch grid behind the features refused its configuration or the signal.
    #[error(transparent)]
    Dsp(#[from] DspError),
}
