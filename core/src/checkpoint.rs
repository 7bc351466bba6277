//! Model checkpoints: every tensor of a model (and, for training runs, of its optimiser)
//! in one safetensors file whose metadata holds the format version, the model kind and its
//! JSON config. Writes are atomic (safetensors writes a sibling temporary file and renames
//! it), so a run killed mid-save leaves the previous checkpoint intact.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Value of the `format` metadata entry.
pub const FORMAT: &str = "tessera.checkpoint";
/// Layout version; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// Why a checkpoint could not be written or used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("could not read checkpoint {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid checkpoint: {reason} (truncated or not a safetensors file?)", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{} is a {found} checkpoint, expected {expected}", path.display())]
    WrongKind {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{} has checkpoint format version {found}; this build reads version {FORMAT_VERSION}", path.display())]
    WrongVersion { path: PathBuf, found: String },
    #[error("{}: the stored config does not parse: {reason}", path.display())]
    BadConfig { path: PathBuf, reason: String },
    #[error("{} lacks tensor \"{name}\" the model needs", path.display())]
    MissingTensor { path: PathBuf, name: String },
    #[error("{}: tensor \"{name}\" has shape {found:?}, the model needs {expected:?}", path.display())]
    WrongShape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("could not write checkpoint {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

/// A checkpoint read from disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// Where it came from, for error messages.
    pub path: PathBuf,
    /// Model kind, e.g. `pupu-jepa`.
    pub kind: String,
    /// The model config as JSON.
    pub config: String,
    /// Every tensor by name.
    pub tensors: HashMap<String, Tensor>,
    /// Further metadata (training step, seeds, …).
    pub metadata: BTreeMap<String, String>,
}

/// Writes `tensors` with the model `kind`, its `config` and `extra` metadata to `path`.
pub fn save(
    path: &Path,
    kind: &str,
    config: &impl Serialize,
    tensors: &HashMap<String, Tensor>,
    extra: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let write_error = |reason: String| CheckpointError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let mut metadata: HashMap<String, String> = extra.clone().into_iter().collect();
    metadata.insert("format".into(), FORMAT.into());
    metadata.insert("format_version".into(), FORMAT_VERSION.to_string());
    metadata.insert("kind".into(), kind.into());
    metadata.insert(
        "config".into(),
        serde_json::to_string(config).map_err(|e| write_error(e.to_string()))?,
    );
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::serialize_to_file(sorted, Some(metadata), path)
        .map_err(|e| write_error(e.to_string()))
}

/// Reads a checkpoint of model `kind` onto `device`.
pub fn load(path: &Path, kind: &str, device: &Device) -> Result<Checkpoint, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_bytes(&bytes, path, kind, device)
}

/// Reads a checkpoint held in memory (a model embedded in the binary); `path` names it in
/// errors.
pub fn load_bytes(
    bytes: &[u8],
    path: &Path,
    kind: &str,
    device: &Device,
) -> Result<Checkpoint, CheckpointError> {
    let (found, config, metadata) = read_metadata(bytes, path)?;
    if found != kind {
        return Err(CheckpointError::WrongKind {
            path: path.to_path_buf(),
            found,
            expected: kind.into(),
        });
    }
    let tensors = candle_core::safetensors::load_buffer(bytes, device).map_err(|e| {
        CheckpointError::Invalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    Ok(Checkpoint {
        path: path.to_path_buf(),
        kind: found,
        config,
        tensors,
        metadata,
    })
}

/// What a checkpoint file says it holds, read from its header without its tensors: for
/// callers that accept several kinds and must learn which one a file is before loading it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointHeader {
    /// Model kind, e.g. `pupu-jepa`.
    pub kind: String,
    /// The model config as JSON.
    pub config: String,
}

/// The kind and config of the checkpoint in `bytes`; `path` names it in errors.
pub fn read_header(bytes: &[u8], path: &Path) -> Result<CheckpointHeader, CheckpointError> {
    let (kind, config, _) = read_metadata(bytes, path)?;
    Ok(CheckpointHeader { kind, config })
}

/// Checks the format and version entries of a checkpoint's header and returns its kind, its
/// config and the remaining metadata.
fn read_metadata(
    bytes: &[u8],
    path: &Path,
) -> Result<(String, String, BTreeMap<String, String>), CheckpointError> {
    let invalid = |reason: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let (_, header) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| invalid(e.to_string()))?;
    let mut metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    if metadata.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(invalid("it has no tessera checkpoint header".into()));
    }
    let version = metadata.remove("format_version").unwrap_or_default();
    if version != FORMAT_VERSION.to_string() {
        return Err(CheckpointError::WrongVersion {
            path: path.to_path_buf(),
            found: version,
        });
    }
    metadata.remove("format");
    let kind = metadata.remove("kind").unwrap_or_default();
    let config = metadata.remove("config").unwrap_or_default();
    Ok((kind, config, metadata))
}

impl Checkpoint {
    /// The stored config.
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, CheckpointError> {
        serde_json::from_str(&self.config).map_err(|e| CheckpointError::BadConfig {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Copies the tensors named `prefix + name` into every variable of `map`, converting to
    /// the variable's dtype. Every variable must be present with its exact shape.
    pub fn restore(&self, map: &VarMap, prefix: &str) -> Result<(), CheckpointError> {
        self.restore_part(map, prefix, "").map(|_| ())
    }

    /// Like [`Self::restore`], for the variables whose names start with `part` only (a
    /// pretrained piece of a larger model, e.g. a separator's `encoder.`); returns how many
    /// variables were restored.
    pub fn restore_part(
        &self,
        map: &VarMap,
        prefix: &str,
        part: &str,
    ) -> Result<usize, CheckpointError> {
        let vars = map.data().lock().expect("VarMap lock poisoned");
        let mut restored = 0;
        for (name, var) in vars.iter().filter(|(name, _)| name.starts_with(part)) {
            let key = format!("{prefix}{name}");
            let tensor = self
                .tensors
                .get(&key)
                .ok_or_else(|| CheckpointError::MissingTensor {
                    path: self.path.clone(),
                    name: key.clone(),
                })?;
            if tensor.dims() != var.dims() {
                return Err(CheckpointError::WrongShape {
                    path: self.path.clone(),
                    name: key,
                    found: tensor.dims().to_vec(),
                    expected: var.dims().to_vec(),
                });
            }
            let converted = tensor.to_dtype(var.dtype()).and_then(|t| var.set(&t));
            converted.map_err(|e| CheckpointError::Invalid {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
            restored += 1;
        }
        Ok(restored)
    }
}

/// Every variable of `map` under `prefix + name`, converted to `dtype` (f16 for shipped
/// models, f32 for training checkpoints).
pub fn tensors_of(
    map: &VarMap,
    prefix: &str,
    dtype: DType,
) -> candle_core::Result<HashMap<String, Tensor>> {
    let vars = map.data().lock().expect("VarMap lock poisoned");
    vars.iter()
        .map(|(name, var)| Ok((format!("{prefix}{name}"), var.as_tensor().to_dtype(dtype)?)))
        .collect()
}

/// Loads a model written by `tessera pretrain` (a `model.safetensors` or a training
/// checkpoint) for inference in f32: reads the file, checks its `kind`, builds the model
/// from the stored config with `build(config, trainable, target)` and fills both variable
/// sets (`trainable.*`, `target.*`).
pub fn load_model<C: DeserializeOwned, M>(
    path: &Path,
    kind: &str,
    device: &Device,
    build: impl FnOnce(C, candle_nn::VarBuilder, candle_nn::VarBuilder) -> candle_core::Result<M>,
) -> Result<M, CheckpointError> {
    build_model(&load(path, kind, device)?, device, build)
}

/// The model a read checkpoint holds, built and filled as [`load_model`] does.
pub fn build_model<C: DeserializeOwned, M>(
    saved: &Checkpoint,
    device: &Device,
    build: impl FnOnce(C, candle_nn::VarBuilder, candle_nn::VarBuilder) -> candle_core::Result<M>,
) -> Result<M, CheckpointError> {
    let config: C = saved.config()?;
    let (trainable, target) = (VarMap::new(), VarMap::new());
    let model = build(
        config,
        candle_nn::VarBuilder::from_varmap(&trainable, DType::F32, device),
        candle_nn::VarBuilder::from_varmap(&target, DType::F32, device),
    )
    .map_err(|e| CheckpointError::BadConfig {
        path: saved.path.clone(),
        reason: e.to_string(),
    })?;
    saved.restore(&trainable, "trainable.")?;
    saved.restore(&target, "target.")?;
    Ok(model)
}
