//! `y = x Wᵀ + b` over the last dimension as one op, forward and backward.
//!
//! As candle ops a linear layer is a reshape, a matmul against a transposed weight, a bias
//! add and another reshape: four graph nodes. candle's backward gives every node's input a
//! zero-filled gradient and adds into it, so each node costs two passes over a
//! `(tokens, features)` buffer and a fresh allocation; with four linear layers per
//! transformer block that was a large share of a training step. Here it is one node whose
//! backward is two `gemm` calls and a column sum.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::affine::column_sums;
use super::rows::{Float, contiguous};

/// `x Wᵀ + b`: `x` is `(…, input)`, `weight` `(output, input)`, `bias` `(output,)`.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (x, weight) = (x.contiguous()?, weight.contiguous()?);
    match bias {
        Some(bias) => x.apply_op3(&weight, &bias.contiguous()?, LinearBias),
        None => x.apply_op2(&weight, Linear),
    }
}

/// Without bias (wav2vec2's convolutions).
struct Linear;

/// With bias.
struct LinearBias;

/// Rows, input and output features of a product, checked.
fn geometry(lx: &Layout, lw: &Layout) -> Result<(usize, usize, usize)> {
    let (dims, weight) = (lx.dims(), lw.dims());
    let input = *dims.last().unwrap_or(&0);
    let &[output, weight_input] = weight else {
        bail!("linear: weight of shape {weight:?} is not a matrix");
    };
    if weight_input != input || input == 0 {
        bail!("linear: input of shape {dims:?} does not fit a weight of shape {weight:?}");
    }
    Ok((lx.shape().elem_count() / input, input, output))
}

/// `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)`, each given as (pointer, row stride,
/// column stride); rayon parallelism as candle's own matmul uses it.
///
/// # Safety
///
/// Pointers and strides must address valid, non-overlapping memory of those sizes.
unsafe fn gemm<T: Float>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const T, usize, usize),
    (rhs, rhs_rs, rhs_cs): (*const T, usize, usize),
) {
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded from the caller; `dst` is a contiguous m × n matrix.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        )
    }
}

fn forward<T: Float>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    rows: usize,
    input: usize,
) -> Vec<T> {
    let output = weight.len() / input;
    let mut y = vec![T::zero(); rows * output];
    if let Some(bias) = bias {
        y.par_chunks_mut(output)
            .for_each(|row| row.copy_from_slice(bias));
    }
    // SAFETY: x is rows × input, weight output × input (read transposed), y rows × output.
    unsafe {
        gemm(
            (rows, output, input),
            y.as_mut_ptr(),
            bias.is_some(),
            (x.as_ptr(), input, 1),
            (weight.as_ptr(), 1, input),
        )
    };
    y
}

/// Runs `kernel` on two `f32` or two `f64` storages.
fn dispatch2(
    a: (&CpuStorage, &Layout),
    b: (&CpuStorage, &Layout),
    op: &str,
    kernel32: impl Fn(&[f32], &[f32]) -> Vec<f32>,
    kernel64: impl Fn(&[f64], &[f64]) -> Vec<f64>,
) -> Result<CpuStorage> {
    Ok(match (a.0, b.0) {
        (CpuStorage::F32(da), CpuStorage::F32(db)) => {
            CpuStorage::F32(kernel32(contiguous(da, a.1, op)?, contiguous(db, b.1, op)?))
        }
        (CpuStorage::F64(da), CpuStorage::F64(db)) => {
            CpuStorage::F64(kernel64(contiguous(da, a.1, op)?, contiguous(db, b.1, op)?))
        }
        _ => bail!("{op}: inputs must all be f32 or all f64"),
    })
}

/// Output shape: the input's with the last dimension replaced.
fn output_shape(lx: &Layout, output: usize) -> Shape {
    let mut dims = lx.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = output;
    }
    Shape::from(dims)
}

/// `dx = dy W` and `dW = dyᵀ x`; the bias gradient is a column sum of `dy`.
fn input_and_weight_grads(x: &Tensor, weight: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor)> {
    let grad = grad.detach().contiguous()?;
    let (x, weight) = (x.detach(), weight.detach());
    let dx = grad
        .apply_op2_no_bwd(&weight, &InputGrad)?
        .reshape(x.shape())?;
    let dw = grad.apply_op2_no_bwd(&x, &WeightGrad)?;
    Ok((dx, dw))
}

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, input, output) = geometry(lx, lw)?;
        let out = dispatch2(
            (x, lx),
            (w, lw),
            self.name(),
            |x, w| forward(x, w, None, rows, input),
            |x, w| forward(x, w, None, rows, input),
        )?;
        Ok((out, output_shape(lx, output)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw) = input_and_weight_grads(x, weight, grad)?;
        Ok((Some(dx), Some(dw)))
    }
}

impl CustomOp3 for LinearBias {
    fn name(&self) -> &'static str {
        "linear-bias"
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
        let (rows, input, output) = geometry(lx, lw)?;
        if lb.dims() != [output] {
            bail!("linear: bias of shape {:?} for {output} outputs", lb.dims());
        }
        let op = self.name();
        let out = match (x, w, b) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => {
                CpuStorage::F32(forward(
                    contiguous(x, lx, op)?,
                    contiguous(w, lw, op)?,
                    Some(contiguous(b, lb, op)?),
                    rows,
                    input,
                ))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => {
                CpuStorage::F64(forward(
                    contiguous(x, lx, op)?,
                    contiguous(w, lw, op)?,
                    Some(contiguous(b, lb, op)?),
                    rows,
                    input,
                ))
            }
            _ => bail!("{op}: inputs must all be f32 or all f64"),
        };
        Ok((out, output_shape(lx, output)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw) = input_and_weight_grads(x, weight, grad)?;
        let db = column_sums(&grad.detach())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// `dx = dy W`: `(rows, output)` times `(output, input)`, flat `(rows, input)`.
struct InputGrad;

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "linear-input-grad"
    }

    fn cpu_fwd(
        &self,
        dy: &CpuStorage,
        ldy: &Layout,
        w: &CpuStorage,
        lw: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let &[output, input] = lw.dims() else {
            bail!("{}: weight is not a matrix", self.name());
        };
        let rows = ldy.shape().elem_count() / output.max(1);
        fn run<T: Float>(
            dy: &[T],
            w: &[T],
            (rows, input, output): (usize, usize, usize),
        ) -> Vec<T> {
            let mut dx = vec![T::zero(); rows * input];
            // SAFETY: dy is rows × output, w output × input, dx rows × input.
            unsafe {
                gemm(
                    (rows, input, output),
                    dx.as_mut_ptr(),
                    false,
                    (dy.as_ptr(), output, 1),
                    (w.as_ptr(), input, 1),
                )
            };
            dx
        }
        let sizes = (rows, input, output);
        let out = dispatch2(
            (dy, ldy),
            (w, lw),
            self.name(),
            |dy, w| run(dy, w, sizes),
            |dy, w| run(dy, w, sizes),
        )?;
        Ok((out, Shape::from((rows, input))))
    }
}

/// `dW = dyᵀ x`: `(output, rows)` times `(rows, input)`.
struct WeightGrad;

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "linear-weight-grad"
    }

    fn cpu_fwd(
        &self,
        dy: &CpuStorage,
        ldy: &Layout,
        x: &CpuStorage,
        lx: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let output = *ldy.dims().last().unwrap_or(&1);
        let input = *lx.dims().last().unwrap_or(&1);
        let rows = lx.shape().elem_count() / input.max(1);
        fn run<T: Float>(
            dy: &[T],
            x: &[T],
            (rows, input, output): (usize, usize, usize),
        ) -> Vec<T> {
            let mut dw = vec![T::zero(); output * input];
            // SAFETY: dy is rows × output (read transposed), x rows × input, dw output × input.
            unsafe {
                gemm(
                    (output, input, rows),
                    dw.as_mut_ptr(),
                    false,
                    (dy.as_ptr(), 1, output),
                    (x.as_ptr(), input, 1),
                )
            };
            dw
        }
        let sizes = (rows, input, output);
        let out = dispatch2(
            (dy, ldy),
            (x, lx),
            self.name(),
            |dy, x| run(dy, x, sizes),
            |dy, x| run(dy, x, sizes),
        )?;
        Ok((out, Shape::from((output, input))))
    }
}
