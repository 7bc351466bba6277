//! Frozen per-clip embeddings: every layer of an encoder, averaged over each clip's time,
//! cached on disk so that re-running a probe — or probing another label of the same clips —
//! does not embed them again.
//!
//! The cache holds one small safetensors file per clip and encoder,
//! `CACHE/<encoder fingerprint>/<clip key>.safetensors` with one `(dim,)` tensor `layer.<i>`
//! per layer. The encoder fingerprint hashes the model file's bytes (or the baseline's
//! settings); the clip key hashes the audio file's canonical path, its size and modification
//! time and the clip's region. A cache file that cannot be read or does not fit is
//! recomputed and rewritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{Device, Tensor};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use super::clip_audio::entry_audio;
use super::encoder_choice::{EncoderChoice, LoadedEncoder, hex};
use crate::data::manifest::ManifestEntry;

/// The embeddings of a list of clips.
#[derive(Debug, Clone)]
pub struct ClipEmbeddings {
    /// Per layer (first layer first), `(clips, dim)` f32: row `i` is clip `i`'s frames of
    /// that layer averaged over time, in the order the clips were given.
    pub layers: Vec<Tensor>,
    /// How many clips were read from the cache instead of being embedded, so callers can
    /// report (and tests check) that a cache was used.
    pub from_cache: usize,
}

/// Embeds every clip of `entries` with `choice`, reading and writing per-clip results under
/// `cache_dir` when one is given; `progress` advances by one per clip (pass
/// `ProgressBar::hidden()` for none). The encoder is loaded only if some clip is not cached.
/// Bad audio is an error naming its file.
pub fn embed_clips(
    choice: &EncoderChoice,
    entries: &[ManifestEntry],
    cache_dir: Option<&Path>,
    progress: &ProgressBar,
) -> anyhow::Result<ClipEmbeddings> {
    anyhow::ensure!(!entries.is_empty(), "there are no clips to embed");
    let cache = cache_dir
        .map(|dir| -> anyhow::Result<PathBuf> { Ok(dir.join(choice.fingerprint()?)) })
        .transpose()?;
    let mut encoder: Option<LoadedEncoder> = None;
    // Every clip must have the layers and widths of the first one; a cache file that
    // differs is stale or damaged.
    let mut shape: Option<Vec<usize>> = None;
    let mut per_clip: Vec<Vec<Vec<f32>>> = Vec::with_capacity(entries.len());
    let mut from_cache = 0;
    progress.set_length(entries.len() as u64);
    for entry in entries {
        let cache_file = match &cache {
            Some(dir) => Some(dir.join(format!("{}.safetensors", clip_key(entry)?))),
            None => None,
        };
        let cached = cache_file
            .as_deref()
            .and_then(read_cached)
            .filter(|layers| shape.as_ref().is_none_or(|s| *s == widths(layers)));
        let layers = match cached {
            Some(layers) => {
                from_cache += 1;
                layers
            }
            None => {
                if encoder.is_none() {
                    encoder = Some(choice.load()?);
                }
                let encoder = encoder.as_ref().expect("loaded just above");
                let audio = entry_audio(entry, encoder.sample_rate(), encoder.channels())?;
                let layers = encoder
                    .clip_embedding(&audio)
                    .with_context(|| format!("{}: cannot embed", entry.path.display()))?;
                if let Some(file) = &cache_file {
                    write_cached(file, &layers)?;
                }
                layers
            }
        };
        shape.get_or_insert_with(|| widths(&layers));
        per_clip.push(layers);
        progress.inc(1);
    }
    let shape = shape.expect("at least one clip");
    let layers = (0..shape.len())
        .map(|layer| {
            let rows: Vec<f32> = per_clip
                .iter()
                .flat_map(|clip| clip[layer].clone())
                .collect();
            Tensor::from_vec(rows, (entries.len(), shape[layer]), &Device::Cpu)
        })
        .collect::<candle_core::Result<_>>()?;
    Ok(ClipEmbeddings { layers, from_cache })
}

/// Width of each layer of one clip.
fn widths(layers: &[Vec<f32>]) -> Vec<usize> {
    layers.iter().map(Vec::len).collect()
}

/// What identifies a clip's audio: its file (canonical path, size, modification time) and
/// its region. An edited or replaced file gets a new key.
fn clip_key(entry: &ManifestEntry) -> anyhow::Result<String> {
    let file = entry.path.display();
    let path = std::fs::canonicalize(&entry.path)
        .with_context(|| format!("{file}: cannot open the audio file"))?;
    let meta = std::fs::metadata(&path).with_context(|| format!("{file}: cannot read"))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut hash = Sha256::new();
    hash.update(path.to_string_lossy().as_bytes());
    hash.update(meta.len().to_le_bytes());
    hash.update(modified.to_le_bytes());
    for bound in [entry.start, entry.end] {
        hash.update(bound.map_or(f64::NAN, |s| s).to_le_bytes());
    }
    Ok(hex(&hash.finalize()))
}

/// A clip's layers from its cache file; `None` if it is missing, unreadable or malformed.
fn read_cached(file: &Path) -> Option<Vec<Vec<f32>>> {
    let tensors = candle_core::safetensors::load(file, &Device::Cpu).ok()?;
    (0..tensors.len())
        .map(|layer| {
            let tensor = tensors.get(&layer_name(layer))?;
            let values = tensor.to_vec1::<f32>().ok()?;
            (!values.is_empty() && values.iter().all(|v| v.is_finite())).then_some(values)
        })
        .collect::<Option<Vec<_>>>()
        .filter(|layers| !layers.is_empty())
}

/// Writes a clip's layers to its cache file (atomically: a temporary file renamed).
fn write_cached(file: &Path, layers: &[Vec<f32>]) -> anyhow::Result<()> {
    let dir = file.parent().expect("cache files live in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tensors = layers
        .iter()
        .enumerate()
        .map(|(layer, values)| {
            let tensor = Tensor::from_slice(values, values.len(), &Device::Cpu)?;
            Ok((layer_name(layer), tensor))
        })
        .collect::<candle_core::Result<HashMap<_, _>>>()?;
    candle_core::safetensors::save(&tensors, file)
        .with_context(|| format!("cannot write the cache file {}", file.display()))
}

fn layer_name(layer: usize) -> String {
    format!("layer.{layer}")
}
