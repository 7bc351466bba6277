//! Melody: a Melodia-like predominant-f0 tracker (Salamon & Gómez, "Melody extraction from
//! polyphonic music signals using pitch contour characteristics", 2012) whose foreground is
//! the harmonic comb of the tracked melody — PaC-HuBERT's sixth primitive.
//!
//! Per frame, as Melodia: spectral peaks within `peak_range_db` of the frame's loudest
//! (frequency and amplitude refined by parabolic interpolation of the log magnitude, which
//! resolves pitch far below the bin spacing, 21.5 Hz at 2048 / 44.1 kHz), each peak `a` at `f` voting
//! `a^β · α^(h−1) · cos²(π/2 · δ)` for the f0 `f / h` of every harmonic number
//! `h = 1..=harmonics`, `δ` being the distance from `f / h` in units of `spread_cents`, on a
//! log-frequency grid of `cents_per_bin` from `min_hz` to `max_hz`. Working from peaks keeps
//! the cost at (peaks × harmonics × kernel) per frame instead of (bins × grid).
//!
//! Simplifications of Melodia's contour stage, documented:
//! - **Voicing** is one global rule: a frame is voiced when its largest salience reaches
//!   `voicing_threshold` times the 95th percentile of the frames' largest saliences (a
//!   percentile rather than the maximum, so one loud frame does not silence the rest).
//! - **Contours** are the Viterbi path through each run of voiced frames over the
//!   `candidates` strongest salience maxima per frame, scoring `ln(S / S_max)` per frame and
//!   `−jump_penalty` per octave of jump between frames, instead of Melodia's contour
//!   characteristics.
//! - **Foreground** is a binary harmonic comb: in a voiced frame, the bins within
//!   `comb_half_width_bins` (the Hann main lobe is ±2 bins) plus `comb_tolerance_cents` of
//!   `h · f0`, for every harmonic below Nyquist, keep the mixture magnitude; the background is
//!   the rest (`X − foreground`).

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::validate::check_magnitude;
use super::{ForegroundBackground, Primitive, PrimitiveError, SpectrogramGeometry};

/// The melody primitive and its parameters (serde-readable; missing fields take defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Melody {
    /// Lowest f0 considered, Hz (Melodia: 55).
    pub min_hz: f32,
    /// Highest f0 considered, Hz (Melodia: 1760).
    pub max_hz: f32,
    /// Resolution of the salience grid in cents (Melodia: 10).
    pub cents_per_bin: f32,
    /// Harmonics summed per f0 candidate.
    pub harmonics: usize,
    /// Harmonic weighting α: harmonic `h` votes with weight `α^(h−1)` (Melodia: 0.8).
    pub harmonic_weight: f32,
    /// Magnitude compression β: a peak of magnitude `a` votes `a^β` (Melodia: 1; the default
    /// 0.5 lets loud low accompaniment partials outvote a melody less).
    pub magnitude_exponent: f32,
    /// Peaks more than this many dB below the frame's loudest are ignored (Melodia: 40).
    pub peak_range_db: f32,
    /// Half-width of the cos² voting kernel in cents (Melodia: one semitone).
    pub spread_cents: f32,
    /// A frame is voiced if its top salience reaches this fraction of the 95th percentile
    /// of all frames' top saliences, in (0, 1].
    pub voicing_threshold: f32,
    /// Salience maxima per frame the Viterbi path may choose from.
    pub candidates: usize,
    /// Viterbi cost (in nats of log-salience) of an f0 jump of one octave between frames.
    pub jump_penalty: f32,
    /// Half-width of a comb tooth in bins before the pitch tolerance is added.
    pub comb_half_width_bins: f32,
    /// Pitch uncertainty the comb allows for, in cents (widens teeth in proportion to `h`).
    pub comb_tolerance_cents: f32,
}

impl Default for Melody {
    /// Melodia's salience parameters with 25 harmonics and square-root compression.
    fn default() -> Self {
        Self {
            min_hz: 55.0,
            max_hz: 1760.0,
            cents_per_bin: 10.0,
            harmonics: 25,
            harmonic_weight: 0.8,
            magnitude_exponent: 0.5,
            peak_range_db: 40.0,
            spread_cents: 100.0,
            voicing_threshold: 0.2,
            candidates: 5,
            jump_penalty: 2.0,
            comb_half_width_bins: 2.0,
            comb_tolerance_cents: 20.0,
        }
    }
}

/// A spectral peak: refined frequency in Hz and its compressed vote `a^β`.
#[derive(Debug, Clone, Copy)]
struct Peak {
    hz: f32,
    vote: f32,
}

/// The cos² voting kernel `cos²(π/2 · δ / spread)`, `|δ| < spread` grid bins, tabulated at
/// 1/64 of a grid bin (under 0.2 cents at 10 cents per bin) so voting needs no trigonometry.
struct VotingKernel {
    /// Kernel values at offsets `j − reach − phase / 64` for `j` in `0..=2·reach`, one row
    /// of `2·reach + 1` values per phase.
    table: Vec<f32>,
    /// Whole grid bins the kernel reaches on either side.
    reach: usize,
}

impl VotingKernel {
    const PHASES: usize = 64;

    fn new(spread: f32) -> Self {
        let reach = spread.ceil() as usize;
        let width = 2 * reach + 1;
        let mut table = vec![0.0; Self::PHASES * width];
        for phase in 0..Self::PHASES {
            for j in 0..width {
                let delta = (j as f32 - reach as f32 - phase as f32 / Self::PHASES as f32) / spread;
                if delta.abs() < 1.0 {
                    table[phase * width + j] = (std::f32::consts::FRAC_PI_2 * delta).cos().powi(2);
                }
            }
        }
        Self { table, reach }
    }

    /// Adds `amount` times the kernel centred at fractional grid position `centre` to `row`.
    fn add(&self, row: &mut [f32], centre: f32, amount: f32) {
        let whole = centre.floor();
        let phase = (((centre - whole) * Self::PHASES as f32) as usize).min(Self::PHASES - 1);
        let width = 2 * self.reach + 1;
        let values = &self.table[phase * width..(phase + 1) * width];
        // Grid bin of values[j] is whole − reach + j.
        let first = whole as isize - self.reach as isize;
        let start = (-first).max(0) as usize;
        let end = (row.len() as isize - first).clamp(0, width as isize) as usize;
        for j in start..end {
            row[(first + j as isize) as usize] += amount * values[j];
        }
    }
}

impl Melody {
    /// The f0 of the melody in every frame of `magnitude` ([bins × frames]) in Hz, `None`
    /// where the frame is unvoiced.
    pub fn track(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<Vec<Option<f32>>, PrimitiveError> {
        self.validate()?;
        check_magnitude(self.name(), magnitude)?;
        if magnitude.nrows() < 3 {
            return Err(PrimitiveError::BadInput {
                primitive: self.name(),
                problem: format!(
                    "{} frequency bins are too few to find spectral peaks (need 3)",
                    magnitude.nrows()
                ),
            });
        }
        let salience = self.salience(magnitude, geometry);
        let voiced = self.voicing(&salience);
        let mut f0 = vec![None; voiced.len()];
        let mut start = 0;
        while start < voiced.len() {
            if !voiced[start] {
                start += 1;
                continue;
            }
            let end = (start..voiced.len())
                .find(|&t| !voiced[t])
                .unwrap_or(voiced.len());
            let path = self.viterbi(&salience, start..end);
            for (t, grid_position) in (start..end).zip(path) {
                f0[t] = Some(self.grid_hz(grid_position));
            }
            start = end;
        }
        Ok(f0)
    }

    fn validate(&self) -> Result<(), PrimitiveError> {
        let problem = if !(self.min_hz > 0.0 && self.max_hz > self.min_hz) {
            "needs 0 < min_hz < max_hz"
        } else if !(self.cents_per_bin > 0.0 && self.spread_cents >= self.cents_per_bin) {
            "needs 0 < cents_per_bin ≤ spread_cents"
        } else if self.harmonics == 0 || self.candidates == 0 {
            "needs at least one harmonic and one candidate"
        } else if !(self.harmonic_weight > 0.0 && self.harmonic_weight <= 1.0) {
            "needs harmonic_weight in (0, 1]"
        } else if !(self.magnitude_exponent > 0.0 && self.peak_range_db > 0.0) {
            "needs positive magnitude_exponent and peak_range_db"
        } else if !(self.voicing_threshold > 0.0 && self.voicing_threshold <= 1.0) {
            "needs voicing_threshold in (0, 1]"
        } else if !(self.jump_penalty >= 0.0
            && self.comb_half_width_bins >= 0.0
            && self.comb_tolerance_cents >= 0.0)
        {
            "needs non-negative jump_penalty, comb_half_width_bins and comb_tolerance_cents"
        } else {
            return Ok(());
        };
        Err(PrimitiveError::InvalidConfig(format!(
            "melody {problem} (got {self:?})"
        )))
    }

    /// Points of the log-frequency grid, `min_hz` to `max_hz` inclusive.
    fn grid_len(&self) -> usize {
        (1200.0 * (self.max_hz / self.min_hz).log2() / self.cents_per_bin).floor() as usize + 1
    }

    /// Frequency in Hz of a (fractional) grid position.
    fn grid_hz(&self, position: f32) -> f32 {
        self.min_hz * (position * self.cents_per_bin / 1200.0).exp2()
    }

    /// Harmonic-sum salience, [frames × grid].
    fn salience(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Array2<f32> {
        let grid = self.grid_len();
        let spread = self.spread_cents / self.cents_per_bin;
        let kernel = VotingKernel::new(spread);
        let harmonic_offsets: Vec<(f32, f32)> = (1..=self.harmonics)
            .map(|h| {
                let offset = 1200.0 * (h as f32).log2() / self.cents_per_bin;
                (offset, self.harmonic_weight.powi(h as i32 - 1))
            })
            .collect();
        let mut salience = Array2::zeros((magnitude.ncols(), grid));
        let mut peaks = Vec::new();
        for (frame, mut row) in magnitude
            .axis_iter(Axis(1))
            .zip(salience.axis_iter_mut(Axis(0)))
        {
            let row = row
                .as_slice_mut()
                .expect("a row of a standard-layout array is contiguous");
            self.spectral_peaks(frame, geometry, &mut peaks);
            for peak in &peaks {
                let position = 1200.0 * (peak.hz / self.min_hz).log2() / self.cents_per_bin;
                for &(offset, weight) in &harmonic_offsets {
                    let centre = position - offset;
                    if centre <= -spread {
                        break;
                    }
                    kernel.add(row, centre, peak.vote * weight);
                }
            }
        }
        salience
    }

    /// Fills `peaks` with the local maxima of `frame` within `peak_range_db` of its largest
    /// value, each refined by a parabola through the log magnitudes of it and its neighbours.
    fn spectral_peaks(
        &self,
        frame: ArrayView1<'_, f32>,
        geometry: &SpectrogramGeometry,
        peaks: &mut Vec<Peak>,
    ) {
        peaks.clear();
        let loudest = frame.iter().copied().fold(0.0, f32::max);
        if loudest <= 0.0 {
            return;
        }
        let floor = loudest * 10f32.powf(-self.peak_range_db / 20.0);
        let bin_hz = geometry.bin_hz(1) as f32;
        for k in 1..frame.len() - 1 {
            let (left, centre, right) = (frame[k - 1], frame[k], frame[k + 1]);
            if centre < floor || centre <= left || centre < right {
                continue;
            }
            let ln = |m: f32| m.max(floor * 1e-3).ln();
            let (a, b, c) = (ln(left), ln(centre), ln(right));
            let curvature = a - 2.0 * b + c;
            let shift = if curvature < 0.0 {
                (0.5 * (a - c) / curvature).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let amplitude = (b - 0.25 * (a - c) * shift).exp();
            peaks.push(Peak {
                hz: (k as f32 + shift) * bin_hz,
                vote: amplitude.powf(self.magnitude_exponent),
            });
        }
    }

    /// Voicing of every frame from the global rule on the frames' top saliences.
    fn voicing(&self, salience: &Array2<f32>) -> Vec<bool> {
        let tops: Vec<f32> = salience
            .axis_iter(Axis(0))
            .map(|row| row.iter().copied().fold(0.0, f32::max))
            .collect();
        let mut sorted = tops.clone();
        sorted.sort_unstable_by(f32::total_cmp);
        let reference = sorted[(sorted.len() - 1) * 95 / 100];
        let threshold = self.voicing_threshold * reference;
        tops.iter()
            .map(|&top| top > 0.0 && top >= threshold)
            .collect()
    }

    /// The Viterbi path (fractional grid positions) through `frames` of `salience`.
    fn viterbi(&self, salience: &Array2<f32>, frames: std::ops::Range<usize>) -> Vec<f32> {
        let candidates: Vec<Vec<(f32, f32)>> = frames
            .clone()
            .map(|t| self.candidates_of(salience.row(t)))
            .collect();
        let cost_per_bin = self.jump_penalty * self.cents_per_bin / 1200.0;
        let mut scores: Vec<f32> = candidates[0].iter().map(|&(_, s)| s).collect();
        let mut back: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
        back.push(vec![0; scores.len()]);
        for pair in candidates.windows(2) {
            let (previous, current) = (&pair[0], &pair[1]);
            let mut next_scores = Vec::with_capacity(current.len());
            let mut pointers = Vec::with_capacity(current.len());
            for &(position, emission) in current {
                let (best, score) = previous
                    .iter()
                    .zip(&scores)
                    .map(|(&(from, _), &score)| score - cost_per_bin * (position - from).abs())
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |acc, (i, s)| {
                            if s > acc.1 { (i, s) } else { acc }
                        },
                    );
                next_scores.push(score + emission);
                pointers.push(best);
            }
            scores = next_scores;
            back.push(pointers);
        }
        let mut state = scores
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, &s)| {
                    if s > acc.1 { (i, s) } else { acc }
                },
            )
            .0;
        let mut path = vec![0.0; candidates.len()];
        for t in (0..candidates.len()).rev() {
            path[t] = candidates[t][state].0;
            state = back[t][state];
        }
        path
    }

    /// The strongest salience maxima of one voiced frame as (refined grid position,
    /// `ln(S / S_max)`), best first; never empty for a frame with positive salience.
    fn candidates_of(&self, row: ArrayView1<'_, f32>) -> Vec<(f32, f32)> {
        let at = |i: isize| {
            if i < 0 || i as usize >= row.len() {
                0.0
            } else {
                row[i as usize]
            }
        };
        let mut maxima: Vec<(f32, f32)> = (0..row.len() as isize)
            .filter(|&b| at(b) > 0.0 && at(b) > at(b - 1) && at(b) >= at(b + 1))
            .map(|b| {
                let (a, c, e) = (at(b - 1), at(b), at(b + 1));
                let curvature = a - 2.0 * c + e;
                let shift = if curvature < 0.0 {
                    (0.5 * (a - e) / curvature).clamp(-0.5, 0.5)
                } else {
                    0.0
                };
                (b as f32 + shift, c)
            })
            .collect();
        maxima.sort_unstable_by(|x, y| y.1.total_cmp(&x.1));
        maxima.truncate(self.candidates);
        let top = maxima.first().map_or(1.0, |m| m.1);
        maxima.iter().map(|&(p, s)| (p, (s / top).ln())).collect()
    }

    /// Binary harmonic-comb foreground mask of the tracked `f0` ([bins × frames]).
    fn comb(&self, f0: &[Option<f32>], bins: usize, geometry: &SpectrogramGeometry) -> Array2<f32> {
        let mut mask = Array2::zeros((bins, f0.len()));
        let bin_hz = geometry.bin_hz(1) as f32;
        let nyquist = geometry.sample_rate as f32 / 2.0;
        let tolerance = (self.comb_tolerance_cents / 1200.0).exp2() - 1.0;
        for (mut column, f0) in mask.axis_iter_mut(Axis(1)).zip(f0) {
            let Some(f0) = *f0 else { continue };
            let mut harmonic = f0;
            while harmonic < nyquist {
                let centre = harmonic / bin_hz;
                let half_width = self.comb_half_width_bins + harmonic * tolerance / bin_hz;
                let low = (centre - half_width).ceil().max(0.0) as usize;
                let high = ((centre + half_width).floor() as usize).min(bins - 1);
                for k in low..=high {
                    column[k] = 1.0;
                }
                harmonic += f0;
            }
        }
        mask
    }
}

impl Primitive for Melody {
    fn name(&self) -> &'static str {
        "melody"
    }

    fn separate(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<ForegroundBackground, PrimitiveError> {
        let f0 = self.track(magnitude, geometry)?;
        let foreground = self.comb(&f0, magnitude.nrows(), geometry) * magnitude;
        let background = &magnitude - &foreground;
        Ok(ForegroundBackground {
            foreground,
            background,
        })
    }
}
