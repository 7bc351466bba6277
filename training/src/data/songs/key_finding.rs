//! Hearing a recording's key: a 12-bin chroma profile from STFT magnitudes, and the
//! Krumhansl–Schmuckler estimate (the key whose rotated Krumhansl–Kessler profile correlates
//! best with it). Key clips are checked with it, so their labels are known to be audible.
//!
//! A chroma measured from audio holds every note's harmonics as well as the note: the third
//! harmonic adds the fifth above, the fifth harmonic a major third, so the root of a minor
//! chord adds the major third its chord lacks. As in Gómez (2006, "Tonal description of
//! polyphonic audio"), the profiles are therefore compared in the same form: each key's
//! profile is spread over the pitch classes of the first `HARMONICS` harmonics of every
//! degree, harmonic `h` weighted `HARMONIC_DECAY^(h−1)`.

use anyhow::{Context, ensure};
use tessera_core::dsp::stft::{Stft, StftConfig};

use super::theory::{KRUMHANSL_MAJOR, KRUMHANSL_MINOR, Key, Mode};

/// Frequency range the chroma is gathered from, Hz: the lowest bass fundamentals (E1 is
/// 41 Hz) to the upper harmonics of chords, leaving out the drums' high end.
const CHROMA_HZ: (f64, f64) = (30.0, 2000.0);

/// Harmonics each profile degree is spread over, and the weight ratio of consecutive ones.
const HARMONICS: usize = 5;
const HARMONIC_DECAY: f64 = 0.6;

/// Widest FFT bin, Hz: half a semitone at the lowest chroma frequency is 1.9 Hz, so the
/// lowest notes spread over a few neighbouring bins at most.
const MAX_BIN_HZ: f64 = 3.0;

/// The chroma of `mono`: the STFT magnitude summed per pitch class (A4 = 440 Hz) over
/// [`CHROMA_HZ`]; index 0 is C.
pub fn chroma(mono: &[f32], sample_rate: u32) -> anyhow::Result<[f64; 12]> {
    let sr = f64::from(sample_rate);
    let n_fft = ((sr / MAX_BIN_HZ).ceil() as usize).next_power_of_two();
    // Frames side by side, not overlapping: a histogram over the clip needs no more.
    let stft = Stft::new(StftConfig::new(n_fft, n_fft)).context("chroma STFT")?;
    ensure!(
        mono.len() > n_fft / 2,
        "{} samples are too few for a chroma profile",
        mono.len()
    );
    let spectrum = stft.forward(mono).context("chroma STFT")?;
    let mut chroma = [0f64; 12];
    for (bin, row) in spectrum.outer_iter().enumerate() {
        let hz = bin as f64 * sr / n_fft as f64;
        if !(CHROMA_HZ.0..CHROMA_HZ.1).contains(&hz) {
            continue;
        }
        let pitch_class = ((12.0 * (hz / 440.0).log2() + 69.0).round() as i64).rem_euclid(12);
        chroma[pitch_class as usize] += row.iter().map(|c| f64::from(c.norm())).sum::<f64>();
    }
    Ok(chroma)
}

/// A profile (from its tonic upwards) as audio shows it: every degree's weight also lands on
/// the pitch classes of its harmonics.
fn with_harmonics(profile: &[f64; 12]) -> [f64; 12] {
    let mut spread = [0.0; 12];
    for (degree, &weight) in profile.iter().enumerate() {
        for h in 1..=HARMONICS {
            let semitones = (12.0 * (h as f64).log2()).round() as usize;
            spread[(degree + semitones) % 12] += weight * HARMONIC_DECAY.powi(h as i32 - 1);
        }
    }
    spread
}

/// The key whose Krumhansl–Kessler profile (with harmonics), rotated to its tonic,
/// correlates best with `chroma` (index 0 = C).
pub fn estimate_key(chroma: &[f64; 12]) -> Key {
    let mut best = (
        Key {
            tonic: 0,
            mode: Mode::Major,
        },
        f64::MIN,
    );
    let profiles = [
        (Mode::Major, with_harmonics(&KRUMHANSL_MAJOR)),
        (Mode::Minor, with_harmonics(&KRUMHANSL_MINOR)),
    ];
    for tonic in 0..12u8 {
        for (mode, profile) in &profiles {
            let mode = *mode;
            let rotated: [f64; 12] =
                std::array::from_fn(|pc| profile[(pc + 12 - tonic as usize) % 12]);
            let r = correlation(chroma, &rotated);
            if r > best.1 {
                best = (Key { tonic, mode }, r);
            }
        }
    }
    best.0
}

/// Pearson correlation of two 12-bin profiles (0 when one is flat).
fn correlation(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / 12.0, b.iter().sum::<f64>() / 12.0);
    let (mut cov, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - mean_a) * (y - mean_b);
        var_a += (x - mean_a).powi(2);
        var_b += (y - mean_b).powi(2);
    }
    if var_a == 0.0 || var_b == 0.0 {
        0.0
    } else {
        cov / (var_a * var_b).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two seconds of the triads of `roots` (MIDI key of each chord's root and its third and
    /// fifth intervals), half a second each, as sine tones.
    fn chords(triads: &[(u8, u8, u8)], sr: u32) -> Vec<f32> {
        let per = sr as usize / 2;
        (0..per * triads.len())
            .map(|i| {
                let (root, third, fifth) = triads[i / per];
                let t = i as f64 / f64::from(sr);
                [root, root + third, root + fifth]
                    .iter()
                    .map(|&k| {
                        let hz = 440.0 * ((f64::from(k) - 69.0) / 12.0).exp2();
                        (std::f64::consts::TAU * hz * t).sin() as f32 * 0.2
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn cadences_are_heard_in_their_keys() {
        // I–IV–V–I in C major, i–iv–V–i in A minor (E major as the dominant).
        let c_major = chords(&[(60, 4, 7), (65, 4, 7), (67, 4, 7), (60, 4, 7)], 16_000);
        let a_minor = chords(&[(57, 3, 7), (62, 3, 7), (64, 4, 7), (57, 3, 7)], 16_000);
        let key = |audio: &[f32]| estimate_key(&chroma(audio, 16_000).unwrap()).name();
        assert_eq!(key(&c_major), "C major");
        assert_eq!(key(&a_minor), "A minor");
        assert!(chroma(&[0.0; 100], 16_000).is_err());
    }
}
