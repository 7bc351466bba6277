//! STFT, iSTFT and windows against scipy/librosa fixtures (tests/fixtures/gen/stft.py), plus
//! perfect reconstruction and input validation.

use ndarray::{Array1, Array2, ArrayView2};
use ndarray_npy::read_npy;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::DspError;
use tessera_core::dsp::stft::{Complex32, PadMode, Stft, StftConfig};
use tessera_core::dsp::window::{WindowKind, window};

/// Spectra and signals must match librosa to this fraction of their peak magnitude (librosa
/// computes the windowed FFT in float64; we stay in float32).
const LIBROSA_TOLERANCE: f32 = 2e-6;
/// istft(stft(x)) must give x back to this fraction of x's peak.
const RECONSTRUCTION_TOLERANCE: f32 = 1e-6;

fn fixture<T: ndarray_npy::ReadableElement, D: ndarray::Dimension>(
    name: &str,
) -> ndarray::Array<T, D>
where
    ndarray::Array<T, D>: ndarray_npy::ReadNpyExt,
{
    let path = format!(
        "{}/../tests/fixtures/stft/{name}.npy",
        env!("CARGO_MANIFEST_DIR")
    );
    read_npy(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The configurations of the generator's CONFIGS table, by fixture name.
fn librosa_configs() -> Vec<(&'static str, StftConfig)> {
    let config = |n_fft, hop, win_length, window, center, pad_mode| StftConfig {
        n_fft,
        hop_length: hop,
        win_length,
        window,
        center,
        pad_mode,
    };
    use PadMode::{Constant, Reflect};
    use WindowKind::{Blackman, Hamming, Hann};
    vec![
        (
            "n2048_h512_reflect",
            config(2048, 512, 2048, Hann, true, Reflect),
        ),
        (
            "n2048_h512_constant",
            config(2048, 512, 2048, Hann, true, Constant),
        ),
        (
            "n512_h128_reflect",
            config(512, 128, 512, Hann, true, Reflect),
        ),
        (
            "n512_h128_uncentred",
            config(512, 128, 512, Hann, false, Constant),
        ),
        (
            "n512_h256_blackman_constant",
            config(512, 256, 512, Blackman, true, Constant),
        ),
        (
            "n400_h160_w320_reflect",
            config(400, 160, 320, Hann, true, Reflect),
        ),
        (
            "n400_h160_w320_hamming_uncentred",
            config(400, 160, 320, Hamming, false, Constant),
        ),
        (
            "n255_h64_w200_hamming_reflect",
            config(255, 64, 200, Hamming, true, Reflect),
        ),
    ]
}

fn librosa_spectrum(name: &str) -> Array2<Complex32> {
    let re: Array2<f32> = fixture(&format!("{name}_stft_re"));
    let im: Array2<f32> = fixture(&format!("{name}_stft_im"));
    ndarray::Zip::from(&re)
        .and(&im)
        .map_collect(|&re, &im| Complex32::new(re, im))
}

/// Largest |a − b| divided by the largest |b|.
fn relative_error(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    let peak = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let err = actual
        .iter()
        .zip(expected)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    err / peak
}

fn complex_relative_error(actual: ArrayView2<Complex32>, expected: ArrayView2<Complex32>) -> f32 {
    assert_eq!(actual.dim(), expected.dim(), "shapes differ");
    let peak = expected.iter().fold(0.0f32, |m, x| m.max(x.norm()));
    let err = ndarray::Zip::from(actual)
        .and(expected)
        .fold(0.0f32, |m, a, b| m.max((a - b).norm()));
    err / peak
}

fn random_signal(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

#[test]
fn windows_match_scipy() {
    let kinds = [
        ("hann", WindowKind::Hann),
        ("hamming", WindowKind::Hamming),
        ("blackman", WindowKind::Blackman),
        ("rectangular", WindowKind::Rectangular),
    ];
    for (name, kind) in kinds {
        for len in [1, 2, 7, 64, 320, 401] {
            for (periodic, suffix) in [(true, "periodic"), (false, "symmetric")] {
                let expected: Array1<f32> = fixture(&format!("window_{name}_{len}_{suffix}"));
                let actual = window(kind, len, periodic);
                assert_eq!(actual.len(), len);
                let err = actual
                    .iter()
                    .zip(&expected)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                // Peak is 1: this is one float32 rounding step.
                assert!(err <= 1.2e-7, "{name} {len} {suffix}: max error {err}");
            }
        }
    }
}

#[test]
fn forward_matches_librosa_stft() {
    let signal: Array1<f32> = fixture("signal");
    let signal = signal.as_slice().unwrap();
    for (name, config) in librosa_configs() {
        let expected = librosa_spectrum(name);
        let actual = Stft::new(config).unwrap().forward(signal).unwrap();
        let err = complex_relative_error(actual.view(), expected.view());
        assert!(err <= LIBROSA_TOLERANCE, "{name}: relative error {err}");
    }
}

#[test]
fn inverse_matches_librosa_istft() {
    let signal_len = fixture::<f32, ndarray::Ix1>("signal").len();
    for (name, config) in librosa_configs() {
        let stft = Stft::new(config.clone()).unwrap();
        let spectrum = librosa_spectrum(name);
        let cases = [
            ("istft", None),
            ("istft_long", Some(signal_len + 300)),
            ("istft_short", Some(signal_len / 3)),
        ];
        for (suffix, length) in cases {
            let expected: Array1<f32> = fixture(&format!("{name}_{suffix}"));
            let expected = expected.as_slice().unwrap();
            let actual = stft.inverse(spectrum.view(), length).unwrap();
            assert_eq!(actual.len(), expected.len(), "{name} {suffix}: length");
            let peak = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let weight = window_square_sum(&config, spectrum.ncols(), actual.len());
            let full_weight = weight.iter().fold(0.0f32, |m, &w| m.max(w));
            for (i, ((a, e), w)) in actual.iter().zip(expected).zip(&weight).enumerate() {
                // Where few window tails overlap (signal edges when uncentred, the end
                // padding) dividing by the small window sum amplifies float32 FFT rounding,
                // librosa's and ours alike, by 1/sqrt(window sum): the bound follows it.
                let amplification = (full_weight / w.max(f32::MIN_POSITIVE)).sqrt().max(1.0);
                let bound = LIBROSA_TOLERANCE * peak * amplification.min(1e4);
                assert!(
                    (a - e).abs() <= bound,
                    "{name} {suffix}: sample {i}: {a} vs {e}"
                );
                // librosa zero-fills where no frame reaches; so must we.
                assert!(*w > 0.0 || *a == 0.0, "{name} {suffix}: sample {i} = {a}");
            }
        }
    }
}

/// librosa's `window_sumsquare` for `frames` frames, trimmed of the centring padding and
/// zero-filled to `len`: how much window weight each output sample gets.
fn window_square_sum(config: &StftConfig, frames: usize, len: usize) -> Vec<f32> {
    let win = window(config.window, config.win_length, true);
    let offset = (config.n_fft - config.win_length) / 2;
    let mut sum = vec![0.0f32; len + 2 * config.n_fft + config.hop_length * frames];
    for t in 0..frames {
        for (j, w) in win.iter().enumerate() {
            sum[t * config.hop_length + offset + j] += w * w;
        }
    }
    let frames_end = config.n_fft + config.hop_length * frames.saturating_sub(1);
    sum.truncate(frames_end);
    sum.resize(len + config.padding(), 0.0);
    sum.drain(..config.padding());
    sum
}

#[test]
fn inverse_of_forward_reconstructs_the_signal() {
    let signal = random_signal(10_000, 7);
    let configs = [
        StftConfig::new(2048, 512),
        StftConfig::new(512, 128),
        StftConfig {
            pad_mode: PadMode::Constant,
            ..StftConfig::new(1024, 512)
        },
        StftConfig {
            win_length: 320,
            window: WindowKind::Hamming,
            ..StftConfig::new(400, 160)
        },
        StftConfig {
            win_length: 200,
            window: WindowKind::Blackman,
            ..StftConfig::new(255, 50)
        },
        StftConfig {
            window: WindowKind::Rectangular,
            center: false,
            ..StftConfig::new(256, 256)
        },
    ];
    for config in configs {
        let stft = Stft::new(config.clone()).unwrap();
        let spectrum = stft.forward(&signal).unwrap();
        let restored = stft.inverse(spectrum.view(), Some(signal.len())).unwrap();
        // The uncentred rectangular case covers whole frames only.
        let covered = if config.center { signal.len() } else { 9_984 };
        let err = relative_error(&restored[..covered], &signal[..covered]);
        assert!(
            err <= RECONSTRUCTION_TOLERANCE,
            "{config:?}: relative error {err}"
        );
    }
}

#[test]
fn forward_into_reuses_any_layout() {
    let signal = random_signal(5_000, 3);
    let stft = Stft::new(StftConfig::new(512, 128)).unwrap();
    let expected = stft.forward(&signal).unwrap();
    // Frame-contiguous (as forward returns) and bin-contiguous (standard) layouts.
    let mut reused = expected.mapv(|_| Complex32::default());
    stft.forward_into(&signal, reused.view_mut()).unwrap();
    assert_eq!(reused, expected);
    let mut standard = Array2::zeros(expected.dim());
    stft.forward_into(&signal, standard.view_mut()).unwrap();
    assert_eq!(standard, expected);
    // The frames of `forward` are contiguous columns.
    assert!(expected.column(3).as_slice().is_some());
    let mut wrong = Array2::zeros((expected.nrows(), expected.ncols() + 1));
    assert!(matches!(
        stft.forward_into(&signal, wrong.view_mut()),
        Err(DspError::InvalidConfig(_))
    ));
}

#[test]
fn bad_configurations_are_refused() {
    let base = StftConfig::new(512, 128);
    let bad = [
        StftConfig {
            n_fft: 1,
            win_length: 1,
            ..base.clone()
        },
        StftConfig {
            hop_length: 0,
            ..base.clone()
        },
        StftConfig {
            win_length: 0,
            ..base.clone()
        },
        StftConfig {
            win_length: 513,
            ..base.clone()
        },
    ];
    for config in bad {
        assert!(
            matches!(Stft::new(config.clone()), Err(DspError::InvalidConfig(_))),
            "{config:?} accepted"
        );
    }
    assert!(Stft::new(base).is_ok());
}

#[test]
fn too_short_signals_are_refused() {
    let reflect = Stft::new(StftConfig::new(512, 128)).unwrap();
    assert!(matches!(
        reflect.forward(&[0.0; 256]),
        Err(DspError::SignalTooShort {
            len: 256,
            needed: 257,
            ..
        })
    ));
    assert_eq!(reflect.forward(&[0.0; 257]).unwrap().dim(), (257, 3));
    let constant = Stft::new(StftConfig {
        pad_mode: PadMode::Constant,
        ..StftConfig::new(512, 128)
    })
    .unwrap();
    assert!(constant.forward(&[]).is_err());
    assert_eq!(constant.forward(&[1.0]).unwrap().dim(), (257, 1));
    let uncentred = Stft::new(StftConfig {
        center: false,
        ..StftConfig::new(512, 128)
    })
    .unwrap();
    assert!(matches!(
        uncentred.forward(&[0.0; 511]),
        Err(DspError::SignalTooShort { needed: 512, .. })
    ));
}

#[test]
fn inverse_refuses_a_spectrum_of_the_wrong_size() {
    let stft = Stft::new(StftConfig::new(512, 128)).unwrap();
    let spectrum = Array2::<Complex32>::zeros((256, 10));
    assert!(matches!(
        stft.inverse(spectrum.view(), None),
        Err(DspError::InvalidConfig(_))
    ));
    // An empty spectrum is a valid, empty signal.
    let empty = Array2::<Complex32>::zeros((257, 0));
    assert!(stft.inverse(empty.view(), None).unwrap().is_empty());
    assert_eq!(stft.inverse(empty.view(), Some(5)).unwrap(), vec![0.0; 5]);
}
