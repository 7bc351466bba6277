//! Normalisation over the last dimension (LayerNorm without its affine part), fused.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::rows::{Float, binary_rows, unary_rows};

/// `(x - mean) / sqrt(var + eps)` over the last dimension, with a fused backward pass.
/// The affine scale and shift are ordinary broadcast ops in [`crate::nn::LayerNorm`].
pub fn normalize_last_dim(x: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Normalize { eps })
}

struct Normalize {
    eps: f64,
}

/// Mean and reciprocal standard deviation of one row.
fn moments<T: Float>(x: &[T], eps: f64) -> (T, T) {
    let n = T::of(x.len() as f64);
    let mean = x.iter().copied().sum::<T>() / n;
    let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<T>() / n;
    (mean, T::one() / (var + T::of(eps)).sqrt())
}

fn forward<T: Float>(x: &[T], out: &mut [T], eps: f64) {
    let (mean, rstd) = moments(x, eps);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - mean) * rstd;
    }
}

/// dx = rstd · (dy − mean(dy) − y · mean(dy · y)), recomputing y from x.
fn backward<T: Float>(x: &[T], dy: &[T], dx: &mut [T], eps: f64) {
    let (mean, rstd) = moments(x, eps);
    let n = T::of(x.len() as f64);
    let (mut sum_dy, mut sum_dy_y) = (T::zero(), T::zero());
    for (&v, &g) in x.iter().zip(dy) {
        sum_dy += g;
        sum_dy_y += g * (v - mean) * rstd;
    }
    let (mean_dy, mean_dy_y) = (sum_dy / n, sum_dy_y / n);
    for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
        *d = rstd * (g - mean_dy - (v - mean) * rstd * mean_dy_y);
    }
}

impl CustomOp1 for Normalize {
    fn name(&self) -> &'static str {
        "normalize-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let eps = self.eps;
        unary_rows(
            storage,
            layout,
            self.name(),
            |x, o| forward::<f32>(x, o, eps),
            |x, o| forward::<f64>(x, o, eps),
        )
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(
            &grad,
            &NormalizeBackward { eps: self.eps },
        )?))
    }
}

struct NormalizeBackward {
    eps: f64,
}

impl CustomOp2 for NormalizeBackward {
    fn name(&self) -> &'static str {
        "normalize-last-dim-backward"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        dy: &CpuStorage,
        ldy: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let eps = self.eps;
        binary_rows(
            x,
            lx,
            dy,
            ldy,
            self.name(),
            |x, g, o| backward::<f32>(x, g, o, eps),
            |x, g, o| backward::<f64>(x, g, o, eps),
        )
    }
}
