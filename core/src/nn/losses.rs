//! Classification losses, written with plain candle ops whose gradients
//! `core/tests/integration/nn_gradients.rs` checks against finite differences.

use candle_core::{D, Result, Tensor};

/// Mean softmax cross-entropy of `logits` `(batch, classes)` against one-hot or soft
/// `targets` of the same shape: `−mean_b Σ_c t_bc · log softmax(logits_b)_c`.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    // Subtracting the row maximum keeps exp() finite; it cancels in the log-softmax, so it
    // carries no gradient.
    let shifted = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?.detach())?;
    let log_normaliser = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let log_probs = shifted.broadcast_sub(&log_normaliser)?;
    (targets * log_probs)?.sum(D::Minus1)?.mean_all()?.neg()
}

/// Mean binary cross-entropy of the sigmoid of `logits` against `targets` in [0, 1], over
/// every entry: `mean(max(x, 0) − x·t + log(1 + e^{−|x|}))`, the form that neither
/// overflows nor loses precision for large |x| (PyTorch's `BCEWithLogitsLoss`).
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus_tail = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * targets)?)? + softplus_tail)?.mean_all()
}
