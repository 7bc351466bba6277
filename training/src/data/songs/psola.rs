//! Singing a spoken syllable at a set pitch and length with TD-PSOLA (pitch-synchronous
//! overlap-add, Moulines & Charpentier 1990): grains two source periods long, cut around the
//! pitch marks of a flat-pitched recording, are laid down one target period apart. The
//! grains keep the voice's formants while the spacing sets the new pitch, and repeating or
//! skipping grains stretches or shortens the syllable without changing it.
//!
//! A note plays the syllable's onset (consonant and the first moments of the vowel) at its
//! natural speed, up to `LEAD_SECONDS` before the note starts so the vowel lands on the beat
//! as singers do, then holds the vowel by moving slowly through its steady part until the
//! note ends, adds a light delayed vibrato, and fades out over `RELEASE_SECONDS`.

use anyhow::{Context, ensure};
use tessera_core::dsp::stft::{Stft, StftConfig};
use tessera_core::primitives::SpectrogramGeometry;
use tessera_core::primitives::melody::Melody;

/// Frame length of the loudness analysis that finds the vowel, seconds.
const FRAME_SECONDS: f64 = 0.01;

/// Frames at least this fraction of the loudest frame's RMS belong to the vowel.
const LOUD_FRACTION: f64 = 0.4;

/// Lowest and highest source pitch searched for, Hz.
const SOURCE_HZ: (f64, f64) = (70.0, 1000.0);

/// FFT length of the pitch analysis of a recording.
const PITCH_N_FFT: usize = 2048;

/// Frequency ratio of a semitone.
const SEMITONE: f64 = 1.059_463_094_359_295_3;

/// Longest stretch of the onset sung before the note's start, seconds.
pub const LEAD_SECONDS: f64 = 0.08;

/// Beginning of the vowel played at its natural speed, seconds: it carries the transition
/// from the consonant.
const ATTACK_SECONDS: f64 = 0.05;

/// End of the vowel left out of the held part, seconds: espeak-ng lets it decay there.
const TAIL_SECONDS: f64 = 0.05;

/// Fade-in at the first sample, seconds: the onset may be cut mid-consonant.
const FADE_IN_SECONDS: f64 = 0.01;

/// Fade-out after the note's end, seconds, like a synthesizer's release.
pub const RELEASE_SECONDS: f64 = 0.08;

/// Vibrato rate in Hz, depth in cents either way, and when it starts and reaches full depth
/// (seconds after the onset): sung notes waver, short ones barely.
const VIBRATO_HZ: f64 = 5.5;
const VIBRATO_CENTS: f64 = 20.0;
const VIBRATO_ONSET: (f64, f64) = (0.2, 0.5);

/// A recorded syllable on one flat pitch, analysed for PSOLA.
#[derive(Debug, Clone)]
pub struct Syllable {
    /// The recording, mono.
    samples: Vec<f32>,
    /// Its sample rate, Hz (also the rate of every sung note).
    sample_rate: u32,
    /// Its pitch period, samples (fractional).
    period: f64,
    /// A pitch mark: the marks lie at `mark_origin + j · period` for `j` in `marks`.
    mark_origin: f64,
    /// Indices of the marks whose grains (±one period) lie inside the recording.
    marks: (i64, i64),
    /// Start of the vowel (its first loud frame), samples.
    vowel_start: f64,
    /// End of the vowel (its last loud frame), samples.
    vowel_end: f64,
}

/// A sung note: the samples, which start `lead` samples before the note's onset.
#[derive(Debug, Clone, PartialEq)]
pub struct SungNote {
    /// The note, its onset and release included.
    pub samples: Vec<f32>,
    /// How many samples of onset come before the note's start time.
    pub lead: usize,
}

impl Syllable {
    /// Finds the vowel, the pitch period and the pitch marks of a flat-pitched recording.
    pub fn analyse(samples: Vec<f32>, sample_rate: u32) -> anyhow::Result<Self> {
        let sr = f64::from(sample_rate);
        let frame = ((FRAME_SECONDS * sr) as usize).max(1);
        let rms: Vec<f64> = samples
            .chunks(frame)
            .map(|c| (c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
            .collect();
        let loudest = rms.iter().copied().fold(0.0, f64::max);
        ensure!(loudest > 1e-4, "the recording is silent");
        let loud = |r: &f64| *r >= LOUD_FRACTION * loudest;
        let first = rms
            .iter()
            .position(loud)
            .expect("the loudest frame is loud");
        let last = rms
            .iter()
            .rposition(loud)
            .expect("the loudest frame is loud");
        let vowel_start = (first * frame) as f64;
        let vowel_end = ((last + 1) * frame).min(samples.len()) as f64;
        let centre = ((vowel_start + vowel_end) / 2.0) as usize;
        let period = estimate_period(&samples, first * frame..vowel_end as usize, sample_rate)?;
        ensure!(
            vowel_end - vowel_start >= 4.0 * period,
            "the vowel is shorter than four pitch periods"
        );
        // Any point of the waveform's cycle would do as long as every mark is the same point.
        let cycle = centre..(centre + period.ceil() as usize).min(samples.len());
        let mark_origin = cycle
            .max_by(|&a, &b| samples[a].total_cmp(&samples[b]))
            .expect("a period is at least one sample") as f64;
        // Grains reach one period either side and interpolate one sample further.
        let marks = (
            ((period - mark_origin) / period).ceil() as i64,
            ((samples.len() as f64 - 2.0 - period - mark_origin) / period).floor() as i64,
        );
        ensure!(
            marks.0 <= marks.1,
            "the recording is shorter than two periods"
        );
        Ok(Self {
            samples,
            sample_rate,
            period,
            mark_origin,
            marks,
            vowel_start,
            vowel_end,
        })
    }

    /// The pitch of the recording, Hz.
    pub fn source_hz(&self) -> f64 {
        f64::from(self.sample_rate) / self.period
    }

    /// Sings the syllable at `hz` for `seconds` (onset to release start), scaled so the note's
    /// RMS over those seconds is `rms`.
    pub fn sing(&self, hz: f64, seconds: f64, rms: f32) -> SungNote {
        let sr = f64::from(self.sample_rate);
        let lead = self.vowel_start.min(LEAD_SECONDS * sr).floor();
        let note = seconds.max(0.0) * sr;
        let len = (lead + note + RELEASE_SECONDS * sr).ceil() as usize;

        // Output position → position in the recording: the onset at natural speed (faster
        // if it would fill more than half of a short note), then the held vowel.
        let onset_from = self.vowel_start - lead;
        let attack_end = (self.vowel_start + ATTACK_SECONDS * sr).min(self.vowel_end);
        let hold_end = (self.vowel_end - TAIL_SECONDS * sr).max(attack_end);
        let onset_in = attack_end - onset_from;
        let onset_out = onset_in.min(lead + 0.5 * note).max(1.0);
        let hold_rate = ((hold_end - attack_end) / (len as f64 - onset_out).max(1.0)).min(1.0);
        let source_at = |n: f64| {
            if n < onset_out {
                onset_from + n * onset_in / onset_out
            } else {
                (attack_end + (n - onset_out) * hold_rate).min(hold_end)
            }
        };

        let mut samples = vec![0f32; len];
        let mut n = 0.0;
        while n < len as f64 {
            let mark = ((source_at(n) - self.mark_origin) / self.period).round() as i64;
            let mark = mark.clamp(self.marks.0, self.marks.1);
            self.add_grain(
                &mut samples,
                n,
                self.mark_origin + mark as f64 * self.period,
            );
            n += sr / (hz * vibrato((n - lead) / sr));
        }

        let fade_in = FADE_IN_SECONDS * sr;
        for (i, sample) in samples.iter_mut().enumerate().take(fade_in.ceil() as usize) {
            *sample *= raised_cosine(i as f64 / fade_in) as f32;
        }
        let (end, release) = (lead + note, RELEASE_SECONDS * sr);
        for (i, sample) in samples.iter_mut().enumerate().skip(end.ceil() as usize) {
            *sample *= raised_cosine(1.0 - (i as f64 - end) / release) as f32;
        }
        let held = &samples[lead as usize..(lead + note).round() as usize];
        let power =
            held.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / held.len().max(1) as f64;
        if power > 0.0 {
            let gain = (f64::from(rms) / power.sqrt()) as f32;
            samples.iter_mut().for_each(|x| *x *= gain);
        }
        SungNote {
            samples,
            lead: lead as usize,
        }
    }

    /// Adds the Hann-windowed grain around recording position `centre` (two periods long)
    /// to `out`, centred at output position `at`; fractional positions are interpolated.
    fn add_grain(&self, out: &mut [f32], at: f64, centre: f64) {
        let period = self.period;
        let first = (at - period).ceil().max(0.0) as usize;
        let last = ((at + period).floor() as usize).min(out.len() - 1);
        if first > last {
            return;
        }
        // The window's phase π·offset/period advances by a fixed step per sample: rotate a
        // (sin, cos) pair instead of calling cos for every sample.
        let offset = first as f64 - at;
        let step = std::f64::consts::PI / period;
        let (step_sin, step_cos) = step.sin_cos();
        let (mut sin, mut cos) = (step * offset).sin_cos();
        // The recording is read at a fixed fraction between samples for the whole grain.
        let position = centre + offset;
        let frac = position.fract();
        let source = &self.samples[position.floor() as usize..];
        for (value, pair) in out[first..=last].iter_mut().zip(source.windows(2)) {
            let sample = f64::from(pair[0]) * (1.0 - frac) + f64::from(pair[1]) * frac;
            *value += (0.5 * (1.0 + cos) * sample) as f32;
            (sin, cos) = (
                sin * step_cos + cos * step_sin,
                cos * step_cos - sin * step_sin,
            );
        }
    }
}

/// Pitch ratio of the vibrato `t` seconds after the onset.
fn vibrato(t: f64) -> f64 {
    let (start, full) = VIBRATO_ONSET;
    let depth = ((t - start) / (full - start)).clamp(0.0, 1.0) * VIBRATO_CENTS;
    (depth / 1200.0 * (std::f64::consts::TAU * VIBRATO_HZ * t).sin()).exp2()
}

/// 0 below `x = 0`, 1 above `x = 1`, a raised-cosine ramp between.
fn raised_cosine(x: f64) -> f64 {
    0.5 - 0.5 * (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos()
}

/// The pitch period (samples, fractional) of `samples[range]`: the median f0 of the
/// predominant-f0 tracker (`primitives::melody`, whose harmonic weighting hears a voice
/// with weak odd harmonics at its perceived pitch, not an octave below, and is not fooled
/// by a strong formant harmonic), refined to the autocorrelation peak within a semitone of
/// it and a parabola through that peak's neighbours.
fn estimate_period(
    samples: &[f32],
    range: std::ops::Range<usize>,
    sample_rate: u32,
) -> anyhow::Result<f64> {
    let sr = f64::from(sample_rate);
    let excerpt = &samples[range.clone()];
    let geometry = SpectrogramGeometry {
        sample_rate,
        n_fft: PITCH_N_FFT,
        hop_length: PITCH_N_FFT / 4,
    };
    let magnitude = Stft::new(StftConfig::new(geometry.n_fft, geometry.hop_length))?
        .forward(excerpt)
        .context("the recording is too short to find its pitch")?
        .mapv(|c| c.norm());
    let melody = Melody {
        min_hz: SOURCE_HZ.0 as f32,
        max_hz: SOURCE_HZ.1 as f32,
        ..Melody::default()
    };
    let mut f0: Vec<f32> = melody
        .track(magnitude.view(), &geometry)?
        .into_iter()
        .flatten()
        .collect();
    ensure!(!f0.is_empty(), "no pitch found in the vowel");
    f0.sort_by(f32::total_cmp);
    let rough = sr / f64::from(f0[f0.len() / 2]);

    // Normalised autocorrelation of a window in the middle of the range at lags within a
    // semitone of the rough period.
    let lags = (rough / SEMITONE).floor() as usize - 1..=(rough * SEMITONE).ceil() as usize + 1;
    let window = (range.len() / 2).min(4096);
    let start = range.start + range.len().saturating_sub(window + lags.end() + 1) / 2;
    ensure!(
        start + window + lags.end() < range.end,
        "the vowel is too short to measure its period"
    );
    let segment = |lag: usize| &samples[start + lag..start + lag + window];
    let energy = |s: &[f32]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    let base_energy = energy(segment(0));
    let correlation = |lag: usize| {
        let dot: f64 = segment(0)
            .iter()
            .zip(segment(lag))
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        dot / (base_energy * energy(segment(lag))).sqrt().max(1e-12)
    };
    let values: Vec<f64> = lags.clone().map(correlation).collect();
    let peak = (1..values.len() - 1)
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .expect("at least three lags");
    let (left, middle, right) = (values[peak - 1], values[peak], values[peak + 1]);
    let curvature = left - 2.0 * middle + right;
    let shift = if curvature < 0.0 {
        0.5 * (left - right) / curvature
    } else {
        0.0
    };
    Ok((lags.start() + peak) as f64 + shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vowel-like test recording: a pulse train at `hz` through two resonances, 0.1 s of
    /// quiet onset then 0.4 s loud.
    fn recording(hz: f64, sr: u32) -> Vec<f32> {
        let sr = f64::from(sr);
        (0..(0.5 * sr) as usize)
            .map(|i| {
                let t = i as f64 / sr;
                let level = if t < 0.1 { 0.1 } else { 1.0 };
                let phase = (t * hz).fract();
                let pulse = (-phase * 12.0).exp();
                let formants = (std::f64::consts::TAU * 700.0 * phase / hz).sin()
                    + 0.5 * (std::f64::consts::TAU * 1200.0 * phase / hz).sin();
                (level * pulse * formants * 0.3) as f32
            })
            .collect()
    }

    /// The pitch of `samples` (Hz) measured as the analysis does.
    fn pitch(samples: &[f32], sr: u32) -> f64 {
        f64::from(sr) / estimate_period(samples, 0..samples.len(), sr).unwrap()
    }

    #[test]
    fn the_source_pitch_and_vowel_are_found() {
        let syllable = Syllable::analyse(recording(300.0, 44_100), 44_100).unwrap();
        assert!(
            (syllable.source_hz() - 300.0).abs() < 1.0,
            "{}",
            syllable.source_hz()
        );
        assert!((syllable.vowel_start / 44_100.0 - 0.1).abs() < 0.011);
        assert!(Syllable::analyse(vec![0.0; 44_100], 44_100).is_err());
    }

    #[test]
    fn notes_are_sung_at_their_pitch_length_and_level() {
        let sr = 44_100;
        let syllable = Syllable::analyse(recording(300.0, sr), sr).unwrap();
        for (hz, seconds) in [(220.0, 1.2), (440.0, 0.3), (784.0, 0.8)] {
            let note = syllable.sing(hz, seconds, 0.05);
            let expected = note.lead as f64 + (seconds + RELEASE_SECONDS) * f64::from(sr);
            assert!((note.samples.len() as f64 - expected).abs() <= 1.0);
            // The held part, past the onset and before the vibrato.
            let held = &note.samples[note.lead + 4410..note.lead + 8820];
            let found = pitch(held, sr);
            let cents = 1200.0 * (found / hz).log2();
            assert!(cents.abs() < 15.0, "{hz} Hz sung at {found:.1} Hz");
            let body = &note.samples[note.lead..note.lead + (seconds * f64::from(sr)) as usize];
            let rms = (body.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / body.len() as f64)
                .sqrt();
            assert!((rms - 0.05).abs() < 1e-3, "rms {rms}");
            assert!(note.samples.last().unwrap().abs() < 1e-6, "no release fade");
        }
    }
}
