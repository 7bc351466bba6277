//! BSS Eval v4's distortion filters: for each estimate, the least-squares combination of the
//! references delayed by 0 to `filter_len − 1` samples (all of them for the interference
//! projection, the estimate's own reference for the spatial one), fitted once over the whole
//! track as museval's `_compute_projection_filters` does.

use ndarray::{Array2, s};
use rayon::prelude::*;

use super::cholesky::Cholesky;
use super::correlation::LaggedCorrelations;

/// Multichannel FIR filters from reference channels to estimate channels, per estimate.
pub(super) struct DistortionFilters {
    filter_len: usize,
    channels: usize,
    /// Reference channels over all sources (`source · channels + channel`).
    inputs: usize,
    /// `[target][input][output][tap]`: projection of estimate `target` on every reference.
    full: Vec<f64>,
    /// `[target][own channel][output][tap]`: projection on its own reference only.
    spatial: Vec<f64>,
}

impl DistortionFilters {
    /// Fits the filters. `references` and `estimates` hold every channel of every source in
    /// order (`source · channels + channel`), all of one length.
    pub(super) fn fit(
        references: &[&[f32]],
        estimates: &[&[f32]],
        channels: usize,
        filter_len: usize,
    ) -> Self {
        let inputs = references.len();
        let sources = inputs / channels;
        let both: Vec<&[f32]> = references.iter().chain(estimates).copied().collect();
        let correlations = LaggedCorrelations::new(references, &both, filter_len);
        let system = |rows: &[usize], columns: &[usize]| {
            let gram = gram_matrix(&correlations, rows, filter_len);
            let mut rhs = Array2::zeros((rows.len() * filter_len, columns.len()));
            for (r, &row) in rows.iter().enumerate() {
                for (c, &column) in columns.iter().enumerate() {
                    let lags = correlations.get(row, inputs + column);
                    for (k, &lag) in lags.iter().enumerate() {
                        rhs[[r * filter_len + k, c]] = lag;
                    }
                }
            }
            Cholesky::factor(gram).solve(&rhs)
        };

        let every: Vec<usize> = (0..inputs).collect();
        let own = |source: usize| (source * channels..(source + 1) * channels).collect::<Vec<_>>();
        let full_solution = system(&every, &every);
        let spatial_solutions: Vec<Array2<f64>> = (0..sources)
            .into_par_iter()
            .map(|source| system(&own(source), &own(source)))
            .collect();

        let mut full = Vec::with_capacity(sources * inputs * channels * filter_len);
        for target in 0..sources {
            for input in 0..inputs {
                for output in 0..channels {
                    let column = full_solution.column(target * channels + output);
                    full.extend(column.iter().skip(input * filter_len).take(filter_len));
                }
            }
        }
        let mut spatial = Vec::with_capacity(sources * channels * channels * filter_len);
        for solution in &spatial_solutions {
            for input in 0..channels {
                for output in 0..channels {
                    let column = solution.column(output);
                    spatial.extend(column.iter().skip(input * filter_len).take(filter_len));
                }
            }
        }
        Self {
            filter_len,
            channels,
            inputs,
            full,
            spatial,
        }
    }

    /// Taps of the filter fitted over every reference.
    pub(super) fn full(&self, target: usize, input: usize, output: usize) -> &[f64] {
        let index = (target * self.inputs + input) * self.channels + output;
        &self.full[index * self.filter_len..][..self.filter_len]
    }

    /// Taps of the filter fitted over the target's own reference (`input` is its channel).
    pub(super) fn spatial(&self, target: usize, input: usize, output: usize) -> &[f64] {
        let index = (target * self.channels + input) * self.channels + output;
        &self.spatial[index * self.filter_len..][..self.filter_len]
    }

    /// Number of taps.
    pub(super) fn filter_len(&self) -> usize {
        self.filter_len
    }
}

/// The Gram matrix of the delayed references `rows` (entry `(a, k₁), (b, k₂)` is the inner
/// product of reference `a` delayed by `k₁` with reference `b` delayed by `k₂`), plus ε on the
/// diagonal as museval adds before solving.
fn gram_matrix(
    correlations: &LaggedCorrelations,
    rows: &[usize],
    filter_len: usize,
) -> Array2<f64> {
    let size = rows.len() * filter_len;
    let mut gram = Array2::zeros((size, size));
    for (i, &a) in rows.iter().enumerate() {
        for (j, &b) in rows.iter().enumerate() {
            // Row k₁ of block (a, b) is c_ab[k₁ − k₂] up to the diagonal, c_ba[k₂ − k₁] after.
            let reversed: Vec<f64> = correlations.get(a, b).iter().rev().copied().collect();
            let backward = correlations.get(b, a);
            for k1 in 0..filter_len {
                let mut row = gram.slice_mut(s![
                    i * filter_len + k1,
                    j * filter_len..(j + 1) * filter_len
                ]);
                let row = row
                    .as_slice_mut()
                    .expect("rows of a standard array are contiguous");
                row[..=k1].copy_from_slice(&reversed[filter_len - 1 - k1..]);
                row[k1 + 1..].copy_from_slice(&backward[1..filter_len - k1]);
            }
        }
    }
    for d in 0..size {
        gram[[d, d]] += f64::EPSILON;
    }
    gram
}
