//! Channel-layout conversions: mono and stereo downmixes, and planar → interleaved order.
//!
//! Channels are assumed to be in WAV/SMPTE order (front left, front right, centre, LFE,
//! surrounds, …), the canonical order symphonia decodes every format into.

use super::AudioBuffer;

/// Mono mix: the mean of all channels, so a signal common to every channel keeps its level and
/// the mix can never clip. A mono input is returned unchanged; a buffer without channels gives
/// one empty channel.
pub fn to_mono(audio: &AudioBuffer) -> AudioBuffer {
    let mono = match audio.channels.as_slice() {
        [] => Vec::new(),
        [only] => only.clone(),
        [first, rest @ ..] => {
            let scale = 1.0 / audio.num_channels() as f32;
            let mut sum = first.clone();
            for channel in rest {
                for (acc, &x) in sum.iter_mut().zip(channel) {
                    *acc += x;
                }
            }
            sum.iter_mut().for_each(|x| *x *= scale);
            sum
        }
    };
    AudioBuffer {
        sample_rate: audio.sample_rate,
        channels: vec![mono],
    }
}

/// Stereo mix. Mono is duplicated onto both sides; stereo is returned unchanged. With more
/// channels, channel 0 (front left) feeds the left side, channel 1 (front right) the right side,
/// and every further channel (centre, LFE, surrounds) feeds both sides equally; each side is
/// the mean of its `n − 1` inputs, so the mix cannot clip and a centred source stays centred.
/// A buffer without channels gives two empty channels.
pub fn to_stereo(audio: &AudioBuffer) -> AudioBuffer {
    let (left, right) = match audio.channels.as_slice() {
        [] => (Vec::new(), Vec::new()),
        [only] => (only.clone(), only.clone()),
        [left, right] => (left.clone(), right.clone()),
        [left, right, shared @ ..] => {
            let scale = 1.0 / (audio.num_channels() - 1) as f32;
            let mut common = vec![0.0f32; audio.num_frames()];
            for channel in shared {
                for (acc, &x) in common.iter_mut().zip(channel) {
                    *acc += x;
                }
            }
            let side = |own: &[f32]| -> Vec<f32> {
                own.iter()
                    .zip(&common)
                    .map(|(&x, &c)| (x + c) * scale)
                    .collect()
            };
            (side(left), side(right))
        }
    };
    AudioBuffer {
        sample_rate: audio.sample_rate,
        channels: vec![left, right],
    }
}

/// The samples in interleaved order (frame by frame: `c0[0], c1[0], …, c0[1], c1[1], …`), as
/// WAV files and most audio APIs store them; `collect()` it for a `Vec`. Lazy, so writing a long
/// buffer needs no interleaved copy. Should the channels differ in length, all are cut to the
/// shortest.
pub fn interleaved(audio: &AudioBuffer) -> impl Iterator<Item = f32> + '_ {
    let frames = audio.channels.iter().map(Vec::len).min().unwrap_or(0);
    (0..frames).flat_map(move |i| audio.channels.iter().map(move |channel| channel[i]))
}
