//! NSynth-like single notes: one SoundFont preset (General MIDI program) played at one MIDI
//! pitch and velocity, held for a while then released, rendered dry to mono. Labels are the
//! pitch, the program, its instrument family (program / 8) and the SoundFont; test splits hold
//! out whole SoundFonts or whole programs so probes measure generalisation, not memory.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, ensure};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustysynth::{Synthesizer, SynthesizerSettings};
use serde::Serialize;

use crate::data::soundfont::LoadedSoundFont;

/// The 16 General MIDI instrument families, indexed by `program / 8`.
pub const FAMILY_NAMES: [&str; 16] = [
    "piano",
    "chromatic_percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth_lead",
    "synth_pad",
    "synth_effects",
    "ethnic",
    "percussive",
    "sound_effects",
];

/// The MIDI channel notes are played on (any melodic channel; 9 is the drum channel).
const CHANNEL: i32 = 0;

/// MIDI program change.
const PROGRAM_CHANGE: i32 = 0xC0;

/// One note to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NoteSpec {
    /// Index of the SoundFont in the list the run was given.
    pub soundfont: usize,
    /// General MIDI program (preset of bank 0), 0–127.
    pub program: u8,
    /// MIDI key, 0–127 (60 is middle C).
    pub pitch: u8,
    /// MIDI velocity, 0–127; 0 plays nothing (and the note is dropped as silent).
    pub velocity: u8,
}

impl NoteSpec {
    /// The General MIDI instrument family, 0–15 (see [`FAMILY_NAMES`]).
    pub fn family(&self) -> u8 {
        self.program / 8
    }

    /// The family's name, e.g. `piano` or `strings`.
    pub fn family_name(&self) -> &'static str {
        FAMILY_NAMES[usize::from(self.family())]
    }
}

/// How notes are rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoteConfig {
    /// Sample rate of the rendered audio, Hz.
    pub sample_rate: u32,
    /// Length of every rendered note, seconds.
    pub seconds: f64,
    /// How long the key is held before release, seconds; the rest is the release tail.
    pub held_seconds: f64,
    /// Notes whose RMS over the whole render is below this are dropped as silent (out of the
    /// preset's range, velocity 0, an empty preset).
    pub silence_rms: f32,
}

impl Default for NoteConfig {
    /// NSynth's layout: 4 s at 16 kHz, held 3 s; silence below -70 dBFS RMS.
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            seconds: 4.0,
            held_seconds: 3.0,
            silence_rms: 10f32.powf(-70.0 / 20.0),
        }
    }
}

impl NoteConfig {
    /// Checks the lengths make sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.sample_rate > 0, "the sample rate must be positive");
        ensure!(
            self.seconds.is_finite() && self.seconds > 0.0,
            "the note length must be positive"
        );
        ensure!(
            self.held_seconds.is_finite()
                && self.held_seconds > 0.0
                && self.held_seconds <= self.seconds,
            "the held time must be positive and at most the note length"
        );
        Ok(())
    }

    /// Samples in a rendered note.
    pub fn samples(&self) -> usize {
        (self.seconds * f64::from(self.sample_rate)).round() as usize
    }

    /// Samples for which the key is held.
    pub fn held_samples(&self) -> usize {
        ((self.held_seconds * f64::from(self.sample_rate)).round() as usize).min(self.samples())
    }

    /// Whether `samples` are too quiet to be a note.
    pub fn is_silent(&self, samples: &[f32]) -> bool {
        rms(samples) < self.silence_rms
    }
}

/// Root mean square of `samples` (0 for none).
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let energy: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (energy / samples.len() as f64).sqrt() as f32
}

/// Whether the SoundFont has `program` in its General MIDI bank (bank 0). rustysynth plays
/// its default preset for missing ones, which would mislabel the note.
pub fn has_program(soundfont: &LoadedSoundFont, program: u8) -> bool {
    soundfont
        .sound_font
        .get_presets()
        .iter()
        .any(|p| p.get_bank_number() == 0 && p.get_patch_number() == i32::from(program))
}

/// Renders one note, dry (no reverb or chorus), as mono (the mean of left and right).
pub fn render_note(
    soundfont: &LoadedSoundFont,
    spec: &NoteSpec,
    config: &NoteConfig,
) -> anyhow::Result<Vec<f32>> {
    config.validate()?;
    let sample_rate = i32::try_from(config.sample_rate).context("sample rate too large")?;
    let mut settings = SynthesizerSettings::new(sample_rate);
    settings.enable_reverb_and_chorus = false;
    let mut synth = Synthesizer::new(&soundfont.sound_font, &settings).map_err(|error| {
        anyhow::anyhow!(
            "{}: cannot make a synthesizer ({error:?})",
            soundfont.path.display()
        )
    })?;
    synth.process_midi_message(CHANNEL, PROGRAM_CHANGE, i32::from(spec.program), 0);
    synth.note_on(CHANNEL, i32::from(spec.pitch), i32::from(spec.velocity));
    let (len, held) = (config.samples(), config.held_samples());
    let mut left = vec![0.0f32; len];
    let mut right = vec![0.0f32; len];
    synth.render(&mut left[..held], &mut right[..held]);
    synth.note_off(CHANNEL, i32::from(spec.pitch));
    synth.render(&mut left[held..], &mut right[held..]);
    Ok(left
        .iter()
        .zip(&right)
        .map(|(l, r)| 0.5 * (l + r))
        .collect())
}

/// Every combination of SoundFont, program, pitch and velocity, in that nesting order.
pub fn note_grid(
    soundfonts: usize,
    programs: &[u8],
    pitches: &[u8],
    velocities: &[u8],
) -> Vec<NoteSpec> {
    let mut grid =
        Vec::with_capacity(soundfonts * programs.len() * pitches.len() * velocities.len());
    for soundfont in 0..soundfonts {
        for &program in programs {
            for &pitch in pitches {
                for &velocity in velocities {
                    grid.push(NoteSpec {
                        soundfont,
                        program,
                        pitch,
                        velocity,
                    });
                }
            }
        }
    }
    grid
}

/// A seeded random subset of at most `max` notes, kept in grid order.
pub fn random_subset(mut notes: Vec<NoteSpec>, max: usize, seed: u64) -> Vec<NoteSpec> {
    if notes.len() > max {
        notes.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        notes.truncate(max);
        notes.sort_unstable();
    }
    notes
}

/// What a test split holds out whole, so no SoundFont (or program) is in both splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum HoldOut {
    /// Whole SoundFonts go to the test split: unseen recordings of known instruments.
    Soundfont,
    /// Whole programs go to the test split: unseen instruments.
    Program,
}

/// Which part of the data set a note belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Seen in training.
    Train,
    /// Held out.
    Test,
}

impl Split {
    /// The name written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
        }
    }
}

/// Assigns splits by holding out whole groups (SoundFonts or programs, per `hold_out`): a
/// seeded random `test_fraction` of the distinct groups among `notes` (at least one, and at
/// least one left for training). Errors when there are fewer than two groups.
pub fn assign_splits(
    notes: &[NoteSpec],
    hold_out: HoldOut,
    test_fraction: f64,
    seed: u64,
) -> anyhow::Result<Vec<Split>> {
    ensure!(
        test_fraction > 0.0 && test_fraction < 1.0,
        "the test fraction must be between 0 and 1 (exclusive), got {test_fraction}"
    );
    let group = |note: &NoteSpec| match hold_out {
        HoldOut::Soundfont => note.soundfont,
        HoldOut::Program => usize::from(note.program),
    };
    let groups: BTreeSet<usize> = notes.iter().map(group).collect();
    let what = match hold_out {
        HoldOut::Soundfont => "SoundFonts",
        HoldOut::Program => "programs",
    };
    ensure!(
        groups.len() >= 2,
        "holding out whole {what} needs at least two {what} with notes, found {}",
        groups.len()
    );
    let mut groups: Vec<usize> = groups.into_iter().collect();
    groups.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let test_count =
        ((groups.len() as f64 * test_fraction).round() as usize).clamp(1, groups.len() - 1);
    let held: BTreeSet<usize> = groups[..test_count].iter().copied().collect();
    Ok(notes
        .iter()
        .map(|note| {
            if held.contains(&group(note)) {
                Split::Test
            } else {
                Split::Train
            }
        })
        .collect())
}

/// Pairs for the multi-view disentangler: for every note, one seeded random partner of the
/// same family and split with a different pitch (none when there is no such note). Returns
/// index pairs into `notes`.
pub fn pair_notes(notes: &[NoteSpec], splits: &[Split], seed: u64) -> Vec<(usize, usize)> {
    let groups: Vec<(u8, Split)> = notes
        .iter()
        .zip(splits)
        .map(|(note, split)| (note.family(), *split))
        .collect();
    let pitches: Vec<u8> = notes.iter().map(|note| note.pitch).collect();
    pair_within_groups(&groups, &pitches, seed)
}

/// For every item, one seeded random partner of the same group with a different pitch (none
/// when there is no such item), drawn in item order. Returns index pairs.
pub fn pair_within_groups<G: Ord + Copy, P: PartialEq>(
    groups: &[G],
    pitches: &[P],
    seed: u64,
) -> Vec<(usize, usize)> {
    let mut members: BTreeMap<G, Vec<usize>> = BTreeMap::new();
    for (index, group) in groups.iter().enumerate() {
        members.entry(*group).or_default().push(index);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pairs = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        let partners: Vec<usize> = members[group]
            .iter()
            .copied()
            .filter(|&other| pitches[other] != pitches[index])
            .collect();
        if !partners.is_empty() {
            pairs.push((index, partners[rng.random_range(0..partners.len())]));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tessera_core::dsp::stft::{Stft, StftConfig};

    use super::*;
    use crate::data::soundfont::{TEST_SOUNDFONT, load_soundfont};

    /// The fundamental in Hz of the held part of a note: the peak of a 1/h-weighted harmonic
    /// sum over the mean STFT magnitude, searched on a 5-cent grid from 25 Hz to 4.2 kHz.
    fn estimate_f0(samples: &[f32], sample_rate: u32) -> f64 {
        let n_fft = 8192;
        let stft = Stft::new(StftConfig::new(n_fft, 1024)).unwrap();
        let spectrum = stft.forward(samples).unwrap();
        // Frames of the sustained part, past the attack and before the release.
        let frames = (0.3 * f64::from(sample_rate) / 1024.0) as usize
            ..(2.8 * f64::from(sample_rate) / 1024.0) as usize;
        let bins = spectrum.nrows();
        let mean: Vec<f64> = (0..bins)
            .map(|b| {
                frames
                    .clone()
                    .map(|t| f64::from(spectrum[[b, t]].norm()))
                    .sum::<f64>()
            })
            .collect();
        let bin_hz = f64::from(sample_rate) / n_fft as f64;
        let magnitude_at = |hz: f64| {
            let centre = (hz / bin_hz).round() as usize;
            (centre.saturating_sub(1)..=(centre + 1).min(bins - 1))
                .map(|b| mean[b])
                .fold(0.0, f64::max)
        };
        let nyquist = f64::from(sample_rate) / 2.0;
        let mut best = (0.0, 0.0);
        let mut cents = 0.0;
        while 25.0 * 2f64.powf(cents / 1200.0) < 4200.0 {
            let f0 = 25.0 * 2f64.powf(cents / 1200.0);
            let score: f64 = (1..=8)
                .map(f64::from)
                .take_while(|h| h * f0 < nyquist)
                .map(|h| magnitude_at(h * f0) / h)
                .sum();
            if score > best.1 {
                best = (f0, score);
            }
            cents += 5.0;
        }
        best.0
    }

    fn midi_hz(pitch: u8) -> f64 {
        440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0)
    }

    fn test_soundfont() -> LoadedSoundFont {
        load_soundfont(Path::new(TEST_SOUNDFONT)).expect("timgm6mb-soundfont is installed")
    }

    #[test]
    fn rendered_notes_sound_at_their_labelled_pitch() {
        let soundfont = test_soundfont();
        let config = NoteConfig::default();
        let mut wrong = Vec::new();
        let mut total = 0;
        // Piano, nylon guitar, string ensemble, trumpet, flute. Not organs: their sub-octave
        // (16', 32') stops make the fundamental ambiguous by an octave, even to the ear.
        for program in [0u8, 24, 48, 56, 73] {
            for pitch in [55u8, 60, 64, 69, 72, 79] {
                let spec = NoteSpec {
                    soundfont: 0,
                    program,
                    pitch,
                    velocity: 100,
                };
                let samples = render_note(&soundfont, &spec, &config).unwrap();
                assert_eq!(samples.len(), 64_000);
                let f0 = estimate_f0(&samples, config.sample_rate);
                let cents = 1200.0 * (f0 / midi_hz(pitch)).log2();
                total += 1;
                if cents.abs() > 50.0 {
                    wrong.push((program, pitch, f0, cents));
                }
            }
        }
        // At most 10 % wrong: a tolerant bound for the estimator, not for the labels.
        assert!(wrong.len() * 10 <= total, "wrong pitches: {wrong:?}");
    }

    #[test]
    fn velocity_zero_is_silent_and_a_normal_note_is_not() {
        let soundfont = test_soundfont();
        let config = NoteConfig::default();
        let mut spec = NoteSpec {
            soundfont: 0,
            program: 0,
            pitch: 60,
            velocity: 0,
        };
        assert!(config.is_silent(&render_note(&soundfont, &spec, &config).unwrap()));
        spec.velocity = 25;
        assert!(!config.is_silent(&render_note(&soundfont, &spec, &config).unwrap()));
    }

    #[test]
    fn the_release_follows_the_held_part() {
        let soundfont = test_soundfont();
        let config = NoteConfig::default();
        let spec = NoteSpec {
            soundfont: 0,
            program: 19,
            pitch: 60,
            velocity: 100,
        };
        let samples = render_note(&soundfont, &spec, &config).unwrap();
        let held = rms(&samples[16_000..48_000]);
        let tail = rms(&samples[60_000..]);
        assert!(tail < 0.1 * held, "held {held}, tail {tail}");
    }

    #[test]
    fn held_out_splits_take_whole_groups() {
        let notes = note_grid(3, &[0, 1, 24, 40, 41, 73], &[48, 60], &[50, 100]);
        for hold_out in [HoldOut::Soundfont, HoldOut::Program] {
            let splits = assign_splits(&notes, hold_out, 0.3, 5).unwrap();
            let group = |n: &NoteSpec| match hold_out {
                HoldOut::Soundfont => n.soundfont,
                HoldOut::Program => usize::from(n.program),
            };
            let mut seen: BTreeMap<usize, BTreeSet<Split>> = BTreeMap::new();
            for (note, split) in notes.iter().zip(&splits) {
                seen.entry(group(note)).or_default().insert(*split);
            }
            assert!(seen.values().all(|s| s.len() == 1), "{hold_out:?} leaks");
            assert!(splits.contains(&Split::Test) && splits.contains(&Split::Train));
            assert_eq!(splits, assign_splits(&notes, hold_out, 0.3, 5).unwrap());
        }
        let one_soundfont = note_grid(1, &[0, 1], &[60], &[100]);
        let error = assign_splits(&one_soundfont, HoldOut::Soundfont, 0.2, 0).unwrap_err();
        assert!(
            error.to_string().contains("at least two SoundFonts"),
            "{error}"
        );
    }

    #[test]
    fn pairs_share_family_and_split_but_not_pitch() {
        let notes = note_grid(1, &[0, 1, 40, 73], &[48, 60, 72], &[100]);
        let splits = assign_splits(&notes, HoldOut::Program, 0.25, 1).unwrap();
        let pairs = pair_notes(&notes, &splits, 3);
        assert_eq!(pairs.len(), notes.len(), "every note has a partner here");
        for &(a, b) in &pairs {
            assert_eq!(notes[a].family(), notes[b].family());
            assert_eq!(splits[a], splits[b]);
            assert_ne!(notes[a].pitch, notes[b].pitch);
        }
        assert_eq!(pairs, pair_notes(&notes, &splits, 3));
        assert_eq!(notes[pairs[0].0].family_name(), "piano");
    }

    #[test]
    fn subsets_are_seeded_and_ordered() {
        let grid = note_grid(2, &[0, 8, 16], &[40, 50, 60, 70], &[64, 127]);
        let subset = random_subset(grid.clone(), 10, 9);
        assert_eq!(subset.len(), 10);
        assert!(subset.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(subset, random_subset(grid.clone(), 10, 9));
        assert_ne!(subset, random_subset(grid.clone(), 10, 10));
        assert_eq!(random_subset(grid.clone(), 1000, 9), grid);
    }

    #[test]
    fn the_test_soundfont_has_the_programs_and_not_more() {
        let soundfont = test_soundfont();
        assert!(has_program(&soundfont, 0) && has_program(&soundfont, 127));
        assert!(!has_program(&soundfont, 128));
    }
}
