//! `tessera features primitive`: PaC-HuBERT's primitive auditory features (48 values per
//! spectrogram patch) for every audio file under a directory, one features file per input —
//! the input of `tessera cluster fit`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use tessera_core::audio::decode::AUDIO_EXTENSIONS;
use tessera_core::audio::{channels, decode};
use tessera_core::dsp::resample::{ResampleQuality, resample_planar};
use tessera_core::features_file::FeaturesFile;
use tessera_core::primitives::features::{
    FEATURE_DIM, PRIMITIVE_NAMES, PrimitiveFeatures, PrimitiveFeaturesConfig, feature_names,
};

use crate::files::files_with_extensions;
use crate::progress;

/// Name of the record of the run, written into the output directory.
const RUN_RECORD: &str = "primitive_features.json";

/// Arguments of `tessera features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Which features to compute.
    #[command(subcommand)]
    pub command: FeaturesCommand,
}

/// The `tessera features` subcommands.
#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// PaC-HuBERT's primitive features: HPSS, REPET, REPET-SIM, FT2D-M, FT2D-R and melody
    /// foreground/background means over the low and high halves of every patch (48 per patch).
    Primitive(PrimitiveArgs),
}

/// Arguments of `tessera features primitive`.
#[derive(Debug, Args)]
pub struct PrimitiveArgs {
    /// Directory searched recursively for audio (WAV, FLAC, MP3, OGG, AIFF).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory: `<relative path of the input>.safetensors` per input (e.g.
    /// `a/song.flac` → `a/song.flac.safetensors`), plus `primitive_features.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Rate the audio is analysed at, Hz (resampled to it).
    #[arg(long, default_value_t = 44_100)]
    pub sample_rate: u32,
    /// STFT length.
    #[arg(long, default_value_t = 2048)]
    pub n_fft: usize,
    /// STFT hop: the paper's 441 (10 ms); 512 for labels that Separator-Tiny's PaC-HuBERT
    /// trains on (its STFT hop).
    #[arg(long, default_value_t = 441)]
    pub hop: usize,
    /// Patch width P_t in STFT frames.
    #[arg(long, default_value_t = 32)]
    pub patch_time: usize,
    /// Patch height P_f in frequency bins (even; the n_fft / 2 bins below Nyquist are used).
    #[arg(long, default_value_t = 64)]
    pub patch_freq: usize,
    /// Analyse consecutive segments of this many seconds independently. The default matches
    /// the 30-s FMA clips the PaC-HuBERT paper extracted its features from, and bounds
    /// REPET-SIM's cost, which grows with the square of the analysed length.
    #[arg(long, default_value_t = 30.0)]
    pub segment_secs: f64,
}

/// Runs `tessera features ...`.
pub fn run(args: &FeaturesArgs) -> anyhow::Result<()> {
    match &args.command {
        FeaturesCommand::Primitive(args) => primitive(args).map(|_| ()),
    }
}

/// What `tessera features primitive` did, written as `primitive_features.json` in the output
/// directory.
#[derive(Debug, Serialize)]
pub struct PrimitiveRun {
    /// The feature configuration used.
    pub config: PrimitiveFeaturesConfig,
    /// The searched directory.
    pub data: PathBuf,
    /// Audio files found.
    pub files_found: usize,
    /// Features files written.
    pub files_written: usize,
    /// Inputs skipped, with the reason (unreadable, or too short for the primitives).
    pub skipped: Vec<SkippedFile>,
    /// Patches (feature vectors) written in total.
    pub patches: usize,
    /// Seconds of audio analysed.
    pub audio_secs: f64,
    /// Wall-clock seconds the run took.
    pub seconds: f64,
}

/// An input that produced no features, and why.
#[derive(Debug, Serialize)]
pub struct SkippedFile {
    /// The input file.
    pub path: PathBuf,
    /// The error, one sentence.
    pub reason: String,
}

/// Computes the features of every audio file under `args.data`; returns the run's record.
pub fn primitive(args: &PrimitiveArgs) -> anyhow::Result<PrimitiveRun> {
    let started = Instant::now();
    let config = PrimitiveFeaturesConfig {
        sample_rate: args.sample_rate,
        n_fft: args.n_fft,
        hop_length: args.hop,
        patch_time: args.patch_time,
        patch_freq: args.patch_freq,
        segment_secs: Some(args.segment_secs),
        ..PrimitiveFeaturesConfig::default()
    };
    let extractor = PrimitiveFeatures::new(config.clone())?;
    if !args.data.is_dir() {
        bail!("--data {} is not a directory", args.data.display());
    }
    let inputs = files_with_extensions(&args.data, &AUDIO_EXTENSIONS)?;
    if inputs.is_empty() {
        bail!(
            "{} holds no audio files ({})",
            args.data.display(),
            AUDIO_EXTENSIONS.join(", ")
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("could not create {}", args.out.display()))?;

    let bar = progress::bar(inputs.len() as u64, "features");
    let mut record = PrimitiveRun {
        config,
        data: args.data.clone(),
        files_found: inputs.len(),
        files_written: 0,
        skipped: Vec::new(),
        patches: 0,
        audio_secs: 0.0,
        seconds: 0.0,
    };
    for input in &inputs {
        let relative = input.strip_prefix(&args.data).unwrap_or(input);
        bar.set_message(relative.display().to_string());
        match features_of(&extractor, input, relative) {
            Ok((features, audio_secs)) => {
                let out = args.out.join(format!("{}.safetensors", relative.display()));
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("could not create {}", parent.display()))?;
                }
                features
                    .write(&out)
                    .with_context(|| format!("could not write {}", out.display()))?;
                record.files_written += 1;
                record.patches += features.features.nrows();
                record.audio_secs += audio_secs;
            }
            Err(error) => {
                let reason = format!("{error:#}");
                bar.println(format!("skipping {}: {reason}", input.display()));
                record.skipped.push(SkippedFile {
                    path: input.clone(),
                    reason,
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    record.seconds = started.elapsed().as_secs_f64();
    let record_path = args.out.join(RUN_RECORD);
    std::fs::write(&record_path, serde_json::to_string_pretty(&record)? + "\n")
        .with_context(|| format!("could not write {}", record_path.display()))?;
    println!(
        "{} of {} files → {} patches × {FEATURE_DIM} features in {}; {:.1} s of audio in \
         {:.1} s ({:.1}× real time); {} skipped",
        record.files_written,
        record.files_found,
        record.patches,
        args.out.display(),
        record.audio_secs,
        record.seconds,
        record.audio_secs / record.seconds.max(1e-9),
        record.skipped.len()
    );
    if record.files_written == 0 {
        bail!(
            "none of the {} audio files under {} could be analysed",
            record.files_found,
            args.data.display()
        );
    }
    Ok(record)
}

/// Decodes, converts (stereo, the configured rate) and analyses one file; returns its
/// features file and its duration in seconds.
fn features_of(
    extractor: &PrimitiveFeatures,
    path: &Path,
    relative: &Path,
) -> anyhow::Result<(FeaturesFile, f64)> {
    let audio = decode::decode_file(path)?;
    let stereo = channels::to_stereo(&audio);
    let rate = extractor.config().sample_rate;
    let planar: Vec<&[f32]> = stereo.channels.iter().map(Vec::as_slice).collect();
    let resampled = resample_planar(&planar, audio.sample_rate, rate, ResampleQuality::Balanced)
        .with_context(|| format!("cannot resample from {} Hz", audio.sample_rate))?;
    let planar: Vec<&[f32]> = resampled.iter().map(Vec::as_slice).collect();
    let features = extractor.extract(&planar)?;
    let config = extractor.config();
    let metadata = [
        ("kind", "pac_hubert_primitive".to_owned()),
        ("source", relative.display().to_string()),
        ("source_sample_rate", audio.sample_rate.to_string()),
        ("source_channels", audio.num_channels().to_string()),
        ("sample_rate", rate.to_string()),
        ("n_fft", config.n_fft.to_string()),
        ("hop_length", config.hop_length.to_string()),
        ("patch_time", config.patch_time.to_string()),
        ("patch_freq", config.patch_freq.to_string()),
        ("primitives", PRIMITIVE_NAMES.join(",")),
        ("feature_layout", feature_names().join(",")),
        (
            "compression",
            serde_json::to_string(&config.compression)?
                .trim_matches('"')
                .to_owned(),
        ),
        ("segments", serde_json::to_string(&features.segments)?),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    Ok((
        FeaturesFile {
            features: features.features,
            metadata,
        },
        audio.duration_secs(),
    ))
}
