//! Per-feature shift and scale over the last dimension (Linear's bias, LayerNorm's affine),
//! with backward passes whose parameter gradients are column sums in one parallel pass.
//!
//! candle's own `broadcast_add`/`broadcast_mul` backward reduces the gradient over the
//! broadcast rows with its generic strided reduction, measured 10× slower than a
//! `ones · grad` matmul on 262 144 × 64 (a separator batch at its first block's
//! resolution), which made those reductions a large share of a training step. The sums
//! here are a plain blocked pass instead (a matmul's reduction order depends on threads).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::rows::{Float, contiguous, map_rows};

/// `x + bias` with `bias` of shape `(features,)` broadcast over every row of `x`.
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&bias.contiguous()?, AddBias)
}

/// `x · weight` with `weight` of shape `(features,)` broadcast over every row of `x`.
pub fn scale_columns(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&weight.contiguous()?, ScaleColumns)
}

/// Sum over all rows of a `(…, features)` tensor: `(features,)`. Rows are summed in
/// fixed blocks, in parallel, and the block sums added in order, so the result does not
/// depend on the thread count (a resumed run must repeat its updates bit for bit).
pub(super) fn column_sums(grad: &Tensor) -> Result<Tensor> {
    let features = grad.dim(candle_core::D::Minus1)?;
    grad.contiguous()?
        .apply_op1_no_bwd(&ColumnSums)?
        .reshape(features)
}

/// Rows per block of [`column_sums`].
const ROWS_PER_BLOCK: usize = 4096;

fn sum_columns<T: Float>(x: &[T], features: usize) -> Vec<T> {
    let blocks: Vec<Vec<T>> = x
        .par_chunks(ROWS_PER_BLOCK * features)
        .map(|block| {
            let mut sums = vec![T::zero(); features];
            for row in block.chunks(features) {
                for (s, &v) in sums.iter_mut().zip(row) {
                    *s += v;
                }
            }
            sums
        })
        .collect();
    let mut total = vec![T::zero(); features];
    for block in blocks {
        for (t, v) in total.iter_mut().zip(block) {
            *t += v;
        }
    }
    total
}

struct ColumnSums;

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "column-sums"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let features = *layout.dims().last().unwrap_or(&1);
        let out = match storage {
            CpuStorage::F32(d) => {
                CpuStorage::F32(sum_columns(contiguous(d, layout, self.name())?, features))
            }
            CpuStorage::F64(d) => {
                CpuStorage::F64(sum_columns(contiguous(d, layout, self.name())?, features))
            }
            _ => bail!("{}: only f32 and f64 are supported", self.name()),
        };
        Ok((out, Shape::from_dims(&[features])))
    }
}

/// Applies `combine(x, parameter)` elementwise, the parameter indexed by feature.
fn broadcast_rows(
    x: &CpuStorage,
    lx: &Layout,
    p: &CpuStorage,
    lp: &Layout,
    op: &str,
    // Closures, not `fn` pointers: a pointer call per element kept the loop from being
    // inlined and vectorised (6 % of a JEPA step while linear biases went through here).
    combine32: impl Fn(f32, f32) -> f32 + Sync,
    combine64: impl Fn(f64, f64) -> f64 + Sync,
) -> Result<(CpuStorage, Shape)> {
    let features = *lx.dims().last().unwrap_or(&1);
    if lp.dims() != [features] {
        bail!(
            "{op}: parameter of shape {:?} does not fit {features} features",
            lp.dims()
        );
    }
    fn run<T: Float>(
        x: &[T],
        p: &[T],
        features: usize,
        combine: impl Fn(T, T) -> T + Sync,
    ) -> Vec<T> {
        map_rows(x.len(), features, |out, r| {
            let row = &x[r * features..(r + 1) * features];
            for ((o, &v), &q) in out.iter_mut().zip(row).zip(p) {
                *o = combine(v, q);
            }
        })
    }
    let out = match (x, p) {
        (CpuStorage::F32(dx), CpuStorage::F32(dp)) => CpuStorage::F32(run(
            contiguous(dx, lx, op)?,
            contiguous(dp, lp, op)?,
            features,
            combine32,
        )),
        (CpuStorage::F64(dx), CpuStorage::F64(dp)) => CpuStorage::F64(run(
            contiguous(dx, lx, op)?,
            contiguous(dp, lp, op)?,
            features,
            combine64,
        )),
        _ => bail!("{op}: both inputs must be f32 or both f64"),
    };
    Ok((out, lx.shape().clone()))
}

struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "add-bias"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        bias: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        broadcast_rows(x, lx, bias, lb, self.name(), |a, b| a + b, |a, b| a + b)
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.detach()), Some(column_sums(&grad.detach())?)))
    }
}

struct ScaleColumns;

impl CustomOp2 for ScaleColumns {
    fn name(&self) -> &'static str {
        "scale-columns"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        weight: &CpuStorage,
        lw: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        broadcast_rows(x, lx, weight, lw, self.name(), |a, b| a * b, |a, b| a * b)
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // Detached: gradients must not carry a graph, or whoever keeps them (an optimiser's
        // moments) keeps the whole forward pass alive.
        let grad = grad.detach().contiguous()?;
        let dx = scale_columns(&grad, &weight.detach())?;
        let dw = column_sums(&(&grad * x.detach())?)?;
        Ok((Some(dx), Some(dw)))
    }
}
