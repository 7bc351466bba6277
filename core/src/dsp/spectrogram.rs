//! Scalings of a complex STFT into magnitude, power and decibel spectrograms.
//!
//! Every function has the semantics of its librosa namesake (`librosa.power_to_db`,
//! `librosa.amplitude_to_db`, `librosa.db_to_power`, ...), so features computed here match
//! features computed in Python element for element. The functions work on arrays of any
//! dimension; spectrograms are `[frequency bins × frames]` by convention.

use ndarray::parallel::prelude::*;
use ndarray::{Array, ArrayView, ArrayViewMut, Dimension};
use realfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

use super::DspError;

/// The reference value that maps to 0 dB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbReference {
    /// A fixed reference (librosa's `ref=<value>`); its absolute value is used.
    Value(f32),
    /// The largest value of the input (librosa's `ref=np.max`), so the loudest bin is 0 dB.
    Max,
}

/// How power values become decibels: librosa's `ref`, `amin` and `top_db` arguments together,
/// so a feature configuration can name its dB scaling in one serialisable value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DbScaling {
    /// Value that maps to 0 dB.
    pub reference: DbReference,
    /// Floor applied to the input and the reference before the logarithm (avoids `log(0)`);
    /// must be positive.
    pub amin: f32,
    /// If set, values more than `top_db` below the output's maximum are raised to
    /// `max - top_db` (limits the dynamic range); must be non-negative.
    pub top_db: Option<f32>,
}

impl DbScaling {
    /// Rejects a non-positive `amin` or a negative `top_db`, so a feature pipeline can
    /// refuse a bad configuration when it is built rather than on its first signal.
    pub fn validate(&self) -> Result<(), DspError> {
        check_db_arguments(self.amin, self.top_db)
    }
}

impl Default for DbScaling {
    /// librosa's `power_to_db` defaults: `ref=1.0, amin=1e-10, top_db=80.0`.
    fn default() -> Self {
        Self {
            reference: DbReference::Value(1.0),
            amin: 1e-10,
            top_db: Some(80.0),
        }
    }
}

/// `|X|` of every element of a complex spectrogram.
pub fn magnitude<D: Dimension>(stft: ArrayView<'_, Complex32, D>) -> Array<f32, D> {
    stft.mapv(|x| x.norm())
}

/// `|X|^exponent` of every element (librosa's `np.abs(S) ** power`). The common exponents are
/// computed without `powf`: 2 gives `re² + im²`, 1 the magnitude.
pub fn power<D: Dimension>(stft: ArrayView<'_, Complex32, D>, exponent: f32) -> Array<f32, D> {
    if exponent == 2.0 {
        stft.mapv(|x| x.norm_sqr())
    } else if exponent == 1.0 {
        magnitude(stft)
    } else {
        stft.mapv(|x| x.norm().powf(exponent))
    }
}

/// Power to decibels: `10·log10(max(amin, S)) − 10·log10(max(amin, ref))`, then clipped to
/// `max − top_db` when `top_db` is set — `librosa.power_to_db(S, ref=.., amin=.., top_db=..)`.
pub fn power_to_db<D: Dimension>(
    power: ArrayView<'_, f32, D>,
    reference: DbReference,
    amin: f32,
    top_db: Option<f32>,
) -> Result<Array<f32, D>, DspError> {
    let mut db = power.to_owned();
    power_to_db_inplace(db.view_mut(), reference, amin, top_db)?;
    Ok(db)
}

/// [`power_to_db`] overwriting its input, for pipelines that must not allocate.
pub fn power_to_db_inplace<D: Dimension>(
    mut values: ArrayViewMut<'_, f32, D>,
    reference: DbReference,
    amin: f32,
    top_db: Option<f32>,
) -> Result<(), DspError> {
    check_db_arguments(amin, top_db)?;
    // The logarithm dominates a log-mel pipeline's time, so every pass runs on rayon's threads.
    // dB is a non-decreasing function of power, so the loudest output is the dB of the loudest
    // input: one max over the input serves both `ref = max` and `top_db`.
    let max_power = (reference == DbReference::Max || top_db.is_some()).then(|| {
        values
            .view()
            .into_par_iter()
            .copied()
            .reduce(|| f32::NEG_INFINITY, f32::max)
    });
    let reference_value = match reference {
        DbReference::Value(v) => v.abs(),
        DbReference::Max => max_power.expect("the max is taken whenever ref = max"),
    };
    let offset = decibels(amin.max(reference_value));
    let to_db = |v: f32| decibels(amin.max(v)) - offset;
    values.par_mapv_inplace(to_db);
    if let (Some(top), Some(max)) = (top_db, max_power) {
        let floor = to_db(max) - top;
        values.par_mapv_inplace(|v| v.max(floor));
    }
    Ok(())
}

/// Amplitude to decibels: `power_to_db(|S|², ref², amin², top_db)` —
/// `librosa.amplitude_to_db(S, ref=.., amin=.., top_db=..)`.
pub fn amplitude_to_db<D: Dimension>(
    amplitude: ArrayView<'_, f32, D>,
    reference: DbReference,
    amin: f32,
    top_db: Option<f32>,
) -> Result<Array<f32, D>, DspError> {
    check_db_arguments(amin, top_db)?;
    let mut power = amplitude.mapv(|v| v * v);
    // librosa takes "max" on the magnitudes, then squares it; squaring is monotonic so the
    // max of the squares is the same value.
    let power_reference = match reference {
        DbReference::Value(v) => DbReference::Value(v * v),
        DbReference::Max => DbReference::Max,
    };
    power_to_db_inplace(power.view_mut(), power_reference, amin * amin, top_db)?;
    Ok(power)
}

/// Decibels back to power: `reference · 10^(dB/10)` — `librosa.db_to_power`.
pub fn db_to_power<D: Dimension>(db: ArrayView<'_, f32, D>, reference: f32) -> Array<f32, D> {
    db.mapv(|v| reference * 10f32.powf(0.1 * v))
}

/// Decibels back to amplitude: `reference · 10^(dB/20)` — `librosa.db_to_amplitude`.
pub fn db_to_amplitude<D: Dimension>(db: ArrayView<'_, f32, D>, reference: f32) -> Array<f32, D> {
    db.mapv(|v| reference * 10f32.powf(0.05 * v))
}

/// Natural logarithm with an offset, `ln(S + eps)`: the log compression many models use
/// instead of decibels (no reference, no clipping). `eps` must be positive so silence stays
/// finite.
pub fn log_offset<D: Dimension>(
    values: ArrayView<'_, f32, D>,
    eps: f32,
) -> Result<Array<f32, D>, DspError> {
    if eps.is_nan() || eps <= 0.0 {
        return Err(DspError::InvalidConfig(format!(
            "log offset eps must be positive, got {eps}"
        )));
    }
    Ok(values.mapv(|v| (v + eps).ln()))
}

/// `10·log10(x)`, through `ln`: the same value to a few ulp, and `ln` is the cheaper libm
/// call (this is the hot loop of log-mel features).
fn decibels(x: f32) -> f32 {
    const DB_PER_NEPER: f32 = 10.0 / std::f32::consts::LN_10;
    DB_PER_NEPER * x.ln()
}

fn check_db_arguments(amin: f32, top_db: Option<f32>) -> Result<(), DspError> {
    if amin.is_nan() || amin <= 0.0 {
        return Err(DspError::InvalidConfig(format!(
            "amin must be positive, got {amin}"
        )));
    }
    if let Some(top) = top_db
        && (top.is_nan() || top < 0.0)
    {
        return Err(DspError::InvalidConfig(format!(
            "top_db must be non-negative, got {top}"
        )));
    }
    Ok(())
}
