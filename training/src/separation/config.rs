//! A separator fine-tuning run's configuration, read from TOML (absent fields take the Tiny
//! defaults) and written next to the run's outputs.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_core::models::SeparatorConfig;

use super::augment::AugmentConfig;
use crate::run_folder;
use tessera_core::optim::OptimConfig;

/// Everything about the loop except the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneTrainConfig {
    /// Optimiser steps in the whole run.
    pub steps: usize,
    /// Chunks per step.
    pub batch_size: usize,
    /// Steps between checkpoints (and validation, metric flushes, plots).
    pub checkpoint_every: usize,
    /// Seed of every random draw (data, augmentation, initialisation).
    pub seed: u64,
    /// Share of the training songs used (the paper's 25 / 50 / 100 % experiment); the
    /// first songs by path, so smaller shares are subsets of larger ones.
    pub fraction: f64,
    /// Validation chunks scored at every checkpoint.
    pub valid_chunks: usize,
    /// AdamW and learning-rate schedule (the paper: Adam, 1e-3 in the TF domain, warm-up).
    pub optim: OptimConfig,
    /// Augmentation of the training examples.
    pub augment: AugmentConfig,
}

impl Default for FinetuneTrainConfig {
    fn default() -> Self {
        Self {
            steps: 2000,
            batch_size: 8,
            checkpoint_every: 100,
            seed: 0,
            fraction: 1.0,
            valid_chunks: 16,
            optim: OptimConfig {
                learning_rate: 1e-3,
                warmup_steps: 100,
                weight_decay: 0.01,
                ..OptimConfig::default()
            },
            augment: AugmentConfig::default(),
        }
    }
}

/// The whole run configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneConfig {
    pub train: FinetuneTrainConfig,
    pub model: SeparatorConfig,
}

impl FinetuneConfig {
    /// Reads a TOML configuration; absent fields take the defaults.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        run_folder::read_config(path, "separator")
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}
