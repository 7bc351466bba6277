//! WavJEPA's context and target sampling over a sequence of waveform-embedding frames
//! (Yuksel et al., "WavJEPA", section 3.1), implemented from the paper's text.
//!
//! The paper's procedure, step by step, with our reading of it:
//!
//! 1. "We first randomly sample starting indices for the context block with uniform
//!    probability [p_c] over the range [of frame indices]": every frame that can start a
//!    whole block (`0 ..= frames − l_c`) is a context start with probability `p_c`
//!    (0.065), independently.
//! 2. "For each starting index, we then include the subsequent [l_c]-many indices in our
//!    context block": a start `s` adds frames `s .. s + l_c` (l_c = 10); overlapping
//!    spans merge into one context block.
//! 3. "Then, for each target block, we randomly sample a starting index and select the
//!    subsequent [l_t] indices as training targets": target starts are sampled the same
//!    way with probability `p_t` (0.025, section 3.2), and each start makes one target
//!    block `s .. s + l_t` (l_t = 10). Target blocks may overlap each other; each is
//!    predicted on its own.
//! 4. "Context indices that overlap with training targets are removed."
//! 5. "We repeat this procedure until at least 10% of indices [...] are designated as the
//!    context": the whole draw (steps 1–4) is repeated until the context holds at least
//!    `ceil(0.1 · frames)` frames. We also repeat draws without any target block, which
//!    would leave nothing to predict (the paper does not say what happens then).
//! 6. "Ultimately, we obtain non-overlapping context indices, and, for each target block,
//!    we obtain target indices": the result is a [`MaskSet`] with the context and one
//!    index list per target block — the predictor runs once per block.
//!
//! Starts are limited to `0 ..= frames − l` so every block has exactly `l` frames, which
//! makes all target blocks of a batch equally long. The number of target blocks is random
//! (binomial), so it differs between samples: see [`BatchMasks::block_owners`].
//!
//! WavJEPA-Nat shares one mask between its two channels: apply the same [`MaskSet`] to
//! both ears' frame sequences.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{BatchMasks, MaskError, MaskSet};

/// Draws tried per sample before giving up on an infeasible configuration.
const MAX_ATTEMPTS: usize = 1000;

/// WavJEPA's sampling settings; defaults are the paper's (section 3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WavBlocksConfig {
    /// Probability that a frame starts a context span (p_c = 0.065).
    pub context_start_prob: f64,
    /// Frames per context span (l_c = 10).
    pub context_len: usize,
    /// Probability that a frame starts a target block (p_t = 0.025).
    pub target_start_prob: f64,
    /// Frames per target block (l_t = 10).
    pub target_len: usize,
    /// Smallest fraction of the frames the context must hold; draws with less are
    /// repeated (10 %). The context always keeps at least one frame.
    pub min_context_fraction: f64,
}

impl Default for WavBlocksConfig {
    fn default() -> Self {
        Self {
            context_start_prob: 0.065,
            context_len: 10,
            target_start_prob: 0.025,
            target_len: 10,
            min_context_fraction: 0.1,
        }
    }
}

impl WavBlocksConfig {
    /// Checks every value that does not depend on the sequence length.
    pub fn validate(&self) -> Result<(), MaskError> {
        MaskError::check_probability("context_start_prob", self.context_start_prob)?;
        MaskError::check_probability("target_start_prob", self.target_start_prob)?;
        MaskError::check_positive("context_len", self.context_len)?;
        MaskError::check_positive("target_len", self.target_len)?;
        if !(0.0..=1.0).contains(&self.min_context_fraction) {
            return Err(MaskError::InvalidConfig(format!(
                "min_context_fraction is {} but must be in [0, 1]",
                self.min_context_fraction
            )));
        }
        Ok(())
    }

    /// Fewest context frames a mask over `frames` frames may have:
    /// `ceil(min_context_fraction · frames)`, at least 1.
    pub fn min_context(&self, frames: usize) -> usize {
        // The small slack keeps 0.1 · 30 = 3.0000000000000004 from rounding up to 4.
        let needed = (self.min_context_fraction * frames as f64 - 1e-9).ceil();
        (needed.max(0.0) as usize).max(1)
    }

    /// Draws one sample's context and target blocks over `frames` frames (steps 1–6 of
    /// the module docs). Fails on an invalid configuration, a sequence too short for the
    /// blocks and the minimum context, or when no valid draw turns up in many tries.
    pub fn sample(&self, frames: usize, rng: &mut impl Rng) -> Result<MaskSet, MaskError> {
        self.validate()?;
        let min_context = self.min_context(frames);
        if frames < self.context_len.max(self.target_len) {
            return Err(MaskError::TooFewTokens {
                tokens: frames,
                reason: format!(
                    "context spans of {} and target blocks of {} frames must fit",
                    self.context_len, self.target_len
                ),
            });
        }
        if min_context + self.target_len > frames {
            return Err(MaskError::TooFewTokens {
                tokens: frames,
                reason: format!(
                    "a target block of {} frames leaves less than the minimum context of {min_context}",
                    self.target_len
                ),
            });
        }
        for _ in 0..MAX_ATTEMPTS {
            let mask = self.draw(frames, rng);
            if !mask.targets.is_empty() && mask.context.len() >= min_context {
                return Ok(mask);
            }
        }
        Err(MaskError::NoValidMask {
            constraint: format!(
                "at least one target block and {min_context} of {frames} frames as context"
            ),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Draws masks for `batch` samples over `frames` frames each; contexts are cut to the
    /// batch's shortest (still at least [`Self::min_context`]) so they gather into one
    /// tensor, and every target block has `target_len` frames.
    pub fn sample_batch(
        &self,
        batch: usize,
        frames: usize,
        rng: &mut impl Rng,
    ) -> Result<BatchMasks, MaskError> {
        if batch == 0 {
            return Err(MaskError::EmptyBatch);
        }
        let samples = (0..batch)
            .map(|_| self.sample(frames, rng))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BatchMasks::collate(samples, rng))
    }

    /// One unconditioned draw of steps 1–4.
    fn draw(&self, frames: usize, rng: &mut impl Rng) -> MaskSet {
        let mut in_context = vec![false; frames];
        for start in 0..=frames - self.context_len {
            if rng.random_bool(self.context_start_prob) {
                in_context[start..start + self.context_len].fill(true);
            }
        }
        let targets: Vec<Vec<usize>> = (0..=frames - self.target_len)
            .filter(|_| rng.random_bool(self.target_start_prob))
            .map(|start| (start..start + self.target_len).collect())
            .collect();
        for &frame in targets.iter().flatten() {
            in_context[frame] = false;
        }
        let context = (0..frames).filter(|&frame| in_context[frame]).collect();
        MaskSet { context, targets }
    }
}
