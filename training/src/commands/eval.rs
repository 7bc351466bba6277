//! `tessera eval sdr --set DIR...`: BSS Eval v4 SDR of a separator on songs with stems,
//! next to the oracle ideal ratio mask and the HPSS baseline on the same songs.
//! `tessera eval attention-stems --set DIR...`: whether PupuJEPA's predictor attends to the
//! stem of a masked region more than chance.

use std::path::PathBuf;

use anyhow::Context;
use candle_core::Device;
use clap::{Args, Subcommand};
use rayon::prelude::*;
use tessera_core::separation::StreamingSeparator;

use super::separate::load_separator;
use crate::evaluation::attention_stems;
use crate::evaluation::separation::{evaluate_separation, markdown_table};
use crate::files::write_atomic;
use crate::progress;
use crate::separation::songs::{find_song_folders, load_song};

/// Arguments of `tessera eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub metric: EvalMetric,
}

/// What to evaluate.
#[derive(Debug, Subcommand)]
pub enum EvalMetric {
    /// Separation quality (SDR per stem) on folders of songs with stems.
    Sdr(SdrArgs),
    /// Attention–stem alignment of PupuJEPA's predictor on folders of songs with stems.
    AttentionStems(AttentionStemsArgs),
}

/// Arguments of `tessera eval attention-stems`.
#[derive(Debug, Args)]
pub struct AttentionStemsArgs {
    /// Folders of songs with stems, as for `eval sdr`; searched recursively.
    #[arg(long, required = true, num_args = 1..)]
    pub set: Vec<PathBuf>,
    /// A PupuJEPA model instead of the embedded PupuJEPA-Tiny.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Consecutive clips measured per song, from its start.
    #[arg(long, default_value_t = 8)]
    pub clips_per_song: usize,
    /// Masked regions per stem and clip, drawn among those the stem dominates.
    #[arg(long, default_value_t = 2)]
    pub regions_per_stem: usize,
    /// Seed of the regions' draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the measurement as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `tessera eval sdr`.
#[derive(Debug, Args)]
pub struct SdrArgs {
    /// Folders of songs: one folder per song with vocals.wav, drums.wav, bass.wav, other.wav
    /// (the mixture is their sum); searched recursively.
    #[arg(long, required = true, num_args = 1..)]
    pub set: Vec<PathBuf>,
    /// A separator written by `tessera finetune separator` instead of the embedded default.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Also write every song's scores and the medians as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    match &args.metric {
        EvalMetric::Sdr(args) => sdr(args),
        EvalMetric::AttentionStems(args) => attention_stems(args),
    }
}

fn attention_stems(args: &AttentionStemsArgs) -> anyhow::Result<()> {
    let (alignments, songs) = attention_stems::measure_folders(
        args.model.as_deref(),
        &args.set,
        args.clips_per_song,
        args.regions_per_stem,
        args.seed,
    )?;
    println!(
        "Attention of PupuJEPA's predictor for a masked {}×{}-patch region one stem dominates \
         (≥ {:.0} % of its power), on context patches the same stem dominates ({} songs):\n",
        attention_stems::REGION.0,
        attention_stems::REGION.1,
        100.0 * attention_stems::DOMINANCE,
        songs
    );
    print!("{}", attention_stems::markdown_table(&alignments));
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&alignments).context("cannot encode the result")?;
        write_atomic(path, json.as_bytes())?;
        println!("\n{}", path.display());
    }
    Ok(())
}

fn sdr(args: &SdrArgs) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let model = load_separator(args.model.as_deref(), &device)?;
    let sample_rate = model.config().sample_rate;
    let folders = find_song_folders(&args.set)?;
    let songs = folders
        .par_iter()
        .map(|folder| load_song(folder, sample_rate))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut separator = StreamingSeparator::new(model, device);
    let bar = progress::bar(songs.len() as u64, "songs");
    let scores = evaluate_separation(&mut separator, &songs, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    println!(
        "Median SDR (dB, BSS Eval v4 as museval: median over 1-s windows, then over {} songs)\n",
        songs.len()
    );
    print!("{}", markdown_table(&scores));
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&scores).context("cannot encode the scores")?;
        write_atomic(path, json.as_bytes())?;
        println!("\nper-song scores: {}", path.display());
    }
    Ok(())
}
