//! I-JEPA multi-block masks over a (frequency × time) patch grid, and PupuJEPA-style
//! frequency-aware variants.
//!
//! **Indexing.** Tokens are numbered row-major like [`crate::dsp::patches::PatchGrid`] numbers
//! patches: token `f · time + t` is frequency patch `f` (0 = lowest band) at time patch `t`.
//!
//! **Sampling** (I-JEPA, Assran et al. 2023, section 3): per batch, one target block size
//! (scale and aspect ratio drawn uniformly from their ranges) and one context block size
//! (scale 0.85–1.0, aspect 1) are drawn; per sample, each of the `num_targets` target blocks
//! and the context block get a uniform random position inside the grid. The context is the
//! context block minus the union of the target blocks, so the context encoder never sees a
//! token it will be asked to predict. A draw whose context has fewer than `min_keep` tokens
//! is redrawn (I-JEPA retries the same way); contexts are then cut to the batch's shortest
//! so they can be gathered into one tensor.
//!
//! **Non-square grids.** Scale is a fraction of the grid's tokens and aspect ratio is
//! `(height / freq) / (width / time)`, i.e. relative to the grid's shape: on a square grid
//! this is exactly I-JEPA's rule, and on a wide 8 × 64 spectrogram grid an aspect-1 context
//! block still spans 85–100 % of the grid instead of a narrow square.
//!
//! **Frequency-aware variants.** The PupuJEPA text we have (pupujepa-*.txt) says masking
//! works on the 2D time–frequency grid and shows rectangular target regions, but defers the
//! masking details to its preprint. [`MaskStrategy::TimeStripes`] and
//! [`MaskStrategy::FrequencyBands`] are our frequency-aware options: targets that cover all
//! frequencies over a stretch of time (predict an onset or a bar from its surroundings) or
//! all time steps of a band of frequencies (predict a register, e.g. the bass line, from the
//! others). They keep the scale range; the aspect range only shapes [`MaskStrategy::Blocks`].

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{BatchMasks, MaskError, MaskSet};

/// Placements tried per sample before the batch's block sizes are redrawn.
const PLACEMENTS_PER_SIZE: usize = 50;
/// Block-size draws tried per batch before giving up on an infeasible configuration.
const SIZE_DRAWS: usize = 20;

/// The shape of a token grid: frequency patches (rows) × time patches (columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenGrid {
    /// Number of frequency patches (grid rows).
    pub freq: usize,
    /// Number of time patches (grid columns).
    pub time: usize,
}

impl TokenGrid {
    /// A grid of `freq` frequency patches by `time` time patches.
    pub fn new(freq: usize, time: usize) -> Self {
        Self { freq, time }
    }

    /// Number of tokens, `freq · time`.
    pub fn len(&self) -> usize {
        self.freq * self.time
    }

    /// Whether the grid has no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row-major token index of frequency patch `freq` at time patch `time`.
    pub fn index(&self, freq: usize, time: usize) -> usize {
        freq * self.time + time
    }
}

/// What shape the target blocks take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskStrategy {
    /// I-JEPA rectangles: height and width from the scale and aspect ranges.
    #[default]
    Blocks,
    /// Full-height stripes: every frequency over `round(scale · time)` time patches.
    TimeStripes,
    /// Full-width bands: every time patch over `round(scale · freq)` frequency patches.
    FrequencyBands,
}

/// The random size of one kind of block.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSpec {
    /// `[min, max]` fraction of the grid's tokens a block covers, drawn uniformly.
    pub scale: (f64, f64),
    /// `[min, max]` grid-relative aspect ratio `(height / freq) / (width / time)`, drawn
    /// uniformly; only [`MaskStrategy::Blocks`] targets and the context block use it.
    pub aspect: (f64, f64),
}

impl BlockSpec {
    fn validate(&self, name: &str) -> Result<(), MaskError> {
        let (s_min, s_max) = self.scale;
        let (a_min, a_max) = self.aspect;
        if !(s_min > 0.0 && s_min <= s_max && s_max <= 1.0) {
            return Err(MaskError::InvalidConfig(format!(
                "{name}.scale is [{s_min}, {s_max}] but must satisfy 0 < min <= max <= 1"
            )));
        }
        if !(a_min > 0.0 && a_min <= a_max && a_max.is_finite()) {
            return Err(MaskError::InvalidConfig(format!(
                "{name}.aspect is [{a_min}, {a_max}] but must satisfy 0 < min <= max < infinity"
            )));
        }
        Ok(())
    }
}

/// Multi-block masking settings; defaults are I-JEPA's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiBlockConfig {
    /// Shape of the target blocks.
    pub strategy: MaskStrategy,
    /// Target blocks per sample; the predictor runs once per block (I-JEPA: 4).
    pub num_targets: usize,
    /// Size of the target blocks (I-JEPA: scale 0.15–0.2, aspect 0.75–1.5).
    pub target: BlockSpec,
    /// Size of the context block before the targets are cut out (I-JEPA: scale 0.85–1.0,
    /// aspect 1).
    pub context: BlockSpec,
    /// Fewest context tokens a sample may keep; draws leaving fewer are redrawn (I-JEPA: 10).
    pub min_keep: usize,
}

impl Default for MultiBlockConfig {
    fn default() -> Self {
        Self {
            strategy: MaskStrategy::Blocks,
            num_targets: 4,
            target: BlockSpec {
                scale: (0.15, 0.2),
                aspect: (0.75, 1.5),
            },
            context: BlockSpec {
                scale: (0.85, 1.0),
                aspect: (1.0, 1.0),
            },
            min_keep: 10,
        }
    }
}

/// A block's extent in patches; drawn once per batch so all samples share it.
#[derive(Debug, Clone, Copy)]
struct BlockSize {
    freq: usize,
    time: usize,
}

impl MultiBlockConfig {
    /// Checks every value that does not depend on the grid.
    pub fn validate(&self) -> Result<(), MaskError> {
        MaskError::check_positive("num_targets", self.num_targets)?;
        MaskError::check_positive("min_keep", self.min_keep)?;
        self.target.validate("target")?;
        self.context.validate("context")
    }

    /// Draws masks for `batch` samples on `grid`: per sample, `num_targets` target blocks
    /// and a context disjoint from them with at least `min_keep` tokens; contexts are cut
    /// to the batch's shortest. Fails on an invalid configuration, a grid with fewer than
    /// `min_keep` tokens, or when no valid mask turns up in many draws.
    pub fn sample_batch(
        &self,
        grid: TokenGrid,
        batch: usize,
        rng: &mut impl Rng,
    ) -> Result<BatchMasks, MaskError> {
        self.validate()?;
        if batch == 0 {
            return Err(MaskError::EmptyBatch);
        }
        if grid.len() < self.min_keep {
            return Err(MaskError::TooFewTokens {
                tokens: grid.len(),
                reason: format!(
                    "the context must keep at least min_keep = {}",
                    self.min_keep
                ),
            });
        }
        // Redrawing sizes when some sample cannot be placed keeps marginal configurations
        // from failing a long training run on one unlucky batch.
        for _ in 0..SIZE_DRAWS {
            let target_size = draw_size(&self.target, self.strategy, grid, rng);
            let context_size = draw_size(&self.context, MaskStrategy::Blocks, grid, rng);
            let samples: Option<Vec<MaskSet>> = (0..batch)
                .map(|_| self.place(grid, target_size, context_size, rng))
                .collect();
            if let Some(samples) = samples {
                return Ok(BatchMasks::collate(samples, rng));
            }
        }
        Err(MaskError::NoValidMask {
            constraint: format!(
                "context of at least min_keep = {} tokens outside {} target blocks on a {} x {} grid",
                self.min_keep, self.num_targets, grid.freq, grid.time
            ),
            attempts: SIZE_DRAWS * PLACEMENTS_PER_SIZE,
        })
    }

    /// One sample's block positions, or `None` if no placement kept `min_keep` context
    /// tokens.
    fn place(
        &self,
        grid: TokenGrid,
        target_size: BlockSize,
        context_size: BlockSize,
        rng: &mut impl Rng,
    ) -> Option<MaskSet> {
        let mut in_target = vec![false; grid.len()];
        for _ in 0..PLACEMENTS_PER_SIZE {
            in_target.fill(false);
            let targets: Vec<Vec<usize>> = (0..self.num_targets)
                .map(|_| place_block(grid, target_size, rng))
                .collect();
            for &token in targets.iter().flatten() {
                in_target[token] = true;
            }
            let context: Vec<usize> = place_block(grid, context_size, rng)
                .into_iter()
                .filter(|&token| !in_target[token])
                .collect();
            if context.len() >= self.min_keep {
                return Some(MaskSet { context, targets });
            }
        }
        None
    }
}

/// Draws a block size: scale and aspect uniformly from `spec`, shaped by `strategy`, each
/// side rounded and kept within the grid.
fn draw_size(
    spec: &BlockSpec,
    strategy: MaskStrategy,
    grid: TokenGrid,
    rng: &mut impl Rng,
) -> BlockSize {
    let scale = rng.random_range(spec.scale.0..=spec.scale.1);
    let aspect = rng.random_range(spec.aspect.0..=spec.aspect.1);
    let (freq_fraction, time_fraction) = match strategy {
        MaskStrategy::Blocks => ((scale * aspect).sqrt(), (scale / aspect).sqrt()),
        MaskStrategy::TimeStripes => (1.0, scale),
        MaskStrategy::FrequencyBands => (scale, 1.0),
    };
    let side = |fraction: f64, extent: usize| {
        ((fraction * extent as f64).round() as usize).clamp(1, extent)
    };
    BlockSize {
        freq: side(freq_fraction, grid.freq),
        time: side(time_fraction, grid.time),
    }
}

/// The sorted token indices of a `size` block at a uniform random position in `grid`.
fn place_block(grid: TokenGrid, size: BlockSize, rng: &mut impl Rng) -> Vec<usize> {
    let top = rng.random_range(0..=grid.freq - size.freq);
    let left = rng.random_range(0..=grid.time - size.time);
    (top..top + size.freq)
        .flat_map(|f| (left..left + size.time).map(move |t| grid.index(f, t)))
        .collect()
}
