//! Softmax masks over stems applied to a mixture spectrum, fused: the separator's whole
//! full-resolution tail (softmax over stems, the Nyquist bin taking the mask of the bin
//! below, the reordering to one row per stem and channel, and the complex multiply) in one
//! pass forward and one backward.
//!
//! Written as candle ops, that tail made a dozen passes over tensors of 30+ million
//! elements and its backward a strided reduction over the re/im axis; fused, it runs at
//! memory speed.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::rows::{Float, contiguous};
use super::softmax::softmax_in_place;

/// `logits (batch, frames, bins, channels, stems)` and the mixture `spectrum (batch,
/// channels, frames, bins + 1, 2)` → the stems' spectra `(batch, stems, channels, frames,
/// bins + 1, 2)`: `softmax_stems(logits) · spectrum`, bin `bins` (Nyquist) using the
/// masks of bin `bins − 1`. Only the logits get a gradient.
pub fn apply_stem_masks(logits: &Tensor, spectrum: &Tensor) -> Result<Tensor> {
    let &[batch, frames, bins, channels, stems] = logits.dims() else {
        bail!(
            "apply_stem_masks: logits must be (batch, frames, bins, channels, stems), got {:?}",
            logits.dims()
        );
    };
    let expected = [batch, channels, frames, bins + 1, 2];
    if spectrum.dims() != expected {
        bail!(
            "apply_stem_masks: the spectrum is {:?}, the logits need {expected:?}",
            spectrum.dims()
        );
    }
    let geometry = Geometry {
        batch,
        frames,
        bins,
        channels,
        stems,
    };
    logits
        .contiguous()?
        .apply_op2(&spectrum.contiguous()?, StemMasks(geometry))
}

#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    frames: usize,
    bins: usize,
    channels: usize,
    stems: usize,
}

impl Geometry {
    /// Elements of one output row (one stem and channel of one chunk).
    fn row(&self) -> usize {
        self.frames * (self.bins + 1) * 2
    }

    /// Start of the logits of `(b, t, f, c)`.
    fn logit(&self, b: usize, t: usize, f: usize, c: usize) -> usize {
        (((b * self.frames + t) * self.bins + f) * self.channels + c) * self.stems
    }

    /// Start of the (re, im) pair of `(b, c, t, f)` in the spectrum.
    fn bin(&self, b: usize, c: usize, t: usize, f: usize) -> usize {
        (((b * self.channels + c) * self.frames + t) * (self.bins + 1) + f) * 2
    }
}

/// Softmax of a few logits into `out`.
fn softmax<T: Float>(logits: &[T], out: &mut [T]) {
    out.copy_from_slice(logits);
    softmax_in_place(out);
}

/// Most stems a separator can have (stack buffers for the per-bin softmax).
const MAX_STEMS: usize = 16;

fn forward<T: Float>(logits: &[T], spectrum: &[T], g: Geometry) -> Vec<T> {
    let mut out = vec![T::zero(); g.batch * g.stems * g.channels * g.row()];
    out.par_chunks_mut(g.row())
        .enumerate()
        .for_each(|(row, out)| {
            let (b, s, c) = (
                row / (g.stems * g.channels),
                row / g.channels % g.stems,
                row % g.channels,
            );
            let mut masks = [T::zero(); MAX_STEMS];
            for t in 0..g.frames {
                for f in 0..=g.bins {
                    let at = g.logit(b, t, f.min(g.bins - 1), c);
                    softmax(&logits[at..at + g.stems], &mut masks[..g.stems]);
                    let src = g.bin(b, c, t, f);
                    let dst = (t * (g.bins + 1) + f) * 2;
                    out[dst] = masks[s] * spectrum[src];
                    out[dst + 1] = masks[s] * spectrum[src + 1];
                }
            }
        });
    out
}

/// dlogits = m ⊙ (dm − Σ m·dm), with dm_s = Σ_re,im grad·spectrum over the bin(s) using
/// those logits.
fn backward<T: Float>(logits: &[T], spectrum: &[T], grad: &[T], g: Geometry) -> Vec<T> {
    let per_frame = g.bins * g.channels * g.stems;
    let mut out = vec![T::zero(); g.batch * g.frames * per_frame];
    out.par_chunks_mut(per_frame)
        .enumerate()
        .for_each(|(frame, out)| {
            let (b, t) = (frame / g.frames, frame % g.frames);
            let mut masks = [T::zero(); MAX_STEMS];
            let mut dm = [T::zero(); MAX_STEMS];
            for f in 0..g.bins {
                for c in 0..g.channels {
                    let at = g.logit(b, t, f, c);
                    softmax(&logits[at..at + g.stems], &mut masks[..g.stems]);
                    // The Nyquist bin shares the last bin's masks.
                    let sharing = if f == g.bins - 1 { f..f + 2 } else { f..f + 1 };
                    for (s, d) in dm[..g.stems].iter_mut().enumerate() {
                        *d = T::zero();
                        for bin in sharing.clone() {
                            let src = g.bin(b, c, t, bin);
                            let dst = ((b * g.stems + s) * g.channels + c) * g.row()
                                + (t * (g.bins + 1) + bin) * 2;
                            *d += grad[dst] * spectrum[src] + grad[dst + 1] * spectrum[src + 1];
                        }
                    }
                    let dot = (0..g.stems).map(|s| masks[s] * dm[s]).sum::<T>();
                    let local = at - frame * per_frame;
                    for s in 0..g.stems {
                        out[local + s] = masks[s] * (dm[s] - dot);
                    }
                }
            }
        });
    out
}

struct StemMasks(Geometry);

impl CustomOp2 for StemMasks {
    fn name(&self) -> &'static str {
        "apply-stem-masks"
    }

    fn cpu_fwd(
        &self,
        logits: &CpuStorage,
        ll: &Layout,
        spectrum: &CpuStorage,
        ls: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        if g.stems > MAX_STEMS || g.bins == 0 {
            bail!("apply_stem_masks: between 1 and {MAX_STEMS} stems and at least one bin");
        }
        let out = match (logits, spectrum) {
            (CpuStorage::F32(l), CpuStorage::F32(s)) => CpuStorage::F32(forward(
                contiguous(l, ll, self.name())?,
                contiguous(s, ls, self.name())?,
                g,
            )),
            (CpuStorage::F64(l), CpuStorage::F64(s)) => CpuStorage::F64(forward(
                contiguous(l, ll, self.name())?,
                contiguous(s, ls, self.name())?,
                g,
            )),
            _ => bail!("apply_stem_masks: logits and spectrum must both be f32 or both f64"),
        };
        let shape = Shape::from_dims(&[g.batch, g.stems, g.channels, g.frames, g.bins + 1, 2]);
        Ok((out, shape))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        spectrum: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dlogits =
            logits.apply_op3_no_bwd(spectrum, &grad.contiguous()?, &StemMasksBackward(self.0))?;
        Ok((Some(dlogits), None))
    }
}

struct StemMasksBackward(Geometry);

impl CustomOp3 for StemMasksBackward {
    fn name(&self) -> &'static str {
        "apply-stem-masks-backward"
    }

    fn cpu_fwd(
        &self,
        logits: &CpuStorage,
        ll: &Layout,
        spectrum: &CpuStorage,
        ls: &Layout,
        grad: &CpuStorage,
        lg: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let name = self.name();
        let out = match (logits, spectrum, grad) {
            (CpuStorage::F32(l), CpuStorage::F32(s), CpuStorage::F32(d)) => {
                CpuStorage::F32(backward(
                    contiguous(l, ll, name)?,
                    contiguous(s, ls, name)?,
                    contiguous(d, lg, name)?,
                    g,
                ))
            }
            (CpuStorage::F64(l), CpuStorage::F64(s), CpuStorage::F64(d)) => {
                CpuStorage::F64(backward(
                    contiguous(l, ll, name)?,
                    contiguous(s, ls, name)?,
                    contiguous(d, lg, name)?,
                    g,
                ))
            }
            _ => bail!("{name}: all inputs must be f32 or all f64"),
        };
        Ok((out, ll.shape().clone()))
    }
}
