//! Inference time of the shipped Separator-Tiny (the embedded f16 weights, run in f32 on
//! the CPU), to compare candle with a PyTorch script of the same network and weights
//! (bench/separator_reference.py). Timed for one chunk, as `core::separation` runs the
//! model, and for a batch of four:
//! - `network_batch*`: the network alone, `Separator::mask_logits` on precomputed features;
//! - `whole_batch*`: the whole chunk, `Separator::spectra` + `Separator::separate` (STFT,
//!   features, network, softmax masks over the stems, iSTFT).
//!
//! Before timing, it separates four chunks of a seeded mixture of tones and noise and
//! writes the audio and candle's features, mask logits and stems to
//! `<target>/separator_parity.safetensors`, so the reference script can show that its copy
//! computes the same thing before its timings are compared with these.

mod common;

use std::collections::HashMap;
use std::f64::consts::TAU;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use candle_core::{Device, Result, Tensor};
use criterion::{Criterion, criterion_group};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::embedded::default_separator;
use tessera_core::models::Separator;
use tessera_core::models::separator::CHANNELS;

/// Chunks per call: one, as the streaming separator runs the model, and four.
const BATCHES: [usize; 2] = [1, 4];

/// Where the reference script finds the input and candle's outputs, in cargo's target folder.
const PARITY_FILE: &str = "separator_parity.safetensors";

/// Sine tones per chunk of the test mixture.
const TONES: usize = 8;

/// One stereo chunk, `[channel][sample]`.
type Chunk = [Vec<f32>; CHANNELS];

/// `count` stereo chunks of `samples` samples: each `TONES` sines at random pitches
/// (40 Hz – 10 kHz), levels and pans over quiet white noise, so every stem's mask has
/// something to decide on and the input is the same on every run.
fn mixture_chunks(count: usize, samples: usize, sample_rate: u32) -> Vec<Chunk> {
    let mut rng = ChaCha8Rng::seed_from_u64(2048);
    (0..count)
        .map(|_| {
            let mut chunk: Chunk = std::array::from_fn(|_| {
                (0..samples)
                    .map(|_| 0.02 * rng.random_range(-1.0f32..1.0))
                    .collect()
            });
            for _ in 0..TONES {
                let frequency = 40.0 * 2f64.powf(rng.random_range(0.0..8.0));
                let level = rng.random_range(0.02..0.2);
                let pan = rng.random_range(0.0..1.0);
                let phase = rng.random_range(0.0..TAU);
                let step = TAU * frequency / f64::from(sample_rate);
                for (channel, gain) in chunk.iter_mut().zip([1.0 - pan, pan]) {
                    for (i, sample) in channel.iter_mut().enumerate() {
                        *sample += (gain * level * (step * i as f64 + phase).sin()) as f32;
                    }
                }
            }
            chunk
        })
        .collect()
}

/// Separates `chunks` once and writes the audio `(chunks, channels, samples)`, the features
/// `(chunks, frames, bins, 3)`, the mask logits `(chunks, frames, bins, channels, stems)` and
/// the stems `(chunks, stems, channels, samples)` to `path`.
fn write_parity_file(
    model: &Separator,
    chunks: &[Chunk],
    device: &Device,
    path: &Path,
) -> Result<()> {
    let spectra = model.spectra(chunks, device)?;
    let audio: Vec<f32> = chunks.iter().flatten().flatten().copied().collect();
    let tensors = HashMap::from([
        (
            "audio".to_string(),
            Tensor::from_vec(audio, (chunks.len(), CHANNELS, spectra.samples), device)?,
        ),
        ("logits".to_string(), model.mask_logits(&spectra.features)?),
        ("stems".to_string(), model.separate(&spectra)?),
        ("features".to_string(), spectra.features),
    ]);
    candle_core::safetensors::save(&tensors, path)
}

fn separator(c: &mut Criterion) {
    let device = Device::Cpu;
    let model = default_separator(&device).expect("the embedded Separator-Tiny loads");
    let config = model.config();
    let largest = BATCHES.into_iter().max().expect("at least one batch size");
    let chunks = mixture_chunks(largest, config.chunk_samples(), config.sample_rate);
    let path = common::target_dir().join(PARITY_FILE);
    write_parity_file(&model, &chunks, &device, &path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));

    let mut group = c.benchmark_group("separator");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    for batch in BATCHES {
        let chunks = &chunks[..batch];
        let spectra = model
            .spectra(chunks, &device)
            .expect("chunks of the model's length");
        group.bench_function(format!("network_batch{batch}"), |b| {
            b.iter(|| black_box(model.mask_logits(&spectra.features).expect("mask logits")))
        });
        group.bench_function(format!("whole_batch{batch}"), |b| {
            b.iter(|| {
                let spectra = model.spectra(chunks, &device).expect("spectra");
                black_box(model.separate(&spectra).expect("separated stems"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, separator);

fn main() {
    common::main_with_cli_threads(benches);
}
