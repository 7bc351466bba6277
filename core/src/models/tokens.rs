//! Gathering per-sample token subsets (context, target blocks) into dense tensors.

use candle_core::{Result, Tensor};

use super::predictor::index_tensor;

/// Picks tokens by per-row indices. `source` is either `(tokens, dim)`, shared by every
/// row (position tables), or `(rows, tokens, dim)`; `indices[row]` are token indices, all
/// rows equally long. Returns `(rows, len, dim)`.
pub fn gather_tokens(source: &Tensor, indices: &[Vec<usize>]) -> Result<Tensor> {
    let rows = indices.len();
    let len = indices.first().map_or(0, Vec::len);
    if indices.iter().any(|row| row.len() != len) {
        candle_core::bail!("gather_tokens: rows of different lengths");
    }
    let (flat, offsets) = match source.rank() {
        2 => (source.clone(), 0),
        3 => {
            let (_, tokens, dim) = source.dims3()?;
            (source.reshape(((), dim))?, tokens)
        }
        rank => candle_core::bail!("gather_tokens: expected rank 2 or 3, got {rank}"),
    };
    let global: Vec<usize> = indices
        .iter()
        .enumerate()
        .flat_map(|(row, picks)| picks.iter().map(move |&t| row * offsets + t))
        .collect();
    flat.index_select(&index_tensor(&global, source.device())?, 0)?
        .reshape((rows, len, ()))
}

/// Target latents of every block: `latents` is `(batch, tokens, dim)`; returns
/// `(blocks, target_len, dim)` in [`crate::masking::BatchMasks::flat_targets`] order.
pub fn gather_blocks(latents: &Tensor, masks: &crate::masking::BatchMasks) -> Result<Tensor> {
    let owners = masks.block_owners();
    let blocks: Vec<Vec<usize>> = masks.targets.iter().flatten().cloned().collect();
    let (_, tokens, dim) = latents.dims3()?;
    let global: Vec<usize> = blocks
        .iter()
        .zip(&owners)
        .flat_map(|(block, &owner)| block.iter().map(move |&t| owner * tokens + t))
        .collect();
    latents
        .reshape(((), dim))?
        .index_select(&index_tensor(&global, latents.device())?, 0)?
        .reshape((blocks.len(), masks.target_len(), dim))
}
