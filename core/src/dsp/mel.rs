//! Mel scales, mel filterbanks and the (log-)mel spectrogram pipeline.
//!
//! The filterbank is `librosa.filters.mel` computed the same way (in `f64`, rounded to
//! `f32`), so mel features match librosa's to float precision. [`MelSpectrogram`] and
//! [`LogMel`] are built once per configuration (STFT plan, sparse filterbank, scratch) and
//! keep their STFT buffer between calls: `compute_into` on signals of one length allocates
//! nothing of its own after the first call (only the STFT's one-frame scratch).

use std::ops::Range;

use ndarray::parallel::prelude::*;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
use serde::{Deserialize, Serialize};

use super::DspError;
use super::spectrogram::{DbScaling, power_to_db_inplace};
use super::stft::{PadMode, Stft, StftConfig};
use super::window::WindowKind;

/// Which Hz ↔ mel formula to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelScale {
    /// Slaney's Auditory Toolbox: linear below 1 kHz, logarithmic above (librosa's default,
    /// `htk=False`).
    Slaney,
    /// The HTK formula `2595·log10(1 + f/700)` (librosa's `htk=True`, torchaudio's default).
    Htk,
}

/// How each mel filter is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelNorm {
    /// Divide each triangle by its width in Hz (÷ half of it, as librosa does) so every band
    /// has about constant energy per Hz (librosa's `norm='slaney'`).
    Slaney,
    /// Triangles peak at 1 (librosa's `norm=None`).
    None,
}

// Constants of Slaney's scale: 200/3 Hz per mel up to 1 kHz, then log steps of
// ln(6.4)/27 per mel.
const SLANEY_HZ_PER_MEL: f64 = 200.0 / 3.0;
const SLANEY_LOG_START_HZ: f64 = 1000.0;
const SLANEY_LOG_START_MEL: f64 = SLANEY_LOG_START_HZ / SLANEY_HZ_PER_MEL;

fn slaney_log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Frequency in Hz to mels (`librosa.hz_to_mel`).
pub fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney if hz >= SLANEY_LOG_START_HZ => {
            SLANEY_LOG_START_MEL + (hz / SLANEY_LOG_START_HZ).ln() / slaney_log_step()
        }
        MelScale::Slaney => hz / SLANEY_HZ_PER_MEL,
    }
}

/// Mels to frequency in Hz (`librosa.mel_to_hz`), the inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney if mel >= SLANEY_LOG_START_MEL => {
            SLANEY_LOG_START_HZ * (slaney_log_step() * (mel - SLANEY_LOG_START_MEL)).exp()
        }
        MelScale::Slaney => SLANEY_HZ_PER_MEL * mel,
    }
}

/// `count` frequencies in Hz evenly spaced on the mel scale from `fmin` to `fmax` inclusive
/// (`librosa.mel_frequencies`).
pub fn mel_frequencies(count: usize, fmin: f64, fmax: f64, scale: MelScale) -> Vec<f64> {
    let low = hz_to_mel(fmin, scale);
    let high = hz_to_mel(fmax, scale);
    // numpy.linspace: start + i·step, with the last point set to exactly `stop`.
    let step = (high - low) / (count.saturating_sub(1).max(1)) as f64;
    (0..count)
        .map(|i| {
            let mel = if i + 1 == count && count > 1 {
                high
            } else {
                i as f64 * step + low
            };
            mel_to_hz(mel, scale)
        })
        .collect()
}

/// The mel filterbank `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm)`:
/// `n_mels` triangular filters over the `n_fft/2 + 1` STFT bins, shape
/// `[n_mels × (n_fft/2 + 1)]`. `fmax = None` means `sample_rate / 2`.
///
/// Like librosa, a configuration with more mels than the FFT resolves yields some all-zero
/// filters; that is allowed (their output is just 0).
pub fn mel_filterbank(
    sample_rate: u32,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: Option<f64>,
    scale: MelScale,
    norm: MelNorm,
) -> Result<Array2<f32>, DspError> {
    let nyquist = f64::from(sample_rate) / 2.0;
    let fmax = fmax.unwrap_or(nyquist);
    if sample_rate == 0 || n_fft < 2 || n_mels == 0 {
        return Err(DspError::InvalidConfig(format!(
            "mel filterbank needs sample_rate > 0, n_fft >= 2 and n_mels > 0 \
             (got {sample_rate}, {n_fft}, {n_mels})"
        )));
    }
    if !(fmin >= 0.0 && fmin < fmax && fmax <= nyquist) {
        return Err(DspError::InvalidConfig(format!(
            "mel frequency range must satisfy 0 <= fmin < fmax <= sample_rate/2 = {nyquist} Hz \
             (got fmin {fmin}, fmax {fmax})"
        )));
    }
    let n_bins = n_fft / 2 + 1;
    // numpy.fft.rfftfreq(n_fft, 1/sr): bin k is at k · (1 / (n_fft · (1/sr))) Hz.
    let bin_hz = 1.0 / (n_fft as f64 * (1.0 / f64::from(sample_rate)));
    let edges = mel_frequencies(n_mels + 2, fmin, fmax, scale);
    let mut weights = Array2::<f32>::zeros((n_mels, n_bins));
    for (m, mut row) in weights.axis_iter_mut(Axis(0)).enumerate() {
        let (left, center, right) = (edges[m], edges[m + 1], edges[m + 2]);
        // librosa multiplies the already f32-rounded triangle by the f64 norm factor.
        let norm_factor = match norm {
            MelNorm::Slaney => 2.0 / (right - left),
            MelNorm::None => 1.0,
        };
        for (k, w) in row.iter_mut().enumerate() {
            let hz = k as f64 * bin_hz;
            let rising = (hz - left) / (center - left);
            let falling = (right - hz) / (right - center);
            let triangle = rising.min(falling).max(0.0) as f32;
            *w = (f64::from(triangle) * norm_factor) as f32;
        }
    }
    Ok(weights)
}

/// Frames per tile of the filterbank product: a tile of power frames (64 × 513 floats for
/// n_fft 1024, 128 KiB) stays in L2 cache while every filter reads it, and 64 frames make
/// a multiply-add row long enough to vectorise well.
const FRAME_TILE: usize = 64;

/// A mel filterbank prepared for fast products: each filter is nonzero only on a contiguous
/// range of bins (two neighbouring triangles), so applying it touches about two rows of the
/// spectrogram per bin instead of all `n_mels × n_bins` weights.
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    /// The dense weights `[n_mels × n_bins]`, as returned by [`mel_filterbank`].
    weights: Array2<f32>,
    /// Each filter's weights from its first to its last nonzero bin.
    support: Vec<FilterSupport>,
}

/// The part of one filter that can be nonzero.
#[derive(Debug, Clone)]
struct FilterSupport {
    /// The bins covered.
    bins: Range<usize>,
    /// The weights on those bins.
    weights: Vec<f32>,
}

impl MelFilterbank {
    /// Wraps dense filter weights `[n_mels × n_bins]`, recording where each filter is nonzero.
    pub fn new(weights: Array2<f32>) -> Self {
        let support = weights
            .axis_iter(Axis(0))
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0);
                let last = row.iter().rposition(|&w| w != 0.0);
                let bins = match (first, last) {
                    (Some(first), Some(last)) => first..last + 1,
                    _ => 0..0,
                };
                FilterSupport {
                    weights: row.slice(s![bins.clone()]).to_vec(),
                    bins,
                }
            })
            .collect();
        Self { weights, support }
    }

    /// Builds the filterbank of a [`MelConfig`].
    pub fn from_config(config: &MelConfig) -> Result<Self, DspError> {
        mel_filterbank(
            config.sample_rate,
            config.n_fft,
            config.n_mels,
            config.fmin,
            config.fmax,
            config.scale,
            config.norm,
        )
        .map(Self::new)
    }

    /// The dense weights `[n_mels × n_bins]`.
    pub fn weights(&self) -> ArrayView2<'_, f32> {
        self.weights.view()
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.weights.nrows()
    }

    /// Number of STFT bins the filters expect (`n_fft/2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.weights.ncols()
    }

    /// `weights · spectrogram`: a `[n_bins × frames]` (power) spectrogram to
    /// `[n_mels × frames]`.
    pub fn apply(&self, spectrogram: ArrayView2<'_, f32>) -> Result<Array2<f32>, DspError> {
        self.check_bins(spectrogram.nrows())?;
        let mut mel = Array2::zeros((self.n_mels(), spectrogram.ncols()));
        self.apply_by_tiles(mel.view_mut(), |first, len, tile| {
            for i in 0..len {
                for (k, &s) in spectrogram.column(first + i).iter().enumerate() {
                    tile[k * FRAME_TILE + i] = s;
                }
            }
        });
        Ok(mel)
    }

    /// The filterbank product into `out` (`[n_mels × frames]`), a tile of [`FRAME_TILE`]
    /// frames at a time, tiles in parallel on rayon's threads. `fill(first, len, tile)` writes
    /// the power of frames `first..first + len` bin-major: frame `first + i`, bin `k` at
    /// `tile[k · FRAME_TILE + i]`; so the power spectrogram never exists whole.
    fn apply_by_tiles(
        &self,
        mut out: ArrayViewMut2<'_, f32>,
        fill: impl Fn(usize, usize, &mut [f32]) + Sync,
    ) {
        out.axis_chunks_iter_mut(Axis(1), FRAME_TILE)
            .into_par_iter()
            .enumerate()
            .for_each(|(task, chunk)| {
                let mut tile = vec![0.0; self.tile_len()];
                fill(task * FRAME_TILE, chunk.ncols(), &mut tile);
                self.tile_product(&tile, chunk);
            });
    }

    /// One tile of the product: each mel row of the tile is a sum of a few bin rows scaled by
    /// the filter's weights — contiguous multiply-adds the compiler vectorises — written
    /// once into `out` (`[n_mels × ≤ FRAME_TILE]`).
    fn tile_product(&self, tile: &[f32], mut out: ArrayViewMut2<'_, f32>) {
        let len = out.ncols();
        for (filter, mut mel_row) in self.support.iter().zip(out.outer_iter_mut()) {
            let mut sum = [0.0f32; FRAME_TILE];
            for (k, &weight) in filter.bins.clone().zip(&filter.weights) {
                let bin_row = &tile[k * FRAME_TILE..(k + 1) * FRAME_TILE];
                for (acc, &p) in sum.iter_mut().zip(bin_row) {
                    *acc += weight * p;
                }
            }
            mel_row
                .iter_mut()
                .zip(&sum[..len])
                .for_each(|(o, &v)| *o = v);
        }
    }

    /// Length of the scratch tile [`Self::tile_product`] reads.
    fn tile_len(&self) -> usize {
        FRAME_TILE * self.n_bins()
    }

    fn check_bins(&self, bins: usize) -> Result<(), DspError> {
        if bins == self.n_bins() {
            Ok(())
        } else {
            Err(DspError::InvalidConfig(format!(
                "spectrogram has {bins} frequency bins, the mel filterbank expects {}",
                self.n_bins()
            )))
        }
    }
}

/// Everything that defines a mel spectrogram, readable from TOML.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MelConfig {
    /// Sample rate of the signals, in Hz.
    pub sample_rate: u32,
    /// FFT length (and window length) in samples.
    pub n_fft: usize,
    /// Hop between frames in samples.
    pub hop_length: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest filter edge in Hz.
    pub fmin: f64,
    /// Highest filter edge in Hz; `None` means the Nyquist frequency.
    pub fmax: Option<f64>,
    /// Hz ↔ mel formula.
    pub scale: MelScale,
    /// Filter normalisation.
    pub norm: MelNorm,
    /// Exponent applied to the STFT magnitude before the filterbank (2 = power, 1 = energy).
    pub power: f32,
    /// STFT analysis window (`n_fft` long).
    pub window: WindowKind,
    /// Centre frame `t` on sample `t · hop_length` (librosa's `center=True`).
    pub center: bool,
    /// Signal extension at the edges when centred.
    pub pad_mode: PadMode,
}

impl MelConfig {
    /// The STFT this configuration implies.
    pub fn stft_config(&self) -> StftConfig {
        StftConfig {
            window: self.window,
            center: self.center,
            pad_mode: self.pad_mode,
            ..StftConfig::new(self.n_fft, self.hop_length)
        }
    }
}

impl Default for MelConfig {
    /// 16 kHz, 1024-point Hann FFT, 10 ms hop, centred with reflect padding, 128 Slaney mels
    /// over 0 Hz – Nyquist, power 2.
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 1024,
            hop_length: 160,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
            power: 2.0,
            window: WindowKind::Hann,
            center: true,
            pad_mode: PadMode::Reflect,
        }
    }
}

/// Mel spectrograms of one configuration (`librosa.feature.melspectrogram`): the STFT plan,
/// the filterbank and all working memory are made once in [`MelSpectrogram::new`].
#[derive(Debug)]
pub struct MelSpectrogram {
    /// The configuration, kept for frame counts and the exponent.
    config: MelConfig,
    /// The STFT plan.
    stft: Stft,
    /// The filterbank in its sparse form.
    filterbank: MelFilterbank,
}

impl MelSpectrogram {
    /// Validates `config`, plans its STFT and builds its filterbank.
    pub fn new(config: &MelConfig) -> Result<Self, DspError> {
        if !(config.power > 0.0 && config.power.is_finite()) {
            return Err(DspError::InvalidConfig(format!(
                "mel spectrogram power must be positive, got {}",
                config.power
            )));
        }
        let stft = Stft::new(config.stft_config())?;
        let filterbank = MelFilterbank::from_config(config)?;
        Ok(Self {
            config: *config,
            stft,
            filterbank,
        })
    }

    /// The configuration this was built from.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The filterbank in use.
    pub fn filterbank(&self) -> &MelFilterbank {
        &self.filterbank
    }

    /// Number of frames a signal of `len` samples gives (or why it is too short).
    pub fn n_frames(&self, len: usize) -> Result<usize, DspError> {
        self.stft.config().n_frames(len)
    }

    /// Mel spectrogram `[n_mels × frames]` of `signal`.
    pub fn compute(&self, signal: &[f32]) -> Result<Array2<f32>, DspError> {
        let mut mel = Array2::zeros((self.config.n_mels, self.n_frames(signal.len())?));
        self.compute_into(signal, mel.view_mut())?;
        Ok(mel)
    }

    /// [`compute`](Self::compute) into `out` (`[n_mels × frames]`). Each tile of frames is
    /// transformed, squared and filtered on one of rayon's threads with a few kilobytes of
    /// scratch; the complex spectrogram is never stored.
    pub fn compute_into(
        &self,
        signal: &[f32],
        out: ArrayViewMut2<'_, f32>,
    ) -> Result<(), DspError> {
        let frames = self.n_frames(signal.len())?;
        if out.dim() != (self.config.n_mels, frames) {
            return Err(DspError::InvalidConfig(format!(
                "mel output must be {} mels × {frames} frames, got {:?}",
                self.config.n_mels,
                out.dim()
            )));
        }
        let exponent = self.config.power;
        self.filterbank.apply_by_tiles(out, |first, len, tile| {
            let mut i = 0;
            self.stft
                .for_each_frame(signal, first..first + len, |bins| {
                    let bins = bins.iter().enumerate();
                    if exponent == 2.0 {
                        bins.for_each(|(k, x)| tile[k * FRAME_TILE + i] = x.norm_sqr());
                    } else if exponent == 1.0 {
                        bins.for_each(|(k, x)| tile[k * FRAME_TILE + i] = x.norm());
                    } else {
                        bins.for_each(|(k, x)| tile[k * FRAME_TILE + i] = x.norm().powf(exponent));
                    }
                    i += 1;
                });
        });
        Ok(())
    }
}

/// Log-mel spectrograms: `librosa.power_to_db(librosa.feature.melspectrogram(...), ref, amin,
/// top_db)` of one configuration, built once.
#[derive(Debug)]
pub struct LogMel {
    /// The mel spectrogram stage.
    mel: MelSpectrogram,
    /// The decibel scaling applied to it.
    scaling: DbScaling,
}

impl LogMel {
    /// Builds the mel stage of `config` and checks `scaling`.
    pub fn new(config: &MelConfig, scaling: DbScaling) -> Result<Self, DspError> {
        scaling.validate()?;
        Ok(Self {
            mel: MelSpectrogram::new(config)?,
            scaling,
        })
    }

    /// The mel stage (configuration, filterbank, frame counts).
    pub fn mel(&self) -> &MelSpectrogram {
        &self.mel
    }

    /// The decibel scaling in use.
    pub fn scaling(&self) -> &DbScaling {
        &self.scaling
    }

    /// Log-mel spectrogram `[n_mels × frames]` of `signal`, in dB.
    pub fn compute(&self, signal: &[f32]) -> Result<Array2<f32>, DspError> {
        let mut mel = self.mel.compute(signal)?;
        self.to_db(mel.view_mut())?;
        Ok(mel)
    }

    /// [`compute`](Self::compute) into `out` (`[n_mels × frames]`).
    pub fn compute_into(
        &self,
        signal: &[f32],
        mut out: ArrayViewMut2<'_, f32>,
    ) -> Result<(), DspError> {
        self.mel.compute_into(signal, out.view_mut())?;
        self.to_db(out)
    }

    fn to_db(&self, mel: ArrayViewMut2<'_, f32>) -> Result<(), DspError> {
        power_to_db_inplace(
            mel,
            self.scaling.reference,
            self.scaling.amin,
            self.scaling.top_db,
        )
    }
}
