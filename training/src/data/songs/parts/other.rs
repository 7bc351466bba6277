//! The "other" stem: one to three accompaniment parts (keys, guitars, strings, pads, plucks,
//! leads), each playing the chords in a style that suits its instrument.

use std::ops::RangeInclusive;

use rand::{Rng, RngExt};

use crate::data::songs::composer::{BeatNote, GeneratedPart, Grid};
use crate::data::songs::theory::Chord;

/// How a part plays the harmony.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// Chords held for the whole bar.
    Sustained,
    /// Short chord hits on a rhythm.
    Rhythmic,
    /// Chord tones one at a time in eighths.
    Arpeggio,
    /// A one-bar motif of chord and scale tones, following the chords.
    Riff,
}

/// An instrument family: its name, GM programs, register centre and playing style.
struct Family {
    role: &'static str,
    programs: &'static [RangeInclusive<u8>],
    centre: i32,
    style: Style,
}

/// The families the parts are drawn from.
const FAMILIES: [Family; 6] = [
    Family {
        role: "keys",
        programs: &[0..=7, 16..=19],
        centre: 60,
        style: Style::Rhythmic,
    },
    Family {
        role: "guitar",
        programs: &[24..=31],
        centre: 55,
        style: Style::Arpeggio,
    },
    Family {
        role: "strings",
        programs: &[48..=51],
        centre: 64,
        style: Style::Sustained,
    },
    Family {
        role: "pad",
        programs: &[88..=95],
        centre: 60,
        style: Style::Sustained,
    },
    Family {
        role: "pluck",
        programs: &[11..=13, 45..=46, 105..=107],
        centre: 72,
        style: Style::Arpeggio,
    },
    Family {
        role: "lead",
        programs: &[80..=87],
        centre: 74,
        style: Style::Riff,
    },
];

/// `count` accompaniment parts, each from a different family.
pub fn compose(rng: &mut impl Rng, grid: &Grid, count: usize) -> Vec<GeneratedPart> {
    let mut families: Vec<&Family> = FAMILIES.iter().collect();
    (0..count.min(families.len()))
        .map(|_| {
            let family = families.remove(rng.random_range(0..families.len()));
            let range = &family.programs[rng.random_range(0..family.programs.len())];
            let program = rng.random_range(range.clone());
            GeneratedPart {
                role: family.role.to_owned(),
                program,
                notes: play(rng, grid, family),
            }
        })
        .collect()
}

/// The chord's tones as MIDI keys in close position around `centre`, root lowest.
fn voicing(chord: &Chord, centre: i32) -> Vec<u8> {
    let root = Chord::nearest_key(chord.root, centre - 4);
    chord.intervals.iter().map(|&i| root + i).collect()
}

/// The notes of one part.
fn play(rng: &mut impl Rng, grid: &Grid, family: &Family) -> Vec<BeatNote> {
    let beats = grid.beats_per_bar as f64;
    let rhythm: Vec<f64> = match grid.beats_per_bar {
        3 => vec![0.0, 1.0, 2.0],
        _ => [
            vec![0.0, 1.5, 3.0],
            vec![0.0, 1.0, 2.0, 3.0],
            vec![0.5, 1.5, 2.5, 3.5],
        ][rng.random_range(0..3)]
        .clone(),
    };
    let mut motif: Vec<(f64, usize)> = Vec::new();
    for eighth in 0..grid.beats_per_bar * 2 {
        if rng.random_bool(0.6) {
            motif.push((eighth as f64 * 0.5, rng.random_range(0..4)));
        }
    }
    let mut notes = Vec::new();
    for bar in 0..grid.bars() {
        let section = grid.section_at(bar);
        let energy = section.kind.energy();
        // Leads rest outside the loud sections; everything plays more softly when quiet.
        if matches!(family.style, Style::Riff) && energy < 2 {
            continue;
        }
        let velocity = 60 + 12 * energy;
        let start = grid.bar_beat(bar);
        let tones = voicing(grid.chord_at(bar), family.centre);
        let mut add = |beat: f64, length: f64, key: u8| {
            notes.push(BeatNote {
                beat: start + beat,
                beats: length,
                key,
                velocity,
            })
        };
        match family.style {
            Style::Sustained => tones.iter().for_each(|&key| add(0.0, beats, key)),
            Style::Rhythmic => {
                for &onset in &rhythm {
                    tones.iter().for_each(|&key| add(onset, 0.45, key));
                }
            }
            Style::Arpeggio => {
                for eighth in 0..grid.beats_per_bar * 2 {
                    let i = eighth % (2 * tones.len() - 2).max(1);
                    let index = if i < tones.len() {
                        i
                    } else {
                        2 * tones.len() - 2 - i
                    };
                    add(eighth as f64 * 0.5, 0.5, tones[index]);
                }
            }
            Style::Riff => {
                let top = tones[tones.len() - 1] + 12;
                for &(onset, step) in &motif {
                    let key = if step < tones.len() {
                        tones[step] + 12
                    } else {
                        top
                    };
                    add(onset, 0.45, key);
                }
            }
        }
    }
    notes
}
