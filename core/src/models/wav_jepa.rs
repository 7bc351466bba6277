//! WavJEPA and WavJEPA-Nat: JEPA on raw waveforms (../shared/papers/wavjepa-*.txt).
//!
//! A wav2vec2 feature encoder turns each (instance-normalised) waveform into 100 Hz frames;
//! a ViT context encoder sees the context frames; its EMA copy, the target encoder, sees
//! all frames, and the instance-normalised average of its top-K layers is the target; a
//! narrow predictor runs once per target block. WavJEPA-Nat (`ears = 2`) has one waveform
//! encoder per ear, 2D sin-cos positions over (ear × time) and the same time mask for both
//! ears.

use candle_core::{Device, Module, Result, Tensor, bail};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, load_model};
use crate::masking::{BatchMasks, WavBlocksConfig};
use crate::nn::{
    ConvFeatureEncoder, ConvFeatureEncoderConfig, LayerNorm, Linear, Transformer,
    TransformerConfig, TransformerOutput, fused, instance_norm_time, sincos_1d, sincos_2d,
};

use super::encoder::Encoder;
use super::jepa_loss::JepaLoss;
use super::predictor::{Prediction, Predictor};
use super::tokens::gather_tokens;

/// Everything that defines a WavJEPA model; read from TOML, stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WavJepaConfig {
    /// Input sample rate in Hz.
    pub sample_rate: u32,
    /// Samples per training clip (2 s in the paper).
    pub clip_samples: usize,
    /// 1 for WavJEPA, 2 for WavJEPA-Nat (left and right ear).
    pub ears: usize,
    /// The waveform encoder.
    pub feature_encoder: ConvFeatureEncoderConfig,
    /// Context and target encoder.
    pub encoder: TransformerConfig,
    /// The narrow predictor.
    pub predictor: TransformerConfig,
    /// Target = average of this many top target-encoder layers (K of the paper).
    pub top_k: usize,
    /// How context and targets are drawn over the frames.
    pub masking: WavBlocksConfig,
}

impl Default for WavJepaConfig {
    /// WavJEPA-Tiny: 2-s clips at 16 kHz (199 frames), a 128-channel feature encoder, a
    /// 192-wide encoder of 6 blocks averaged over the top 4, a 96-wide predictor of 4.
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            clip_samples: 32_000,
            ears: 1,
            feature_encoder: ConvFeatureEncoderConfig::default(),
            encoder: TransformerConfig {
                dim: 192,
                depth: 6,
                heads: 3,
                mlp_ratio: 4,
            },
            predictor: TransformerConfig {
                dim: 96,
                depth: 4,
                heads: 3,
                mlp_ratio: 4,
            },
            top_k: 4,
            masking: WavBlocksConfig::default(),
        }
    }
}

impl WavJepaConfig {
    /// Frames per ear of one clip.
    pub fn frames(&self) -> usize {
        self.feature_encoder.frames(self.clip_samples)
    }

    /// Rejects shapes that cannot work.
    pub fn validate(&self) -> Result<()> {
        if !(1..=2).contains(&self.ears) {
            candle_core::bail!(
                "ears must be 1 (WavJEPA) or 2 (WavJEPA-Nat), got {}",
                self.ears
            );
        }
        if self.frames() < self.masking.context_len.max(self.masking.target_len) {
            candle_core::bail!(
                "a clip of {} samples gives only {} frames",
                self.clip_samples,
                self.frames()
            );
        }
        if self.top_k == 0 || self.top_k > self.encoder.depth {
            candle_core::bail!(
                "top_k must be between 1 and the encoder depth {}, got {}",
                self.encoder.depth,
                self.top_k
            );
        }
        self.encoder.validate("encoder")?;
        self.predictor.validate("predictor")
    }

    /// Positions of every token, `(ears · frames, dim)`, index `ear · frames + t`.
    fn positions(&self, dim: usize, device: &Device) -> Result<Tensor> {
        match self.ears {
            1 => sincos_1d(self.frames(), dim, device),
            _ => sincos_2d(self.ears, self.frames(), dim, device),
        }
    }
}

/// Waveform → frames → encoder width: the conv stack, then wav2vec2's feature projection
/// (LayerNorm + linear).
#[derive(Debug, Clone)]
struct WaveformEncoder {
    conv: ConvFeatureEncoder,
    norm: LayerNorm,
    proj: Linear,
}

impl WaveformEncoder {
    fn new(config: &WavJepaConfig, vb: VarBuilder) -> Result<Self> {
        let channels = config.feature_encoder.channels;
        Ok(Self {
            conv: ConvFeatureEncoder::new(&config.feature_encoder, vb.pp("conv"))?,
            norm: LayerNorm::new(channels, vb.pp("norm"))?,
            proj: Linear::new(channels, config.encoder.dim, vb.pp("proj"))?,
        })
    }

    /// `(batch, samples)` → `(batch, frames, dim)`; each waveform is instance-normalised
    /// first, as in the paper.
    fn forward(&self, waveform: &Tensor) -> Result<Tensor> {
        let normalised = fused::normalize_last_dim(waveform, 1e-5)?;
        self.proj
            .forward(&self.norm.forward(&self.conv.forward(&normalised)?)?)
    }
}

/// Waveform encoder(s) + ViT: one of them is the context encoder, one the target encoder.
#[derive(Debug, Clone)]
pub struct WaveformTransformer {
    /// One per ear.
    waveform: Vec<WaveformEncoder>,
    transformer: Transformer,
    positions: Tensor,
}

impl WaveformTransformer {
    fn new(config: &WavJepaConfig, vb: VarBuilder) -> Result<Self> {
        let waveform = (0..config.ears)
            .map(|ear| WaveformEncoder::new(config, vb.pp(format!("waveform.{ear}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            waveform,
            transformer: Transformer::new(&config.encoder, vb.pp("transformer"))?,
            positions: config
                .positions(config.encoder.dim, vb.device())?
                .to_dtype(vb.dtype())?,
        })
    }

    /// `(batch, ears, samples)` → all layers; with `keep`, only those tokens enter.
    pub fn forward(
        &self,
        audio: &Tensor,
        keep: Option<&[Vec<usize>]>,
    ) -> Result<TransformerOutput> {
        let per_ear = self
            .waveform
            .iter()
            .enumerate()
            .map(|(ear, encoder)| encoder.forward(&audio.narrow(1, ear, 1)?.squeeze(1)?))
            .collect::<Result<Vec<_>>>()?;
        let tokens = Tensor::cat(&per_ear, 1)?.broadcast_add(&self.positions)?;
        let tokens = match keep {
            Some(indices) => gather_tokens(&tokens, indices)?,
            None => tokens,
        };
        self.transformer.forward(&tokens, false)
    }
}

/// The networks of WavJEPA / WavJEPA-Nat.
#[derive(Debug)]
pub struct WavJepa {
    config: WavJepaConfig,
    /// Trained by gradient descent on the context frames.
    context: WaveformTransformer,
    /// EMA of `context`: makes targets; the encoder used downstream.
    target: WaveformTransformer,
    predictor: Predictor,
    predictor_positions: Tensor,
}

impl WavJepa {
    /// The checkpoint kind: `wav-jepa`, or `wav-jepa-nat` for two ears.
    pub fn kind(ears: usize) -> &'static str {
        if ears == 2 {
            "wav-jepa-nat"
        } else {
            "wav-jepa"
        }
    }

    /// Loads a WavJEPA (`ears = 1`) or WavJEPA-Nat (`ears = 2`) written by `tessera
    /// pretrain`, in f32.
    pub fn load(
        path: &std::path::Path,
        ears: usize,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        load_model(path, Self::kind(ears), device, Self::new)
    }

    /// `trainable`: context encoder and predictor; `target`: the EMA encoder, named like
    /// the context encoder.
    pub fn new(config: WavJepaConfig, trainable: VarBuilder, target: VarBuilder) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            context: WaveformTransformer::new(&config, trainable.pp("encoder"))?,
            target: WaveformTransformer::new(&config, target.pp("encoder"))?,
            predictor: Predictor::new(
                config.encoder.dim,
                &config.predictor,
                trainable.pp("predictor"),
            )?,
            predictor_positions: config
                .positions(config.predictor.dim, trainable.device())?
                .to_dtype(trainable.dtype())?,
            config,
        })
    }

    pub fn config(&self) -> &WavJepaConfig {
        &self.config
    }

    /// Masks drawn over one ear's frames, applied to every ear: token `ear · frames + t`.
    pub fn expand_to_ears(&self, masks: &BatchMasks) -> BatchMasks {
        let frames = self.config.frames();
        let ears = self.config.ears;
        let expand = |indices: &Vec<usize>| -> Vec<usize> {
            (0..ears)
                .flat_map(|ear| indices.iter().map(move |&t| ear * frames + t))
                .collect()
        };
        BatchMasks {
            context: masks.context.iter().map(expand).collect(),
            targets: masks
                .targets
                .iter()
                .map(|blocks| blocks.iter().map(expand).collect())
                .collect(),
        }
    }

    /// Instance-normalised mean of the top-K target-encoder layers `(batch, tokens, dim)`.
    fn targets(&self, audio: &Tensor) -> Result<Tensor> {
        let out = self.target.forward(audio, None)?;
        let top = &out.layers[out.layers.len() - self.config.top_k..];
        let normalised = top
            .iter()
            .map(|layer| instance_norm_time(&layer.detach()))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&normalised, 0)?.mean(0)
    }

    /// Predictions for every target block; `masks` index tokens (already expanded to ears).
    pub fn predict(
        &self,
        audio: &Tensor,
        masks: &BatchMasks,
        keep_attention: bool,
    ) -> Result<Prediction> {
        let context = self.context.forward(audio, Some(&masks.context))?.output;
        self.predictor
            .forward(&context, &self.predictor_positions, masks, keep_attention)
    }

    /// The objective on `(batch, ears, clip_samples)` audio with masks over one ear's frames.
    pub fn loss(&self, audio: &Tensor, masks: &BatchMasks) -> Result<JepaLoss> {
        let masks = self.expand_to_ears(masks);
        let targets = self.targets(audio)?;
        JepaLoss::between(
            &targets,
            &self.predict(audio, &masks, false)?.latents,
            &masks,
        )
    }
}

impl Encoder for WavJepa {
    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    /// Per target-encoder layer, one row per 10-ms frame, row `r` starting at sample
    /// `r · hop`; for WavJEPA-Nat the mono input goes to both ears.
    fn embed(&self, audio: &[f32]) -> Result<Vec<Tensor>> {
        self.embed_channels(&vec![audio; self.config.ears])
    }

    fn channels(&self) -> usize {
        self.config.ears
    }

    /// As [`Self::embed`], one channel per ear; the ears' tokens of a frame are averaged.
    fn embed_channels(&self, channels: &[&[f32]]) -> Result<Vec<Tensor>> {
        let device = self.predictor_positions.device();
        let (clip_samples, frames, ears) = (
            self.config.clip_samples,
            self.config.frames(),
            self.config.ears,
        );
        let samples = channels.first().map_or(0, |c| c.len());
        if channels.len() != ears || channels.iter().any(|c| c.len() != samples) {
            bail!(
                "the encoder hears {ears} equally long channels, got lengths {:?}",
                channels.iter().map(|c| c.len()).collect::<Vec<_>>()
            );
        }
        let hop = self.config.feature_encoder.hop();
        // A clip yields fewer frames than it spans hops (valid convolutions), so clips
        // advance by the frames they yield and each reads on into the next step for its
        // last frames' receptive field; rows stay on the time grid from clip to clip.
        let step = frames * hop;
        let mut per_layer: Vec<Vec<Tensor>> = vec![Vec::new(); self.config.encoder.depth];
        for start in (0..samples.max(1)).step_by(step) {
            let end = (start + clip_samples).min(samples);
            let mut clips = vec![0f32; ears * clip_samples];
            for (clip, channel) in clips.chunks_mut(clip_samples).zip(channels) {
                clip[..end - start].copy_from_slice(&channel[start..end]);
            }
            let input = Tensor::from_vec(clips, (1, ears, clip_samples), device)?;
            let out = self.target.forward(&input, None)?;
            let kept = (samples.min(start + step) - start)
                .div_ceil(hop)
                .clamp(1, frames);
            for (layer, latents) in per_layer.iter_mut().zip(&out.layers) {
                let dim = latents.dim(2)?;
                layer.push(
                    latents
                        .reshape((ears, frames, dim))?
                        .mean(0)?
                        .narrow(0, 0, kept)?,
                );
            }
        }
        per_layer
            .iter()
            .map(|clips| Tensor::cat(clips, 0))
            .collect()
    }
}
