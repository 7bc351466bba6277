//! `tessera data ...`: make or inspect training and evaluation data.

pub mod crops;
pub mod keys;
pub mod manifest;
pub mod notes;
pub mod scenes;
pub mod songs;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Compose and render multitrack songs with their true stems (vocals, drums, bass, other).
    Songs(songs::SongsArgs),
    /// Render NSynth-like labelled single notes (pitch, program, family, SoundFont).
    Notes(notes::NotesArgs),
    /// Render short song clips labelled with their key (24 classes) and tempo band.
    Keys(keys::KeysArgs),
    /// Render naturalistic two-ear scenes: sources in simulated rooms plus noise at a set SNR.
    Scenes(scenes::ScenesArgs),
    /// Cut loudness-normalised training crops from folders of real recorded audio.
    Crops(crops::CropsArgs),
    /// Check a labelled manifest (CSV path,label,split[,start,end]) and summarise it.
    Manifest(manifest::ManifestArgs),
}

pub fn run(args: &DataArgs) -> anyhow::Result<()> {
    match &args.command {
        DataCommand::Songs(args) => songs::run(args),
        DataCommand::Notes(args) => notes::run(args),
        DataCommand::Keys(args) => keys::run(args),
        DataCommand::Scenes(args) => scenes::run(args),
        DataCommand::Crops(args) => crops::run(args),
        DataCommand::Manifest(args) => manifest::run(args),
    }
}
