//! The disentanglement objectives of the multi-view paper
//! (../shared/papers/multiview-disentanglement-music-ssl.txt, §2.2): three contrastive
//! principles (InfoNCE, cosine similarity, VICReg), each as a similarity objective on the
//! shared codes of the two views of a pair (SIM) and a separation objective on their private
//! codes (SEP). Every function takes the codes of a batch of pairs, view by view: `first` and
//! `second` are `(pairs, code_dim)` and row `j` of both belongs to pair `j`.
//!
//! The logarithms of eqs. (1)–(4) are finite only for similarities in `(0, 1)`, and the
//! paper's cosine objectives pull similarities "towards 1" and "towards 0": the codes they
//! compare are non-negative (the encoders end in a ReLU, see `multiview`), so every
//! similarity lies in `[0, 1]` and [`LOG_EPS`] only guards its two ends.

use candle_core::{D, Result, Tensor};
use serde::{Deserialize, Serialize};

/// The contrastive principle `c` a disentanglement loss follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Principle {
    /// Eqs. (1) and (2): the other pairs of the batch are the negatives.
    InfoNce,
    /// Eqs. (3) and (4): each pair on its own, no comparison within the batch.
    Cosine,
    /// VICReg's invariance, variance and covariance terms (SEP negates the invariance, on
    /// unit-length codes so that it is bounded).
    Vicreg,
}

/// The objective type `φ`: which codes the principle is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectiveType {
    /// SIM: align the shared codes of a pair.
    #[serde(rename = "sim")]
    Similarity,
    /// SEP: push the private codes of a pair apart.
    #[serde(rename = "sep")]
    Separation,
    /// SIM+SEP: the sum of both (the paper says "linear combination" without weights).
    #[serde(rename = "sim+sep")]
    Both,
}

/// Added inside every logarithm, so a similarity of exactly 0 (SIM) or 1 (SEP) costs
/// `-ln(1e-6) ≈ 13.8` instead of infinity.
pub const LOG_EPS: f64 = 1e-6;

/// Added to squared norms before the square root: an all-zero code (every ReLU off) has
/// similarity 0 to everything instead of 0/0.
const NORM_EPS: f64 = 1e-12;

/// VICReg's weights of invariance, variance and covariance (λ = μ = 25, ν = 1 in
/// Bardes et al.).
const VICREG_INVARIANCE: f64 = 25.0;
const VICREG_VARIANCE: f64 = 25.0;
const VICREG_COVARIANCE: f64 = 1.0;
/// The standard deviation VICReg's hinge asks of every code dimension (its γ).
const VICREG_TARGET_STD: f64 = 1.0;
/// Added to the variance before its square root (VICReg's ε).
const VICREG_EPS: f64 = 1e-4;

/// The similarity objective `c^SIM` of the shared codes of a batch of pairs.
pub fn similarity_loss(principle: Principle, first: &Tensor, second: &Tensor) -> Result<Tensor> {
    match principle {
        Principle::InfoNce => info_nce_similarity(first, second),
        Principle::Cosine => cosine_similarity(first, second),
        Principle::Vicreg => vicreg(
            (first - second)?.sqr()?.mean_all()?,
            VICREG_INVARIANCE,
            first,
            second,
        ),
    }
}

/// The separation objective `c^SEP` of the private codes of a batch of pairs.
pub fn separation_loss(principle: Principle, first: &Tensor, second: &Tensor) -> Result<Tensor> {
    match principle {
        Principle::InfoNce => info_nce_separation(first, second),
        Principle::Cosine => cosine_separation(first, second),
        Principle::Vicreg => vicreg(
            unit_distance(first, second)?,
            -VICREG_INVARIANCE,
            first,
            second,
        ),
    }
}

/// Eq. (1): `−mean_j log( exp(sim(a_j, b_j)) / Σ_k exp(sim(a_j, b_k)) )`, the first view's
/// code against every code of the second view, without temperature. Similarities lie in
/// `[0, 1]`, so the log-sum-exp needs no max shift.
fn info_nce_similarity(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    let all = cosine_matrix(first, second)?;
    let log_sum_exp = all.exp()?.sum(1)?.log()?;
    (log_sum_exp - paired_cosine(first, second)?)?.mean_all()
}

/// Eq. (2): `−mean_{j,k} log(1 − sim(a_j, b_k))` over every combination of the batch, the
/// pair itself included.
fn info_nce_separation(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    negative_log_dissimilarity(&cosine_matrix(first, second)?)
}

/// Eq. (3): `−mean_j log sim(a_j, b_j)`.
fn cosine_similarity(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    paired_cosine(first, second)?
        .affine(1.0, LOG_EPS)?
        .log()?
        .mean_all()?
        .neg()
}

/// Eq. (4): `−mean_j log(1 − sim(a_j, b_j))`.
fn cosine_separation(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    negative_log_dissimilarity(&paired_cosine(first, second)?)
}

/// `−mean log(1 − s)` over the similarities `s`.
fn negative_log_dissimilarity(similarities: &Tensor) -> Result<Tensor> {
    similarities
        .affine(-1.0, 1.0 + LOG_EPS)?
        .log()?
        .mean_all()?
        .neg()
}

/// VICReg as its reference implementation (facebookresearch/vicreg) computes it:
/// `invariance_weight · invariance + 25 · (v(a) + v(b)) / 2 + 1 · (c(a) + c(b))`, with `v`
/// the mean over dimensions of `max(0, 1 − √(Var + 1e-4))` (unbiased variance over the
/// batch) and `c` the sum of squared off-diagonal covariances divided by the dimensions.
///
/// SIM passes the reference's invariance, `MSE(a, b)`, with weight `+25`. SEP keeps variance
/// and covariance and negates the invariance (`−25`), as the paper says — but on the raw
/// codes that term has no lower bound: scaling the codes up lowers it without end, and runs
/// went to −2e7. So SEP's invariance is [`unit_distance`], the squared distance of the
/// codes scaled to unit length, which lies in `[0, 4]` (the whole SEP term in `[−100, 0]`
/// plus the regularisers): a deviation from the paper's literal formula, chosen because it
/// keeps "push the pair apart" (in direction, which is also what the cosine principle
/// separates) while leaving the optimum finite.
fn vicreg(
    invariance: Tensor,
    invariance_weight: f64,
    first: &Tensor,
    second: &Tensor,
) -> Result<Tensor> {
    let (pairs, _) = first.dims2()?;
    if pairs < 2 {
        candle_core::bail!("VICReg needs at least 2 pairs per batch for a variance, got {pairs}");
    }
    let (variance_first, covariance_first) = variance_and_covariance(first)?;
    let (variance_second, covariance_second) = variance_and_covariance(second)?;
    let variance = ((variance_first + variance_second)? * 0.5)?;
    let covariance = (covariance_first + covariance_second)?;
    (invariance * invariance_weight)?
        .add(&(variance * VICREG_VARIANCE)?)?
        .add(&(covariance * VICREG_COVARIANCE)?)
}

/// `mean_j ‖â_j − b̂_j‖²` with `x̂ = x / ‖x‖`: the squared distance of the two codes of a
/// pair as directions, in `[0, 4]` (`2 − 2 cos`), averaged over the pairs.
fn unit_distance(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    (unit_rows(first)? - unit_rows(second)?)?
        .sqr()?
        .sum(D::Minus1)?
        .mean_all()
}

/// VICReg's variance hinge and covariance penalty of one view's codes `(batch, dim)`.
fn variance_and_covariance(codes: &Tensor) -> Result<(Tensor, Tensor)> {
    let (batch, dim) = codes.dims2()?;
    let centred = codes.broadcast_sub(&codes.mean_keepdim(0)?)?;
    let per_dim_variance = (centred.sqr()?.sum(0)? / (batch - 1) as f64)?;
    let std = per_dim_variance.affine(1.0, VICREG_EPS)?.sqrt()?;
    let hinge = std.affine(-1.0, VICREG_TARGET_STD)?.relu()?.mean_all()?;
    let covariance = (centred.t()?.contiguous()?.matmul(&centred)? / (batch - 1) as f64)?;
    // The diagonal of the covariance is the variance: the off-diagonal squares are all
    // squares minus the diagonal's.
    let off_diagonal = (covariance.sqr()?.sum_all()? - per_dim_variance.sqr()?.sum_all()?)?;
    Ok((hinge, (off_diagonal / dim as f64)?))
}

/// Codes scaled to unit length, row by row.
fn unit_rows(codes: &Tensor) -> Result<Tensor> {
    let norm = codes
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .affine(1.0, NORM_EPS)?
        .sqrt()?;
    codes.broadcast_div(&norm)
}

/// `(pairs, pairs)`: the cosine similarity of every first-view code `j` to every
/// second-view code `k`.
pub fn cosine_matrix(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    unit_rows(first)?.matmul(&unit_rows(second)?.t()?.contiguous()?)
}

/// `(pairs,)`: the cosine similarity of the two codes of every pair.
pub fn paired_cosine(first: &Tensor, second: &Tensor) -> Result<Tensor> {
    (unit_rows(first)? * unit_rows(second)?)?.sum(D::Minus1)
}
