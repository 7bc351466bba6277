//! Mel filterbanks, mel/log-mel spectrograms and dB scalings against librosa fixtures
//! (made by tests/fixtures/gen/mel.py).

use ndarray::{Array1, Array2, array};
use ndarray_npy::read_npy;
use tessera_core::dsp::DspError;
use tessera_core::dsp::mel::{
    LogMel, MelConfig, MelFilterbank, MelNorm, MelScale, MelSpectrogram, hz_to_mel, mel_filterbank,
    mel_to_hz,
};
use tessera_core::dsp::spectrogram::{
    DbReference, DbScaling, amplitude_to_db, db_to_amplitude, db_to_power, log_offset, power,
    power_to_db,
};
use tessera_core::dsp::stft::Complex32;

fn fixture<T: ndarray_npy::ReadableElement, D: ndarray::Dimension>(
    name: &str,
) -> ndarray::Array<T, D> {
    let path = format!(
        "{}/../tests/fixtures/mel/{name}.npy",
        env!("CARGO_MANIFEST_DIR")
    );
    read_npy(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn max_abs_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Rebuilds a dense filterbank from the sparse fixture (see mel.py).
fn filterbank_fixture(name: &str, n_bins: usize) -> Array2<f32> {
    let support: Array2<i64> = fixture(&format!("{name}_support"));
    let values: Array1<f32> = fixture(&format!("{name}_values"));
    let mut dense = Array2::zeros((support.nrows(), n_bins));
    let mut next = 0;
    for (m, range) in support.outer_iter().enumerate() {
        for k in range[0] as usize..range[1] as usize {
            dense[[m, k]] = values[next];
            next += 1;
        }
    }
    assert_eq!(next, values.len());
    dense
}

#[test]
fn mel_scales_match_librosa_values() {
    // librosa.hz_to_mel(1000) = 15 (Slaney) and 999.98554 (HTK); 4 kHz Slaney =
    // 15 + ln(4)/(ln(6.4)/27).
    assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
    assert!((hz_to_mel(500.0, MelScale::Slaney) - 7.5).abs() < 1e-12);
    let slaney_4k = 15.0 + 4f64.ln() / (6.4f64.ln() / 27.0);
    assert!((hz_to_mel(4000.0, MelScale::Slaney) - slaney_4k).abs() < 1e-12);
    assert!((hz_to_mel(1000.0, MelScale::Htk) - 999.985_537_139_624_4).abs() < 1e-9);
    for scale in [MelScale::Slaney, MelScale::Htk] {
        for hz in [0.0, 30.0, 440.0, 999.0, 1000.0, 1001.0, 8000.0, 22050.0] {
            let back = mel_to_hz(hz_to_mel(hz, scale), scale);
            assert!(
                (back - hz).abs() < 1e-9 * hz.max(1.0),
                "{scale:?} {hz} → {back}"
            );
        }
    }
}

/// Tolerance: 1e-6 absolute (weights are at most ~0.03 with Slaney norm and ≤ 1 without;
/// computing in f64 as librosa does leaves only f32 rounding differences).
#[test]
fn filterbanks_match_librosa() {
    let cases = [
        (
            "fb_16000_1024_128_slaney",
            16000,
            1024,
            128,
            0.0,
            None,
            MelScale::Slaney,
            MelNorm::Slaney,
        ),
        (
            "fb_44100_2048_128_htk_nonorm",
            44100,
            2048,
            128,
            0.0,
            None,
            MelScale::Htk,
            MelNorm::None,
        ),
        (
            "fb_22050_2048_80_30_8000",
            22050,
            2048,
            80,
            30.0,
            Some(8000.0),
            MelScale::Slaney,
            MelNorm::Slaney,
        ),
    ];
    for (name, sr, n_fft, n_mels, fmin, fmax, scale, norm) in cases {
        let ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, scale, norm).unwrap();
        let reference = filterbank_fixture(name, n_fft / 2 + 1);
        let err = max_abs_diff(&ours, &reference);
        println!("{name}: max abs error {err:.1e}");
        assert!(err <= 1e-6, "{name}: max abs error {err}");
    }
}

#[test]
fn filterbank_rejects_bad_ranges() {
    let bad = |fmin: f64, fmax: Option<f64>| {
        mel_filterbank(
            16000,
            512,
            40,
            fmin,
            fmax,
            MelScale::Slaney,
            MelNorm::Slaney,
        )
    };
    assert!(matches!(bad(-1.0, None), Err(DspError::InvalidConfig(_))));
    assert!(matches!(
        bad(100.0, Some(50.0)),
        Err(DspError::InvalidConfig(_))
    ));
    assert!(matches!(
        bad(0.0, Some(9000.0)),
        Err(DspError::InvalidConfig(_))
    ));
    assert!(matches!(
        bad(0.0, Some(f64::NAN)),
        Err(DspError::InvalidConfig(_))
    ));
    assert!(mel_filterbank(16000, 512, 0, 0.0, None, MelScale::Slaney, MelNorm::Slaney).is_err());
}

/// The sparse product equals the dense matrix product (relative 1e-5: only the summation
/// order differs).
#[test]
fn sparse_filterbank_product_equals_dense() {
    let weights = mel_filterbank(
        22050,
        2048,
        80,
        30.0,
        Some(8000.0),
        MelScale::Slaney,
        MelNorm::Slaney,
    )
    .unwrap();
    let n_bins = weights.ncols();
    // 150 frames: more than two product tiles and a partial one.
    let spec = Array2::from_shape_fn((n_bins, 150), |(k, t)| {
        (((k * 31 + t * 17) % 97) as f32 / 97.0).powi(2) + 1e-3
    });
    let dense = weights.dot(&spec);
    let filterbank = MelFilterbank::new(weights);
    let sparse = filterbank.apply(spec.view()).unwrap();
    let peak = dense.iter().fold(0.0f32, |m, &v| m.max(v));
    assert!(max_abs_diff(&sparse, &dense) <= 1e-5 * peak);
    // A transposed (non-standard-layout) input gives the same result.
    let transposed = spec.t().to_owned();
    let again = filterbank.apply(transposed.t()).unwrap();
    assert_eq!(again, sparse);
    assert!(filterbank.apply(spec.slice(ndarray::s![1.., ..])).is_err());
}

fn fixture_config() -> MelConfig {
    // Also what mel.py used: Hann, centred, reflect padding, Slaney/Slaney, power 2.
    MelConfig::default()
}

/// Mel power: relative error ≤ 1e-5 of the peak (librosa's STFT is pocketfft in f32, ours
/// realfft in f32; the filterbank sums in a different order).
#[test]
fn melspectrogram_matches_librosa() {
    let signal: Array1<f32> = fixture("signal_16k");
    let reference: Array2<f32> = fixture("melspec_16k");
    let mel = MelSpectrogram::new(&fixture_config()).unwrap();
    let ours = mel.compute(signal.as_slice().unwrap()).unwrap();
    let peak = reference.iter().fold(0.0f32, |m, &v| m.max(v));
    let err = max_abs_diff(&ours, &reference);
    println!("mel power: max abs error {:.1e} of peak", err / peak);
    assert!(err <= 1e-5 * peak, "max abs error {err} vs peak {peak}");
}

/// Log-mel: ≤ 1e-3 dB everywhere (the signal has energy ≥ 50 dB above the floor in every
/// band, so float differences stay far below that).
#[test]
fn logmel_matches_librosa_power_to_db() {
    let signal: Array1<f32> = fixture("signal_16k");
    let cases = [
        ("logmel_16k", DbScaling::default()),
        (
            "logmel_16k_refmax_top20",
            DbScaling {
                reference: DbReference::Max,
                amin: 1e-10,
                top_db: Some(20.0),
            },
        ),
    ];
    for (name, scaling) in cases {
        let reference: Array2<f32> = fixture(name);
        let logmel = LogMel::new(&fixture_config(), scaling).unwrap();
        let ours = logmel.compute(signal.as_slice().unwrap()).unwrap();
        let err = max_abs_diff(&ours, &reference);
        println!("{name}: max abs error {err:.1e} dB");
        assert!(err <= 1e-3, "{name}: max abs error {err} dB");
        // compute_into reuses the buffers and gives the same numbers.
        let mut again = Array2::zeros(ours.dim());
        logmel
            .compute_into(signal.as_slice().unwrap(), again.view_mut())
            .unwrap();
        assert_eq!(again, ours);
    }
}

#[test]
fn logmel_rejects_bad_input() {
    let logmel = LogMel::new(&MelConfig::default(), DbScaling::default()).unwrap();
    // Reflect padding needs more than n_fft / 2 samples.
    assert!(matches!(
        logmel.compute(&[0.0; 100]),
        Err(DspError::SignalTooShort { .. })
    ));
    let mut wrong_shape = Array2::zeros((128, 3));
    assert!(
        logmel
            .compute_into(&[0.0; 16000], wrong_shape.view_mut())
            .is_err()
    );
    let bad_amin = DbScaling {
        amin: 0.0,
        ..DbScaling::default()
    };
    assert!(LogMel::new(&MelConfig::default(), bad_amin).is_err());
    let bad_power = MelConfig {
        power: 0.0,
        ..MelConfig::default()
    };
    assert!(MelSpectrogram::new(&bad_power).is_err());
}

/// dB of magnitudes: ≤ 1e-4 dB (pure elementwise f32 math).
#[test]
fn amplitude_to_db_matches_librosa() {
    let magnitude: Array2<f32> = fixture("magnitude");
    let reference: Array2<f32> = fixture("amplitude_db");
    let ours =
        amplitude_to_db(magnitude.view(), DbReference::Value(1.0), 1e-5, Some(40.0)).unwrap();
    assert!(max_abs_diff(&ours, &reference) <= 1e-4);
    let reference: Array2<f32> = fixture("amplitude_db_refmax_notop");
    let ours = amplitude_to_db(magnitude.view(), DbReference::Max, 1e-5, None).unwrap();
    assert!(max_abs_diff(&ours, &reference) <= 1e-4);
}

#[test]
fn db_scalings_invert_and_clip() {
    let p = array![[1e-12f32, 1e-3, 0.5], [1.0, 4.0, 100.0]];
    let db = power_to_db(p.view(), DbReference::Value(1.0), 1e-10, None).unwrap();
    assert!(
        (db[[0, 0]] + 100.0).abs() < 1e-4,
        "amin floors 1e-12 to -100 dB"
    );
    assert!((db[[1, 2]] - 20.0).abs() < 1e-5);
    let back = db_to_power(db.view(), 1.0);
    for (&orig, &b) in p.iter().zip(&back).skip(1) {
        assert!((b - orig).abs() <= 1e-5 * orig, "{orig} → {b}");
    }
    let clipped = power_to_db(p.view(), DbReference::Max, 1e-10, Some(30.0)).unwrap();
    assert!((clipped[[1, 2]]).abs() < 1e-6, "max maps to 0 dB");
    assert!(clipped.iter().all(|&v| v >= -30.0 - 1e-5));
    assert!(
        (clipped[[0, 1]] + 30.0).abs() < 1e-5,
        "-50 dB clipped to -30 dB"
    );
    let amp = db_to_amplitude(array![[20.0f32, -20.0]].view(), 2.0);
    assert!((amp[[0, 0]] - 20.0).abs() < 1e-4 && (amp[[0, 1]] - 0.2).abs() < 1e-6);
    assert!(power_to_db(p.view(), DbReference::Value(1.0), 1e-10, Some(-1.0)).is_err());
    assert!(power_to_db(p.view(), DbReference::Value(1.0), -1.0, None).is_err());
}

#[test]
fn power_and_log_offset() {
    let x = array![[Complex32::new(3.0, 4.0), Complex32::new(0.0, -2.0)]];
    assert_eq!(power(x.view(), 2.0), array![[25.0f32, 4.0]]);
    assert_eq!(power(x.view(), 1.0), array![[5.0f32, 2.0]]);
    let p3 = power(x.view(), 3.0);
    assert!((p3[[0, 0]] - 125.0).abs() < 1e-3 && (p3[[0, 1]] - 8.0).abs() < 1e-5);
    let logged = log_offset(array![0.0f32, 1.0].view(), 1e-6).unwrap();
    assert!((logged[0] - 1e-6f32.ln()).abs() < 1e-5 && (logged[1] - 1e-6f32.ln_1p()).abs() < 1e-6);
    assert!(log_offset(array![1.0f32].view(), 0.0).is_err());
}
