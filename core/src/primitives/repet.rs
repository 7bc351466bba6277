//! REPET, the REpeating Pattern Extraction Technique (Rafii & Pardo 2013): music often has a
//! background that repeats with one period (the accompaniment) and a foreground that does not
//! (the voice). The period is found from the beat spectrum, the repeating background is
//! modelled as the element-wise median of the period-long segments, and the mixture is split
//! by the mask `min(model, X) / X`.
//!
//! Follows the reference MATLAB code and nussl's `Repet`:
//! * **Beat spectrum**: for every bin, the unbiased autocorrelation over time of the power
//!   spectrogram `|X|²` (computed by FFT with zero-padding to at least twice the length, then
//!   lag `l` divided by the `T − l` products it sums), averaged over bins.
//! * **Period**: the lag with the highest beat spectrum in the period range (nussl's default
//!   `find_repeating_period_simple`; the range keeps the peak away from lag 0, and the
//!   unbiased normalisation keeps multiples of the period from dominating).
//! * **Model**: for each position within the period, the median over all segments that reach
//!   it (the last segment may be partial, so its positions have one more segment than the
//!   rest, as in the MATLAB code); the median of an even count averages the middle pair.

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::median::median_in_place;
use super::repeating::{check_cutoff, split_by_repeating_model};
use super::validate::check_magnitude;
use super::{ForegroundBackground, Primitive, PrimitiveError, SpectrogramGeometry};

/// REPET settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Repet {
    /// `(shortest, longest)` repeating period searched, in seconds; the longest is further
    /// limited to a third of the signal so at least three repetitions feed the median.
    pub period_range_secs: (f64, f64),
    /// Bins below this frequency (Hz) go entirely to the background.
    pub cutoff_hz: f64,
}

impl Default for Repet {
    /// The published defaults: periods of 0.8–8 s, 100 Hz cutoff.
    fn default() -> Self {
        Self {
            period_range_secs: (0.8, 8.0),
            cutoff_hz: 100.0,
        }
    }
}

impl Repet {
    /// Rejects an empty or non-positive period range and a negative cutoff.
    pub fn validate(&self) -> Result<(), PrimitiveError> {
        let (shortest, longest) = self.period_range_secs;
        if !(shortest > 0.0 && shortest <= longest && longest.is_finite()) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "repet period range must satisfy 0 < shortest ≤ longest < ∞, got {:?} s",
                self.period_range_secs
            )));
        }
        check_cutoff("repet", self.cutoff_hz)
    }

    /// The searched period range in frames, `(round(shortest · rate), min(floor(longest ·
    /// rate), frames / 3))`, or why a `frames`-long input is too short for it.
    pub fn period_range_frames(
        &self,
        frames: usize,
        geometry: &SpectrogramGeometry,
    ) -> Result<(usize, usize), PrimitiveError> {
        let rate = geometry.frame_rate();
        let shortest = ((self.period_range_secs.0 * rate).round() as usize).max(1);
        let longest = ((self.period_range_secs.1 * rate).floor() as usize).min(frames / 3);
        if longest < shortest {
            return Err(PrimitiveError::BadInput {
                primitive: self.name(),
                problem: format!(
                    "{frames} frames ({:.2} s) are too short: three repetitions of the shortest \
                     period ({} s) need {:.2} s",
                    frames as f64 / rate,
                    self.period_range_secs.0,
                    3.0 * shortest as f64 / rate
                ),
            });
        }
        Ok((shortest, longest))
    }

    /// The repeating period in frames of `magnitude` ([bins × frames]).
    pub fn repeating_period(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<usize, PrimitiveError> {
        let (shortest, longest) = self.period_range_frames(magnitude.ncols(), geometry)?;
        let beat = beat_spectrum(magnitude);
        let best = (shortest..=longest)
            .max_by(|&a, &b| beat[a].total_cmp(&beat[b]).then(b.cmp(&a)))
            .expect("the range is not empty");
        Ok(best)
    }
}

/// The beat spectrum of `magnitude` ([bins × frames]): for each lag `0..frames`, the mean over
/// bins of the unbiased autocorrelation of the power `|X|²` over time.
pub fn beat_spectrum(magnitude: ArrayView2<'_, f32>) -> Array1<f32> {
    let frames = magnitude.ncols();
    // Zero-padding to ≥ 2T turns the FFT's circular correlation into the linear one; an even
    // smooth size keeps realfft fast.
    let fft_len = (2 * frames).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(fft_len);
    let inverse = planner.plan_fft_inverse(fft_len);
    let sum = magnitude
        .rows()
        .into_iter()
        .collect::<Vec<_>>()
        .into_par_iter()
        .fold(
            || AutocorrelationScratch::new(&forward, &inverse, frames),
            |mut scratch, row| {
                scratch.accumulate(row.iter().map(|&x| x * x), &forward, &inverse);
                scratch
            },
        )
        .map(|scratch| scratch.sum)
        .reduce(
            || vec![0.0f64; frames],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let bins = magnitude.nrows() as f64;
    // realfft is unnormalised: a forward–inverse pair scales by fft_len.
    let scale = 1.0 / (bins * fft_len as f64);
    Array1::from_iter(
        sum.iter()
            .enumerate()
            .map(|(lag, &s)| (s * scale / (frames - lag) as f64) as f32),
    )
}

/// One worker's buffers for the FFT autocorrelations and its running sum over bins.
struct AutocorrelationScratch {
    time: Vec<f32>,
    spectrum: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    sum: Vec<f64>,
}

impl AutocorrelationScratch {
    fn new(
        forward: &Arc<dyn RealToComplex<f32>>,
        inverse: &Arc<dyn ComplexToReal<f32>>,
        frames: usize,
    ) -> Self {
        Self {
            time: forward.make_input_vec(),
            spectrum: forward.make_output_vec(),
            fft_scratch: vec![
                Complex32::default();
                forward.get_scratch_len().max(inverse.get_scratch_len())
            ],
            sum: vec![0.0; frames],
        }
    }

    /// Adds the (unnormalised) autocorrelation of `signal` at lags `0..frames` to the sum.
    fn accumulate(
        &mut self,
        signal: impl Iterator<Item = f32>,
        forward: &Arc<dyn RealToComplex<f32>>,
        inverse: &Arc<dyn ComplexToReal<f32>>,
    ) {
        self.time.fill(0.0);
        self.time
            .iter_mut()
            .zip(signal)
            .for_each(|(slot, x)| *slot = x);
        forward
            .process_with_scratch(&mut self.time, &mut self.spectrum, &mut self.fft_scratch)
            .expect("buffers come from the plan");
        for value in &mut self.spectrum {
            *value = Complex32::new(value.norm_sqr(), 0.0);
        }
        inverse
            .process_with_scratch(&mut self.spectrum, &mut self.time, &mut self.fft_scratch)
            .expect("buffers come from the plan; the power spectrum is real at DC and Nyquist");
        self.sum
            .iter_mut()
            .zip(&self.time)
            .for_each(|(acc, &x)| *acc += f64::from(x));
    }
}

/// The repeating model: `magnitude`'s columns replaced by the median, per bin, of the columns
/// at the same position in every `period`-long segment.
fn repeating_model(magnitude: ArrayView2<'_, f32>, period: usize) -> Array2<f32> {
    let (bins, frames) = magnitude.dim();
    let mut segment = Array2::<f32>::zeros((bins, period));
    let mut values = Vec::with_capacity(frames.div_ceil(period));
    for offset in 0..period.min(frames) {
        for bin in 0..bins {
            let row = magnitude.row(bin);
            values.clear();
            values.extend((offset..frames).step_by(period).map(|t| row[t]));
            segment[[bin, offset]] = median_in_place(&mut values);
        }
    }
    Array2::from_shape_fn((bins, frames), |(bin, t)| segment[[bin, t % period]])
}

impl Primitive for Repet {
    fn name(&self) -> &'static str {
        "repet"
    }

    /// Foreground = the non-repeating part, background = the repeating part.
    fn separate(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<ForegroundBackground, PrimitiveError> {
        self.validate()?;
        check_magnitude(self.name(), magnitude)?;
        let period = self.repeating_period(magnitude, geometry)?;
        let model = repeating_model(magnitude, period);
        Ok(split_by_repeating_model(
            magnitude,
            model.view(),
            geometry,
            self.cutoff_hz,
        ))
    }
}
