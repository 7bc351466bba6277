//! Mini-batch k-means (Sculley 2010, as refined in scikit-learn's `MiniBatchKMeans`): each
//! step assigns a random batch and pulls each hit centre towards its batch members with
//! learning rate 1/(vectors the centre has absorbed so far); rarely hit centres are
//! re-seeded onto random batch vectors; the fit stops when a smoothed batch inertia stops
//! improving.

use ndarray::{Array2, ArrayView2, Axis, Zip};
use rand::{Rng, RngExt, seq::index};

use super::distance::{nearest, squared_norms};

/// Centres whose absorbed count falls below this fraction of the largest count are re-seeded
/// (scikit-learn's `reassignment_ratio` default).
const REASSIGNMENT_RATIO: f64 = 0.01;

/// Stopping rules of a mini-batch run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MiniBatchSchedule {
    /// Vectors per step.
    pub batch_size: usize,
    /// Hard limit on steps.
    pub max_steps: usize,
    /// Stop after this many steps without a new minimum of the smoothed batch inertia.
    pub max_no_improvement: Option<usize>,
    /// Stop when one step moves the centres by at most this summed squared distance.
    pub shift_tolerance: f64,
}

/// The outcome of one mini-batch run (centres only: the caller labels the full data).
#[derive(Debug, Clone)]
pub(crate) struct MiniBatchRun {
    /// Final centres [k × d].
    pub centres: Array2<f32>,
    /// Steps performed.
    pub steps: usize,
    /// Whether a stopping rule fired before `max_steps`.
    pub converged: bool,
}

/// Refines `centres` on `data` with random batches drawn from `rng`. `on_step` gets the
/// number of steps done so far.
pub(crate) fn mini_batch(
    data: ArrayView2<f32>,
    mut centres: Array2<f32>,
    schedule: MiniBatchSchedule,
    rng: &mut impl Rng,
    on_step: &mut dyn FnMut(usize),
) -> MiniBatchRun {
    let n = data.nrows();
    let k = centres.nrows();
    let mut counts = vec![0.0f64; k];
    let mut convergence = Convergence::new(schedule, n);
    let mut since_reassignment = 0usize;
    for step in 1..=schedule.max_steps {
        let rows: Vec<usize> = (0..schedule.batch_size)
            .map(|_| rng.random_range(0..n))
            .collect();
        let batch = data.select(Axis(0), &rows);
        let assignment = nearest(
            batch.view(),
            &squared_norms(batch.view()),
            centres.view(),
            &squared_norms(centres.view()),
        );
        let previous = centres.clone();
        for (row, &label) in batch.rows().into_iter().zip(&assignment.labels) {
            let cluster = label as usize;
            counts[cluster] += 1.0;
            let rate = (1.0 / counts[cluster]) as f32;
            Zip::from(centres.row_mut(cluster))
                .and(row)
                .for_each(|centre, &value| *centre += rate * (value - *centre));
        }
        since_reassignment += schedule.batch_size;
        if counts.contains(&0.0) || since_reassignment >= 10 * k {
            since_reassignment = 0;
            reassign_rare_centres(&mut centres, &mut counts, batch.view(), rng);
        }
        let shift: f64 = Zip::from(&centres)
            .and(&previous)
            .fold(0.0, |total, &new, &old| {
                total + f64::from(new - old).powi(2)
            });
        let batch_inertia: f64 = assignment.distances.iter().map(|&d| f64::from(d)).sum();
        on_step(step);
        if convergence.should_stop(step, batch_inertia, shift) {
            return MiniBatchRun {
                centres,
                steps: step,
                converged: true,
            };
        }
    }
    MiniBatchRun {
        centres,
        steps: schedule.max_steps,
        converged: false,
    }
}

/// Moves centres that absorbed fewer than [`REASSIGNMENT_RATIO`] × the largest count onto
/// distinct random vectors of `batch` (at most half the batch), and resets their counts to
/// the smallest count among the kept centres so they are not immediately re-seeded again.
fn reassign_rare_centres(
    centres: &mut Array2<f32>,
    counts: &mut [f64],
    batch: ArrayView2<f32>,
    rng: &mut impl Rng,
) {
    let threshold = REASSIGNMENT_RATIO * counts.iter().copied().fold(0.0, f64::max);
    let mut rare: Vec<usize> = (0..counts.len())
        .filter(|&c| counts[c] < threshold)
        .collect();
    let limit = batch.nrows() / 2;
    if rare.len() > limit {
        rare.sort_by(|&a, &b| counts[a].total_cmp(&counts[b]).then(a.cmp(&b)));
        rare.truncate(limit);
        rare.sort_unstable();
    }
    if rare.is_empty() {
        return;
    }
    let kept_minimum = (0..counts.len())
        .filter(|c| rare.binary_search(c).is_err())
        .map(|c| counts[c])
        .fold(f64::INFINITY, f64::min);
    for (cluster, row) in rare
        .iter()
        .zip(index::sample(rng, batch.nrows(), rare.len()))
    {
        centres.row_mut(*cluster).assign(&batch.row(row));
        counts[*cluster] = kept_minimum;
    }
}

/// scikit-learn's early stopping: an exponentially weighted average of the per-vector batch
/// inertia (weight ≈ two batches per pass over the data) must keep reaching new minima.
struct Convergence {
    schedule: MiniBatchSchedule,
    smoothing: f64,
    smoothed: Option<f64>,
    best: f64,
    steps_without_improvement: usize,
}

impl Convergence {
    fn new(schedule: MiniBatchSchedule, n: usize) -> Self {
        Self {
            schedule,
            smoothing: (schedule.batch_size as f64 * 2.0 / (n as f64 + 1.0)).min(1.0),
            smoothed: None,
            best: f64::INFINITY,
            steps_without_improvement: 0,
        }
    }

    fn should_stop(&mut self, step: usize, batch_inertia: f64, shift: f64) -> bool {
        // The first step mostly measures the seeding, not the optimisation.
        if step == 1 {
            return false;
        }
        let per_vector = batch_inertia / self.schedule.batch_size as f64;
        let smoothed = match self.smoothed {
            None => per_vector,
            Some(previous) => previous * (1.0 - self.smoothing) + per_vector * self.smoothing,
        };
        self.smoothed = Some(smoothed);
        if self.schedule.shift_tolerance > 0.0 && shift <= self.schedule.shift_tolerance {
            return true;
        }
        if smoothed < self.best {
            self.best = smoothed;
            self.steps_without_improvement = 0;
        } else {
            self.steps_without_improvement += 1;
        }
        self.schedule
            .max_no_improvement
            .is_some_and(|limit| self.steps_without_improvement >= limit)
    }
}
