//! PaC-HuBERT (../shared/papers/pac-hubert-*.txt, section 2.4): masked unit prediction over
//! the separator's encoder and transformer bottleneck. Spans of bottleneck tokens are
//! replaced by a learned mask embedding; the bottleneck's output is projected, and its
//! cosine similarity (scaled by τ = 10) to a learned embedding per k-means cluster gives the
//! logits of a cross-entropy against each masked token's cluster (eq. 1). The labels come
//! from k-means of the 48-dim primitive features of the token's patch (first iteration) or
//! of a bottleneck layer of a first PaC-HuBERT (the second iteration, 2SSL).
//!
//! The encoder is stored under `encoder.`, the names the separator uses, so a pretrained
//! model initialises a separator by name (`tessera finetune separator --init`).

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::separator::{
    CHANNELS, FrontEnd, SeparatorConfig, SeparatorEncoder, SpectraBatch, TokenMask,
};
use crate::masking::SpanMaskConfig;
use crate::nn::{INIT_STD, Linear};

/// Everything that defines a PaC-HuBERT model; read from TOML, stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacHubertConfig {
    /// The separator whose encoder and bottleneck are pretrained (its decoder is not built).
    pub separator: SeparatorConfig,
    /// K-means clusters the labels are drawn from (960 in the paper, fitted on 890 hours).
    pub clusters: usize,
    /// Width E of the projected tokens and of the cluster embeddings (HuBERT's 256).
    pub projection_dim: usize,
    /// τ, the scale of the cosine logits (10 in the paper).
    pub logit_scale: f64,
    /// Span masking along the token grid's time axis; a masked time step hides every
    /// frequency token of it, so a token's own frequency neighbours cannot give it away.
    pub masking: SpanMaskConfig,
}

impl Default for PacHubertConfig {
    /// Pretrains Separator-Tiny's encoder. Its chunks hold 8 token steps, too few for
    /// HuBERT's 10-step spans: spans of 2 steps start at a fifth of the steps (about 35 % of
    /// the tokens masked, HuBERT masks about half).
    fn default() -> Self {
        Self {
            separator: SeparatorConfig::default(),
            clusters: 256,
            projection_dim: 128,
            logit_scale: 10.0,
            masking: SpanMaskConfig {
                start_prob: 0.2,
                span_len: 2,
                min_spans: 1,
            },
        }
    }
}

/// The masked-unit objective of one batch.
pub struct MaskedUnitLoss {
    /// Mean cross-entropy over the masked tokens (a scalar to differentiate).
    pub loss: Tensor,
    /// Share of masked tokens whose most likely cluster is their label.
    pub accuracy: f64,
    /// Masked tokens in the batch.
    pub masked_tokens: usize,
}

/// The PaC-HuBERT network.
#[derive(Debug)]
pub struct PacHubert {
    config: PacHubertConfig,
    /// The analysis of the audio chunks (the separator's).
    front_end: FrontEnd,
    /// The separator's encoder and bottleneck: what pretraining is for.
    encoder: SeparatorEncoder,
    /// `(C_b)`: what a masked token becomes before the bottleneck.
    mask_embedding: Tensor,
    /// Bottleneck output → class feature `o` (eq. 1).
    projection: Linear,
    /// `(K, E)`: the learned embedding `e_c` of every cluster.
    cluster_embeddings: Tensor,
}

impl PacHubert {
    /// The checkpoint kind of PaC-HuBERT runs.
    pub const KIND: &'static str = "pac-hubert";

    /// Loads a model written by `tessera pretrain pac-hubert` (its `model.safetensors` or a
    /// checkpoint), in f32.
    pub fn load(
        path: &std::path::Path,
        device: &Device,
    ) -> std::result::Result<Self, crate::checkpoint::CheckpointError> {
        crate::checkpoint::load_model(path, Self::KIND, device, |config, vb, _| {
            Self::new(config, vb)
        })
    }

    pub fn new(config: PacHubertConfig, vb: VarBuilder) -> Result<Self> {
        config
            .masking
            .validate()
            .map_err(candle_core::Error::wrap)?;
        if config.clusters < 2 || config.projection_dim == 0 || config.logit_scale <= 0.0 {
            candle_core::bail!(
                "pac-hubert: needs at least 2 clusters, a projection and a positive logit scale"
            );
        }
        let dim = config.separator.bottleneck.dim;
        let random = Init::Randn {
            mean: 0.0,
            stdev: INIT_STD,
        };
        Ok(Self {
            front_end: FrontEnd::new(&config.separator)?,
            encoder: SeparatorEncoder::new(&config.separator, vb.pp("encoder"))?,
            mask_embedding: vb.get_with_hints(dim, "mask_embedding", random)?,
            projection: Linear::new(dim, config.projection_dim, vb.pp("projection"))?,
            cluster_embeddings: vb.get_with_hints(
                (config.clusters, config.projection_dim),
                "cluster_embeddings",
                random,
            )?,
            config,
        })
    }

    pub fn config(&self) -> &PacHubertConfig {
        &self.config
    }

    /// Tokens per chunk, time-major: `(time steps, frequency patches)`.
    pub fn token_grid(&self) -> (usize, usize) {
        self.config.separator.token_grid()
    }

    /// The network's input for stereo chunks, each `chunk_samples` long.
    pub fn spectra<C: AsRef<[f32]>>(
        &self,
        chunks: &[[C; CHANNELS]],
        device: &Device,
    ) -> Result<SpectraBatch> {
        self.front_end.spectra(chunks, device)
    }

    /// Draws one mask per chunk over its tokens, time-major (`true` = masked): spans over the
    /// time steps, each hiding all frequency tokens of its steps.
    pub fn sample_masks(&self, batch: usize, rng: &mut impl Rng) -> Result<Vec<Vec<bool>>> {
        let (steps, freqs) = self.token_grid();
        (0..batch)
            .map(|_| {
                let time = self
                    .config
                    .masking
                    .sample(steps, rng)
                    .map_err(candle_core::Error::wrap)?;
                Ok(time
                    .iter()
                    .flat_map(|&m| std::iter::repeat_n(m, freqs))
                    .collect())
            })
            .collect()
    }

    /// The masked-unit loss of a batch: per-bin `features` `(batch, frames, bins, 3)`, one
    /// mask per chunk from [`Self::sample_masks`], and the cluster of every token, chunk by
    /// chunk, time-major.
    pub fn loss(
        &self,
        features: &Tensor,
        masks: &[Vec<bool>],
        labels: &[u32],
    ) -> Result<MaskedUnitLoss> {
        let (steps, freqs) = self.token_grid();
        let (batch, tokens) = (masks.len(), steps * freqs);
        if masks.iter().any(|m| m.len() != tokens) || labels.len() != batch * tokens {
            candle_core::bail!(
                "pac-hubert: {batch} chunks of {tokens} tokens need as many mask entries and \
                 labels, got {} labels",
                labels.len()
            );
        }
        if let Some(&label) = labels.iter().find(|&&l| l as usize >= self.config.clusters) {
            candle_core::bail!(
                "pac-hubert: label {label} is not below the model's {} clusters",
                self.config.clusters
            );
        }
        let device = features.device();
        let dtype = features.dtype();
        let flags: Vec<f32> = masks.iter().flatten().map(|&m| f32::from(m)).collect();
        let masked = Tensor::from_vec(flags, (batch, tokens, 1), device)?.to_dtype(dtype)?;
        let encoded = self.encoder.forward_masked(
            features,
            Some(TokenMask {
                masked: &masked,
                embedding: &self.mask_embedding,
            }),
        )?;
        let projected = self
            .projection
            .forward(&encoded.bottleneck.output)?
            .reshape((batch * tokens, self.config.projection_dim))?;
        let logits = cosine_logits(
            &projected,
            &self.cluster_embeddings,
            self.config.logit_scale,
        )?;
        masked_unit_loss(&logits, labels, &masked.flatten_all()?)
    }

    /// Every bottleneck block's output `(batch, tokens, C_b)` for unmasked input: what the
    /// second iteration clusters.
    pub fn layer_outputs(&self, features: &Tensor) -> Result<Vec<Tensor>> {
        Ok(self.encoder.forward(features)?.bottleneck.layers)
    }
}

/// `τ · cos(o_t, e_c)` for every row `o_t` of `projected` `(tokens, E)` and every cluster
/// embedding `e_c` of `clusters` `(K, E)`: `(tokens, K)`.
pub fn cosine_logits(projected: &Tensor, clusters: &Tensor, scale: f64) -> Result<Tensor> {
    let unit = |x: &Tensor| -> Result<Tensor> {
        let norm = x
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .affine(1.0, 1e-12)?
            .sqrt()?;
        x.broadcast_div(&norm)
    };
    (unit(projected)?.matmul(&unit(clusters)?.t()?)? * scale)?.contiguous()
}

/// Eq. (1) as a cross-entropy: the mean over tokens with `masked` 1 of
/// `logsumexp(logits_t) − logits_t[label_t]`, and the accuracy of the arg-max over them.
/// The logits are bounded by τ, so the log-sum-exp needs no max shift.
pub fn masked_unit_loss(
    logits: &Tensor,
    labels: &[u32],
    masked: &Tensor,
) -> Result<MaskedUnitLoss> {
    let (tokens, clusters) = logits.dims2()?;
    let weights = masked.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let masked_tokens = weights.iter().filter(|&&w| w > 0.0).count();
    if masked_tokens == 0 {
        candle_core::bail!("pac-hubert: no token is masked, so there is nothing to predict");
    }
    let mut one_hot = vec![0f32; tokens * clusters];
    for (t, &label) in labels.iter().enumerate() {
        one_hot[t * clusters + label as usize] = 1.0;
    }
    let one_hot =
        Tensor::from_vec(one_hot, (tokens, clusters), logits.device())?.to_dtype(logits.dtype())?;
    let log_sum_exp = logits.exp()?.sum(1)?.log()?;
    let picked = (logits * &one_hot)?.sum(1)?;
    let cross_entropy = (log_sum_exp - picked)?;
    let loss = ((cross_entropy * masked)?.sum_all()? / masked_tokens as f64)?;
    let predicted = logits.argmax(1)?.to_vec1::<u32>()?;
    let correct = predicted
        .iter()
        .zip(labels)
        .zip(&weights)
        .filter(|((p, l), w)| p == l && **w > 0.0)
        .count();
    Ok(MaskedUnitLoss {
        loss,
        accuracy: correct as f64 / masked_tokens as f64,
        masked_tokens,
    })
}
