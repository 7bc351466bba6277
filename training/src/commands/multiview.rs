//! `tessera multiview train | eval | sweep`: the multi-view disentangler of the paper on the
//! notes of `tessera data notes`, embedded by a frozen encoder (the library is
//! `tessera_train::multiview`).

use std::path::{Path, PathBuf};

use anyhow::ensure;
use clap::{Args, Subcommand, ValueEnum};
use tessera_core::models::disentanglement::{ObjectiveType, Principle};

use crate::multiview::claim::cosine_sep_claim;
use crate::multiview::notes::DEFAULT_CACHE;
use crate::multiview::notes_run::{
    EVAL_FILE, evaluate_run, read_source, train_on_notes, trained_model,
};
use crate::multiview::sweep::{self, ACCURACY_PNG, MARGINS_PNG, SWEEP_JSON, SWEEP_MARKDOWN};
use crate::multiview::{
    EmbeddingSource, MultiviewEvaluation, MultiviewRunConfig, ProbeSettings, SweepConfig,
    embed_notes,
};
use crate::probe::EncoderChoice;
use crate::progress;
use crate::run_folder::CONFIG_FILE;

/// Arguments of `tessera multiview`.
#[derive(Debug, Args)]
pub struct MultiviewArgs {
    #[command(subcommand)]
    pub command: MultiviewCommand,
}

#[derive(Debug, Subcommand)]
pub enum MultiviewCommand {
    /// Train a disentangler on the training notes (pairs of one family, different pitches).
    Train(TrainArgs),
    /// Probe a trained disentangler's codes for pitch and family on the test notes.
    Eval(EvalArgs),
    /// Train and evaluate every principle × objective × λ; write the table and figures.
    Sweep(SweepArgs),
}

/// What every subcommand that embeds notes needs.
#[derive(Debug, Args)]
pub struct NotesArgs {
    /// Folder of `tessera data notes` (notes_pitch.csv, notes_family.csv).
    #[arg(long)]
    pub notes: PathBuf,
    /// Embedding cache folder [default: .tessera-cache in the notes folder].
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

impl NotesArgs {
    fn cache(&self) -> PathBuf {
        self.cache
            .clone()
            .unwrap_or_else(|| self.notes.join(DEFAULT_CACHE))
    }
}

/// How clips become latents.
#[derive(Debug, Args)]
pub struct EncoderArgs {
    /// The frozen encoder: a `tessera pretrain` run folder or model file, `pupu-jepa-tiny`,
    /// `logmel` or `random[:PATH]` (as `tessera probe --encoder`).
    #[arg(long)]
    pub encoder: EncoderChoice,
    /// Encoder layer to read, counted from 1 [default: the last].
    #[arg(long)]
    pub layer: Option<usize>,
    /// Seeds the validation split, the pairs, the probes and a random encoder.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl EncoderArgs {
    fn source(&self) -> EmbeddingSource {
        EmbeddingSource {
            encoder: self.encoder.to_string(),
            layer: self.layer,
            seed: self.seed,
        }
    }
}

/// `--principle`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PrincipleArg {
    Infonce,
    Cosine,
    Vicreg,
}

impl From<PrincipleArg> for Principle {
    fn from(arg: PrincipleArg) -> Self {
        match arg {
            PrincipleArg::Infonce => Self::InfoNce,
            PrincipleArg::Cosine => Self::Cosine,
            PrincipleArg::Vicreg => Self::Vicreg,
        }
    }
}

/// `--objective`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ObjectiveArg {
    Sim,
    Sep,
    #[value(name = "sim+sep")]
    SimSep,
}

impl From<ObjectiveArg> for ObjectiveType {
    fn from(arg: ObjectiveArg) -> Self {
        match arg {
            ObjectiveArg::Sim => Self::Similarity,
            ObjectiveArg::Sep => Self::Separation,
            ObjectiveArg::SimSep => Self::Both,
        }
    }
}

/// Arguments of `tessera multiview train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub encoder: EncoderArgs,
    #[command(flatten)]
    pub notes: NotesArgs,
    /// The run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// The contrastive principle [default: the configuration's, cosine].
    #[arg(long, value_enum)]
    pub principle: Option<PrincipleArg>,
    /// The objective type [default: the configuration's, sep].
    #[arg(long, value_enum)]
    pub objective: Option<ObjectiveArg>,
    /// λ, the reconstruction weight of eq. (5) [default: the configuration's, 0.6].
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Run configuration (TOML, as config.toml of a run); absent fields take the paper's.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue the run in --out with its saved configuration (a finished run is left as is).
    #[arg(long, conflicts_with_all = ["config", "principle", "objective", "lambda"])]
    pub resume: bool,
}

/// Arguments of `tessera multiview eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder of `tessera multiview train`.
    #[arg(long)]
    pub run: PathBuf,
    #[command(flatten)]
    pub notes: NotesArgs,
    /// Most epochs per learning rate of every probe.
    #[arg(long, default_value_t = ProbeSettings::default().max_epochs)]
    pub probe_epochs: usize,
}

/// Arguments of `tessera multiview sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub encoder: EncoderArgs,
    #[command(flatten)]
    pub notes: NotesArgs,
    /// The sweep folder (one run folder per combination, sweep.json, sweep.md, figures).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["infonce", "cosine", "vicreg"])]
    pub principles: Vec<PrincipleArg>,
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["sim", "sep", "sim+sep"])]
    pub objectives: Vec<ObjectiveArg>,
    /// Reconstruction weights λ (1 is reconstruction only).
    #[arg(long, value_delimiter = ',', default_values = ["0", "0.2", "0.4", "0.6", "0.8", "1"])]
    pub lambdas: Vec<f64>,
    /// Configuration of every run (TOML); the sweep sets the objective.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Most epochs per learning rate of every probe.
    #[arg(long, default_value_t = ProbeSettings::default().max_epochs)]
    pub probe_epochs: usize,
}

pub fn run(args: &MultiviewArgs) -> anyhow::Result<()> {
    match &args.command {
        MultiviewCommand::Train(args) => train(args),
        MultiviewCommand::Eval(args) => eval(args),
        MultiviewCommand::Sweep(args) => run_sweep(args),
    }
}

/// The configuration file's, or the paper's defaults.
fn read_config(path: Option<&Path>) -> anyhow::Result<MultiviewRunConfig> {
    path.map_or_else(
        || Ok(MultiviewRunConfig::default()),
        MultiviewRunConfig::read,
    )
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let mut config = if args.resume {
        MultiviewRunConfig::read(&args.out.join(CONFIG_FILE))?
    } else {
        read_config(args.config.as_deref())?
    };
    let objective = &mut config.model.objective;
    if let Some(principle) = args.principle {
        objective.principle = principle.into();
    }
    if let Some(kind) = args.objective {
        objective.kind = kind.into();
    }
    if let Some(lambda) = args.lambda {
        objective.reconstruction_weight = lambda;
    }
    let notes = embed_notes(
        &args.notes.notes,
        &args.encoder.source(),
        Some(&args.notes.cache()),
    )?;
    let outcome = train_on_notes(&config, &notes, &args.out, args.resume)?;
    let seconds: f64 = outcome.metrics.iter().map(|r| r.seconds).sum();
    println!(
        "multiview: {} of {} steps (γ = {:.4}), {:.1} min of training in all",
        outcome.steps_done,
        outcome.steps,
        outcome.gamma,
        seconds / 60.0
    );
    let out = args.out.display();
    if outcome.finished {
        println!("  best model: {}", outcome.model.display());
        println!(
            "  evaluate with: tessera multiview eval --run {out} --notes {}",
            args.notes.notes.display()
        );
    } else {
        println!("  continue with: tessera multiview train … --out {out} --resume");
    }
    Ok(())
}

fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    ensure!(
        args.run.is_dir(),
        "{}: no such run folder",
        args.run.display()
    );
    // Checked before embedding, so a run without a model fails at once.
    trained_model(&args.run)?;
    let source = read_source(&args.run)?;
    let notes = embed_notes(&args.notes.notes, &source, Some(&args.notes.cache()))?;
    let bar = progress::bar(6, "probes");
    let evaluation = evaluate_run(
        &args.run,
        &notes,
        ProbeSettings {
            max_epochs: args.probe_epochs,
            seed: source.seed,
        },
        &bar,
    )?;
    bar.finish_and_clear();
    print_row(&evaluation);
    println!("  {}", args.run.join(EVAL_FILE).display());
    Ok(())
}

fn print_row(evaluation: &MultiviewEvaluation) {
    println!("{}", MultiviewEvaluation::MARKDOWN_HEADER);
    println!("{}", evaluation.markdown_row());
}

fn run_sweep(args: &SweepArgs) -> anyhow::Result<()> {
    let source = args.encoder.source();
    let config = SweepConfig {
        notes: args.notes.notes.clone(),
        cache: Some(args.notes.cache()),
        out: args.out.clone(),
        principles: args.principles.iter().map(|&p| p.into()).collect(),
        objectives: args.objectives.iter().map(|&o| o.into()).collect(),
        lambdas: args.lambdas.clone(),
        base: read_config(args.config.as_deref())?,
        probes: ProbeSettings {
            max_epochs: args.probe_epochs,
            seed: source.seed,
        },
        source,
    };
    let result = sweep::run(&config)?;
    print!("{}", result.markdown_table());
    // The claim is reported when the sweep covers it (Cosine-SEP at λ = 0.6 and some λ = 1).
    if let Ok(claim) = cosine_sep_claim(&result) {
        println!("{}", claim.summary());
    }
    let out = args.out.display();
    println!(
        "  {out}/{SWEEP_JSON}, {out}/{SWEEP_MARKDOWN}, {out}/{ACCURACY_PNG}, {out}/{MARGINS_PNG}"
    );
    Ok(())
}
