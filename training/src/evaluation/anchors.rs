//! The two anchors every separator is reported against, computed on the same songs: the
//! oracle ideal ratio mask (an upper bound for any mask on this STFT) and an HPSS
//! baseline that knows nothing about stems beyond "drums are percussive, bass is low"
//! (a lower bound any trained separator should clear).

use ndarray::{Array2, Zip};
use num_complex::Complex32;
use tessera_core::dsp::stft::Stft;
use tessera_core::primitives::hpss::Hpss;
use tessera_core::primitives::{Primitive, SpectrogramGeometry};

use crate::separation::songs::StemSong;

/// Stereo stems `[stem][channel][sample]`.
pub type Stems = [[Vec<f32>; 2]; 4];

/// Harmonic energy below this frequency is assigned to the bass by the HPSS baseline.
const BASS_CUTOFF_HZ: f32 = 250.0;

/// `mask(stem, bin, frame) · mixture` per stem, inverted to `len` samples.
fn masked_stems(
    stft: &Stft,
    mixture: &Array2<Complex32>,
    len: usize,
    mask: impl Fn(usize, usize, usize) -> f32,
) -> anyhow::Result<[Vec<f32>; 4]> {
    let mut out: [Vec<f32>; 4] = Default::default();
    for (stem, slot) in out.iter_mut().enumerate() {
        let mut masked = mixture.clone();
        Zip::indexed(&mut masked).for_each(|(bin, frame), value| *value *= mask(stem, bin, frame));
        *slot = stft.inverse(masked.view(), Some(len))?;
    }
    Ok(out)
}

/// Collects per-channel stems into `[stem][channel]`.
fn by_stem(channels: [[Vec<f32>; 4]; 2]) -> Stems {
    let [left, right] = channels;
    let mut left = left.into_iter();
    let mut right = right.into_iter();
    std::array::from_fn(|_| [left.next().expect("4"), right.next().expect("4")])
}

/// The oracle: each stem's magnitude share of the sum of the stems' magnitudes, applied to
/// the mixture (`|S_j| / Σ_k |S_k|`).
pub fn ideal_ratio_masks(song: &StemSong, stft: &Stft) -> anyhow::Result<Stems> {
    let mixture = song.mixture();
    let len = song.len();
    let mut channels: [[Vec<f32>; 4]; 2] = Default::default();
    for (c, out) in channels.iter_mut().enumerate() {
        let mix = stft.forward(&mixture[c])?;
        let magnitudes = song
            .stems
            .iter()
            .map(|stem| Ok(stft.forward(&stem[c])?.mapv(|v| v.norm())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let total = magnitudes
            .iter()
            .fold(Array2::<f32>::zeros(mix.dim()), |acc, m| acc + m);
        *out = masked_stems(stft, &mix, len, |stem, bin, frame| {
            magnitudes[stem][(bin, frame)] / total[(bin, frame)].max(1e-10)
        })?;
    }
    Ok(by_stem(channels))
}

/// The lower anchor: HPSS splits the mixture; drums take the percussive part, bass the
/// harmonic part below 250 Hz, vocals and other half each of the harmonic part above.
pub fn hpss_baseline(
    mixture: &[Vec<f32>; 2],
    sample_rate: u32,
    stft: &Stft,
) -> anyhow::Result<Stems> {
    let hpss = Hpss::default();
    let n_fft = stft.config().n_fft;
    let cutoff_bin = (BASS_CUTOFF_HZ * n_fft as f32 / sample_rate as f32).round() as usize;
    let geometry = SpectrogramGeometry {
        sample_rate,
        n_fft,
        hop_length: stft.config().hop_length,
    };
    let len = mixture[0].len();
    let mut channels: [[Vec<f32>; 4]; 2] = Default::default();
    for (c, out) in channels.iter_mut().enumerate() {
        let mix = stft.forward(&mixture[c])?;
        let magnitude = mix.mapv(|v| v.norm());
        let split = hpss.separate(magnitude.view(), &geometry)?;
        *out = masked_stems(stft, &mix, len, |stem, bin, frame| {
            let total = magnitude[(bin, frame)].max(1e-10);
            let percussive = split.foreground[(bin, frame)] / total;
            let harmonic = split.background[(bin, frame)] / total;
            match (stem, bin < cutoff_bin) {
                (1, _) => percussive,
                (2, true) => harmonic,
                (0 | 3, false) => 0.5 * harmonic,
                _ => 0.0,
            }
        })?;
    }
    Ok(by_stem(channels))
}
