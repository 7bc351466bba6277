//! Stem separation training (`tessera finetune separator`): songs with stems, augmentation,
//! the run configuration and the loop.

pub mod augment;
pub mod config;
pub mod run;
pub mod songs;

pub use config::{FinetuneConfig, FinetuneTrainConfig};
pub use run::{FinetuneOptions, FinetuneOutcome, finetune};
