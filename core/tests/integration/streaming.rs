//! The streaming STFT/iSTFT against the offline transforms: for random configurations,
//! signals and block-size sequences the frames and samples must be identical, and the
//! real-time calls must not allocate.

use ndarray::Array2;
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::stft::{Complex32, PadMode, Stft, StftConfig};
use tessera_core::dsp::streaming::{StreamingIstft, StreamingStft};
use tessera_core::dsp::window::WindowKind;

use crate::support::allocations;

fn random_signal(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// Configurations across window lengths, hops (down to 1 and, for the forward stream,
/// beyond `n_fft`), padding modes and centring.
fn config_strategy() -> impl Strategy<Value = StftConfig> {
    (
        prop::sample::select(vec![2usize, 7, 16, 64, 255, 512, 2048]),
        0.0..1.0f64,
        0.0..1.0f64,
        prop::sample::select(vec![
            WindowKind::Hann,
            WindowKind::Hamming,
            WindowKind::Blackman,
            WindowKind::Rectangular,
        ]),
        any::<bool>(),
        prop::sample::select(vec![PadMode::Reflect, PadMode::Constant]),
    )
        .prop_map(
            |(n_fft, hop_fraction, win_fraction, window, center, pad_mode)| StftConfig {
                n_fft,
                hop_length: 1 + (hop_fraction * 1.25 * n_fft as f64) as usize,
                win_length: 1 + (win_fraction * (n_fft - 1) as f64) as usize,
                window,
                center,
                pad_mode,
            },
        )
}

/// Block sizes from 1 to 8192, mostly tiny.
fn blocks_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![4 => 1..=4usize, 3 => 1..=300usize, 1 => 1..=8192usize],
        1..200,
    )
}

/// Pushes `signal` in blocks cycling through `blocks`, then finishes; returns every frame's
/// bins, frame after frame.
fn stream_frames(stream: &mut StreamingStft, signal: &[f32], blocks: &[usize]) -> Vec<Complex32> {
    let mut frames = Vec::new();
    let mut rest = signal;
    for &size in blocks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (block, tail) = rest.split_at(size.min(rest.len()));
        stream.push(block, |bins| frames.extend_from_slice(bins));
        rest = tail;
    }
    stream
        .finish(|bins| frames.extend_from_slice(bins))
        .expect("signal long enough");
    frames
}

/// The offline spectrum's bins, frame after frame.
fn offline_frames(spectrum: &Array2<Complex32>) -> Vec<Complex32> {
    spectrum.t().iter().copied().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn streaming_frames_equal_offline_frames(
        config in config_strategy(),
        blocks in blocks_strategy(),
        extra_len in 0usize..6_000,
        seed in any::<u64>(),
    ) {
        let signal = random_signal(config.min_signal_len() + extra_len, seed);
        let offline = Stft::new(config.clone()).unwrap().forward(&signal).unwrap();
        let mut stream = StreamingStft::new(config).unwrap();
        let streamed = stream_frames(&mut stream, &signal, &blocks);
        // Same samples through the same arithmetic: bit-exact.
        prop_assert_eq!(&streamed, &offline_frames(&offline));
        // `finish` reset the stream: a second signal streams as if on a fresh one.
        let again = stream_frames(&mut stream, &signal, &blocks[blocks.len() / 2..]);
        prop_assert_eq!(&again, &streamed);
    }

    #[test]
    fn streaming_inverse_equals_offline_inverse(
        config in config_strategy(),
        extra_len in 0usize..6_000,
        seed in any::<u64>(),
    ) {
        // The streaming inverse needs hop <= n_fft − padding (checked below).
        let max_hop = config.n_fft - config.padding();
        let config = StftConfig { hop_length: config.hop_length.min(max_hop), ..config };
        let signal = random_signal(config.min_signal_len() + extra_len, seed);
        let stft = Stft::new(config.clone()).unwrap();
        let spectrum = stft.forward(&signal).unwrap();
        let hop = config.hop_length;
        let mut stream = StreamingIstft::new(config).unwrap();
        let mut streamed = Vec::new();
        for column in spectrum.columns() {
            let released = stream.push_frame(column.as_slice().unwrap()).unwrap();
            prop_assert!(released.len() <= hop);
            streamed.extend_from_slice(released);
        }
        streamed.extend_from_slice(stream.finish());
        prop_assert_eq!(&streamed, &stft.inverse(spectrum.view(), None).unwrap());
        // A shorter `length` truncates the stream.
        for length in [streamed.len() / 2, streamed.len().saturating_sub(1)] {
            let truncated = &streamed[..length];
            prop_assert_eq!(truncated, &stft.inverse(spectrum.view(), Some(length)).unwrap()[..]);
        }
    }
}

#[test]
fn round_trip_reconstructs_with_documented_latency() {
    let config = StftConfig::new(2048, 512);
    let n_fft = config.n_fft;
    let signal = random_signal(20_000, 11);
    let mut analysis = StreamingStft::new(config.clone()).unwrap();
    let mut synthesis = StreamingIstft::new(config).unwrap();
    let mut output = Vec::new();
    for (i, &sample) in signal.iter().enumerate() {
        analysis.push(&[sample], |bins| {
            output.extend_from_slice(synthesis.push_frame(bins).unwrap());
        });
        // Output sample j is out once input sample j + n_fft − 1 is in.
        assert!(
            output.len() + n_fft >= i + 2,
            "{} out after {} in",
            output.len(),
            i + 1
        );
    }
    analysis
        .finish(|bins| output.extend_from_slice(synthesis.push_frame(bins).unwrap()))
        .unwrap();
    output.extend_from_slice(synthesis.finish());
    // Without a length, librosa's inverse ends with the last full hop: 39 · 512 samples.
    assert_eq!(output.len(), 19_968);
    let err = output
        .iter()
        .zip(&signal)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= 1e-6, "max reconstruction error {err}");
}

#[test]
fn real_time_calls_do_not_allocate() {
    let config = StftConfig::new(512, 128);
    let signal = random_signal(30_000, 5);
    let mut analysis = StreamingStft::new(config.clone()).unwrap();
    let mut synthesis = StreamingIstft::new(config).unwrap();
    let mut checksum = 0.0f32;
    let before = allocations();
    let sizes = [1, 3, 64, 127, 4096, 8192];
    let mut rest = &signal[..];
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (block, tail) = rest.split_at((*size).min(rest.len()));
        analysis.push(block, |bins| {
            checksum += synthesis.push_frame(bins).unwrap().iter().sum::<f32>();
        });
        rest = tail;
        if *size == 3 {
            analysis.reset();
        }
    }
    analysis
        .finish(|bins| checksum += synthesis.push_frame(bins).unwrap().iter().sum::<f32>())
        .unwrap();
    checksum += synthesis.finish().iter().sum::<f32>();
    assert_eq!(allocations(), before, "allocated during streaming");
    assert!(checksum.is_finite());
}

#[test]
fn bad_inputs_are_refused() {
    // Reflect padding needs n_fft/2 + 1 samples.
    let mut analysis = StreamingStft::new(StftConfig::new(64, 16)).unwrap();
    let mut frames = 0;
    analysis.push(&[0.5; 32], |_| frames += 1);
    assert!(analysis.finish(|_| frames += 1).is_err());
    assert_eq!(frames, 0);
    // A hop beyond n_fft − padding cannot be trimmed in time.
    assert!(StreamingIstft::new(StftConfig::new(64, 33)).is_err());
    let mut synthesis = StreamingIstft::new(StftConfig::new(64, 32)).unwrap();
    assert!(synthesis.push_frame(&[Complex32::default(); 32]).is_err());
}
