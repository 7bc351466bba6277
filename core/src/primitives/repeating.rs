//! The mask shared by REPET and REPET-SIM: given a model of the repeating background, the
//! repeating spectrogram is `min(model, X)` (the background cannot exceed the mixture), the
//! mask is its share of `X`, and bins below a cutoff go entirely to the background (Rafii &
//! Pardo's "dual high-pass filtering": the non-repeating foreground, e.g. a voice, has little
//! energy there).

use ndarray::{Array2, ArrayView2, Zip};

use super::{ForegroundBackground, PrimitiveError, SpectrogramGeometry};

/// Splits `magnitude` into the non-repeating foreground and the repeating background given
/// `model` (same shape): background = `X · m`, foreground = `X · (1 − m)` with
/// `m = min(model, X) / X` (`m = 1` where `X = 0`, and for bins below `cutoff_hz`).
pub(crate) fn split_by_repeating_model(
    magnitude: ArrayView2<'_, f32>,
    model: ArrayView2<'_, f32>,
    geometry: &SpectrogramGeometry,
    cutoff_hz: f64,
) -> ForegroundBackground {
    let mut background = Array2::zeros(magnitude.raw_dim());
    Zip::from(&mut background)
        .and(magnitude)
        .and(model)
        .for_each(|b, &x, &m| *b = m.min(x));
    for (bin, mut row) in background.rows_mut().into_iter().enumerate() {
        if geometry.bin_hz(bin) >= cutoff_hz {
            break;
        }
        row.assign(&magnitude.row(bin));
    }
    let foreground = &magnitude - &background;
    ForegroundBackground {
        foreground,
        background,
    }
}

/// Rejects a cutoff that is not a frequency ≥ 0 Hz; `primitive` names the caller.
pub(crate) fn check_cutoff(primitive: &str, cutoff_hz: f64) -> Result<(), PrimitiveError> {
    if cutoff_hz.is_nan() || cutoff_hz < 0.0 {
        return Err(PrimitiveError::InvalidConfig(format!(
            "{primitive} cutoff must be a frequency ≥ 0 Hz, got {cutoff_hz}"
        )));
    }
    Ok(())
}
