//! Log-mel throughput: a minute of 16 kHz mono, n_fft 1024, hop 160, 128 mels, dB with
//! top_db 80. bench/logmel_reference.py times librosa and torchaudio on the same signal
//! shape.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::mel::{LogMel, MelConfig};
use tessera_core::dsp::spectrogram::DbScaling;

const SAMPLE_RATE: usize = 16_000;
const SECONDS: usize = 60;

fn logmel_1024_160_128_60s_16k(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1024);
    let signal: Vec<f32> = (0..SAMPLE_RATE * SECONDS)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    // MelConfig's defaults are exactly this benchmark's shape.
    let config = MelConfig::default();
    let logmel = LogMel::new(&config, DbScaling::default()).expect("valid configuration");
    let frames = logmel.mel().n_frames(signal.len()).expect("long enough");
    let mut out = Array2::zeros((config.n_mels, frames));
    let mut group = c.benchmark_group("logmel");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    // Allocating the output each time, as a one-off feature extraction does.
    group.bench_function("logmel_1024_160_128_60s_16k", |b| {
        b.iter(|| black_box(logmel.compute(black_box(&signal)).expect("long enough")))
    });
    // Into a reused output, as a streaming worker does.
    group.bench_function("logmel_1024_160_128_60s_16k_into", |b| {
        b.iter(|| {
            logmel
                .compute_into(black_box(&signal), out.view_mut())
                .expect("long enough");
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, logmel_1024_160_128_60s_16k);
criterion_main!(benches);
