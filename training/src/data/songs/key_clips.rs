//! Key and tempo clips: short excerpts of composed songs labelled with the song's key
//! (tonic and mode, 24 classes) and tempo band, their labels balanced over both by a seeded
//! schedule, the audio a chosen set of stems mixed to mono at any sample rate.
//!
//! The clips are made so their key can be heard: the songs use cadential progressions
//! (`theory::cadential_progressions`), a clip starts where a section (and so its
//! progression, on the tonic) starts, and the stems are summed at equal loudness.

use std::sync::Arc;

use rand::RngExt;
use rand::seq::SliceRandom;
use rustysynth::SoundFont;
use tessera_core::dsp::resample::{ResampleQuality, resample};

use super::composer::{
    Constraints, SAMPLE_RATE, SectionKind, SongPlan, Stem, compose_with, song_rng,
};
use super::render::{render_stems, song_samples};
use super::theory::{Key, Mode};

/// Tempo classes, inclusive bpm ranges of 20 bpm covering the composer's 70–169 bpm: wide
/// enough that a class is clearly faster than the one below, few enough to balance.
pub const TEMPO_BANDS: [(u32, u32); 5] = [(70, 89), (90, 109), (110, 129), (130, 149), (150, 169)];

/// Length of the song a clip is cut from beyond twice the clip, seconds: room for the
/// intro (at most four bars, 13.7 s at 70 bpm) before the sections a clip may start at.
const SONG_EXTRA_SECONDS: f64 = 14.0;

/// RMS every stem of a clip is brought to before they are summed, so no stem (a loud bass
/// playing roots and fifths, say) drowns the chords that carry the mode.
const STEM_RMS: f64 = 0.05;

/// The random stream of the label schedule; clip `i`'s song uses stream `i`.
const SCHEDULE_STREAM: u64 = u64::MAX;

/// The labels a clip is composed to have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipLabels {
    /// The key of the song.
    pub key: Key,
    /// Its tempo in bpm (a whole number inside one of [`TEMPO_BANDS`]).
    pub tempo_bpm: f64,
}

/// The 24 keys, C major, C minor, C# major … B minor.
pub fn all_keys() -> [Key; 24] {
    std::array::from_fn(|i| Key {
        tonic: (i / 2) as u8,
        mode: if i % 2 == 0 { Mode::Major } else { Mode::Minor },
    })
}

/// The tempo class label of `bpm`, e.g. "110-129 bpm".
pub fn tempo_label(bpm: f64) -> String {
    let bpm = bpm.round() as u32;
    let (low, high) = TEMPO_BANDS
        .iter()
        .copied()
        .find(|&(low, high)| (low..=high).contains(&bpm))
        .unwrap_or(if bpm < TEMPO_BANDS[0].0 {
            TEMPO_BANDS[0]
        } else {
            TEMPO_BANDS[TEMPO_BANDS.len() - 1]
        });
    format!("{low}-{high} bpm")
}

/// Labels for `count` clips: every run of 24 clips holds each key once and every run of 5
/// each tempo band once (both in seeded random order), the bpm drawn inside the band.
pub fn balanced_labels(count: usize, seed: u64) -> Vec<ClipLabels> {
    let mut rng = song_rng(seed, SCHEDULE_STREAM);
    let mut keys = Vec::with_capacity(count + 24);
    while keys.len() < count {
        let mut cycle = all_keys();
        cycle.shuffle(&mut rng);
        keys.extend(cycle);
    }
    let mut bands = Vec::with_capacity(count + TEMPO_BANDS.len());
    while bands.len() < count {
        let mut cycle = TEMPO_BANDS;
        cycle.shuffle(&mut rng);
        bands.extend(cycle);
    }
    keys.into_iter()
        .zip(bands)
        .take(count)
        .map(|(key, (low, high))| ClipLabels {
            key,
            tempo_bpm: f64::from(rng.random_range(low..=high)),
        })
        .collect()
}

/// Splits for entries labelled `labels`: within each label, in order, a low-discrepancy
/// sequence (golden-ratio steps) sends `test_fraction` of the entries to `test`,
/// `valid_fraction` to `valid` and the rest to `train`, so every split sees every label in
/// proportion once there are enough entries.
pub fn stratified_splits(
    labels: &[String],
    test_fraction: f64,
    valid_fraction: f64,
) -> Vec<&'static str> {
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].cmp(&labels[b]).then(a.cmp(&b)));
    let mut splits = vec!["train"; labels.len()];
    for (position, &index) in order.iter().enumerate() {
        let u = ((position as f64 + 0.5) * golden).fract();
        splits[index] = if u < test_fraction {
            "test"
        } else if u < test_fraction + valid_fraction {
            "valid"
        } else {
            "train"
        };
    }
    splits
}

/// A rendered clip.
#[derive(Clone, Debug)]
pub struct KeyClip {
    /// The song it was cut from (key, tempo, chords, every note).
    pub plan: SongPlan,
    /// Where the clip starts in the song, seconds.
    pub start: f64,
    /// The chosen stems summed, mixed to mono, at the requested sample rate.
    pub audio: Vec<f32>,
}

/// Clip `index` of `seed`: a song composed in `labels`' key and tempo with cadential
/// progressions, cut for `seconds` from the start of a random verse, chorus, drop or bridge,
/// of the stems `stems` each brought to the same RMS, summed, mixed to mono and resampled to
/// `sample_rate`.
pub fn render_clip(
    sound_font: &Arc<SoundFont>,
    seed: u64,
    index: u64,
    labels: ClipLabels,
    seconds: f64,
    stems: &[Stem],
    sample_rate: u32,
) -> anyhow::Result<KeyClip> {
    let mut rng = song_rng(seed, index);
    let constraints = Constraints {
        key: Some(labels.key),
        tempo_bpm: Some(labels.tempo_bpm),
        cadential: true,
    };
    let plan = compose_with(&mut rng, 2.0 * seconds + SONG_EXTRA_SECONDS, constraints);
    let clip_samples = (seconds * f64::from(SAMPLE_RATE)).round() as usize;
    // Clips start where a section's progression, and with it the tonic chord, starts.
    let seconds_per_bar = plan.beats_per_bar as f64 * 60.0 / plan.tempo_bpm;
    let starts: Vec<f64> = plan
        .sections
        .iter()
        .filter(|s| !matches!(s.kind, SectionKind::Intro | SectionKind::Outro))
        .map(|s| s.start_bar as f64 * seconds_per_bar)
        .filter(|&start| start + seconds <= plan.seconds)
        .collect();
    let start = if starts.is_empty() {
        0.0
    } else {
        starts[rng.random_range(0..starts.len())]
    };
    let start_sample = ((start * f64::from(SAMPLE_RATE)).round() as usize)
        .min(song_samples(&plan).saturating_sub(clip_samples));
    let rendered = render_stems(&plan, sound_font, start_sample, clip_samples, stems)?;
    let mut mono = vec![0f32; clip_samples];
    for stem in &rendered {
        let stem_mono: Vec<f32> = stem.channels[0]
            .iter()
            .zip(&stem.channels[1])
            .map(|(l, r)| 0.5 * (l + r))
            .collect();
        let rms = (stem_mono.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>()
            / stem_mono.len().max(1) as f64)
            .sqrt();
        if rms < 1e-6 {
            continue;
        }
        let gain = (STEM_RMS / rms) as f32;
        mono.iter_mut()
            .zip(&stem_mono)
            .for_each(|(m, s)| *m += gain * s);
    }
    let audio = resample(&mono, SAMPLE_RATE, sample_rate, ResampleQuality::Balanced)?;
    Ok(KeyClip {
        plan,
        start: start_sample as f64 / f64::from(SAMPLE_RATE),
        audio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_balanced_and_seeded() {
        let labels = balanced_labels(50, 4);
        assert_eq!(labels, balanced_labels(50, 4));
        assert_ne!(labels, balanced_labels(50, 5));
        for key in all_keys() {
            let n = labels.iter().filter(|l| l.key == key).count();
            assert!((2..=3).contains(&n), "{} {n} times", key.name());
        }
        for (low, high) in TEMPO_BANDS {
            let label = format!("{low}-{high} bpm");
            let n = labels
                .iter()
                .filter(|l| tempo_label(l.tempo_bpm) == label)
                .count();
            assert_eq!(n, 10, "{label}");
        }
        assert_eq!(tempo_label(129.0), "110-129 bpm");
        assert_eq!(tempo_label(130.0), "130-149 bpm");
    }

    #[test]
    fn splits_are_stratified() {
        let labels: Vec<String> = (0..200).map(|i| format!("class {}", i % 4)).collect();
        let splits = stratified_splits(&labels, 0.2, 0.1);
        for class in 0..4 {
            let count = |split: &str| {
                (0..200)
                    .filter(|&i| i % 4 == class && splits[i] == split)
                    .count()
            };
            assert!((9..=11).contains(&count("test")), "{}", count("test"));
            assert!((4..=6).contains(&count("valid")), "{}", count("valid"));
            assert_eq!(count("train") + count("test") + count("valid"), 50);
        }
    }
}
