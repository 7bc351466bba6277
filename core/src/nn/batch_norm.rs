//! Batch normalisation over the features of `(batch, features)` inputs, as PyTorch's
//! `BatchNorm1d`: batch statistics while training, running estimates at inference.
//!
//! Ours rather than `candle_nn::BatchNorm` because candle's keeps its running statistics as
//! variables of the `VarMap`, where an optimiser takes them for parameters (ours errs on
//! variables no gradient reaches), and this one is built from plain candle ops whose
//! gradients `core/tests/integration/nn_gradients.rs` checks.

use candle_core::{Result, Tensor, Var};
use candle_nn::{Init, VarBuilder};

/// Weight of the newest batch in the running statistics (PyTorch's default).
const MOMENTUM: f64 = 0.1;
/// Added to the variance (PyTorch's default).
const EPS: f64 = 1e-5;

/// `BatchNorm1d` with a learned scale and shift.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// Learned per-feature scale, initialised to one.
    weight: Tensor,
    /// Learned per-feature shift, initialised to zero.
    bias: Tensor,
    /// Running mean of the features, used at inference; updated by every training batch.
    running_mean: Var,
    /// Running (unbiased) variance of the features, used at inference.
    running_var: Var,
}

impl BatchNorm {
    /// Scale and shift come from `vb`; the running statistics start at mean 0, variance 1
    /// and live outside it (they are state, not parameters).
    pub fn new(features: usize, vb: VarBuilder) -> Result<Self> {
        let (dtype, device) = (vb.dtype(), vb.device().clone());
        Ok(Self {
            weight: vb.get_with_hints(features, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(features, "bias", Init::Const(0.0))?,
            running_mean: Var::zeros(features, dtype, &device)?,
            running_var: Var::ones(features, dtype, &device)?,
        })
    }

    /// Normalises `x` `(batch, features)` with its own batch statistics (biased variance,
    /// as PyTorch) and folds them into the running ones.
    pub fn forward_train(&self, x: &Tensor) -> Result<Tensor> {
        let batch = x.dim(0)?;
        let mean = x.mean_keepdim(0)?;
        let centred = x.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim(0)?;
        let normalised = centred.broadcast_div(&(variance.clone() + EPS)?.sqrt()?)?;
        // The running variance is unbiased; a batch of one has no spread to add.
        let unbiased =
            (variance.detach().squeeze(0)? * (batch as f64 / (batch.max(2) - 1) as f64))?;
        let blend = |running: &Var, batch_value: &Tensor| -> Result<()> {
            running.set(&((running.as_tensor() * (1.0 - MOMENTUM))? + (batch_value * MOMENTUM)?)?)
        };
        blend(&self.running_mean, &mean.detach().squeeze(0)?)?;
        blend(&self.running_var, &unbiased)?;
        self.scale_and_shift(&normalised)
    }

    /// Normalises `x` with the running statistics (inference).
    pub fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        let std = (self.running_var.as_tensor() + EPS)?.sqrt()?;
        let normalised = x
            .broadcast_sub(self.running_mean.as_tensor())?
            .broadcast_div(&std)?;
        self.scale_and_shift(&normalised)
    }

    /// The running mean and variance, for saving and restoring a model's state.
    pub fn running_stats(&self) -> [&Var; 2] {
        [&self.running_mean, &self.running_var]
    }

    fn scale_and_shift(&self, normalised: &Tensor) -> Result<Tensor> {
        normalised
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}
