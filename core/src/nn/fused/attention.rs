//! Multi-head scaled dot-product attention straight from the packed `q | k | v`
//! projection, fused, for training (no attention weights kept).
//!
//! Done with candle ops, every block split the projection into heads with a permute and
//! three contiguous copies, scaled the queries, and merged the heads back with another
//! copy; backward, each of the three head slices became a zero-padded full-size gradient,
//! and candle accumulated those into the projection's gradient (a zero fill and an add
//! each). That bookkeeping cost more than the attention matmuls. Here each (sample, head)
//! pair is a few strided `gemm` calls reading and writing the packed rows in place, and
//! the backward recomputes the softmax instead of keeping `(batch, heads, tokens, tokens)`
//! weights alive between the passes.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::rows::{Float, contiguous, sum_pairs};
use super::softmax::softmax_in_place;

/// `softmax(q kᵀ / √head_dim) v` per head, heads concatenated: `qkv` is
/// `(batch, tokens, 3 · dim)` laid out as `[q | k | v]`, each `heads × head_dim`; returns
/// `(batch, tokens, dim)`.
pub fn attention(qkv: &Tensor, heads: usize) -> Result<Tensor> {
    qkv.contiguous()?.apply_op1(Attention { heads })
}

struct Attention {
    /// Heads the packed width splits into.
    heads: usize,
}

/// Sizes of one attention call.
#[derive(Clone, Copy)]
struct Geometry {
    /// Sequences, each attended to independently.
    batch: usize,
    /// Sequence length: queries and keys alike.
    tokens: usize,
    /// Model width (`heads · head_dim`); a packed row is `3 · dim` long.
    dim: usize,
    /// Independent attention maps per sequence.
    heads: usize,
    /// Width of one head's queries, keys and values.
    head_dim: usize,
}

impl Geometry {
    fn of(dims: &[usize], heads: usize) -> Result<Self> {
        let &[batch, tokens, packed] = dims else {
            bail!("attention: expected (batch, tokens, 3·dim), got {dims:?}");
        };
        if heads == 0 || !packed.is_multiple_of(3 * heads) || tokens == 0 {
            bail!("attention: a row of {packed} does not split into q, k, v of {heads} heads");
        }
        let dim = packed / 3;
        Ok(Self {
            batch,
            tokens,
            dim,
            heads,
            head_dim: dim / heads,
        })
    }

    /// Offset of sample `b`'s packed rows.
    fn sample(&self, b: usize) -> usize {
        b * self.tokens * 3 * self.dim
    }

    /// Offset of head `h` of part `part` (0 = q, 1 = k, 2 = v) within a packed row.
    fn part(&self, part: usize, h: usize) -> usize {
        part * self.dim + h * self.head_dim
    }

    fn scale(&self) -> f64 {
        1.0 / (self.head_dim as f64).sqrt()
    }
}

/// A matrix in memory: pointer, row stride, column stride (elements).
#[derive(Clone, Copy)]
struct Matrix<T> {
    /// First element.
    ptr: *const T,
    /// Elements between consecutive rows (a packed row for q, k and v).
    rows: isize,
    /// Elements between consecutive columns (swapped with `rows` to transpose for free).
    cols: isize,
}

impl<T> Matrix<T> {
    fn new(ptr: *const T, rows: usize, cols: usize) -> Self {
        Self {
            ptr,
            rows: rows as isize,
            cols: cols as isize,
        }
    }

    fn t(self) -> Self {
        Self {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
        }
    }
}

/// An output buffer shared by rayon tasks that write disjoint elements of it.
#[derive(Clone, Copy)]
struct Shared<T>(
    /// Start of the output buffer.
    *mut T,
);

impl<T> Shared<T> {
    /// A method, so closures capture the whole (Sync) wrapper, not the raw pointer field.
    fn ptr(self) -> *mut T {
        self.0
    }
}

// SAFETY: every task writes only its own (sample, head) columns; see the callers.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

/// `dst = beta · lhs · rhs` (`m × k` times `k × n`), single-threaded: the callers already
/// run one (sample, head) pair per rayon task.
///
/// # Safety
///
/// Every pointer with its strides must address valid memory for the given sizes, and
/// `dst` must not overlap the inputs or memory another thread touches.
unsafe fn matmul<T: Float>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_rows: usize,
    lhs: Matrix<T>,
    rhs: Matrix<T>,
    beta: T,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rows as isize,
            false,
            lhs.ptr,
            lhs.cols,
            lhs.rows,
            rhs.ptr,
            rhs.cols,
            rhs.rows,
            T::zero(),
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `scores ← softmax(scale · q kᵀ)` row by row, for sample `b`, head `h`.
///
/// # Safety
///
/// `qkv` must hold the packed rows `g` describes.
unsafe fn probabilities<T: Float>(qkv: &[T], g: &Geometry, b: usize, h: usize, scores: &mut [T]) {
    let t = g.tokens;
    let row = 3 * g.dim;
    let base = qkv[g.sample(b)..].as_ptr();
    // SAFETY: q and k of sample b lie inside `qkv`; `scores` is t × t.
    unsafe {
        let q = Matrix::new(base.add(g.part(0, h)), row, 1);
        let k = Matrix::new(base.add(g.part(1, h)), row, 1);
        matmul(
            (t, t, g.head_dim),
            scores.as_mut_ptr(),
            t,
            q,
            k.t(),
            T::of(g.scale()),
        );
    }
    scores.chunks_mut(t).for_each(softmax_in_place);
}

fn forward<T: Float>(qkv: &[T], g: Geometry) -> Vec<T> {
    let (t, dim) = (g.tokens, g.dim);
    let mut out = vec![T::zero(); g.batch * t * dim];
    let shared = Shared(out.as_mut_ptr());
    (0..g.batch * g.heads).into_par_iter().for_each_init(
        || vec![T::zero(); t * t],
        |scores, unit| {
            let (b, h) = (unit / g.heads, unit % g.heads);
            // SAFETY: `qkv` holds the packed rows of `g`; unit (b, h) writes only the
            // head-h columns of sample b's output rows, which no other unit touches.
            unsafe {
                probabilities(qkv, &g, b, h, scores);
                let v = qkv[g.sample(b) + g.part(2, h)..].as_ptr();
                matmul(
                    (t, g.head_dim, t),
                    shared.ptr().add(b * t * dim + h * g.head_dim),
                    dim,
                    Matrix::new(scores.as_ptr(), t, 1),
                    Matrix::new(v, 3 * dim, 1),
                    T::one(),
                );
            }
        },
    );
    out
}

/// Gradient of the packed projection from the output gradient `grad` `(batch, tokens, dim)`.
fn backward<T: Float>(qkv: &[T], grad: &[T], g: Geometry) -> Vec<T> {
    let (t, dim, hd) = (g.tokens, g.dim, g.head_dim);
    let row = 3 * dim;
    let mut dqkv = vec![T::zero(); qkv.len()];
    let shared = Shared(dqkv.as_mut_ptr());
    (0..g.batch * g.heads).into_par_iter().for_each_init(
        || (vec![T::zero(); t * t], vec![T::zero(); t * t]),
        |(p, dp), unit| {
            let (b, h) = (unit / g.heads, unit % g.heads);
            // SAFETY: as in `forward`; unit (b, h) writes only the head-h columns of q, k
            // and v in sample b's rows of `dqkv`.
            unsafe {
                probabilities(qkv, &g, b, h, p);
                let base = qkv[g.sample(b)..].as_ptr();
                let (q, k, v) = (
                    Matrix::new(base.add(g.part(0, h)), row, 1),
                    Matrix::new(base.add(g.part(1, h)), row, 1),
                    Matrix::new(base.add(g.part(2, h)), row, 1),
                );
                let dout = Matrix::new(grad[b * t * dim + h * hd..].as_ptr(), dim, 1);
                let dst = shared.ptr().add(g.sample(b));
                let probs = Matrix::new(p.as_ptr(), t, 1);
                // dV = Pᵀ dO.
                matmul(
                    (t, hd, t),
                    dst.add(g.part(2, h)),
                    row,
                    probs.t(),
                    dout,
                    T::one(),
                );
                // dP = dO Vᵀ, then dS = P ⊙ (dP − Σ dP ⊙ P) · scale (softmax and 1/√d).
                matmul((t, t, hd), dp.as_mut_ptr(), t, dout, v.t(), T::one());
                let scale = T::of(g.scale());
                for (dp_row, p_row) in dp.chunks_mut(t).zip(p.chunks(t)) {
                    let dot = sum_pairs(dp_row, p_row, |a, b| a * b);
                    for (d, &pv) in dp_row.iter_mut().zip(p_row) {
                        *d = pv * (*d - dot) * scale;
                    }
                }
                let ds = Matrix::new(dp.as_ptr(), t, 1);
                // dQ = dS K, dK = dSᵀ Q.
                matmul((t, hd, t), dst.add(g.part(0, h)), row, ds, k, T::one());
                matmul((t, hd, t), dst.add(g.part(1, h)), row, ds.t(), q, T::one());
            }
        },
    );
    dqkv
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::of(layout.dims(), self.heads)?;
        let out = match storage {
            CpuStorage::F32(d) => CpuStorage::F32(forward(contiguous(d, layout, self.name())?, g)),
            CpuStorage::F64(d) => CpuStorage::F64(forward(contiguous(d, layout, self.name())?, g)),
            _ => bail!("{}: only f32 and f64 are supported", self.name()),
        };
        Ok((out, Shape::from((g.batch, g.tokens, g.dim))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.detach().contiguous()?;
        Ok(Some(arg.detach().apply_op2_no_bwd(
            &grad,
            &AttentionBackward { heads: self.heads },
        )?))
    }
}

struct AttentionBackward {
    /// As in the forward op.
    heads: usize,
}

impl CustomOp2 for AttentionBackward {
    fn name(&self) -> &'static str {
        "attention-backward"
    }

    fn cpu_fwd(
        &self,
        qkv: &CpuStorage,
        lq: &Layout,
        grad: &CpuStorage,
        lg: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::of(lq.dims(), self.heads)?;
        if lg.dims() != [g.batch, g.tokens, g.dim] {
            bail!("{}: gradient of shape {:?}", self.name(), lg.dims());
        }
        let name = self.name();
        let out = match (qkv, grad) {
            (CpuStorage::F32(x), CpuStorage::F32(dy)) => CpuStorage::F32(backward(
                contiguous(x, lq, name)?,
                contiguous(dy, lg, name)?,
                g,
            )),
            (CpuStorage::F64(x), CpuStorage::F64(dy)) => CpuStorage::F64(backward(
                contiguous(x, lq, name)?,
                contiguous(dy, lg, name)?,
                g,
            )),
            _ => bail!("{name}: both inputs must be f32 or both f64"),
        };
        Ok((out, lq.shape().clone()))
    }
}
