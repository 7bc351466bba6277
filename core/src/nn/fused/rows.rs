//! Shared plumbing of the fused ops: contiguous slices out of candle's CPU storage, and a
//! float trait so each kernel is written once for `f32` and `f64`.

use candle_core::{CpuStorage, Layout, Result, Shape, bail};
use rayon::prelude::*;

use super::fast_math;

/// The float types the kernels run on: `f32` for training, `f64` for gradient checks.
pub trait Float:
    num_traits::Float + Send + Sync + std::iter::Sum + std::ops::AddAssign + 'static
{
    fn of(x: f64) -> Self;

    /// `tanh`: vectorisable in `f32` ([`fast_math::tanh`]), exact in `f64`.
    fn fast_tanh(self) -> Self;

    /// `exp` of `x ≤ 0`: vectorisable in `f32` ([`fast_math::exp_nonpositive`]), exact in
    /// `f64`.
    fn fast_exp_nonpositive(self) -> Self;
}

impl Float for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }

    #[inline(always)]
    fn fast_tanh(self) -> Self {
        fast_math::tanh(self)
    }

    #[inline(always)]
    fn fast_exp_nonpositive(self) -> Self {
        fast_math::exp_nonpositive(self)
    }
}

impl Float for f64 {
    fn of(x: f64) -> Self {
        x
    }

    #[inline(always)]
    fn fast_tanh(self) -> Self {
        self.tanh()
    }

    #[inline(always)]
    fn fast_exp_nonpositive(self) -> Self {
        self.exp()
    }
}

/// Partial sums a reduction keeps apart: one chain of float additions cannot be vectorised
/// (float addition is not associative, so the compiler keeps the order written), this many
/// independent chains can.
const LANES: usize = 16;

/// `Σ f(a[i], b[i])` over two equally long rows, in [`LANES`] interleaved partial sums so
/// the compiler vectorises it. The order is fixed, so results do not depend on threads.
#[inline(always)]
pub fn sum_pairs<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: T = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    let mut lanes = [T::zero(); LANES];
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(ca).zip(cb) {
            *lane += f(x, y);
        }
    }
    lanes.iter().copied().sum::<T>() + tail
}

/// `Σ f(a[i])`, vectorised as [`sum_pairs`].
#[inline(always)]
pub fn sum_by<T: Float>(a: &[T], f: impl Fn(T) -> T) -> T {
    sum_pairs(a, a, |x, _| f(x))
}

/// The largest element (−∞ for an empty row), in [`LANES`] partial maxima.
#[inline(always)]
pub fn max<T: Float>(a: &[T]) -> T {
    let chunks = a.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(T::neg_infinity(), T::max);
    let mut lanes = [T::neg_infinity(); LANES];
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(x);
        }
    }
    lanes.iter().copied().fold(tail, T::max)
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

#[cfg(test)]
mod tests {
    use super::{max, sum_by, sum_pairs};

    /// Lengths below, at and past one and two chunks of lanes, so the tail is exercised.
    fn rows() -> impl Iterator<Item = Vec<f64>> {
        (0..40).map(|len| (0..len).map(|i| ((i * 37 % 11) as f64) - 4.5).collect())
    }

    #[test]
    fn lane_sums_equal_plain_sums_at_every_length() {
        for a in rows() {
            let b: Vec<f64> = a.iter().map(|v| v * 0.5 + 1.0).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(sum_pairs(&a, &b, |x, y| x * y), plain, "length {}", a.len());
            assert_eq!(sum_by(&a, |x| x * x), a.iter().map(|x| x * x).sum::<f64>());
        }
    }

    #[test]
    fn lane_maximum_finds_the_largest_element_wherever_it_is() {
        for mut a in rows() {
            assert_eq!(max(&a), a.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            if let Some(last) = a.last_mut() {
                *last = 99.0;
                assert_eq!(max(&a), 99.0, "length {}", a.len());
            }
        }
        assert_eq!(max::<f32>(&[]), f32::NEG_INFINITY);
    }
}
