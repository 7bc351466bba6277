//! Just enough music theory for the composer: keys in major or minor, their scales, diatonic
//! chords and the chord progressions sections are built from.

use serde::{Deserialize, Serialize};

/// The two modes songs are written in; the key labels (and the chroma check) use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Ionian.
    Major,
    /// Natural minor, with the raised seventh on dominant chords (harmonic minor).
    Minor,
}

/// Pitch-class names, sharps only, for labels.
pub const PITCH_CLASS_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// Krumhansl–Kessler major key profile (probe-tone ratings), from the tonic upwards.
pub const KRUMHANSL_MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];

/// Krumhansl–Kessler minor key profile, from the tonic upwards.
pub const KRUMHANSL_MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// A key: tonic pitch class and mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// Pitch class of the tonic, 0 = C … 11 = B.
    pub tonic: u8,
    /// Major or minor.
    pub mode: Mode,
}

impl Key {
    /// Semitones of the seven scale degrees above the tonic.
    pub fn scale_steps(self) -> [u8; 7] {
        match self.mode {
            Mode::Major => [0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => [0, 2, 3, 5, 7, 8, 10],
        }
    }

    /// Pitch class of scale degree `degree` (0-based, wraps around the octave).
    pub fn degree_pitch_class(self, degree: usize) -> u8 {
        (self.tonic + self.scale_steps()[degree % 7]) % 12
    }

    /// Whether pitch class `pc` belongs to the scale.
    pub fn contains(self, pc: u8) -> bool {
        self.scale_steps()
            .iter()
            .any(|&s| (self.tonic + s) % 12 == pc % 12)
    }

    /// The diatonic chord on scale degree `degree` (0-based); in minor the chord on the fifth
    /// degree is made major (harmonic minor), as in most minor-key pop. With `seventh` the
    /// chord on the fifth degree becomes a dominant seventh, which points at the tonic; other
    /// sevenths (maj7, m7) would blur the key with their relative triads.
    pub fn chord(self, degree: usize, seventh: bool) -> Chord {
        let root = self.degree_pitch_class(degree);
        let interval = |steps: usize| (self.degree_pitch_class(degree + steps) + 12 - root) % 12;
        let mut intervals = vec![0, interval(2), interval(4)];
        if self.mode == Mode::Minor && degree % 7 == 4 {
            intervals[1] = 4;
        }
        if seventh && degree % 7 == 4 {
            intervals.push(10);
        }
        Chord { root, intervals }
    }

    /// A label such as "A minor".
    pub fn name(self) -> String {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        format!("{} {mode}", PITCH_CLASS_NAMES[self.tonic as usize])
    }
}

/// A chord: root pitch class and intervals above it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chord {
    /// Pitch class of the root.
    pub root: u8,
    /// Semitones above the root, starting with 0.
    pub intervals: Vec<u8>,
}

impl Chord {
    /// The chord's pitch classes.
    pub fn pitch_classes(&self) -> impl Iterator<Item = u8> + '_ {
        self.intervals.iter().map(|&i| (self.root + i) % 12)
    }

    /// A label such as "Am7" or "G".
    pub fn symbol(&self) -> String {
        let third = self.intervals.get(1).copied().unwrap_or(4);
        let fifth = self.intervals.get(2).copied().unwrap_or(7);
        let quality = match (third, fifth) {
            (3, 6) => "dim",
            (3, _) => "m",
            _ => "",
        };
        let seventh = match self.intervals.get(3) {
            Some(11) => "maj7",
            Some(_) => "7",
            None => "",
        };
        format!(
            "{}{quality}{seventh}",
            PITCH_CLASS_NAMES[self.root as usize]
        )
    }

    /// The MIDI key of pitch class `pc` closest to `centre`.
    pub fn nearest_key(pc: u8, centre: i32) -> u8 {
        let below = centre - (centre - pc as i32).rem_euclid(12);
        let key = if centre - below > 6 {
            below + 12
        } else {
            below
        };
        key.clamp(0, 127) as u8
    }
}

/// Common progressions as 0-based scale degrees, one chord per entry; each starts or ends on
/// the tonic so the key stays unambiguous.
pub fn progressions(mode: Mode) -> &'static [&'static [usize]] {
    match mode {
        Mode::Major => &[
            &[0, 4, 5, 3],
            &[0, 3, 4, 3],
            &[0, 5, 3, 4],
            &[0, 3, 0, 4],
            &[0, 1, 4, 0],
            &[0, 2, 3, 4],
        ],
        Mode::Minor => &[
            &[0, 5, 2, 6],
            &[0, 3, 4, 0],
            &[0, 6, 5, 6],
            &[0, 3, 6, 4],
            &[0, 5, 3, 4],
            &[0, 0, 3, 4],
        ],
    }
}

/// Progressions that state their key from their first bars on, for clips labelled with it:
/// I–IV–V–I and I–IV–I–V (in minor i–iv–V–i and i–iv–i–V, the dominant major, so with the
/// leading tone). The tonic comes first, the subdominant second, so an excerpt from the
/// start holds the tonic triad and the fourth degree (which rules out the dominant key)
/// after two chords and every scale degree after three; progressions with vi, iii or VII
/// (the pop loops of [`progressions`]) point at the relative key in short excerpts.
pub fn cadential_progressions(mode: Mode) -> &'static [&'static [usize]] {
    // The same degrees in both modes; `Key::chord` makes the minor dominant major.
    match mode {
        Mode::Major | Mode::Minor => &[&[0, 3, 4, 0], &[0, 3, 0, 4]],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diatonic_chords_have_the_right_quality() {
        let c_major = Key {
            tonic: 0,
            mode: Mode::Major,
        };
        let names: Vec<String> = (0..7).map(|d| c_major.chord(d, false).symbol()).collect();
        assert_eq!(names, ["C", "Dm", "Em", "F", "G", "Am", "Bdim"]);
        let a_minor = Key {
            tonic: 9,
            mode: Mode::Minor,
        };
        assert_eq!(a_minor.chord(0, true).symbol(), "Am");
        assert_eq!(a_minor.chord(4, true).symbol(), "E7");
        assert_eq!(a_minor.chord(4, false).symbol(), "E");
        assert_eq!(c_major.chord(4, true).symbol(), "G7");
        assert_eq!(c_major.chord(0, true).symbol(), "C");
    }

    #[test]
    fn nearest_key_is_within_a_tritone() {
        for centre in 30..90 {
            for pc in 0..12u8 {
                let key = Chord::nearest_key(pc, centre);
                assert_eq!(key % 12, pc);
                assert!((key as i32 - centre).abs() <= 6);
            }
        }
    }
}
