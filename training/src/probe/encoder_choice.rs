//! Which frozen encoder a probe reads: a pretrained model, the embedded PupuJEPA-Tiny, or
//! one of the two baselines every probe should be compared with (log-mel statistics, and a
//! randomly initialised encoder of the same architecture).
//!
//! On the command line (`--encoder`):
//!
//! | text             | encoder                                                          |
//! |------------------|------------------------------------------------------------------|
//! | `PATH`           | a run folder of `tessera pretrain` (its `model.safetensors`, else its `checkpoint.safetensors`) or such a file |
//! | `pupu-jepa-tiny` | the PupuJEPA-Tiny embedded in the binary                         |
//! | `logmel`         | HEAR-naive log-mel statistics                                    |
//! | `random`         | PupuJEPA-Tiny's architecture, weights drawn from the seed        |
//! | `random:PATH`    | the architecture of the model at `PATH`, weights drawn from the seed |
//!
//! The random encoder's seed is the probe's `--seed`. A folder named like a keyword is
//! reached as `./NAME`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tessera_core::checkpoint::{self, CheckpointHeader};
use tessera_core::embedded::PUPU_JEPA_TINY;
use tessera_core::models::{Encoder, PupuJepa, WavJepa};
use tessera_core::nn::seeded_normal_init;

use super::log_mel_stats::LogMelStats;
use crate::run_folder::{CHECKPOINT_FILE, MODEL_FILE};

/// Bumped whenever what an encoder's embeddings mean changes (pooling, audio handling), so
/// caches written before are not reused.
const EMBEDDING_VERSION: &str = "tessera-probe-embeddings-1";

/// A frozen encoder to embed clips with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderChoice {
    /// A model written by `tessera pretrain`: its run folder, model file or checkpoint.
    Model(PathBuf),
    /// The PupuJEPA-Tiny embedded in the binary.
    PupuJepaTiny,
    /// Log-mel band means and standard deviations (HEAR's naive baseline).
    LogMel,
    /// An encoder with the architecture of `like` (the embedded PupuJEPA-Tiny when `None`)
    /// and weights drawn from `seed`: what pretraining adds over the architecture alone.
    Random {
        /// A model whose architecture to copy (its weights are not used).
        like: Option<PathBuf>,
        /// Seeds the weights.
        seed: u64,
    },
}

impl FromStr for EncoderChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let existing = |path: &str| {
            let path = PathBuf::from(path);
            if path.exists() {
                Ok(path)
            } else {
                Err(format!(
                    "unknown encoder `{text}`: no file or folder {} exists; expected a run folder \
                     or model file of `tessera pretrain`, `pupu-jepa-tiny`, `logmel`, `random` or \
                     `random:PATH`",
                    path.display()
                ))
            }
        };
        Ok(match text {
            "logmel" => Self::LogMel,
            "pupu-jepa-tiny" => Self::PupuJepaTiny,
            "random" => Self::Random {
                like: None,
                seed: 0,
            },
            _ => match text.strip_prefix("random:") {
                Some(path) => Self::Random {
                    like: Some(existing(path)?),
                    seed: 0,
                },
                None => Self::Model(existing(text)?),
            },
        })
    }
}

impl fmt::Display for EncoderChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Model(path) => write!(f, "{}", path.display()),
            Self::PupuJepaTiny => write!(f, "pupu-jepa-tiny"),
            Self::LogMel => write!(f, "logmel"),
            Self::Random { like: None, seed } => write!(f, "random (PupuJEPA-Tiny, seed {seed})"),
            Self::Random {
                like: Some(path),
                seed,
            } => write!(f, "random (like {}, seed {seed})", path.display()),
        }
    }
}

/// An encoder ready to embed audio.
pub enum LoadedEncoder {
    /// A JEPA model's target encoder.
    Model(Box<dyn Encoder>),
    /// The log-mel baseline (boxed: it holds its filterbank and STFT plan inline).
    LogMel(Box<LogMelStats>),
}

impl LoadedEncoder {
    /// The rate the encoder reads audio at.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Model(model) => model.sample_rate(),
            Self::LogMel(stats) => stats.sample_rate(),
        }
    }

    /// How many channels the encoder hears (two ears for WavJEPA-Nat).
    pub fn channels(&self) -> usize {
        match self {
            Self::Model(model) => model.channels(),
            Self::LogMel(_) => 1,
        }
    }

    /// One vector per layer for a clip at [`Self::sample_rate`], given as one mono channel
    /// or [`Self::channels`] channels: the layer's frames averaged over time (the log-mel
    /// baseline has one "layer").
    pub fn clip_embedding(&self, channels: &[Vec<f32>]) -> anyhow::Result<Vec<Vec<f32>>> {
        match (self, channels) {
            (Self::LogMel(stats), [mono]) => Ok(vec![stats.compute(mono)?]),
            (Self::LogMel(_), _) => {
                bail!(
                    "log-mel statistics hear one channel, not {}",
                    channels.len()
                )
            }
            (Self::Model(model), [mono]) => time_means(&model.embed(mono)?),
            (Self::Model(model), _) => {
                let channels: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
                time_means(&model.embed_channels(&channels)?)
            }
        }
    }
}

/// Each layer's frames averaged over time.
fn time_means(layers: &[Tensor]) -> anyhow::Result<Vec<Vec<f32>>> {
    layers
        .iter()
        .map(|frames| Ok(frames.mean(0)?.to_dtype(DType::F32)?.to_vec1()?))
        .collect()
}

impl EncoderChoice {
    /// Builds the encoder (on the CPU). Errors name the file: unreadable, not a checkpoint,
    /// or a checkpoint of something that is not an encoder.
    pub fn load(&self) -> anyhow::Result<LoadedEncoder> {
        Ok(match self {
            Self::LogMel => LoadedEncoder::LogMel(Box::new(LogMelStats::new()?)),
            Self::Model(path) => {
                let (file, bytes) = model_bytes(path)?;
                LoadedEncoder::Model(build_encoder(&file, &bytes, Weights::Saved)?)
            }
            Self::PupuJepaTiny => LoadedEncoder::Model(build_encoder(
                Path::new("the embedded PupuJEPA-Tiny"),
                PUPU_JEPA_TINY,
                Weights::Saved,
            )?),
            Self::Random { like, seed } => {
                let (file, bytes) = architecture_source(like.as_deref())?;
                LoadedEncoder::Model(build_encoder(&file, &bytes, Weights::Random(*seed))?)
            }
        })
    }

    /// A hex digest of everything that determines this encoder's embeddings: the model
    /// file's bytes, or the random architecture and seed, or the log-mel settings. Equal
    /// fingerprints mean cached embeddings can be reused.
    pub fn fingerprint(&self) -> anyhow::Result<String> {
        let mut hash = Sha256::new();
        hash.update(EMBEDDING_VERSION);
        match self {
            Self::LogMel => {
                hash.update("logmel");
                hash.update(serde_json::to_vec(&LogMelStats::mel_config())?);
            }
            Self::Model(path) => {
                hash.update("model");
                hash.update(model_bytes(path)?.1);
            }
            Self::PupuJepaTiny => {
                hash.update("model");
                hash.update(PUPU_JEPA_TINY);
            }
            Self::Random { like, seed } => {
                let (file, bytes) = architecture_source(like.as_deref())?;
                let header = checkpoint::read_header(&bytes, &file)?;
                hash.update("random");
                hash.update(seed.to_le_bytes());
                hash.update(header.kind);
                hash.update(header.config);
            }
        }
        Ok(hex(&hash.finalize()))
    }

    /// The choice with `seed` for a random encoder's weights (other choices are unchanged).
    pub fn with_seed(self, seed: u64) -> Self {
        match self {
            Self::Random { like, .. } => Self::Random { like, seed },
            other => other,
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The model file a path stands for and its bytes: a run folder's final model, else its
/// last checkpoint; or the file itself.
fn model_bytes(path: &Path) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let file = if path.is_dir() {
        [MODEL_FILE, CHECKPOINT_FILE]
            .iter()
            .map(|name| path.join(name))
            .find(|file| file.is_file())
            .with_context(|| {
                format!(
                    "{}: the folder holds no {MODEL_FILE} or {CHECKPOINT_FILE}; pass a run \
                     folder of `tessera pretrain` or a model file",
                    path.display()
                )
            })?
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok((file, bytes))
}

/// The file whose architecture a random encoder copies, and its bytes.
fn architecture_source(like: Option<&Path>) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    match like {
        Some(path) => model_bytes(path),
        None => Ok((
            PathBuf::from("the embedded PupuJEPA-Tiny"),
            PUPU_JEPA_TINY.to_vec(),
        )),
    }
}

/// Where an encoder's weights come from.
#[derive(Clone, Copy)]
enum Weights {
    /// The checkpoint's own tensors.
    Saved,
    /// Drawn from this seed.
    Random(u64),
}

/// The encoder in the checkpoint `bytes` (named `file` in errors), by its kind.
fn build_encoder(file: &Path, bytes: &[u8], weights: Weights) -> anyhow::Result<Box<dyn Encoder>> {
    let header = checkpoint::read_header(bytes, file)?;
    let kind = header.kind.as_str();
    Ok(if kind == PupuJepa::KIND {
        Box::new(build(file, bytes, &header, weights, PupuJepa::new)?)
    } else if kind == WavJepa::kind(1) || kind == WavJepa::kind(2) {
        Box::new(build(file, bytes, &header, weights, WavJepa::new)?)
    } else {
        bail!(
            "{} is a {kind} checkpoint, not an encoder: probes read {}, {} or {} models",
            file.display(),
            PupuJepa::KIND,
            WavJepa::kind(1),
            WavJepa::kind(2)
        )
    })
}

/// One model from its checkpoint, with saved or seeded random weights.
fn build<C: DeserializeOwned, M>(
    file: &Path,
    bytes: &[u8],
    header: &CheckpointHeader,
    weights: Weights,
    new: impl FnOnce(C, VarBuilder, VarBuilder) -> candle_core::Result<M>,
) -> anyhow::Result<M> {
    let device = Device::Cpu;
    match weights {
        Weights::Saved => {
            let saved = checkpoint::load_bytes(bytes, file, &header.kind, &device)?;
            Ok(checkpoint::build_model(&saved, &device, new)?)
        }
        Weights::Random(seed) => {
            let config: C = serde_json::from_str(&header.config)
                .with_context(|| format!("{}: the stored config does not parse", file.display()))?;
            let (trainable, target) = (VarMap::new(), VarMap::new());
            let model = new(
                config,
                VarBuilder::from_varmap(&trainable, DType::F32, &device),
                VarBuilder::from_varmap(&target, DType::F32, &device),
            )?;
            // Embeddings come from the target encoder.
            seeded_normal_init(&target, seed)?;
            Ok(model)
        }
    }
}
