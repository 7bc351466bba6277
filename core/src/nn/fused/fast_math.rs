//! Branch-free `f32` `tanh` and `exp` the compiler vectorises, for GELU and softmax.
//!
//! glibc's `tanhf` (through `expm1f`) and `expf` are a scalar call per element; in a JEPA
//! training step `tanhf` took about a sixth of the CPU time, more than the MLP matmuls it
//! sits between, and `expf` kept the attention softmax scalar too. Both here are a Cephes-style `exp` (range reduction by powers of two, degree-6
//! minimax polynomial): `tanh(|x|) = 1 − 2 / (exp(2|x|) + 1)` has absolute error within
//! 2.5e-7 everywhere, which GELU's `1 + tanh` cannot tell from glibc's; `exp` is within a
//! few ulp of glibc's.

/// `log2(e)`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in two so `x − n·ln 2` stays exact for the `n` used here (Cephes).
const LN_2_HIGH: f32 = 0.693_359_4;
const LN_2_LOW: f32 = -2.121_944_4e-4;
/// Adding and subtracting 1.5·2²³ rounds an `f32` of magnitude below 2²² to an integer
/// without a rounding instruction SSE2 lacks.
const ROUNDING: f32 = 12_582_912.0;
/// Beyond 10, tanh rounds to ±1 in `f32` (1 − tanh(10) ≈ 4e-9); clamping there keeps
/// `exp` far from overflow.
const SATURATION: f32 = 10.0;

/// Below this `exp` leaves f32's normal range (2⁻¹²⁶ ≈ e^-87.3).
const UNDERFLOW: f32 = -87.0;

/// `exp(x)` for `|x| ≤ 87`, within 2 ulp.
#[inline(always)]
fn exp_in_range(x: f32) -> f32 {
    let n = (x * LOG2_E + ROUNDING) - ROUNDING;
    let r = (x - n * LN_2_HIGH) - n * LN_2_LOW;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let mantissa = p * r * r + r + 1.0;
    mantissa * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Hyperbolic tangent, absolute error below 2.5e-7; NaN stays NaN (a diverging run must
/// show it, not saturate).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let magnitude = x.abs();
    // A comparison rather than `min`, which would turn NaN into the bound.
    let clamped = if magnitude > SATURATION {
        SATURATION
    } else {
        magnitude
    };
    let e = exp_in_range(2.0 * clamped);
    (1.0 - 2.0 / (e + 1.0)).copysign(x)
}

/// `exp(x)` for `x ≤ 0` (softmax terms once the row's maximum is subtracted): 0 below
/// e^-87, where the terms are lost in their sum of at least 1 anyway; NaN stays NaN.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    // Comparisons rather than `max`, which would turn NaN into the bound.
    let clamped = if x < UNDERFLOW { UNDERFLOW } else { x };
    let e = exp_in_range(clamped);
    if x < UNDERFLOW { 0.0 } else { e }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_exact_tanh() {
        let mut worst = 0f64;
        for i in -2_000_000..=2_000_000 {
            let x = i as f32 * 1e-5 * 12.0;
            let error = (super::tanh(x) as f64 - (x as f64).tanh()).abs();
            worst = worst.max(error);
        }
        assert!(worst < 2.5e-7, "largest absolute error {worst}");
        assert_eq!(super::tanh(0.0), 0.0);
        assert_eq!(super::tanh(f32::INFINITY), 1.0);
        assert_eq!(super::tanh(f32::NEG_INFINITY), -1.0);
        assert!(super::tanh(f32::NAN).is_nan());
    }

    #[test]
    fn exp_matches_the_exact_exp_over_non_positive_inputs() {
        let mut worst = 0f64;
        for i in 0..=4_000_000 {
            let x = -(i as f32) * 87.0 / 4e6;
            let exact = (x as f64).exp();
            worst = worst.max((super::exp_nonpositive(x) as f64 - exact).abs() / exact);
        }
        assert!(
            worst < 3.0 * f32::EPSILON as f64,
            "largest relative error {worst}"
        );
        assert_eq!(super::exp_nonpositive(0.0), 1.0);
        assert_eq!(super::exp_nonpositive(-88.0), 0.0);
        assert_eq!(super::exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert!(super::exp_nonpositive(f32::NAN).is_nan());
    }
}
