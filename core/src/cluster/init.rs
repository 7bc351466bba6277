//! k-means++ seeding, greedy variant (as in scikit-learn): each new centre is the best of
//! 2 + ⌊ln k⌋ candidates drawn with probability proportional to the squared distance to
//! the nearest centre so far, "best" meaning the lowest total squared distance afterwards.

use ndarray::{Array2, ArrayView2, Axis, s};
use rand::{Rng, RngExt};
use rayon::prelude::*;

use super::distance::{REDUCE_ROWS, squared_distance_f32};

/// Picks `k` rows of `data` as initial centres. `on_centre` is
/// called with the number of centres chosen so far. Requires 1 ≤ k ≤ n.
pub(crate) fn kmeans_plus_plus(
    data: ArrayView2<f32>,
    k: usize,
    rng: &mut impl Rng,
    on_centre: &mut dyn FnMut(usize),
) -> Array2<f32> {
    let n = data.nrows();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centres = Array2::<f32>::zeros((k, data.ncols()));
    let first = rng.random_range(0..n);
    centres.row_mut(0).assign(&data.row(first));
    let mut closest = vec![f32::INFINITY; n];
    let mut minima = Array2::<f32>::zeros((n, 1));
    candidate_potentials(
        data,
        &closest,
        data.slice(s![first..first + 1, ..]),
        &mut minima,
    );
    closest
        .iter_mut()
        .zip(minima.column(0))
        .for_each(|(c, &m)| *c = m);
    on_centre(1);

    let mut cumulative = vec![0.0f64; n];
    let mut minima = Array2::<f32>::zeros((n, trials));
    for centre in 1..k {
        let mut running = 0.0f64;
        for (total, &distance) in cumulative.iter_mut().zip(&closest) {
            running += f64::from(distance);
            *total = running;
        }
        let candidate_rows: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.random::<f64>() * running;
                cumulative
                    .partition_point(|&total| total < target)
                    .min(n - 1)
            })
            .collect();
        let candidates = data.select(Axis(0), &candidate_rows);
        let potentials = candidate_potentials(data, &closest, candidates.view(), &mut minima);
        let best = (0..trials)
            .min_by(|&a, &b| potentials[a].total_cmp(&potentials[b]))
            .unwrap_or(0);
        centres.row_mut(centre).assign(&candidates.row(best));
        closest
            .iter_mut()
            .zip(minima.column(best))
            .for_each(|(c, &m)| *c = m);
        on_centre(centre + 1);
    }
    centres
}

/// For every candidate centre and row, min(closest so far, squared distance to the
/// candidate) into `minima` [n × candidates]; returns each candidate's total over all rows
/// (the potential if it were taken). With only a handful of candidates a matrix product
/// would spend its time packing the data, so distances are computed directly.
fn candidate_potentials(
    data: ArrayView2<f32>,
    closest: &[f32],
    candidates: ArrayView2<f32>,
    minima: &mut Array2<f32>,
) -> Vec<f64> {
    let trials = candidates.nrows();
    let d = data.ncols();
    // Plain slices: per-row ndarray views would cost more than the 48-value distances.
    let data = data.as_slice().expect("fit passes standard-layout data");
    let candidates = candidates.as_standard_layout();
    let candidates: Vec<&[f32]> = candidates
        .as_slice()
        .expect("standard layout")
        .chunks_exact(d)
        .collect();
    let minima = minima
        .as_slice_mut()
        .expect("minima are allocated contiguous");
    let partials: Vec<Vec<f64>> = minima
        .par_chunks_mut(REDUCE_ROWS * trials)
        .zip(data.par_chunks(REDUCE_ROWS * d))
        .zip(closest.par_chunks(REDUCE_ROWS))
        .map(|((minima, rows), closest)| {
            let mut potentials = vec![0.0f64; trials];
            for ((minima, vector), &closest) in minima
                .chunks_exact_mut(trials)
                .zip(rows.chunks_exact(d))
                .zip(closest)
            {
                for ((minimum, candidate), potential) in
                    minima.iter_mut().zip(&candidates).zip(&mut potentials)
                {
                    *minimum = squared_distance_f32(vector, candidate).min(closest);
                    *potential += f64::from(*minimum);
                }
            }
            potentials
        })
        .collect();
    let mut potentials = vec![0.0f64; trials];
    for partial in partials {
        for (total, value) in potentials.iter_mut().zip(partial) {
            *total += value;
        }
    }
    potentials
}
