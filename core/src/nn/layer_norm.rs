//! Layer normalisation with a fused backward (candle's own `LayerNorm` stops gradients).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::fused;

/// LayerNorm over the last dimension with learned scale and shift.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Learned per-feature scale, initialised to one.
    weight: Tensor,
    /// Learned per-feature shift, initialised to zero.
    bias: Tensor,
    /// Added to the variance; 1e-6 as in I-JEPA's ViT.
    eps: f64,
}

impl LayerNorm {
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get_with_hints(dim, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(dim, "bias", Init::Const(0.0))?,
            eps: 1e-6,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}
