//! The differentiable iSTFT at a separator's training shape: 64 rows (batch × stems ×
//! channels) of 4 s at 44.1 kHz, n_fft 2048, hop 512 (345 frames), in f32.

use std::hint::black_box;
use std::time::Duration;

use candle_core::{Device, Tensor, Var};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::stft::StftConfig;
use tessera_core::nn::fused::istft;

const ROWS: usize = 64;
const FRAMES: usize = 345;
const LENGTH: usize = 4 * 44_100;

fn istft_64_rows_4s(c: &mut Criterion) {
    let config = StftConfig::new(2048, 512);
    let mut rng = ChaCha8Rng::seed_from_u64(2048);
    let shape = (ROWS, FRAMES, config.n_bins(), 2);
    let values: Vec<f32> = (0..ROWS * FRAMES * config.n_bins() * 2)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let spectrum = Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu).unwrap())
        .expect("f32 on the CPU");
    let mut group = c.benchmark_group("istft");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("forward_64x345_2048_512", |b| {
        b.iter(|| black_box(istft(&spectrum, &config, LENGTH).expect("fits")))
    });
    // An L1 loss on the waveforms, as separator training takes it: the extra abs and sum
    // are candle's, the rest is the op's forward and backward.
    group.bench_function("forward_backward_l1_64x345_2048_512", |b| {
        b.iter(|| {
            let loss = istft(&spectrum, &config, LENGTH)
                .and_then(|signal| signal.abs()?.sum_all())
                .expect("fits");
            black_box(loss.backward().expect("differentiable"))
        })
    });
    group.finish();
}

criterion_group!(benches, istft_64_rows_4s);
criterion_main!(benches);
