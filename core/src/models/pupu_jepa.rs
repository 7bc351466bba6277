//! PupuJEPA: I-JEPA on log-mel patches with frequency-aware positions
//! (../shared/papers/pupujepa-*.txt).
//!
//! A ViT context encoder sees the unmasked patches; an EMA copy of it (the target encoder)
//! sees all patches; a narrow predictor with mask tokens predicts the target encoder's
//! (layer-normalised) latents of each masked block; the loss is their mean squared error.
//! Frequency and time positions are embedded separately (2D sin-cos, half the features
//! each), so the model knows which band a patch is in, not just its place in a sequence.

use std::ops::Range;

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointError, build_model, load_model};
use crate::dsp::mel::{LogMel, MelConfig};
use crate::dsp::spectrogram::{DbReference, DbScaling};
use crate::masking::{BatchMasks, MultiBlockConfig, TokenGrid};
use crate::nn::{PatchEmbed, Transformer, TransformerConfig, TransformerOutput, fused, sincos_2d};

use super::encoder::Encoder;
use super::jepa_loss::JepaLoss;
use super::predictor::{Prediction, Predictor};
use super::tokens::gather_tokens;

/// Everything that defines a PupuJEPA model; read from TOML, stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PupuJepaConfig {
    /// The log-mel front end (16 kHz, 128 mels, 10 ms hop by default).
    pub mel: MelConfig,
    /// Frames per clip; a multiple of `patch_time`.
    pub clip_frames: usize,
    /// Patch height in mel bins; divides `mel.n_mels`.
    pub patch_freq: usize,
    /// Patch width in frames.
    pub patch_time: usize,
    /// Context and target encoder.
    pub encoder: TransformerConfig,
    /// The narrow predictor.
    pub predictor: TransformerConfig,
    /// How context and targets are drawn.
    pub masking: MultiBlockConfig,
}

impl Default for PupuJepaConfig {
    /// PupuJEPA-Tiny as shipped: 2.56-s clips, 16 × 16 patches (8 × 16 tokens), a
    /// 192-wide encoder of 8 blocks and a 96-wide predictor of 4.
    fn default() -> Self {
        Self {
            mel: MelConfig::default(),
            clip_frames: 256,
            patch_freq: 16,
            patch_time: 16,
            encoder: TransformerConfig {
                dim: 192,
                depth: 8,
                heads: 3,
                mlp_ratio: 4,
            },
            predictor: TransformerConfig {
                dim: 96,
                depth: 4,
                heads: 3,
                mlp_ratio: 4,
            },
            masking: MultiBlockConfig::default(),
        }
    }
}

impl PupuJepaConfig {
    /// The token grid of one clip.
    pub fn grid(&self) -> TokenGrid {
        TokenGrid::new(
            self.mel.n_mels / self.patch_freq,
            self.clip_frames / self.patch_time,
        )
    }

    /// Samples of audio that make exactly one clip of `clip_frames` frames.
    pub fn clip_samples(&self) -> usize {
        (self.clip_frames - 1) * self.mel.hop_length
    }

    /// Rejects shapes that do not tile or do not fit the heads.
    pub fn validate(&self) -> Result<()> {
        let tiles = self.patch_freq > 0
            && self.patch_time > 0
            && self.mel.n_mels.is_multiple_of(self.patch_freq)
            && self.clip_frames.is_multiple_of(self.patch_time)
            && self.clip_frames > 1;
        if !tiles {
            candle_core::bail!(
                "{} mels × {} frames do not tile into {} × {} patches",
                self.mel.n_mels,
                self.clip_frames,
                self.patch_freq,
                self.patch_time
            );
        }
        self.encoder.validate("encoder")?;
        self.predictor.validate("predictor")
    }
}

/// A ViT over log-mel patches with 2D sin-cos positions.
#[derive(Debug, Clone)]
pub struct SpectrogramEncoder {
    patch_embed: PatchEmbed,
    transformer: Transformer,
    /// `(tokens, dim)` fixed positions of the whole grid.
    positions: Tensor,
}

impl SpectrogramEncoder {
    fn new(config: &PupuJepaConfig, vb: VarBuilder) -> Result<Self> {
        let grid = config.grid();
        let dim = config.encoder.dim;
        Ok(Self {
            patch_embed: PatchEmbed::new(
                config.patch_freq,
                config.patch_time,
                dim,
                vb.pp("patch_embed"),
            )?,
            transformer: Transformer::new(&config.encoder, vb.pp("transformer"))?,
            positions: sincos_2d(grid.freq, grid.time, dim, vb.device())?.to_dtype(vb.dtype())?,
        })
    }

    /// `(batch, mels, frames)` → all layers; with `keep`, only those tokens per sample
    /// enter the transformer (the context encoder's view).
    pub fn forward(&self, mel: &Tensor, keep: Option<&[Vec<usize>]>) -> Result<TransformerOutput> {
        let tokens = self
            .patch_embed
            .forward(mel)?
            .broadcast_add(&self.positions)?;
        let tokens = match keep {
            Some(indices) => gather_tokens(&tokens, indices)?,
            None => tokens,
        };
        self.transformer.forward(&tokens, false)
    }
}

/// The three networks of PupuJEPA.
#[derive(Debug)]
pub struct PupuJepa {
    config: PupuJepaConfig,
    /// Trained by gradient descent on the visible patches.
    context: SpectrogramEncoder,
    /// EMA of `context`; produces the targets and is the encoder used downstream.
    target: SpectrogramEncoder,
    /// Predicts masked latents; its attention is the plugin's heatmap.
    predictor: Predictor,
    /// `(tokens, predictor_dim)` positions for the predictor.
    predictor_positions: Tensor,
    /// The log-mel front end of [`Encoder::embed`] and the plugin.
    log_mel: LogMel,
}

impl PupuJepa {
    /// The checkpoint kind of PupuJEPA files.
    pub const KIND: &'static str = "pupu-jepa";

    /// Loads a PupuJEPA written by `tessera pretrain` (e.g. the shipped
    /// `assets/pupu-jepa-tiny/model-f16.safetensors`), in f32.
    pub fn load(
        path: &std::path::Path,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        load_model(path, Self::KIND, device, Self::new)
    }

    /// Loads a PupuJEPA file held in memory (the model embedded in the plugin); `name`
    /// stands for it in errors.
    pub fn load_bytes(
        bytes: &[u8],
        name: &std::path::Path,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        let saved = checkpoint::load_bytes(bytes, name, Self::KIND, device)?;
        build_model(&saved, device, Self::new)
    }

    /// `trainable` holds the context encoder and predictor; `target` the EMA encoder under
    /// the same names as the context encoder (so EMA pairs match by name).
    pub fn new(config: PupuJepaConfig, trainable: VarBuilder, target: VarBuilder) -> Result<Self> {
        config.validate()?;
        let grid = config.grid();
        let log_mel = LogMel::new(
            &config.mel,
            DbScaling {
                reference: DbReference::Max,
                amin: 1e-10,
                top_db: Some(80.0),
            },
        )
        .map_err(candle_core::Error::wrap)?;
        Ok(Self {
            context: SpectrogramEncoder::new(&config, trainable.pp("encoder"))?,
            target: SpectrogramEncoder::new(&config, target.pp("encoder"))?,
            predictor: Predictor::new(
                config.encoder.dim,
                &config.predictor,
                trainable.pp("predictor"),
            )?,
            predictor_positions: sincos_2d(
                grid.freq,
                grid.time,
                config.predictor.dim,
                trainable.device(),
            )?
            .to_dtype(trainable.dtype())?,
            log_mel,
            config,
        })
    }

    pub fn config(&self) -> &PupuJepaConfig {
        &self.config
    }

    /// Log-mel input of one clip: `(mels, clip_frames)`, dB relative to the clip's peak,
    /// floored 80 dB below it and scaled to about [-1, 1] (gain-invariant). Audio shorter
    /// than a clip is zero-padded; longer audio is cut.
    pub fn clip_input(&self, audio: &[f32], device: &Device) -> Result<Tensor> {
        let mut clip = vec![0f32; self.config.clip_samples()];
        let n = audio.len().min(clip.len());
        clip[..n].copy_from_slice(&audio[..n]);
        let mel = self
            .log_mel
            .compute(&clip)
            .map_err(candle_core::Error::wrap)?;
        let (mels, frames) = mel.dim();
        let values: Vec<f32> = mel.iter().map(|db| (db + 40.0) / 40.0).collect();
        Tensor::from_vec(values, (mels, frames), device)?.narrow(1, 0, self.config.clip_frames)
    }

    /// Layer-normalised target latents of every token `(batch, tokens, dim)` (no gradient).
    fn targets(&self, mel: &Tensor) -> Result<Tensor> {
        let out = self.target.forward(mel, None)?.output.detach();
        fused::normalize_last_dim(&out, 1e-6)
    }

    /// The predictor's output for every target block of `masks`.
    pub fn predict(
        &self,
        mel: &Tensor,
        masks: &BatchMasks,
        keep_attention: bool,
    ) -> Result<Prediction> {
        let context = self.context.forward(mel, Some(&masks.context))?.output;
        self.predictor
            .forward(&context, &self.predictor_positions, masks, keep_attention)
    }

    /// Where the predictor looks to predict one masked region: the attention its mask
    /// tokens for `freq × time` (patch ranges) pay to every patch, averaged over the
    /// region's queries. Returns `(layers, heads, freq_patches, time_patches)` for one clip
    /// `(1, mels, frames)`; each layer's and head's map sums to 1 — the context patches
    /// hold what the prediction draws from the visible spectrogram, the region's own cells
    /// what the mask tokens exchange among themselves. This is the heatmap of the PupuJEPA
    /// case study.
    pub fn region_attention(
        &self,
        mel: &Tensor,
        freq: Range<usize>,
        time: Range<usize>,
    ) -> Result<Tensor> {
        let grid = self.config.grid();
        let region_ok =
            !freq.is_empty() && !time.is_empty() && freq.end <= grid.freq && time.end <= grid.time;
        if !region_ok || freq.len() * time.len() == grid.len() {
            candle_core::bail!(
                "the region {freq:?} × {time:?} must be a non-empty part of the {} × {} patch grid, leaving some context",
                grid.freq,
                grid.time
            );
        }
        let inside = |index: usize| {
            freq.contains(&(index / grid.time)) && time.contains(&(index % grid.time))
        };
        let (target, context): (Vec<usize>, Vec<usize>) = (0..grid.len()).partition(|&i| inside(i));
        // Keys come context first, then the region's mask tokens.
        let key_tokens: Vec<usize> = context.iter().chain(&target).copied().collect();
        let masks = BatchMasks {
            context: vec![context.clone()],
            targets: vec![vec![target]],
        };
        let prediction = self.predict(mel, &masks, true)?;
        let context_len = context.len();
        let maps = prediction
            .attention
            .iter()
            .map(|weights| {
                // (1, heads, queries, keys): the mask tokens' rows, averaged.
                let per_head = weights
                    .get(0)?
                    .narrow(1, context_len, weights.dim(2)? - context_len)?
                    .mean(1)?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec2::<f32>()?;
                let heads = per_head.len();
                let mut grid_map = vec![0f32; heads * grid.len()];
                for (h, row) in per_head.iter().enumerate() {
                    for (&token, &weight) in key_tokens.iter().zip(row) {
                        grid_map[h * grid.len() + token] = weight;
                    }
                }
                Tensor::from_vec(grid_map, (heads, grid.freq, grid.time), mel.device())
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&maps, 0)
    }

    /// The JEPA objective on a batch of log-mel clips `(batch, mels, frames)`.
    pub fn loss(&self, mel: &Tensor, masks: &BatchMasks) -> Result<JepaLoss> {
        let targets = self.targets(mel)?;
        JepaLoss::between(&targets, &self.predict(mel, masks, false)?.latents, masks)
    }
}

impl Encoder for PupuJepa {
    fn sample_rate(&self) -> u32 {
        self.config.mel.sample_rate
    }

    /// Per layer of the target encoder: one row per patch column (time step of
    /// `patch_time` frames) that holds audio, the mean over the frequency patches of that
    /// column. Row `r` starts at sample `r · hop_length · patch_time`, however many clips
    /// the audio spans.
    fn embed(&self, audio: &[f32]) -> Result<Vec<Tensor>> {
        let device = self.predictor_positions.device();
        let grid = self.config.grid();
        let column = self.config.mel.hop_length * self.config.patch_time;
        // Clips advance by whole columns (`clip_frames` hops, one more than `clip_samples`
        // spans), so rows stay on the time grid from clip to clip.
        let step = grid.time * column;
        let mut per_layer: Vec<Vec<Tensor>> = vec![Vec::new(); self.config.encoder.depth];
        for start in (0..audio.len().max(1)).step_by(step) {
            let end = (start + step).min(audio.len());
            let mel = self.clip_input(&audio[start..end], device)?.unsqueeze(0)?;
            let out = self.target.forward(&mel, None)?;
            // Only the columns that hold audio; a padded tail would dilute the clip.
            let columns = (end - start).div_ceil(column).clamp(1, grid.time);
            for (layer, latents) in per_layer.iter_mut().zip(&out.layers) {
                let dim = latents.dim(2)?;
                let frames = latents
                    .reshape((grid.freq, grid.time, dim))?
                    .mean(0)?
                    .narrow(0, 0, columns)?;
                layer.push(frames);
            }
        }
        per_layer
            .iter()
            .map(|clips| Tensor::cat(clips, 0))
            .collect()
    }
}
