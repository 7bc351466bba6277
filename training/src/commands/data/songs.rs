//! `tessera data songs`: compose and render multitrack songs, one folder per song with
//! `mixture.wav`, `vocals.wav`, `drums.wav`, `bass.wav`, `other.wav` (44.1 kHz stereo float;
//! the mixture is the sum of the stems) and `song.json` (key, tempo, chords, programs, every
//! note of every part, and who sings: espeak-ng with its voice and syllables, or the GM
//! voice program).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Args;
use serde::Serialize;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};

use crate::data::songs::{SAMPLE_RATE, SongPlan, Stem, compose, render_song, song_rng};
use crate::data::soundfont::{DEFAULT_SOUNDFONT, load_soundfont};
use crate::progress;

/// Arguments of `tessera data songs`.
#[derive(Debug, Args)]
pub struct SongsArgs {
    /// Number of songs to make.
    #[arg(long)]
    pub count: usize,
    /// Folder the song folders are written to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// The SF2 SoundFont to render with (SF3 is not supported).
    #[arg(long, default_value = DEFAULT_SOUNDFONT)]
    pub soundfont: PathBuf,
    /// Seed of every random draw; song `i` uses stream `i` of it, so any song can be made
    /// again alone.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Length of each song, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
}

/// What `song.json` holds.
#[derive(Serialize)]
struct SongRecord<'a> {
    /// The `--seed` of the run.
    seed: u64,
    /// The random stream of this song (its index).
    stream: u64,
    /// The SoundFont rendered with.
    soundfont: &'a Path,
    /// Sample rate of the WAV files.
    sample_rate: u32,
    /// The composition: key, tempo, sections, chords, parts with programs and notes, mix.
    #[serde(flatten)]
    plan: &'a SongPlan,
}

/// Runs `tessera data songs`.
pub fn run(args: &SongsArgs) -> anyhow::Result<()> {
    ensure!(
        args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0,
        "--seconds must be between 0 and 3600, got {}",
        args.seconds
    );
    let sound_font = load_soundfont(&args.soundfont)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let bar = progress::bar(args.count as u64, "songs");
    let started = Instant::now();
    let mut rendering = 0f64;
    for index in 0..args.count {
        let render_started = Instant::now();
        let plan = compose(&mut song_rng(args.seed, index as u64), args.seconds);
        let song = render_song(&plan, &sound_font.sound_font)?;
        rendering += render_started.elapsed().as_secs_f64();
        let dir = args.out.join(format!("song_{index:05}"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let write = |name: &str, audio: &AudioBuffer| {
            let path = dir.join(format!("{name}.wav"));
            write_wav(&path, audio, WavSampleFormat::Float32)
                .with_context(|| format!("cannot write {}", path.display()))
        };
        write("mixture", &song.mixture)?;
        for stem in Stem::ALL {
            write(stem.name(), song.stem(stem))?;
        }
        let record = SongRecord {
            seed: args.seed,
            stream: index as u64,
            soundfont: &sound_font.path,
            sample_rate: SAMPLE_RATE,
            plan: &plan,
        };
        let json = dir.join("song.json");
        std::fs::write(&json, serde_json::to_string_pretty(&record)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let audio_seconds = args.count as f64 * args.seconds;
    println!(
        "{} songs ({:.0} s of audio, 4 stems each) in {}: {elapsed:.1} s, {:.1}× real time \
         ({:.1}× for composing and rendering alone)",
        args.count,
        audio_seconds,
        args.out.display(),
        audio_seconds / elapsed.max(1e-9),
        audio_seconds / rendering.max(1e-9)
    );
    Ok(())
}
