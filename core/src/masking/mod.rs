//! Which tokens a self-supervised model sees and which it must predict.
//!
//! - [`MultiBlockConfig`]: I-JEPA multi-block masks on a (frequency × time) patch grid,
//!   with frequency-aware target shapes ([`MaskStrategy`]) for PupuJEPA.
//! - [`WavBlocksConfig`]: WavJEPA's context/target block sampling over waveform frames.
//! - [`SpanMaskConfig`]: HuBERT span masking for PaC-HuBERT's masked unit prediction.
//!
//! The JEPA samplers return token indices ([`MaskSet`] per sample, [`BatchMasks`] per
//! batch) laid out so a model can gather context and target tokens into dense tensors; span
//! masks are booleans because the cross-entropy only needs to know which tokens count.
//! Every random draw comes from the generator the caller passes in.

mod error;
mod mask_set;
mod multiblock2d;
mod spans;
mod wav_blocks;

pub use error::MaskError;
pub use mask_set::{BatchMasks, MaskSet};
pub use multiblock2d::{BlockSpec, MaskStrategy, MultiBlockConfig, TokenGrid};
pub use spans::SpanMaskConfig;
pub use wav_blocks::WavBlocksConfig;
