use thiserror::Error;

/// Why a DSP operation refused its input. Configuration errors are caught when an object is
/// built, so processing itself never fails half-way.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DspError {
    /// A parameter is out of its valid range; the message names it and the range.
    #[error("invalid DSP configuration: {0}")]
    InvalidConfig(String),
    /// The signal is shorter than the operation needs (e.g. reflect padding needs more than
    /// `n_fft / 2` samples).
    #[error("signal of {len} samples is too short: {needed} needed ({why})")]
    SignalTooShort {
        len: usize,
        needed: usize,
        why: &'static str,
    },
}
