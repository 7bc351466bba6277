//! Per-patch feature files: the hand-over between feature extraction (e.g. PaC-HuBERT's
//! primitive auditory features, 48 values per spectrogram patch) and clustering.
//!
//! A features file is a safetensors file holding one f32 tensor `features` of shape
//! [vectors × dimensions] and free-form string metadata (e.g. the source audio and the
//! patch grid, which label files carry forward).

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array2, Ix2};

use crate::tensor_file::{self, FileFormat, TensorFileError};

/// The tensor name inside a features file.
pub const FEATURES_TENSOR: &str = "features";

/// The `format` / `format_version` metadata of features files.
pub const FEATURES_FORMAT: FileFormat = FileFormat {
    name: "tessera.features",
    version: 1,
};

/// The contents of one features file.
#[derive(Debug, Clone, PartialEq)]
pub struct FeaturesFile {
    /// One feature vector per row: [vectors × dimensions].
    pub features: Array2<f32>,
    /// Free-form description of where the vectors come from (source file, patch grid, ...).
    pub metadata: BTreeMap<String, String>,
}

impl FeaturesFile {
    /// Reads a features file. Files without `format` metadata are accepted, so features
    /// written by other tools (e.g. `safetensors.numpy.save_file`) work too.
    pub fn read(path: &Path) -> Result<Self, TensorFileError> {
        let read = tensor_file::read::<f32, Ix2>(path, FEATURES_FORMAT, FEATURES_TENSOR, true)?;
        Ok(Self {
            features: read.values,
            metadata: read.metadata,
        })
    }

    /// Writes this features file to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), TensorFileError> {
        tensor_file::write(
            path,
            FEATURES_FORMAT,
            FEATURES_TENSOR,
            self.features.view(),
            &self.metadata,
        )
    }
}
