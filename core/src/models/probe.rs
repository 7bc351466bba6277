//! Probe heads: small classifiers trained on frozen per-clip embeddings, to measure what an
//! encoder's layers hold (the HEAR protocol of ../shared/papers/wavjepa-*.txt, and the
//! linear probes of the multi-view paper).
//!
//! The input is every layer's embedding of a batch of clips, `(layers, batch, dim)`; the
//! head first reduces the layers to one `(batch, dim)` matrix — one chosen layer, their
//! mean, or a learned softmax-weighted sum — then classifies it with a linear layer or
//! HEAR's MLP (Linear → BatchNorm → ReLU → Dropout → Linear).

use candle_core::{Module, Result, Tensor, Var};
use candle_nn::{Init, VarBuilder};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::nn::{BatchNorm, Linear, dropout, fused};

/// Name of the layer-weight logits among a head's variables, so a trainer can give them
/// their own learning rate.
pub const LAYER_LOGITS: &str = "layer_logits";

/// How the layers of an embedding become the head's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerMix {
    /// One layer, counted from 0.
    One(usize),
    /// The mean of all layers.
    Mean,
    /// A softmax-weighted sum of all layers, the weights learned with the head.
    Weighted,
}

/// What classifies the mixed embedding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeArchitecture {
    /// One linear layer: what the embedding makes linearly separable.
    Linear,
    /// HEAR's MLP: one hidden layer with batch norm, ReLU and dropout.
    Mlp {
        /// Hidden width (1024 in HEAR).
        hidden: usize,
        /// Dropout after the hidden activation (0.1 in HEAR).
        dropout: f64,
    },
}

/// Everything that defines a probe head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeHeadConfig {
    /// Layers in the input.
    pub layers: usize,
    /// Width of each layer's embedding.
    pub dim: usize,
    /// Output classes (logits).
    pub classes: usize,
    /// How the layers are combined.
    pub mix: LayerMix,
    /// Linear or MLP.
    pub architecture: ProbeArchitecture,
    /// Dropout on the mixed input while training (0.5 for the multi-view paper's linear
    /// probes, 0 in HEAR).
    pub input_dropout: f64,
}

/// A probe head, built from a [`ProbeHeadConfig`] and a VarBuilder.
#[derive(Debug, Clone)]
pub struct ProbeHead {
    config: ProbeHeadConfig,
    /// `(1, layers)` logits of the layer weights, for [`LayerMix::Weighted`] only.
    layer_logits: Option<Tensor>,
    /// The MLP's hidden layer and its batch norm; `None` for a linear probe.
    hidden: Option<(Linear, BatchNorm)>,
    /// The final layer to class logits.
    output: Linear,
}

impl ProbeHead {
    pub fn new(config: ProbeHeadConfig, vb: VarBuilder) -> Result<Self> {
        if config.layers == 0 || config.dim == 0 || config.classes == 0 {
            candle_core::bail!("a probe needs layers, features and classes, got {config:?}");
        }
        if let LayerMix::One(layer) = config.mix
            && layer >= config.layers
        {
            candle_core::bail!(
                "layer {layer} (from 0) does not exist: the embedding has {} layers",
                config.layers
            );
        }
        // Equal weights at the start: the learned mix begins as the mean.
        let layer_logits = (config.mix == LayerMix::Weighted)
            .then(|| vb.get_with_hints((1, config.layers), LAYER_LOGITS, Init::Const(0.0)))
            .transpose()?;
        let (hidden, output) = match config.architecture {
            ProbeArchitecture::Linear => (
                None,
                Linear::new(config.dim, config.classes, vb.pp("output"))?,
            ),
            ProbeArchitecture::Mlp { hidden, .. } => (
                Some((
                    Linear::new(config.dim, hidden, vb.pp("hidden"))?,
                    BatchNorm::new(hidden, vb.pp("norm"))?,
                )),
                Linear::new(hidden, config.classes, vb.pp("output"))?,
            ),
        };
        Ok(Self {
            config,
            layer_logits,
            hidden,
            output,
        })
    }

    pub fn config(&self) -> &ProbeHeadConfig {
        &self.config
    }

    /// Class logits `(batch, classes)` for `layers` `(layers, batch, dim)`. With `training`
    /// the RNG draws the dropout masks and batch norm uses (and records) the batch's
    /// statistics; without it the head is deterministic.
    pub fn forward(&self, layers: &Tensor, training: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
        let mixed = self.mix(layers)?;
        let mut rng = training;
        let input = match rng.as_deref_mut() {
            Some(rng) => dropout(&mixed, self.config.input_dropout, rng)?,
            None => mixed,
        };
        let features = match (&self.hidden, self.config.architecture) {
            (Some((linear, norm)), ProbeArchitecture::Mlp { dropout: p, .. }) => {
                let projected = linear.forward(&input)?;
                match rng {
                    Some(rng) => dropout(&norm.forward_train(&projected)?.relu()?, p, rng)?,
                    None => norm.forward_eval(&projected)?.relu()?,
                }
            }
            _ => input,
        };
        self.output.forward(&features)
    }

    /// The weight of each layer in the mix (one for the chosen layer, equal for the mean).
    pub fn layer_weights(&self) -> Result<Vec<f32>> {
        let layers = self.config.layers;
        Ok(match (self.config.mix, &self.layer_logits) {
            (LayerMix::Weighted, Some(logits)) => fused::softmax_last_dim(logits)?
                .flatten_all()?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1()?,
            (LayerMix::One(chosen), _) => (0..layers)
                .map(|layer| if layer == chosen { 1.0 } else { 0.0 })
                .collect(),
            _ => vec![1.0 / layers as f32; layers],
        })
    }

    /// State that is not a parameter but must be saved with them: batch norm's running
    /// statistics.
    pub fn buffers(&self) -> Vec<&Var> {
        self.hidden
            .iter()
            .flat_map(|(_, norm)| norm.running_stats())
            .collect()
    }

    /// `(layers, batch, dim)` → `(batch, dim)`.
    fn mix(&self, layers: &Tensor) -> Result<Tensor> {
        let (count, _, dim) = layers.dims3()?;
        if count != self.config.layers || dim != self.config.dim {
            candle_core::bail!(
                "the probe takes {} layers of {} features, got {count} of {dim}",
                self.config.layers,
                self.config.dim
            );
        }
        match (self.config.mix, &self.layer_logits) {
            (LayerMix::One(layer), _) => layers.get(layer),
            (LayerMix::Weighted, Some(logits)) => {
                let weights = fused::softmax_last_dim(logits)?.reshape((count, 1, 1))?;
                layers.broadcast_mul(&weights)?.sum(0)
            }
            _ => layers.mean(0),
        }
    }
}
