//! Analysis windows, sample for sample equal to `scipy.signal.get_window` (which librosa uses).

use serde::{Deserialize, Serialize};

/// The window shapes Tessera's spectrograms use; all but `Rectangular` are sums of cosines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Raised cosine reaching zero at both ends; librosa's default, COLA at hop = n/4 and n/2.
    #[default]
    Hann,
    /// Raised cosine on a pedestal of 0.08: lower first side lobe than Hann.
    Hamming,
    /// Three-term cosine sum: very low side lobes at the cost of a wider main lobe.
    Blackman,
    /// All ones (scipy's "boxcar"): no tapering, for tests and exact framing.
    Rectangular,
}

impl WindowKind {
    /// Cosine-sum coefficients `a_k` of `w(x) = Σ a_k cos(k x)` for `x` from −π to π, exactly
    /// those of `scipy.signal.windows.general_cosine`.
    fn cosine_coefficients(self) -> &'static [f64] {
        match self {
            WindowKind::Hann => &[0.5, 0.5],
            WindowKind::Hamming => &[0.54, 0.46],
            WindowKind::Blackman => &[0.42, 0.5, 0.08],
            WindowKind::Rectangular => &[1.0],
        }
    }
}

/// The window `kind` of `len` samples.
///
/// `periodic = true` is scipy's `fftbins=True` (librosa's default for spectral analysis: one
/// period of a `len + 1`-point symmetric window, so overlapping copies sum to a constant);
/// `periodic = false` is the symmetric window used for filter design. Lengths 0 and 1 give
/// an empty window and `[1.0]`, as scipy does. Computed in `f64` and rounded once, so values
/// match scipy's to `f32` precision.
pub fn window(kind: WindowKind, len: usize, periodic: bool) -> Vec<f32> {
    if len <= 1 {
        return vec![1.0; len];
    }
    let symmetric_len = if periodic { len + 1 } else { len };
    let step = 2.0 * std::f64::consts::PI / (symmetric_len - 1) as f64;
    let coefficients = kind.cosine_coefficients();
    (0..len)
        .map(|n| {
            // numpy.linspace(-π, π, M) lands exactly on π for the last point.
            let x = if n == symmetric_len - 1 {
                std::f64::consts::PI
            } else {
                -std::f64::consts::PI + n as f64 * step
            };
            coefficients
                .iter()
                .enumerate()
                .map(|(k, a)| a * (k as f64 * x).cos())
                .sum::<f64>() as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_hann_is_one_period_of_a_longer_symmetric_window() {
        let periodic = window(WindowKind::Hann, 8, true);
        let symmetric = window(WindowKind::Hann, 9, false);
        assert_eq!(periodic, symmetric[..8]);
        assert!(periodic[0].abs() < 1e-7);
        assert!((periodic[4] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn tiny_lengths_follow_scipy() {
        assert!(window(WindowKind::Hamming, 0, true).is_empty());
        assert_eq!(window(WindowKind::Blackman, 1, false), vec![1.0]);
        assert_eq!(window(WindowKind::Hamming, 2, false), vec![0.08, 0.08]);
    }
}
