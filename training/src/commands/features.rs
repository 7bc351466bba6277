//! `tessera features primitive`: PaC-HuBERT's primitive auditory features (48 values per
//! spectrogram patch) for every audio file under a directory, one features file per input —
//! the input of `tessera cluster fit`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::{Args, Subcommand};
use ndarray::Array2;
use serde::Serialize;
use tessera_core::audio::decode::AUDIO_EXTENSIONS;
use tessera_core::features_file::FeaturesFile;
use tessera_core::models::PacHubert;
use tessera_core::models::separator::CHANNELS;
use tessera_core::primitives::features::{
    PRIMITIVE_NAMES, PrimitiveFeatures, PrimitiveFeaturesConfig, SegmentGrid, feature_names,
};

use crate::data::stereo::{StereoAudio, read_stereo};
use crate::files::files_with_extensions;
use crate::progress;

/// Names of the records of the runs, written into the output directory.
const RUN_RECORD: &str = "primitive_features.json";
const LAYER_RUN_RECORD: &str = "pac_hubert_features.json";
/// Chunks the network reads at once.
const LAYER_BATCH: usize = 8;

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
    /// One bottleneck block's output of a pretrained PaC-HuBERT per token, on the patch grid
    /// `primitive` uses with the model's STFT: what the second iteration (2SSL) clusters.
    PacHubert(LayerArgs),
}

/// Arguments of `tessera features pac-hubert`.
#[derive(Debug, Args)]
pub struct LayerArgs {
    /// A PaC-HuBERT model or checkpoint (`tessera pretrain pac-hubert --out RUN` →
    /// `RUN/model.safetensors`).
    #[arg(long)]
    pub model: PathBuf,
    /// The bottleneck block whose output is taken, counted from 1 (the paper takes the 6th
    /// of 12).
    #[arg(long)]
    pub layer: usize,
    /// Directory searched recursively for audio (WAV, FLAC, MP3, OGG, AIFF).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory: `<relative path of the input>.safetensors` per input, plus
    /// `pac_hubert_features.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Segments analysed independently, seconds: give the value the first iteration's
    /// primitive features used, so both cut the audio alike.
    #[arg(long, default_value_t = 30.0)]
    pub segment_secs: f64,
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
        FeaturesCommand::PacHubert(args) => layers(args).map(|_| ()),
    }
}

/// What a `tessera features` run did, written as JSON into the output directory.
#[derive(Debug, Serialize)]
pub struct FeaturesRun<C> {
    /// The feature configuration used.
    pub config: C,
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
pub fn primitive(args: &PrimitiveArgs) -> anyhow::Result<FeaturesRun<PrimitiveFeaturesConfig>> {
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
    for_each_audio_file(
        &args.data,
        &args.out,
        RUN_RECORD,
        config,
        |input, relative| features_of(&extractor, input, relative),
    )
}

/// Runs `extract` (audio file, its path below `data` → features and seconds of audio) on
/// every audio file under `data`, writing `<relative path>.safetensors` under `out` and the
/// run's record as `out/record_name`; a file that fails is skipped with its reason.
fn for_each_audio_file<C: Serialize>(
    data: &Path,
    out: &Path,
    record_name: &str,
    config: C,
    extract: impl Fn(&Path, &Path) -> anyhow::Result<(FeaturesFile, f64)>,
) -> anyhow::Result<FeaturesRun<C>> {
    let started = Instant::now();
    if !data.is_dir() {
        bail!("--data {} is not a directory", data.display());
    }
    let inputs = files_with_extensions(data, &AUDIO_EXTENSIONS)?;
    if inputs.is_empty() {
        bail!(
            "{} holds no audio files ({})",
            data.display(),
            AUDIO_EXTENSIONS.join(", ")
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))?;

    let bar = progress::bar(inputs.len() as u64, "features");
    let mut record = FeaturesRun {
        config,
        data: data.to_owned(),
        files_found: inputs.len(),
        files_written: 0,
        skipped: Vec::new(),
        patches: 0,
        audio_secs: 0.0,
        seconds: 0.0,
    };
    for input in &inputs {
        let relative = input.strip_prefix(data).unwrap_or(input);
        bar.set_message(relative.display().to_string());
        match extract(input, relative) {
            Ok((features, audio_secs)) => {
                let path = out.join(format!("{}.safetensors", relative.display()));
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("could not create {}", parent.display()))?;
                }
                features
                    .write(&path)
                    .with_context(|| format!("could not write {}", path.display()))?;
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
    let record_path = out.join(record_name);
    std::fs::write(&record_path, serde_json::to_string_pretty(&record)? + "\n")
        .with_context(|| format!("could not write {}", record_path.display()))?;
    println!(
        "{} of {} files → {} patches in {}; {:.1} s of audio in {:.1} s ({:.1}× real time); {} \
         skipped",
        record.files_written,
        record.files_found,
        record.patches,
        out.display(),
        record.audio_secs,
        record.seconds,
        record.audio_secs / record.seconds.max(1e-9),
        record.skipped.len()
    );
    if record.files_written == 0 {
        let first = record
            .skipped
            .first()
            .map(|s| s.reason.as_str())
            .unwrap_or("");
        bail!(
            "none of the {} audio files under {} could be analysed (the first: {first})",
            record.files_found,
            data.display()
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
    let config = extractor.config();
    let audio = read_stereo(path, config.sample_rate)?;
    let planar: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let features = extractor.extract(&planar)?;
    let mut metadata = grid_metadata(config, relative, &audio, &features.segments)?;
    for (key, value) in [
        ("kind", "pac_hubert_primitive".to_owned()),
        ("primitives", PRIMITIVE_NAMES.join(",")),
        ("feature_layout", feature_names().join(",")),
        (
            "compression",
            serde_json::to_string(&config.compression)?
                .trim_matches('"')
                .to_owned(),
        ),
    ] {
        metadata.insert(key.to_owned(), value);
    }
    Ok((
        FeaturesFile {
            features: features.features,
            metadata,
        },
        audio.seconds,
    ))
}

/// What every features file records of its audio and patch grid: the source (relative to
/// `--data`, as PaC-HuBERT's training data finds it), the STFT, the patches and segments.
fn grid_metadata(
    config: &PrimitiveFeaturesConfig,
    relative: &Path,
    audio: &StereoAudio,
    segments: &[SegmentGrid],
) -> anyhow::Result<BTreeMap<String, String>> {
    Ok([
        ("source", relative.display().to_string()),
        ("source_sample_rate", audio.source_rate.to_string()),
        ("source_channels", audio.source_channels.to_string()),
        ("sample_rate", config.sample_rate.to_string()),
        ("n_fft", config.n_fft.to_string()),
        ("hop_length", config.hop_length.to_string()),
        ("patch_time", config.patch_time.to_string()),
        ("patch_freq", config.patch_freq.to_string()),
        ("segments", serde_json::to_string(segments)?),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect())
}

/// What `tessera features pac-hubert` used, written into its record.
#[derive(Debug, Serialize)]
pub struct LayerFeaturesConfig {
    /// The model read.
    pub model: PathBuf,
    /// The bottleneck block, from 1.
    pub layer: usize,
    /// The grid the rows follow (the model's STFT and patches).
    pub grid: PrimitiveFeaturesConfig,
}

/// Computes the layer features of every audio file under `args.data`.
pub fn layers(args: &LayerArgs) -> anyhow::Result<FeaturesRun<LayerFeaturesConfig>> {
    let device = candle_core::Device::Cpu;
    let model = PacHubert::load(&args.model, &device)?;
    let separator = &model.config().separator;
    let depth = separator.bottleneck.depth;
    ensure!(
        (1..=depth).contains(&args.layer),
        "--layer {}: {} has bottleneck blocks 1 to {depth}",
        args.layer,
        args.model.display()
    );
    let (patch_time, patch_freq) = separator.patch();
    let grid = PrimitiveFeaturesConfig {
        sample_rate: separator.sample_rate,
        n_fft: separator.n_fft,
        hop_length: separator.hop,
        patch_time,
        patch_freq,
        segment_secs: Some(args.segment_secs),
        ..PrimitiveFeaturesConfig::default()
    };
    let patches = PrimitiveFeatures::new(grid.clone())?;
    let config = LayerFeaturesConfig {
        model: args.model.clone(),
        layer: args.layer,
        grid,
    };
    for_each_audio_file(
        &args.data,
        &args.out,
        LAYER_RUN_RECORD,
        config,
        |input, relative| {
            let audio = read_stereo(input, separator.sample_rate)?;
            let segments = patches.segment_grids(audio.channels[0].len())?;
            let features = layer_rows(&model, args.layer, &audio.channels, &segments, &device)?;
            let mut metadata = grid_metadata(patches.config(), relative, &audio, &segments)?;
            metadata.insert("kind".to_owned(), "pac_hubert_layer".to_owned());
            metadata.insert("layer".to_owned(), args.layer.to_string());
            metadata.insert("model".to_owned(), args.model.display().to_string());
            Ok((FeaturesFile { features, metadata }, audio.seconds))
        },
    )
}

/// The `layer`'s output for every patch of `segments`, in the rows' order of primitive
/// features (segment by segment, frequency patch by time patch). Each segment is read in
/// chunks of the model's token steps, the last one zero-padded.
fn layer_rows(
    model: &PacHubert,
    layer: usize,
    audio: &[Vec<f32>; CHANNELS],
    segments: &[SegmentGrid],
    device: &candle_core::Device,
) -> anyhow::Result<Array2<f32>> {
    let separator = &model.config().separator;
    let (steps, freqs) = model.token_grid();
    let step_samples = separator.patch().0 * separator.hop;
    let chunk_samples = separator.chunk_samples();
    let dim = separator.bottleneck.dim;
    let total: usize = segments
        .iter()
        .map(|s| s.freq_patches * s.time_patches)
        .sum();
    let mut rows = Array2::<f32>::zeros((total, dim));
    let mut offset = 0;
    for segment in segments {
        ensure!(
            segment.freq_patches == freqs,
            "the patch grid has {} frequency patches, the model {freqs}",
            segment.freq_patches
        );
        let end = segment.start_sample + segment.samples;
        let chunk_starts: Vec<usize> = (0..segment.time_patches.div_ceil(steps))
            .map(|k| segment.start_sample + k * steps * step_samples)
            .collect();
        for (batch_index, starts) in chunk_starts.chunks(LAYER_BATCH).enumerate() {
            let chunks: Vec<[Vec<f32>; CHANNELS]> = starts
                .iter()
                .map(|&start| {
                    std::array::from_fn(|c| {
                        let mut chunk = audio[c][start..(start + chunk_samples).min(end)].to_vec();
                        chunk.resize(chunk_samples, 0.0);
                        chunk
                    })
                })
                .collect();
            let features = model.spectra(&chunks, device)?.features;
            let outputs = model.layer_outputs(&features)?;
            let tokens = outputs[layer - 1].to_vec3::<f32>()?;
            for (i, chunk) in tokens.iter().enumerate() {
                let first_step = (batch_index * LAYER_BATCH + i) * steps;
                for (token, values) in chunk.iter().enumerate() {
                    let (t, f) = (first_step + token / freqs, token % freqs);
                    if t < segment.time_patches {
                        let row = offset + f * segment.time_patches + t;
                        rows.row_mut(row)
                            .assign(&ndarray::ArrayView1::from(values.as_slice()));
                    }
                }
            }
        }
        offset += segment.freq_patches * segment.time_patches;
    }
    Ok(rows)
}
