//! The bass line: it follows the chord roots in one of four styles (held roots, octaves,
//! walking, syncopated) on a GM bass program.

use rand::{Rng, RngExt};

use crate::data::songs::composer::{BeatNote, GeneratedPart, Grid, SectionKind};
use crate::data::songs::theory::Chord;

/// GM bass programs 32–39 (acoustic, finger, pick, fretless, slap 1–2, synth 1–2).
pub const PROGRAMS: std::ops::RangeInclusive<u8> = 32..=39;

/// The centre of the bass register (E2–E3 roots).
const CENTRE: i32 = 40;

/// The styles a bass line is played in.
#[derive(Clone, Copy, Debug)]
enum Style {
    Roots,
    Octaves,
    Walking,
    Syncopated,
}

impl Style {
    fn role(self) -> &'static str {
        match self {
            Style::Roots => "root bass",
            Style::Octaves => "octave bass",
            Style::Walking => "walking bass",
            Style::Syncopated => "syncopated bass",
        }
    }
}

/// The bass part of a song.
pub fn compose(rng: &mut impl Rng, grid: &Grid) -> GeneratedPart {
    let program = rng.random_range(PROGRAMS);
    let style = [
        Style::Roots,
        Style::Octaves,
        Style::Walking,
        Style::Syncopated,
    ][rng.random_range(0..4)];
    let beats = grid.beats_per_bar as f64;
    let mut notes = Vec::new();
    for bar in 0..grid.bars() {
        let section = grid.section_at(bar);
        let start = grid.bar_beat(bar);
        let chord = grid.chord_at(bar);
        let root = Chord::nearest_key(chord.root, CENTRE);
        let style = match section.kind {
            SectionKind::Intro | SectionKind::Outro => Style::Roots,
            SectionKind::Drop => Style::Syncopated,
            _ => style,
        };
        let velocity = 85 + 10 * section.kind.energy();
        let mut play = |beat: f64, length: f64, key: u8| {
            notes.push(BeatNote {
                beat: start + beat,
                beats: length,
                key,
                velocity,
            })
        };
        match style {
            Style::Roots => play(0.0, beats * 0.95, root),
            Style::Octaves => {
                for eighth in 0..(beats as usize * 2) {
                    play(
                        eighth as f64 * 0.5,
                        0.45,
                        if eighth % 2 == 0 { root } else { root + 12 },
                    );
                }
            }
            Style::Walking => {
                // Root, chord tones, then a chromatic approach to the next bar's root.
                let next = Chord::nearest_key(grid.chord_at(bar + 1).root, CENTRE);
                let tones: Vec<u8> = chord.intervals.iter().map(|&i| root + i).collect();
                for b in 0..beats as usize {
                    let key = if b == 0 {
                        root
                    } else if b + 1 == beats as usize {
                        if next > root { next - 1 } else { next + 1 }
                    } else {
                        tones[b.min(tones.len() - 1)]
                    };
                    play(b as f64, 0.9, key);
                }
            }
            Style::Syncopated => {
                let onsets: &[f64] = if beats == 3.0 {
                    &[0.0, 1.5, 2.5]
                } else {
                    &[0.0, 0.75, 1.5, 2.5, 3.0, 3.5]
                };
                for (i, &onset) in onsets.iter().enumerate() {
                    let key = if i == onsets.len() - 1 && rng.random_bool(0.5) {
                        root + 7
                    } else {
                        root
                    };
                    play(onset, 0.4, key);
                }
            }
        }
    }
    GeneratedPart {
        role: style.role().to_owned(),
        program,
        notes,
    }
}
