//! Finite-difference gradient checking for candle graphs, in f64.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Step of the central differences.
const STEP: f64 = 1e-5;
/// Entries checked per parameter tensor (all of them when smaller).
const ENTRIES_PER_TENSOR: usize = 12;

/// A fresh f64 VarBuilder whose variables can be listed afterwards.
pub fn var_builder() -> (VarMap, VarBuilder<'static>) {
    let map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F64, &Device::Cpu);
    (map, vb)
}

/// A random f64 variable of the given shape, entries in (-1, 1).
pub fn random_var(shape: &[usize], seed: u64) -> Var {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu).unwrap()).unwrap()
}

/// Reduces `output` to a scalar with fixed random weights, so every entry's gradient
/// differs (a plain sum would hide transposed or permuted gradients).
pub fn weighted_sum(output: &Tensor, seed: u64) -> Result<Tensor> {
    let weights = random_var(output.dims(), seed).as_tensor().clone();
    (output * weights)?.sum_all()
}

/// Checks the analytic gradient of `loss` against central finite differences for a sample
/// of entries of every variable; returns the largest relative error found.
pub fn max_relative_error(vars: &[Var], loss: impl Fn() -> Result<Tensor>) -> f64 {
    relative_error_at(vars, ENTRIES_PER_TENSOR, loss)
}

/// Like [`max_relative_error`] but checks every entry, for ops whose edge entries (say the
/// DC and Nyquist bins of a spectrum) behave differently and a sample could miss them.
pub fn max_relative_error_everywhere(vars: &[Var], loss: impl Fn() -> Result<Tensor>) -> f64 {
    relative_error_at(vars, usize::MAX, loss)
}

/// Largest relative error over `entries` random entries of each variable (all of them when
/// the variable is no larger).
fn relative_error_at(vars: &[Var], entries: usize, loss: impl Fn() -> Result<Tensor>) -> f64 {
    let grads = loss().unwrap().backward().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut worst = 0f64;
    for var in vars {
        let analytic = grads
            .get(var.as_tensor())
            .expect("no gradient reached a variable")
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let original = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let picks: Vec<usize> = if original.len() <= entries {
            (0..original.len()).collect()
        } else {
            (0..entries)
                .map(|_| rng.random_range(0..original.len()))
                .collect()
        };
        for i in picks {
            let evaluate = |delta: f64| {
                let mut values = original.clone();
                values[i] += delta;
                var.set(&Tensor::from_vec(values, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                loss().unwrap().to_scalar::<f64>().unwrap()
            };
            let numeric = (evaluate(STEP) - evaluate(-STEP)) / (2.0 * STEP);
            let scale = analytic[i].abs().max(numeric.abs()).max(1e-4);
            worst = worst.max((analytic[i] - numeric).abs() / scale);
        }
        var.set(&Tensor::from_vec(original, var.dims(), &Device::Cpu).unwrap())
            .unwrap();
    }
    worst
}

/// Largest absolute difference between two f64 tensors of one shape.
pub fn max_difference(a: &Tensor, b: &Tensor) -> f64 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}
