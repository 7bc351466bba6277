//! HuBERT / wav2vec 2.0 span masking over a token sequence, as PaC-HuBERT uses for masked
//! unit prediction: "randomly select p% of the frames as starting indices, and [mask l]
//! frames from those indices" (pac-hubert-*.txt, section 2.4, following HuBERT).
//!
//! The PaC-HuBERT text we have lost its numbers, so the defaults are HuBERT's (Hsu et al.
//! 2021): p = 8 % of the frames start a span, spans are 10 frames long. Starts are distinct
//! and drawn uniformly from the frames that can start a whole span; spans may overlap, so
//! the masked fraction is below p · l (about 50 % with the defaults).
//!
//! Masks are boolean per token and per sample, not equalised across a batch: the
//! cross-entropy is averaged over masked tokens, so samples may mask different amounts.
//! For a (frequency × time) patch grid, draw the mask over time patches and apply it to
//! every frequency patch of a masked frame.

use rand::{Rng, RngExt, seq::index};
use serde::{Deserialize, Serialize};

use super::MaskError;

/// Span-masking settings; defaults are HuBERT's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpanMaskConfig {
    /// Fraction of the tokens that start a masked span (HuBERT: p = 0.08).
    pub start_prob: f64,
    /// Tokens per span (HuBERT: l = 10).
    pub span_len: usize,
    /// Fewest spans per sample, so that short sequences still have something to predict.
    pub min_spans: usize,
}

impl Default for SpanMaskConfig {
    fn default() -> Self {
        Self {
            start_prob: 0.08,
            span_len: 10,
            min_spans: 1,
        }
    }
}

impl SpanMaskConfig {
    /// Checks every value that does not depend on the sequence length.
    pub fn validate(&self) -> Result<(), MaskError> {
        MaskError::check_probability("start_prob", self.start_prob)?;
        MaskError::check_positive("span_len", self.span_len)?;
        MaskError::check_positive("min_spans", self.min_spans)
    }

    /// Draws a mask over `len` tokens (`true` = masked). The number of spans is
    /// `start_prob · len` rounded stochastically (so its mean is exact), at least
    /// `min_spans` and at most the number of possible starts; their distinct starts are
    /// uniform over `0 ..= len − span_len`. Fails on an invalid configuration or when `len`
    /// has room for fewer than `min_spans` distinct spans.
    pub fn sample(&self, len: usize, rng: &mut impl Rng) -> Result<Vec<bool>, MaskError> {
        self.validate()?;
        let possible_starts = (len + 1).saturating_sub(self.span_len);
        if possible_starts < self.min_spans {
            return Err(MaskError::TooFewTokens {
                tokens: len,
                reason: format!(
                    "min_spans = {} distinct spans of {} tokens must fit",
                    self.min_spans, self.span_len
                ),
            });
        }
        let expected = self.start_prob * len as f64;
        let spans = ((expected + rng.random::<f64>()).floor() as usize)
            .clamp(self.min_spans, possible_starts);
        let mut mask = vec![false; len];
        for start in index::sample(rng, possible_starts, spans) {
            mask[start..start + self.span_len].fill(true);
        }
        Ok(mask)
    }
}
