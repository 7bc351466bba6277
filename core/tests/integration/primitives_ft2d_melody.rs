//! FT2D-M, FT2D-R and Melody on generated tones with known answers: a repeating drum loop
//! under a non-repeating melody (FT2D), a stepped vibrato melody over a quieter
//! accompaniment (Melody), plus the edge cases every primitive must survive.
//!
//! SDRs are on magnitudes: `10 log10(|ref|² / |ref − est|²)`. The "trivial" estimate of a
//! source is the mixture magnitude itself (what a primitive that separates nothing returns).

use std::f32::consts::TAU;

use ndarray::{Array2, ArrayView2};
use tessera_core::dsp::spectrogram::magnitude;
use tessera_core::dsp::stft::{Stft, StftConfig};
use tessera_core::primitives::ft2d::{Ft2d, PeakPicker};
use tessera_core::primitives::melody::Melody;
use tessera_core::primitives::{Primitive, PrimitiveError, SpectrogramGeometry};

const SAMPLE_RATE: u32 = 44_100;
const N_FFT: usize = 2048;
const HOP: usize = 441;
const GEOMETRY: SpectrogramGeometry = SpectrogramGeometry {
    sample_rate: SAMPLE_RATE,
    n_fft: N_FFT,
    hop_length: HOP,
};

fn spectrogram(signal: &[f32]) -> Array2<f32> {
    let stft = Stft::new(StftConfig::new(N_FFT, HOP)).expect("valid STFT config");
    magnitude(stft.forward(signal).expect("signal long enough").view())
}

fn sdr(reference: ArrayView2<'_, f32>, estimate: ArrayView2<'_, f32>) -> f64 {
    let signal: f64 = reference.iter().map(|&r| f64::from(r).powi(2)).sum();
    let error: f64 = reference
        .iter()
        .zip(estimate)
        .map(|(&r, &e)| f64::from(r - e).powi(2))
        .sum();
    10.0 * (signal / error).log10()
}

fn all_finite(a: &Array2<f32>) -> bool {
    a.iter().all(|v| v.is_finite())
}

/// Deterministic white noise in [-1, 1) (a 32-bit LCG; the tests need no RNG crate).
fn noise(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

/// Adds a harmonic note (`harmonics` partials with amplitudes `amplitude · 0.7^(h−1)`) from
/// sample `start` to `end`, with f0 `f0(t)` in Hz at time `t` seconds after `start` and
/// 10 ms raised-cosine fades.
fn add_note(
    out: &mut [f32],
    start: usize,
    end: usize,
    harmonics: usize,
    amplitude: f32,
    f0: impl Fn(f32) -> f32,
) {
    let fade = (0.01 * SAMPLE_RATE as f32) as usize;
    let mut phase = 0.0f32;
    for n in start..end.min(out.len()) {
        let t = (n - start) as f32 / SAMPLE_RATE as f32;
        let edge = (n - start).min(end - 1 - n);
        let envelope = if edge < fade {
            0.5 - 0.5 * (std::f32::consts::PI * edge as f32 / fade as f32).cos()
        } else {
            1.0
        };
        let mut value = 0.0;
        for h in 1..=harmonics {
            value += 0.7f32.powi(h as i32 - 1) * (h as f32 * phase).sin();
        }
        out[n] += amplitude * envelope * value;
        phase = (phase + TAU * f0(t) / SAMPLE_RATE as f32) % (TAU * 64.0);
    }
}

/// `semitones` above A4 in Hz.
fn note_hz(semitones: f32) -> f32 {
    440.0 * (semitones / 12.0).exp2()
}

// ---------------------------------------------------------------- FT2D

/// Seconds of the FT2D scene and the period of its loop (exactly 50 frames).
const FT2D_SECONDS: f32 = 6.0;
const LOOP_SAMPLES: usize = 22_050;

/// One bar of the drum loop: a noise-burst kick, two hi-hats and a tone stab.
fn drum_bar() -> Vec<f32> {
    let mut bar = vec![0.0; LOOP_SAMPLES];
    let hit_noise = noise(LOOP_SAMPLES, 7);
    let hits: [(usize, f32, f32); 4] = [
        (0, 0.04, 0.8),
        (LOOP_SAMPLES / 4, 0.015, 0.35),
        (LOOP_SAMPLES / 2, 0.04, 0.6),
        (3 * LOOP_SAMPLES / 4, 0.015, 0.35),
    ];
    for (onset, decay, gain) in hits {
        for n in onset..LOOP_SAMPLES {
            let t = (n - onset) as f32 / SAMPLE_RATE as f32;
            bar[n] += gain * (-t / decay).exp() * hit_noise[n];
        }
    }
    let stab_start = 3 * LOOP_SAMPLES / 8;
    add_note(&mut bar, stab_start, stab_start + 2646, 4, 0.3, |_| 1320.0);
    bar
}

/// (loop, melody) of the FT2D scene; the melody's notes have irregular pitches and lengths,
/// so nothing about it repeats with the loop's period.
fn ft2d_scene() -> (Vec<f32>, Vec<f32>) {
    let len = (FT2D_SECONDS * SAMPLE_RATE as f32) as usize;
    let bar = drum_bar();
    let drums: Vec<f32> = (0..len).map(|n| bar[n % LOOP_SAMPLES]).collect();
    let notes = [
        (-2.0, 0.37),
        (5.0, 0.53),
        (1.0, 0.29),
        (8.0, 0.71),
        (3.0, 0.44),
        (10.0, 0.61),
        (-4.0, 0.33),
        (6.0, 0.47),
        (0.0, 0.58),
        (11.0, 0.39),
        (4.0, 0.67),
        (-1.0, 0.52),
        (7.0, 0.49),
    ];
    let mut melody = vec![0.0; len];
    let mut start = 0;
    for (semitones, seconds) in notes {
        let end = start + (seconds * SAMPLE_RATE as f32) as usize;
        // A slow upward glide inside each note keeps even equal pitches from repeating.
        add_note(&mut melody, start, end, 6, 0.25, |t| {
            note_hz(semitones + 0.8 * t)
        });
        start = end;
    }
    (drums, melody)
}

/// SDRs (background estimate, background trivial, foreground estimate, foreground trivial)
/// of `ft2d` on the FT2D scene; also checks shapes, finiteness and `fg + bg = X`.
fn ft2d_sdrs(ft2d: &Ft2d) -> (f64, f64, f64, f64) {
    let (drums, melody) = ft2d_scene();
    let mix: Vec<f32> = drums.iter().zip(&melody).map(|(d, m)| d + m).collect();
    let x = spectrogram(&mix);
    let background = spectrogram(&drums);
    let foreground = spectrogram(&melody);
    let estimate = ft2d.separate(x.view(), &GEOMETRY).expect("ft2d runs");
    assert_eq!(estimate.background.dim(), x.dim());
    assert!(all_finite(&estimate.foreground) && all_finite(&estimate.background));
    assert!(estimate.foreground.iter().all(|&v| v >= 0.0));
    assert!(estimate.background.iter().all(|&v| v >= 0.0));
    let sum_error = (&estimate.foreground + &estimate.background - &x)
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(sum_error <= 1e-4 * x.iter().fold(0.0f32, |m, &v| m.max(v)));
    (
        sdr(background.view(), estimate.background.view()),
        sdr(background.view(), x.view()),
        sdr(foreground.view(), estimate.foreground.view()),
        sdr(foreground.view(), x.view()),
    )
}

fn print_sdrs(name: &str, (bg, bg_trivial, fg, fg_trivial): (f64, f64, f64, f64)) {
    println!(
        "{name}: background SDR {bg:.2} dB (trivial {bg_trivial:.2} dB), \
         foreground SDR {fg:.2} dB (trivial {fg_trivial:.2} dB)"
    );
}

#[test]
fn ft2d_m_recovers_the_repeating_loop() {
    // Measured: background 3.25 dB (trivial −3.81), foreground 6.92 dB (trivial 4.20); a
    // numpy/scipy transcription of the same rule gives the same, nussl's `original` 3.15 / 6.75.
    assert_recovers_loop("FT2D-M", &Ft2d::median());
}

#[test]
fn ft2d_r_recovers_the_repeating_loop() {
    // Measured: background 4.24 dB (trivial −3.81), foreground 7.92 dB (trivial 4.20); a
    // numpy/scipy transcription gives the same, nussl's `local_std` 4.43 / 8.03.
    assert_recovers_loop("FT2D-R", &Ft2d::std_dev());
}

/// The background estimate beats the mixture-as-estimate by 6 dB, the foreground by 2 dB.
fn assert_recovers_loop(name: &str, ft2d: &Ft2d) {
    let sdrs = ft2d_sdrs(ft2d);
    print_sdrs(name, sdrs);
    let (bg, bg_trivial, fg, fg_trivial) = sdrs;
    assert!(
        bg >= bg_trivial + 6.0,
        "{name}: background SDR {bg:.2} dB vs trivial {bg_trivial:.2} dB"
    );
    assert!(
        fg >= fg_trivial + 2.0,
        "{name}: foreground SDR {fg:.2} dB vs trivial {fg_trivial:.2} dB"
    );
}

#[test]
fn ft2d_constructors_name_their_picker() {
    assert_eq!(Ft2d::median().peak_picker, PeakPicker::Median);
    assert_eq!(Ft2d::std_dev().peak_picker, PeakPicker::StdDev);
    assert_eq!(Ft2d::median().name(), "ft2d_m");
    assert_eq!(Ft2d::std_dev().name(), "ft2d_r");
}

#[test]
fn ft2d_splits_long_input_into_segments_without_seams_of_nan() {
    // 3.5 s in 1 s segments: three segments, the last one longer.
    let ft2d = Ft2d {
        segment_seconds: 1.0,
        ..Ft2d::std_dev()
    };
    let (drums, melody) = ft2d_scene();
    let mix: Vec<f32> = drums
        .iter()
        .zip(&melody)
        .take(154_350)
        .map(|(d, m)| d + m)
        .collect();
    let x = spectrogram(&mix);
    let out = ft2d.separate(x.view(), &GEOMETRY).expect("ft2d runs");
    assert!(all_finite(&out.background) && all_finite(&out.foreground));
    // Every segment finds some background (the loop) above the 100 Hz high pass.
    for segment in [0..100, 100..200, 200..x.ncols()] {
        let energy: f32 = out.background.slice(ndarray::s![5.., segment]).sum();
        assert!(energy > 0.0);
    }
}

// ---------------------------------------------------------------- Melody

/// A note of the melody scene: semitones above A4 (None = silence) and its length in
/// seconds.
const MELODY_NOTES: [(Option<f32>, f32); 13] = [
    (Some(-12.0), 0.5),
    (Some(-9.0), 0.5),
    (Some(-5.0), 0.5),
    (Some(-2.0), 0.5),
    (Some(-7.0), 0.5),
    (Some(0.0), 0.5),
    (Some(-4.0), 0.5),
    (None, 0.6),
    (Some(3.0), 0.5),
    (Some(-10.0), 0.5),
    (Some(7.0), 0.5),
    (Some(-3.0), 0.5),
    (Some(-8.0), 0.5),
];
const VIBRATO_HZ: f32 = 5.5;
const VIBRATO_CENTS: f32 = 30.0;

/// Melody f0 with vibrato at `t` seconds into a note of `semitones`.
fn vibrato_hz(semitones: f32, t: f32) -> f32 {
    note_hz(semitones + VIBRATO_CENTS / 100.0 * (TAU * VIBRATO_HZ * t).sin())
}

/// A span of the melody scene: semitones above A4 (None = rest), first and end sample.
type NoteSpan = (Option<f32>, usize, usize);

/// (melody, accompaniment, note spans). The accompaniment is a low A2 + E3
/// drone 12 dB below the melody, silent where the melody rests.
fn melody_scene() -> (Vec<f32>, Vec<f32>, Vec<NoteSpan>) {
    let len: usize = MELODY_NOTES
        .iter()
        .map(|&(_, s)| (s * SAMPLE_RATE as f32) as usize)
        .sum();
    let mut melody = vec![0.0; len];
    let mut accompaniment = vec![0.0; len];
    let mut spans = Vec::new();
    let mut start = 0;
    for (semitones, seconds) in MELODY_NOTES {
        let end = start + (seconds * SAMPLE_RATE as f32) as usize;
        if let Some(semitones) = semitones {
            add_note(&mut melody, start, end, 8, 0.3, |t| {
                vibrato_hz(semitones, t)
            });
            add_note(&mut accompaniment, start, end, 6, 0.075, |_| 110.0);
            add_note(&mut accompaniment, start, end, 6, 0.075, |_| 164.81);
        }
        spans.push((semitones, start, end));
        start = end;
    }
    (melody, accompaniment, spans)
}

#[test]
fn melody_tracks_a_vibrato_melody_within_50_cents_and_leaves_silence_unvoiced() {
    let (melody, accompaniment, spans) = melody_scene();
    let mix: Vec<f32> = melody
        .iter()
        .zip(&accompaniment)
        .map(|(m, a)| m + a)
        .collect();
    let x = spectrogram(&mix);
    let f0 = Melody::default()
        .track(x.view(), &GEOMETRY)
        .expect("melody runs");
    assert_eq!(f0.len(), x.ncols());

    let (mut voiced, mut correct, mut silent, mut silent_unvoiced) = (0, 0, 0, 0);
    for (t, estimate) in f0.iter().enumerate() {
        // Judge only frames whose whole window lies inside one note or rest.
        let (first, last) = ((t * HOP).saturating_sub(N_FFT / 2), t * HOP + N_FFT / 2);
        let Some(&(semitones, start, _)) = spans
            .iter()
            .find(|&&(_, start, end)| first >= start && last < end && t * HOP >= N_FFT / 2)
        else {
            continue;
        };
        match semitones {
            Some(semitones) => {
                voiced += 1;
                let truth = vibrato_hz(semitones, (t * HOP - start) as f32 / SAMPLE_RATE as f32);
                if estimate.is_some_and(|hz| (1200.0 * (hz / truth).log2()).abs() <= 50.0) {
                    correct += 1;
                }
            }
            None => {
                silent += 1;
                if estimate.is_none() {
                    silent_unvoiced += 1;
                }
            }
        }
    }
    let accuracy = correct as f64 / voiced as f64;
    println!("melody: {correct}/{voiced} voiced frames within 50 cents ({accuracy:.3})");
    assert!(voiced > 400 && silent > 30);
    assert!(
        accuracy >= 0.9,
        "only {accuracy:.3} of voiced frames within 50 cents"
    );
    assert_eq!(silent_unvoiced, silent, "silent frames must be unvoiced");
}

#[test]
fn melody_foreground_holds_the_melody_harmonics() {
    let (melody, accompaniment, _) = melody_scene();
    let mix: Vec<f32> = melody
        .iter()
        .zip(&accompaniment)
        .map(|(m, a)| m + a)
        .collect();
    let x = spectrogram(&mix);
    let truth = spectrogram(&melody);
    let out = Melody::default()
        .separate(x.view(), &GEOMETRY)
        .expect("melody runs");
    assert!(all_finite(&out.foreground) && all_finite(&out.background));
    assert!(out.background.iter().all(|&v| v >= 0.0));
    // Measured: foreground 17.68 dB against the melody-only magnitude (trivial 9.02 dB).
    let estimate_sdr = sdr(truth.view(), out.foreground.view());
    let trivial_sdr = sdr(truth.view(), x.view());
    println!("melody: foreground SDR {estimate_sdr:.2} dB (trivial {trivial_sdr:.2} dB)");
    assert!(
        estimate_sdr >= trivial_sdr + 6.0,
        "foreground SDR {estimate_sdr:.2} dB vs trivial {trivial_sdr:.2} dB"
    );
}

// ---------------------------------------------------------------- edge cases

fn primitives() -> Vec<Box<dyn Primitive>> {
    vec![
        Box::new(Ft2d::median()),
        Box::new(Ft2d::std_dev()),
        Box::new(Melody::default()),
    ]
}

#[test]
fn primitives_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Ft2d>();
    check::<Melody>();
}

#[test]
fn empty_and_too_short_spectrograms_are_rejected() {
    for primitive in primitives() {
        for (bins, frames) in [(0, 0), (N_FFT / 2 + 1, 0)] {
            let err = primitive.separate(Array2::zeros((bins, frames)).view(), &GEOMETRY);
            assert!(
                matches!(err, Err(PrimitiveError::BadInput { .. })),
                "{} accepted a {bins}×{frames} spectrogram",
                primitive.name()
            );
        }
    }
    // FT2D needs a full peak-picking neighbourhood of frames, melody three bins for a peak.
    let short = Array2::<f32>::ones((N_FFT / 2 + 1, 24));
    for ft2d in [Ft2d::median(), Ft2d::std_dev()] {
        assert!(matches!(
            ft2d.separate(short.view(), &GEOMETRY),
            Err(PrimitiveError::BadInput { .. })
        ));
    }
    let narrow = Array2::<f32>::ones((2, 10));
    assert!(matches!(
        Melody::default().track(narrow.view(), &GEOMETRY),
        Err(PrimitiveError::BadInput { .. })
    ));
}

#[test]
fn non_finite_input_is_rejected() {
    let mut x = Array2::<f32>::ones((N_FFT / 2 + 1, 100));
    x[[10, 10]] = f32::NAN;
    for primitive in primitives() {
        assert!(primitive.separate(x.view(), &GEOMETRY).is_err());
    }
}

#[test]
fn invalid_configurations_are_rejected() {
    let x = Array2::<f32>::ones((N_FFT / 2 + 1, 100));
    let even = Ft2d {
        neighbourhood: 24,
        ..Ft2d::median()
    };
    let tiny_segments = Ft2d {
        segment_seconds: 0.1,
        ..Ft2d::median()
    };
    let inverted_range = Melody {
        min_hz: 1000.0,
        max_hz: 100.0,
        ..Melody::default()
    };
    for primitive in [&even as &dyn Primitive, &tiny_segments, &inverted_range] {
        assert!(matches!(
            primitive.separate(x.view(), &GEOMETRY),
            Err(PrimitiveError::InvalidConfig(_))
        ));
    }
}

#[test]
fn silence_gives_silent_estimates_and_no_melody() {
    let x = Array2::<f32>::zeros((N_FFT / 2 + 1, 120));
    for primitive in primitives() {
        let out = primitive
            .separate(x.view(), &GEOMETRY)
            .expect("silence is valid");
        assert!(
            out.foreground.iter().all(|&v| v == 0.0),
            "{}",
            primitive.name()
        );
        assert!(
            out.background.iter().all(|&v| v == 0.0),
            "{}",
            primitive.name()
        );
    }
    let f0 = Melody::default()
        .track(x.view(), &GEOMETRY)
        .expect("silence is valid");
    assert!(f0.iter().all(Option::is_none));
}

#[test]
fn noise_gives_finite_estimates_that_add_up() {
    let signal = noise(88_200, 3);
    let x = spectrogram(&signal);
    for primitive in primitives() {
        let out = primitive
            .separate(x.view(), &GEOMETRY)
            .expect("noise is valid");
        assert!(all_finite(&out.foreground) && all_finite(&out.background));
        assert!(
            out.foreground
                .iter()
                .chain(&out.background)
                .all(|&v| v >= 0.0)
        );
        let sum_error = (&out.foreground + &out.background - &x)
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(sum_error <= 1e-5 * x.iter().fold(0.0f32, |m, &v| m.max(v)));
    }
}
