//! Dropout with a seeded mask.
//!
//! candle's `ops::dropout` draws its mask from an unseeded generator, so two runs with the
//! same seed would train differently; here the caller's RNG draws it.

use candle_core::{Result, Tensor};
use rand::{Rng, RngExt};

/// Zeroes each entry of `x` with probability `p` and scales the survivors by `1 / (1 − p)`
/// (inverted dropout: inference needs no rescaling). `p = 0` returns `x` unchanged.
pub fn dropout(x: &Tensor, p: f64, rng: &mut impl Rng) -> Result<Tensor> {
    if !(0.0..1.0).contains(&p) {
        candle_core::bail!("dropout probability must be in [0, 1), got {p}");
    }
    if p == 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f64> = (0..x.elem_count())
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}
