//! What a k-means fit does: number of clusters, algorithm and stopping rules, seed.

use serde::{Deserialize, Serialize};

use super::ClusterError;

/// How the centroids are refined after k-means++ seeding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Algorithm {
    /// Full passes over the data: assign every vector, move every centre to its mean. Exact
    /// but each iteration costs n·k·d; fine up to a few million vectors on two cores.
    Lloyd,
    /// scikit-learn's `MiniBatchKMeans`: each step assigns a random batch and moves the hit
    /// centres towards it with per-centre learning rates 1/count. Much cheaper per step, a
    /// little higher final inertia.
    MiniBatch {
        /// Vectors drawn (with replacement) per step.
        batch_size: usize,
        /// Stop after this many steps without improvement of the smoothed batch inertia;
        /// `None` runs all `max_iter` epochs.
        max_no_improvement: Option<usize>,
    },
}

impl Algorithm {
    /// Mini-batch with scikit-learn's early stopping (10 steps without improvement).
    pub fn mini_batch(batch_size: usize) -> Self {
        Self::MiniBatch {
            batch_size,
            max_no_improvement: Some(10),
        }
    }
}

/// Settings of one k-means fit. Defaults follow scikit-learn's `KMeans`, with PaC-HuBERT's
/// 960 clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KMeansConfig {
    /// Number of clusters (PaC-HuBERT: 960 on 48-dim patch features).
    pub k: usize,
    /// Lloyd: maximum iterations per run. Mini-batch: maximum epochs, i.e. the fit stops
    /// after `max_iter · n / batch_size` steps at the latest.
    pub max_iter: usize,
    /// Convergence tolerance on the summed squared centre movement of one iteration (or
    /// one mini-batch step), relative to the data's mean per-dimension variance, as in
    /// scikit-learn. 0 disables the check.
    pub tol: f64,
    /// Independent seedings (and, for Lloyd, whole runs); the one with the lowest inertia
    /// wins. Mini-batch compares seedings on a held-out sample, as scikit-learn does.
    pub n_init: usize,
    /// Vectors k-means++ seeds on (a seeded random subset; raised to at least k). Seeding
    /// costs a full pass over them per centre, so on millions of vectors a subset of
    /// ~100 000 makes seeding take seconds instead of minutes. `None`: Lloyd seeds on all
    /// vectors (scikit-learn's `KMeans`), mini-batch on 3 × max(batch_size, k)
    /// (scikit-learn's `MiniBatchKMeans`).
    pub init_size: Option<usize>,
    /// Refinement algorithm.
    pub algorithm: Algorithm,
    /// Seed of the ChaCha random generator behind every random draw of the fit.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            k: 960,
            max_iter: 300,
            tol: 1e-4,
            n_init: 1,
            init_size: None,
            algorithm: Algorithm::Lloyd,
            seed: 0,
        }
    }
}

impl KMeansConfig {
    /// Checks every value that does not depend on the data.
    pub fn validate(&self) -> Result<(), ClusterError> {
        let invalid = |message: &str| Err(ClusterError::InvalidConfig(message.to_owned()));
        if self.k == 0 {
            return invalid("k must be at least 1");
        }
        if u32::try_from(self.k).is_err() {
            return invalid("k must fit in 32 bits (labels are u32)");
        }
        if self.max_iter == 0 {
            return invalid("max_iter must be at least 1");
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return invalid("tol must be finite and non-negative");
        }
        if self.n_init == 0 {
            return invalid("n_init must be at least 1");
        }
        if let Algorithm::MiniBatch {
            batch_size,
            max_no_improvement,
        } = self.algorithm
        {
            if batch_size == 0 {
                return invalid("batch_size must be at least 1");
            }
            if max_no_improvement == Some(0) {
                return invalid("max_no_improvement must be at least 1 (or absent)");
            }
        }
        Ok(())
    }
}
