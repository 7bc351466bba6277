//! Reproducible initialisation.
//!
//! candle's CPU back end draws `Init::Randn` values from an unseeded thread RNG (its
//! `set_seed` refuses the CPU), so two runs with the same seed would start from different
//! weights. This redraws every randomly initialised variable from a seeded stream.

use candle_core::{Result, Tensor};
use candle_nn::VarMap;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::linear::INIT_STD;

/// Redraws, from `seed`, N(0, 0.02²) values for every variable of `map` that was randomly
/// initialised — recognised by holding differing values, since every constant initialiser
/// (ones, zeros) fills a tensor with one value. Variables are visited in name order, so
/// the result depends on the seed and the architecture only.
pub fn seeded_normal_init(map: &VarMap, seed: u64) -> Result<()> {
    let vars = map.data().lock().expect("VarMap lock poisoned");
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for name in names {
        let var = &vars[name];
        let values = var
            .as_tensor()
            .flatten_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_vec1::<f64>()?;
        if values.windows(2).all(|pair| pair[0] == pair[1]) {
            continue;
        }
        let drawn: Vec<f64> = (0..values.len())
            .map(|_| INIT_STD * standard_normal(&mut rng))
            .collect();
        let tensor = Tensor::from_vec(drawn, var.dims(), var.device())?.to_dtype(var.dtype())?;
        var.set(&tensor)?;
    }
    Ok(())
}

/// One N(0, 1) draw (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
