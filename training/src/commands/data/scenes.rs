//! `tessera data scenes`: render naturalistic two-ear scenes (WavJEPA-Nat) from folders of
//! source and noise recordings, as `scene_XXXXX.wav` (stereo float) plus `scene_XXXXX.json`
//! (every random choice, and the files used).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Args;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::channels::to_mono;
use tessera_core::audio::decode::{AUDIO_EXTENSIONS, decode_file};
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_core::dsp::resample::{ResampleQuality, resample};

use crate::data::scenes::{SceneConfig, SceneInfo, render_scene};
use crate::files::files_with_extensions;
use crate::progress;

/// Arguments of `tessera data scenes`.
#[derive(Debug, Args)]
pub struct ScenesArgs {
    /// Folder searched recursively for the sound sources (any audio format).
    #[arg(long)]
    pub sources: PathBuf,
    /// Folder searched recursively for the noise recordings.
    #[arg(long)]
    pub noise: PathBuf,
    /// Folder the scenes are written to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of scenes to render.
    #[arg(long)]
    pub count: usize,
    /// Seed of every random draw; scene `i` uses stream `i` of it, so any scene can be
    /// rendered again alone.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sample rate of the scenes, Hz.
    #[arg(long, default_value_t = 16_000)]
    pub sample_rate: u32,
    /// Longest scene, seconds (a random excerpt of longer sources is used).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
}

/// What `scene_XXXXX.json` holds.
#[derive(Serialize)]
struct SceneRecord<'a> {
    /// The source recording.
    source: &'a Path,
    /// Sample of the (resampled) source where the excerpt starts.
    source_offset: usize,
    /// The noise recordings; `scene.noises[i].clip` indexes this list.
    noise: Vec<&'a Path>,
    /// The `--seed` of the run.
    seed: u64,
    /// The random stream of this scene (its index).
    stream: u64,
    /// Everything drawn for the scene.
    scene: SceneInfo,
}

/// Audio files to draw from, forgetting those that fail to decode.
struct Library {
    /// What the files are, for messages.
    what: &'static str,
    /// Candidate files, sorted.
    paths: Vec<PathBuf>,
    /// Indices of files that could not be read.
    unreadable: HashSet<usize>,
}

impl Library {
    /// The audio files under `dir`; an error when there are none.
    fn find(dir: &Path, what: &'static str) -> anyhow::Result<Self> {
        let paths = files_with_extensions(dir, &AUDIO_EXTENSIONS)?;
        ensure!(
            !paths.is_empty(),
            "no {what} audio files ({}) found under {}",
            AUDIO_EXTENSIONS.join(", "),
            dir.display()
        );
        Ok(Self {
            what,
            paths,
            unreadable: HashSet::new(),
        })
    }

    /// A random readable, non-silent file as mono at `sample_rate`, with its index. Files
    /// that fail are reported with their path and never drawn again.
    fn draw(&mut self, rng: &mut impl Rng, sample_rate: u32) -> anyhow::Result<(usize, Vec<f32>)> {
        loop {
            if self.unreadable.len() == self.paths.len() {
                bail!(
                    "none of the {} {} files could be read",
                    self.paths.len(),
                    self.what
                );
            }
            let index = rng.random_range(0..self.paths.len());
            if self.unreadable.contains(&index) {
                continue;
            }
            match load_mono(&self.paths[index], sample_rate) {
                Ok(samples) => return Ok((index, samples)),
                Err(error) => {
                    eprintln!("skipping {}: {error:#}", self.paths[index].display());
                    self.unreadable.insert(index);
                }
            }
        }
    }
}

/// The file at `path` mixed to mono and resampled to `sample_rate`; silent files are errors,
/// since a scene cannot be mixed at an SNR from them.
fn load_mono(path: &Path, sample_rate: u32) -> anyhow::Result<Vec<f32>> {
    let audio = decode_file(path)?;
    let mono = to_mono(&audio).channels.swap_remove(0);
    let samples = resample(
        &mono,
        audio.sample_rate,
        sample_rate,
        ResampleQuality::Balanced,
    )?;
    ensure!(
        samples.iter().any(|v| *v != 0.0),
        "the audio is empty or silent"
    );
    Ok(samples)
}

/// Runs `tessera data scenes`.
pub fn run(args: &ScenesArgs) -> anyhow::Result<()> {
    ensure!(args.count > 0, "--count must be at least 1");
    ensure!(args.sample_rate > 0, "--sample-rate must be positive");
    ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds must be positive"
    );
    let config = SceneConfig {
        max_seconds: args.seconds,
        ..SceneConfig::default()
    };
    let mut sources = Library::find(&args.sources, "source")?;
    let mut noises = Library::find(&args.noise, "noise")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("could not create {}", args.out.display()))?;
    let scene_samples = (args.seconds * f64::from(args.sample_rate)) as usize;
    let most_noises = config.diffuse_sources[1];

    let started = Instant::now();
    let (mut diffuse, mut audio_seconds) = (0, 0.0);
    let mut snr_range = (f64::INFINITY, f64::NEG_INFINITY);
    let bar = progress::bar(args.count as u64, "scenes");
    for index in 0..args.count {
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        rng.set_stream(index as u64);
        let (source_index, source) = sources.draw(&mut rng, args.sample_rate)?;
        let source_offset = rng.random_range(0..=source.len().saturating_sub(scene_samples));
        let mut noise_indices = Vec::with_capacity(most_noises);
        let mut noise_clips = Vec::with_capacity(most_noises);
        for _ in 0..most_noises {
            let (noise_index, clip) = noises.draw(&mut rng, args.sample_rate)?;
            noise_indices.push(noise_index);
            noise_clips.push(clip);
        }
        let clips: Vec<&[f32]> = noise_clips.iter().map(Vec::as_slice).collect();
        let excerpt = &source[source_offset..];
        let (stereo, scene) = render_scene(&config, excerpt, &clips, args.sample_rate, &mut rng)
            .with_context(|| {
                format!(
                    "scene {index} from {}",
                    sources.paths[source_index].display()
                )
            })?;

        diffuse += usize::from(scene.diffuse);
        audio_seconds += scene.samples as f64 / f64::from(scene.sample_rate);
        snr_range = (snr_range.0.min(scene.snr_db), snr_range.1.max(scene.snr_db));
        let stem = args.out.join(format!("scene_{index:05}"));
        let wav = stem.with_extension("wav");
        let audio = AudioBuffer {
            sample_rate: args.sample_rate,
            channels: stereo,
        };
        write_wav(&wav, &audio, WavSampleFormat::Float32)?;
        let record = SceneRecord {
            source: &sources.paths[source_index],
            source_offset,
            noise: noise_indices
                .iter()
                .map(|&i| noises.paths[i].as_path())
                .collect(),
            seed: args.seed,
            stream: index as u64,
            scene,
        };
        let json = stem.with_extension("json");
        std::fs::write(&json, serde_json::to_string_pretty(&record)?)
            .with_context(|| format!("could not write {}", json.display()))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} two-ear scenes ({audio_seconds:.0} s of audio at {} Hz) in {}: {} with localised \
         noise, {diffuse} diffuse, SNR {:.1}–{:.1} dB; {elapsed:.1} s, {:.1}× real time",
        args.count,
        args.sample_rate,
        args.out.display(),
        args.count - diffuse,
        snr_range.0,
        snr_range.1,
        audio_seconds / elapsed.max(1e-9)
    );
    Ok(())
}
