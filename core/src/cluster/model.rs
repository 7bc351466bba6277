//! Fitted centroids: labelling data with them, scoring data against them, and storing them
//! as a safetensors file.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array2, ArrayView2, Ix2};

use super::distance::{inertia, nearest, squared_norms};
use super::{ClusterError, check_finite};
use crate::tensor_file::{self, FileFormat};

/// The tensor name inside a centroids file.
pub const CENTROIDS_TENSOR: &str = "centroids";

/// The `format` / `format_version` metadata of centroids files.
pub const CENTROIDS_FORMAT: FileFormat = FileFormat {
    name: "tessera.kmeans.centroids",
    version: 1,
};

/// A fitted k-means model: k centroids of dimension d. Always at least one centroid, at
/// least one dimension, and finite values.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    centroids: Array2<f32>,
}

impl KMeansModel {
    /// A model from centroids [k × d]; rejects empty shapes and non-finite values.
    pub fn new(centroids: Array2<f32>) -> Result<Self, ClusterError> {
        let (k, d) = centroids.dim();
        if k == 0 || d == 0 {
            return Err(ClusterError::InvalidCentroids(format!(
                "shape {k} × {d} has no centroids or no dimensions"
            )));
        }
        if u32::try_from(k).is_err() {
            return Err(ClusterError::InvalidCentroids(format!(
                "{k} centroids do not fit 32-bit labels"
            )));
        }
        if let Some((index, value)) = centroids.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ClusterError::InvalidCentroids(format!(
                "centroid {}, dimension {} is {value}",
                index / d,
                index % d
            )));
        }
        Ok(Self { centroids })
    }

    /// The centroids [k × d].
    pub fn centroids(&self) -> ArrayView2<'_, f32> {
        self.centroids.view()
    }

    /// Number of clusters k.
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    /// Dimension d of the vectors.
    pub fn dim(&self) -> usize {
        self.centroids.ncols()
    }

    /// The index of the nearest centroid (lowest index on ties) for every row of `data`.
    pub fn assign(&self, data: ArrayView2<f32>) -> Result<Vec<u32>, ClusterError> {
        self.check_data(data)?;
        Ok(self.nearest_labels(data))
    }

    /// Sum over the rows of `data` of the squared distance to the nearest centroid.
    pub fn inertia(&self, data: ArrayView2<f32>) -> Result<f64, ClusterError> {
        self.check_data(data)?;
        Ok(inertia(
            data,
            self.centroids.view(),
            &self.nearest_labels(data),
        ))
    }

    /// Writes the centroids to `path` as a safetensors file (tensor `centroids`, f32
    /// [k × d], with format metadata), atomically.
    pub fn save(&self, path: &Path) -> Result<(), ClusterError> {
        tensor_file::write(
            path,
            CENTROIDS_FORMAT,
            CENTROIDS_TENSOR,
            self.centroids.view(),
            &BTreeMap::new(),
        )?;
        Ok(())
    }

    /// Reads centroids written by [`KMeansModel::save`]; every error names the file.
    pub fn load(path: &Path) -> Result<Self, ClusterError> {
        let read = tensor_file::read::<f32, Ix2>(path, CENTROIDS_FORMAT, CENTROIDS_TENSOR, false)?;
        Self::new(read.values).map_err(|error| ClusterError::BadFileContents {
            path: path.to_owned(),
            what: error.to_string(),
        })
    }

    fn check_data(&self, data: ArrayView2<f32>) -> Result<(), ClusterError> {
        if data.ncols() != self.dim() {
            return Err(ClusterError::DimensionMismatch {
                expected: self.dim(),
                found: data.ncols(),
            });
        }
        check_finite(data)
    }

    fn nearest_labels(&self, data: ArrayView2<f32>) -> Vec<u32> {
        let centroids = self.centroids.view();
        nearest(
            data,
            &squared_norms(data),
            centroids,
            &squared_norms(centroids),
        )
        .labels
    }
}
