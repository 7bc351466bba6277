//! Instance normalisation over time for channels-last sequences, fused.
//!
//! Written as transpose → normalise the last dimension → transpose back, it cost four
//! strided copies of the tensor per training step (two forward, two backward); on the
//! wav2vec2 feature encoder's first layer, `(batch, 6399 frames, channels)`, those copies
//! were 8 % of a WavJEPA step. Here each sequence is normalised in place of its layout.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::rows::{Float, contiguous};

/// Normalises every channel of every sequence over time: `(batch, time, channels)` in and
/// out, `(x − mean) / sqrt(var + eps)` with statistics over `time`.
pub fn normalize_time(x: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(NormalizeTime { eps })
}

struct NormalizeTime {
    /// Added to the variance (1e-5, PyTorch's instance-norm default, from the caller).
    eps: f64,
}

/// Frames and channels of one sequence, checked.
fn geometry(dims: &[usize], op: &str) -> Result<(usize, usize)> {
    match dims {
        &[_, time, channels] if time > 0 && channels > 0 => Ok((time, channels)),
        _ => bail!("{op}: expected a non-empty (batch, time, channels), got {dims:?}"),
    }
}

/// Per-channel mean and reciprocal standard deviation of one `(time, channels)` sequence.
fn moments<T: Float>(x: &[T], channels: usize, eps: f64) -> (Vec<T>, Vec<T>) {
    let n = T::of((x.len() / channels) as f64);
    let mut mean = vec![T::zero(); channels];
    for frame in x.chunks(channels) {
        for (m, &v) in mean.iter_mut().zip(frame) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m = *m / n);
    let mut var = vec![T::zero(); channels];
    for frame in x.chunks(channels) {
        for ((s, &v), &m) in var.iter_mut().zip(frame).zip(&mean) {
            *s += (v - m) * (v - m);
        }
    }
    let rstd = var
        .iter()
        .map(|&s| T::one() / (s / n + T::of(eps)).sqrt())
        .collect();
    (mean, rstd)
}

fn forward<T: Float>(x: &[T], (time, channels): (usize, usize), eps: f64) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    out.par_chunks_mut(time * channels)
        .zip(x.par_chunks(time * channels))
        .for_each(|(out, x)| {
            let (mean, rstd) = moments(x, channels, eps);
            for (o_frame, x_frame) in out.chunks_mut(channels).zip(x.chunks(channels)) {
                for (((o, &v), &m), &r) in o_frame.iter_mut().zip(x_frame).zip(&mean).zip(&rstd) {
                    *o = (v - m) * r;
                }
            }
        });
    out
}

/// dx = rstd · (dy − mean(dy) − y · mean(dy · y)) per channel, over time, y recomputed.
fn backward<T: Float>(x: &[T], dy: &[T], (time, channels): (usize, usize), eps: f64) -> Vec<T> {
    let n = T::of(time as f64);
    let mut dx = vec![T::zero(); x.len()];
    dx.par_chunks_mut(time * channels)
        .zip(
            x.par_chunks(time * channels)
                .zip(dy.par_chunks(time * channels)),
        )
        .for_each(|(dx, (x, dy))| {
            let (mean, rstd) = moments(x, channels, eps);
            let (mut sum_dy, mut sum_dy_y) = (vec![T::zero(); channels], vec![T::zero(); channels]);
            for (x_frame, g_frame) in x.chunks(channels).zip(dy.chunks(channels)) {
                for c in 0..channels {
                    sum_dy[c] += g_frame[c];
                    sum_dy_y[c] += g_frame[c] * (x_frame[c] - mean[c]) * rstd[c];
                }
            }
            for ((d_frame, x_frame), g_frame) in dx
                .chunks_mut(channels)
                .zip(x.chunks(channels))
                .zip(dy.chunks(channels))
            {
                for c in 0..channels {
                    let y = (x_frame[c] - mean[c]) * rstd[c];
                    d_frame[c] = rstd[c] * (g_frame[c] - sum_dy[c] / n - y * (sum_dy_y[c] / n));
                }
            }
        });
    dx
}

impl CustomOp1 for NormalizeTime {
    fn name(&self) -> &'static str {
        "normalize-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let sizes = geometry(layout.dims(), self.name())?;
        let out = match storage {
            CpuStorage::F32(d) => CpuStorage::F32(forward(
                contiguous(d, layout, self.name())?,
                sizes,
                self.eps,
            )),
            CpuStorage::F64(d) => CpuStorage::F64(forward(
                contiguous(d, layout, self.name())?,
                sizes,
                self.eps,
            )),
            _ => bail!("{}: only f32 and f64 are supported", self.name()),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.detach().contiguous()?;
        Ok(Some(arg.detach().apply_op2_no_bwd(
            &grad,
            &NormalizeTimeBackward { eps: self.eps },
        )?))
    }
}

struct NormalizeTimeBackward {
    /// The forward op's, to recompute its statistics.
    eps: f64,
}

impl CustomOp2 for NormalizeTimeBackward {
    fn name(&self) -> &'static str {
        "normalize-time-backward"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        dy: &CpuStorage,
        ldy: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let sizes = geometry(lx.dims(), op)?;
        if lx.shape() != ldy.shape() {
            bail!("{op}: gradient of shape {:?}", ldy.dims());
        }
        let out = match (x, dy) {
            (CpuStorage::F32(x), CpuStorage::F32(dy)) => CpuStorage::F32(backward(
                contiguous(x, lx, op)?,
                contiguous(dy, ldy, op)?,
                sizes,
                self.eps,
            )),
            (CpuStorage::F64(x), CpuStorage::F64(dy)) => CpuStorage::F64(backward(
                contiguous(x, lx, op)?,
                contiguous(dy, ldy, op)?,
                sizes,
                self.eps,
            )),
            _ => bail!("{op}: both inputs must be f32 or both f64"),
        };
        Ok((out, lx.shape().clone()))
    }
}
