//! Cluster-label files: one label per feature vector, the training targets of masked unit
//! prediction (PaC-HuBERT). A safetensors file with a u32 tensor `labels` [vectors], the
//! number of clusters, and the metadata of the features file the labels came from (so the
//! patch grid and source audio travel along).

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array1, Ix1};

use super::ClusterError;
use crate::tensor_file::{self, FileFormat};

/// The tensor name inside a labels file.
pub const LABELS_TENSOR: &str = "labels";

/// The `format` / `format_version` metadata of labels files.
pub const LABELS_FORMAT: FileFormat = FileFormat {
    name: "tessera.cluster.labels",
    version: 1,
};

/// Metadata key holding the number of clusters the labels range over.
const K_KEY: &str = "k";

/// The contents of one labels file.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelsFile {
    /// One cluster index per feature vector, each below `k`.
    pub labels: Array1<u32>,
    /// Number of clusters (the classifier's output size), stored so a trainer needs no
    /// centroids file.
    pub k: usize,
    /// Metadata carried over from the features file (source audio, patch grid, ...).
    pub metadata: BTreeMap<String, String>,
}

impl LabelsFile {
    /// Writes the labels to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), ClusterError> {
        let mut metadata = self.metadata.clone();
        metadata.insert(K_KEY.to_owned(), self.k.to_string());
        tensor_file::write(
            path,
            LABELS_FORMAT,
            LABELS_TENSOR,
            self.labels.view(),
            &metadata,
        )?;
        Ok(())
    }

    /// Reads a labels file, checking that `k` is present and every label is below it.
    pub fn read(path: &Path) -> Result<Self, ClusterError> {
        let mut read = tensor_file::read::<u32, Ix1>(path, LABELS_FORMAT, LABELS_TENSOR, false)?;
        let bad = |what: String| ClusterError::BadFileContents {
            path: path.to_owned(),
            what,
        };
        let k = read.metadata.remove(K_KEY).ok_or_else(|| {
            bad(format!(
                "metadata lacks \"{K_KEY}\" (the number of clusters)"
            ))
        })?;
        let k: usize = k
            .parse()
            .map_err(|_| bad(format!("metadata \"{K_KEY}\" is {k:?}, not a number")))?;
        if let Some((index, label)) = read
            .values
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= k)
        {
            return Err(bad(format!("label {index} is {label}, not below k = {k}")));
        }
        Ok(Self {
            labels: read.values,
            k,
            metadata: read.metadata,
        })
    }
}
