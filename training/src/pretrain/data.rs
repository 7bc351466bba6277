//! Training clips for pretraining: random crops of the audio under one or more folders
//! (rendered songs, Debian's game music, a user's own collection), and, for WavJEPA-Nat,
//! those crops placed in simulated rooms with noise.

use std::path::PathBuf;

use anyhow::Context;
use rand::{Rng, RngExt};

use crate::data::real_audio::{CropConfig, RealAudioCrops};
use crate::data::scenes::{SceneConfig, render_scene};

/// Draws mono clips of a fixed length from every folder given, each folder equally likely
/// (so a small folder of real music is not drowned by a large one of synthetic songs).
pub struct ClipSource {
    folders: Vec<RealAudioCrops>,
    /// Samples per clip.
    samples: usize,
}

/// Shortest crop whose loudness BS.1770 can measure (one 400-ms block); shorter clips are
/// cut from a crop this long.
const MIN_CROP_SECS: f64 = 0.4;

impl ClipSource {
    /// Opens every folder; clips are `samples` long at `sample_rate`, loudness-normalised.
    pub fn open(folders: &[PathBuf], sample_rate: u32, samples: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !folders.is_empty(),
            "pretraining needs at least one --data folder"
        );
        let config = CropConfig {
            sample_rate,
            crop_secs: (samples as f64 / f64::from(sample_rate)).max(MIN_CROP_SECS),
            ..CropConfig::default()
        };
        let folders = folders
            .iter()
            .map(|dir| {
                RealAudioCrops::open(dir, config.clone())
                    .with_context(|| format!("cannot use {} as training data", dir.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { folders, samples })
    }

    /// One mono clip of exactly the configured length.
    pub fn clip(&mut self, rng: &mut impl Rng) -> anyhow::Result<Vec<f32>> {
        let folder = rng.random_range(0..self.folders.len());
        let crop = self.folders[folder].next_crop(rng)?;
        let mut mono = crop.audio.channels.into_iter().next().unwrap_or_default();
        mono.resize(self.samples, 0.0);
        Ok(mono)
    }
}

/// What one training example is made of.
pub enum ExampleKind {
    /// One channel: a crop as it is.
    Mono,
    /// Two ears: a crop in a random room with noise crops (WavJEPA-Nat).
    Scene(SceneConfig),
}

/// Draws `[ear][sample]` examples of `samples` samples at `sample_rate`.
pub fn draw_example(
    kind: &ExampleKind,
    source: &mut ClipSource,
    sample_rate: u32,
    samples: usize,
    rng: &mut impl Rng,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let clip = source.clip(rng)?;
    match kind {
        ExampleKind::Mono => Ok(vec![clip]),
        ExampleKind::Scene(config) => {
            let noise = source.clip(rng)?;
            let (mut ears, _) = render_scene(config, &clip, &[&noise], sample_rate, rng)?;
            for ear in &mut ears {
                ear.resize(samples, 0.0);
            }
            Ok(ears)
        }
    }
}
