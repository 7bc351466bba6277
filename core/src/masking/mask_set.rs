//! Mask results as token indices, per sample and collated per batch, in the layout a model
//! gathers from.

use rand::{Rng, seq::index};

/// One sample's mask: which tokens the context encoder sees and which token groups the
/// predictor must predict. Indices are sorted and point into the sample's token sequence
/// (row-major for a 2D grid, see [`super::TokenGrid`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskSet {
    /// Visible tokens, sorted, disjoint from every target block.
    pub context: Vec<usize>,
    /// Target blocks, each sorted; the predictor runs once per block.
    pub targets: Vec<Vec<usize>>,
}

/// Masks of a whole batch, shaped so that tokens can be gathered into dense tensors:
/// every sample's context has the same length, and every target block in the batch has the
/// same length.
///
/// Target blocks are indexed `[sample][block][token]`. Multi-block 2D masks give every
/// sample the same number of blocks; WavJEPA's sampling draws a random number of blocks
/// per sample, so use [`Self::block_owners`] and [`Self::flat_targets`] to run the
/// predictor on all blocks of the batch at once, repeating each sample's context for each
/// of its blocks (as I-JEPA's predictor does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMasks {
    /// `[sample][token]`: sorted context indices, equal length across the batch.
    pub context: Vec<Vec<usize>>,
    /// `[sample][block][token]`: sorted target indices, every block of equal length.
    pub targets: Vec<Vec<Vec<usize>>>,
}

impl BatchMasks {
    /// Collates per-sample masks whose target blocks all have one length. Contexts longer
    /// than the batch's shortest are cut to that length (I-JEPA's `min_keep` truncation)
    /// by keeping a random subset rather than the first tokens, so that truncation does
    /// not systematically hide the end of the sequence or the top of the grid.
    pub(crate) fn collate(samples: Vec<MaskSet>, rng: &mut impl Rng) -> Self {
        let keep = samples.iter().map(|s| s.context.len()).min().unwrap_or(0);
        let mut context = Vec::with_capacity(samples.len());
        let mut targets = Vec::with_capacity(samples.len());
        for sample in samples {
            context.push(random_sorted_subset(&sample.context, keep, rng));
            targets.push(sample.targets);
        }
        let batch = Self { context, targets };
        debug_assert!(
            batch
                .targets
                .iter()
                .flatten()
                .all(|block| block.len() == batch.target_len()),
            "samplers produce target blocks of one length per batch"
        );
        batch
    }

    /// Number of samples in the batch.
    pub fn batch_size(&self) -> usize {
        self.context.len()
    }

    /// Context tokens per sample (the same for every sample).
    pub fn context_len(&self) -> usize {
        self.context.first().map_or(0, Vec::len)
    }

    /// Tokens per target block (the same for every block of the batch; 0 without blocks).
    pub fn target_len(&self) -> usize {
        self.targets.iter().flatten().next().map_or(0, Vec::len)
    }

    /// Total number of target blocks over all samples.
    pub fn num_blocks(&self) -> usize {
        self.targets.iter().map(Vec::len).sum()
    }

    /// For every target block in [`Self::flat_targets`] order, the sample it belongs to:
    /// the index list to repeat context latents with (`index_select` on the batch axis).
    pub fn block_owners(&self) -> Vec<usize> {
        self.targets
            .iter()
            .enumerate()
            .flat_map(|(sample, blocks)| std::iter::repeat_n(sample, blocks.len()))
            .collect()
    }

    /// All target blocks concatenated sample by sample: a `[num_blocks × target_len]`
    /// index matrix in row-major order.
    pub fn flat_targets(&self) -> Vec<usize> {
        self.targets.iter().flatten().flatten().copied().collect()
    }

    /// All contexts concatenated: a `[batch_size × context_len]` index matrix in row-major
    /// order.
    pub fn flat_context(&self) -> Vec<usize> {
        self.context.iter().flatten().copied().collect()
    }
}

/// `keep` elements of the sorted `indices`, chosen uniformly at random, still sorted.
fn random_sorted_subset(indices: &[usize], keep: usize, rng: &mut impl Rng) -> Vec<usize> {
    if keep >= indices.len() {
        return indices.to_vec();
    }
    let mut picked = index::sample(rng, indices.len(), keep).into_vec();
    picked.sort_unstable();
    picked.into_iter().map(|i| indices[i]).collect()
}
