//! Instance normalisation over time, for channels-last sequences.

use candle_core::{Result, Tensor};

use super::fused::normalize_time;

/// Variance floor of instance normalisation (PyTorch's default).
const EPS: f64 = 1e-5;

/// Normalises every channel of every sequence over time: `(batch, time, channels)` in and
/// out, no learned parameters. wav2vec2's first conv layer (GroupNorm with one group per
/// channel) and WavJEPA's top-K targets use it.
pub fn instance_norm_time(x: &Tensor) -> Result<Tensor> {
    normalize_time(x, EPS)
}
