//! Sliding windows over time (im2col for a strided 1D convolution), fused.
//!
//! A channels-last conv1d becomes `unfold_time` followed by one matmul: the matmul is
//! candle's fastest CPU op and has a correct backward, unlike candle's `conv1d`.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::rows::{Float, map_storage};

/// `(batch, time, channels)` → `(batch, windows, kernel · channels)`, where window `w`
/// holds frames `w·stride .. w·stride + kernel` laid out frame after frame.
pub fn unfold_time(x: &Tensor, kernel: usize, stride: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Unfold { kernel, stride })
}

struct Unfold {
    kernel: usize,
    stride: usize,
}

/// Batch, input frames, channels and output windows of an unfold, checked.
fn geometry(dims: &[usize], kernel: usize, stride: usize) -> Result<(usize, usize, usize, usize)> {
    let &[batch, frames, channels] = dims else {
        bail!("unfold_time: expected (batch, time, channels), got {dims:?}");
    };
    if kernel == 0 || stride == 0 || frames < kernel {
        bail!("unfold_time: {frames} frames cannot hold a window of {kernel} (stride {stride})");
    }
    Ok((batch, frames, channels, (frames - kernel) / stride + 1))
}

fn forward<T: Float>(
    x: &[T],
    dims: (usize, usize, usize, usize),
    kernel: usize,
    stride: usize,
) -> Vec<T> {
    let (batch, frames, channels, windows) = dims;
    let width = kernel * channels;
    let mut out = vec![T::zero(); batch * windows * width];
    out.par_chunks_mut(windows * width)
        .enumerate()
        .for_each(|(b, out_b)| {
            let x_b = &x[b * frames * channels..(b + 1) * frames * channels];
            for (w, row) in out_b.chunks_mut(width).enumerate() {
                let start = w * stride * channels;
                row.copy_from_slice(&x_b[start..start + width]);
            }
        });
    out
}

/// Adds every window's gradient back onto the frames it was cut from.
fn backward<T: Float>(
    dy: &[T],
    dims: (usize, usize, usize, usize),
    kernel: usize,
    stride: usize,
) -> Vec<T> {
    let (batch, frames, channels, windows) = dims;
    let width = kernel * channels;
    let mut dx = vec![T::zero(); batch * frames * channels];
    dx.par_chunks_mut(frames * channels)
        .enumerate()
        .for_each(|(b, dx_b)| {
            let dy_b = &dy[b * windows * width..(b + 1) * windows * width];
            for (w, row) in dy_b.chunks(width).enumerate() {
                let start = w * stride * channels;
                for (d, &g) in dx_b[start..start + width].iter_mut().zip(row) {
                    *d += g;
                }
            }
        });
    dx
}

impl CustomOp1 for Unfold {
    fn name(&self) -> &'static str {
        "unfold-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = geometry(layout.dims(), self.kernel, self.stride)?;
        let (batch, _, channels, windows) = dims;
        let out = map_storage(
            storage,
            layout,
            self.name(),
            |x| forward(x, dims, self.kernel, self.stride),
            |x| forward(x, dims, self.kernel, self.stride),
        )?;
        Ok((out, Shape::from((batch, windows, self.kernel * channels))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let fold = Fold {
            input_dims: arg.dims().to_vec(),
            kernel: self.kernel,
            stride: self.stride,
        };
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&fold)?))
    }
}

/// The adjoint of [`Unfold`]: overlapping windows summed back into frames.
struct Fold {
    input_dims: Vec<usize>,
    kernel: usize,
    stride: usize,
}

impl CustomOp1 for Fold {
    fn name(&self) -> &'static str {
        "unfold-time-backward"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = geometry(&self.input_dims, self.kernel, self.stride)?;
        let out = map_storage(
            storage,
            layout,
            self.name(),
            |x| backward(x, dims, self.kernel, self.stride),
            |x| backward(x, dims, self.kernel, self.stride),
        )?;
        Ok((out, Shape::from(self.input_dims.clone())))
    }
}
