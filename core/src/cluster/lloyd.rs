//! Lloyd's algorithm: alternate "assign every vector to its nearest centre" and "move every
//! centre to the mean of its vectors" until the assignment stops changing or the centres
//! stop moving, repairing clusters that lose all their vectors.

use ndarray::{Array2, ArrayView2, Zip};

use super::distance::{Nearest, cluster_sums, nearest, squared_norms};

/// The outcome of one Lloyd run.
#[derive(Debug, Clone)]
pub(crate) struct LloydRun {
    /// Final centres [k × d].
    pub centres: Array2<f32>,
    /// Labels of the data under the final centres.
    pub labels: Vec<u32>,
    /// Iterations performed.
    pub iterations: usize,
    /// Whether a stopping rule fired before `max_iter`.
    pub converged: bool,
}

/// Refines `centres` on `data` (squared norms `data_norms`) for at most `max_iter`
/// iterations; stops when the labels repeat or the summed squared centre shift is at most
/// `shift_tolerance` (absolute). `on_iteration` gets the iteration count so far.
pub(crate) fn lloyd(
    data: ArrayView2<f32>,
    data_norms: &[f32],
    mut centres: Array2<f32>,
    max_iter: usize,
    shift_tolerance: f64,
    on_iteration: &mut dyn FnMut(usize),
) -> LloydRun {
    let mut previous_labels: Option<Vec<u32>> = None;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter {
        iterations += 1;
        let assignment = nearest(
            data,
            data_norms,
            centres.view(),
            &squared_norms(centres.view()),
        );
        if previous_labels.as_ref() == Some(&assignment.labels) {
            // Same labels → the means are the current centres: nothing can move any more.
            on_iteration(iterations);
            return LloydRun {
                centres,
                labels: assignment.labels,
                iterations,
                converged: true,
            };
        }
        let updated = update_centres(data, &assignment, centres.view());
        let shift: f64 = Zip::from(&updated)
            .and(&centres)
            .fold(0.0, |total, &new, &old| {
                total + f64::from(new - old).powi(2)
            });
        centres = updated;
        previous_labels = Some(assignment.labels);
        on_iteration(iterations);
        if shift <= shift_tolerance {
            converged = true;
            break;
        }
    }
    // The last update moved the centres: relabel so labels and centres agree.
    let labels = nearest(
        data,
        data_norms,
        centres.view(),
        &squared_norms(centres.view()),
    )
    .labels;
    LloydRun {
        centres,
        labels,
        iterations,
        converged,
    }
}

/// The means of the clusters of `assignment`, after moving each empty cluster onto one of
/// the vectors farthest from their own centre (scikit-learn's repair). A vector is only
/// taken from a cluster that keeps at least one other member, so repair never empties
/// another cluster; a cluster that cannot be repaired (too few distinct vectors) keeps its
/// old centre.
pub(crate) fn update_centres(
    data: ArrayView2<f32>,
    assignment: &Nearest,
    old_centres: ArrayView2<f32>,
) -> Array2<f32> {
    let k = old_centres.nrows();
    let (mut sums, mut counts) = cluster_sums(data, &assignment.labels, k);
    let empty: Vec<usize> = (0..k).filter(|&cluster| counts[cluster] == 0).collect();
    if !empty.is_empty() {
        let mut farthest: Vec<usize> = (0..data.nrows()).collect();
        farthest.sort_by(|&a, &b| {
            assignment.distances[b]
                .total_cmp(&assignment.distances[a])
                .then(a.cmp(&b))
        });
        let mut donors = farthest.into_iter();
        for cluster in empty {
            let Some(row) = donors.find(|&row| counts[assignment.labels[row] as usize] > 1) else {
                break;
            };
            let from = assignment.labels[row] as usize;
            let vector = data.row(row).mapv(f64::from);
            let mut from_sum = sums.row_mut(from);
            from_sum -= &vector;
            counts[from] -= 1;
            sums.row_mut(cluster).assign(&vector);
            counts[cluster] = 1;
        }
    }
    let mut centres = old_centres.to_owned();
    for (cluster, mut centre) in centres.rows_mut().into_iter().enumerate() {
        if counts[cluster] > 0 {
            let count = counts[cluster] as f64;
            Zip::from(&mut centre)
                .and(sums.row(cluster))
                .for_each(|value, &sum| *value = (sum / count) as f32);
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    /// A centre far from all data gets no vectors; the update must move it onto the vector
    /// farthest from its own centre and take that vector out of its old cluster's mean.
    #[test]
    fn empty_cluster_moves_to_farthest_vector() {
        let data = array![[0.0f32, 0.0], [1.0, 0.0], [10.0, 0.0], [0.0, 1.0]];
        let centres = array![[0.0f32, 0.0], [100.0, 100.0]];
        let assignment = nearest(
            data.view(),
            &squared_norms(data.view()),
            centres.view(),
            &squared_norms(centres.view()),
        );
        assert_eq!(assignment.labels, vec![0, 0, 0, 0]);
        let updated = update_centres(data.view(), &assignment, centres.view());
        assert_eq!(updated.row(1), array![10.0f32, 0.0]);
        let expected = [1.0f32 / 3.0, 1.0 / 3.0];
        for (value, expected) in updated.row(0).iter().zip(expected) {
            assert!((value - expected).abs() < 1e-6, "{value} vs {expected}");
        }
    }

    /// With fewer distinct vectors than centres, repair must leave unrepairable centres where
    /// they were instead of emptying other clusters or producing NaN.
    #[test]
    fn unrepairable_empty_cluster_keeps_its_centre() {
        let data = array![[1.0f32, 1.0], [1.0, 1.0]];
        let centres = array![[1.0f32, 1.0], [5.0, 5.0], [7.0, 7.0]];
        let assignment = nearest(
            data.view(),
            &squared_norms(data.view()),
            centres.view(),
            &squared_norms(centres.view()),
        );
        let updated = update_centres(data.view(), &assignment, centres.view());
        // One of the two identical vectors moves to cluster 1; cluster 2 has no donor left.
        assert_eq!(updated, array![[1.0f32, 1.0], [1.0, 1.0], [7.0, 7.0]]);
    }
}
