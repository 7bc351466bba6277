//! One module per `tessera` subcommand.

pub mod cluster;
pub mod data;
pub mod features;
pub mod pretrain;
pub mod spectrogram;
