//! One module per `tessera` subcommand.

pub mod attention;
pub mod bench;
pub mod cluster;
pub mod data;
pub mod eval;
pub mod features;
pub mod finetune;
pub mod multiview;
pub mod pretrain;
pub mod probe;
pub mod separate;
pub mod spectrogram;
