//! Drums on the GM percussion channel: a groove per section energy, a fill in the last bar of
//! every section and a crash on the first beat of the next.

use rand::{Rng, RngExt};

use crate::data::songs::composer::{BeatNote, GeneratedPart, Grid, SectionKind};

/// GM drum kits (bank 128) the drums are drawn from: standard, room, power, electronic,
/// TR-808, jazz, brush.
pub const KITS: [u8; 7] = [0, 8, 16, 24, 25, 32, 40];

/// GM percussion keys used by the grooves.
const KICK: u8 = 36;
const SNARE: u8 = 38;
const CLAP: u8 = 39;
const CLOSED_HAT: u8 = 42;
const OPEN_HAT: u8 = 46;
const CRASH: u8 = 49;
const RIDE: u8 = 51;
const TOMS: [u8; 4] = [50, 48, 47, 45];

/// Length of every drum hit in beats: one-shot sounds, released before the next sixteenth
/// even after humanisation so a note-off never cuts the following hit of the same drum.
const HIT: f64 = 0.2;

/// The drum part of a song.
pub fn compose(rng: &mut impl Rng, grid: &Grid) -> GeneratedPart {
    let program = KITS[rng.random_range(0..KITS.len())];
    let sixteenth_hats = rng.random_bool(0.4);
    let ride_in_chorus = rng.random_bool(0.3);
    let mut notes = Vec::new();
    let mut hit = |beat: f64, key: u8, velocity: u8| {
        notes.push(BeatNote {
            beat,
            beats: HIT,
            key,
            velocity,
        })
    };
    let beats = grid.beats_per_bar;
    for bar in 0..grid.bars() {
        let section = grid.section_at(bar);
        let start = grid.bar_beat(bar);
        let last_bar = bar + 1 == section.start_bar + section.bars;
        if bar == section.start_bar && bar > 0 {
            hit(start, CRASH, 110);
        }
        let fill_from = if last_bar && section.bars >= 4 {
            beats as f64 - 1.0
        } else {
            beats as f64
        };
        let cymbal = if section.kind == SectionKind::Chorus && ride_in_chorus {
            RIDE
        } else {
            CLOSED_HAT
        };
        match (section.kind, beats) {
            (SectionKind::Intro | SectionKind::Outro, _) => {
                hit(start, KICK, 90);
                for b in 0..beats {
                    hit(start + b as f64, cymbal, 60);
                }
            }
            (_, 3) => {
                hit(start, KICK, 105);
                for b in 1..3 {
                    if (b as f64) < fill_from {
                        hit(start + b as f64, SNARE, 80);
                    }
                }
                for eighth in 0..6 {
                    hit(
                        start + eighth as f64 * 0.5,
                        cymbal,
                        if eighth % 2 == 0 { 80 } else { 55 },
                    );
                }
            }
            (SectionKind::Drop, _) => {
                for b in 0..beats {
                    hit(start + b as f64, KICK, 120);
                    hit(start + b as f64 + 0.5, OPEN_HAT, 80);
                    if b % 2 == 1 {
                        hit(start + b as f64, CLAP, 105);
                    }
                }
            }
            (SectionKind::Bridge, _) => {
                hit(start, KICK, 105);
                hit(start + 2.0, SNARE, 100);
                for b in 0..beats {
                    hit(start + b as f64, cymbal, 70);
                }
            }
            _ => {
                let kicks: &[f64] = if section.kind.energy() == 2 {
                    &[0.0, 1.5, 2.0, 2.75]
                } else {
                    &[0.0, 2.0]
                };
                for &k in kicks {
                    if k < fill_from {
                        hit(start + k, KICK, 110);
                    }
                }
                for b in [1.0, 3.0] {
                    if b < fill_from {
                        hit(start + b, SNARE, 105);
                    }
                }
                let step = if sixteenth_hats { 0.25 } else { 0.5 };
                let mut t = 0.0;
                while t < fill_from {
                    let accent = if t.fract() == 0.0 { 85 } else { 60 };
                    hit(start + t, cymbal, accent);
                    t += step;
                }
            }
        }
        if fill_from < beats as f64 {
            // A one-beat fill: snare or descending toms in sixteenths.
            let toms = rng.random_bool(0.5);
            for (i, tom) in TOMS.into_iter().enumerate() {
                let key = if toms { tom } else { SNARE };
                hit(start + fill_from + i as f64 * 0.25, key, 80 + 10 * i as u8);
            }
        }
    }
    GeneratedPart {
        role: "drum kit".to_owned(),
        program,
        notes,
    }
}
