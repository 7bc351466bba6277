//! A PaC-HuBERT pretraining run's configuration, read from TOML (absent fields take the
//! Tiny defaults) and written next to the run's outputs.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_core::models::PacHubertConfig;

use crate::run_folder;
use tessera_core::optim::OptimConfig;

/// Everything about the loop except the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubertTrainConfig {
    /// Optimiser steps in the whole run.
    pub steps: usize,
    /// Chunks per step.
    pub batch_size: usize,
    /// Steps between checkpoints (and metric flushes, plots).
    pub checkpoint_every: usize,
    /// Seed of every random draw (data, masks, initialisation).
    pub seed: u64,
    /// AdamW with warm-up and cosine decay (the paper: AdamW, 5e-4, warm-up).
    pub optim: OptimConfig,
}

impl Default for HubertTrainConfig {
    fn default() -> Self {
        Self {
            steps: 2000,
            batch_size: 8,
            checkpoint_every: 100,
            seed: 0,
            optim: OptimConfig {
                learning_rate: 5e-4,
                warmup_steps: 100,
                weight_decay: 0.01,
                ..OptimConfig::default()
            },
        }
    }
}

/// The whole run configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubertConfig {
    pub train: HubertTrainConfig,
    pub model: PacHubertConfig,
}

impl HubertConfig {
    /// Reads a TOML configuration; absent fields take the defaults.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        run_folder::read_config(path, "PaC-HuBERT")
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}
