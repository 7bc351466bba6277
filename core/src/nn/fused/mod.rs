//! Fused CPU kernels with their own backward passes, written as candle custom ops.
//!
//! candle 0.11's `LayerNorm`, `softmax_last_dim` and `sdpa` stop gradients, its GELU backward
//! is a dozen elementwise passes and its `conv1d` backward is wrong on the CPU (DESIGN.md,
//! "Candle on this CPU"). Each op here computes forward and backward in one pass over
//! contiguous rows, for `f32` (training) and `f64` (finite-difference gradient checks).
//! [`istft`] is here because candle has no inverse STFT to train through; [`add_bias`],
//! [`scale_columns`] and [`apply_stem_masks`] because candle's broadcast backward reduces
//! slowly; [`attention`] and [`linear`] because candle's graph bookkeeping around their
//! matmuls (head splits, reshapes, a zero-filled gradient per node) cost more than the
//! matmuls themselves.

mod affine;
mod attention;
mod fast_math;
mod gelu;
mod istft;
mod layer_norm;
mod linear;
mod normalize_time;
mod rows;
mod softmax;
mod stem_masks;
mod unfold;
mod update;

pub use affine::{add_bias, scale_columns};
pub use attention::attention;
pub use gelu::gelu;
pub use istft::istft;
pub use layer_norm::{layer_norm, normalize_last_dim};
pub use linear::linear;
pub use normalize_time::normalize_time;
pub use softmax::softmax_last_dim;
pub use stem_masks::apply_stem_masks;
pub use unfold::unfold_time;
pub use update::{AdamWStep, adamw_step, blend_into, blend_square_into};
