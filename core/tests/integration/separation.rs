//! The streaming separator: block-size independence, constant latency, mixture
//! consistency at any sample rate and channel count.

use crate::tiny_separator;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::audio::AudioBuffer;

use tessera_core::models::Separator;
use tessera_core::nn::seeded_normal_init;
use tessera_core::separation::{StemBlock, StreamingSeparator, separate_audio};

/// The tiny separator with random weights, scaled up so every stem gets a share.
fn tiny_separator() -> StreamingSeparator {
    let config = tiny_separator::config();
    let map = VarMap::new();
    let model = Separator::new(
        config,
        VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
    )
    .unwrap();
    seeded_normal_init(&map, 1).unwrap();
    for var in map.all_vars() {
        var.set(&(var.as_tensor() * 30.0).unwrap()).unwrap();
    }
    StreamingSeparator::new(model, Device::Cpu)
}

fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-0.5..0.5)).collect()
}

/// Everything the separator releases for `left`/`right` pushed in blocks of `sizes`
/// (cycled), then finished: `[stem][channel]`.
fn stream(
    separator: &mut StreamingSeparator,
    left: &[f32],
    right: &[f32],
    sizes: &[usize],
) -> Vec<Vec<Vec<f32>>> {
    separator.reset();
    let mut out = vec![vec![Vec::new(); 2]; 4];
    let mut collect = |block: StemBlock<'_>| {
        for (stem, channels) in out.iter_mut().zip(block.stems) {
            for (o, samples) in stem.iter_mut().zip(channels) {
                o.extend_from_slice(samples);
            }
        }
    };
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= left.len() {
            break;
        }
        let end = (at + size).min(left.len());
        separator
            .push(&left[at..end], &right[at..end], &mut collect)
            .unwrap();
        at = end;
    }
    separator.finish(&mut collect).unwrap();
    out
}

#[test]
fn the_output_does_not_depend_on_block_sizes() {
    let mut separator = tiny_separator();
    let (left, right) = (noise(500, 1), noise(500, 2));
    let whole = stream(&mut separator, &left, &right, &[500]);
    for sizes in [&[1][..], &[3, 64, 7], &[28], &[200, 1]] {
        assert_eq!(
            stream(&mut separator, &left, &right, sizes),
            whole,
            "blocks {sizes:?}"
        );
    }
}

#[test]
fn stems_sum_to_the_input_delayed_by_the_latency() {
    let mut separator = tiny_separator();
    let latency = separator.latency();
    assert_eq!(latency, separator.hop());
    let (left, right) = (noise(300, 3), noise(300, 4));
    let out = stream(&mut separator, &left, &right, &[17]);
    for (c, input) in [&left, &right].into_iter().enumerate() {
        assert!(out[0][c].len() >= input.len() + latency);
        for (i, &x) in input.iter().enumerate() {
            let sum: f32 = out.iter().map(|stem| stem[c][i + latency]).sum();
            assert!(
                (sum - x).abs() < 1e-4,
                "channel {c} sample {i}: {sum} vs {x}"
            );
        }
    }
}

#[test]
fn non_finite_input_is_treated_as_silence() {
    let mut separator = tiny_separator();
    let mut left = noise(200, 5);
    let right = noise(200, 6);
    left[50] = f32::NAN;
    left[51] = f32::INFINITY;
    let out = stream(&mut separator, &left, &right, &[33]);
    assert!(out.iter().flatten().flatten().all(|v| v.is_finite()));
    let mut clean = left.clone();
    clean[50] = 0.0;
    clean[51] = 0.0;
    assert_eq!(out, stream(&mut separator, &clean, &right, &[33]));
}

#[test]
fn whole_recordings_at_other_rates_and_channel_counts_keep_length_rate_and_sum() {
    let mut separator = tiny_separator();
    // Mono at 16 kHz: upmixed, resampled to 8 kHz and back.
    let mono = AudioBuffer {
        sample_rate: 16_000,
        channels: vec![(0..3000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect()],
    };
    let mut reports = Vec::new();
    let stems = separate_audio(&mut separator, &mono, |done, total| {
        reports.push((done, total))
    })
    .unwrap();
    assert!(!reports.is_empty() && reports.last().unwrap().0 == reports.last().unwrap().1);
    for stem in &stems {
        assert_eq!(stem.sample_rate, 16_000);
        assert_eq!(stem.num_channels(), 2);
        assert_eq!(stem.num_frames(), 3000);
    }
    // A 0.05 rad/sample tone (127 Hz) survives both resamplings: the stems add back up to
    // it away from the edges.
    for c in 0..2 {
        let worst = (200..2800)
            .map(|i| {
                let sum: f32 = stems.iter().map(|s| s.channels[c][i]).sum();
                (sum - mono.channels[0][i]).abs()
            })
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-2,
            "channel {c}: stems differ from the input by {worst}"
        );
    }
}
