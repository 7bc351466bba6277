//! `tessera pretrain pupu-jepa | wav-jepa | wav-jepa-nat | pac-hubert`: self-supervised
//! pretraining.

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::Device;
use clap::{Args, ValueEnum};

use crate::hubert::run::HubertMetricRow;
use crate::hubert::{HubertConfig, HubertOptions, pretrain_hubert};
use crate::pretrain::run::{CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, MODEL_FILE, PLOT_FILE};
use crate::pretrain::{ModelKind, Preset, RunConfig, RunOptions, pretrain};

/// Arguments of `tessera pretrain`.
#[derive(Debug, Args)]
pub struct PretrainArgs {
    /// The model to train.
    #[arg(value_enum)]
    pub model: PretrainModel,
    /// Folders of training audio (searched recursively; WAV/FLAC/MP3/OGG and .pk3/.zip
    /// archives). Each folder is drawn from equally often. For pac-hubert: the folders the
    /// labels' audio paths are relative to.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// pac-hubert only: the folder of cluster labels (`tessera cluster assign --out`), one
    /// file per audio file, whose patches match the model's STFT and patch sizes.
    #[arg(long)]
    pub labels: Option<PathBuf>,
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

/// The models `tessera pretrain` trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PretrainModel {
    /// I-JEPA on log-mel patches with frequency-aware positions.
    PupuJepa,
    /// JEPA on mono waveforms.
    WavJepa,
    /// JEPA on two-ear waveforms of naturalistic scenes.
    WavJepaNat,
    /// Masked prediction of primitive-feature clusters over the separator's encoder.
    PacHubert,
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
    let kind = match args.model {
        PretrainModel::PupuJepa => ModelKind::PupuJepa,
        PretrainModel::WavJepa => ModelKind::WavJepa,
        PretrainModel::WavJepaNat => ModelKind::WavJepaNat,
        PretrainModel::PacHubert => return pac_hubert(args),
    };
    anyhow::ensure!(
        args.labels.is_none(),
        "--labels is for pac-hubert; {} learns from the audio alone",
        kind.name()
    );
    let mut config = if args.resume {
        RunConfig::read(&args.out.join(CONFIG_FILE))?
    } else {
        match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                RunConfig::from_toml(kind, &text, path)?
            }
            None => RunConfig::preset(kind, args.preset),
        }
    };
    anyhow::ensure!(
        config.kind == kind,
        "{} holds a {} run, not {}",
        args.out.display(),
        config.kind.name(),
        kind.name()
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

/// `tessera pretrain pac-hubert`.
fn pac_hubert(args: &PretrainArgs) -> anyhow::Result<()> {
    let labels = args
        .labels
        .clone()
        .context("pac-hubert learns to predict cluster labels: pass --labels FOLDER")?;
    anyhow::ensure!(
        args.preset == Preset::Tiny,
        "pac-hubert has one preset, Separator-Tiny's encoder; for another size pass --config"
    );
    let mut config = if args.resume {
        HubertConfig::read(&args.out.join(CONFIG_FILE))?
    } else {
        match &args.config {
            Some(path) => HubertConfig::read(path)?,
            None => {
                // Without a configuration the model predicts as many clusters as the
                // labels were drawn from.
                let mut config = HubertConfig::default();
                config.model.clusters = labels_clusters(&labels)?;
                config
            }
        }
    };
    if let Some(steps) = args.steps {
        config.train.steps = steps;
    }
    let options = HubertOptions {
        out: args.out.clone(),
        data: args.data.clone(),
        labels,
        resume: args.resume,
        stop_after: args.stop_after,
        device: args.device.open()?,
    };
    let outcome = pretrain_hubert(&config, &options)?;
    let recent = &outcome.metrics[outcome.metrics.len().saturating_sub(50)..];
    let mean = |value: fn(&HubertMetricRow) -> f64| {
        recent.iter().map(value).sum::<f64>() / recent.len().max(1) as f64
    };
    let seconds: f64 = outcome.metrics.iter().map(|r| r.seconds).sum();
    println!(
        "pac-hubert: {} of {} steps, loss {:.4}, masked accuracy {:.4} (means of the last {}; \
         {} clusters), {:.1} min of training",
        outcome.steps_done,
        config.train.steps,
        mean(|r| r.loss),
        mean(|r| r.masked_accuracy),
        recent.len(),
        outcome.clusters,
        seconds / 60.0
    );
    let out = args.out.display();
    println!("  {out}/{METRICS_FILE}, {out}/{PLOT_FILE}, {out}/{CHECKPOINT_FILE}");
    if outcome.finished {
        println!(
            "  final model: {out}/{MODEL_FILE} (initialise a separator with `tessera finetune \
             separator --init {out}/{MODEL_FILE}`)"
        );
    } else {
        println!(
            "  continue with: tessera pretrain pac-hubert --data … --labels … --out {out} --resume"
        );
    }
    Ok(())
}

/// The cluster count of the first labels file under `folder`.
fn labels_clusters(folder: &Path) -> anyhow::Result<usize> {
    let files = crate::hubert::data::labels_files(folder)?;
    Ok(tessera_core::cluster::LabelsFile::read(&files[0])?.k)
}
