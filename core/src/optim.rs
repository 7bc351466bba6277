//! AdamW with decoupled weight decay and a warm-up + cosine learning-rate schedule.
//!
//! Ours rather than `candle_nn::AdamW` because a resumed run must continue bit-identically:
//! the moment estimates are saved with every checkpoint, and candle's optimiser keeps them
//! private. Biases and normalisation scales (1-D parameters) get no weight decay, as in
//! I-JEPA. Each step updates the moments and the parameter in place
//! ([`crate::nn::fused::adamw_step`]); here in core, so the training-step benchmark times
//! the optimiser the CLI runs.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::nn::fused::{AdamWStep, adamw_step, blend_into, blend_square_into};

/// Optimiser and schedule settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Peak learning rate, reached at the end of the warm-up.
    pub learning_rate: f64,
    /// Learning rate at the last step.
    pub min_learning_rate: f64,
    /// Steps of the linear warm-up from 0.
    pub warmup_steps: usize,
    /// Decoupled weight decay (0.04 in I-JEPA and WavJEPA).
    pub weight_decay: f64,
    /// Adam's β₁.
    pub beta1: f64,
    /// Adam's β₂.
    pub beta2: f64,
    /// Adam's ε.
    pub eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            learning_rate: 5e-4,
            min_learning_rate: 1e-6,
            warmup_steps: 200,
            weight_decay: 0.04,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl OptimConfig {
    /// Learning rate at `step` of a `total`-step run: linear warm-up, then cosine decay.
    pub fn learning_rate_at(&self, step: usize, total: usize) -> f64 {
        if step < self.warmup_steps {
            return self.learning_rate * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = total.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.min_learning_rate + (self.learning_rate - self.min_learning_rate) * cosine
    }
}

/// One trained tensor and its moment estimates.
struct Param {
    name: String,
    var: Var,
    first_moment: Tensor,
    second_moment: Tensor,
    decay: bool,
}

/// AdamW over named variables.
pub struct AdamW {
    config: OptimConfig,
    params: Vec<Param>,
    /// Updates applied so far (Adam's t), for bias correction.
    steps: usize,
}

impl AdamW {
    /// An optimiser over `vars` (name → variable), moments at zero.
    pub fn new(config: OptimConfig, vars: &HashMap<String, Var>) -> Result<Self> {
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        let params = names
            .into_iter()
            .map(|name| {
                let var = vars[name].clone();
                Ok(Param {
                    name: name.clone(),
                    first_moment: var.zeros_like()?,
                    second_moment: var.zeros_like()?,
                    decay: var.rank() > 1,
                    var,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config,
            params,
            steps: 0,
        })
    }

    /// Applies one update with learning rate `lr`. A variable without a gradient is an
    /// error: it means the graph does not reach it and training would silently skip it.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        let c = &self.config;
        self.steps += 1;
        let t = self.steps as i32;
        let (correction1, correction2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        for p in &mut self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                candle_core::bail!("no gradient reached {}", p.name);
            };
            blend_into(&p.first_moment, grad, c.beta1)?;
            blend_square_into(&p.second_moment, grad, c.beta2)?;
            let step = AdamWStep {
                learning_rate: lr,
                weight_decay: if p.decay { c.weight_decay } else { 0.0 },
                corrections: (correction1, correction2),
                eps: c.eps,
            };
            adamw_step(p.var.as_tensor(), &p.first_moment, &p.second_moment, step)?;
        }
        Ok(())
    }

    /// Updates applied so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Copies of the moment tensors by name (`<prefix>m.<var>`, `<prefix>v.<var>`) for
    /// checkpoints; copies, since the next step updates the moments in place.
    pub fn state(&self, prefix: &str) -> Result<HashMap<String, Tensor>> {
        let mut state = HashMap::with_capacity(2 * self.params.len());
        for p in &self.params {
            state.insert(format!("{prefix}m.{}", p.name), p.first_moment.copy()?);
            state.insert(format!("{prefix}v.{}", p.name), p.second_moment.copy()?);
        }
        Ok(state)
    }

    /// Restores moments saved by [`Self::state`] and the step count.
    pub fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
        steps: usize,
    ) -> Result<()> {
        for p in &mut self.params {
            for (kind, slot) in [("m", &mut p.first_moment), ("v", &mut p.second_moment)] {
                let key = format!("{prefix}{kind}.{}", p.name);
                let Some(saved) = tensors.get(&key) else {
                    candle_core::bail!("the checkpoint lacks optimiser state {key}");
                };
                if saved.dims() != slot.dims() {
                    candle_core::bail!(
                        "optimiser state {key} has shape {:?}, expected {:?}",
                        saved.dims(),
                        slot.dims()
                    );
                }
                // A copy of its own: the steps update it in place.
                *slot = saved.to_dtype(slot.dtype())?.copy()?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_follows_a_cosine_to_the_floor() {
        let config = OptimConfig {
            learning_rate: 1e-3,
            min_learning_rate: 1e-5,
            warmup_steps: 10,
            ..Default::default()
        };
        assert!((config.learning_rate_at(0, 100) - 1e-4).abs() < 1e-12);
        assert!((config.learning_rate_at(9, 100) - 1e-3).abs() < 1e-12);
        // Half-way through the decay the cosine is at its midpoint.
        assert!((config.learning_rate_at(55, 100) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12);
        assert!((config.learning_rate_at(100, 100) - 1e-5).abs() < 1e-12);
        let rates: Vec<f64> = (10..100).map(|s| config.learning_rate_at(s, 100)).collect();
        assert!(rates.windows(2).all(|w| w[1] <= w[0]));
    }

    /// One AdamW step on hand-checkable numbers: PyTorch's `torch.optim.AdamW` gives
    /// `p·(1 − lr·wd) − lr·m̂/(√v̂ + ε)`, with `m̂ = g`, `v̂ = g²` after the first step.
    #[test]
    fn first_step_matches_the_adamw_formula_and_spares_biases_from_decay() {
        let device = Device::Cpu;
        let weight =
            Var::from_tensor(&Tensor::ones((1, 2), candle_core::DType::F32, &device).unwrap())
                .unwrap();
        let bias =
            Var::from_tensor(&Tensor::ones(2, candle_core::DType::F32, &device).unwrap()).unwrap();
        let vars = HashMap::from([
            ("w".to_owned(), weight.clone()),
            ("b".to_owned(), bias.clone()),
        ]);
        let config = OptimConfig {
            weight_decay: 0.04,
            eps: 1e-8,
            ..Default::default()
        };
        let mut optim = AdamW::new(config, &vars).unwrap();
        // Gradients: 0.5 and −2 for the weight, 0.5 and −2 for the bias.
        let slope = Tensor::new(&[0.5f32, -2.0], &device).unwrap();
        let loss = (weight
            .as_tensor()
            .broadcast_mul(&slope)
            .unwrap()
            .sum_all()
            .unwrap()
            + bias.as_tensor().mul(&slope).unwrap().sum_all().unwrap())
        .unwrap();
        optim.step(&loss.backward().unwrap(), 0.1).unwrap();
        let w = weight
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = bias.as_tensor().to_vec1::<f32>().unwrap();
        // Decayed by (1 − 0.1·0.04), then moved by lr · sign(g).
        assert!((w[0] - (0.996 - 0.1)).abs() < 1e-6, "{w:?}");
        assert!((w[1] - (0.996 + 0.1)).abs() < 1e-6, "{w:?}");
        assert!(
            (b[0] - 0.9).abs() < 1e-6 && (b[1] - 1.1).abs() < 1e-6,
            "{b:?}"
        );

        // The saved moments restore into a fresh optimiser that then steps identically.
        let mut restored = AdamW::new(config, &vars).unwrap();
        restored
            .restore(&optim.state("o.").unwrap(), "o.", optim.steps())
            .unwrap();
        assert_eq!(restored.steps(), 1);
        let state = restored.state("o.").unwrap();
        for (name, tensor) in optim.state("o.").unwrap() {
            let a = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(
                a,
                state[&name]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            );
        }
    }

    #[test]
    fn a_variable_the_graph_does_not_reach_is_an_error() {
        let device = Device::Cpu;
        let used =
            Var::from_tensor(&Tensor::ones(2, candle_core::DType::F32, &device).unwrap()).unwrap();
        let unused =
            Var::from_tensor(&Tensor::ones(2, candle_core::DType::F32, &device).unwrap()).unwrap();
        let vars = HashMap::from([
            ("used".to_owned(), used.clone()),
            ("unused".to_owned(), unused),
        ]);
        let mut optim = AdamW::new(OptimConfig::default(), &vars).unwrap();
        let grads = used.as_tensor().sum_all().unwrap().backward().unwrap();
        let error = optim.step(&grads, 0.1).unwrap_err().to_string();
        assert!(error.contains("unused"), "{error}");
    }
}
