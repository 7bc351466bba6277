//! Pre-norm ViT transformer: blocks of attention and MLP, and the stack that returns every
//! layer's output (top-K targets, layer-wise probes) and optionally its attention weights.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::attention::Attention;
use super::fused::gelu;
use super::layer_norm::LayerNorm;
use super::linear::Linear;

/// Shape of a transformer stack.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TransformerConfig {
    /// Token width.
    pub dim: usize,
    /// Number of blocks.
    pub depth: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Hidden width of the MLP as a multiple of `dim` (4 in ViT).
    pub mlp_ratio: usize,
}

impl TransformerConfig {
    /// Rejects shapes the blocks cannot have; `name` says which stack in the message. The
    /// width must also be a multiple of 4 for 2D sin-cos positions.
    pub fn validate(&self, name: &str) -> Result<()> {
        if self.heads == 0
            || !self.dim.is_multiple_of(self.heads)
            || !self.dim.is_multiple_of(4)
            || self.depth == 0
        {
            candle_core::bail!(
                "{name}: dim {} must be a multiple of 4 and of its {} heads, and depth at least 1",
                self.dim,
                self.heads
            );
        }
        Ok(())
    }
}

/// Two-layer MLP with GELU.
#[derive(Debug, Clone)]
struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&gelu(&self.fc1.forward(x)?)?)
    }
}

/// `x + attn(norm1(x))`, then `x + mlp(norm2(x))`.
#[derive(Debug, Clone)]
struct Block {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(config: &TransformerConfig, vb: VarBuilder) -> Result<Self> {
        let hidden = config.dim * config.mlp_ratio;
        Ok(Self {
            norm1: LayerNorm::new(config.dim, vb.pp("norm1"))?,
            attn: Attention::new(config.dim, config.heads, vb.pp("attn"))?,
            norm2: LayerNorm::new(config.dim, vb.pp("norm2"))?,
            mlp: Mlp {
                fc1: Linear::new(config.dim, hidden, vb.pp("mlp.fc1"))?,
                fc2: Linear::new(hidden, config.dim, vb.pp("mlp.fc2"))?,
            },
        })
    }

    fn forward(&self, x: &Tensor, keep_weights: bool) -> Result<(Tensor, Option<Tensor>)> {
        let attended = self.attn.forward(&self.norm1.forward(x)?, keep_weights)?;
        let x = (x + attended.output)?;
        let x = (&x + self.mlp.forward(&self.norm2.forward(&x)?)?)?;
        Ok((x, attended.weights))
    }
}

/// A stack of blocks followed by a final LayerNorm.
#[derive(Debug, Clone)]
pub struct Transformer {
    blocks: Vec<Block>,
    norm: LayerNorm,
}

/// Everything one pass through the stack produces.
pub struct TransformerOutput {
    /// The final, normalised output `(batch, tokens, dim)`.
    pub output: Tensor,
    /// Each block's output before the final norm, first block first.
    pub layers: Vec<Tensor>,
    /// Each block's attention weights `(batch, heads, tokens, tokens)` when asked for.
    pub attention: Vec<Tensor>,
}

impl Transformer {
    pub fn new(config: &TransformerConfig, vb: VarBuilder) -> Result<Self> {
        let blocks = (0..config.depth)
            .map(|i| Block::new(config, vb.pp(format!("blocks.{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            blocks,
            norm: LayerNorm::new(config.dim, vb.pp("norm"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, keep_weights: bool) -> Result<TransformerOutput> {
        let mut layers = Vec::with_capacity(self.blocks.len());
        let mut attention = Vec::new();
        let mut x = x.clone();
        for block in &self.blocks {
            let (next, weights) = block.forward(&x, keep_weights)?;
            attention.extend(weights);
            layers.push(next.clone());
            x = next;
        }
        Ok(TransformerOutput {
            output: self.norm.forward(&x)?,
            layers,
            attention,
        })
    }
}
