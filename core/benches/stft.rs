//! STFT throughput on a minute of stereo music-rate audio; bench/stft_reference.py times
//! librosa and torch on the same shapes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::stft::{Stft, StftConfig};

const SAMPLE_RATE: usize = 44_100;
const SECONDS: usize = 60;

fn stft_2048_512_60s_stereo(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(2048);
    let channels: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..SAMPLE_RATE * SECONDS)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect()
        })
        .collect();
    let stft = Stft::new(StftConfig::new(2048, 512)).expect("valid configuration");
    let mut group = c.benchmark_group("stft");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("stft_2048_512_60s_stereo", |b| {
        b.iter(|| {
            for channel in &channels {
                black_box(stft.forward(black_box(channel)).expect("long enough"));
            }
        })
    });
    // The same into reused output arrays: what a caller transforming many signals of one
    // length pays, without the page faults of fresh output memory.
    let mut outputs: Vec<_> = channels
        .iter()
        .map(|channel| stft.forward(channel).expect("long enough"))
        .collect();
    group.bench_function("stft_2048_512_60s_stereo_reused_output", |b| {
        b.iter(|| {
            for (channel, output) in channels.iter().zip(&mut outputs) {
                stft.forward_into(black_box(channel), output.view_mut())
                    .expect("long enough");
            }
            black_box(&outputs);
        })
    });
    group.finish();
}

criterion_group!(benches, stft_2048_512_60s_stereo);
criterion_main!(benches);
