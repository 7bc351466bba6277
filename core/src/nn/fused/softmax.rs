//! Softmax over the last dimension (attention weights), fused.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::rows::{Float, binary_rows, unary_rows};

/// Numerically stable softmax over the last dimension, with a fused backward pass.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Softmax)
}

struct Softmax;

fn forward<T: Float>(x: &[T], out: &mut [T]) {
    let max = x.iter().copied().fold(T::neg_infinity(), T::max);
    let mut sum = T::zero();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - max).exp();
        sum += *o;
    }
    let scale = T::one() / sum;
    out.iter_mut().for_each(|o| *o = *o * scale);
}

/// dx = y · (dy − Σ dy · y).
fn backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) {
    let dot = y.iter().zip(dy).map(|(&a, &b)| a * b).sum::<T>();
    for ((d, &a), &g) in dx.iter_mut().zip(y).zip(dy) {
        *d = a * (g - dot);
    }
}

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        unary_rows(storage, layout, self.name(), forward::<f32>, forward::<f64>)
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(
            res.contiguous()?
                .apply_op2_no_bwd(&grad, &SoftmaxBackward)?,
        ))
    }
}

struct SoftmaxBackward;

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "softmax-last-dim-backward"
    }

    fn cpu_fwd(
        &self,
        y: &CpuStorage,
        ly: &Layout,
        dy: &CpuStorage,
        ldy: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        binary_rows(
            y,
            ly,
            dy,
            ldy,
            self.name(),
            backward::<f32>,
            backward::<f64>,
        )
    }
}
