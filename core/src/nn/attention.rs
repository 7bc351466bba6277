//! Multi-head self-attention that can hand back its attention weights.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::fused::{attention, softmax_last_dim};
use super::linear::Linear;

/// Self-attention over `(batch, tokens, dim)`.
#[derive(Debug, Clone)]
pub struct Attention {
    /// Queries, keys and values in one matmul (`dim → 3·dim`).
    qkv: Linear,
    /// Mixes the heads back into the model dimension.
    proj: Linear,
    /// Number of heads; `dim` must be a multiple of it.
    heads: usize,
}

/// What one attention call returns.
pub struct AttentionOutput {
    /// `(batch, tokens, dim)`.
    pub output: Tensor,
    /// `(batch, heads, queries, keys)` softmax weights, when asked for (attention maps).
    pub weights: Option<Tensor>,
}

impl Attention {
    pub fn new(dim: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        if heads == 0 || !dim.is_multiple_of(heads) {
            candle_core::bail!("attention: dim {dim} is not a multiple of {heads} heads");
        }
        Ok(Self {
            qkv: Linear::new(dim, 3 * dim, vb.pp("qkv"))?,
            proj: Linear::new(dim, dim, vb.pp("proj"))?,
            heads,
        })
    }

    pub fn forward(&self, x: &Tensor, keep_weights: bool) -> Result<AttentionOutput> {
        let packed = self.qkv.forward(x)?;
        if !keep_weights {
            // Training and embedding: the fused op, which never materialises the weights.
            return Ok(AttentionOutput {
                output: self.proj.forward(&attention(&packed, self.heads)?)?,
                weights: None,
            });
        }
        let (batch, tokens, dim) = x.dims3()?;
        let head_dim = dim / self.heads;
        // (3, batch, heads, tokens, head_dim), each part contiguous for the batched matmuls.
        let qkv = packed
            .reshape((batch, tokens, 3, self.heads, head_dim))?
            .permute((2, 0, 3, 1, 4))?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let q = (qkv.get(0)?.contiguous()? * scale)?;
        let k_t = qkv.get(1)?.transpose(2, 3)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let weights = softmax_last_dim(&q.matmul(&k_t)?)?;
        let mixed = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, tokens, dim))?;
        Ok(AttentionOutput {
            output: self.proj.forward(&mixed)?,
            weights: Some(weights),
        })
    }
}
