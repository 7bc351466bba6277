//! Harmonic–percussive source separation by median filtering (Fitzgerald 2010; Driedger et al.
//! 2014 for the margin), numerically equal to `librosa.decompose.hpss` on a magnitude input:
//! harmonic sounds are smooth along time, so a median across time keeps them; percussive
//! sounds are smooth along frequency, so a median across frequency keeps them. Soft masks
//! from the two filtered spectrograms split the input.

use ndarray::{Array2, ArrayView2, Zip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::median::sliding_median;
use super::validate::check_magnitude;
use super::{ForegroundBackground, Primitive, PrimitiveError, SpectrogramGeometry};

/// HPSS settings, with librosa's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hpss {
    /// Median window lengths `(harmonic, percussive)`: frames for the filter across time,
    /// bins for the filter across frequency (librosa's `kernel_size`, default 31 each).
    pub kernel_size: (usize, usize),
    /// Exponent of the soft masks (librosa's `power`); larger is harder, `f32::INFINITY` gives
    /// binary masks.
    pub power: f32,
    /// `(harmonic, percussive)` margins ≥ 1 (librosa's `margin`): a bin counts as harmonic
    /// only where the harmonic estimate exceeds `margin.0` times the percussive one (and vice
    /// versa); with margins above 1 part of the energy goes to neither component.
    pub margin: (f32, f32),
}

impl Default for Hpss {
    /// librosa's defaults: 31 × 31 kernels, power 2, margins 1 (the two parts sum to the input).
    fn default() -> Self {
        Self {
            kernel_size: (31, 31),
            power: 2.0,
            margin: (1.0, 1.0),
        }
    }
}

impl Hpss {
    /// Rejects kernel sizes of 0, a non-positive power and margins below 1, as librosa does.
    pub fn validate(&self) -> Result<(), PrimitiveError> {
        if self.kernel_size.0 == 0 || self.kernel_size.1 == 0 {
            return Err(PrimitiveError::InvalidConfig(format!(
                "hpss kernel sizes must be positive, got {:?}",
                self.kernel_size
            )));
        }
        if self.power.is_nan() || self.power <= 0.0 {
            return Err(PrimitiveError::InvalidConfig(format!(
                "hpss power must be positive, got {}",
                self.power
            )));
        }
        let margins_valid = |m: f32| m.is_finite() && m >= 1.0;
        if !margins_valid(self.margin.0) || !margins_valid(self.margin.1) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "hpss margins must be finite and at least 1, got {:?}",
                self.margin
            )));
        }
        Ok(())
    }

    /// The two median-filtered spectrograms `(harmonic, percussive)`: `magnitude` filtered
    /// across time (per bin) and across frequency (per frame), scipy's reflect edges.
    pub fn median_filtered(&self, magnitude: ArrayView2<'_, f32>) -> (Array2<f32>, Array2<f32>) {
        let harmonic = filter_rows(magnitude, self.kernel_size.0);
        let percussive = filter_rows(magnitude.t(), self.kernel_size.1).reversed_axes();
        (harmonic, percussive.as_standard_layout().into_owned())
    }
}

/// Median-filters every row of `input` with a window of `size`, rows in parallel; the result
/// is in standard layout with `input`'s shape.
fn filter_rows(input: ArrayView2<'_, f32>, size: usize) -> Array2<f32> {
    let (rows, cols) = input.dim();
    let input = input.as_standard_layout();
    let input = input
        .as_slice()
        .expect("a standard-layout array is one contiguous slice");
    let mut output = vec![0.0; rows * cols];
    output
        .par_chunks_mut(cols)
        .zip(input.par_chunks(cols))
        .for_each_init(Vec::new, |window, (out, row)| {
            sliding_median(row, size, out, window);
        });
    Array2::from_shape_vec((rows, cols), output).expect("rows × cols values")
}

/// librosa's `util.softmask(x, reference, power, split_zeros)`: `x^p / (x^p + reference^p)`,
/// computed relative to `max(x, reference)` so large powers cannot overflow; where both are
/// (nearly) zero the mask is ½ when the margins are 1 (`split_zeros`), else 0.
fn softmask(x: f32, reference: f32, power: f32, split_zeros: bool) -> f32 {
    if power.is_infinite() {
        return if x > reference { 1.0 } else { 0.0 };
    }
    let z = x.max(reference);
    if z < f32::MIN_POSITIVE {
        return if split_zeros { 0.5 } else { 0.0 };
    }
    // Squaring (the default power) is far cheaper than powf.
    let raise = |v: f32| if power == 2.0 { v * v } else { v.powf(power) };
    let own = raise(x / z);
    own / (own + raise(reference / z))
}

impl Primitive for Hpss {
    fn name(&self) -> &'static str {
        "hpss"
    }

    /// Foreground = percussive, background = harmonic.
    fn separate(
        &self,
        magnitude: ArrayView2<'_, f32>,
        _geometry: &SpectrogramGeometry,
    ) -> Result<ForegroundBackground, PrimitiveError> {
        self.validate()?;
        check_magnitude(self.name(), magnitude)?;
        let (mut harmonic, mut percussive) = self.median_filtered(magnitude);
        let (margin_harmonic, margin_percussive) = self.margin;
        let split_zeros = margin_harmonic == 1.0 && margin_percussive == 1.0;
        let power = self.power;
        Zip::from(&mut harmonic)
            .and(&mut percussive)
            .and(magnitude)
            .for_each(|h, p, &x| {
                let mask_h = softmask(*h, *p * margin_harmonic, power, split_zeros);
                let mask_p = softmask(*p, *h * margin_percussive, power, split_zeros);
                *h = x * mask_h;
                *p = x * mask_p;
            });
        Ok(ForegroundBackground {
            foreground: percussive,
            background: harmonic,
        })
    }
}
