//! One module per `tessera` subcommand.

pub mod cluster;
pub mod features;
pub mod spectrogram;
