//! HPSS against `librosa.decompose.hpss` fixtures (tests/fixtures/gen/hpss.py), plus its
//! configuration checks.

use ndarray::{Array2, ArrayView2, s};
use ndarray_npy::read_npy;
use tessera_core::primitives::hpss::Hpss;
use tessera_core::primitives::{Primitive, PrimitiveError, SpectrogramGeometry};

/// Both parts must match librosa to this fraction of the input's peak magnitude (the medians
/// are exact; only the float32 soft masks round differently).
const LIBROSA_TOLERANCE: f32 = 1e-4;

/// The fixture STFT: 8 kHz, n_fft 128, hop 32 (HPSS itself ignores the geometry).
const GEOMETRY: SpectrogramGeometry = SpectrogramGeometry {
    sample_rate: 8000,
    n_fft: 128,
    hop_length: 32,
};

fn fixture(name: &str) -> Array2<f32> {
    let path = format!(
        "{}/../tests/fixtures/hpss/{name}.npy",
        env!("CARGO_MANIFEST_DIR")
    );
    read_npy(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn max_abs_diff(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs the fixture configuration `name` and compares both parts with librosa's.
fn check(name: &str, hpss: Hpss, frames: Option<usize>) {
    let magnitude = fixture("magnitude");
    let input = match frames {
        Some(frames) => magnitude.slice(s![.., ..frames]).to_owned(),
        None => magnitude,
    };
    let peak = input.iter().copied().fold(0.0, f32::max);
    let split = hpss.separate(input.view(), &GEOMETRY).unwrap();
    let harmonic_error = max_abs_diff(
        split.background.view(),
        fixture(&format!("{name}_harmonic")).view(),
    );
    let percussive_error = max_abs_diff(
        split.foreground.view(),
        fixture(&format!("{name}_percussive")).view(),
    );
    assert!(
        harmonic_error <= LIBROSA_TOLERANCE * peak,
        "{name}: harmonic error {harmonic_error} vs peak {peak}"
    );
    assert!(
        percussive_error <= LIBROSA_TOLERANCE * peak,
        "{name}: percussive error {percussive_error} vs peak {peak}"
    );
}

#[test]
fn default_settings_match_librosa() {
    check("default", Hpss::default(), None);
}

#[test]
fn even_kernel_power_one_and_margins_match_librosa() {
    let hpss = Hpss {
        kernel_size: (17, 8),
        power: 1.0,
        margin: (2.0, 3.0),
    };
    check("k17x8_p1_m2x3", hpss, None);
}

#[test]
fn binary_masks_match_librosa() {
    let hpss = Hpss {
        kernel_size: (4, 31),
        power: f32::INFINITY,
        margin: (1.0, 1.0),
    };
    check("k4x31_pinf", hpss, None);
}

#[test]
fn windows_longer_than_the_input_reflect_like_scipy() {
    check("short9", Hpss::default(), Some(9));
}

#[test]
fn unit_margins_split_the_input_exactly() {
    let magnitude = fixture("magnitude");
    let split = Hpss::default()
        .separate(magnitude.view(), &GEOMETRY)
        .unwrap();
    let sum = &split.foreground + &split.background;
    let peak = magnitude.iter().copied().fold(0.0, f32::max);
    assert!(max_abs_diff(sum.view(), magnitude.view()) <= 1e-6 * peak);
}

#[test]
fn bad_settings_and_input_are_refused() {
    let magnitude = fixture("magnitude");
    for hpss in [
        Hpss {
            kernel_size: (0, 31),
            ..Hpss::default()
        },
        Hpss {
            power: 0.0,
            ..Hpss::default()
        },
        Hpss {
            margin: (0.5, 1.0),
            ..Hpss::default()
        },
    ] {
        assert!(matches!(
            hpss.separate(magnitude.view(), &GEOMETRY),
            Err(PrimitiveError::InvalidConfig(_))
        ));
    }
    let mut negative = magnitude.clone();
    negative[[3, 4]] = -1.0;
    assert!(matches!(
        Hpss::default().separate(negative.view(), &GEOMETRY),
        Err(PrimitiveError::BadInput {
            primitive: "hpss",
            ..
        })
    ));
    assert!(matches!(
        Hpss::default().separate(Array2::<f32>::zeros((0, 5)).view(), &GEOMETRY),
        Err(PrimitiveError::BadInput { .. })
    ));
}
