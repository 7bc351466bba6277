//! Songs with true stems, as `tessera data songs` writes them (and as users lay out their own
//! multitracks): one folder per song holding `vocals.wav`, `drums.wav`, `bass.wav` and
//! `other.wav` at 44.1 kHz (mono stems are upmixed). The mixture is their sum, so a
//! `mixture.wav`, if present, is not read.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use tessera_core::audio::channels::to_stereo;
use tessera_core::audio::decode::decode_file;
use tessera_core::models::separator::{CHANNELS, STEMS};
use walkdir::WalkDir;

/// One song's stems, `[stem][channel][sample]`, all the same length.
#[derive(Debug, Clone)]
pub struct StemSong {
    /// The song folder (named in errors and reports).
    pub folder: PathBuf,
    /// Stereo stems in [`STEMS`] order.
    pub stems: [[Vec<f32>; CHANNELS]; 4],
}

impl StemSong {
    /// Samples per channel.
    pub fn len(&self) -> usize {
        self.stems[0][0].len()
    }

    /// Whether the song has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mixture: the sum of the stems.
    pub fn mixture(&self) -> [Vec<f32>; CHANNELS] {
        mix(&self.stems)
    }
}

/// The sum of four stereo stems of equal length.
pub fn mix(stems: &[[Vec<f32>; CHANNELS]; 4]) -> [Vec<f32>; CHANNELS] {
    std::array::from_fn(|c| {
        let mut sum = stems[0][c].clone();
        for stem in &stems[1..] {
            sum.iter_mut().zip(&stem[c]).for_each(|(m, s)| *m += s);
        }
        sum
    })
}

/// Every song folder under `roots` (a root may itself be a song folder), sorted by path so
/// subsets and splits are reproducible.
pub fn find_song_folders(roots: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut folders = Vec::new();
    for root in roots {
        ensure!(root.is_dir(), "{} is not a folder", root.display());
        let before = folders.len();
        for entry in WalkDir::new(root).sort_by_file_name() {
            let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
            if entry.file_type().is_dir() && entry.path().join("vocals.wav").is_file() {
                folders.push(entry.into_path());
            }
        }
        ensure!(
            folders.len() > before,
            "{} holds no song folders (folders with vocals.wav, drums.wav, bass.wav, other.wav)",
            root.display()
        );
    }
    folders.sort();
    Ok(folders)
}

/// Reads the stems of one song folder, checking rates and lengths.
pub fn load_song(folder: &Path, sample_rate: u32) -> anyhow::Result<StemSong> {
    let mut stems = Vec::with_capacity(STEMS.len());
    for name in STEMS {
        let path = folder.join(format!("{name}.wav"));
        let audio =
            decode_file(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if audio.sample_rate != sample_rate {
            bail!(
                "{} is at {} Hz; the separator trains at {sample_rate} Hz",
                path.display(),
                audio.sample_rate
            );
        }
        let [left, right]: [Vec<f32>; 2] = to_stereo(&audio)
            .channels
            .try_into()
            .expect("to_stereo gives two channels");
        if left.iter().chain(&right).any(|v| !v.is_finite()) {
            bail!("{} contains NaN or infinite samples", path.display());
        }
        stems.push([left, right]);
    }
    let len = stems[0][0].len();
    if let Some(i) = stems.iter().position(|s| s[0].len() != len) {
        bail!(
            "{}: {}.wav has {} samples but vocals.wav has {len}",
            folder.display(),
            STEMS[i],
            stems[i][0].len()
        );
    }
    Ok(StemSong {
        folder: folder.to_path_buf(),
        stems: stems.try_into().expect("four stems"),
    })
}

/// The first `fraction` of `folders` (at least one song): nested subsets, so the 25 % set
/// lies inside the 50 % set, as in the paper's limited-data experiment.
pub fn subset(folders: &[PathBuf], fraction: f64) -> anyhow::Result<&[PathBuf]> {
    ensure!(
        fraction > 0.0 && fraction <= 1.0,
        "the fraction of songs must lie in (0, 1], got {fraction}"
    );
    let count = ((folders.len() as f64 * fraction).round() as usize).clamp(1, folders.len());
    Ok(&folders[..count])
}
