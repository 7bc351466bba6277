//! Fitting k-means: validation, seeding, refinement, choosing the best of several runs.

use ndarray::{Array2, ArrayView2, Axis};
use rand::{SeedableRng, seq::index};
use rand_chacha::ChaCha8Rng;

use super::config::{Algorithm, KMeansConfig};
use super::distance::{inertia, nearest, squared_norms};
use super::init::kmeans_plus_plus;
use super::lloyd::lloyd;
use super::mini_batch::{MiniBatchSchedule, mini_batch};
use super::{ClusterError, KMeansModel, check_finite};

/// Fits k-means models; see [`KMeans::fit`].
#[derive(Debug, Clone, Copy)]
pub struct KMeans;

/// What a fit produced and how it went.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    /// The fitted centroids.
    pub model: KMeansModel,
    /// Sum of squared distances from every training vector to its nearest centroid.
    pub inertia: f64,
    /// Lloyd iterations or mini-batch steps of the winning run.
    pub iterations: usize,
    /// Whether the winning run stopped by a convergence rule rather than by `max_iter`.
    pub converged: bool,
}

/// Which stage of a fit a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitPhase {
    /// k-means++ seeding; `done`/`total` count centres.
    Seeding,
    /// Lloyd iterations; `done`/`total` count iterations up to `max_iter`.
    Lloyd,
    /// Mini-batch steps; `done`/`total` count steps up to the step limit.
    MiniBatch,
}

/// A progress report, so callers can draw a bar for long fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitProgress {
    /// The run (0-based) out of `n_init`.
    pub run: usize,
    /// The stage within the run.
    pub phase: FitPhase,
    /// Units of the stage done so far.
    pub done: usize,
    /// Units of the stage at most (stopping rules may end it sooner).
    pub total: usize,
}

impl KMeans {
    /// Fits `config.k` centroids to the rows of `data` [n × d].
    pub fn fit(data: ArrayView2<f32>, config: &KMeansConfig) -> Result<KMeansFit, ClusterError> {
        Self::fit_with_progress(data, config, &mut |_| {})
    }

    /// [`KMeans::fit`], reporting progress to `on_progress` (called on the calling thread).
    pub fn fit_with_progress(
        data: ArrayView2<f32>,
        config: &KMeansConfig,
        on_progress: &mut dyn FnMut(FitProgress),
    ) -> Result<KMeansFit, ClusterError> {
        config.validate()?;
        let (n, d) = data.dim();
        if d == 0 {
            return Err(ClusterError::ZeroDimensions);
        }
        if config.k > n {
            return Err(ClusterError::TooFewVectors {
                k: config.k,
                vectors: n,
            });
        }
        check_finite(data)?;
        // Contiguous rows let the distance kernels work on plain slices.
        let data = data.as_standard_layout();
        let data = data.view();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let data_norms = squared_norms(data);
        let shift_tolerance = config.tol * mean_variance(data);
        let (centres, iterations, converged) = match config.algorithm {
            Algorithm::Lloyd => {
                let mut best: Option<(f64, Array2<f32>, usize, bool)> = None;
                for run in 0..config.n_init {
                    let sample_size = config.init_size.map_or(n, |size| size.max(config.k)).min(n);
                    let seeds =
                        seed_on_sample(data, config.k, sample_size, &mut rng, run, on_progress);
                    let result = lloyd(
                        data,
                        &data_norms,
                        seeds,
                        config.max_iter,
                        shift_tolerance,
                        &mut |done| {
                            on_progress(FitProgress {
                                run,
                                phase: FitPhase::Lloyd,
                                done,
                                total: config.max_iter,
                            })
                        },
                    );
                    let run_inertia = inertia(data, result.centres.view(), &result.labels);
                    if best
                        .as_ref()
                        .is_none_or(|(lowest, ..)| run_inertia < *lowest)
                    {
                        best = Some((
                            run_inertia,
                            result.centres,
                            result.iterations,
                            result.converged,
                        ));
                    }
                }
                let (_, centres, iterations, converged) = best.expect("n_init ≥ 1 was validated");
                (centres, iterations, converged)
            }
            Algorithm::MiniBatch {
                batch_size,
                max_no_improvement,
            } => {
                let seeds =
                    best_mini_batch_seeding(data, config, batch_size, &mut rng, on_progress);
                let schedule = MiniBatchSchedule {
                    batch_size,
                    max_steps: (config.max_iter.saturating_mul(n) / batch_size).max(1),
                    max_no_improvement,
                    shift_tolerance,
                };
                let result = mini_batch(data, seeds, schedule, &mut rng, &mut |done| {
                    on_progress(FitProgress {
                        run: 0,
                        phase: FitPhase::MiniBatch,
                        done,
                        total: schedule.max_steps,
                    })
                });
                (result.centres, result.steps, result.converged)
            }
        };
        let labels = nearest(
            data,
            &data_norms,
            centres.view(),
            &squared_norms(centres.view()),
        )
        .labels;
        let inertia = inertia(data, centres.view(), &labels);
        Ok(KMeansFit {
            model: KMeansModel::new(centres)?,
            inertia,
            iterations,
            converged,
        })
    }
}

/// Mini-batch seeding as scikit-learn does it: k-means++ on `n_init` random subsets of
/// `init_size` (default 3 × max(batch_size, k)) vectors, keeping the seeds with the lowest inertia on a separate
/// random validation subset of the same size.
fn best_mini_batch_seeding(
    data: ArrayView2<f32>,
    config: &KMeansConfig,
    batch_size: usize,
    rng: &mut ChaCha8Rng,
    on_progress: &mut dyn FnMut(FitProgress),
) -> Array2<f32> {
    let n = data.nrows();
    let subset_size = config
        .init_size
        .unwrap_or(3 * batch_size.max(config.k))
        .max(config.k)
        .min(n);
    let validation = data.select(Axis(0), &index::sample(rng, n, subset_size).into_vec());
    let validation_norms = squared_norms(validation.view());
    let mut best: Option<(f64, Array2<f32>)> = None;
    for run in 0..config.n_init {
        let seeds = seed_on_sample(data, config.k, subset_size, rng, run, on_progress);
        let labels = nearest(
            validation.view(),
            &validation_norms,
            seeds.view(),
            &squared_norms(seeds.view()),
        )
        .labels;
        let seeds_inertia = inertia(validation.view(), seeds.view(), &labels);
        if best
            .as_ref()
            .is_none_or(|(lowest, _)| seeds_inertia < *lowest)
        {
            best = Some((seeds_inertia, seeds));
        }
    }
    best.expect("n_init ≥ 1 was validated").1
}

/// k-means++ seeds from `sample_size` distinct random vectors of `data` (all of them when
/// that is n), reporting progress as stage `Seeding` of `run`.
fn seed_on_sample(
    data: ArrayView2<f32>,
    k: usize,
    sample_size: usize,
    rng: &mut ChaCha8Rng,
    run: usize,
    on_progress: &mut dyn FnMut(FitProgress),
) -> Array2<f32> {
    let mut report = |done| {
        on_progress(FitProgress {
            run,
            phase: FitPhase::Seeding,
            done,
            total: k,
        })
    };
    if sample_size >= data.nrows() {
        return kmeans_plus_plus(data, k, rng, &mut report);
    }
    let rows = index::sample(rng, data.nrows(), sample_size).into_vec();
    kmeans_plus_plus(data.select(Axis(0), &rows).view(), k, rng, &mut report)
}

/// Mean over dimensions of the per-dimension variance: the scale that makes `tol` relative.
/// Two row-wise passes (means, then squared deviations), in f64.
fn mean_variance(data: ArrayView2<f32>) -> f64 {
    let (n, d) = data.dim();
    let mut means = vec![0.0f64; d];
    for row in data.rows() {
        for (mean, &value) in means.iter_mut().zip(row) {
            *mean += f64::from(value);
        }
    }
    means.iter_mut().for_each(|mean| *mean /= n as f64);
    let mut total = 0.0f64;
    for row in data.rows() {
        for (mean, &value) in means.iter().zip(row) {
            total += (f64::from(value) - mean).powi(2);
        }
    }
    total / (n * d) as f64
}
