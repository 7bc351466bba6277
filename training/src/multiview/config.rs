//! A multi-view disentanglement run's configuration, read from TOML (absent fields take the
//! paper's settings) and written next to the run's outputs.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_core::models::MultiviewConfig;

use crate::run_folder;
use tessera_core::optim::OptimConfig;

/// γ of eq. (5), which the paper calls "a configuration-specific scaling factor … to
/// normalize the reconstruction loss magnitude" without giving its value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gamma {
    /// `|L_dis| / L_rec` of the untrained model, averaged over the first batches of the
    /// run's data: both terms start at the same magnitude, so λ alone sets their balance.
    Measured,
    /// A given value.
    Fixed(f64),
}

/// Everything about the loop except the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiviewTrainConfig {
    /// Passes over the pairs (the paper: 100).
    pub epochs: usize,
    /// Pairs per step (the paper: 16); also the number of InfoNCE candidates per view.
    pub batch_size: usize,
    /// Steps between checkpoints (and validation, metric flushes, plots).
    pub checkpoint_every: usize,
    /// Seed of every random draw (initialisation, the order of the pairs).
    pub seed: u64,
    /// How the reconstruction term is scaled to the disentanglement term.
    pub gamma: Gamma,
    /// AdamW (the paper: learning rate 1e-4, weight decay 1e-3, no schedule mentioned, so a
    /// constant rate).
    pub optim: OptimConfig,
}

impl Default for MultiviewTrainConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 16,
            checkpoint_every: 1000,
            seed: 0,
            gamma: Gamma::Measured,
            optim: OptimConfig {
                learning_rate: 1e-4,
                min_learning_rate: 1e-4,
                warmup_steps: 0,
                weight_decay: 1e-3,
                ..OptimConfig::default()
            },
        }
    }
}

/// The whole run configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiviewRunConfig {
    pub train: MultiviewTrainConfig,
    pub model: MultiviewConfig,
}

impl MultiviewRunConfig {
    /// Reads a TOML configuration; absent fields take the defaults.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        run_folder::read_config(path, "multi-view")
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}

#[cfg(test)]
mod tests {
    use tessera_core::models::disentanglement::{ObjectiveType, Principle};

    use super::*;

    #[test]
    fn a_configuration_round_trips_through_toml_and_names_the_objective_as_the_paper() {
        let mut config = MultiviewRunConfig::default();
        config.train.gamma = Gamma::Fixed(2.5);
        config.model.objective.principle = Principle::InfoNce;
        config.model.objective.kind = ObjectiveType::Both;
        let text = config.to_toml().unwrap();
        assert!(
            text.contains("\"infonce\"") && text.contains("\"sim+sep\""),
            "{text}"
        );
        let back: MultiviewRunConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        let partial: MultiviewRunConfig = toml::from_str(
            "[train]\ngamma = \"measured\"\n[model.objective]\nprinciple = \"vicreg\"\nkind = \"sep\"\nreconstruction_weight = 0.2\n",
        )
        .unwrap();
        assert_eq!(partial.train.gamma, Gamma::Measured);
        assert_eq!(partial.model.objective.principle, Principle::Vicreg);
        assert_eq!(partial.model.latent_dim, 192);
    }
}
