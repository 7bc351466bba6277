//! `tessera probe --encoder ENC --train A.csv --test B.csv`: how well linear and HEAR-MLP
//! probes on frozen embeddings predict a manifest's labels. Writes `probe.json`, `probe.md`
//! and (for single-label tasks) `confusion.png` into `--out`, and prints the summary.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::{Args, ValueEnum};
use tessera_core::models::LayerMix;

use crate::data::manifest::{Manifest, ManifestEntry};
use crate::files::write_atomic;
use crate::plot::{ConfusionPanel, render_confusion_png};
use crate::probe::report::{EmbeddingReport, ProbeReport, ProbeResult, Sizes};
use crate::probe::{
    EncoderChoice, Features, ProbeConfig, ProbeScores, Targets, VALID_FRACTION, class_names,
    embed_clips, is_multi_label, select_rows, stratified_split, targets_of, train_probe,
};
use crate::progress;

/// Files written into `--out`.
pub const REPORT_JSON: &str = "probe.json";
pub const REPORT_MARKDOWN: &str = "probe.md";
pub const CONFUSION_PNG: &str = "confusion.png";
/// The default cache folder, created next to the training manifest so that every probe on
/// the same data set (pitch, family, ... of the same notes) shares it.
pub const DEFAULT_CACHE: &str = ".tessera-cache";

/// Arguments of `tessera probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The frozen encoder: a run folder or model file of `tessera pretrain`,
    /// `pupu-jepa-tiny` (the embedded model), `logmel` (HEAR-naive log-mel statistics),
    /// `random` (PupuJEPA-Tiny's architecture with weights drawn from --seed) or
    /// `random:PATH` (the architecture of the model at PATH, weights from --seed).
    #[arg(long)]
    pub encoder: EncoderChoice,
    /// Labelled manifest of the training clips (path,label,split[,start,end]; several labels
    /// of one clip separated by `;` make the task multi-label). Its `valid` rows validate;
    /// without any, a seeded stratified 15 % of its rows do.
    #[arg(long)]
    pub train: PathBuf,
    /// Manifest of the test clips. When it is the --train file, its split column decides:
    /// `train` and `valid` rows train and validate, `test` rows test.
    #[arg(long)]
    pub test: PathBuf,
    /// Which layer the probe reads: a number (from 1), `last`, `mean` (of all layers) or
    /// `weighted` (a softmax-weighted sum learned with the probe).
    #[arg(long, default_value = "last")]
    pub layer: LayerChoice,
    /// Which probe to train.
    #[arg(long, value_enum, default_value = "mlp")]
    pub probe: ProbeKind,
    /// Dropout on the linear probe's input while training (the multi-view paper uses 0.5).
    #[arg(long, default_value_t = 0.0)]
    pub input_dropout: f64,
    /// Most epochs per learning rate (HEAR: 500); early stopping usually ends runs sooner.
    #[arg(long, default_value_t = 500)]
    pub max_epochs: usize,
    /// Folder for probe.json, probe.md and confusion.png (created if missing).
    #[arg(long, default_value = "probe")]
    pub out: PathBuf,
    /// Embedding cache folder [default: .tessera-cache next to the --train manifest].
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Embed every clip afresh and cache nothing.
    #[arg(long, conflicts_with = "cache")]
    pub no_cache: bool,
    /// Seeds the validation split, the probes and a random encoder's weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `--layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerChoice {
    /// Counted from 1.
    One(usize),
    Last,
    Mean,
    Weighted,
}

impl FromStr for LayerChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "last" => Self::Last,
            "mean" => Self::Mean,
            "weighted" => Self::Weighted,
            _ => match text.parse::<usize>() {
                Ok(n) if n >= 1 => Self::One(n),
                _ => {
                    return Err(format!(
                        "expected a layer number from 1, `last`, `mean` or `weighted`, got `{text}`"
                    ));
                }
            },
        })
    }
}

impl LayerChoice {
    /// The head's mix for an embedding of `layers` layers.
    fn mix(self, layers: usize) -> anyhow::Result<LayerMix> {
        Ok(match self {
            Self::One(n) if n <= layers => LayerMix::One(n - 1),
            Self::One(n) => bail!("--layer {n}: the encoder has {layers} layers"),
            Self::Last => LayerMix::One(layers - 1),
            Self::Mean => LayerMix::Mean,
            Self::Weighted => LayerMix::Weighted,
        })
    }

    /// The text `--layer` takes for this choice.
    pub fn name(self) -> String {
        match self {
            Self::One(n) => n.to_string(),
            Self::Last => "last".into(),
            Self::Mean => "mean".into(),
            Self::Weighted => "weighted".into(),
        }
    }
}

/// `--probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeKind {
    /// One linear layer.
    Linear,
    /// HEAR's MLP (1024 hidden, batch norm, dropout 0.1).
    Mlp,
    /// Both, trained on the same features.
    Both,
}

/// The clips of a probe, by role, each with the manifest and line it came from.
struct Clips<'a> {
    train: Vec<Row<'a>>,
    valid: Vec<Row<'a>>,
    test: Vec<Row<'a>>,
}

/// One manifest row and where it was read.
#[derive(Clone, Copy)]
struct Row<'a> {
    entry: &'a ManifestEntry,
    file: &'a Path,
    line: u64,
}

pub fn run(args: &ProbeArgs) -> anyhow::Result<()> {
    let report = probe(args)?;
    println!("{}", report.summary_markdown());
    let out = args.out.display();
    let mut written = format!("  {out}/{REPORT_JSON}, {out}/{REPORT_MARKDOWN}");
    if report.task == "single-label" {
        written.push_str(&format!(", {out}/{CONFUSION_PNG}"));
    }
    println!("{written}");
    Ok(())
}

/// Runs the probe of `args`, writes its files and returns its report.
pub fn probe(args: &ProbeArgs) -> anyhow::Result<ProbeReport> {
    let (train_manifest, train_lines) = read_manifest(&args.train)?;
    let same_file = same_file(&args.train, &args.test);
    let test_read = if same_file {
        None
    } else {
        Some(read_manifest(&args.test)?)
    };
    let clips = match &test_read {
        None => split_one(&args.train, &train_manifest, &train_lines)?,
        Some((test_manifest, test_lines)) => Clips {
            train: rows(&args.train, &train_manifest, &train_lines, |s| s != "valid"),
            valid: rows(&args.train, &train_manifest, &train_lines, |s| s == "valid"),
            test: rows(&args.test, test_manifest, test_lines, |_| true),
        },
    };
    ensure!(
        !clips.train.is_empty(),
        "{} has no training rows",
        args.train.display()
    );
    ensure!(
        !clips.test.is_empty(),
        "{} has no test rows{}",
        args.test.display(),
        if same_file { " (split test)" } else { "" }
    );

    let multi_label = is_multi_label(
        [&clips.train, &clips.valid, &clips.test]
            .into_iter()
            .flatten()
            .map(|r| r.entry),
    );
    let classes = class_names(clips.train.iter().map(|r| r.entry), multi_label);
    let targets = |rows: &[Row]| -> anyhow::Result<Targets> {
        let entries: Vec<&ManifestEntry> = rows.iter().map(|r| r.entry).collect();
        targets_of(&entries, &classes, multi_label).map_err(|(i, label)| {
            anyhow::anyhow!(
                "{} line {}: label \"{label}\" never occurs in the training rows of {}; a \
                 probe can only predict classes it was trained on",
                rows[i].file.display(),
                rows[i].line,
                args.train.display()
            )
        })
    };
    let (train_targets, valid_targets, test_targets) = (
        targets(&clips.train)?,
        targets(&clips.valid)?,
        targets(&clips.test)?,
    );

    let encoder = args.encoder.clone().with_seed(args.seed);
    let cache = if args.no_cache {
        None
    } else {
        Some(args.cache.clone().unwrap_or_else(|| {
            args.train
                .parent()
                .unwrap_or(Path::new(""))
                .join(DEFAULT_CACHE)
        }))
    };
    let all: Vec<ManifestEntry> = [&clips.train, &clips.valid, &clips.test]
        .into_iter()
        .flatten()
        .map(|r| r.entry.clone())
        .collect();
    let began = Instant::now();
    let bar = progress::bar(all.len() as u64, "embedding");
    let embeddings = embed_clips(&encoder, &all, cache.as_deref(), &bar)?;
    bar.finish_and_clear();
    let embedding_seconds = began.elapsed().as_secs_f64();
    let layers = embeddings.layers.len();
    let dim = embeddings.layers[0].dim(1)?;

    let part = |range: std::ops::Range<usize>, targets: Targets| -> anyhow::Result<Features> {
        let indices: Vec<usize> = range.collect();
        Ok(Features {
            layers: select_rows(&embeddings.layers, &indices)?,
            targets,
        })
    };
    let (n_train, n_valid) = (clips.train.len(), clips.valid.len());
    let train_all = part(0..n_train, train_targets)?;
    let test = part(n_train + n_valid..all.len(), test_targets)?;
    let (train, valid, validation) = if n_valid > 0 {
        let valid = part(n_train..n_train + n_valid, valid_targets)?;
        (train_all, valid, "the manifest's valid rows".to_owned())
    } else {
        let strata: Vec<Vec<bool>> = train_all.targets.as_sets();
        let (train_idx, valid_idx) = stratified_split(&strata, args.seed);
        ensure!(
            !valid_idx.is_empty(),
            "{}: too few training rows to hold out a validation set; add `valid` rows",
            args.train.display()
        );
        (
            train_all.subset(&train_idx)?,
            train_all.subset(&valid_idx)?,
            format!(
                "{:.0} % of the training rows, stratified by label (seed {})",
                100.0 * VALID_FRACTION,
                args.seed
            ),
        )
    };

    let mix = args.layer.mix(layers)?;
    let configs: Vec<(&str, ProbeConfig)> = match args.probe {
        ProbeKind::Linear => vec![("linear", linear_config(args, mix))],
        ProbeKind::Mlp => vec![("mlp", mlp_config(args, mix))],
        ProbeKind::Both => vec![
            ("linear", linear_config(args, mix)),
            ("mlp", mlp_config(args, mix)),
        ],
    };
    let mut probes = Vec::new();
    let mut panels = Vec::new();
    for (name, config) in configs {
        let began = Instant::now();
        let bar = progress::bar(0, name);
        let model = train_probe(&train, &valid, &config, &bar)?;
        bar.finish_and_clear();
        let scores = model.evaluate(&test)?;
        if let ProbeScores::Single {
            accuracy,
            confusion,
            ..
        } = &scores
        {
            panels.push(ConfusionPanel {
                title: format!("{name} probe: accuracy {accuracy:.3}"),
                counts: confusion.rows(),
            });
        }
        probes.push(ProbeResult::new(
            name,
            &config,
            &model.selection,
            model.layer_weights()?,
            &scores,
            &classes,
            began.elapsed().as_secs_f64(),
        ));
    }

    let report = ProbeReport {
        encoder: args.encoder.to_string(),
        encoder_fingerprint: encoder.fingerprint()?,
        train_manifest: args.train.clone(),
        test_manifest: args.test.clone(),
        task: if multi_label {
            "multi-label"
        } else {
            "single-label"
        }
        .into(),
        classes: classes.clone(),
        sizes: Sizes {
            train: train.targets.len(),
            valid: valid.targets.len(),
            test: test.targets.len(),
        },
        validation,
        embedding: EmbeddingReport {
            layers,
            dim,
            from_cache: embeddings.from_cache,
            cache,
            seconds: embedding_seconds,
        },
        layer: args.layer.name(),
        seed: args.seed,
        probes,
    };
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(
        &out.join(REPORT_JSON),
        (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
    )?;
    write_atomic(&out.join(REPORT_MARKDOWN), report.markdown().as_bytes())?;
    if !panels.is_empty() {
        let title = format!("{} — {}", report.encoder, file_label(&args.test));
        render_confusion_png(&title, &classes, &panels, &out.join(CONFUSION_PNG))?;
    }
    Ok(report)
}

fn linear_config(args: &ProbeArgs, mix: LayerMix) -> ProbeConfig {
    ProbeConfig {
        max_epochs: args.max_epochs,
        ..ProbeConfig::linear(mix, args.input_dropout, args.seed)
    }
}

fn mlp_config(args: &ProbeArgs, mix: LayerMix) -> ProbeConfig {
    ProbeConfig {
        max_epochs: args.max_epochs,
        ..ProbeConfig::hear_mlp(mix, args.seed)
    }
}

/// A manifest and its lines; an empty one is an error naming it.
fn read_manifest(path: &Path) -> anyhow::Result<(Manifest, Vec<u64>)> {
    let (manifest, lines) = Manifest::read_with_lines(path)?;
    ensure!(
        !manifest.entries.is_empty(),
        "{}: the manifest has no rows",
        path.display()
    );
    Ok((manifest, lines))
}

/// The rows of `manifest` whose split passes `keep`.
fn rows<'a>(
    file: &'a Path,
    manifest: &'a Manifest,
    lines: &[u64],
    keep: impl Fn(&str) -> bool,
) -> Vec<Row<'a>> {
    manifest
        .entries
        .iter()
        .zip(lines)
        .filter(|(e, _)| keep(&e.split))
        .map(|(entry, &line)| Row { entry, file, line })
        .collect()
}

/// One manifest for both roles: its split column says which row does what.
fn split_one<'a>(
    file: &'a Path,
    manifest: &'a Manifest,
    lines: &[u64],
) -> anyhow::Result<Clips<'a>> {
    if let Some((entry, line)) = manifest
        .entries
        .iter()
        .zip(lines)
        .find(|(e, _)| !["train", "valid", "test"].contains(&e.split.as_str()))
    {
        bail!(
            "{} line {line}: split \"{}\" is not train, valid or test, which a probe on one \
             manifest needs",
            file.display(),
            entry.split
        );
    }
    Ok(Clips {
        train: rows(file, manifest, lines, |s| s == "train"),
        valid: rows(file, manifest, lines, |s| s == "valid"),
        test: rows(file, manifest, lines, |s| s == "test"),
    })
}

/// Whether two paths name the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A file's name for a figure title.
fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
