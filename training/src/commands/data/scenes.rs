//! `tessera data scenes`: render naturalistic two-ear scenes (WavJEPA-Nat) from folders of
//! source and noise recordings, as `scene_XXXXX.wav` (stereo float) plus `scene_XXXXX.json`
//! (every random choice, and the files used).
//!
//! With `--labels MANIFEST` the sources are a labelled manifest's clips instead, and the
//! scenes get a manifest of their own (`scenes.csv`, same labels and splits): a reverberant,
//! noisy version of a probing task, as Nat-HEAR is of HEAR.

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

use crate::data::manifest::{Manifest, ManifestEntry};
use crate::data::scenes::{SceneConfig, SceneInfo, render_scene};
use crate::files::files_with_extensions;
use crate::probe::entry_audio;
use crate::progress;

/// The manifest of scenes rendered from labelled clips, in the output folder.
pub const SCENES_MANIFEST: &str = "scenes.csv";

/// Arguments of `tessera data scenes`.
#[derive(Debug, Args)]
pub struct ScenesArgs {
    /// Folder searched recursively for the sound sources (any audio format).
    #[arg(long, required_unless_present = "labels", conflicts_with = "labels")]
    pub sources: Option<PathBuf>,
    /// A labelled manifest (`tessera probe`'s format) whose clips are the sources, one scene
    /// each, in order; the scenes' own manifest is written to `OUT/scenes.csv`.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Folder searched recursively for the noise recordings.
    #[arg(long)]
    pub noise: PathBuf,
    /// Folder the scenes are written to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of scenes to render; with --labels, that many of the manifest's clips, evenly
    /// spaced through it (all of them by default).
    #[arg(long, required_unless_present = "labels")]
    pub count: Option<usize>,
    /// Seed of every random draw; scene `i` uses stream `i` of it, so any scene can be
    /// rendered again alone.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sample rate of the scenes, Hz.
    #[arg(long, default_value_t = 16_000)]
    pub sample_rate: u32,
    /// Longest scene, seconds (a random excerpt of longer sources is used; the start of a
    /// labelled clip).
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
    /// The source clip's label, with --labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
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

/// Where the scenes' sources come from.
enum Sources {
    /// A random excerpt of a random file per scene.
    Drawn(Library),
    /// The clips of a labelled manifest, one per scene.
    Labelled(Vec<ManifestEntry>),
}

/// The source of one scene.
struct Source {
    /// Its file.
    path: PathBuf,
    /// Sample of the (resampled) file where the excerpt starts.
    offset: usize,
    /// Its label and split, for labelled sources.
    labelled: Option<(String, String)>,
    /// The excerpt, mono; the scene uses as much of it as fits.
    samples: Vec<f32>,
}

impl Sources {
    /// The sources `args` name and the number of scenes to render.
    fn open(args: &ScenesArgs) -> anyhow::Result<(Self, usize)> {
        if let Some(manifest) = &args.labels {
            let entries = Manifest::read(manifest)?.entries;
            ensure!(!entries.is_empty(), "{} has no clips", manifest.display());
            let count = args.count.unwrap_or(entries.len());
            ensure!(
                (1..=entries.len()).contains(&count),
                "--count must be 1 to the {} clips of {}",
                entries.len(),
                manifest.display()
            );
            // Evenly spaced, so every part of a sorted manifest (fonts, instruments,
            // pitches) keeps its share.
            let chosen = (0..count)
                .map(|i| entries[i * entries.len() / count].clone())
                .collect();
            Ok((Self::Labelled(chosen), count))
        } else {
            let folder = args
                .sources
                .as_ref()
                .expect("clap requires --sources or --labels");
            let count = args.count.expect("clap requires --count with --sources");
            ensure!(count > 0, "--count must be at least 1");
            Ok((Self::Drawn(Library::find(folder, "source")?), count))
        }
    }

    /// The source of scene `index`, `rng` being that scene's random stream.
    fn get(
        &mut self,
        index: usize,
        rng: &mut impl Rng,
        sample_rate: u32,
        scene_samples: usize,
    ) -> anyhow::Result<Source> {
        match self {
            Self::Drawn(library) => {
                let (file, mut samples) = library.draw(rng, sample_rate)?;
                let offset = rng.random_range(0..=samples.len().saturating_sub(scene_samples));
                samples.drain(..offset);
                Ok(Source {
                    path: library.paths[file].clone(),
                    offset,
                    labelled: None,
                    samples,
                })
            }
            Self::Labelled(entries) => {
                let entry = &entries[index];
                let samples = entry_audio(entry, sample_rate, 1)?.swap_remove(0);
                Ok(Source {
                    path: entry.path.clone(),
                    offset: (entry.start.unwrap_or(0.0) * f64::from(sample_rate)).round() as usize,
                    labelled: Some((entry.label.clone(), entry.split.clone())),
                    samples,
                })
            }
        }
    }
}

/// Runs `tessera data scenes`.
pub fn run(args: &ScenesArgs) -> anyhow::Result<()> {
    ensure!(args.sample_rate > 0, "--sample-rate must be positive");
    ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds must be positive"
    );
    let config = SceneConfig {
        max_seconds: args.seconds,
        ..SceneConfig::default()
    };
    let (mut sources, count) = Sources::open(args)?;
    let mut noises = Library::find(&args.noise, "noise")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("could not create {}", args.out.display()))?;
    let scene_samples = (args.seconds * f64::from(args.sample_rate)) as usize;
    let most_noises = config.diffuse_sources[1];

    let started = Instant::now();
    let (mut diffuse, mut audio_seconds) = (0, 0.0);
    let mut snr_range = (f64::INFINITY, f64::NEG_INFINITY);
    let mut labelled = Manifest::default();
    let bar = progress::bar(count as u64, "scenes");
    for index in 0..count {
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        rng.set_stream(index as u64);
        let source = sources.get(index, &mut rng, args.sample_rate, scene_samples)?;
        let mut noise_indices = Vec::with_capacity(most_noises);
        let mut noise_clips = Vec::with_capacity(most_noises);
        for _ in 0..most_noises {
            let (noise_index, clip) = noises.draw(&mut rng, args.sample_rate)?;
            noise_indices.push(noise_index);
            noise_clips.push(clip);
        }
        let clips: Vec<&[f32]> = noise_clips.iter().map(Vec::as_slice).collect();
        let (stereo, scene) =
            render_scene(&config, &source.samples, &clips, args.sample_rate, &mut rng)
                .with_context(|| format!("scene {index} from {}", source.path.display()))?;

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
        if let Some((label, split)) = &source.labelled {
            labelled.entries.push(ManifestEntry {
                path: wav.clone(),
                label: label.clone(),
                split: split.clone(),
                start: None,
                end: None,
            });
        }
        let record = SceneRecord {
            source: &source.path,
            source_offset: source.offset,
            label: source.labelled.as_ref().map(|(label, _)| label.as_str()),
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
    if !labelled.entries.is_empty() {
        labelled.write(&args.out.join(SCENES_MANIFEST))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} two-ear scenes ({audio_seconds:.0} s of audio at {} Hz) in {}: {} with localised \
         noise, {diffuse} diffuse, SNR {:.1}–{:.1} dB; {elapsed:.1} s, {:.1}× real time",
        count,
        args.sample_rate,
        args.out.display(),
        count - diffuse,
        snr_range.0,
        snr_range.1,
        audio_seconds / elapsed.max(1e-9)
    );
    Ok(())
}
