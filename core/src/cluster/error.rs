//! Why clustering could not run, in one sentence each.

use std::path::PathBuf;

use crate::tensor_file::TensorFileError;

/// Errors of [`crate::cluster`]: bad configurations, data that cannot be clustered, and
/// unreadable or mismatched centroid and label files.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A configuration value is out of range (the message says which and why).
    #[error("invalid k-means configuration: {0}")]
    InvalidConfig(String),
    /// More clusters were asked for than there are vectors to put in them.
    #[error(
        "cannot fit {k} clusters on {vectors} vectors: k must be between 1 and the number of vectors"
    )]
    TooFewVectors {
        /// The requested number of clusters.
        k: usize,
        /// The number of data vectors.
        vectors: usize,
    },
    /// Data vectors and centroids (or the vectors of a data set) differ in dimension.
    #[error("dimension mismatch: the centroids have {expected} dimensions, the data has {found}")]
    DimensionMismatch {
        /// The centroids' dimension.
        expected: usize,
        /// The data's dimension.
        found: usize,
    },
    /// Vectors have no dimensions at all, so there is nothing to cluster.
    #[error("the data vectors have zero dimensions")]
    ZeroDimensions,
    /// A value is NaN or infinite; it would poison every centroid it touches.
    #[error("row {row}, column {column} of the data is {value} (every value must be finite)")]
    NonFinite {
        /// The row (vector index) holding the value.
        row: usize,
        /// The column (dimension) holding the value.
        column: usize,
        /// The offending value.
        value: f32,
    },
    /// Centroids handed to [`crate::cluster::KMeansModel::new`] (or loaded from a file) are unusable.
    #[error("invalid centroids: {0}")]
    InvalidCentroids(String),
    /// A centroid or label file could not be read or written, or holds something else.
    #[error(transparent)]
    File(#[from] TensorFileError),
    /// A file's tensor is readable but its contents are unusable (e.g. NaN centroids).
    #[error("{}: {what}", path.display())]
    BadFileContents {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        what: String,
    },
}
