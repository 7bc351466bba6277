//! What a trained disentangler gives an evaluation: the private and shared codes of every
//! clip, and how well the latents come back from them.

use candle_core::{DType, Tensor};
use tessera_core::models::Multiview;
use tessera_core::models::multiview::reconstruction_loss;

/// The codes of a set of clips, row by row as the latents were.
#[derive(Debug)]
pub struct EncodedClips {
    /// `(clips, code_dim)`: `z_p`, the features of the private-subspace probes.
    pub private: Tensor,
    /// `(clips, code_dim)`: `z_s`, the features of the shared-subspace probes.
    pub shared: Tensor,
    /// The paper's reconstruction MSE between the latents and the decoder's output.
    pub reconstruction_mse: f64,
}

impl EncodedClips {
    /// `(clips, 2 · code_dim)`: `z_p ⊕ z_s`, the features of the overall-accuracy probes.
    pub fn joined(&self) -> candle_core::Result<Tensor> {
        Tensor::cat(&[&self.private, &self.shared], 1)
    }
}

/// Encodes `latents` `(clips, latent_dim)` (moved to the model's dtype, f32) with `model`.
pub fn encode(model: &Multiview, latents: &Tensor) -> anyhow::Result<EncodedClips> {
    let latents = latents.to_dtype(DType::F32)?;
    let output = model.forward(&latents)?;
    let mse = reconstruction_loss(&latents, &output.reconstruction)?.to_scalar::<f32>()?;
    Ok(EncodedClips {
        private: output.codes.private,
        shared: output.codes.shared,
        reconstruction_mse: f64::from(mse),
    })
}
