//! The notes a multi-view run learns from and is evaluated on: a folder of `tessera data
//! notes` (`notes_pitch.csv` and `notes_family.csv`, the same clips in the same order),
//! embedded once with a frozen encoder and cut into the parts every run and probe shares.
//!
//! The training split trains the disentangler and the probes; a seeded part of it,
//! stratified by family, validates both (the disentangler's best model, the probes'
//! learning rate and early stopping); the test split (held-out SoundFonts or programs)
//! scores the probes.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::data::MultiviewData;
use crate::data::manifest::{Manifest, ManifestEntry};
use crate::probe::{EncoderChoice, class_names, embed_clips, select_rows, stratified_split};
use crate::progress;

/// The manifests a notes folder must hold.
pub const PITCH_MANIFEST: &str = "notes_pitch.csv";
pub const FAMILY_MANIFEST: &str = "notes_family.csv";
/// The embedding cache used when none is given, inside the notes folder (as `tessera
/// probe` puts it next to its manifest), so probes and multi-view runs share it.
pub const DEFAULT_CACHE: &str = ".tessera-cache";

/// How clips become latents: everything a run must record so its evaluation embeds the
/// same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingSource {
    /// The frozen encoder, as `--encoder` spells it.
    pub encoder: String,
    /// The encoder layer read, counted from 1; `None` reads the last.
    pub layer: Option<usize>,
    /// Seeds the validation split, the pairs and a random encoder's weights.
    pub seed: u64,
}

/// Latents and labels of one part of the notes.
#[derive(Debug, Clone)]
pub struct NotesPart {
    /// `(clips, dim)` f32 clip latents.
    pub latents: Tensor,
    /// Pitch class of every clip (an index into [`EmbeddedNotes::pitch_classes`]).
    pub pitch: Vec<usize>,
    /// Family class of every clip (an index into [`EmbeddedNotes::family_classes`]).
    pub family: Vec<usize>,
}

impl NotesPart {
    /// The part's clips paired as the paper pairs them (same family, different pitch).
    pub fn paired(&self, seed: u64) -> anyhow::Result<MultiviewData> {
        MultiviewData::paired_by_family(
            self.latents.clone(),
            self.pitch.clone(),
            self.family.clone(),
            seed,
        )
    }

    pub fn clips(&self) -> usize {
        self.pitch.len()
    }
}

/// A notes folder embedded and split.
#[derive(Debug, Clone)]
pub struct EmbeddedNotes {
    /// How it was embedded.
    pub source: EmbeddingSource,
    /// The folder it came from, for messages and reports.
    pub folder: PathBuf,
    /// Trains the disentangler and the probes.
    pub train: NotesPart,
    /// Validates them: the seeded stratified hold-out of the training split.
    pub valid: NotesPart,
    /// Scores the probes: the test split.
    pub test: NotesPart,
    /// Names of the pitch classes, over every split (a test pitch absent from training is a
    /// class the probe gets wrong, not an error).
    pub pitch_classes: Vec<String>,
    /// Names of the family classes, over every split.
    pub family_classes: Vec<String>,
    /// How many clips came from the embedding cache.
    pub from_cache: usize,
}

/// Reads the notes folder `folder`, embeds every clip with `source` (through `cache`) and
/// splits it.
pub fn embed_notes(
    folder: &Path,
    source: &EmbeddingSource,
    cache: Option<&Path>,
) -> anyhow::Result<EmbeddedNotes> {
    ensure!(
        folder.is_dir(),
        "{}: no such notes folder (make one with `tessera data notes --out {}`)",
        folder.display(),
        folder.display()
    );
    let pitch = Manifest::read(&folder.join(PITCH_MANIFEST))?;
    let family = Manifest::read(&folder.join(FAMILY_MANIFEST))?;
    ensure!(
        pitch.entries.len() == family.entries.len()
            && pitch
                .entries
                .iter()
                .zip(&family.entries)
                .all(|(p, f)| p.path == f.path && p.split == f.split),
        "{}: {PITCH_MANIFEST} and {FAMILY_MANIFEST} must list the same clips in the same order",
        folder.display()
    );
    let pitch_classes = class_names(&pitch.entries, false);
    let family_classes = class_names(&family.entries, false);
    let class_of = |names: &[String], entry: &ManifestEntry| {
        names
            .binary_search(&entry.label)
            .expect("class names come from these entries")
    };

    let rows_in = |split: &str| -> Vec<usize> {
        (0..pitch.entries.len())
            .filter(|&i| pitch.entries[i].split == split)
            .collect()
    };
    let (train_rows, test_rows) = (rows_in("train"), rows_in("test"));
    ensure!(
        !train_rows.is_empty() && !test_rows.is_empty(),
        "{}: the notes need both train and test rows, found {} and {}",
        folder.join(PITCH_MANIFEST).display(),
        train_rows.len(),
        test_rows.len()
    );
    // By family alone: (family, pitch) strata hold two or three notes each in a set of a few
    // thousand, and a stratum of two gives up half its notes, so the validation part would
    // swell far beyond its 15 %.
    let strata: Vec<usize> = train_rows
        .iter()
        .map(|&i| class_of(&family_classes, &family.entries[i]))
        .collect();
    let (kept, held) = stratified_split(&strata, source.seed);
    ensure!(
        !held.is_empty(),
        "{}: too few training notes to hold out a validation part",
        folder.display()
    );
    let parts = [
        kept.iter().map(|&k| train_rows[k]).collect::<Vec<_>>(),
        held.iter().map(|&k| train_rows[k]).collect(),
        test_rows,
    ];

    let encoder: EncoderChoice = source.encoder.parse().map_err(anyhow::Error::msg)?;
    let encoder = encoder.with_seed(source.seed);
    let entries: Vec<ManifestEntry> = parts
        .iter()
        .flatten()
        .map(|&i| pitch.entries[i].clone())
        .collect();
    let bar = progress::bar(entries.len() as u64, "embedding");
    let embeddings = embed_clips(&encoder, &entries, cache, &bar)
        .with_context(|| format!("cannot embed the notes of {}", folder.display()))?;
    bar.finish_and_clear();
    let layers = embeddings.layers.len();
    let layer = match source.layer {
        None => layers - 1,
        Some(n) if (1..=layers).contains(&n) => n - 1,
        Some(n) => anyhow::bail!("--layer {n}: the encoder has {layers} layers (count from 1)"),
    };
    let latents = &embeddings.layers[layer..=layer];

    let mut first = 0;
    let [train, valid, test] = parts.map(|rows| -> anyhow::Result<NotesPart> {
        let positions: Vec<usize> = (first..first + rows.len()).collect();
        first += rows.len();
        Ok(NotesPart {
            latents: select_rows(latents, &positions)?.remove(0),
            pitch: rows
                .iter()
                .map(|&i| class_of(&pitch_classes, &pitch.entries[i]))
                .collect(),
            family: rows
                .iter()
                .map(|&i| class_of(&family_classes, &family.entries[i]))
                .collect(),
        })
    });
    Ok(EmbeddedNotes {
        source: source.clone(),
        folder: folder.to_path_buf(),
        train: train?,
        valid: valid?,
        test: test?,
        pitch_classes,
        family_classes,
        from_cache: embeddings.from_cache,
    })
}
