//! PaC-HuBERT's primitive auditory features (section 2.4): per spectrogram patch, the means
//! of six primitives' foreground and background estimates over the patch's low and high
//! frequency halves — the vectors k-means clusters into the pretraining labels.
//!
//! **Pipeline.** Audio at [`PrimitiveFeaturesConfig::sample_rate`] (44.1 kHz) is made stereo
//! (mono is duplicated onto both sides, more channels are downmixed by
//! [`audio::channels::to_stereo`](crate::audio::channels::to_stereo)), so the dimension is
//! always 48. Each channel's STFT magnitude (2048/441, Hann, centred, reflect padding) goes
//! through the six primitives in the paper's order [`PRIMITIVE_NAMES`], each giving a
//! foreground and a background map: 12 maps per channel. The Nyquist bin is then dropped
//! (1024 bins, as in the paper), and each map is tiled into `patch_freq × patch_time` patches.
//!
//! **Patches.** Ordered as in [`dsp::patches`](crate::dsp::patches): row-major over
//! (frequency patch, time patch), so row `f · n_time_patches + t` of the output is patch `(f, t)`.
//! Extents that are not multiples of the patch size are zero-padded
//! ([`PadPolicy::Zero`]); the means are taken over the real bins only, so the last, partial
//! time patch is described by its content rather than diluted by padding (a sub-patch with no
//! real bins at all has mean 0).
//!
//! **Layout of a row** (48 values): index `c·24 + h·12 + p·2 + k`, with channel `c` (0 left,
//! 1 right), half `h` (0 = the lower `patch_freq/2` bins, 1 = the upper), primitive `p` in
//! [`PRIMITIVE_NAMES`] order and `k` (0 foreground, 1 background); [`feature_names`] spells it.
//!
//! **Compression.** Magnitude means span orders of magnitude between quiet and loud patches;
//! k-means on raw means would spend its clusters on loudness. [`Compression::Log1p`] (the
//! default) stores `ln(1 + mean)`, which is linear for quiet patches and logarithmic for
//! loud ones, so the clusters describe the fg/bg balance of every primitive at every level.
//!
//! **Segments.** With `segment_secs`, the signal is cut into consecutive segments of that
//! length (a remainder shorter than half a segment joins the previous segment), each analysed
//! on its own — REPET's period, REPET-SIM's neighbours and the FT2D spectrum are then local to
//! the segment, and REPET-SIM's `T²` cost stays bounded. Rows are segment by segment.

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::ft2d::Ft2d;
use super::hpss::Hpss;
use super::melody::Melody;
use super::repet::Repet;
use super::repet_sim::RepetSim;
use super::{ForegroundBackground, Primitive, PrimitiveError, SpectrogramGeometry};
use crate::dsp::patches::{PadPolicy, PatchGrid};
use crate::dsp::spectrogram::magnitude;
use crate::dsp::stft::{Stft, StftConfig};

/// The primitives' names in feature order (the paper's order).
pub const PRIMITIVE_NAMES: [&str; 6] = ["hpss", "repet", "repet_sim", "ft2d_m", "ft2d_r", "melody"];

/// Channels the features describe (mono is duplicated).
pub const CHANNELS: usize = 2;

/// Values per patch: channels × 2 halves × 6 primitives × (foreground, background).
pub const FEATURE_DIM: usize = CHANNELS * 2 * PER_HALF;

/// Values per patch half of one channel: (foreground, background) of each primitive.
const PER_HALF: usize = 2 * PRIMITIVE_NAMES.len();

/// Values per channel: the low half's, then the high half's.
const PER_CHANNEL: usize = 2 * PER_HALF;

/// How the sub-patch means are scaled before they are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// The plain means of the magnitude estimates, as the paper describes them.
    None,
    /// `ln(1 + mean)`: loudness differences no longer dominate the distances k-means sees.
    #[default]
    Log1p,
}

/// Everything that shapes the features (serde-readable; the CLI writes it next to its output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrimitiveFeaturesConfig {
    /// Rate the audio must have, Hz (44.1 kHz in the paper).
    pub sample_rate: u32,
    /// STFT length (2048 in the paper).
    pub n_fft: usize,
    /// STFT hop (441 = 10 ms at 44.1 kHz in the paper).
    pub hop_length: usize,
    /// Patch width P_t in frames (32).
    pub patch_time: usize,
    /// Patch height P_f in bins (64); even, so it splits into two halves.
    pub patch_freq: usize,
    /// Drop the Nyquist bin before patching, leaving `n_fft / 2` bins (1024 = 16 · 64).
    pub drop_nyquist: bool,
    /// Scaling of the stored means.
    pub compression: Compression,
    /// Analyse consecutive segments of this many seconds independently; `None` = whole signal.
    pub segment_secs: Option<f64>,
    /// HPSS settings.
    pub hpss: Hpss,
    /// REPET settings.
    pub repet: Repet,
    /// REPET-SIM settings.
    pub repet_sim: RepetSim,
    /// FT2D-M settings (median peak picker).
    pub ft2d_m: Ft2d,
    /// FT2D-R settings (standard-deviation peak picker).
    pub ft2d_r: Ft2d,
    /// Melody settings.
    pub melody: Melody,
}

impl Default for PrimitiveFeaturesConfig {
    /// The paper's setup: 44.1 kHz, 2048/441 STFT without its Nyquist bin, 32 × 64 patches,
    /// each primitive with its published defaults; log1p compression; whole signals.
    fn default() -> Self {
        Self {
            sample_rate: 44_100,
            n_fft: 2048,
            hop_length: 441,
            patch_time: 32,
            patch_freq: 64,
            drop_nyquist: true,
            compression: Compression::Log1p,
            segment_secs: None,
            hpss: Hpss::default(),
            repet: Repet::default(),
            repet_sim: RepetSim::default(),
            ft2d_m: Ft2d::median(),
            ft2d_r: Ft2d::std_dev(),
            melody: Melody::default(),
        }
    }
}

/// Names of the [`FEATURE_DIM`] values of a row, e.g. `"left/low/hpss/fg"`.
pub fn feature_names() -> Vec<String> {
    let mut names = Vec::with_capacity(FEATURE_DIM);
    for channel in ["left", "right"] {
        for half in ["low", "high"] {
            for primitive in PRIMITIVE_NAMES {
                for part in ["fg", "bg"] {
                    names.push(format!("{channel}/{half}/{primitive}/{part}"));
                }
            }
        }
    }
    names
}

/// Where one analysed segment lies and how its patches are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentGrid {
    /// First sample of the segment in the input.
    pub start_sample: usize,
    /// Samples in the segment.
    pub samples: usize,
    /// STFT frames of the segment.
    pub frames: usize,
    /// Patches along frequency.
    pub freq_patches: usize,
    /// Patches along time.
    pub time_patches: usize,
}

/// The features of one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchFeatures {
    /// One row per patch, [patches × [`FEATURE_DIM`]], segment by segment, each in patch order.
    pub features: Array2<f32>,
    /// The segments in order; segment `i`'s rows follow those of segments `0..i`.
    pub segments: Vec<SegmentGrid>,
}

/// The feature extractor: a validated configuration with its STFT plan and primitives built.
pub struct PrimitiveFeatures {
    config: PrimitiveFeaturesConfig,
    stft: Stft,
    grid: PatchGrid,
    primitives: Vec<Box<dyn Primitive + Send + Sync>>,
}

impl std::fmt::Debug for PrimitiveFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrimitiveFeatures")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PrimitiveFeatures {
    /// Builds the extractor, rejecting an odd or zero patch height, a bad STFT or segment length.
    pub fn new(config: PrimitiveFeaturesConfig) -> Result<Self, PrimitiveError> {
        if config.patch_freq == 0 || !config.patch_freq.is_multiple_of(2) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "patch_freq must be even and positive (it splits into two halves), got {}",
                config.patch_freq
            )));
        }
        if config.sample_rate == 0 {
            return Err(PrimitiveError::InvalidConfig(
                "sample_rate must be positive".to_owned(),
            ));
        }
        if let Some(secs) = config.segment_secs
            && !(secs.is_finite() && secs > 0.0)
        {
            return Err(PrimitiveError::InvalidConfig(format!(
                "segment_secs must be a positive number of seconds, got {secs}"
            )));
        }
        let stft = Stft::new(StftConfig::new(config.n_fft, config.hop_length))?;
        // Each half of a patch is itself a patch of half the height on the same time grid.
        let grid = PatchGrid::new(config.patch_freq / 2, config.patch_time, PadPolicy::Zero)?;
        config.hpss.validate()?;
        config.repet.validate()?;
        config.repet_sim.validate()?;
        let primitives: Vec<Box<dyn Primitive + Send + Sync>> = vec![
            Box::new(config.hpss),
            Box::new(config.repet),
            Box::new(config.repet_sim),
            Box::new(config.ft2d_m.clone()),
            Box::new(config.ft2d_r.clone()),
            Box::new(config.melody.clone()),
        ];
        Ok(Self {
            config,
            stft,
            grid,
            primitives,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &PrimitiveFeaturesConfig {
        &self.config
    }

    /// The STFT geometry the primitives see.
    pub fn geometry(&self) -> SpectrogramGeometry {
        SpectrogramGeometry {
            sample_rate: self.config.sample_rate,
            n_fft: self.config.n_fft,
            hop_length: self.config.hop_length,
        }
    }

    /// Features of planar audio (`channels`, all the same length) at the configured rate:
    /// 1 channel is duplicated, 2 are used as they are; convert others with
    /// [`to_stereo`](crate::audio::channels::to_stereo) first.
    pub fn extract(&self, channels: &[&[f32]]) -> Result<PatchFeatures, PrimitiveError> {
        let bad = |problem: String| PrimitiveError::BadInput {
            primitive: "features",
            problem,
        };
        let stereo: [&[f32]; CHANNELS] = match channels {
            [mono] => [mono, mono],
            [left, right] if left.len() == right.len() => [left, right],
            [_, _] => return Err(bad("the two channels differ in length".to_owned())),
            other => {
                return Err(bad(format!(
                    "expected 1 or 2 channels, got {} (downmix with to_stereo first)",
                    other.len()
                )));
            }
        };
        let mut rows = Vec::new();
        let mut segments = Vec::new();
        for range in self.segment_ranges(stereo[0].len()) {
            let (features, grid) =
                self.extract_segment([&stereo[0][range.clone()], &stereo[1][range.clone()]])?;
            rows.push(features);
            segments.push(SegmentGrid {
                start_sample: range.start,
                samples: range.len(),
                ..grid
            });
        }
        let views: Vec<ArrayView2<'_, f32>> = rows.iter().map(|r| r.view()).collect();
        let features = ndarray::concatenate(Axis(0), &views)
            .map_err(|e| bad(format!("segments disagree in feature layout: {e}")))?;
        Ok(PatchFeatures { features, segments })
    }

    /// The segments [`Self::extract`] cuts a signal of `len` samples into, with their patch
    /// grids, without analysing anything: for features of another kind (a network's layers)
    /// that must line up with these patches row for row.
    pub fn segment_grids(&self, len: usize) -> Result<Vec<SegmentGrid>, PrimitiveError> {
        self.segment_ranges(len)
            .into_iter()
            .map(|range| {
                let frames = self.stft.config().n_frames(range.len())?;
                let bins = self.config.n_fft / 2 + 1;
                let kept_bins = bins - usize::from(self.config.drop_nyquist);
                let (half_rows, time_patches) = self.grid.grid_shape(kept_bins, frames)?;
                Ok(SegmentGrid {
                    start_sample: range.start,
                    samples: range.len(),
                    frames,
                    freq_patches: half_rows.div_ceil(2),
                    time_patches,
                })
            })
            .collect()
    }

    /// The sample ranges analysed independently (see the module docs on segments).
    fn segment_ranges(&self, len: usize) -> Vec<std::ops::Range<usize>> {
        let Some(secs) = self.config.segment_secs else {
            return std::iter::once(0..len).collect();
        };
        let segment = ((secs * f64::from(self.config.sample_rate)).round() as usize).max(1);
        let mut ranges: Vec<std::ops::Range<usize>> = (0..len)
            .step_by(segment)
            .map(|start| start..(start + segment).min(len))
            .collect();
        if ranges.len() > 1 && ranges.last().is_some_and(|r| 2 * r.len() < segment) {
            let tail = ranges.pop().expect("more than one range");
            ranges.last_mut().expect("more than one range").end = tail.end;
        }
        ranges
    }

    /// The features of one stereo segment and its grid (sample fields left to the caller).
    fn extract_segment(
        &self,
        stereo: [&[f32]; CHANNELS],
    ) -> Result<(Array2<f32>, SegmentGrid), PrimitiveError> {
        let geometry = self.geometry();
        let magnitudes = stereo
            .iter()
            .map(|channel| Ok(magnitude(self.stft.forward(channel)?.view())))
            .collect::<Result<Vec<_>, PrimitiveError>>()?;
        let (bins, frames) = magnitudes[0].dim();
        let kept_bins = if self.config.drop_nyquist {
            bins - 1
        } else {
            bins
        };
        let (half_rows, time_patches) = self.grid.grid_shape(kept_bins, frames)?;
        let freq_patches = half_rows.div_ceil(2);
        let n_patches = freq_patches * time_patches;

        // Every (channel, primitive) pair is independent: run all twelve in parallel.
        let jobs: Vec<(usize, usize)> = (0..CHANNELS)
            .flat_map(|c| (0..self.primitives.len()).map(move |p| (c, p)))
            .collect();
        let estimates = jobs
            .par_iter()
            .map(|&(c, p)| self.primitives[p].separate(magnitudes[c].view(), &geometry))
            .collect::<Result<Vec<ForegroundBackground>, PrimitiveError>>()?;

        let mut features = Array2::<f32>::zeros((n_patches, FEATURE_DIM));
        let counts = self.half_patch_counts(kept_bins, frames, half_rows, time_patches);
        for (&(c, p), estimate) in jobs.iter().zip(&estimates) {
            for (k, map) in [&estimate.foreground, &estimate.background]
                .into_iter()
                .enumerate()
            {
                let sums = self
                    .grid
                    .split(map.slice(s![..kept_bins, ..]))?
                    .sum_axis(Axis(2))
                    .sum_axis(Axis(1));
                for (half_index, (&sum, &count)) in sums.iter().zip(&counts).enumerate() {
                    let (half_row, t) = (half_index / time_patches, half_index % time_patches);
                    let patch = (half_row / 2) * time_patches + t;
                    let column = c * PER_CHANNEL + (half_row % 2) * PER_HALF + p * 2 + k;
                    let mean = if count == 0 { 0.0 } else { sum / count as f32 };
                    features[[patch, column]] = match self.config.compression {
                        Compression::None => mean,
                        Compression::Log1p => mean.ln_1p(),
                    };
                }
            }
        }
        let grid = SegmentGrid {
            start_sample: 0,
            samples: stereo[0].len(),
            frames,
            freq_patches,
            time_patches,
        };
        Ok((features, grid))
    }

    /// Real (unpadded) bins in every half patch, in the half grid's patch order.
    fn half_patch_counts(
        &self,
        bins: usize,
        frames: usize,
        half_rows: usize,
        time_patches: usize,
    ) -> Vec<usize> {
        let (height, width) = (self.grid.patch_freq, self.grid.patch_time);
        (0..half_rows * time_patches)
            .map(|i| {
                let (row, t) = (i / time_patches, i % time_patches);
                let real_rows = bins.saturating_sub(row * height).min(height);
                let real_cols = frames.saturating_sub(t * width).min(width);
                real_rows * real_cols
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_layout() {
        let names = feature_names();
        assert_eq!(names.len(), FEATURE_DIM);
        assert_eq!(FEATURE_DIM, 48);
        // c·24 + h·12 + p·2 + k
        assert_eq!(names[24 + 12 + 2 * 2 + 1], "right/high/repet_sim/bg");
        assert_eq!(names[5 * 2], "left/low/melody/fg");
    }

    #[test]
    fn a_short_remainder_joins_the_previous_segment() {
        let extractor = |secs| {
            PrimitiveFeatures::new(PrimitiveFeaturesConfig {
                sample_rate: 10,
                segment_secs: secs,
                ..PrimitiveFeaturesConfig::default()
            })
            .unwrap()
        };
        assert_eq!(extractor(None).segment_ranges(95), vec![(0..95)]);
        assert_eq!(
            extractor(Some(3.0)).segment_ranges(95),
            [0..30, 30..60, 60..95]
        );
        assert_eq!(
            extractor(Some(3.0)).segment_ranges(105),
            [0..30, 30..60, 60..90, 90..105]
        );
        assert_eq!(extractor(Some(3.0)).segment_ranges(20), vec![(0..20)]);
    }

    #[test]
    fn half_patch_counts_cover_only_real_bins() {
        let extractor = PrimitiveFeatures::new(PrimitiveFeaturesConfig::default()).unwrap();
        // 1024 bins × 301 frames: 32 half rows × 10 time patches, the last 13 frames wide.
        let counts = extractor.half_patch_counts(1024, 301, 32, 10);
        assert_eq!(counts.len(), 320);
        assert_eq!(counts[0], 32 * 32);
        assert_eq!(counts[9], 32 * 13);
        assert_eq!(counts.iter().sum::<usize>(), 1024 * 301);
    }
}
