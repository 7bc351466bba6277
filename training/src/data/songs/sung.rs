//! The vocals stem sung by espeak-ng: every note of the vocals part is its syllable sung at
//! the note's pitch and length (`psola`) and laid at its onset. Notes are sung whole and
//! independently, so a window of the song is the same stretch of the whole song, sample for
//! sample.

use anyhow::ensure;

use super::composer::{Part, SAMPLE_RATE};
use super::espeak;
use super::psola::{LEAD_SECONDS, RELEASE_SECONDS};

/// RMS of a note at velocity 127; velocity scales it quadratically, as GM synthesizers do
/// (about −40 dB at velocity 1). Set so the sung stem is about as loud as the GM voice patches.
const FULL_VELOCITY_RMS: f32 = 0.04;

/// Samples `from..from + total` of the vocals part `part` sung by espeak-ng `voice`, one
/// syllable per note (mono).
pub fn render_sung(
    part: &Part,
    voice: &str,
    syllables: &[String],
    from: usize,
    total: usize,
) -> anyhow::Result<Vec<f32>> {
    ensure!(
        syllables.len() == part.notes.len(),
        "the song gives {} syllables for the {} notes of its vocals",
        syllables.len(),
        part.notes.len()
    );
    let sr = f64::from(SAMPLE_RATE);
    let (window_start, window_end) = (from as f64 / sr, (from + total) as f64 / sr);
    let mut out = vec![0f32; total];
    for (note, word) in part.notes.iter().zip(syllables) {
        let reaches_window = note.start - LEAD_SECONDS < window_end
            && note.start + note.duration + RELEASE_SECONDS > window_start;
        if !reaches_window {
            continue;
        }
        let hz = 440.0 * ((f64::from(note.key) - 69.0) / 12.0).exp2();
        let rms = FULL_VELOCITY_RMS * (f32::from(note.velocity) / 127.0).powi(2);
        let sung = espeak::syllable(voice, word)?.sing(hz, note.duration, rms);
        // Sample of the window where the sung note's first sample goes (may be negative).
        let offset = (note.start * sr).round() as i64 - sung.lead as i64 - from as i64;
        let skip = (-offset).max(0) as usize;
        let first = offset.max(0) as usize;
        if first >= total || skip >= sung.samples.len() {
            continue;
        }
        out[first..]
            .iter_mut()
            .zip(&sung.samples[skip..])
            .for_each(|(o, s)| *o += s);
    }
    Ok(out)
}
