//! The JEPA predictor shared by PupuJEPA and WavJEPA: a narrow transformer that sees the
//! context latents at their positions plus mask tokens at one target block's positions,
//! and predicts the target latents there. It runs once per target block; all blocks of a
//! batch go through together, each with its sample's context repeated.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::masking::BatchMasks;
use crate::nn::{INIT_STD, Linear, Transformer, TransformerConfig};

use super::tokens::gather_tokens;

/// Predicts target-block latents from context latents.
#[derive(Debug, Clone)]
pub struct Predictor {
    /// Encoder width → predictor width.
    embed: Linear,
    /// The learned token standing in for every masked position.
    mask_token: Tensor,
    /// The narrow transformer.
    transformer: Transformer,
    /// Predictor width → encoder width, where the targets live.
    proj: Linear,
}

/// Predictions for every target block of a batch.
pub struct Prediction {
    /// `(blocks, target_len, encoder_dim)`, blocks in [`BatchMasks::flat_targets`] order.
    pub latents: Tensor,
    /// Per predictor layer `(blocks, heads, context_len + target_len, same)` when asked for;
    /// queries and keys are the context tokens first, then the block's mask tokens.
    pub attention: Vec<Tensor>,
}

impl Predictor {
    pub fn new(encoder_dim: usize, config: &TransformerConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            embed: Linear::new(encoder_dim, config.dim, vb.pp("embed"))?,
            mask_token: vb.get_with_hints(
                (1, 1, config.dim),
                "mask_token",
                Init::Randn {
                    mean: 0.0,
                    stdev: INIT_STD,
                },
            )?,
            transformer: Transformer::new(config, vb.pp("transformer"))?,
            proj: Linear::new(config.dim, encoder_dim, vb.pp("proj"))?,
        })
    }

    /// `context`: `(batch, context_len, encoder_dim)` latents of the context tokens listed
    /// in `masks`; `positions`: `(tokens, predictor_dim)` position embeddings of the whole
    /// sequence or grid.
    pub fn forward(
        &self,
        context: &Tensor,
        positions: &Tensor,
        masks: &BatchMasks,
        keep_attention: bool,
    ) -> Result<Prediction> {
        let device = context.device();
        let (blocks, target_len) = (masks.num_blocks(), masks.target_len());
        let context_len = masks.context_len();
        let context_pos = gather_tokens(positions, &masks.context)?;
        let context = self.embed.forward(context)?.add(&context_pos)?;
        let owners: Vec<u32> = masks.block_owners().iter().map(|&b| b as u32).collect();
        let owners = Tensor::new(owners.as_slice(), device)?;
        let repeated = context.index_select(&owners, 0)?;
        let target_pos = positions
            .index_select(&index_tensor(&masks.flat_targets(), device)?, 0)?
            .reshape((blocks, target_len, ()))?;
        let queries = self.mask_token.broadcast_add(&target_pos)?;
        let tokens = Tensor::cat(&[repeated, queries], 1)?;
        let out = self.transformer.forward(&tokens, keep_attention)?;
        Ok(Prediction {
            latents: self
                .proj
                .forward(&out.output.narrow(1, context_len, target_len)?)?,
            attention: out.attention,
        })
    }
}

/// A `u32` index tensor, the type `index_select` takes.
pub(crate) fn index_tensor(indices: &[usize], device: &candle_core::Device) -> Result<Tensor> {
    let indices: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
    Tensor::new(indices.as_slice(), device)
}
