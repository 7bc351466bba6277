//! JEPA pretraining (`tessera pretrain`): the data each model reads, its configuration and
//! the loop (the optimiser is [`tessera_core::optim`]).

pub mod config;
pub mod data;
pub mod run;
pub mod task;

pub use config::{Preset, RunConfig, TrainConfig};
pub use run::{RunOptions, RunOutcome, pretrain};
pub use task::ModelKind;
