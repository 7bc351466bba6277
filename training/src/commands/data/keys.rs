//! `tessera data keys`: short clips of composed songs labelled with their key and tempo, as
//! `clips/clip_00000.wav` (mono float), two manifests over the same clips and splits —
//! `keys.csv` (label = tonic and mode, e.g. "A minor", 24 classes) and `tempo.csv` (label =
//! 20-bpm tempo band, e.g. "110-129 bpm", 5 classes) — and `clips.json` (the settings and each
//! clip's exact bpm, meter, place in its song, chords and the key its chroma suggests).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Args;
use serde::Serialize;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};

use crate::data::manifest::{Manifest, ManifestEntry};
use crate::data::songs::Stem;
use crate::data::songs::key_clips::{
    TEMPO_BANDS, balanced_labels, render_clip, stratified_splits, tempo_label,
};
use crate::data::songs::key_finding::{chroma, estimate_key};
use crate::data::soundfont::{DEFAULT_SOUNDFONT, load_soundfont};
use crate::progress;

/// Arguments of `tessera data keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Folder the clips, manifests and `clips.json` are written to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of clips; each block of 24 clips (0–23, 24–47, …) holds each key once.
    #[arg(long)]
    pub count: usize,
    /// Length of each clip, seconds.
    #[arg(long, default_value_t = 8.0)]
    pub seconds: f64,
    /// The SF2 SoundFont to render with (SF3 is not supported).
    #[arg(long, default_value = DEFAULT_SOUNDFONT)]
    pub soundfont: PathBuf,
    /// Seed of the label schedule and every song; clip `i` comes from song stream `i`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stems mixed into the clips, comma-separated; the default is the instrumental mixture.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Stem::Drums, Stem::Bass, Stem::Other])]
    pub stems: Vec<Stem>,
    /// Sample rate of the clips, Hz.
    #[arg(long, default_value_t = 16_000)]
    pub sample_rate: u32,
    /// Fraction of each key's clips in the test split.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Fraction of each key's clips in the valid split.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
}

/// What `clips.json` holds.
#[derive(Serialize)]
struct ClipsRecord<'a> {
    /// The SoundFont rendered with.
    soundfont: &'a Path,
    /// The `--seed` of the run.
    seed: u64,
    /// Clip length, seconds.
    seconds: f64,
    /// Sample rate of the clips.
    sample_rate: u32,
    /// The stems mixed into every clip.
    stems: &'a [Stem],
    /// Each clip, in file order.
    clips: Vec<ClipRecord>,
}

/// One clip in `clips.json`.
#[derive(Serialize)]
struct ClipRecord {
    /// File name inside `clips/`.
    file: String,
    /// The key label.
    key: String,
    /// The exact tempo, bpm.
    tempo_bpm: f64,
    /// The tempo label.
    tempo_band: String,
    /// Beats per bar.
    beats_per_bar: usize,
    /// Where the clip starts in its song, seconds.
    song_start: f64,
    /// The chords sounding in the clip, in order.
    chords: Vec<String>,
    /// The key the clip's chroma profile correlates with best (Krumhansl–Schmuckler).
    chroma_key: String,
    /// The split of the clip in both manifests.
    split: &'static str,
}

/// Runs `tessera data keys`.
pub fn run(args: &KeysArgs) -> anyhow::Result<()> {
    ensure!(args.count > 0, "--count must be at least 1");
    ensure!(
        args.seconds.is_finite() && args.seconds >= 1.0 && args.seconds <= 600.0,
        "--seconds must be between 1 and 600, got {}",
        args.seconds
    );
    ensure!(!args.stems.is_empty(), "--stems needs at least one stem");
    ensure!(
        (1_000..=192_000).contains(&args.sample_rate),
        "--sample-rate must be between 1000 and 192000 Hz, got {}",
        args.sample_rate
    );
    ensure!(
        args.test_fraction >= 0.0
            && args.valid_fraction >= 0.0
            && args.test_fraction + args.valid_fraction < 1.0,
        "--test-fraction and --valid-fraction must be non-negative and leave clips for training"
    );
    let sound_font = load_soundfont(&args.soundfont)?;
    let clips_dir = args.out.join("clips");
    std::fs::create_dir_all(&clips_dir)
        .with_context(|| format!("cannot create {}", clips_dir.display()))?;

    let labels = balanced_labels(args.count, args.seed);
    let key_labels: Vec<String> = labels.iter().map(|l| l.key.name()).collect();
    let splits = stratified_splits(&key_labels, args.test_fraction, args.valid_fraction);
    let started = Instant::now();
    let bar = progress::bar(args.count as u64, "clips");
    let (mut keys, mut tempi, mut clips) = (Vec::new(), Vec::new(), Vec::new());
    let mut agree = 0;
    for (index, (clip_labels, split)) in labels.iter().zip(&splits).enumerate() {
        let clip = render_clip(
            &sound_font.sound_font,
            args.seed,
            index as u64,
            *clip_labels,
            args.seconds,
            &args.stems,
            args.sample_rate,
        )
        .with_context(|| format!("cannot render clip {index}"))?;
        let file = format!("clip_{index:05}.wav");
        let path = clips_dir.join(&file);
        let audio = AudioBuffer {
            sample_rate: args.sample_rate,
            channels: vec![clip.audio],
        };
        write_wav(&path, &audio, WavSampleFormat::Float32)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let heard = estimate_key(&chroma(&audio.channels[0], args.sample_rate)?);
        agree += usize::from(heard == clip_labels.key);
        let entry = |label: String| ManifestEntry {
            path: path.clone(),
            label,
            split: (*split).to_owned(),
            start: None,
            end: None,
        };
        keys.push(entry(clip.plan.key_name.clone()));
        tempi.push(entry(tempo_label(clip.plan.tempo_bpm)));
        let clip_end = clip.start + args.seconds;
        let chords = clip
            .plan
            .chords
            .iter()
            .zip(
                clip.plan
                    .chords
                    .iter()
                    .skip(1)
                    .map(|c| c.start)
                    .chain([f64::INFINITY]),
            )
            .filter(|(chord, next_start)| chord.start < clip_end && *next_start > clip.start)
            .map(|(chord, _)| chord.symbol.clone())
            .collect();
        clips.push(ClipRecord {
            file,
            key: clip.plan.key_name.clone(),
            tempo_bpm: clip.plan.tempo_bpm,
            tempo_band: tempo_label(clip.plan.tempo_bpm),
            beats_per_bar: clip.plan.beats_per_bar,
            song_start: clip.start,
            chords,
            chroma_key: heard.name(),
            split,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    Manifest { entries: keys }.write(&args.out.join("keys.csv"))?;
    Manifest { entries: tempi }.write(&args.out.join("tempo.csv"))?;
    let record = ClipsRecord {
        soundfont: &sound_font.path,
        seed: args.seed,
        seconds: args.seconds,
        sample_rate: args.sample_rate,
        stems: &args.stems,
        clips,
    };
    let json = args.out.join("clips.json");
    std::fs::write(&json, serde_json::to_string_pretty(&record)?)
        .with_context(|| format!("cannot write {}", json.display()))?;
    let stems: Vec<&str> = args.stems.iter().map(|s| s.name()).collect();
    let audio_seconds = args.count as f64 * args.seconds;
    println!(
        "{} key clips ({} s each, {}) in {}: {} keys, {} tempo bands; the chroma's key agrees \
         with the label for {agree}/{} ({:.0} %); {elapsed:.1} s, {:.1}× real time",
        args.count,
        args.seconds,
        stems.join("+"),
        args.out.display(),
        args.count.min(24),
        args.count.min(TEMPO_BANDS.len()),
        args.count,
        100.0 * agree as f64 / args.count as f64,
        audio_seconds / elapsed.max(1e-9)
    );
    Ok(())
}
