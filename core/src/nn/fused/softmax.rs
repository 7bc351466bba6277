//! Softmax over the last dimension (attention weights), fused.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::rows::{Float, binary_rows, max, sum_by, sum_pairs, unary_rows};

/// Numerically stable softmax over the last dimension, with a fused backward pass.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Softmax)
}

struct Softmax;

/// Softmax of one row in place, the row's maximum subtracted first; the attention and
/// stem-mask ops share it.
#[inline(always)]
pub(super) fn softmax_in_place<T: Float>(row: &mut [T]) {
    let max = max(row);
    row.iter_mut()
        .for_each(|v| *v = (*v - max).fast_exp_nonpositive());
    let scale = T::one() / sum_by(row, |v| v);
    row.iter_mut().for_each(|v| *v = *v * scale);
}

fn forward<T: Float>(x: &[T], out: &mut [T]) {
    out.copy_from_slice(x);
    softmax_in_place(out);
}

/// dx = y · (dy − Σ dy · y).
fn backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) {
    let dot = sum_pairs(y, dy, |a, b| a * b);
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
