//! Parameter updates in place: AdamW's moment estimates and step, and the EMA blend of a
//! target encoder.
//!
//! Written with candle ops, one AdamW step was eleven tensor ops per parameter, each
//! allocating and filling a new tensor of the parameter's size before `Var::set` copied
//! the result back, and the EMA blend three more (BENCHMARKS.md has what that cost). Here
//! each update is one pass over the parameter's own storage, elementwise, so the result
//! does not depend on how rayon splits the work (a resumed run repeats its updates bit for
//! bit).

use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, bail};
use rayon::prelude::*;

use super::rows::{Float, contiguous};

/// Elements per rayon task: the updates are bound by memory, and small parameters
/// (biases, norms) are not worth a thread hand-off.
const ELEMENTS_PER_TASK: usize = 64 * 1024;

/// One AdamW step of a parameter from its updated moments.
#[derive(Debug, Clone, Copy)]
pub struct AdamWStep {
    /// Learning rate of this step.
    pub learning_rate: f64,
    /// Decoupled weight decay (0 for parameters that are not decayed).
    pub weight_decay: f64,
    /// Bias corrections `1 − β₁ᵗ` and `1 − β₂ᵗ`.
    pub corrections: (f64, f64),
    /// Adam's ε, added to the corrected second moment's square root.
    pub eps: f64,
}

/// `θ ← θ · (1 − lr · wd) − lr · m̂ / (√v̂ + ε)` with `m̂ = m / (1 − β₁ᵗ)`,
/// `v̂ = v / (1 − β₂ᵗ)`, in place (PyTorch's `AdamW`).
pub fn adamw_step(param: &Tensor, first: &Tensor, second: &Tensor, step: AdamWStep) -> Result<()> {
    param.inplace_op3(&first.contiguous()?, &second.contiguous()?, &step)
}

/// `target ← keep · target + (1 − keep) · x`, in place: Adam's first moment (`keep` = β₁,
/// `x` the gradient) and the EMA blend of a target encoder (`keep` the momentum).
pub fn blend_into(target: &Tensor, x: &Tensor, keep: f64) -> Result<()> {
    let blend = Blend {
        keep,
        squared: false,
    };
    target.inplace_op2(&x.contiguous()?, &blend)
}

/// `target ← keep · target + (1 − keep) · x²`, in place: Adam's second moment.
pub fn blend_square_into(target: &Tensor, x: &Tensor, keep: f64) -> Result<()> {
    let blend = Blend {
        keep,
        squared: true,
    };
    target.inplace_op2(&x.contiguous()?, &blend)
}

/// The mutable storage of an in-place op as a contiguous slice of its layout.
fn contiguous_mut<'a, T>(data: &'a mut [T], layout: &Layout, op: &str) -> Result<&'a mut [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => bail!("{op}: the updated tensor must be contiguous"),
    }
}

/// Applies `update(target, other)` to every element of `target`, in parallel blocks.
fn zip_update<T: Float>(
    target: &mut [T],
    other: &[T],
    op: &str,
    update: impl Fn(&mut T, T) + Sync,
) -> Result<()> {
    if target.len() != other.len() {
        bail!(
            "{op}: {} elements updated from {}",
            target.len(),
            other.len()
        );
    }
    target
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(other.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(t, o)| t.iter_mut().zip(o).for_each(|(t, &o)| update(t, o)));
    Ok(())
}

/// Runs an elementwise two-tensor update on `f32` or `f64` storage.
fn in_place2(
    s1: &mut CpuStorage,
    l1: &Layout,
    s2: &CpuStorage,
    l2: &Layout,
    op: &str,
    update32: impl Fn(&mut f32, f32) + Sync,
    update64: impl Fn(&mut f64, f64) + Sync,
) -> Result<()> {
    match (s1, s2) {
        (CpuStorage::F32(a), CpuStorage::F32(b)) => zip_update(
            contiguous_mut(a, l1, op)?,
            contiguous(b, l2, op)?,
            op,
            update32,
        ),
        (CpuStorage::F64(a), CpuStorage::F64(b)) => zip_update(
            contiguous_mut(a, l1, op)?,
            contiguous(b, l2, op)?,
            op,
            update64,
        ),
        _ => bail!("{op}: both tensors must be f32 or both f64"),
    }
}

/// `target ← keep · target + (1 − keep) · x`, with `x` the other tensor or its square:
/// Adam's moments and the EMA blend are all this one moving average.
struct Blend {
    /// Weight of the target's current value (β₁, β₂ or the EMA momentum).
    keep: f64,
    /// Averages the other tensor's square (Adam's second moment).
    squared: bool,
}

impl Blend {
    fn update<T: Float>(&self) -> impl Fn(&mut T, T) + Sync {
        let (keep, take, squared) = (T::of(self.keep), T::of(1.0 - self.keep), self.squared);
        move |t, x| *t = *t * keep + if squared { x * x } else { x } * take
    }
}

impl InplaceOp2 for Blend {
    fn name(&self) -> &'static str {
        "moving-average"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        in_place2(s1, l1, s2, l2, self.name(), self.update(), self.update())
    }
}

fn adamw<T: Float>(param: &mut [T], first: &[T], second: &[T], step: &AdamWStep) -> Result<()> {
    if param.len() != first.len() || param.len() != second.len() {
        bail!(
            "adamw-step: moments do not match the parameter's {} elements",
            param.len()
        );
    }
    let decay = T::of(1.0 - step.learning_rate * step.weight_decay);
    let lr = T::of(step.learning_rate);
    let (c1, c2) = (T::of(step.corrections.0), T::of(step.corrections.1));
    let eps = T::of(step.eps);
    param
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(first.par_chunks(ELEMENTS_PER_TASK))
        .zip(second.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|((p, m), v)| {
            for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
                *p = *p * decay - lr * (m / c1) / ((v / c2).sqrt() + eps);
            }
        });
    Ok(())
}

impl InplaceOp3 for AdamWStep {
    fn name(&self) -> &'static str {
        "adamw-step"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let op = self.name();
        match (s1, s2, s3) {
            (CpuStorage::F32(p), CpuStorage::F32(m), CpuStorage::F32(v)) => adamw(
                contiguous_mut(p, l1, op)?,
                contiguous(m, l2, op)?,
                contiguous(v, l3, op)?,
                self,
            ),
            (CpuStorage::F64(p), CpuStorage::F64(m), CpuStorage::F64(v)) => adamw(
                contiguous_mut(p, l1, op)?,
                contiguous(m, l2, op)?,
                contiguous(v, l3, op)?,
                self,
            ),
            _ => bail!("{op}: the parameter and its moments must all be f32 or all f64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    fn values(seed: u64, len: usize) -> Vec<f64> {
        (0..len as u64)
            .map(|i| (((i + 1) * (seed * 2 + 7919)) % 1009) as f64 / 1009.0 - 0.5)
            .collect()
    }

    fn tensor(values: &[f64]) -> Tensor {
        Tensor::from_slice(values, values.len(), &Device::Cpu).unwrap()
    }

    fn read(t: &Tensor) -> Vec<f64> {
        t.to_vec1::<f64>().unwrap()
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-12, "element {i}: {g} vs {w}");
        }
    }

    /// More elements than one task holds, so the blocks meet.
    const LEN: usize = 2 * ELEMENTS_PER_TASK + 17;

    #[test]
    fn moments_and_step_follow_the_adamw_formulas() {
        let (p0, m0, v0, g) = (
            values(1, LEN),
            values(2, LEN),
            values(3, LEN),
            values(4, LEN),
        );
        let v0: Vec<f64> = v0.iter().map(|v| v * v).collect();
        let (param, first, second) = (tensor(&p0), tensor(&m0), tensor(&v0));
        blend_into(&first, &tensor(&g), 0.9).unwrap();
        blend_square_into(&second, &tensor(&g), 0.999).unwrap();
        let step = AdamWStep {
            learning_rate: 1e-3,
            weight_decay: 0.04,
            corrections: (0.19, 0.002),
            eps: 1e-8,
        };
        adamw_step(&param, &first, &second, step).unwrap();
        let m: Vec<f64> = m0.iter().zip(&g).map(|(m, g)| 0.9 * m + 0.1 * g).collect();
        let v: Vec<f64> = v0
            .iter()
            .zip(&g)
            .map(|(v, g)| 0.999 * v + 0.001 * g * g)
            .collect();
        let p: Vec<f64> = (0..LEN)
            .map(|i| {
                p0[i] * (1.0 - 1e-3 * 0.04) - 1e-3 * (m[i] / 0.19) / ((v[i] / 0.002).sqrt() + 1e-8)
            })
            .collect();
        assert_close(&read(&first), &m);
        assert_close(&read(&second), &v);
        assert_close(&read(&param), &p);
    }

    #[test]
    fn blend_moves_the_target_towards_the_online_values() {
        let (t0, o) = (values(5, LEN), values(6, LEN));
        let target = tensor(&t0);
        blend_into(&target, &tensor(&o), 0.996).unwrap();
        let want: Vec<f64> = t0
            .iter()
            .zip(&o)
            .map(|(t, o)| 0.996 * t + 0.004 * o)
            .collect();
        assert_close(&read(&target), &want);
        // Momentum 0 copies the online values exactly (the target's initialisation).
        blend_into(&target, &tensor(&o), 0.0).unwrap();
        assert_eq!(read(&target), o);
    }

    #[test]
    fn mismatched_sizes_and_dtypes_are_errors() {
        let target = tensor(&values(7, 8));
        assert!(blend_into(&target, &tensor(&values(8, 9)), 0.5).is_err());
        let single = Tensor::zeros(8, candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(blend_square_into(&target, &single, 0.9).is_err());
    }
}
