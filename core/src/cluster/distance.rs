//! Nearest-centre search and per-cluster sums, blocked and parallel.
//!
//! Squared distances use ||x||² − 2·x·c + ||c||², so the expensive part is one matrix
//! product per block of rows (ndarray → matrixmultiply's packed SIMD kernels) instead of
//! n·k scalar loops. Blocks run in parallel on rayon's pool. Reductions into f64 sums go
//! through fixed row chunks combined in order, so results do not depend on scheduling and a
//! seeded fit is bit-for-bit reproducible.

use ndarray::{Array2, ArrayView1, ArrayView2, s};
use rayon::prelude::*;

/// Rows per matrix-product block: 256 rows × 960 centres of f32 is about 1 MB, so a block's
/// products stay in a core's cache while they are scanned for the minimum.
pub(crate) const BLOCK_ROWS: usize = 256;

/// Rows per partial sum of a reduction. Fixed (not per thread) so that the summation order,
/// and with it every rounding, is the same on every run.
pub(crate) const REDUCE_ROWS: usize = 64 * 1024;

/// Squared Euclidean norm of every row.
pub(crate) fn squared_norms(data: ArrayView2<f32>) -> Vec<f32> {
    let mut norms = vec![0.0; data.nrows()];
    norms
        .par_chunks_mut(BLOCK_ROWS)
        .enumerate()
        .for_each(|(block, out)| {
            let start = block * BLOCK_ROWS;
            let rows = data.slice(s![start..start + out.len(), ..]);
            for (norm, row) in out.iter_mut().zip(rows.rows()) {
                *norm = row.dot(&row);
            }
        });
    norms
}

/// The nearest centre of every row and the squared distance to it.
#[derive(Debug, Clone)]
pub(crate) struct Nearest {
    /// Index of the nearest centre (lowest index on ties).
    pub labels: Vec<u32>,
    /// Squared distance to that centre, from the expanded form (clamped at 0).
    pub distances: Vec<f32>,
}

/// Finds the nearest of `centres` (with squared norms `centre_norms`) for every row of
/// `data` (with squared norms `data_norms`).
pub(crate) fn nearest(
    data: ArrayView2<f32>,
    data_norms: &[f32],
    centres: ArrayView2<f32>,
    centre_norms: &[f32],
) -> Nearest {
    let n = data.nrows();
    let mut labels = vec![0u32; n];
    let mut distances = vec![0.0f32; n];
    labels
        .par_chunks_mut(BLOCK_ROWS)
        .zip(distances.par_chunks_mut(BLOCK_ROWS))
        .enumerate()
        .for_each_init(
            || Array2::<f32>::zeros((BLOCK_ROWS, centres.nrows())),
            |buffer, (block, (labels, distances))| {
                let start = block * BLOCK_ROWS;
                let rows = start..start + labels.len();
                let partials = partial_distances(
                    data.slice(s![rows.clone(), ..]),
                    centres,
                    centre_norms,
                    buffer,
                );
                for (((label, distance), partials), norm) in labels
                    .iter_mut()
                    .zip(distances.iter_mut())
                    .zip(partials.rows())
                    .zip(&data_norms[rows.clone()])
                {
                    let partials = partials.as_slice().expect("buffer rows are contiguous");
                    let (best, best_partial) = argmin(partials);
                    *label = best as u32;
                    *distance = (norm + best_partial).max(0.0);
                }
            },
        );
    Nearest { labels, distances }
}

/// ||c||² − 2·x·c for every row x of `rows` and every centre c, i.e. the squared distance
/// minus ||x||², written into the top of `buffer` (reused across blocks). One matrix
/// product with the norms as its accumulator, so the caller only has to scan for minima.
pub(crate) fn partial_distances<'b>(
    rows: ArrayView2<f32>,
    centres: ArrayView2<f32>,
    centre_norms: &[f32],
    buffer: &'b mut Array2<f32>,
) -> ndarray::ArrayViewMut2<'b, f32> {
    let norms = ArrayView1::from(centre_norms);
    let mut partials = buffer.slice_mut(s![..rows.nrows(), ..]);
    partials
        .rows_mut()
        .into_iter()
        .for_each(|mut row| row.assign(&norms));
    ndarray::linalg::general_mat_mul(-2.0, &rows, &centres.t(), 1.0, &mut partials);
    partials
}

/// Index (lowest on ties) and value of the smallest entry. Lane-wise minima over chunks of
/// eight compile to SIMD; the index is then found by one early-exit scan.
fn argmin(values: &[f32]) -> (usize, f32) {
    const LANES: usize = 8;
    let mut lanes = [f32::INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = if value < *lane { value } else { *lane };
        }
    }
    let minimum = lanes
        .into_iter()
        .chain(tail.iter().copied())
        .fold(f32::INFINITY, |a, b| if b < a { b } else { a });
    let index = values
        .iter()
        .position(|&value| value == minimum)
        .unwrap_or(0);
    (index, minimum)
}

/// Per-cluster coordinate sums (f64, [k × d]) and member counts for `labels`.
pub(crate) fn cluster_sums(
    data: ArrayView2<f32>,
    labels: &[u32],
    k: usize,
) -> (Array2<f64>, Vec<u64>) {
    let d = data.ncols();
    let partials: Vec<(Array2<f64>, Vec<u64>)> = (0..data.nrows().div_ceil(REDUCE_ROWS))
        .into_par_iter()
        .map(|chunk| {
            let start = chunk * REDUCE_ROWS;
            let end = (start + REDUCE_ROWS).min(data.nrows());
            let mut sums = Array2::<f64>::zeros((k, d));
            let mut counts = vec![0u64; k];
            for (row, &label) in data
                .slice(s![start..end, ..])
                .rows()
                .into_iter()
                .zip(&labels[start..end])
            {
                let label = label as usize;
                counts[label] += 1;
                for (sum, &value) in sums.row_mut(label).iter_mut().zip(row) {
                    *sum += f64::from(value);
                }
            }
            (sums, counts)
        })
        .collect();
    let mut sums = Array2::<f64>::zeros((k, d));
    let mut counts = vec![0u64; k];
    for (partial_sums, partial_counts) in partials {
        sums += &partial_sums;
        for (count, partial) in counts.iter_mut().zip(partial_counts) {
            *count += partial;
        }
    }
    (sums, counts)
}

/// Exact sum of squared distances from every row to its labelled centre, in f64 (the
/// expanded form used for the search loses digits when norms dwarf distances).
pub(crate) fn inertia(data: ArrayView2<f32>, centres: ArrayView2<f32>, labels: &[u32]) -> f64 {
    let partials: Vec<f64> = (0..data.nrows().div_ceil(REDUCE_ROWS))
        .into_par_iter()
        .map(|chunk| {
            let start = chunk * REDUCE_ROWS;
            let end = (start + REDUCE_ROWS).min(data.nrows());
            data.slice(s![start..end, ..])
                .rows()
                .into_iter()
                .zip(&labels[start..end])
                .map(|(row, &label)| squared_distance(row, centres.row(label as usize)))
                .sum()
        })
        .collect();
    partials.into_iter().sum()
}

/// Squared Euclidean distance of two vectors in f32, with eight independent partial sums
/// so the loop compiles to SIMD.
pub(crate) fn squared_distance_f32(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<8>();
    let (b_chunks, b_tail) = b.as_chunks::<8>();
    let mut lanes = [0.0f32; 8];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..8 {
            let difference = x[lane] - y[lane];
            lanes[lane] += difference * difference;
        }
    }
    let tail: f32 = a_tail
        .iter()
        .zip(b_tail)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    lanes.iter().sum::<f32>() + tail
}

/// Squared Euclidean distance of two vectors, accumulated in f64.
pub(crate) fn squared_distance(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let difference = f64::from(x) - f64::from(y);
            difference * difference
        })
        .sum()
}
