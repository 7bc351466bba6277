//! The separation engine as the audio thread drives it: latency, alignment, offline
//! exactness and the dry fallback when the worker is late.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use candle_core::Device;
use tessera_plugin::engine::{EngineBlock, STEM_COUNT, SeparationEngine};
use tessera_plugin::status::EngineStatus;

/// A few harmonic tones and noise bursts, stereo, `seconds` long.
fn test_signal(rate: u32, seconds: f32) -> [Vec<f32>; 2] {
    let n = (rate as f32 * seconds) as usize;
    let mut state = 0x1234_5678u32;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    };
    let mut smoothed = 0.0;
    let mut left = Vec::with_capacity(n);
    let mut right = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / rate as f32;
        let tones: f32 = [110.0f32, 220.0, 330.0, 523.25]
            .iter()
            .map(|f| 0.1 * (std::f32::consts::TAU * f * t).sin())
            .sum();
        // Noise bursts, low-passed well below 22 kHz so that the model's 44.1 kHz leaves
        // them intact at any host rate.
        let burst = if (t * 4.0).fract() < 0.05 {
            0.3 * noise()
        } else {
            0.0
        };
        smoothed += 0.2 * (burst - smoothed);
        let burst = smoothed;
        left.push(tones + burst);
        right.push(0.8 * tones - burst);
    }
    [left, right]
}

/// What the main output carries with default parameters, and the sum of the stems alone
/// (the remix without the dry fallback for what the worker did not deliver).
fn remix(block: &EngineBlock, frames: usize) -> ([Vec<f32>; 2], [Vec<f32>; 2]) {
    let stems: [Vec<f32>; 2] = std::array::from_fn(|c| {
        (0..frames)
            .map(|i| (0..STEM_COUNT).map(|s| block.stems[s][c][i]).sum())
            .collect()
    });
    let main = std::array::from_fn(|c| {
        (0..frames)
            .map(|i| stems[c][i] + (1.0 - block.wet[i]) * block.dry[c][i])
            .collect()
    });
    (main, stems)
}

/// Signal-to-error ratio of `estimate` against `reference`, dB.
fn snr_db(reference: &[f32], estimate: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&x| f64::from(x).powi(2)).sum();
    let error: f64 = reference
        .iter()
        .zip(estimate)
        .map(|(&x, &y)| f64::from(x - y).powi(2))
        .sum();
    10.0 * (signal / error.max(1e-30)).log10()
}

/// An engine for the embedded separator.
fn engine(rate: u32, block: usize) -> (SeparationEngine, Arc<EngineStatus>) {
    let model = tessera_core::embedded::default_separator(&Device::Cpu).unwrap();
    let status = Arc::new(EngineStatus::default());
    let engine = SeparationEngine::new(model, rate, block, status.clone()).unwrap();
    (engine, status)
}

/// Runs `input` and then a latency of silence through `engine` in blocks of `block`,
/// returning the remix and the stems' sum per channel.
fn render(
    engine: &mut SeparationEngine,
    block: usize,
    input: &[Vec<f32>; 2],
    offline: bool,
) -> ([Vec<f32>; 2], [Vec<f32>; 2]) {
    let latency = engine.latency();
    let total = input[0].len() + latency;
    let padded: [Vec<f32>; 2] = std::array::from_fn(|c| {
        let mut x = input[c].clone();
        x.resize(total, 0.0);
        x
    });
    let mut out = [Vec::with_capacity(total), Vec::with_capacity(total)];
    let mut stems = [Vec::with_capacity(total), Vec::with_capacity(total)];
    let mut start = 0;
    while start < total {
        let end = (start + block).min(total);
        let produced = engine.process(&padded[0][start..end], &padded[1][start..end], offline);
        let (main, stem_sum) = remix(produced, end - start);
        for c in 0..2 {
            out[c].extend(&main[c]);
            stems[c].extend(&stem_sum[c]);
        }
        start = end;
    }
    (out, stems)
}

/// `input` delayed by `latency` frames.
fn delayed(input: &[f32], latency: usize) -> Vec<f32> {
    let mut delayed = vec![0.0; latency];
    delayed.extend(input);
    delayed
}

#[test]
fn offline_render_is_the_input_delayed_by_the_reported_latency() {
    for rate in [44_100, 48_000] {
        let input = test_signal(rate, 4.0);
        let (mut engine, _) = engine(rate, 1024);
        let latency = engine.latency();
        let (out, stems) = render(&mut engine, 1024, &input, true);
        let seconds = latency as f32 / rate as f32;
        assert!(
            (2.0..5.0).contains(&seconds),
            "latency {latency} frames at {rate} Hz"
        );
        for c in 0..2 {
            // Silence for the latency, then the input (resampling filters ring a little
            // before the onset: that counts as error too).
            let snr = snr_db(&delayed(&input[c], latency), &out[c]);
            // Past the lead-in the output is all stems (no dry fallback mixed in).
            let stems_snr = snr_db(&input[c], &stems[c][latency..]);
            eprintln!(
                "{rate} Hz channel {c}: latency {latency} ({seconds:.3} s), SNR {snr:.1} dB, \
                 stems alone {stems_snr:.1} dB"
            );
            // Through the model's rate and back at 48 kHz: the resamplers' pass band.
            let goal = if rate == 44_100 { 100.0 } else { 40.0 };
            assert!(snr > goal, "{rate} Hz channel {c}: SNR {snr:.1} dB");
            assert!(
                stems_snr > goal,
                "{rate} Hz channel {c}: stems alone {stems_snr:.1} dB"
            );
        }
    }
}

#[test]
fn a_late_worker_falls_back_to_the_aligned_dry_signal_without_a_gap() {
    // Blocks arrive as fast as the loop runs, far faster than real time: the worker
    // cannot keep up, so most of the output is the crossfaded dry fallback.
    let rate = 44_100;
    let input = test_signal(rate, 3.0);
    let (mut engine, status) = engine(rate, 256);
    let latency = engine.latency();
    let (out, _) = render(&mut engine, 256, &input, false);
    assert!(status.overloads.load(Ordering::Relaxed) >= 1);
    for c in 0..2 {
        let snr = snr_db(&delayed(&input[c], latency), &out[c]);
        assert!(snr > 100.0, "channel {c}: SNR {snr:.1} dB");
    }
}

#[test]
fn reset_starts_a_new_stream_without_the_old_audio() {
    let rate = 44_100;
    let (mut engine, _) = engine(rate, 512);
    let latency = engine.latency();
    let old = test_signal(rate, 1.0);
    render(&mut engine, 512, &old, true);
    engine.reset();
    let new: [Vec<f32>; 2] = test_signal(rate, 2.0).map(|c| c.iter().map(|x| -0.5 * x).collect());
    let (out, _) = render(&mut engine, 512, &new, true);
    for c in 0..2 {
        let snr = snr_db(&delayed(&new[c], latency), &out[c]);
        assert!(snr > 100.0, "channel {c}: SNR {snr:.1} dB");
    }
}
