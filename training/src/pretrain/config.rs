//! A pretraining run's configuration: the model, the optimiser, the schedule and the data,
//! read from TOML (fields left out take the Tiny preset's values) and written next to the
//! run's outputs.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use tessera_core::models::ema::EmaSchedule;
use tessera_core::models::{PupuJepaConfig, WavJepaConfig};
use tessera_core::nn::TransformerConfig;

use super::task::{ModelConfig, ModelKind};
use crate::data::scenes::SceneConfig;
use tessera_core::optim::OptimConfig;

/// Built-in sizes for this machine (2 CPU cores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// About half an hour to an hour: what the shipped models use.
    Tiny,
    /// Wider and deeper, for runs of several hours.
    Small,
}

/// Encoder and predictor of the Small preset, for every model.
const SMALL: (TransformerConfig, TransformerConfig) = (
    TransformerConfig {
        dim: 256,
        depth: 12,
        heads: 4,
        mlp_ratio: 4,
    },
    TransformerConfig {
        dim: 128,
        depth: 6,
        heads: 4,
        mlp_ratio: 4,
    },
);

/// Everything about the loop except the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser steps in the whole run.
    pub steps: usize,
    /// Clips per step.
    pub batch_size: usize,
    /// Steps between checkpoints (and metric flushes, plots).
    pub checkpoint_every: usize,
    /// Seed of every random draw (data, masks, initialisation).
    pub seed: u64,
    /// AdamW and learning-rate schedule.
    pub optim: OptimConfig,
    /// Target-encoder momentum schedule.
    pub ema: EmaSchedule,
    /// Rooms and noise of WavJEPA-Nat's scenes (unused by the other models).
    pub scenes: SceneConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 3000,
            batch_size: 16,
            checkpoint_every: 250,
            seed: 0,
            optim: OptimConfig::default(),
            ema: EmaSchedule {
                start: 0.996,
                end: 1.0,
                ramp_steps: 3000,
            },
            scenes: SceneConfig::default(),
        }
    }
}

/// The whole run configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub kind: ModelKind,
    pub train: TrainConfig,
    pub model: ModelConfig,
}

/// The TOML layout of a run configuration for one model type.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile<M> {
    kind: Option<ModelKind>,
    #[serde(default)]
    train: TrainConfig,
    #[serde(default)]
    model: M,
}

impl RunConfig {
    /// A built-in configuration.
    pub fn preset(kind: ModelKind, preset: Preset) -> Self {
        let mut train = TrainConfig::default();
        let model = match kind {
            ModelKind::PupuJepa => {
                let mut c = PupuJepaConfig::default();
                if preset == Preset::Small {
                    (c.encoder, c.predictor) = SMALL;
                }
                ModelConfig::Pupu(c)
            }
            ModelKind::WavJepa | ModelKind::WavJepaNat => {
                let mut c = WavJepaConfig {
                    ears: if kind == ModelKind::WavJepaNat { 2 } else { 1 },
                    ..Default::default()
                };
                if preset == Preset::Small {
                    (c.encoder, c.predictor) = SMALL;
                    c.top_k = 8;
                }
                ModelConfig::Wav(c)
            }
        };
        if preset == Preset::Small {
            train.steps = 8000;
            train.ema.ramp_steps = 8000;
        }
        Self { kind, train, model }
    }

    /// Reads a TOML configuration for a `kind` run; absent fields take the Tiny values.
    pub fn from_toml(kind: ModelKind, text: &str, path: &Path) -> anyhow::Result<Self> {
        let context = || {
            format!(
                "{} is not a valid {} configuration",
                path.display(),
                kind.name()
            )
        };
        let table: toml::Table = toml::from_str(text).with_context(context)?;
        let given =
            |section: &str, key: &str| table.get(section).is_some_and(|t| t.get(key).is_some());
        let (file_kind, mut train, model) = match kind {
            ModelKind::PupuJepa => {
                let file: RunFile<PupuJepaConfig> = toml::from_str(text).with_context(context)?;
                (file.kind, file.train, ModelConfig::Pupu(file.model))
            }
            ModelKind::WavJepa | ModelKind::WavJepaNat => {
                let mut file: RunFile<WavJepaConfig> =
                    toml::from_str(text).with_context(context)?;
                let ears = if kind == ModelKind::WavJepaNat { 2 } else { 1 };
                if given("model", "ears") && file.model.ears != ears {
                    bail!(
                        "{}: model.ears = {} does not fit {} (needs {ears})",
                        path.display(),
                        file.model.ears,
                        kind.name()
                    );
                }
                file.model.ears = ears;
                (file.kind, file.train, ModelConfig::Wav(file.model))
            }
        };
        // The momentum ramp spans the whole run unless the file sets it.
        let ramp_given = table
            .get("train")
            .and_then(|t| t.get("ema"))
            .is_some_and(|ema| ema.get("ramp_steps").is_some());
        if !ramp_given {
            train.ema.ramp_steps = train.steps;
        }
        if let Some(found) = file_kind.filter(|&k| k != kind) {
            bail!(
                "{} configures a {} run, not {}",
                path.display(),
                found.name(),
                kind.name()
            );
        }
        Ok(Self { kind, train, model })
    }

    /// Reads a file written by [`Self::to_toml`] (a run's config.toml) of any kind.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let kind: ModelKind = table
            .get("kind")
            .cloned()
            .with_context(|| format!("{} names no model kind", path.display()))?
            .try_into()
            .with_context(|| format!("{} names an unknown model kind", path.display()))?;
        Self::from_toml(kind, &text, path)
    }

    /// The configuration as TOML, `kind` included.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let text = match &self.model {
            ModelConfig::Pupu(m) => toml::to_string(&RunFile {
                kind: Some(self.kind),
                train: self.train.clone(),
                model: m.clone(),
            }),
            ModelConfig::Wav(m) => toml::to_string(&RunFile {
                kind: Some(self.kind),
                train: self.train.clone(),
                model: m.clone(),
            }),
        };
        Ok(text?)
    }
}
