//! Blocked Cholesky factorisation and solve for the symmetric positive semi-definite Gram
//! systems of the distortion filters (a few thousand unknowns, so nearly all the work is
//! matrix products, run in parallel).
//!
//! museval solves the same systems with LAPACK's LU. Both are backward stable, so they agree
//! to rounding even on the badly conditioned Gram matrices of band-limited or tonal sources;
//! that is why the triangular solves here are substitutions (blocked by halving, with the
//! products in between), never multiplications by explicit triangular inverses, which lose
//! several digits on such matrices. Where delayed references are exactly linearly dependent
//! (a mono source copied to both channels) the Gram matrix is singular: pivots that vanish are
//! dropped with their unknowns, which gives a least-squares solution with the same
//! projection as museval's.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

/// Rows and columns factored per step of the outer loop: the panel products are this deep.
const BLOCK: usize = 256;
/// Triangular blocks are halved down to this size, where plain substitution takes over.
const SMALL: usize = 8;
/// Rows per parallel task in the panel solve and the trailing update.
const ROWS_PER_TASK: usize = 128;
/// Every matrix here is row-major, and the solves only ever take column ranges of it.
const CONTIGUOUS_ROWS: &str = "rows of row-major arrays are contiguous";

/// The lower-triangular factor `L` of `A = L·Lᵀ`, with all-zero columns where `A`'s column was
/// linearly dependent on the earlier ones.
pub(super) struct Cholesky {
    /// `L` in the lower triangle; the strict upper triangle holds leftovers and is never read.
    factor: Array2<f64>,
}

impl Cholesky {
    /// Factors the symmetric matrix `a`, reading only its lower triangle. Pivots at or below
    /// `n · ε · max(diag)` (LAPACK `dpstrf`'s default tolerance) count as zero.
    pub(super) fn factor(mut a: Array2<f64>) -> Self {
        let n = a.nrows();
        debug_assert_eq!(n, a.ncols());
        let largest_diagonal = a.diag().iter().fold(0.0f64, |m, &d| m.max(d));
        let tolerance = n as f64 * f64::EPSILON * largest_diagonal;
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            let (mut top, bottom) = a.view_mut().split_at(Axis(0), end);
            factor_diagonal(top.slice_mut(s![start.., start..end]), tolerance);
            if end < n {
                // Panel below: L₂₁·L₁₁ᵀ = A₂₁, then the trailing A₂₂ −= L₂₁·L₂₁ᵀ.
                let diagonal = top.slice(s![start.., start..end]);
                let (mut panel, trailing) = bottom.split_at(Axis(1), end);
                let mut panel = panel.slice_mut(s![.., start..]);
                panel
                    .axis_chunks_iter_mut(Axis(0), ROWS_PER_TASK)
                    .into_par_iter()
                    .for_each(|rows| solve_times_transpose(diagonal, rows));
                update_trailing(trailing, panel.view());
            }
        }
        Self { factor: a }
    }

    /// Solves `A·X = B` for every column of `b` (rows = unknowns); unknowns of dropped columns
    /// are zero.
    pub(super) fn solve(&self, b: &Array2<f64>) -> Array2<f64> {
        // With the right-hand sides as rows: Yᵀ·Lᵀ = Bᵀ, then Xᵀ·L = Yᵀ.
        let mut rows = b.t().as_standard_layout().into_owned();
        solve_times_transpose(self.factor.view(), rows.view_mut());
        solve_times(self.factor.view(), rows.view_mut());
        rows.t().as_standard_layout().into_owned()
    }
}

/// Factors one diagonal block in place (it already has every earlier panel's update), by
/// halves: `L₁₁`, then `L₂₁·L₁₁ᵀ = A₂₁`, then `L₂₂` of `A₂₂ − L₂₁·L₂₁ᵀ`.
fn factor_diagonal(mut block: ArrayViewMut2<f64>, tolerance: f64) {
    let size = block.nrows();
    if size <= SMALL {
        let mut factored = block.as_standard_layout().into_owned();
        factor_small(&mut factored, tolerance);
        block.assign(&factored);
        return;
    }
    let half = size / 2;
    let (mut top, bottom) = block.view_mut().split_at(Axis(0), half);
    factor_diagonal(top.slice_mut(s![.., ..half]), tolerance);
    let (mut l_21, mut a_22) = bottom.split_at(Axis(1), half);
    solve_times_transpose(top.slice(s![.., ..half]), l_21.view_mut());
    general_mat_mul(-1.0, &l_21, &l_21.t(), 1.0, &mut a_22);
    factor_diagonal(a_22, tolerance);
}

/// Unblocked Cholesky of a small block (a dropped pivot zeroes its column).
fn factor_small(block: &mut Array2<f64>, tolerance: f64) {
    let size = block.nrows();
    let a = block.as_slice_mut().expect("standard layout is contiguous");
    for j in 0..size {
        let row_j = j * size;
        let pivot = a[row_j + j] - dot(&a[row_j..row_j + j], &a[row_j..row_j + j]);
        if pivot <= tolerance {
            (j..size).for_each(|i| a[i * size + j] = 0.0);
            continue;
        }
        let diagonal = pivot.sqrt();
        a[row_j + j] = diagonal;
        for i in j + 1..size {
            let row_i = i * size;
            let sum = dot(&a[row_i..row_i + j], &a[row_j..row_j + j]);
            a[row_i + j] = (a[row_i + j] - sum) / diagonal;
        }
    }
}

/// Solves `X·Lᵀ = P` in place (`P` becomes `X`) for lower-triangular `L`: forward
/// substitution along each row of `P`, by halves of `L` with a product in between.
fn solve_times_transpose(l: ArrayView2<f64>, mut p: ArrayViewMut2<f64>) {
    let size = l.nrows();
    if size <= SMALL {
        let l = l.as_standard_layout();
        let l = l.as_slice().expect("standard layout is contiguous");
        for mut row in p.rows_mut() {
            let x = row.as_slice_mut().expect(CONTIGUOUS_ROWS);
            for j in 0..size {
                let pivot = l[j * size + j];
                x[j] = if pivot == 0.0 {
                    0.0
                } else {
                    (x[j] - dot(&x[..j], &l[j * size..j * size + j])) / pivot
                };
            }
        }
        return;
    }
    let half = size / 2;
    let (mut p_1, mut p_2) = p.view_mut().split_at(Axis(1), half);
    solve_times_transpose(l.slice(s![..half, ..half]), p_1.view_mut());
    general_mat_mul(-1.0, &p_1, &l.slice(s![half.., ..half]).t(), 1.0, &mut p_2);
    solve_times_transpose(l.slice(s![half.., half..]), p_2);
}

/// Solves `X·L = P` in place for lower-triangular `L`: backward substitution along each row
/// of `P`, by halves.
fn solve_times(l: ArrayView2<f64>, mut p: ArrayViewMut2<f64>) {
    let size = l.nrows();
    if size <= SMALL {
        // Lᵀ's rows are L's columns: transposed once so the sums run over contiguous memory.
        let transposed = l.t();
        let l_t = transposed.as_standard_layout();
        let l_t = l_t.as_slice().expect("standard layout is contiguous");
        for mut row in p.rows_mut() {
            let x = row.as_slice_mut().expect(CONTIGUOUS_ROWS);
            for j in (0..size).rev() {
                let pivot = l_t[j * size + j];
                x[j] = if pivot == 0.0 {
                    0.0
                } else {
                    (x[j] - dot(&x[j + 1..], &l_t[j * size + j + 1..(j + 1) * size])) / pivot
                };
            }
        }
        return;
    }
    let half = size / 2;
    let (mut p_1, mut p_2) = p.view_mut().split_at(Axis(1), half);
    solve_times(l.slice(s![half.., half..]), p_2.view_mut());
    general_mat_mul(-1.0, &p_2, &l.slice(s![half.., ..half]), 1.0, &mut p_1);
    solve_times(l.slice(s![..half, ..half]), p_1);
}

/// `trailing −= panel · panelᵀ` on the lower triangle (whole row blocks, so a little of the
/// upper triangle too), one row block per task.
fn update_trailing(mut trailing: ArrayViewMut2<f64>, panel: ArrayView2<f64>) {
    trailing
        .axis_chunks_iter_mut(Axis(0), ROWS_PER_TASK)
        .into_par_iter()
        .enumerate()
        .for_each(|(index, mut rows)| {
            let first = index * ROWS_PER_TASK;
            let last = first + rows.nrows();
            let lhs = panel.slice(s![first..last, ..]);
            let rhs = panel.slice(s![..last, ..]);
            general_mat_mul(
                -1.0,
                &lhs,
                &rhs.t(),
                1.0,
                &mut rows.slice_mut(s![.., ..last]),
            );
        });
}

/// `Σ aᵢ·bᵢ`, indexed rather than zipped: this is the innermost loop of the substitutions and
/// stays fast enough in unoptimised test builds this way.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let b = &b[..a.len()];
    let mut sum = 0.0;
    for i in 0..a.len() {
        sum += a[i] * b[i];
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random Gram matrix `XᵀX` (positive definite) and a right-hand side.
    fn system(n: usize, rows: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_simple_fn((rows, n), || rng.random_range(-1.0..1.0));
        let b = Array2::from_shape_simple_fn((n, 3), || rng.random_range(-1.0..1.0));
        (x.t().dot(&x), b)
    }

    #[test]
    fn solves_positive_definite_systems_across_block_edges() {
        for n in [1, 5, SMALL + 1, BLOCK, BLOCK + 1, 2 * BLOCK + 37] {
            let (a, b) = system(n, 2 * n + 3, n as u64);
            let x = Cholesky::factor(a.clone()).solve(&b);
            let residual = (&a.dot(&x) - &b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(residual < 1e-9, "n {n}: residual {residual}");
        }
    }

    #[test]
    fn dependent_columns_give_a_least_squares_solution() {
        // Columns repeating earlier ones (inside the first small block, a halved block and a
        // later outer block) make A singular; A·x = b still has solutions for b in A's range,
        // and the one found must satisfy it, with the repeats' unknowns dropped.
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let columns = BLOCK + 50;
        let mut x =
            Array2::from_shape_simple_fn((2 * columns, columns), || rng.random_range(-1.0..1.0));
        let repeats = [(3, 1), (SMALL + 5, 2), (BLOCK + 7, 4)];
        for (copy, original) in repeats {
            let column = x.column(original).to_owned();
            x.column_mut(copy).assign(&column);
        }
        let a = x.t().dot(&x);
        let target = Array2::from_shape_simple_fn((2 * columns, 2), || rng.random_range(-1.0..1.0));
        let b = x.t().dot(&target);
        let solution = Cholesky::factor(a.clone()).solve(&b);
        for (copy, _) in repeats {
            assert!(
                solution.row(copy).iter().all(|v| *v == 0.0),
                "unknown {copy} kept"
            );
        }
        let residual = (&a.dot(&solution) - &b)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(residual < 1e-9, "residual {residual}");
    }
}
