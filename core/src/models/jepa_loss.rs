//! The JEPA objective shared by PupuJEPA and WavJEPA, with the collapse monitor's reading.

use candle_core::{Result, Tensor};

use crate::masking::BatchMasks;

use super::tokens::gather_blocks;

/// One training step's loss and what the collapse monitor reads.
pub struct JepaLoss {
    /// Mean squared error between predicted and target latents.
    pub loss: Tensor,
    /// Mean over feature dimensions of the per-dimension standard deviation of the target
    /// latents across the batch: near zero when representations collapse.
    pub target_std: f32,
}

impl JepaLoss {
    /// L2 between `predicted` `(blocks, target_len, dim)` and the `targets`
    /// `(batch, tokens, dim)` at every target block of `masks`.
    pub fn between(targets: &Tensor, predicted: &Tensor, masks: &BatchMasks) -> Result<Self> {
        let wanted = gather_blocks(targets, masks)?;
        Ok(Self {
            loss: (predicted - wanted)?.sqr()?.mean_all()?,
            target_std: per_dimension_std(targets)?,
        })
    }
}

/// Mean over dimensions of the standard deviation of each dimension across all tokens.
fn per_dimension_std(latents: &Tensor) -> Result<f32> {
    let dim = latents.dim(latents.rank() - 1)?;
    let flat = latents
        .reshape(((), dim))?
        .to_dtype(candle_core::DType::F32)?;
    let centred = flat.broadcast_sub(&flat.mean_keepdim(0)?)?;
    centred
        .sqr()?
        .mean(0)?
        .sqrt()?
        .mean_all()?
        .to_scalar::<f32>()
}
