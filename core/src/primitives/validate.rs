//! The input check every primitive shares: a magnitude spectrogram is non-empty, finite and
//! non-negative, so the masks built from it are well defined.

use ndarray::ArrayView2;

use super::PrimitiveError;

/// Rejects an empty, non-finite or negative `magnitude`, naming `primitive` in the error.
pub(crate) fn check_magnitude(
    primitive: &'static str,
    magnitude: ArrayView2<'_, f32>,
) -> Result<(), PrimitiveError> {
    let bad = |problem: String| Err(PrimitiveError::BadInput { primitive, problem });
    let (bins, frames) = magnitude.dim();
    if bins == 0 || frames == 0 {
        return bad(format!(
            "the magnitude spectrogram is empty ({bins} bins × {frames} frames)"
        ));
    }
    if let Some(value) = magnitude.iter().find(|v| !v.is_finite() || **v < 0.0) {
        return bad(format!(
            "magnitudes must be finite and non-negative, found {value}"
        ));
    }
    Ok(())
}
