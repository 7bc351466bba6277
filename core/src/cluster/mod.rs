//! k-means clustering of feature vectors: PaC-HuBERT fits 960 clusters on 48-dim per-patch
//! primitive auditory features and uses the cluster indices as masked-prediction targets.
//!
//! [`KMeans::fit`] seeds with greedy k-means++ and refines with Lloyd's algorithm or
//! scikit-learn-style mini-batches ([`Algorithm`]); distances are blocked matrix products
//! run in parallel with rayon; every random draw comes from a ChaCha generator seeded by
//! [`KMeansConfig::seed`], and results are reproducible bit for bit. [`KMeansModel`] labels
//! new data and saves/loads its centroids as safetensors; [`LabelsFile`] stores labels.

mod config;
mod distance;
mod error;
mod init;
mod kmeans;
mod labels_file;
mod lloyd;
mod mini_batch;
mod model;
mod sample;

use ndarray::ArrayView2;

pub use config::{Algorithm, KMeansConfig};
pub use error::ClusterError;
pub use kmeans::{FitPhase, FitProgress, KMeans, KMeansFit};
pub use labels_file::{LABELS_FORMAT, LABELS_TENSOR, LabelsFile};
pub use model::{CENTROIDS_FORMAT, CENTROIDS_TENSOR, KMeansModel};
pub use sample::RowReservoir;

/// Checks that every value of `data` is finite; the error names the first bad row and column.
pub fn check_finite(data: ArrayView2<f32>) -> Result<(), ClusterError> {
    for (row, values) in data.rows().into_iter().enumerate() {
        if let Some((column, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ClusterError::NonFinite { row, column, value });
        }
    }
    Ok(())
}
