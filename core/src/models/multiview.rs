//! The multi-view disentangler (../shared/papers/multiview-disentanglement-music-ssl.txt,
//! §2): a frozen encoder's latent `x` of each view goes through a private encoder `e_p` and
//! a shared encoder `e_s` (2-layer MLPs with ReLU, weights shared across views) to codes
//! `z_p` and `z_s` of half the latent's width; a decoder reconstructs `x` from `z_p ⊕ z_s`.
//! Training balances the reconstruction against a disentanglement loss (eq. 5):
//! `γ · λ · L_rec + (1 − λ) · L_dis`.
//!
//! The encoders end in a ReLU as well as having one between their layers: the paper's cosine
//! objectives (`−log sim`, `−log(1 − sim)`, pulled "towards 1" and "towards 0") are defined
//! only for similarities in `[0, 1]`, which non-negative codes guarantee. The decoder's last
//! layer is linear, since the latents it reconstructs are signed.

use candle_core::{D, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::disentanglement::{ObjectiveType, Principle, separation_loss, similarity_loss};
use crate::checkpoint::{CheckpointError, load_model};
use crate::nn::Linear;

/// Which disentanglement loss a model trains with, and how much it weighs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// The contrastive principle `c`.
    pub principle: Principle,
    /// The objective type `φ`: SIM on the shared codes, SEP on the private ones, or both.
    pub kind: ObjectiveType,
    /// λ of eq. (5): the weight of the reconstruction term; the disentanglement term
    /// weighs `1 − λ`. The paper sweeps {0, 0.2, …, 1}; 1 is reconstruction only.
    pub reconstruction_weight: f64,
}

impl ObjectiveConfig {
    /// λ = 1: the disentanglement term weighs nothing, so the principle and objective type
    /// play no part in training.
    pub fn is_reconstruction_only(&self) -> bool {
        self.reconstruction_weight == 1.0
    }
}

impl Default for ObjectiveConfig {
    /// The paper's best configuration (Table 1): Cosine^SEP with λ = 0.6.
    fn default() -> Self {
        Self {
            principle: Principle::Cosine,
            kind: ObjectiveType::Separation,
            reconstruction_weight: 0.6,
        }
    }
}

/// Everything that defines a multi-view disentangler; read from TOML, stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiviewConfig {
    /// Width `d` of the frozen encoder's clip latents (192 for Tessera's Tiny encoders,
    /// 768 for the paper's AudioMAE).
    pub latent_dim: usize,
    /// Width of the hidden layer of every MLP; the paper does not give it, so it defaults
    /// to the latent's width.
    pub hidden_dim: usize,
    /// Width of each code, `z_p` and `z_s` (the paper's `d / 2`).
    pub code_dim: usize,
    /// The training objective (stored with the weights so an evaluation knows which point
    /// of the paper's sweep a model is).
    pub objective: ObjectiveConfig,
}

impl Default for MultiviewConfig {
    /// On the 192-wide latents of Tessera's Tiny encoders: codes of 96, hidden layers of 192.
    fn default() -> Self {
        Self {
            latent_dim: 192,
            hidden_dim: 192,
            code_dim: 96,
            objective: ObjectiveConfig::default(),
        }
    }
}

/// `fc2(relu(fc1(x)))`.
#[derive(Debug)]
struct TwoLayerMlp {
    fc1: Linear,
    fc2: Linear,
}

impl TwoLayerMlp {
    fn new(input: usize, hidden: usize, output: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: Linear::new(input, hidden, vb.pp("fc1"))?,
            fc2: Linear::new(hidden, output, vb.pp("fc2"))?,
        })
    }
}

impl Module for TwoLayerMlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(x)?.relu()?)
    }
}

/// The two codes of a batch of latents, each `(…, code_dim)`.
#[derive(Debug)]
pub struct Codes {
    /// `z_p = e_p(x)`: what should differ between the views of a pair (pitch).
    pub private: Tensor,
    /// `z_s = e_s(x)`: what the views of a pair have in common (instrument family).
    pub shared: Tensor,
}

/// The codes of a batch of latents and the decoder's reconstruction of them.
#[derive(Debug)]
pub struct MultiviewOutput {
    pub codes: Codes,
    /// `x̂ = d_θ(z_p ⊕ z_s)`, shaped like the input.
    pub reconstruction: Tensor,
}

/// The objective of one batch of pairs, whole and in parts (scalars).
#[derive(Debug)]
pub struct MultiviewLoss {
    /// `γ · λ · L_rec + (1 − λ) · L_dis`: what training differentiates.
    pub total: Tensor,
    /// `L_rec`: the mean squared error of both views' reconstructions, unscaled by γ (the
    /// paper's reconstruction MSE).
    pub reconstruction: Tensor,
    /// `c^SIM` of the shared codes, computed whatever the objective type so a run can watch
    /// how much the shared codes of a pair agree.
    pub similarity: Tensor,
    /// `c^SEP` of the private codes, computed whatever the objective type.
    pub separation: Tensor,
    /// `L_dis`: `similarity`, `separation` or their sum, as the objective type says.
    pub disentanglement: Tensor,
}

/// The multi-view disentangler.
#[derive(Debug)]
pub struct Multiview {
    config: MultiviewConfig,
    /// `e_p`: latent → private code.
    private: TwoLayerMlp,
    /// `e_s`: latent → shared code.
    shared: TwoLayerMlp,
    /// `d_θ`: both codes, concatenated → latent.
    decoder: TwoLayerMlp,
}

impl Multiview {
    /// The checkpoint kind of multi-view runs.
    pub const KIND: &'static str = "multiview";

    /// Loads a model written by the multi-view training loop (its `model.safetensors`,
    /// `best.safetensors` or a checkpoint), in f32.
    pub fn load(
        path: &std::path::Path,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        load_model(path, Self::KIND, device, |config, vb, _| {
            Self::new(config, vb)
        })
    }

    pub fn new(config: MultiviewConfig, vb: VarBuilder) -> Result<Self> {
        if config.latent_dim == 0 || config.hidden_dim == 0 || config.code_dim == 0 {
            candle_core::bail!("multiview: latent, hidden and code widths must be positive");
        }
        let weight = config.objective.reconstruction_weight;
        if !(0.0..=1.0).contains(&weight) {
            candle_core::bail!(
                "multiview: the reconstruction weight λ must be in [0, 1], got {weight}"
            );
        }
        let (latent, hidden, code) = (config.latent_dim, config.hidden_dim, config.code_dim);
        Ok(Self {
            private: TwoLayerMlp::new(latent, hidden, code, vb.pp("private"))?,
            shared: TwoLayerMlp::new(latent, hidden, code, vb.pp("shared"))?,
            decoder: TwoLayerMlp::new(2 * code, hidden, latent, vb.pp("decoder"))?,
            config,
        })
    }

    pub fn config(&self) -> &MultiviewConfig {
        &self.config
    }

    /// The private and shared codes of `latents` `(…, latent_dim)`.
    pub fn encode(&self, latents: &Tensor) -> Result<Codes> {
        Ok(Codes {
            private: self.private.forward(latents)?.relu()?,
            shared: self.shared.forward(latents)?.relu()?,
        })
    }

    /// The codes of `latents` `(…, latent_dim)` and their reconstruction.
    pub fn forward(&self, latents: &Tensor) -> Result<MultiviewOutput> {
        let codes = self.encode(latents)?;
        let joined = Tensor::cat(&[&codes.private, &codes.shared], D::Minus1)?;
        Ok(MultiviewOutput {
            reconstruction: self.decoder.forward(&joined)?,
            codes,
        })
    }

    /// Eq. (5) for a batch of pairs: `first` and `second` are the latents `(pairs,
    /// latent_dim)` of the two views, row `j` of both from pair `j`; `gamma` scales the
    /// reconstruction term to the disentanglement term's magnitude.
    pub fn loss(&self, first: &Tensor, second: &Tensor, gamma: f64) -> Result<MultiviewLoss> {
        let objective = self.config.objective;
        let (one, two) = (self.forward(first)?, self.forward(second)?);
        let reconstruction = ((reconstruction_loss(first, &one.reconstruction)?
            + reconstruction_loss(second, &two.reconstruction)?)?
            * 0.5)?;
        let similarity =
            similarity_loss(objective.principle, &one.codes.shared, &two.codes.shared)?;
        let separation =
            separation_loss(objective.principle, &one.codes.private, &two.codes.private)?;
        let disentanglement = match objective.kind {
            ObjectiveType::Similarity => similarity.clone(),
            ObjectiveType::Separation => separation.clone(),
            ObjectiveType::Both => (&similarity + &separation)?,
        };
        let lambda = objective.reconstruction_weight;
        let total = ((&reconstruction * (gamma * lambda))? + (&disentanglement * (1.0 - lambda))?)?;
        Ok(MultiviewLoss {
            total,
            reconstruction,
            similarity,
            separation,
            disentanglement,
        })
    }
}

/// `L_rec`: the mean squared error between `latents` and their `reconstruction`, over every
/// entry.
pub fn reconstruction_loss(latents: &Tensor, reconstruction: &Tensor) -> Result<Tensor> {
    (reconstruction - latents)?.sqr()?.mean_all()
}
