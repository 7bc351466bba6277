//! Normalisation over the last dimension (LayerNorm, with or without its affine part),
//! fused.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::rows::{Float, binary_rows, contiguous, map_rows, sum_by, sum_pairs, unary_rows};

/// `(x - mean) / sqrt(var + eps)` over the last dimension, with a fused backward pass
/// (instance normalisation, layer-normalised targets).
pub fn normalize_last_dim(x: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Normalize { eps })
}

struct Normalize {
    eps: f64,
}

/// Mean and reciprocal standard deviation of one row.
fn moments<T: Float>(x: &[T], eps: f64) -> (T, T) {
    let n = T::of(x.len() as f64);
    let mean = sum_by(x, |v| v) / n;
    let var = sum_by(x, |v| (v - mean) * (v - mean)) / n;
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
    let mean_dy = sum_by(dy, |g| g) / n;
    let mean_dy_y = sum_pairs(x, dy, |v, g| g * (v - mean) * rstd) / n;
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

/// LayerNorm with its learned scale and shift, `normalize(x) · weight + bias`, as one op:
/// three graph nodes cost candle's backward three zero-filled gradients of the input's
/// size and their adds; this one computes `dx`, `dweight` and `dbias` in one pass.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        AffineNormalize { eps },
    )
}

struct AffineNormalize {
    /// Added to the variance, as in [`Normalize`].
    eps: f64,
}

/// Rows per block of the backward pass: the blocks' parameter-gradient sums are added in
/// order, so results do not depend on the thread count; small enough that a batch of
/// tokens still spreads over the threads.
const ROWS_PER_BLOCK: usize = 256;

/// The feature count, checked against both parameters.
fn affine_features(lx: &Layout, lw: &Layout, lb: &Layout, op: &str) -> Result<usize> {
    let features = *lx.dims().last().unwrap_or(&0);
    if lw.dims() != [features] || lb.dims() != [features] || features == 0 {
        candle_core::bail!(
            "{op}: parameters of shapes {:?} and {:?} do not fit {features} features",
            lw.dims(),
            lb.dims()
        );
    }
    Ok(features)
}

fn affine_forward<T: Float>(x: &[T], w: &[T], b: &[T], eps: f64) -> Vec<T> {
    let features = w.len();
    map_rows(x.len(), features, |out, r| {
        let row = &x[r * features..(r + 1) * features];
        let (mean, rstd) = moments(row, eps);
        for (((o, &v), &scale), &shift) in out.iter_mut().zip(row).zip(w).zip(b) {
            *o = (v - mean) * rstd * scale + shift;
        }
    })
}

/// `[dx (rows · features) | dweight (features) | dbias (features)]` in one buffer.
fn affine_backward<T: Float>(x: &[T], w: &[T], dy: &[T], eps: f64) -> Vec<T> {
    let features = w.len();
    let mut out = vec![T::zero(); x.len() + 2 * features];
    let (dx, params) = out.split_at_mut(x.len());
    let block = ROWS_PER_BLOCK * features;
    let partials: Vec<Vec<T>> = dx
        .par_chunks_mut(block)
        .enumerate()
        .map(|(index, dx_block)| {
            let mut sums = vec![T::zero(); 2 * features];
            let mut dnormalized = vec![T::zero(); features];
            for (r, dx_row) in dx_block.chunks_mut(features).enumerate() {
                let span = index * block + r * features..index * block + (r + 1) * features;
                let (row, grad) = (&x[span.clone()], &dy[span]);
                let (mean, rstd) = moments(row, eps);
                let (dw, db) = sums.split_at_mut(features);
                for (j, (&v, &g)) in row.iter().zip(grad).enumerate() {
                    dnormalized[j] = g * w[j];
                    dw[j] += g * (v - mean) * rstd;
                    db[j] += g;
                }
                backward(row, &dnormalized, dx_row, eps);
            }
            sums
        })
        .collect();
    for sums in partials {
        for (total, part) in params.iter_mut().zip(sums) {
            *total += part;
        }
    }
    out
}

impl CustomOp3 for AffineNormalize {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        affine_features(lx, lw, lb, op)?;
        let out = match (x, w, b) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => {
                CpuStorage::F32(affine_forward(
                    contiguous(x, lx, op)?,
                    contiguous(w, lw, op)?,
                    contiguous(b, lb, op)?,
                    self.eps,
                ))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => {
                CpuStorage::F64(affine_forward(
                    contiguous(x, lx, op)?,
                    contiguous(w, lw, op)?,
                    contiguous(b, lb, op)?,
                    self.eps,
                ))
            }
            _ => candle_core::bail!("{op}: inputs must all be f32 or all f64"),
        };
        Ok((out, lx.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let features = weight.elem_count();
        let rows_len = x.elem_count();
        let packed = x.detach().apply_op3_no_bwd(
            &weight.detach(),
            &grad.detach().contiguous()?,
            &AffineNormalizeBackward { eps: self.eps },
        )?;
        Ok((
            Some(packed.narrow(0, 0, rows_len)?.reshape(x.shape())?),
            Some(packed.narrow(0, rows_len, features)?),
            Some(packed.narrow(0, rows_len + features, features)?),
        ))
    }
}

struct AffineNormalizeBackward {
    /// The forward op's, to recompute its statistics.
    eps: f64,
}

impl CustomOp3 for AffineNormalizeBackward {
    fn name(&self) -> &'static str {
        "layer-norm-backward"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
        dy: &CpuStorage,
        ldy: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        if lx.shape() != ldy.shape() {
            candle_core::bail!("{op}: gradient of shape {:?}", ldy.dims());
        }
        let features = affine_features(lx, lw, lw, op)?;
        let out = match (x, w, dy) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(dy)) => {
                CpuStorage::F32(affine_backward(
                    contiguous(x, lx, op)?,
                    contiguous(w, lw, op)?,
                    contiguous(dy, ldy, op)?,
                    self.eps,
                ))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(dy)) => {
                CpuStorage::F64(affine_backward(
                    contiguous(x, lx, op)?,
                    contiguous(w, lw, op)?,
                    contiguous(dy, ldy, op)?,
                    self.eps,
                ))
            }
            _ => candle_core::bail!("{op}: inputs must all be f32 or all f64"),
        };
        Ok((out, Shape::from(lx.shape().elem_count() + 2 * features)))
    }
}
