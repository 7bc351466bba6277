//! Attention–stem alignment, a measurement none of the papers has: on songs with true stems,
//! mask a region of PupuJEPA patches dominated by one stem and measure the share of the
//! predictor's attention that goes to context patches dominated by the same stem, against
//! the share expected by chance (those patches' share of the context's area).
//!
//! A patch is dominated by a stem when the stem holds at least [`DOMINANCE`] of the patch's
//! mel power (summed over its bins and frames) and the patch is not silent. A region is
//! [`REGION`] patches whose every patch the same stem dominates. The attention is the mean
//! over the predictor's layers and heads, as the plugin and `tessera attention` show it.
//!
//! Chance by area is a weak baseline: attention falls off with distance, and a stem's
//! patches cluster around a region it dominates. So the measurement also scores, for every
//! region, the mean attention map of the *other* regions masked at the same place (in other
//! clips): attention that depends on position alone. Attention beyond that baseline follows
//! the content.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::Device;
use ndarray::{Array2, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use tessera_core::dsp::mel::MelSpectrogram;
use tessera_core::dsp::resample::{ResampleQuality, resample};
use tessera_core::models::PupuJepa;
use tessera_core::models::separator::STEMS;

use crate::data::songs::SAMPLE_RATE;
use crate::progress;
use crate::separation::songs::{StemSong, find_song_folders, load_song};

/// A stem dominates a patch holding at least this share of its power.
pub const DOMINANCE: f32 = 0.6;
/// Patches quieter than this share of the clip's loudest patch are silent: no stem
/// dominates them.
const SILENT: f32 = 1e-4;
/// A block of patches: frequency and time patch ranges.
type PatchBlock = (Range<usize>, Range<usize>);

/// Size of a masked region: frequency × time patches.
pub const REGION: (usize, usize) = (2, 2);

/// The measurement for one stem over every region it dominated.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StemAlignment {
    pub stem: String,
    /// Masked regions measured.
    pub regions: usize,
    /// Mean share of the context attention on patches the same stem dominates.
    pub attention_share: f64,
    /// Mean share of the context patches the same stem dominates (chance by area).
    pub chance_share: f64,
    /// Mean share the position-only attention (other regions masked at the same place)
    /// puts on those patches; NaN without such regions.
    pub position_share: f64,
    /// Regions the position baseline could be computed for.
    pub position_regions: usize,
}

impl StemAlignment {
    /// How many times chance the attention finds the stem (NaN without regions).
    pub fn lift(&self) -> f64 {
        self.attention_share / self.chance_share
    }
}

/// Which stem dominates each patch of `power` (`[stem]` of `[freq patch × time patch]`
/// power), if any.
pub fn dominant_stems(power: &[Array2<f32>]) -> Array2<Option<usize>> {
    let total = power
        .iter()
        .fold(Array2::<f32>::zeros(power[0].raw_dim()), |acc, p| acc + p);
    let loudest = total.fold(0f32, |acc, &v| acc.max(v));
    Array2::from_shape_fn(total.raw_dim(), |at| {
        if total[at] <= SILENT * loudest || total[at] <= 0.0 {
            return None;
        }
        (0..power.len()).find(|&s| power[s][at] >= DOMINANCE * total[at])
    })
}

/// For a region `(freq, time)` of patches and the attention `map` for it: the share of the
/// context attention on patches `stem` dominates, and those patches' share of the context,
/// or `None` when the stem dominates no context patch (there is nothing to find).
pub fn alignment(
    map: &Array2<f32>,
    dominant: &Array2<Option<usize>>,
    (freq, time): PatchBlock,
    stem: usize,
) -> Option<(f64, f64)> {
    let (mut attention, mut on_stem, mut patches, mut stem_patches) = (0f64, 0f64, 0usize, 0usize);
    for ((f, t), &weight) in map.indexed_iter() {
        if freq.contains(&f) && time.contains(&t) {
            continue;
        }
        let same = dominant[[f, t]] == Some(stem);
        attention += f64::from(weight);
        patches += 1;
        if same {
            on_stem += f64::from(weight);
            stem_patches += 1;
        }
    }
    (stem_patches > 0 && attention > 0.0)
        .then(|| (on_stem / attention, stem_patches as f64 / patches as f64))
}

/// Every region of [`REGION`] patches that one stem dominates throughout, with the stem.
fn dominated_regions(dominant: &Array2<Option<usize>>) -> Vec<(PatchBlock, usize)> {
    let (rows, cols) = dominant.dim();
    let (height, width) = REGION;
    let mut regions = Vec::new();
    for f in 0..=rows.saturating_sub(height) {
        for t in 0..=cols.saturating_sub(width) {
            let cells = dominant.slice(s![f..f + height, t..t + width]);
            if let Some(stem) = cells[[0, 0]]
                && cells.iter().all(|&c| c == Some(stem))
            {
                regions.push(((f..f + height, t..t + width), stem));
            }
        }
    }
    regions
}

/// [`measure`] with PupuJEPA-Tiny (or the model at `model`) on the songs found in `set`,
/// with a progress bar; also returns how many songs were measured.
pub fn measure_folders(
    model: Option<&Path>,
    set: &[PathBuf],
    clips_per_song: usize,
    regions_per_stem: usize,
    seed: u64,
) -> anyhow::Result<(Vec<StemAlignment>, usize)> {
    let device = Device::Cpu;
    let model = match model {
        Some(path) => PupuJepa::load(path, &device)?,
        None => tessera_core::embedded::default_pupu_jepa(&device)?,
    };
    let folders = find_song_folders(set)?;
    let songs = folders
        .par_iter()
        .map(|folder| load_song(folder, SAMPLE_RATE))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bar = progress::bar(songs.len() as u64, "songs");
    let alignments = measure(
        &model,
        &songs,
        SAMPLE_RATE,
        clips_per_song,
        regions_per_stem,
        seed,
        |done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    Ok((alignments, songs.len()))
}

/// Measures the alignment on up to `clips_per_song` consecutive clips of every song (its
/// stems at `song_rate`, mixed to mono and resampled to PupuJEPA's rate) and up to `regions_per_stem` regions per stem and clip, drawn
/// with `seed`; `progress` is told the songs done.
pub fn measure(
    model: &PupuJepa,
    songs: &[StemSong],
    song_rate: u32,
    clips_per_song: usize,
    regions_per_stem: usize,
    seed: u64,
    progress: impl Fn(usize),
) -> anyhow::Result<Vec<StemAlignment>> {
    let config = model.config();
    let mel = MelSpectrogram::new(&config.mel).context("PupuJEPA's mel settings")?;
    let (clip, frames) = (config.clip_samples(), config.clip_frames);
    let (patch_f, patch_t) = (config.patch_freq, config.patch_time);
    let device = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut measured: Vec<Measured> = Vec::new();
    for (done, song) in songs.iter().enumerate() {
        let mono = song
            .stems
            .iter()
            .map(|[l, r]| {
                let mono: Vec<f32> = l.iter().zip(r).map(|(a, b)| 0.5 * (a + b)).collect();
                resample(
                    &mono,
                    song_rate,
                    config.mel.sample_rate,
                    ResampleQuality::Balanced,
                )
                .with_context(|| format!("{}: cannot resample", song.folder.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let len = mono[0].len();
        for start in (0..len.saturating_sub(clip - 1))
            .step_by(clip)
            .take(clips_per_song)
        {
            let power = mono
                .iter()
                .map(|stem| {
                    let spectrum = mel.compute(&stem[start..start + clip])?;
                    Ok(patch_sums(
                        &spectrum.slice(s![.., ..frames]).to_owned(),
                        patch_f,
                        patch_t,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let dominant = dominant_stems(&power);
            let mixture: Vec<f32> = (start..start + clip)
                .map(|i| mono.iter().map(|stem| stem[i]).sum())
                .collect();
            let input = model.clip_input(&mixture, &device)?.unsqueeze(0)?;
            let mut regions = dominated_regions(&dominant);
            regions.shuffle(&mut rng);
            let mut taken = vec![0usize; STEMS.len()];
            for (region, stem) in regions {
                if taken[stem] == regions_per_stem {
                    continue;
                }
                let maps = model.region_attention(&input, region.0.clone(), region.1.clone())?;
                let map = maps.mean(0)?.mean(0)?.to_vec2::<f32>()?;
                let map = Array2::from_shape_vec(dominant.raw_dim(), map.concat())?;
                if let Some((share, chance)) = alignment(&map, &dominant, region.clone(), stem) {
                    taken[stem] += 1;
                    measured.push(Measured {
                        region,
                        stem,
                        map,
                        dominant: dominant.clone(),
                        share,
                        chance,
                    });
                }
            }
        }
        progress(done + 1);
    }
    Ok(summarise(&measured))
}

/// One masked region's measurement, kept for the position baseline.
struct Measured {
    region: PatchBlock,
    stem: usize,
    /// The attention for the region.
    map: Array2<f32>,
    /// Which stem dominates each patch of its clip.
    dominant: Array2<Option<usize>>,
    share: f64,
    chance: f64,
}

/// Per stem: the means of the measured shares, and of the position baseline: each
/// region's patches scored with the mean map of the other regions masked at the same place.
fn summarise(measured: &[Measured]) -> Vec<StemAlignment> {
    let position_share = |m: &Measured| {
        let others: Vec<&Measured> = measured
            .iter()
            .filter(|o| o.region == m.region && !std::ptr::eq(*o, m))
            .collect();
        if others.is_empty() {
            return None;
        }
        let mean = others
            .iter()
            .fold(Array2::<f32>::zeros(m.map.raw_dim()), |acc, o| acc + &o.map)
            / others.len() as f32;
        alignment(&mean, &m.dominant, m.region.clone(), m.stem).map(|(share, _)| share)
    };
    STEMS
        .iter()
        .enumerate()
        .map(|(stem, name)| {
            let mine: Vec<&Measured> = measured.iter().filter(|m| m.stem == stem).collect();
            let positions: Vec<f64> = mine.iter().filter_map(|m| position_share(m)).collect();
            let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
            StemAlignment {
                stem: (*name).to_owned(),
                regions: mine.len(),
                attention_share: mean(&mine.iter().map(|m| m.share).collect::<Vec<_>>()),
                chance_share: mean(&mine.iter().map(|m| m.chance).collect::<Vec<_>>()),
                position_share: mean(&positions),
                position_regions: positions.len(),
            }
        })
        .collect()
}

/// Sums of `spectrum` (`[bins × frames]`) over patches of `patch_f × patch_t`.
fn patch_sums(spectrum: &Array2<f32>, patch_f: usize, patch_t: usize) -> Array2<f32> {
    let (bins, frames) = spectrum.dim();
    Array2::from_shape_fn((bins / patch_f, frames / patch_t), |(f, t)| {
        spectrum
            .slice(s![
                f * patch_f..(f + 1) * patch_f,
                t * patch_t..(t + 1) * patch_t
            ])
            .sum()
    })
}

/// The markdown table of the measurement.
pub fn markdown_table(alignments: &[StemAlignment]) -> String {
    let mut table = String::from(
        "| stem | regions | attention on same-stem context | chance (by area) | × chance | position-only attention (regions) |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for a in alignments {
        table += &format!(
            "| {} | {} | {:.3} | {:.3} | {:.2} | {:.3} ({}) |\n",
            a.stem,
            a.regions,
            a.attention_share,
            a.chance_share,
            a.lift(),
            a.position_share,
            a.position_regions
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_stem_dominates_patches_where_it_holds_most_of_the_power() {
        let vocals = array![[6.0, 1.0], [0.0, 0.0]];
        let drums = array![[4.0, 1.0], [0.0, 1e-9]];
        let bass = array![[0.0, 8.0], [10.0, 0.0]];
        let dominant = dominant_stems(&[vocals, drums, bass]);
        // 6/10 = DOMINANCE exactly; 8/10; 10/10; the last patch is silent.
        assert_eq!(dominant, array![[Some(0), Some(2)], [Some(2), None]]);
    }

    #[test]
    fn alignment_compares_the_attention_with_the_area_of_the_stem() {
        let dominant = array![[Some(1), Some(1), None], [Some(0), Some(1), Some(0)],];
        let map = array![[0.1, 0.2, 0.1], [0.3, 0.2, 0.1]];
        // Region: column 0. Context: (0,1) stem 1, (0,2) none, (1,1) stem 1, (1,2) stem 0;
        // attention 0.6 in all, 0.4 on stem 1: 2/3; area 2 of 4 patches: 1/2.
        let (share, chance) = alignment(&map, &dominant, (0..2, 0..1), 1).unwrap();
        assert!((share - 0.4 / 0.6).abs() < 1e-6 && (chance - 0.5).abs() < 1e-12);
        assert_eq!(alignment(&map, &dominant, (0..2, 0..1), 2), None);
    }

    #[test]
    fn the_position_baseline_scores_a_region_with_the_other_regions_at_its_place() {
        let region: PatchBlock = (0..1, 0..1);
        let measured = |map: Array2<f32>, dominant: Array2<Option<usize>>| {
            let (share, chance) = alignment(&map, &dominant, region.clone(), 0).unwrap();
            Measured {
                region: region.clone(),
                stem: 0,
                map,
                dominant,
                share,
                chance,
            }
        };
        // Region A's stem sits at (0, 1); region B's attention looks only at (1, 1).
        let a = measured(
            array![[0.0, 0.6, 0.2], [0.0, 0.2, 0.0]],
            array![[Some(0), Some(0), None], [None, None, None]],
        );
        let b = measured(
            array![[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            array![[Some(0), None, None], [None, Some(0), None]],
        );
        let summary = summarise(&[a, b]);
        let vocals = &summary[0];
        assert_eq!((vocals.regions, vocals.position_regions), (2, 2));
        // A: 0.6 of its own attention on its stem, 0 of B's; B: 1.0 of its own, 0.2 of A's.
        assert!((vocals.attention_share - 0.8).abs() < 1e-6);
        assert!((vocals.position_share - 0.1).abs() < 1e-6);
        assert_eq!(summary[1].regions, 0);
        assert!(summary[1].attention_share.is_nan());
    }

    #[test]
    fn regions_are_the_blocks_one_stem_dominates_throughout() {
        let dominant = array![[Some(3), Some(3), Some(3)], [Some(3), Some(3), None],];
        let regions = dominated_regions(&dominant);
        assert_eq!(regions, vec![((0..2, 0..2), 3)]);
    }
}
