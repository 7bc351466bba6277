//! REPET-SIM (Rafii & Pardo 2012): REPET generalised to backgrounds that repeat without a
//! fixed period. Each frame's background is modelled as the median of the frames most similar
//! to it, found in the cosine self-similarity matrix, and the mixture is split by the mask
//! `min(model, X) / X` as in REPET.
//!
//! Follows the reference MATLAB code and nussl's `RepetSim`: for frame `j`, the similar
//! frames are picked greedily from row `j` of the similarity matrix — the most similar frame
//! not within `min_separation` of one already picked, repeatedly, while the similarity is at
//! least `min_similarity`, up to `max_neighbours` frames. Frame `j` itself (similarity 1) is
//! the first pick unless it is silent, so the median includes it.
//!
//! **Memory.** The similarity matrix is never held whole (a 5-minute track at 100 frames/s
//! would need 9·10⁸ values): rows are computed in blocks of at most [`SIMILARITY_BLOCK_VALUES`]
//! values and [`SIMILARITY_BLOCK_ROWS`] rows (one matrix product of the block's normalised
//! frames with all frames), their neighbours picked, and the block dropped; blocks run in
//! parallel. Time still grows as `T²·bins`.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::median::median_in_place;
use super::repeating::{check_cutoff, split_by_repeating_model};
use super::validate::check_magnitude;
use super::{ForegroundBackground, Primitive, PrimitiveError, SpectrogramGeometry};

/// Most similarity values computed at once (16 MiB of f32) per block of rows.
pub const SIMILARITY_BLOCK_VALUES: usize = 1 << 22;

/// Most rows per block, so even short inputs give several blocks to run in parallel.
pub const SIMILARITY_BLOCK_ROWS: usize = 128;

/// REPET-SIM settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepetSim {
    /// Most frames (including the frame itself) whose median models a frame's background.
    pub max_neighbours: usize,
    /// Picked frames are at least this far apart, in seconds, so one sustained event does not
    /// fill the whole neighbourhood.
    pub min_separation_secs: f64,
    /// Frames less similar than this (cosine, in `[0, 1]` for magnitudes) are never picked.
    pub min_similarity: f32,
    /// Bins below this frequency (Hz) go entirely to the background.
    pub cutoff_hz: f64,
}

impl Default for RepetSim {
    /// The published defaults: up to 100 frames at least 1 s apart, no similarity threshold,
    /// 100 Hz cutoff.
    fn default() -> Self {
        Self {
            max_neighbours: 100,
            min_separation_secs: 1.0,
            min_similarity: 0.0,
            cutoff_hz: 100.0,
        }
    }
}

impl RepetSim {
    /// Rejects zero neighbours, a negative separation or cutoff, and a non-finite threshold.
    pub fn validate(&self) -> Result<(), PrimitiveError> {
        if self.max_neighbours == 0 {
            return Err(PrimitiveError::InvalidConfig(
                "repet_sim max_neighbours must be at least 1".to_owned(),
            ));
        }
        if !(self.min_separation_secs >= 0.0 && self.min_separation_secs.is_finite()) {
            return Err(PrimitiveError::InvalidConfig(format!(
                "repet_sim min_separation_secs must be finite and ≥ 0, got {}",
                self.min_separation_secs
            )));
        }
        if !self.min_similarity.is_finite() {
            return Err(PrimitiveError::InvalidConfig(format!(
                "repet_sim min_similarity must be finite, got {}",
                self.min_similarity
            )));
        }
        check_cutoff("repet_sim", self.cutoff_hz)
    }

    /// For every frame of `magnitude` ([bins × frames]), the frames its background is modelled
    /// from, most similar first.
    pub fn similar_frames(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Vec<Vec<usize>> {
        let frames = magnitude.ncols();
        let separation = (self.min_separation_secs * geometry.frame_rate()).round() as usize;
        let normalised = unit_frames(magnitude);
        let block = (SIMILARITY_BLOCK_VALUES / frames).clamp(1, SIMILARITY_BLOCK_ROWS);
        (0..frames.div_ceil(block))
            .into_par_iter()
            .flat_map_iter(|b| {
                let rows = b * block..((b + 1) * block).min(frames);
                let mut similarity = Array2::<f32>::zeros((rows.len(), frames));
                general_mat_mul(
                    1.0,
                    &normalised.slice(s![rows, ..]),
                    &normalised.t(),
                    0.0,
                    &mut similarity,
                );
                let mut order = Vec::with_capacity(frames);
                similarity
                    .axis_iter(Axis(0))
                    .map(|row| {
                        let row = row
                            .as_slice()
                            .expect("rows of a fresh array are contiguous");
                        self.pick_neighbours(row, separation, &mut order)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Greedy peak picking on one similarity row (see the module docs); `order` is scratch.
    fn pick_neighbours(
        &self,
        similarity: &[f32],
        separation: usize,
        order: &mut Vec<usize>,
    ) -> Vec<usize> {
        order.clear();
        order.extend(0..similarity.len());
        order.sort_unstable_by(|&a, &b| similarity[b].total_cmp(&similarity[a]).then(a.cmp(&b)));
        let mut picked: Vec<usize> = Vec::with_capacity(self.max_neighbours);
        // `sorted` mirrors `picked` in frame order, so the two closest picks are found by a
        // binary search.
        let mut sorted: Vec<usize> = Vec::with_capacity(self.max_neighbours);
        for &frame in order.iter() {
            if picked.len() == self.max_neighbours || similarity[frame] < self.min_similarity {
                break;
            }
            let at = sorted.partition_point(|&p| p < frame);
            let clear_before = at == 0 || frame - sorted[at - 1] >= separation;
            let clear_after = at == sorted.len() || sorted[at] - frame >= separation;
            if clear_before && clear_after {
                sorted.insert(at, frame);
                picked.push(frame);
            }
        }
        picked
    }
}

/// `magnitude`'s frames as rows of unit length ([frames × bins]); silent frames stay zero, so
/// their similarity to everything is 0.
fn unit_frames(magnitude: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut frames = magnitude.t().as_standard_layout().into_owned();
    for mut frame in frames.rows_mut() {
        let norm = frame.iter().map(|&x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            frame.mapv_inplace(|x| x / norm);
        }
    }
    frames
}

/// The repeating model: each frame replaced by the per-bin median of its similar frames.
fn repeating_model(magnitude: ArrayView2<'_, f32>, similar: &[Vec<usize>]) -> Array2<f32> {
    let (bins, frames) = magnitude.dim();
    let by_frame = magnitude.t().as_standard_layout().into_owned();
    let mut model_by_frame = vec![0.0f32; frames * bins];
    model_by_frame
        .par_chunks_mut(bins)
        .zip(similar.par_iter())
        .for_each_init(Vec::new, |values, (out, neighbours)| {
            for (bin, slot) in out.iter_mut().enumerate() {
                values.clear();
                values.extend(neighbours.iter().map(|&t| by_frame[[t, bin]]));
                *slot = median_in_place(values);
            }
        });
    Array2::from_shape_vec((frames, bins), model_by_frame)
        .expect("frames × bins values")
        .reversed_axes()
        .as_standard_layout()
        .into_owned()
}

impl Primitive for RepetSim {
    fn name(&self) -> &'static str {
        "repet_sim"
    }

    /// Foreground = the non-repeating part, background = the repeating part.
    fn separate(
        &self,
        magnitude: ArrayView2<'_, f32>,
        geometry: &SpectrogramGeometry,
    ) -> Result<ForegroundBackground, PrimitiveError> {
        self.validate()?;
        check_magnitude(self.name(), magnitude)?;
        let similar = self.similar_frames(magnitude, geometry);
        let model = repeating_model(magnitude, &similar);
        Ok(split_by_repeating_model(
            magnitude,
            model.view(),
            geometry,
            self.cutoff_hz,
        ))
    }
}
