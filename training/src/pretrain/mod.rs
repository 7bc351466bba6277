//! JEPA pretraining (`tessera pretrain`): the data each model reads, its configuration,
//! the optimiser and the loop.

pub mod config;
pub mod data;
pub mod optim;
pub mod run;
pub mod task;

pub use config::{Preset, RunConfig, TrainConfig};
pub use run::{RunOptions, RunOutcome, pretrain};
pub use task::ModelKind;
