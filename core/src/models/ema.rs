//! The target encoder's exponential moving average of the context encoder.

use candle_core::{Result, Var};
use serde::{Deserialize, Serialize};

use crate::nn::fused::blend_into;

/// EMA momentum schedule: linear ramp from `start` to `end` over `ramp_steps`, then
/// constant (WavJEPA); I-JEPA ramps over the whole run, which `ramp_steps = total` gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmaSchedule {
    /// Momentum at step 0.
    pub start: f64,
    /// Momentum after the ramp.
    pub end: f64,
    /// Steps of the linear ramp.
    pub ramp_steps: usize,
}

impl Default for EmaSchedule {
    fn default() -> Self {
        Self {
            start: 0.996,
            end: 1.0,
            ramp_steps: 3000,
        }
    }
}

impl EmaSchedule {
    /// Momentum at `step`.
    pub fn momentum(&self, step: usize) -> f64 {
        let progress = (step as f64 / self.ramp_steps.max(1) as f64).min(1.0);
        self.start + (self.end - self.start) * progress
    }
}

/// `target ← m · target + (1 − m) · online` for every pair, in place. The pairs come from parameter
/// names, so a missing or mis-shaped partner is an error, never a silent skip.
pub fn ema_update(pairs: &[(Var, Var)], momentum: f64) -> Result<()> {
    for (target, online) in pairs {
        blend_into(target.as_tensor(), online.as_tensor(), momentum)?;
    }
    Ok(())
}

/// Pairs every target-encoder variable with the trainable variable of the same name.
pub fn ema_pairs(
    target: &candle_nn::VarMap,
    online: &candle_nn::VarMap,
) -> Result<Vec<(Var, Var)>> {
    let online = online.data().lock().expect("VarMap lock poisoned");
    let target = target.data().lock().expect("VarMap lock poisoned");
    let mut pairs = Vec::with_capacity(target.len());
    for (name, var) in target.iter() {
        let Some(partner) = online.get(name) else {
            candle_core::bail!("EMA: the target encoder's {name} has no trainable partner");
        };
        if partner.dims() != var.dims() {
            candle_core::bail!(
                "EMA: {name} has shape {:?} in the target but {:?} in the online encoder",
                var.dims(),
                partner.dims()
            );
        }
        pairs.push((var.clone(), partner.clone()));
    }
    Ok(pairs)
}
