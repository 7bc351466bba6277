//! The TF-domain stem separator of ../shared/papers/pac-hubert-*.txt (§2, after Res-U-Net):
//! an encoder of 2D downsampling blocks on the stereo STFT, a transformer bottleneck over the
//! `(T/P_t × F/P_f)` tokens, and a mirrored decoder with skip connections that produces one
//! mask per stem, channel and bin, applied to the mixture's complex STFT.
//!
//! Every layer is matmul-shaped, because candle's CPU convolutions are slow and their
//! backward unreliable (DESIGN.md): a downsampling block merges `time × freq` neighbouring
//! positions into one token through a linear layer (a convolution whose kernel equals its
//! stride), an upsampling block is its transpose (a linear layer, then depth-to-space).
//! The masks are a softmax over the four stems, so the stems always sum to the mixture.

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointError, build_model, load_model};
use crate::dsp::stft::{Stft, StftConfig};
use crate::nn::{
    LayerNorm, Linear, Transformer, TransformerConfig, TransformerOutput, fused, sincos_2d,
};

/// The stems, in the order of every stem axis.
pub const STEMS: [&str; 4] = ["vocals", "drums", "bass", "other"];

/// Audio channels the separator reads and writes (mono input is upmixed by the caller).
pub const CHANNELS: usize = 2;

/// Features per time–frequency bin: log-magnitude of the left and right channel, and the
/// bin's place on the frequency axis (the merging layers are shift-invariant, so without it
/// the encoder could not tell a bass note from a hi-hat of the same shape).
const BIN_FEATURES: usize = 3;

/// One downsampling block: how many frames and bins merge into one position, and the width
/// after merging.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageConfig {
    /// Frames merged.
    pub time: usize,
    /// Bins merged.
    pub freq: usize,
    /// Channels after the merge.
    pub channels: usize,
}

impl StageConfig {
    /// A block merging `time × freq` positions into `channels` channels.
    pub const fn new(time: usize, freq: usize, channels: usize) -> Self {
        Self {
            time,
            freq,
            channels,
        }
    }
}

/// Everything that defines a separator; read from TOML, stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeparatorConfig {
    /// The rate the model separates at; other rates are resampled by `core::separation`.
    pub sample_rate: u32,
    /// STFT frame length; the model sees its lower `n_fft / 2` bins (the Nyquist bin takes
    /// the mask of the bin below it).
    pub n_fft: usize,
    /// STFT hop.
    pub hop: usize,
    /// Frames per chunk the network sees at once; a multiple of the stages' time factors.
    pub chunk_frames: usize,
    /// The downsampling blocks, outermost first; the last width is the bottleneck's.
    pub stages: Vec<StageConfig>,
    /// The transformer over the bottleneck tokens.
    pub bottleneck: TransformerConfig,
}

impl Default for SeparatorConfig {
    /// Separator-Tiny, the shipped default: 2048/512 STFT, 256-frame chunks (2.97 s),
    /// four blocks down to 8 × 16 tokens (P_t = 32, P_f = 64 as in the paper), a 192-wide
    /// bottleneck of 4 blocks. The first block merges 4 × 8 bins at once: every operation
    /// at finer resolution is memory-bound on the CPU and cost more than the rest together.
    fn default() -> Self {
        Self {
            sample_rate: 44_100,
            n_fft: 2048,
            hop: 512,
            chunk_frames: 256,
            stages: vec![
                StageConfig::new(4, 8, 48),
                StageConfig::new(2, 2, 96),
                StageConfig::new(2, 2, 144),
                StageConfig::new(2, 2, 192),
            ],
            bottleneck: TransformerConfig {
                dim: 192,
                depth: 4,
                heads: 4,
                mlp_ratio: 4,
            },
        }
    }
}

impl SeparatorConfig {
    /// The paper's configuration: STFT 2048/441 at 44.1 kHz, 320-frame chunks, six blocks
    /// (P_t = 32, P_f = 64, C_b = 384), a bottleneck of N = 12 blocks, 8 heads, h = 384.
    pub fn paper() -> Self {
        Self {
            sample_rate: 44_100,
            n_fft: 2048,
            hop: 441,
            chunk_frames: 320,
            stages: vec![
                StageConfig::new(2, 2, 32),
                StageConfig::new(2, 2, 64),
                StageConfig::new(2, 2, 128),
                StageConfig::new(2, 2, 256),
                StageConfig::new(2, 2, 384),
                StageConfig::new(1, 2, 384),
            ],
            bottleneck: TransformerConfig {
                dim: 384,
                depth: 12,
                heads: 8,
                mlp_ratio: 4,
            },
        }
    }

    /// Bins the network sees (the Nyquist bin is left out).
    pub fn bins(&self) -> usize {
        self.n_fft / 2
    }

    /// Samples of one chunk: exactly `chunk_frames` centred STFT frames.
    pub fn chunk_samples(&self) -> usize {
        (self.chunk_frames - 1) * self.hop
    }

    /// The STFT of the model's input and output.
    pub fn stft(&self) -> StftConfig {
        StftConfig::new(self.n_fft, self.hop)
    }

    /// Downsampling factors over all stages: `(P_t, P_f)`.
    pub fn patch(&self) -> (usize, usize) {
        self.stages
            .iter()
            .fold((1, 1), |(t, f), s| (t * s.time, f * s.freq))
    }

    /// Bottleneck tokens per chunk: `(time, freq)`.
    pub fn token_grid(&self) -> (usize, usize) {
        let (pt, pf) = self.patch();
        (self.chunk_frames / pt, self.bins() / pf)
    }

    /// Rejects shapes that do not tile or do not fit together.
    pub fn validate(&self) -> Result<()> {
        let (pt, pf) = self.patch();
        let factors_ok = self.stages.iter().all(|s| s.time > 0 && s.freq > 0);
        if self.stages.is_empty()
            || !factors_ok
            || self.hop == 0
            || !self.n_fft.is_multiple_of(2)
            || self.chunk_frames < 2
            || !self.chunk_frames.is_multiple_of(pt)
            || !self.bins().is_multiple_of(pf)
        {
            candle_core::bail!(
                "separator: {} frames × {} bins do not tile into the stages' {pt} × {pf} patches",
                self.chunk_frames,
                self.bins()
            );
        }
        let last = self.stages[self.stages.len() - 1].channels;
        if last != self.bottleneck.dim {
            candle_core::bail!(
                "separator: the last stage has {last} channels but the bottleneck is {} wide",
                self.bottleneck.dim
            );
        }
        self.bottleneck.validate("bottleneck")
    }
}

/// `(batch, T, F, C)` → `(batch, T/t, F/f, t·f·C)`: each `t × f` neighbourhood becomes one
/// position.
fn merge(x: &Tensor, t: usize, f: usize) -> Result<Tensor> {
    let (b, frames, bins, c) = x.dims4()?;
    x.reshape((b, frames / t, t, bins / f, f, c))?
        .permute((0, 1, 3, 2, 4, 5))?
        .reshape((b, frames / t, bins / f, t * f * c))
}

/// The inverse of [`merge`]: `(batch, T, F, t·f·C)` → `(batch, T·t, F·f, C)`.
fn split(x: &Tensor, t: usize, f: usize) -> Result<Tensor> {
    let (b, frames, bins, width) = x.dims4()?;
    let c = width / (t * f);
    x.reshape((b, frames, bins, t, f, c))?
        .permute((0, 1, 3, 2, 4, 5))?
        .reshape((b, frames * t, bins * f, c))
}

/// `x + fc2(gelu(fc1(norm(x))))`: the per-position processing of every stage.
#[derive(Debug, Clone)]
struct ResidualMlp {
    norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl ResidualMlp {
    /// Hidden width as a multiple of the stage width.
    const RATIO: usize = 2;

    fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            norm: LayerNorm::new(dim, vb.pp("norm"))?,
            fc1: Linear::new(dim, dim * Self::RATIO, vb.pp("fc1"))?,
            fc2: Linear::new(dim * Self::RATIO, dim, vb.pp("fc2"))?,
        })
    }
}

impl Module for ResidualMlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let hidden = fused::gelu(&self.fc1.forward(&self.norm.forward(x)?)?)?;
        x + self.fc2.forward(&hidden)?
    }
}

/// One encoder block: merge, project, process.
#[derive(Debug, Clone)]
struct DownBlock {
    stage: StageConfig,
    merge: Linear,
    mlp: ResidualMlp,
}

impl DownBlock {
    fn new(input: usize, stage: StageConfig, vb: VarBuilder) -> Result<Self> {
        let merged = input * stage.time * stage.freq;
        Ok(Self {
            stage,
            merge: Linear::new(merged, stage.channels, vb.pp("merge"))?,
            mlp: ResidualMlp::new(stage.channels, vb.pp("mlp"))?,
        })
    }
}

impl Module for DownBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let merged = merge(x, self.stage.time, self.stage.freq)?;
        self.mlp.forward(&self.merge.forward(&merged)?)
    }
}

/// One decoder block, the mirror of a [`DownBlock`]: process, project, split.
#[derive(Debug, Clone)]
struct UpBlock {
    stage: StageConfig,
    mlp: ResidualMlp,
    expand: Linear,
}

impl UpBlock {
    fn new(output: usize, stage: StageConfig, vb: VarBuilder) -> Result<Self> {
        let expanded = output * stage.time * stage.freq;
        Ok(Self {
            stage,
            mlp: ResidualMlp::new(stage.channels, vb.pp("mlp"))?,
            expand: Linear::new(stage.channels, expanded, vb.pp("expand"))?,
        })
    }
}

impl Module for UpBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let expanded = self.expand.forward(&self.mlp.forward(x)?)?;
        split(&expanded, self.stage.time, self.stage.freq)
    }
}

/// The encoder's outputs: every resolution's features (the skip connections, full
/// resolution first) and the bottleneck transformer's output and layers.
pub struct Encoded {
    /// `(batch, T_i, F_i, C_i)`: the per-bin features, then every stage's output.
    pub skips: Vec<Tensor>,
    /// Bottleneck tokens `(batch, T/P_t · F/P_f, C_b)`, time-major, and every block's output
    /// (PaC-HuBERT's second iteration clusters one of them).
    pub bottleneck: TransformerOutput,
}

/// Which bottleneck tokens to hide, and what to show instead.
#[derive(Debug, Clone, Copy)]
pub struct TokenMask<'a> {
    /// `(batch, tokens, 1)`: 1 where a token is hidden, 0 where it is kept.
    pub masked: &'a Tensor,
    /// `(dim)`: the learned vector a hidden token becomes.
    pub embedding: &'a Tensor,
}

/// The mixture chunks a batch separates: their complex STFT and the network's input.
#[derive(Debug, Clone)]
pub struct SpectraBatch {
    /// The mixture STFT, `(batch, channels, frames, n_fft/2 + 1, 2)` (re, im last, the
    /// layout of [`fused::istft`]).
    pub spectrum: Tensor,
    /// Per-bin features `(batch, frames, n_fft/2, 3)`.
    pub features: Tensor,
    /// Samples per chunk and channel (what the iSTFT gives back).
    pub samples: usize,
}

/// The analysis both the separator and PaC-HuBERT read: chunks of stereo audio → their
/// complex STFT and the network's per-bin features.
#[derive(Debug)]
pub struct FrontEnd {
    stft: Stft,
    /// STFT frames per chunk.
    frames: usize,
    /// Bins the network sees.
    bins: usize,
    /// Samples per chunk and channel.
    samples: usize,
}

impl FrontEnd {
    pub fn new(config: &SeparatorConfig) -> Result<Self> {
        Ok(Self {
            stft: Stft::new(config.stft()).map_err(candle_core::Error::wrap)?,
            frames: config.chunk_frames,
            bins: config.bins(),
            samples: config.chunk_samples(),
        })
    }

    /// The STFT and features of stereo chunks `[chunk][channel][sample]`, each exactly
    /// `chunk_samples` long.
    ///
    /// The log-magnitudes are taken relative to the chunk's mean magnitude, so the network
    /// sees the same input at any playback gain.
    pub fn spectra<C: AsRef<[f32]>>(
        &self,
        chunks: &[[C; CHANNELS]],
        device: &Device,
    ) -> Result<SpectraBatch> {
        let (frames, bins, samples) = (self.frames, self.bins, self.samples);
        let full_bins = bins + 1;
        let per_chunk = CHANNELS * frames * full_bins;
        let mut spectrum = Vec::with_capacity(chunks.len() * per_chunk * 2);
        let mut features = Vec::with_capacity(chunks.len() * frames * bins * BIN_FEATURES);
        for chunk in chunks {
            let mut magnitude = Vec::with_capacity(per_chunk);
            for channel in chunk {
                let channel = channel.as_ref();
                if channel.len() != samples {
                    candle_core::bail!(
                        "separator chunks must be {samples} samples long, got {}",
                        channel.len()
                    );
                }
                let spec = self
                    .stft
                    .forward(channel)
                    .map_err(candle_core::Error::wrap)?;
                // spec is [bins × frames]; the tensors are frame-major.
                for frame in spec.columns() {
                    for bin in frame {
                        spectrum.extend([bin.re, bin.im]);
                        magnitude.push(bin.norm());
                    }
                }
            }
            let mean = magnitude.iter().sum::<f32>() / magnitude.len() as f32;
            let scale = 1.0 / mean.max(1e-6);
            for t in 0..frames {
                for f in 0..bins {
                    let at = |c: usize| magnitude[(c * frames + t) * full_bins + f];
                    features.push((at(0) * scale).ln_1p());
                    features.push((at(1) * scale).ln_1p());
                    features.push(2.0 * f as f32 / bins as f32 - 1.0);
                }
            }
        }
        let batch = chunks.len();
        Ok(SpectraBatch {
            spectrum: Tensor::from_vec(spectrum, (batch, CHANNELS, frames, full_bins, 2), device)?,
            features: Tensor::from_vec(features, (batch, frames, bins, BIN_FEATURES), device)?,
            samples,
        })
    }
}

/// The encoder and bottleneck: the part PaC-HuBERT pretrains (stored under `encoder.` in
/// both models, so a pretrained encoder initialises a separator by name).
#[derive(Debug)]
pub struct SeparatorEncoder {
    down: Vec<DownBlock>,
    bottleneck: Transformer,
    /// `(T/P_t · F/P_f, C_b)` 2D sin-cos positions (time, frequency).
    positions: Tensor,
}

impl SeparatorEncoder {
    pub fn new(config: &SeparatorConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let mut down = Vec::with_capacity(config.stages.len());
        let mut width = BIN_FEATURES;
        for (i, &stage) in config.stages.iter().enumerate() {
            down.push(DownBlock::new(width, stage, vb.pp(format!("down.{i}")))?);
            width = stage.channels;
        }
        let (rows, cols) = config.token_grid();
        Ok(Self {
            down,
            bottleneck: Transformer::new(&config.bottleneck, vb.pp("bottleneck"))?,
            positions: sincos_2d(rows, cols, config.bottleneck.dim, vb.device())?
                .to_dtype(vb.dtype())?,
        })
    }

    /// Per-bin features `(batch, frames, bins, 3)` → skips and bottleneck.
    pub fn forward(&self, features: &Tensor) -> Result<Encoded> {
        self.forward_masked(features, None)
    }

    /// [`Self::forward`] with some bottleneck tokens replaced before the transformer, as
    /// HuBERT masks its feature encoder's output: PaC-HuBERT predicts what they hid.
    pub fn forward_masked(&self, features: &Tensor, mask: Option<TokenMask>) -> Result<Encoded> {
        let mut x = features.clone();
        let mut skips = Vec::with_capacity(self.down.len() + 1);
        for block in &self.down {
            skips.push(x.clone());
            x = block.forward(&x)?;
        }
        skips.push(x.clone());
        let (b, rows, cols, dim) = x.dims4()?;
        let mut tokens = x.reshape((b, rows * cols, dim))?;
        if let Some(TokenMask { masked, embedding }) = mask {
            let kept = masked.affine(-1.0, 1.0)?;
            tokens = (tokens.broadcast_mul(&kept)? + masked.broadcast_mul(embedding)?)?;
        }
        let tokens = tokens.broadcast_add(&self.positions)?;
        let bottleneck = self.bottleneck.forward(&tokens, false)?;
        Ok(Encoded { skips, bottleneck })
    }
}

/// The separator network.
#[derive(Debug)]
pub struct Separator {
    config: SeparatorConfig,
    /// The analysis of the mixture chunks.
    front_end: FrontEnd,
    encoder: SeparatorEncoder,
    /// Decoder blocks, innermost first.
    up: Vec<UpBlock>,
    /// Per-bin features → mask logits, added to the decoder's: the full-resolution skip
    /// connection, kept to one small matmul because everything at full resolution is
    /// memory-bound on the CPU (the decoder itself ends at the first block's resolution and
    /// its last block expands straight to logits).
    bin_head: Linear,
}

impl Separator {
    /// The checkpoint kind of separator files.
    pub const KIND: &'static str = "separator";

    /// Loads a separator written by `tessera finetune separator` (e.g. the shipped
    /// `assets/separator-tiny/model-f16.safetensors`), in f32.
    pub fn load(
        path: &std::path::Path,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        load_model(path, Self::KIND, device, |config, vb, _| {
            Self::new(config, vb)
        })
    }

    /// Loads a separator file held in memory (the default model embedded in a binary);
    /// `name` stands for it in errors.
    pub fn load_bytes(
        bytes: &[u8],
        name: &std::path::Path,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        let saved = checkpoint::load_bytes(bytes, name, Self::KIND, device)?;
        build_model(&saved, device, |config, vb, _| Self::new(config, vb))
    }

    pub fn new(config: SeparatorConfig, vb: VarBuilder) -> Result<Self> {
        let encoder = SeparatorEncoder::new(&config, vb.pp("encoder"))?;
        let front_end = FrontEnd::new(&config)?;
        let mut up = Vec::with_capacity(config.stages.len());
        let mut width = CHANNELS * STEMS.len();
        for (i, &stage) in config.stages.iter().enumerate() {
            up.push(UpBlock::new(width, stage, vb.pp(format!("up.{i}")))?);
            width = stage.channels;
        }
        up.reverse();
        Ok(Self {
            front_end,
            encoder,
            up,
            bin_head: Linear::new(BIN_FEATURES, CHANNELS * STEMS.len(), vb.pp("bin_head"))?,
            config,
        })
    }

    pub fn config(&self) -> &SeparatorConfig {
        &self.config
    }

    /// The STFT and features of stereo chunks (see [`FrontEnd::spectra`]).
    pub fn spectra<C: AsRef<[f32]>>(
        &self,
        chunks: &[[C; CHANNELS]],
        device: &Device,
    ) -> Result<SpectraBatch> {
        self.front_end.spectra(chunks, device)
    }

    /// Mask logits per bin, channel and stem: `(batch, frames, n_fft/2, channels, stems)`;
    /// the masks are their softmax over stems (see [`fused::apply_stem_masks`]).
    pub fn mask_logits(&self, features: &Tensor) -> Result<Tensor> {
        let Encoded { skips, bottleneck } = self.encoder.forward(features)?;
        let innermost = &skips[skips.len() - 1];
        let mut x = (bottleneck.output.reshape(innermost.shape())? + innermost)?;
        let (last, inner) = self.up.split_last().expect("validated: at least one stage");
        for (block, skip) in inner.iter().zip(skips[1..skips.len() - 1].iter().rev()) {
            x = (block.forward(&x)? + skip)?;
        }
        let logits = (last.forward(&x)? + self.bin_head.forward(features)?)?;
        let (b, frames, bins, _) = logits.dims4()?;
        let logits = logits.reshape((b, frames, bins, CHANNELS, STEMS.len()))?;
        Ok(logits)
    }

    /// The separated stems of a batch: `(batch, stems, channels, samples)`, differentiable
    /// (the fine-tuning loss is L1 on these waveforms).
    pub fn separate(&self, batch: &SpectraBatch) -> Result<Tensor> {
        let logits = self.mask_logits(&batch.features)?;
        let separated = fused::apply_stem_masks(&logits, &batch.spectrum)?;
        let &[b, stems, channels, frames, bins, _] = separated.dims() else {
            candle_core::bail!("apply_stem_masks returns six dimensions");
        };
        let separated = separated.reshape((b * stems * channels, frames, bins, 2))?;
        fused::istft(&separated, &self.config.stft(), batch.samples)?.reshape((
            b,
            stems,
            channels,
            batch.samples,
        ))
    }
}

/// Mean absolute difference between separated and true stems: the fine-tuning loss.
pub fn l1_loss(separated: &Tensor, truth: &Tensor) -> Result<Tensor> {
    (separated - truth)?.abs()?.mean_all()
}
