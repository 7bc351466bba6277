//! PaC-HuBERT pretraining (`tessera pretrain pac-hubert`): labelled chunks, the run's
//! configuration and the loop.

pub mod config;
pub mod data;
pub mod run;

pub use config::{HubertConfig, HubertTrainConfig};
pub use run::{HubertOptions, HubertOutcome, pretrain_hubert};
