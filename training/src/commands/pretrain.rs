//! `tessera pretrain pupu-jepa | wav-jepa | wav-jepa-nat`: self-supervised pretraining.

use std::path::PathBuf;

use anyhow::Context;
use candle_core::Device;
use clap::{Args, ValueEnum};

use crate::pretrain::run::{CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, MODEL_FILE, PLOT_FILE};
use crate::pretrain::{ModelKind, Preset, RunConfig, RunOptions, pretrain};

/// Arguments of `tessera pretrain`.
#[derive(Debug, Args)]
pub struct PretrainArgs {
    /// The model to train.
    #[arg(value_enum)]
    pub model: ModelKind,
    /// Folders of training audio (searched recursively; WAV/FLAC/MP3/OGG and .pk3/.zip
    /// archives). Each folder is drawn from equally often.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The run folder: config.toml, checkpoint, metrics.csv, loss.png, final model.
    #[arg(long)]
    pub out: PathBuf,
    /// TOML configuration ([train] and [model] tables; absent fields take the preset's values).
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// Built-in size.
    #[arg(long, value_enum, default_value = "tiny")]
    pub preset: Preset,
    /// Override the number of steps; the learning-rate and momentum schedules stretch with
    /// it. With --resume this lengthens or shortens a run from its last checkpoint on (the
    /// result then differs from a run planned with that length from the start).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Continue the run in --out from its last checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many steps in this session; resume later with --resume.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Where to compute. Only cpu is built and tested here; cuda and metal need tessera
    /// built with `--features cuda` or `--features metal`.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
}

/// A compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Metal,
}

impl DeviceKind {
    pub fn open(self) -> anyhow::Result<Device> {
        let device = match self {
            Self::Cpu => return Ok(Device::Cpu),
            Self::Cuda => Device::new_cuda(0),
            Self::Metal => Device::new_metal(0),
        };
        device.with_context(|| {
            format!("cannot open the {self:?} device (was tessera built with its feature?)")
        })
    }
}

pub fn run(args: &PretrainArgs) -> anyhow::Result<()> {
    let mut config = if args.resume {
        RunConfig::read(&args.out.join(CONFIG_FILE))?
    } else {
        match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                RunConfig::from_toml(args.model, &text, path)?
            }
            None => RunConfig::preset(args.model, args.preset),
        }
    };
    anyhow::ensure!(
        config.kind == args.model,
        "{} holds a {} run, not {}",
        args.out.display(),
        config.kind.name(),
        args.model.name()
    );
    if let Some(steps) = args.steps {
        config.train.ema.ramp_steps =
            config.train.ema.ramp_steps * steps / config.train.steps.max(1);
        config.train.steps = steps;
    }
    let options = RunOptions {
        out: args.out.clone(),
        data: args.data.clone(),
        resume: args.resume,
        stop_after: args.stop_after,
        device: args.device.open()?,
    };
    let outcome = pretrain(&config, &options)?;
    let recent = &outcome.metrics[outcome.metrics.len().saturating_sub(50)..];
    let mean_loss = recent.iter().map(|r| r.loss).sum::<f64>() / recent.len().max(1) as f64;
    let seconds: f64 = outcome.metrics.iter().map(|r| r.seconds).sum();
    println!(
        "{}: {} of {} steps, loss {mean_loss:.4} (mean of the last {}), {:.1} min of training, {} collapse warnings",
        config.kind.name(),
        outcome.steps_done,
        config.train.steps,
        recent.len(),
        seconds / 60.0,
        outcome.collapse_warnings.len()
    );
    let out = args.out.display();
    println!("  {out}/{METRICS_FILE}, {out}/{PLOT_FILE}, {out}/{CHECKPOINT_FILE}");
    if outcome.finished {
        println!("  final model: {out}/{MODEL_FILE}");
    } else {
        println!(
            "  continue with: tessera pretrain {} --data … --out {out} --resume",
            config.kind.name()
        );
    }
    Ok(())
}
