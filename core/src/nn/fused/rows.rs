//! Shared plumbing of the fused ops: contiguous slices out of candle's CPU storage, and a
//! float trait so each kernel is written once for `f32` and `f64`.

use candle_core::{CpuStorage, Layout, Result, Shape, bail};
use rayon::prelude::*;

/// The float types the kernels run on: `f32` for training, `f64` for gradient checks.
pub trait Float:
    num_traits::Float + Send + Sync + std::iter::Sum + std::ops::AddAssign + 'static
{
    fn of(x: f64) -> Self;
}

impl Float for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
}

impl Float for f64 {
    fn of(x: f64) -> Self {
        x
    }
}

/// The contiguous elements a layout addresses, or an error naming the op.
pub fn contiguous<'a, T>(data: &'a [T], layout: &Layout, op: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// Runs the `f32` or `f64` kernel on contiguous storage.
pub fn map_storage(
    storage: &CpuStorage,
    layout: &Layout,
    op: &str,
    kernel32: impl Fn(&[f32]) -> Vec<f32>,
    kernel64: impl Fn(&[f64]) -> Vec<f64>,
) -> Result<CpuStorage> {
    Ok(match storage {
        CpuStorage::F32(d) => CpuStorage::F32(kernel32(contiguous(d, layout, op)?)),
        CpuStorage::F64(d) => CpuStorage::F64(kernel64(contiguous(d, layout, op)?)),
        _ => bail!("{op}: only f32 and f64 are supported"),
    })
}

/// Rows smaller than this are batched into one rayon task, so tiny rows do not drown in
/// scheduling overhead.
const ELEMENTS_PER_TASK: usize = 16 * 1024;

/// Maps every row of length `row` of `inputs` to the matching row of a new output buffer.
/// `kernel(out_row, row_index)` sees the output row; inputs are captured by the closure.
pub fn map_rows<T: Float>(
    len: usize,
    row: usize,
    kernel: impl Fn(&mut [T], usize) + Send + Sync,
) -> Vec<T> {
    let mut out = vec![T::zero(); len];
    let rows_per_task = (ELEMENTS_PER_TASK / row.max(1)).max(1);
    out.par_chunks_mut(rows_per_task * row)
        .enumerate()
        .for_each(|(task, chunk)| {
            for (i, out_row) in chunk.chunks_mut(row).enumerate() {
                kernel(out_row, task * rows_per_task + i);
            }
        });
    out
}

/// Applies a unary row kernel to `f32` or `f64` storage and wraps the result.
pub fn unary_rows(
    storage: &CpuStorage,
    layout: &Layout,
    op: &str,
    kernel32: impl Fn(&[f32], &mut [f32]) + Send + Sync,
    kernel64: impl Fn(&[f64], &mut [f64]) + Send + Sync,
) -> Result<(CpuStorage, Shape)> {
    let row = *layout.dims().last().unwrap_or(&1);
    let shape = layout.shape().clone();
    let out = match storage {
        CpuStorage::F32(data) => {
            let x = contiguous(data, layout, op)?;
            CpuStorage::F32(map_rows(x.len(), row, |o, r| {
                kernel32(&x[r * row..(r + 1) * row], o)
            }))
        }
        CpuStorage::F64(data) => {
            let x = contiguous(data, layout, op)?;
            CpuStorage::F64(map_rows(x.len(), row, |o, r| {
                kernel64(&x[r * row..(r + 1) * row], o)
            }))
        }
        _ => bail!("{op}: only f32 and f64 are supported"),
    };
    Ok((out, shape))
}

/// Applies a binary row kernel (two inputs of the same shape) to `f32` or `f64` storage.
#[allow(clippy::too_many_arguments)]
pub fn binary_rows(
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
    op: &str,
    kernel32: impl Fn(&[f32], &[f32], &mut [f32]) + Send + Sync,
    kernel64: impl Fn(&[f64], &[f64], &mut [f64]) + Send + Sync,
) -> Result<(CpuStorage, Shape)> {
    if la.shape() != lb.shape() {
        bail!("{op}: shapes differ ({:?} vs {:?})", la.shape(), lb.shape());
    }
    let row = *la.dims().last().unwrap_or(&1);
    let shape = la.shape().clone();
    let out = match (a, b) {
        (CpuStorage::F32(da), CpuStorage::F32(db)) => {
            let (x, y) = (contiguous(da, la, op)?, contiguous(db, lb, op)?);
            CpuStorage::F32(map_rows(x.len(), row, |o, r| {
                let span = r * row..(r + 1) * row;
                kernel32(&x[span.clone()], &y[span], o)
            }))
        }
        (CpuStorage::F64(da), CpuStorage::F64(db)) => {
            let (x, y) = (contiguous(da, la, op)?, contiguous(db, lb, op)?);
            CpuStorage::F64(map_rows(x.len(), row, |o, r| {
                let span = r * row..(r + 1) * row;
                kernel64(&x[span.clone()], &y[span], o)
            }))
        }
        _ => bail!("{op}: both inputs must be f32 or both f64"),
    };
    Ok((out, shape))
}
