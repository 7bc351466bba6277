//! `tessera cluster fit|assign`: fit k-means centroids on per-patch feature files (PaC-HuBERT's
//! 960 clusters on 48-dim primitive features), or label feature files with fitted centroids.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use ndarray::Array2;
use serde::Serialize;
use tessera_core::cluster::{
    Algorithm, FitPhase, FitProgress, KMeans, KMeansConfig, KMeansModel, LabelsFile, RowReservoir,
    check_finite,
};
use tessera_core::features_file::FeaturesFile;

use crate::files::files_with_extensions;
use crate::progress;

/// Arguments of `tessera cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// What to do: fit centroids or assign labels.
    #[command(subcommand)]
    pub command: ClusterCommand,
}

/// The `tessera cluster` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Fit k-means centroids on feature files and write them as safetensors (plus the
    /// configuration used, as `<out>.json`).
    Fit(FitArgs),
    /// Label every vector of feature files with its nearest centroid, one labels file per input.
    Assign(AssignArgs),
}

/// Arguments of `tessera cluster fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Feature files (safetensors, tensor "features" [vectors × dims]) or directories searched
    /// recursively for *.safetensors.
    #[arg(long, required = true, num_args = 1..)]
    pub features: Vec<PathBuf>,
    /// Number of clusters [default: 960].
    #[arg(long)]
    pub k: Option<usize>,
    /// Use mini-batch k-means instead of full Lloyd iterations.
    #[arg(long)]
    pub mini_batch: bool,
    /// Vectors per mini-batch step (with --mini-batch).
    #[arg(long, default_value_t = 4096, requires = "mini_batch")]
    pub batch_size: usize,
    /// Lloyd iterations, or mini-batch epochs, at most [default: 300].
    #[arg(long)]
    pub max_iter: Option<usize>,
    /// Convergence tolerance relative to the data's mean variance [default: 1e-4].
    #[arg(long)]
    pub tol: Option<f64>,
    /// Seedings (Lloyd: whole runs) to try; the lowest inertia wins [default: 1].
    #[arg(long)]
    pub n_init: Option<usize>,
    /// Vectors k-means++ seeds on (random subset); ~100000 keeps seeding on millions of
    /// vectors to seconds [default: all for Lloyd, 3 × max(batch size, k) for mini-batch].
    #[arg(long)]
    pub init_size: Option<usize>,
    /// Seed of every random draw (sub-sampling, seeding, batches).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fit on a seeded uniform random subset of at most this many vectors.
    #[arg(long)]
    pub max_vectors: Option<usize>,
    /// Centroids file to write (safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `tessera cluster assign`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// Feature files or directories searched recursively for *.safetensors.
    #[arg(long, required = true, num_args = 1..)]
    pub features: Vec<PathBuf>,
    /// Centroids file written by `tessera cluster fit`.
    #[arg(long)]
    pub centroids: PathBuf,
    /// Directory for the labels files: `<name>.labels.safetensors` per input, keeping the
    /// layout below each input directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `tessera cluster ...`.
pub fn run(args: &ClusterArgs) -> anyhow::Result<()> {
    match &args.command {
        ClusterCommand::Fit(args) => fit(args),
        ClusterCommand::Assign(args) => assign(args),
    }
}

impl FitArgs {
    fn config(&self) -> KMeansConfig {
        let defaults = KMeansConfig::default();
        KMeansConfig {
            k: self.k.unwrap_or(defaults.k),
            max_iter: self.max_iter.unwrap_or(defaults.max_iter),
            tol: self.tol.unwrap_or(defaults.tol),
            n_init: self.n_init.unwrap_or(defaults.n_init),
            init_size: self.init_size,
            algorithm: if self.mini_batch {
                Algorithm::mini_batch(self.batch_size)
            } else {
                Algorithm::Lloyd
            },
            seed: self.seed,
        }
    }
}

/// What `tessera cluster fit` did, written as `<out>.json` next to the centroids.
#[derive(Debug, Serialize)]
struct FitRecord {
    config: KMeansConfig,
    features: Vec<PathBuf>,
    files: usize,
    max_vectors: Option<usize>,
    vectors_read: u64,
    vectors_used: usize,
    dims: usize,
    inertia: f64,
    iterations: usize,
    converged: bool,
    seconds: f64,
}

fn fit(args: &FitArgs) -> anyhow::Result<()> {
    let config = args.config();
    config.validate()?;
    let started = Instant::now();
    let inputs = find_feature_files(&args.features)?;
    let (data, vectors_read) = read_vectors(&inputs, args.max_vectors, config.seed)?;
    let (n, dims) = data.dim();
    println!(
        "fitting {} clusters on {n} vectors × {dims} dims ({vectors_read} read from {} files)",
        config.k,
        inputs.len()
    );
    let bar = progress::bar(config.k as u64, "seeding");
    let mut stage = None;
    let mut on_progress = |report: FitProgress| {
        if stage != Some((report.run, report.phase)) {
            stage = Some((report.run, report.phase));
            let what = match report.phase {
                FitPhase::Seeding => "seeding",
                FitPhase::Lloyd => "lloyd",
                FitPhase::MiniBatch => "mini-batch",
            };
            bar.set_message(if config.n_init > 1 {
                format!("{what} {}/{}", report.run + 1, config.n_init)
            } else {
                what.to_owned()
            });
            bar.set_length(report.total as u64);
        }
        bar.set_position(report.done as u64);
    };
    let fitted = KMeans::fit_with_progress(data.view(), &config, &mut on_progress)
        .with_context(|| format!("k-means on the vectors of {} files", inputs.len()))?;
    bar.finish_and_clear();
    fitted.model.save(&args.out)?;
    let seconds = started.elapsed().as_secs_f64();
    let record = FitRecord {
        config,
        features: args.features.clone(),
        files: inputs.len(),
        max_vectors: args.max_vectors,
        vectors_read,
        vectors_used: n,
        dims,
        inertia: fitted.inertia,
        iterations: fitted.iterations,
        converged: fitted.converged,
        seconds,
    };
    let record_path = with_suffix(&args.out, ".json");
    std::fs::write(&record_path, serde_json::to_string_pretty(&record)? + "\n")
        .with_context(|| format!("could not write {}", record_path.display()))?;
    println!(
        "inertia {:.6e} ({:.4} per vector), {} {} ({}), {seconds:.1} s → {}",
        fitted.inertia,
        fitted.inertia / n as f64,
        fitted.iterations,
        if args.mini_batch {
            "steps"
        } else {
            "iterations"
        },
        if fitted.converged {
            "converged"
        } else {
            "hit max-iter"
        },
        args.out.display()
    );
    Ok(())
}

fn assign(args: &AssignArgs) -> anyhow::Result<()> {
    let model = KMeansModel::load(&args.centroids)?;
    let inputs = find_feature_files(&args.features)?;
    let outputs: Vec<PathBuf> = inputs
        .iter()
        .map(|input| {
            args.out
                .join(input.relative.with_extension("labels.safetensors"))
        })
        .collect();
    let mut distinct = BTreeSet::new();
    for output in &outputs {
        if !distinct.insert(output) {
            bail!(
                "two inputs would both write {} (rename one of them or assign them separately)",
                output.display()
            );
        }
    }
    let bar = progress::bar(inputs.len() as u64, "assigning");
    let mut vectors = 0;
    let mut used = vec![false; model.k()];
    for (input, output) in inputs.iter().zip(&outputs) {
        let features = read_features(&input.path)?;
        let labels = model
            .assign(features.features.view())
            .with_context(|| format!("could not label {}", input.path.display()))?;
        labels.iter().for_each(|&label| used[label as usize] = true);
        vectors += labels.len();
        let mut metadata = features.metadata;
        metadata.insert("features_file".to_owned(), input.path.display().to_string());
        if let Some(parent) = output.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
        }
        LabelsFile {
            labels: labels.into(),
            k: model.k(),
            metadata,
        }
        .write(output)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "labelled {vectors} vectors in {} files with {} of {} clusters → {}",
        inputs.len(),
        used.iter().filter(|&&u| u).count(),
        model.k(),
        args.out.display()
    );
    Ok(())
}

/// A feature file to read and where it sits relative to the argument that named it.
#[derive(Debug)]
struct FeatureInput {
    path: PathBuf,
    /// File name for file arguments; path below the directory for directory arguments.
    relative: PathBuf,
}

/// Expands file and directory arguments into feature files (directories recursively, sorted,
/// `*.safetensors` only).
fn find_feature_files(paths: &[PathBuf]) -> anyhow::Result<Vec<FeatureInput>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = files_with_extensions(path, &["safetensors"])?;
            if found.is_empty() {
                bail!("{} holds no *.safetensors files", path.display());
            }
            for file in found {
                let relative = file.strip_prefix(path).unwrap_or(&file).to_owned();
                inputs.push(FeatureInput {
                    path: file,
                    relative,
                });
            }
        } else if path.is_file() {
            let relative = path.file_name().map_or_else(|| path.clone(), PathBuf::from);
            inputs.push(FeatureInput {
                path: path.clone(),
                relative,
            });
        } else {
            bail!("feature path {} does not exist", path.display());
        }
    }
    Ok(inputs)
}

/// Reads a features file and rejects NaN/Inf values, naming the file and row.
fn read_features(path: &Path) -> anyhow::Result<FeaturesFile> {
    let features = FeaturesFile::read(path)?;
    check_finite(features.features.view())
        .with_context(|| format!("{} holds unusable features", path.display()))?;
    Ok(features)
}

/// All vectors of `inputs`, or a seeded uniform subset of at most `max_vectors`; also the
/// number of vectors read.
fn read_vectors(
    inputs: &[FeatureInput],
    max_vectors: Option<usize>,
    seed: u64,
) -> anyhow::Result<(Array2<f32>, u64)> {
    let bar = progress::bar(inputs.len() as u64, "reading");
    let mut reservoir: Option<(RowReservoir, &Path)> = None;
    for input in inputs {
        let features = read_features(&input.path)?.features;
        let (sample, first) = reservoir.get_or_insert_with(|| {
            let capacity = max_vectors.unwrap_or(usize::MAX);
            (
                RowReservoir::new(capacity, features.ncols(), seed),
                &input.path,
            )
        });
        if let Err(dims) = sample.offer(features.view()) {
            bail!(
                "{} holds {dims}-dimensional features, but {} holds {}-dimensional ones",
                input.path.display(),
                first.display(),
                sample.dim()
            );
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (sample, _) = reservoir.context("no feature files given")?;
    let read = sample.seen();
    Ok((sample.into_rows(), read))
}

/// `path` with `suffix` appended to its file name (`c.safetensors` → `c.safetensors.json`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}
