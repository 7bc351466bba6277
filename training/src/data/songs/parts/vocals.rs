//! The vocal melody: two-bar phrases that land on chord tones on strong beats and move by
//! scale steps in between, and who sings it: espeak-ng singing syllables (see
//! `songs::espeak`) in `ESPEAK_SHARE` of the songs, a GM voice program (52 Choir Aahs,
//! 53 Voice Oohs, 54 Synth Voice) in the rest.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::data::songs::composer::{BeatNote, GeneratedPart, Grid};
use crate::data::songs::espeak::{SYLLABLES, VOICES};

/// GM voice programs the melody is played with when no espeak-ng voice sings it.
pub const PROGRAMS: std::ops::RangeInclusive<u8> = 52..=54;

/// Share of songs whose melody espeak-ng sings; the rest use the GM voice program, so models
/// hear both sung syllables and the choir/voice patches.
pub const ESPEAK_SHARE: f64 = 0.6;

/// Most distinct syllables one song sings.
const MAX_VOCABULARY: usize = 4;

/// Who sings a song's vocals part; `song.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Singer {
    /// The part's GM voice program, rendered by the SoundFont like the other parts.
    GeneralMidi,
    /// espeak-ng sings one syllable per note at the note's pitch (the part's program is not
    /// played).
    Espeak {
        /// The espeak-ng voice, one of `espeak::VOICES`.
        voice: String,
        /// The syllable of each note of the vocals part, in note order.
        syllables: Vec<String>,
    },
}

/// Draws who sings a vocals part of `notes` notes: espeak-ng with probability
/// [`ESPEAK_SHARE`], in one voice with a vocabulary of one to four syllables drawn per note.
pub fn draw_singer(rng: &mut impl Rng, notes: usize) -> Singer {
    if !rng.random_bool(ESPEAK_SHARE) {
        return Singer::GeneralMidi;
    }
    let voice = VOICES[rng.random_range(0..VOICES.len())].to_owned();
    let vocabulary: Vec<&str> = (0..rng.random_range(1..=MAX_VOCABULARY))
        .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
        .collect();
    let syllables = (0..notes)
        .map(|_| vocabulary[rng.random_range(0..vocabulary.len())].to_owned())
        .collect();
    Singer::Espeak { voice, syllables }
}

/// The vocal range, A3–G5.
const LOWEST: u8 = 57;
const HIGHEST: u8 = 79;

/// Note lengths in beats a phrase is built from.
const LENGTHS: [f64; 4] = [0.5, 1.0, 1.0, 1.5];

/// The vocal part of a song.
pub fn compose(rng: &mut impl Rng, grid: &Grid) -> GeneratedPart {
    let program = rng.random_range(PROGRAMS);
    let scale: Vec<u8> = (LOWEST..=HIGHEST)
        .filter(|&k| grid.key.contains(k % 12))
        .collect();
    let mut index = scale.len() / 2;
    let beats = grid.beats_per_bar as f64;
    let mut notes = Vec::new();
    let mut bar = 0;
    while bar < grid.bars() {
        let section = grid.section_at(bar);
        if !section.kind.has_vocals() {
            bar += 1;
            continue;
        }
        let phrase_bars = 2.min(grid.bars() - bar);
        let phrase_start = grid.bar_beat(bar);
        // The phrase ends with a rest of one to two beats for breath.
        let phrase_end = phrase_start + phrase_bars as f64 * beats - rng.random_range(1..=2) as f64;
        let mut beat = phrase_start;
        let velocity = 80 + 10 * section.kind.energy();
        while beat < phrase_end {
            let length = LENGTHS[rng.random_range(0..LENGTHS.len())].min(phrase_end - beat);
            let strong = beat.fract() == 0.0;
            let chord = grid.chord_at((beat / beats) as usize);
            if strong {
                // Nearest chord tone to where the melody is.
                let nearest = (0..scale.len())
                    .filter(|&i| chord.pitch_classes().any(|pc| pc == scale[i] % 12))
                    .min_by_key(|&i| i.abs_diff(index));
                index = nearest.unwrap_or(index);
            } else {
                let step = rng.random_range(-2..=2i32);
                index = (index as i32 + step).clamp(0, scale.len() as i32 - 1) as usize;
            }
            // A short gap before the next note, wider than the timing jitter, so repeated
            // pitches are sung as separate notes.
            notes.push(BeatNote {
                beat,
                beats: length - 0.1,
                key: scale[index],
                velocity,
            });
            beat += length;
        }
        bar += phrase_bars;
    }
    GeneratedPart {
        role: "sung melody".to_owned(),
        program,
        notes,
    }
}
