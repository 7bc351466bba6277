//! Fully connected layer, PyTorch layout (`weight` is `out × in`).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::fused;

/// Standard deviation of the truncated-normal-like initialisation I-JEPA and ViT use.
pub const INIT_STD: f64 = 0.02;

/// `y = x Wᵀ + b` over the last dimension of an input of any rank.
///
/// One fused op ([`fused::linear`]): candle's broadcast batched matmul with a transposed
/// right-hand side (what `candle_nn::Linear` does for rank-3 inputs) is the pattern
/// DESIGN.md lists among the CPU gradient pitfalls, and the flattened 2D version cost four
/// graph nodes.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `out × in`, named `weight` so checkpoints read like PyTorch ones.
    weight: Tensor,
    /// Per-output shift; absent where the architecture has none (wav2vec2 convs).
    bias: Option<Tensor>,
}

impl Linear {
    /// A layer with bias, weights drawn N(0, 0.02²), bias zero.
    pub fn new(input: usize, output: usize, vb: VarBuilder) -> Result<Self> {
        let bias = vb.get_with_hints(output, "bias", Init::Const(0.0))?;
        Ok(Self {
            bias: Some(bias),
            ..Self::without_bias(input, output, vb)?
        })
    }

    /// A layer without bias.
    pub fn without_bias(input: usize, output: usize, vb: VarBuilder) -> Result<Self> {
        let init = Init::Randn {
            mean: 0.0,
            stdev: INIT_STD,
        };
        let weight = vb.get_with_hints((output, input), "weight", init)?;
        Ok(Self { weight, bias: None })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::linear(x, &self.weight, self.bias.as_ref())
    }
}
