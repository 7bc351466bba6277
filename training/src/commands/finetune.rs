//! `tessera finetune separator`: train the stem separator on songs with stems, from scratch
//! or from a PaC-HuBERT encoder.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::pretrain::DeviceKind;
use crate::separation::run::{CHECKPOINT_FILE, METRICS_FILE, MODEL_FILE, PLOT_FILE};
use crate::separation::{FinetuneConfig, FinetuneOptions, finetune};

/// Arguments of `tessera finetune`.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    #[command(subcommand)]
    pub model: FinetuneModel,
}

/// What to fine-tune.
#[derive(Debug, Subcommand)]
pub enum FinetuneModel {
    /// The four-stem separator (vocals, drums, bass, other).
    Separator(SeparatorArgs),
}

/// Arguments of `tessera finetune separator`.
#[derive(Debug, Args)]
pub struct SeparatorArgs {
    /// Folders of training songs: one folder per song with vocals.wav, drums.wav, bass.wav
    /// and other.wav (44.1 kHz), as `tessera data songs` writes them; searched recursively.
    #[arg(long, required = true, num_args = 1..)]
    pub songs: Vec<PathBuf>,
    /// Folders of validation songs, same layout (scored at every checkpoint).
    #[arg(long, required = true, num_args = 1..)]
    pub valid: Vec<PathBuf>,
    /// The run folder: config.toml, checkpoint, metrics.csv, loss.png, final model.
    #[arg(long)]
    pub out: PathBuf,
    /// A PaC-HuBERT checkpoint whose encoder and bottleneck initialise the separator.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Share of the training songs to use, in (0, 1] (the first songs by path).
    #[arg(long)]
    pub fraction: Option<f64>,
    /// TOML configuration ([train] and [model] tables; absent fields take the Tiny values).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override the number of steps (the learning-rate schedule stretches with it).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Continue the run in --out from its last checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many steps in this session; resume later with --resume.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Where to compute (only cpu is built and tested here).
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
}

pub fn run(args: &FinetuneArgs) -> anyhow::Result<()> {
    let FinetuneModel::Separator(args) = &args.model;
    let mut config = if args.resume {
        FinetuneConfig::read(&args.out.join(crate::separation::run::CONFIG_FILE))?
    } else {
        match &args.config {
            Some(path) => FinetuneConfig::read(path)?,
            None => FinetuneConfig::default(),
        }
    };
    if let Some(steps) = args.steps {
        config.train.steps = steps;
    }
    if let Some(fraction) = args.fraction {
        anyhow::ensure!(
            !args.resume || fraction == config.train.fraction,
            "--fraction cannot change when resuming"
        );
        config.train.fraction = fraction;
    }
    let options = FinetuneOptions {
        out: args.out.clone(),
        songs: args.songs.clone(),
        valid: args.valid.clone(),
        init: args.init.clone(),
        resume: args.resume,
        stop_after: args.stop_after,
        device: args.device.open()?,
    };
    let outcome = finetune(&config, &options)?;
    let seconds: f64 = outcome.metrics.iter().map(|r| r.seconds).sum();
    let last_valid = outcome
        .metrics
        .iter()
        .rev()
        .find(|r| r.valid_sdr[0].is_finite());
    println!(
        "separator: {} of {} steps, {:.1} min of training",
        outcome.steps_done,
        config.train.steps,
        seconds / 60.0
    );
    if let Some(row) = last_valid {
        let [v, d, b, o] = row.valid_sdr;
        println!(
            "  validation SDR at step {}: vocals {v:.2} dB, drums {d:.2} dB, bass {b:.2} dB, other {o:.2} dB",
            row.step
        );
    }
    let out = args.out.display();
    println!("  {out}/{METRICS_FILE}, {out}/{PLOT_FILE}, {out}/{CHECKPOINT_FILE}");
    if outcome.finished {
        println!("  final model: {out}/{MODEL_FILE}");
    } else {
        println!(
            "  continue with: tessera finetune separator --songs … --valid … --out {out} --resume"
        );
    }
    Ok(())
}
