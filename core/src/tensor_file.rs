//! One named tensor in a safetensors file, plus string metadata: the shared reader and writer
//! behind Tessera's data files (per-patch features, k-means centroids, cluster labels).
//!
//! Every file carries a `format` and a `format_version` metadata entry so that a file of one
//! kind handed to a reader of another kind fails with a sentence naming the file, not with a
//! shape error deep inside a computation. Writes are atomic (safetensors writes a sibling
//! temporary file and renames it), so an interrupted run never leaves a half-written file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ndarray::{Array, ArrayView, Dimension, IxDyn};
use safetensors::{Dtype, SafeTensorError, SafeTensors, tensor::TensorView};

/// Metadata key naming what kind of data a file holds (e.g. `tessera.features`).
pub const FORMAT_KEY: &str = "format";
/// Metadata key holding the version of that kind's layout, bumped on incompatible changes.
pub const FORMAT_VERSION_KEY: &str = "format_version";

/// Why a tensor file could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TensorFileError {
    /// The file could not be opened or read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The bytes are not a complete safetensors file (truncated, corrupt, or another format).
    #[error("{} is not a valid safetensors file ({source})", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser reported.
        source: SafeTensorError,
    },
    /// The file is valid but lacks the tensor this kind of file must hold.
    #[error("{} holds no tensor named \"{name}\" (it has: {found})", path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor that was expected.
        name: String,
        /// The tensor names the file does hold, comma-separated.
        found: String,
    },
    /// The tensor has the wrong element type.
    #[error("{}: tensor \"{name}\" holds {found:?} values, expected {expected:?}", path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The element type in the file.
        found: Dtype,
        /// The element type this kind of file must hold.
        expected: Dtype,
    },
    /// The tensor has the wrong number of axes.
    #[error("{}: tensor \"{name}\" has shape {found:?}, expected {expected} axes", path.display())]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The shape in the file.
        found: Vec<usize>,
        /// The number of axes this kind of file must have.
        expected: usize,
    },
    /// The `format` / `format_version` metadata say this is another kind or version of file.
    #[error("{} is {found}, expected {expected}", path.display())]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// What the metadata say the file is (`format` and `format_version`).
        found: String,
        /// What the reader expected.
        expected: String,
    },
    /// The file could not be written (directory missing, disk full, ...).
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the safetensors writer reported.
        source: SafeTensorError,
    },
}

/// Element types a tensor file can hold. Sealed: the byte conversion is only written for the
/// types Tessera stores.
pub trait TensorElement: Copy + sealed::Sealed {
    /// The safetensors type tag.
    const DTYPE: Dtype;
    /// Little-endian bytes of one value, as safetensors stores them.
    fn to_le_bytes(self) -> [u8; 4];
    /// The value from its little-endian bytes.
    fn from_le_bytes(bytes: [u8; 4]) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u32 {}
}

impl TensorElement for f32 {
    const DTYPE: Dtype = Dtype::F32;
    fn to_le_bytes(self) -> [u8; 4] {
        f32::to_le_bytes(self)
    }
    fn from_le_bytes(bytes: [u8; 4]) -> Self {
        f32::from_le_bytes(bytes)
    }
}

impl TensorElement for u32 {
    const DTYPE: Dtype = Dtype::U32;
    fn to_le_bytes(self) -> [u8; 4] {
        u32::to_le_bytes(self)
    }
    fn from_le_bytes(bytes: [u8; 4]) -> Self {
        u32::from_le_bytes(bytes)
    }
}

/// What kind of file a reader expects and a writer produces: the `format` and
/// `format_version` metadata values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFormat {
    /// The `format` metadata value, e.g. `tessera.kmeans.centroids`.
    pub name: &'static str,
    /// The `format_version` metadata value.
    pub version: u32,
}

impl FileFormat {
    /// Checks the format entries of `metadata` read from `path`. Files without a `format`
    /// entry pass only when `allow_missing` is set (e.g. features written by numpy scripts).
    pub fn check(
        &self,
        path: &Path,
        metadata: &BTreeMap<String, String>,
        allow_missing: bool,
    ) -> Result<(), TensorFileError> {
        let format = metadata.get(FORMAT_KEY);
        let version = metadata.get(FORMAT_VERSION_KEY);
        if format.is_none() && version.is_none() && allow_missing {
            return Ok(());
        }
        let expected_version = self.version.to_string();
        if format.map(String::as_str) == Some(self.name) && version == Some(&expected_version) {
            return Ok(());
        }
        let describe = |value: Option<&String>| value.map_or("(none)".to_owned(), String::clone);
        Err(TensorFileError::WrongFormat {
            path: path.to_owned(),
            found: format!("format {} version {}", describe(format), describe(version)),
            expected: format!("format {} version {}", self.name, self.version),
        })
    }

    /// `metadata` with this format's entries added (replacing any stale ones).
    fn stamp(&self, metadata: &BTreeMap<String, String>) -> HashMap<String, String> {
        let mut stamped: HashMap<String, String> = metadata.clone().into_iter().collect();
        stamped.insert(FORMAT_KEY.to_owned(), self.name.to_owned());
        stamped.insert(FORMAT_VERSION_KEY.to_owned(), self.version.to_string());
        stamped
    }
}

/// A tensor read from a file, with the file's metadata minus the format entries.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRead<T, D: Dimension> {
    /// The tensor's values, in the file's (row-major) layout.
    pub values: Array<T, D>,
    /// The file's string metadata without `format` / `format_version`.
    pub metadata: BTreeMap<String, String>,
}

/// Writes `values` as tensor `name` of `format` into `path`, atomically, with `metadata`.
pub fn write<T: TensorElement, D: Dimension>(
    path: &Path,
    format: FileFormat,
    name: &str,
    values: ArrayView<T, D>,
    metadata: &BTreeMap<String, String>,
) -> Result<(), TensorFileError> {
    let write_error = |source| TensorFileError::Write {
        path: path.to_owned(),
        source,
    };
    // Logical (row-major) order, whatever the view's memory layout.
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    let view = TensorView::new(T::DTYPE, values.shape().to_vec(), &bytes).map_err(write_error)?;
    safetensors::serialize_to_file([(name, view)], Some(format.stamp(metadata)), path)
        .map_err(write_error)
}

/// Reads tensor `name` from `path`, checking `format` (see [`FileFormat::check`] for
/// `allow_missing_format`), the element type and the number of axes.
pub fn read<T: TensorElement, D: Dimension>(
    path: &Path,
    format: FileFormat,
    name: &str,
    allow_missing_format: bool,
) -> Result<TensorRead<T, D>, TensorFileError> {
    let bytes = std::fs::read(path).map_err(|source| TensorFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |source| TensorFileError::Invalid {
        path: path.to_owned(),
        source,
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    format.check(path, &metadata, allow_missing_format)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(invalid)?;
    let tensor = tensors.tensor(name).map_err(|_| {
        let mut names = tensors.names();
        names.sort_unstable();
        TensorFileError::MissingTensor {
            path: path.to_owned(),
            name: name.to_owned(),
            found: if names.is_empty() {
                "no tensors".to_owned()
            } else {
                names.join(", ")
            },
        }
    })?;
    if tensor.dtype() != T::DTYPE {
        return Err(TensorFileError::WrongDtype {
            path: path.to_owned(),
            name: name.to_owned(),
            found: tensor.dtype(),
            expected: T::DTYPE,
        });
    }
    let wrong_rank = || TensorFileError::WrongRank {
        path: path.to_owned(),
        name: name.to_owned(),
        found: tensor.shape().to_vec(),
        expected: D::NDIM.unwrap_or(tensor.shape().len()),
    };
    let values: Vec<T> = tensor
        .data()
        .chunks_exact(4)
        .map(|chunk| T::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    // safetensors has already checked that the byte length matches the shape.
    let values = Array::from_shape_vec(IxDyn(tensor.shape()), values)
        .map_err(|_| wrong_rank())?
        .into_dimensionality::<D>()
        .map_err(|_| wrong_rank())?;
    let metadata = metadata
        .into_iter()
        .filter(|(key, _)| key != FORMAT_KEY && key != FORMAT_VERSION_KEY)
        .collect();
    Ok(TensorRead { values, metadata })
}
