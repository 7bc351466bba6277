//! On-the-fly songs for training loops: an endless, seeded iterator of random crops, each
//! composed and rendered in memory (only the crop and a short pre-roll are synthesised).

use std::sync::Arc;

use rand::RngExt;
use rustysynth::SoundFont;

use super::composer::{SAMPLE_RATE, SongPlan, compose, song_rng};
use super::render::{RenderedSong, render_window, song_samples};

/// One crop drawn from a freshly composed song.
#[derive(Clone, Debug)]
pub struct SongCrop {
    /// The whole song's plan (labels: key, tempo, chords, notes).
    pub plan: SongPlan,
    /// Where the crop starts in the song, in samples at 44.1 kHz.
    pub start_sample: usize,
    /// The crop's stems and mixture.
    pub audio: RenderedSong,
}

/// An endless iterator of song crops, deterministic from its seed: crop `i` comes from random
/// stream `i` of the seed, so the same seed always yields the same crops.
pub struct SongStream {
    /// The SoundFont every song is rendered with.
    sound_font: Arc<SoundFont>,
    /// Seed of every draw.
    seed: u64,
    /// Length of each composed song, seconds.
    song_seconds: f64,
    /// Length of each crop, samples.
    crop_samples: usize,
    /// Index of the next crop (its random stream).
    next: u64,
}

impl SongStream {
    /// A stream of `crop_seconds`-long crops from songs of `song_seconds` seconds (at least the
    /// crop length).
    pub fn new(
        sound_font: Arc<SoundFont>,
        seed: u64,
        song_seconds: f64,
        crop_seconds: f64,
    ) -> Self {
        Self {
            sound_font,
            seed,
            song_seconds: song_seconds.max(crop_seconds),
            crop_samples: (crop_seconds * SAMPLE_RATE as f64).round() as usize,
            next: 0,
        }
    }
}

impl Iterator for SongStream {
    type Item = anyhow::Result<SongCrop>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rng = song_rng(self.seed, self.next);
        self.next += 1;
        let plan = compose(&mut rng, self.song_seconds);
        let last_start = song_samples(&plan).saturating_sub(self.crop_samples);
        let start_sample = rng.random_range(0..=last_start);
        Some(
            render_window(&plan, &self.sound_font, start_sample, self.crop_samples).map(|audio| {
                SongCrop {
                    plan,
                    start_sample,
                    audio,
                }
            }),
        )
    }
}
