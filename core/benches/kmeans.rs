//! k-means throughput on 100 000 × 48 vectors with k = 256 (PaC-HuBERT-sized vectors);
//! bench/kmeans_reference.py times scikit-learn on the same shapes and settings.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::cluster::{Algorithm, KMeans, KMeansConfig};

const VECTORS: usize = 100_000;
const DIMS: usize = 48;
const K: usize = 256;
/// Lloyd iterations per fit; tol = 0 so both implementations run all of them.
const MAX_ITER: usize = 20;
const BATCH_SIZE: usize = 4096;

fn uniform(rows: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((rows, DIMS), || rng.random_range(-1.0f32..1.0))
}

fn kmeans(c: &mut Criterion) {
    let data = uniform(VECTORS, 48);
    let lloyd = KMeansConfig {
        k: K,
        max_iter: MAX_ITER,
        tol: 0.0,
        n_init: 1,
        init_size: None,
        algorithm: Algorithm::Lloyd,
        seed: 0,
    };
    let mini_batch = KMeansConfig {
        algorithm: Algorithm::mini_batch(BATCH_SIZE),
        ..lloyd.clone()
    };
    let model = KMeans::fit(
        data.view(),
        &KMeansConfig {
            max_iter: 1,
            ..lloyd.clone()
        },
    )
    .expect("valid data")
    .model;

    let mut group = c.benchmark_group("kmeans");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("kmeans_assign_100k_48_k256", |b| {
        b.iter(|| black_box(model.assign(black_box(data.view())).expect("48 dims")))
    });
    group.bench_function("kmeans_lloyd_fit_100k_48_k256_20it", |b| {
        b.iter(|| black_box(KMeans::fit(black_box(data.view()), &lloyd).expect("valid")))
    });
    group.bench_function("kmeans_minibatch_fit_100k_48_k256", |b| {
        b.iter(|| black_box(KMeans::fit(black_box(data.view()), &mini_batch).expect("valid")))
    });
    group.finish();
}

criterion_group!(benches, kmeans);
criterion_main!(benches);
