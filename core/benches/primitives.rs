//! PaC-HuBERT primitive features on 10 s of 44.1 kHz stereo (all six primitives + patch
//! means), HPSS alone on the 2048/441 magnitude of 10 s mono, and each primitive alone on that
//! magnitude; bench/primitives_reference.py times librosa's HPSS on the same shape.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::spectrogram::magnitude;
use tessera_core::dsp::stft::{Stft, StftConfig};
use tessera_core::primitives::Primitive;
use tessera_core::primitives::features::{PrimitiveFeatures, PrimitiveFeaturesConfig};
use tessera_core::primitives::ft2d::Ft2d;
use tessera_core::primitives::hpss::Hpss;
use tessera_core::primitives::melody::Melody;
use tessera_core::primitives::repet::Repet;
use tessera_core::primitives::repet_sim::RepetSim;

const SAMPLE_RATE: u32 = 44_100;
const SECONDS: usize = 10;

/// Seeded music-like audio: a decaying note of random pitch every 0.25 s over quiet noise.
fn signal(seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let note_len = SAMPLE_RATE as usize / 4;
    let pitches: Vec<f32> = (0..SECONDS * 4)
        .map(|_| rng.random_range(110.0f32..880.0))
        .collect();
    (0..SAMPLE_RATE as usize * SECONDS)
        .map(|i| {
            let t = (i % note_len) as f32 / SAMPLE_RATE as f32;
            let hz = pitches[i / note_len];
            0.3 * (-6.0 * t).exp() * (std::f32::consts::TAU * hz * t).sin()
                + rng.random_range(-0.02f32..0.02)
        })
        .collect()
}

fn primitives(c: &mut Criterion) {
    let left = signal(1);
    let right = signal(2);
    let extractor =
        PrimitiveFeatures::new(PrimitiveFeaturesConfig::default()).expect("default config");
    let geometry = extractor.geometry();
    let stft = Stft::new(StftConfig::new(geometry.n_fft, geometry.hop_length)).expect("valid");
    let mono: Array2<f32> = magnitude(stft.forward(&left).expect("long enough").view());

    let mut group = c.benchmark_group("primitives");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("primitive_features_10s_stereo", |b| {
        b.iter(|| black_box(extractor.extract(&[&left, &right]).expect("10 s is enough")))
    });
    group.bench_function("hpss_10s", |b| {
        b.iter(|| {
            black_box(
                Hpss::default()
                    .separate(mono.view(), &geometry)
                    .expect("valid"),
            )
        })
    });
    let each: [(&str, Box<dyn Primitive>); 5] = [
        ("repet_10s", Box::new(Repet::default())),
        ("repet_sim_10s", Box::new(RepetSim::default())),
        ("ft2d_m_10s", Box::new(Ft2d::median())),
        ("ft2d_r_10s", Box::new(Ft2d::std_dev())),
        ("melody_10s", Box::new(Melody::default())),
    ];
    for (name, primitive) in &each {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(primitive.separate(mono.view(), &geometry).expect("valid")))
        });
    }
    group.finish();
}

criterion_group!(benches, primitives);
criterion_main!(benches);
