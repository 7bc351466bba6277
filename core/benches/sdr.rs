//! BSS Eval v4 (museval's defaults: 1-s windows, 512-tap filters) of four stereo sources at
//! 44.1 kHz, 30 s and a 3-minute song; bench/sdr_reference.py times museval on the same shapes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::metrics::sdr::{BssEvalConfig, bss_eval_v4};

const SAMPLE_RATE: usize = 44_100;
const SOURCES: usize = 4;

/// `[source][channel][sample]`.
type Sources = Vec<Vec<Vec<f32>>>;

/// References and estimates: each source is noise through a
/// one-pole low-pass of its own colour plus a tone, panned; each estimate is its reference
/// plus a fifth of the next source and noise 20 dB down.
fn song(seconds: usize, seed: u64) -> (Sources, Sources) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = seconds * SAMPLE_RATE;
    let references: Sources = (0..SOURCES)
        .map(|j| {
            let pole = [0.0f32, 0.5, 0.9, 0.97][j];
            let hz = 110.0 * (j + 1) as f32;
            let mut state = 0.0f32;
            let mono: Vec<f32> = (0..len)
                .map(|n| {
                    state = pole * state + (1.0 - pole) * rng.random_range(-1.0f32..1.0);
                    let t = n as f32 / SAMPLE_RATE as f32;
                    0.2 * state + 0.1 * (std::f32::consts::TAU * hz * t).sin()
                })
                .collect();
            [0.3f32 + 0.1 * j as f32, 0.7 - 0.1 * j as f32]
                .iter()
                .map(|gain| {
                    mono.iter()
                        .map(|v| gain * v + 0.002 * rng.random_range(-1.0f32..1.0))
                        .collect()
                })
                .collect()
        })
        .collect();
    let estimates = (0..SOURCES)
        .map(|j| {
            (0..2)
                .map(|c| {
                    let own = &references[j][c];
                    let next = &references[(j + 1) % SOURCES][c];
                    own.iter()
                        .zip(next)
                        .map(|(a, b)| a + 0.2 * b + 0.02 * rng.random_range(-1.0f32..1.0))
                        .collect()
                })
                .collect()
        })
        .collect();
    (references, estimates)
}

fn sdr(c: &mut Criterion) {
    let config = BssEvalConfig::default();
    let mut group = c.benchmark_group("sdr");
    group.sample_size(10);
    for (seconds, id, measurement) in [
        (30, "bss_eval_v4_30s_4src_stereo", 15),
        (180, "bss_eval_v4_180s_4src_stereo", 40),
    ] {
        let (references, estimates) = song(seconds, seconds as u64);
        group.measurement_time(Duration::from_secs(measurement));
        group.bench_function(id, |b| {
            b.iter(|| {
                black_box(bss_eval_v4(&references, &estimates, &config).expect("valid input"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sdr);
criterion_main!(benches);
