//! PaC-HuBERT's training data: audio files paired with the cluster labels of their patches
//! (`tessera features primitive`, then `tessera cluster fit` and `assign`), cut into chunks
//! whose bottleneck tokens are exactly the labelled patches.
//!
//! A labels file keeps the features file's metadata: the audio it describes (relative to
//! the folder the features were computed from), the STFT and patch sizes, and the segments
//! analysed independently, whose rows follow each other, each ordered frequency patch by
//! time patch. A chunk starting at a patch boundary of a segment sees, centred STFT frame
//! for frame, the frames the features saw there; its token `(t, f)` takes the label of the
//! segment's patch `(f, first + t)`.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use rand::{Rng, RngExt};
use tessera_core::cluster::LabelsFile;
use tessera_core::models::PacHubertConfig;
use tessera_core::models::separator::CHANNELS;
use tessera_core::primitives::features::SegmentGrid;

use crate::data::stereo::read_stereo;
use crate::files::files_with_extensions;

/// How `tessera cluster assign` names its outputs.
const LABELS_SUFFIX: &str = ".labels.safetensors";

/// Every labels file under `dir` (`tessera cluster assign`'s outputs), sorted; an error
/// saying how to make them when there are none.
pub fn labels_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files: Vec<PathBuf> = files_with_extensions(dir, &["safetensors"])?
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(LABELS_SUFFIX))
        .collect();
    ensure!(
        !files.is_empty(),
        "{} holds no labels files (*{LABELS_SUFFIX}): make them with `tessera features \
         primitive` and `tessera cluster fit` / `assign`",
        dir.display()
    );
    Ok(files)
}

/// One audio file and the labels of its patches.
struct LabelledTrack {
    /// Stereo audio at the model's rate.
    audio: [Vec<f32>; CHANNELS],
    /// Each analysed segment with the index of its first label.
    segments: Vec<(SegmentGrid, usize)>,
    /// One cluster per patch, segment by segment.
    labels: Vec<u32>,
}

/// A chunk position: track, segment, first time patch.
#[derive(Debug, Clone, Copy)]
struct Window {
    track: usize,
    segment: usize,
    first_step: usize,
}

/// One training example: a stereo chunk and the cluster of each of its tokens, time-major.
pub struct LabelledChunk {
    pub audio: [Vec<f32>; CHANNELS],
    pub labels: Vec<u32>,
}

/// Every labelled track, and every chunk position in them.
pub struct LabelledSet {
    tracks: Vec<LabelledTrack>,
    windows: Vec<Window>,
    /// Clusters of the labels (the same in every file).
    clusters: usize,
    /// Samples per chunk.
    chunk_samples: usize,
    /// Samples per time patch (`P_t · hop`).
    step_samples: usize,
    /// Token grid of a chunk: `(time steps, frequency patches)`.
    grid: (usize, usize),
}

impl LabelledSet {
    /// Reads every labels file under `labels_dir` and the audio it names, found under one
    /// of `audio_dirs`; fails naming the file on any mismatch with `model`.
    pub fn open(
        audio_dirs: &[PathBuf],
        labels_dir: &Path,
        model: &PacHubertConfig,
    ) -> anyhow::Result<Self> {
        let separator = &model.separator;
        let (patch_time, patch_freq) = separator.patch();
        let grid = separator.token_grid();
        let files = labels_files(labels_dir)?;
        let expected = [
            ("sample_rate", separator.sample_rate as usize),
            ("n_fft", separator.n_fft),
            ("hop_length", separator.hop),
            ("patch_time", patch_time),
            ("patch_freq", patch_freq),
        ];
        let mut tracks = Vec::new();
        let mut clusters = None;
        for path in &files {
            let file = LabelsFile::read(path)?;
            let field = |key: &str| {
                file.metadata
                    .get(key)
                    .with_context(|| format!("{}: no {key} in its metadata", path.display()))
            };
            for (key, want) in expected {
                let found = field(key)?;
                ensure!(
                    found.parse::<usize>().ok() == Some(want),
                    "{}: {key} is {found}, the model needs {want}: compute the features with \
                     the model's STFT and patch sizes",
                    path.display()
                );
            }
            ensure!(
                *clusters.get_or_insert(file.k) == file.k,
                "{}: labels from {} clusters, other files have {}",
                path.display(),
                file.k,
                clusters.unwrap_or_default()
            );
            let segments: Vec<SegmentGrid> = serde_json::from_str(field("segments")?)
                .with_context(|| format!("{}: unreadable segments", path.display()))?;
            let mut offset = 0;
            let mut placed = Vec::with_capacity(segments.len());
            for segment in segments {
                ensure!(
                    segment.freq_patches == grid.1,
                    "{}: {} frequency patches per step, the model has {}",
                    path.display(),
                    segment.freq_patches,
                    grid.1
                );
                placed.push((segment, offset));
                offset += segment.freq_patches * segment.time_patches;
            }
            ensure!(
                offset == file.labels.len(),
                "{}: {} labels, but its segments hold {offset} patches",
                path.display(),
                file.labels.len()
            );
            let source = field("source")?;
            let audio = audio_dirs
                .iter()
                .map(|dir| dir.join(source))
                .find(|p| p.is_file())
                .with_context(|| {
                    format!(
                        "{}: its audio {source} is in none of {audio_dirs:?}",
                        path.display()
                    )
                })?;
            tracks.push(LabelledTrack {
                audio: read_stereo(&audio, separator.sample_rate)?.channels,
                segments: placed,
                labels: file.labels.to_vec(),
            });
        }
        let chunk_samples = separator.chunk_samples();
        let step_samples = patch_time * separator.hop;
        let mut windows = Vec::new();
        for (t, track) in tracks.iter().enumerate() {
            for (s, (segment, _)) in track.segments.iter().enumerate() {
                // Whole patches only: a segment's last patch may be partial.
                let whole = segment.frames / patch_time;
                for first_step in 0..=whole.saturating_sub(grid.0) {
                    let start = segment.start_sample + first_step * step_samples;
                    if whole >= grid.0 && start + chunk_samples <= track.audio[0].len() {
                        windows.push(Window {
                            track: t,
                            segment: s,
                            first_step,
                        });
                    }
                }
            }
        }
        ensure!(
            !windows.is_empty(),
            "the {} labelled files under {} hold no whole chunk of {:.2} s",
            files.len(),
            labels_dir.display(),
            chunk_samples as f64 / f64::from(separator.sample_rate)
        );
        Ok(Self {
            tracks,
            windows,
            clusters: clusters.expect("at least one file"),
            chunk_samples,
            step_samples,
            grid,
        })
    }

    /// Clusters the labels were drawn from.
    pub fn clusters(&self) -> usize {
        self.clusters
    }

    /// Chunk positions available.
    pub fn windows(&self) -> usize {
        self.windows.len()
    }

    /// A chunk at a uniformly drawn position, with its labels.
    pub fn draw(&self, rng: &mut impl Rng) -> LabelledChunk {
        let window = self.windows[rng.random_range(0..self.windows.len())];
        let track = &self.tracks[window.track];
        let (segment, offset) = track.segments[window.segment];
        let start = segment.start_sample + window.first_step * self.step_samples;
        let (steps, freqs) = self.grid;
        let labels = (0..steps)
            .flat_map(|t| {
                (0..freqs).map(move |f| offset + f * segment.time_patches + window.first_step + t)
            })
            .map(|row| track.labels[row])
            .collect();
        LabelledChunk {
            audio: std::array::from_fn(|c| {
                track.audio[c][start..start + self.chunk_samples].to_vec()
            }),
            labels,
        }
    }
}
