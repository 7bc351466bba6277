//! The seeds' claims RESULTS.md marks held or not held, each decided from the suite's own
//! numbers; a claim whose encoders or tasks are not in the suite is "not measured", never
//! guessed.

use serde::Serialize;

use super::config::EncoderRole;
use super::{SuiteResult, task_index};
use crate::evaluation::attention_stems::StemAlignment;
use crate::multiview::cosine_sep_claim;
use crate::multiview::sweep::SweepResult;

/// What the numbers say about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Held,
    NotHeld,
    NotMeasured,
}

impl Verdict {
    fn of(held: bool) -> Self {
        if held { Self::Held } else { Self::NotHeld }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::NotHeld => "not held",
            Self::NotMeasured => "not measured",
        }
    }
}

/// One claim and the numbers behind its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// The claim as the paper makes it.
    pub claim: &'static str,
    pub verdict: Verdict,
    /// The numbers compared, or why nothing could be compared.
    pub evidence: String,
}

/// Every claim of the probing suite and the attention measurement.
pub fn claims(result: &SuiteResult) -> Vec<Claim> {
    vec![
        two_d_beats_one_d(result),
        role_comparison(
            result,
            "Top-K target averaging (the paper's 8 of 12 layers; 4 of 6 in WavJEPA-Tiny) beats K = 1 (WavJEPA)",
            (EncoderRole::OneDJepa, EncoderRole::OneDJepaTop1),
            &[],
        ),
        role_comparison(
            result,
            "WavJEPA-Nat is more robust than WavJEPA on reverberant, noisy scenes",
            (EncoderRole::NatJepa, EncoderRole::OneDJepa),
            &["scenes"],
        ),
        cosine_sep_separates(result.multiview.as_ref()),
        attention_follows_stems(result.attention_stems.as_deref()),
    ]
}

/// PupuJEPA's claim: the 2D JEPA beats the 1D one on key and pitch.
fn two_d_beats_one_d(result: &SuiteResult) -> Claim {
    role_comparison(
        result,
        "A 2D (spectrogram) JEPA beats a 1D (waveform) JEPA on key and pitch",
        (EncoderRole::TwoDJepa, EncoderRole::OneDJepa),
        &["key", "pitch"],
    )
}

/// Held when the encoder playing `roles.0` scores above the one playing `roles.1` on every
/// task of `tasks` (every task of the suite when empty).
fn role_comparison(
    result: &SuiteResult,
    claim: &'static str,
    roles: (EncoderRole, EncoderRole),
    tasks: &[&str],
) -> Claim {
    let not_measured = |evidence: String| Claim {
        claim,
        verdict: Verdict::NotMeasured,
        evidence,
    };
    let missing: Vec<&str> = [roles.0, roles.1]
        .into_iter()
        .filter(|&role| result.encoder_of(role).is_none())
        .map(role_name)
        .collect();
    let (Some(better), Some(worse)) = (result.encoder_of(roles.0), result.encoder_of(roles.1))
    else {
        return not_measured(format!(
            "the suite has no encoder in the role {}",
            missing.join(" or ")
        ));
    };
    let indices: Vec<usize> = if tasks.is_empty() {
        (0..result.tasks.len()).collect()
    } else {
        match tasks
            .iter()
            .map(|t| task_index(&result.tasks, t))
            .collect::<Option<Vec<_>>>()
        {
            Some(indices) => indices,
            None => return not_measured(format!("the suite has no task {}", tasks.join(" / "))),
        }
    };
    let mut held = true;
    let evidence: Vec<String> = indices
        .iter()
        .map(|&t| {
            let (a, b) = (result.scores[better][t], result.scores[worse][t]);
            held &= a > b;
            format!(
                "{}: {} {a:.3} vs {} {b:.3}",
                result.tasks[t], result.encoders[better], result.encoders[worse]
            )
        })
        .collect();
    Claim {
        claim,
        verdict: Verdict::of(held),
        evidence: evidence.join("; "),
    }
}

fn role_name(role: EncoderRole) -> &'static str {
    match role {
        EncoderRole::TwoDJepa => "two-d-jepa",
        EncoderRole::OneDJepa => "one-d-jepa",
        EncoderRole::OneDJepaTop1 => "one-d-jepa-top1",
        EncoderRole::NatJepa => "nat-jepa",
    }
}

/// The multi-view paper's Table 1 claim, decided by [`cosine_sep_claim`].
fn cosine_sep_separates(sweep: Option<&SweepResult>) -> Claim {
    let claim =
        "Cosine-SEP at λ = 0.6 gives positive margins with overall accuracy ≥ reconstruction only";
    let (verdict, evidence) = match sweep.map(cosine_sep_claim) {
        None => (
            Verdict::NotMeasured,
            "the suite has no multiview section".to_owned(),
        ),
        Some(Err(err)) => (Verdict::NotMeasured, format!("{err:#}")),
        Some(Ok(measured)) => (Verdict::of(measured.held), measured.summary()),
    };
    Claim {
        claim,
        verdict,
        evidence,
    }
}

/// Our own claim: PupuJEPA's predictor attends to the masked region's stem above chance —
/// held only if its attention beats both chance by area and attention that knows only the
/// region's position, for every stem.
fn attention_follows_stems(alignments: Option<&[StemAlignment]>) -> Claim {
    let claim =
        "PupuJEPA's attention follows the stems (above chance by area and above position alone)";
    let Some(alignments) = alignments else {
        return Claim {
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "the suite has no attention_stems section".into(),
        };
    };
    let mut held = !alignments.is_empty();
    let evidence: Vec<String> = alignments
        .iter()
        .map(|a| {
            held &= a.attention_share > a.chance_share && a.attention_share > a.position_share;
            format!(
                "{}: {:.3} vs chance {:.3}, position-only {:.3}",
                a.stem, a.attention_share, a.chance_share, a.position_share
            )
        })
        .collect();
    Claim {
        claim,
        verdict: Verdict::of(held),
        evidence: evidence.join("; "),
    }
}
