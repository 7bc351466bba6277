//! `tessera data crops`: cut loudness-normalised training crops from a folder of real audio
//! and list them in a manifest.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};

use crate::data::manifest::{Manifest, ManifestEntry};
use crate::data::real_audio::{CropConfig, RealAudioCrops};
use crate::progress;

/// Arguments of `tessera data crops`.
#[derive(Debug, Args)]
pub struct CropsArgs {
    /// Folder searched recursively for WAV/FLAC/MP3/OGG/AIFF files and .pk3/.zip archives
    /// holding them.
    #[arg(long)]
    pub data: PathBuf,
    /// Folder to write crop_XXXXX.wav, manifest.csv, sources.csv and crops.json into.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of crops to cut.
    #[arg(long)]
    pub count: usize,
    /// Length of each crop in seconds.
    #[arg(long, default_value_t = 4.0)]
    pub seconds: f64,
    /// Sample rate of the crops in Hz.
    #[arg(long, default_value_t = 16_000)]
    pub sample_rate: u32,
    /// Seed of every random draw (which file, where in it).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep two channels (a stereo mix) instead of a mono mix.
    #[arg(long)]
    pub stereo: bool,
    /// Integrated loudness of every crop, in LUFS.
    #[arg(long, default_value_t = -23.0, allow_negative_numbers = true)]
    pub target_lufs: f64,
    /// Memory for decoded sources kept between draws, in MiB (decoding dominates the time).
    #[arg(long, default_value_t = 1024)]
    pub cache_mib: usize,
}

/// What `crops.json` records: everything needed to cut the same crops again.
#[derive(Debug, Serialize)]
struct RunRecord<'a> {
    /// The folder the crops came from.
    data: &'a std::path::Path,
    /// Number of crops.
    count: usize,
    /// Seed of the crop RNG (ChaCha8).
    seed: u64,
    /// How crops were cut and normalised.
    config: &'a CropConfig,
    /// Sources found unreadable: `[path, reason]`.
    skipped: Vec<(String, &'a str)>,
}

pub fn run(args: &CropsArgs) -> anyhow::Result<()> {
    let config = CropConfig {
        sample_rate: args.sample_rate,
        crop_secs: args.seconds,
        stereo: args.stereo,
        target_lufs: args.target_lufs,
        cache_mib: args.cache_mib,
        ..CropConfig::default()
    };
    let mut crops = RealAudioCrops::open(&args.data, config)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the folder", args.out.display()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut manifest = Manifest::default();
    let mut sources = csv::Writer::from_writer(Vec::new());
    sources.write_record(["path", "source", "start", "end", "loudness_lufs", "gain_db"])?;
    let bar = progress::bar(args.count as u64, "crops");
    for i in 0..args.count {
        let crop = crops.next_crop(&mut rng)?;
        let name = format!("crop_{i:05}.wav");
        let path = args.out.join(&name);
        write_wav(&path, &crop.audio, WavSampleFormat::Float32)?;
        sources.write_record([
            name,
            crop.source.name().display().to_string(),
            crop.start_secs.to_string(),
            crop.end_secs.to_string(),
            format!("{:.2}", crop.loudness_lufs),
            format!("{:.2}", crop.gain_db),
        ])?;
        manifest.entries.push(ManifestEntry {
            path,
            label: crop.source.file_name(),
            split: "train".into(),
            start: None,
            end: None,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();

    manifest.write(&args.out.join("manifest.csv"))?;
    let sources_path = args.out.join("sources.csv");
    let sources = sources
        .into_inner()
        .map_err(|err| anyhow::anyhow!("cannot format {}: {err}", sources_path.display()))?;
    std::fs::write(&sources_path, sources)
        .with_context(|| format!("{}: cannot write", sources_path.display()))?;
    let record = RunRecord {
        data: &args.data,
        count: args.count,
        seed: args.seed,
        config: crops.config(),
        skipped: crops
            .skipped()
            .iter()
            .map(|(path, reason)| (path.display().to_string(), reason.as_str()))
            .collect(),
    };
    let record_path = args.out.join("crops.json");
    std::fs::write(&record_path, serde_json::to_string_pretty(&record)?)
        .with_context(|| format!("{}: cannot write", record_path.display()))?;

    println!(
        "wrote {} crops of {} s at {} Hz to {} (manifest.csv, sources.csv); \
         {} audio files found, {} unreadable files or archives skipped",
        args.count,
        args.seconds,
        args.sample_rate,
        args.out.display(),
        crops.sources().len(),
        crops.skipped().len()
    );
    Ok(())
}
