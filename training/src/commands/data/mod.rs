//! `tessera data ...`: make or inspect training and evaluation data.

pub mod crops;
pub mod manifest;
pub mod scenes;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Render naturalistic two-ear scenes: sources in simulated rooms plus noise at a set SNR.
    Scenes(scenes::ScenesArgs),
    /// Cut loudness-normalised training crops from folders of real recorded audio.
    Crops(crops::CropsArgs),
    /// Check a labelled manifest (CSV path,label,split[,start,end]) and summarise it.
    Manifest(manifest::ManifestArgs),
}

pub fn run(args: &DataArgs) -> anyhow::Result<()> {
    match &args.command {
        DataCommand::Scenes(args) => scenes::run(args),
        DataCommand::Crops(args) => crops::run(args),
        DataCommand::Manifest(args) => manifest::run(args),
    }
}
