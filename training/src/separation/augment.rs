//! Training examples drawn from songs with stems, augmented so the separator generalises
//! beyond the synthesisers it was trained on: stems remixed across songs (Demucs' remix
//! trick), random gains, left/right swaps, shelving EQ and reverb per stem. The mixture is
//! always the sum of the augmented stems.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};
use tessera_core::models::separator::CHANNELS;

use super::songs::{StemSong, mix};
use crate::data::convolve::convolve;

/// How strongly examples are augmented.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Chance that each stem comes from an independently drawn song and position.
    pub remix_probability: f64,
    /// Each stem's gain is drawn uniformly within ± this many dB.
    pub gain_db: f32,
    /// Chance that a stem's left and right channels are swapped.
    pub swap_probability: f64,
    /// Low- and high-shelf gains are drawn within ± this many dB.
    pub eq_db: f32,
    /// Chance that a stem is sent through a synthetic room.
    pub reverb_probability: f64,
    /// Range of the room's reverberation time, seconds.
    pub rt60_seconds: [f32; 2],
    /// Range of the reverb return relative to the dry stem, dB.
    pub reverb_db: [f32; 2],
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            remix_probability: 0.5,
            gain_db: 6.0,
            swap_probability: 0.5,
            eq_db: 6.0,
            reverb_probability: 0.3,
            rt60_seconds: [0.2, 0.9],
            reverb_db: [-18.0, -6.0],
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all: plain crops of the songs (validation and evaluation).
    pub fn none() -> Self {
        Self {
            remix_probability: 0.0,
            gain_db: 0.0,
            swap_probability: 0.0,
            eq_db: 0.0,
            reverb_probability: 0.0,
            rt60_seconds: [0.2, 0.2],
            reverb_db: [0.0, 0.0],
        }
    }
}

/// Corner frequencies of the shelving EQ, Hz.
const LOW_SHELF_HZ: f32 = 250.0;
const HIGH_SHELF_HZ: f32 = 4000.0;

/// Crops whose mixture is quieter than this RMS are redrawn (songs have silent intros).
const MIN_MIXTURE_RMS: f32 = 1e-3;
/// Redraws before a quiet crop is accepted anyway.
const MAX_REDRAWS: usize = 8;

/// The augmented stems of one training example, `[stem][channel][sample]`.
pub type StemCrop = [[Vec<f32>; CHANNELS]; 4];

/// Draws one `samples`-long example from `songs`.
pub fn draw_example(
    songs: &[StemSong],
    config: &AugmentConfig,
    samples: usize,
    sample_rate: u32,
    rng: &mut impl Rng,
) -> StemCrop {
    let mut stems = draw_crop(songs, config, samples, rng);
    for _ in 0..MAX_REDRAWS {
        if mixture_rms(&stems) >= MIN_MIXTURE_RMS {
            break;
        }
        stems = draw_crop(songs, config, samples, rng);
    }
    for stem in &mut stems {
        augment_stem(stem, config, sample_rate, rng);
    }
    stems
}

/// A crop of each stem, from one song or (remixed) from several.
fn draw_crop(
    songs: &[StemSong],
    config: &AugmentConfig,
    samples: usize,
    rng: &mut impl Rng,
) -> StemCrop {
    let shared = place(songs, samples, rng);
    std::array::from_fn(|s| {
        let (song, start) = if rng.random_bool(config.remix_probability) {
            place(songs, samples, rng)
        } else {
            shared
        };
        std::array::from_fn(|c| {
            let source = &song.stems[s][c];
            let mut crop = vec![0.0; samples];
            let end = (start + samples).min(source.len());
            crop[..end - start].copy_from_slice(&source[start..end]);
            crop
        })
    })
}

/// A random song and a start in it with room for `samples` (shorter songs start at 0 and
/// are zero-padded).
fn place<'a>(songs: &'a [StemSong], samples: usize, rng: &mut impl Rng) -> (&'a StemSong, usize) {
    let song = &songs[rng.random_range(0..songs.len())];
    (
        song,
        rng.random_range(0..=song.len().saturating_sub(samples)),
    )
}

fn mixture_rms(stems: &StemCrop) -> f32 {
    let mixture = mix(stems);
    let samples = mixture.iter().map(Vec::len).sum::<usize>().max(1);
    let energy: f64 = mixture
        .iter()
        .flatten()
        .map(|&v| f64::from(v).powi(2))
        .sum();
    (energy / samples as f64).sqrt() as f32
}

fn augment_stem(
    stem: &mut [Vec<f32>; CHANNELS],
    config: &AugmentConfig,
    sample_rate: u32,
    rng: &mut impl Rng,
) {
    if config.eq_db > 0.0 {
        let low = db_to_gain(rng.random_range(-config.eq_db..=config.eq_db));
        let high = db_to_gain(rng.random_range(-config.eq_db..=config.eq_db));
        for channel in stem.iter_mut() {
            shelve(channel, low, high, sample_rate);
        }
    }
    if rng.random_bool(config.reverb_probability) {
        add_reverb(stem, config, sample_rate, rng);
    }
    if rng.random_bool(config.swap_probability) {
        stem.swap(0, 1);
    }
    let gain = if config.gain_db > 0.0 {
        db_to_gain(rng.random_range(-config.gain_db..=config.gain_db))
    } else {
        1.0
    };
    stem.iter_mut().flatten().for_each(|v| *v *= gain);
}

fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Low and high shelves from one-pole filters: `x + (low − 1)·lp₂₅₀(x) + (high − 1)·hp₄₀₀₀(x)`.
fn shelve(channel: &mut [f32], low: f32, high: f32, sample_rate: u32) {
    let pole = |hz: f32| (-std::f32::consts::TAU * hz / sample_rate as f32).exp();
    let (low_pole, high_pole) = (pole(LOW_SHELF_HZ), pole(HIGH_SHELF_HZ));
    let (mut low_state, mut high_state) = (0.0f32, 0.0f32);
    for v in channel.iter_mut() {
        low_state = (1.0 - low_pole) * *v + low_pole * low_state;
        high_state = (1.0 - high_pole) * *v + high_pole * high_state;
        let high_passed = *v - high_state;
        *v += (low - 1.0) * low_state + (high - 1.0) * high_passed;
    }
}

/// Adds the stem's mid signal through a synthetic stereo room: exponentially decaying
/// noise, independent per side, normalised to unit energy.
fn add_reverb(
    stem: &mut [Vec<f32>; CHANNELS],
    config: &AugmentConfig,
    sample_rate: u32,
    rng: &mut impl Rng,
) {
    let [short, long] = config.rt60_seconds;
    let rt60 = rng.random_range(short..=long.max(short));
    let length = ((rt60 * sample_rate as f32) as usize).max(1);
    // −60 dB at rt60: amplitude exp(−ln(1000)·t/rt60).
    let decay = 1000f32.ln() / (rt60 * sample_rate as f32);
    let irs: [Vec<f32>; 2] = std::array::from_fn(|_| {
        let ir: Vec<f32> = (0..length)
            .map(|i| rng.random_range(-1.0f32..1.0) * (-decay * i as f32).exp())
            .collect();
        let norm = ir.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        ir.into_iter().map(|v| v / norm).collect()
    });
    let mid: Vec<f32> = stem[0]
        .iter()
        .zip(&stem[1])
        .map(|(l, r)| 0.5 * (l + r))
        .collect();
    let [lo, hi] = config.reverb_db;
    let wet_gain = db_to_gain(rng.random_range(lo..=hi.max(lo)));
    let wet = convolve(&mid, &irs, mid.len());
    for (channel, wet) in stem.iter_mut().zip(&wet) {
        channel
            .iter_mut()
            .zip(wet)
            .for_each(|(v, w)| *v += wet_gain * w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn song(seed: u64, len: usize) -> StemSong {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        StemSong {
            folder: format!("song{seed}").into(),
            stems: std::array::from_fn(|_| {
                std::array::from_fn(|_| (0..len).map(|_| rng.random_range(-0.5..0.5)).collect())
            }),
        }
    }

    #[test]
    fn examples_are_seeded_and_sized() {
        let songs = [song(1, 5000), song(2, 7000)];
        let config = AugmentConfig::default();
        let draw = |seed| {
            draw_example(
                &songs,
                &config,
                3000,
                44_100,
                &mut ChaCha8Rng::seed_from_u64(seed),
            )
        };
        let (a, b, c) = (draw(4), draw(4), draw(5));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().flatten().all(|ch| ch.len() == 3000));
    }

    #[test]
    fn without_augmentation_a_crop_is_a_stretch_of_one_song() {
        let songs = [song(1, 5000)];
        let crop = draw_example(
            &songs,
            &AugmentConfig::none(),
            1000,
            44_100,
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let start = (0..=4000)
            .find(|&s| songs[0].stems[0][0][s..s + 1000] == crop[0][0][..])
            .expect("the vocals crop is a stretch of the song");
        for (stem, cropped) in songs[0].stems.iter().zip(&crop) {
            for (channel, cropped) in stem.iter().zip(cropped) {
                assert_eq!(&channel[start..start + 1000], &cropped[..]);
            }
        }
    }

    #[test]
    fn shelves_scale_low_and_high_frequencies() {
        let rate = 44_100;
        let tone = |hz: f32| -> Vec<f32> {
            (0..rate as usize)
                .map(|i| (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
                .collect()
        };
        let rms = |x: &[f32]| {
            (x[rate as usize / 2..].iter().map(|v| v * v).sum::<f32>() / (rate as f32 / 2.0)).sqrt()
        };
        let (mut low, mut high) = (tone(40.0), tone(15_000.0));
        shelve(&mut low, 2.0, 1.0, rate);
        shelve(&mut high, 1.0, 0.5, rate);
        // A sine's RMS is 0.707. Far below the low corner the shelf gain applies fully;
        // a one-pole high shelf only approaches its gain (at 15 kHz, 3.7 octaves above
        // 4 kHz, a −6 dB shelf cuts by about −3.8 dB) and an untouched band stays put.
        assert!((rms(&low) / 0.707 - 2.0).abs() < 0.1, "{}", rms(&low));
        let treble = rms(&high) / 0.707;
        assert!((0.55..0.75).contains(&treble), "{treble}");
        let mut middle = tone(1000.0);
        shelve(&mut middle, 1.0, 1.0, rate);
        assert!((rms(&middle) / 0.707 - 1.0).abs() < 1e-3);
    }
}
