//! FT2D: repeating-background / foreground separation with the 2D Fourier transform of the
//! magnitude spectrogram (Seetharaman, Pishdadian & Pardo, "Music/voice separation using the
//! 2D Fourier transform", WASPAA 2017), the "common fate" primitives FT2D-M and FT2D-R of
//! PaC-HuBERT.
//!
//! A pattern that repeats in time puts its energy of the 2D spectrum (scale × rate) into
//! narrow peaks along the rate (temporal modulation) axis; a non-repeating foreground spreads
//! out. So: 2D DFT of the magnitude, keep the peaks found along the rate axis in a
//! `1 × neighbourhood` window, invert → background magnitude; `background = clamp(estimate,
//! 0, X)` and `foreground = X − background` (the soft mask of nussl's `min(est, X) / X`).
//!
//! Choices, documented because they differ from nussl's reference:
//! - **Symmetry.** The 2D spectrum of a real spectrogram is Hermitian, `S(−k) = S*(k)`, so
//!   the peak mask must satisfy `w(−k) = w(k)` for the inverse to be real. nussl calls
//!   `np.maximum(m, fliplr(m), flipud(m))`, whose third argument is the *output* buffer (the
//!   up-down flip is overwritten, not used), and a single-axis flip of an fftshifted plane
//!   is not the point reflection `k → −k` anyway; it then hides the imaginary residue with
//!   `abs(ifft2)`. Here only the half plane `k_rate ∈ [0, T/2]` is stored (real FFT along
//!   time, complex FFT along frequency): the neighbourhood reads the other half through
//!   `|S(k_f, −j)| = |S(−k_f, j)|` and wraps periodically, the mask of the two self-conjugate
//!   columns (`k_rate = 0` and `T/2`) is made symmetric explicitly, and the inverse real FFT
//!   imposes the reflection on everything else, so the background is exactly real.
//! - **FT2D-M** ([`PeakPicker::Median`]): the paper's binary rule (a local maximum whose
//!   height above its neighbourhood exceeds the standard deviation of the whole 2D magnitude)
//!   with the neighbourhood *median* as the baseline instead of its minimum, so one low
//!   neighbour cannot make a bump a peak.
//! - **FT2D-R** ([`PeakPicker::StdDev`]): the soft local-standard-deviation rule of
//!   Seetharaman's thesis (2019, ch. 2; nussl's `local_std`): a local maximum gets the weight
//!   `(max − mean) / std` of its neighbourhood, divided by the largest such weight in the
//!   plane; other points get 0.
//! - **High pass.** Bins below `high_pass_hz` (100 Hz, nussl's default) go to the background:
//!   a lead voice or melody has nothing there.
//! - **Segments.** Long spectrograms are cut into equal segments of at least
//!   `segment_seconds` (shorter than twice that) processed independently, which bounds the
//!   memory (one segment's 2D spectrum) and keeps the periodicity the transform sees local.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
use realfft::RealFftPlanner;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

use super::validate::check_magnitude;
use super::{ForegroundBackground, Primitive, PrimitiveError, SpectrogramGeometry};

/// How peaks of the 2D magnitude spectrum are told from the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeakPicker {
    /// FT2D-M: binary; a local maximum exceeding the neighbourhood median by more than the
    /// standard deviation of the whole 2D magnitude.
    Median,
    /// FT2D-R: soft; a local maximum weighted by its height above the neighbourhood mean in
    /// units of the neighbourhood standard deviation.
    StdDev,
}

/// The FT2D primitive and its parameters (serde-readable; missing fields take FT2D-M's
/// defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ft2d {
    /// The peak criterion: FT2D-M or FT2D-R.
    pub peak_picker: PeakPicker,
    /// Width of the peak-picking window along the rate (temporal modulation) axis, in 2D
    /// bins; the window is one bin tall along the scale axis (nussl's `(1, 25)`). Odd, ≥ 3.
    pub neighbourhood: usize,
    /// Bins below this frequency in Hz are background (non-negative).
    pub high_pass_hz: f32,
    /// Minimum length of an independently processed segment in seconds (segments are at most
    /// twice as long); must span at least `neighbourhood` frames.
    pub segment_seconds: f32,
}

impl Default for Ft2d {
    /// FT2D-M.
    fn default() -> Self {
        Self::median()
    }
}

impl Ft2d {
    /// FT2D-M: binary median-referenced peaks in a (1, 25) window, 100 Hz high pass, 10 s
    /// segments.
    pub fn median() -> Self {
        Self {
            peak_picker: PeakPicker::Median,
            neighbourhood: 25,
            high_pass_hz: 100.0,
            segment_seconds: 10.0,
        }
    }

    /// FT2D-R: soft local-standard-deviation peaks, otherwise as [`Ft2d::median`].
    pub fn std_dev() -> Self {
        Self {
            peak_picker: PeakPicker::StdDev,
            ..Self::median()
        }
    }

    /// Frames per segment for `geometry`, or why the parameters are unusable.
    fn segment_frames(&self, geometry: &SpectrogramGeometry) -> Result<usize, PrimitiveError> {
        if self.neighbourhood < 3 || self.neighbourhood.is_multiple_of(2) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "ft2d neighbourhood must be odd and at least 3, got {}",
                self.neighbourhood
            )));
        }
        if !(self.high_pass_hz >= 0.0 && self.high_pass_hz.is_finite()) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "ft2d high_pass_hz must be finite and non-negative, got {}",
                self.high_pass_hz
            )));
        }
        let frames = f64::from(self.segment_seconds) * geometry.frame_rate();
        if !(frames.is_finite() && frames >= self.neighbourhood as f64) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "ft2d segment_seconds = {} s spans {frames:.1} frames, fewer than the \
                 neighbourhood of {}",
                self.segment_seconds, self.neighbourhood
            )));
        }
        Ok(frames.round() as usize)
    }

    /// Background magnitude estimate of one segment `x` (the peak-only inverse 2D DFT,
    /// clamped to `[0, x]`), written into `background`.
    fn segment_background(
        &self,
        x: ArrayView2<'_, f32>,
        mut background: ArrayViewMut2<'_, f32>,
        plans: &mut Plans,
    ) -> Result<(), PrimitiveError> {
        let (bins, frames) = x.dim();
        let rates = frames / 2 + 1;
        let forward_rows = plans.real.plan_fft_forward(frames);
        let inverse_rows = plans.real.plan_fft_inverse(frames);
        let forward_cols = plans.complex.plan_fft_forward(bins);
        let inverse_cols = plans.complex.plan_fft_inverse(bins);
        let fft_error = |e: realfft::FftError| PrimitiveError::BadInput {
            primitive: self.name(),
            problem: format!("2D FFT failed: {e}"),
        };

        // Half-plane spectrum, rate-major: `spectrum[rate * bins + scale]`, so each column
        // (fixed rate) is contiguous for the frequency-axis FFT.
        let mut spectrum = vec![Complex32::default(); rates * bins];
        let mut row = forward_rows.make_input_vec();
        let mut row_spectrum = forward_rows.make_output_vec();
        for (bin, x_row) in x.axis_iter(Axis(0)).enumerate() {
            row.iter_mut().zip(x_row).for_each(|(r, &v)| *r = v);
            forward_rows
                .process(&mut row, &mut row_spectrum)
                .map_err(fft_error)?;
            for (rate, &value) in row_spectrum.iter().enumerate() {
                spectrum[rate * bins + bin] = value;
            }
        }
        forward_cols.process(&mut spectrum);

        let weights = match self.peak_picker {
            PeakPicker::Median => median_peaks(&spectrum, bins, frames, self.neighbourhood),
            PeakPicker::StdDev => std_dev_peaks(&spectrum, bins, frames, self.neighbourhood),
        };
        spectrum
            .iter_mut()
            .zip(&weights)
            .for_each(|(s, &w)| *s *= w);

        inverse_cols.process(&mut spectrum);
        let scale = 1.0 / (bins * frames) as f32;
        let mut row_spectrum = inverse_rows.make_input_vec();
        let mut row = inverse_rows.make_output_vec();
        for (bin, (x_row, mut bg_row)) in x
            .axis_iter(Axis(0))
            .zip(background.axis_iter_mut(Axis(0)))
            .enumerate()
        {
            for (rate, value) in row_spectrum.iter_mut().enumerate() {
                *value = spectrum[rate * bins + bin];
            }
            // The self-conjugate columns are real for a Hermitian mask; drop the rounding
            // residue the inverse real FFT would reject.
            row_spectrum[0].im = 0.0;
            if frames.is_multiple_of(2) {
                row_spectrum[rates - 1].im = 0.0;
            }
            inverse_rows
                .process(&mut row_spectrum, &mut row)
                .map_err(fft_error)?;
            for ((bg, &r), &v) in bg_row.iter_mut().zip(&row).zip(x_row) {
                *bg = (r * scale).clamp(0.0, v);
            }
        }
        Ok(())
    }
}

/// FFT plans shared by the segments of one call.
struct Plans {
    real: RealFftPlanner<f32>,
    complex: FftPlanner<f32>,
}

/// The 2D magnitudes of one row (fixed scale bin `scale`) of the full periodic plane at rates
/// `−radius..rates + radius` (wrapping modulo `frames`), read from the half-plane `spectrum`
/// through `|S(k, −j)| = |S(−k, j)|`, so every window is a plain slice.
fn padded_row(
    spectrum: &[Complex32],
    bins: usize,
    frames: usize,
    scale: usize,
    radius: usize,
) -> Vec<f32> {
    let mirrored = (bins - scale) % bins;
    let rates = frames / 2 + 1;
    (0..rates + 2 * radius)
        .map(|padded| {
            let rate = (padded + frames * radius - radius) % frames;
            if rate <= frames / 2 {
                spectrum[rate * bins + scale].norm()
            } else {
                spectrum[(frames - rate) * bins + mirrored].norm()
            }
        })
        .collect()
}

/// Calls `weigh(centre, window)` for every point of the stored half plane with the
/// `neighbourhood` magnitudes around it along the rate axis (wrapping periodically), and
/// returns the weights in the spectrum's layout, symmetrised on the self-conjugate columns.
fn weigh_half_plane(
    spectrum: &[Complex32],
    bins: usize,
    frames: usize,
    neighbourhood: usize,
    mut weigh: impl FnMut(f32, &[f32]) -> f32,
) -> Vec<f32> {
    let rates = frames / 2 + 1;
    let radius = neighbourhood / 2;
    let mut weights = vec![0.0; rates * bins];
    for scale in 0..bins {
        let row = padded_row(spectrum, bins, frames, scale, radius);
        for (rate, window) in row.windows(neighbourhood).take(rates).enumerate() {
            weights[rate * bins + scale] = weigh(window[radius], window);
        }
    }
    let mut self_conjugate = vec![0];
    if frames.is_multiple_of(2) {
        self_conjugate.push(rates - 1);
    }
    for rate in self_conjugate {
        let column = &mut weights[rate * bins..(rate + 1) * bins];
        for scale in 1..bins {
            let both = column[scale].max(column[bins - scale]);
            column[scale] = both;
            column[bins - scale] = both;
        }
    }
    weights
}

/// Standard deviation of all magnitudes of the full plane (the half-plane columns that stand
/// for two full-plane columns count twice).
fn full_plane_std(spectrum: &[Complex32], bins: usize, frames: usize) -> f32 {
    let (mut count, mut sum, mut sum_sq) = (0.0f64, 0.0f64, 0.0f64);
    for (rate, column) in spectrum.chunks_exact(bins).enumerate() {
        let copies = if rate == 0 || 2 * rate == frames {
            1.0
        } else {
            2.0
        };
        for value in column {
            let m = f64::from(value.norm());
            count += copies;
            sum += copies * m;
            sum_sq += copies * m * m;
        }
    }
    let mean = sum / count;
    (sum_sq / count - mean * mean).max(0.0).sqrt() as f32
}

/// FT2D-M weights: 1 at a local maximum exceeding its window's median by more than the
/// full-plane standard deviation, else 0.
fn median_peaks(spectrum: &[Complex32], bins: usize, frames: usize, size: usize) -> Vec<f32> {
    let threshold = full_plane_std(spectrum, bins, frames);
    let mut sorted = vec![0.0; size];
    weigh_half_plane(spectrum, bins, frames, size, |centre, window| {
        let local_max = window.iter().copied().fold(0.0, f32::max);
        if centre < local_max {
            return 0.0;
        }
        sorted.copy_from_slice(window);
        let (_, median, _) = sorted.select_nth_unstable_by(size / 2, f32::total_cmp);
        if centre - *median > threshold {
            1.0
        } else {
            0.0
        }
    })
}

/// FT2D-R weights: `(max − mean) / std` of the window at a local maximum (0 elsewhere),
/// divided by the plane's largest such value.
fn std_dev_peaks(spectrum: &[Complex32], bins: usize, frames: usize, size: usize) -> Vec<f32> {
    let mut weights = weigh_half_plane(spectrum, bins, frames, size, |centre, window| {
        let local_max = window.iter().copied().fold(0.0, f32::max);
        if centre < local_max || local_max == 0.0 {
            return 0.0;
        }
        let n = window.len() as f32;
        let mean = window.iter().sum::<f32>() / n;
        let variance = window.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        let std = variance.sqrt();
        // A flat non-zero window has no peak in it.
        if std <= f32::EPSILON * local_max {
            0.0
        } else {
            (local_max - mean) / std
        }
    });
    let largest = weights.iter().copied().fold(0.0, f32::max);
    if largest > 0.0 {
        weights.iter_mut().for_each(|w| *w /= largest);
    }
    weights
}

impl Primitive for Ft2d {
    fn name(&self) -> &'static str {
        match self.peak_picker {
            PeakPicker::Median => "ft2d_m",
            PeakPicker::StdDev => "ft2d_r",
        }
    }

    fn separate(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<ForegroundBackground, PrimitiveError> {
        check_magnitude(self.name(), magnitude)?;
        let segment_frames = self.segment_frames(geometry)?;
        let (bins, frames) = magnitude.dim();
        if frames < self.neighbourhood {
            return Err(PrimitiveError::BadInput {
                primitive: self.name(),
                problem: format!(
                    "{frames} frames are fewer than the peak-picking neighbourhood of {}",
                    self.neighbourhood
                ),
            });
        }
        let segments = (frames / segment_frames).max(1);

        let mut plans = Plans {
            real: RealFftPlanner::new(),
            complex: FftPlanner::new(),
        };
        let mut background = Array2::zeros((bins, frames));
        for segment in 0..segments {
            let range = s![
                ..,
                segment * frames / segments..(segment + 1) * frames / segments
            ];
            self.segment_background(
                magnitude.slice(range),
                background.slice_mut(range),
                &mut plans,
            )?;
        }

        let high_passed = (0..bins)
            .take_while(|&bin| geometry.bin_hz(bin) < f64::from(self.high_pass_hz))
            .count();
        background
            .slice_mut(s![..high_passed, ..])
            .assign(&magnitude.slice(s![..high_passed, ..]));
        let foreground = &magnitude - &background;
        Ok(ForegroundBackground {
            foreground,
            background,
        })
    }
}
