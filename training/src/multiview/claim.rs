//! The claim a sweep is run to test (the paper's Table 1): Cosine^SEP at λ = 0.6 gives
//! positive disentanglement margins on both tasks (ΔPitch > 0 and ΔInstrument > 0) with an
//! overall accuracy at least that of reconstruction only (λ = 1).

use anyhow::Context;
use serde::Serialize;
use tessera_core::models::disentanglement::{ObjectiveType, Principle};

use super::evaluate::MultiviewEvaluation;
use super::sweep::SweepResult;

/// The claim's λ.
pub const CLAIM_LAMBDA: f64 = 0.6;
/// λ of reconstruction only.
pub const RECONSTRUCTION_ONLY: f64 = 1.0;

/// The numbers the claim rests on and whether it held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CosineSepClaim {
    /// ΔPitch of Cosine^SEP at λ = 0.6.
    pub delta_pitch: f64,
    /// ΔInstrument of Cosine^SEP at λ = 0.6.
    pub delta_instrument: f64,
    /// Overall accuracy of Cosine^SEP at λ = 0.6.
    pub overall: f64,
    /// Overall accuracy of reconstruction only (the Cosine^SEP λ = 1 run when swept, else
    /// the first λ = 1 run: at λ = 1 the objective has no weight).
    pub reconstruction_only_overall: f64,
    /// Both margins positive and the overall accuracy not below reconstruction only.
    pub held: bool,
}

impl CosineSepClaim {
    /// One sentence with the numbers.
    pub fn summary(&self) -> String {
        format!(
            "Cosine-SEP at λ = {CLAIM_LAMBDA}: ΔPitch {:+.3}, ΔInstrument {:+.3}, overall {:.3} \
             against {:.3} for reconstruction only — the claim {}.",
            self.delta_pitch,
            self.delta_instrument,
            self.overall,
            self.reconstruction_only_overall,
            if self.held { "holds" } else { "does not hold" }
        )
    }
}

/// Checks the claim on `result`; an error when the sweep lacks Cosine^SEP at λ = 0.6 or any
/// λ = 1 run.
pub fn cosine_sep_claim(result: &SweepResult) -> anyhow::Result<CosineSepClaim> {
    let is_cosine_sep = |e: &MultiviewEvaluation| {
        e.objective.principle == Principle::Cosine && e.objective.kind == ObjectiveType::Separation
    };
    let at = |lambda: f64| {
        move |e: &&MultiviewEvaluation| (e.objective.reconstruction_weight - lambda).abs() < 1e-9
    };
    let evaluations: Vec<&MultiviewEvaluation> =
        result.rows.iter().map(|r| &r.evaluation).collect();
    let candidate = evaluations
        .iter()
        .copied()
        .filter(at(CLAIM_LAMBDA))
        .find(|e| is_cosine_sep(e))
        .context("the sweep has no Cosine-SEP run at λ = 0.6")?;
    let baselines: Vec<&MultiviewEvaluation> = evaluations
        .iter()
        .copied()
        .filter(at(RECONSTRUCTION_ONLY))
        .collect();
    let baseline = baselines
        .iter()
        .find(|e| is_cosine_sep(e))
        .or(baselines.first())
        .context("the sweep has no reconstruction-only run (λ = 1)")?;
    Ok(CosineSepClaim {
        delta_pitch: candidate.delta_pitch,
        delta_instrument: candidate.delta_instrument,
        overall: candidate.overall,
        reconstruction_only_overall: baseline.overall,
        held: candidate.delta_pitch > 0.0
            && candidate.delta_instrument > 0.0
            && candidate.overall >= baseline.overall,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tessera_core::models::multiview::ObjectiveConfig;

    use super::*;
    use crate::multiview::evaluate::{PartSizes, ProbeSettings, SubspaceAccuracy};
    use crate::multiview::notes::EmbeddingSource;
    use crate::multiview::sweep::SweepRow;

    /// A row of `principle`-SEP at `lambda` with the given margins and overall accuracy.
    fn row(principle: Principle, lambda: f64, margins: (f64, f64), overall: f64) -> SweepRow {
        let accuracy = SubspaceAccuracy {
            private: 0.0,
            shared: 0.0,
            joined: overall,
        };
        SweepRow {
            run: PathBuf::from("run"),
            evaluation: MultiviewEvaluation {
                source: EmbeddingSource {
                    encoder: "logmel".into(),
                    layer: None,
                    seed: 0,
                },
                objective: ObjectiveConfig {
                    principle,
                    kind: ObjectiveType::Separation,
                    reconstruction_weight: lambda,
                },
                sizes: PartSizes {
                    train: 1,
                    valid: 1,
                    test: 1,
                },
                pitch: accuracy,
                family: accuracy,
                delta_pitch: margins.0,
                delta_instrument: margins.1,
                overall,
                reconstruction_mse: 0.1,
                probes: ProbeSettings::default(),
            },
        }
    }

    fn result(rows: Vec<SweepRow>) -> SweepResult {
        SweepResult {
            source: rows[0].evaluation.source.clone(),
            notes: PathBuf::from("notes"),
            rows,
        }
    }

    #[test]
    fn the_claim_needs_both_margins_positive_and_no_loss_of_overall_accuracy() {
        let baseline = row(Principle::InfoNce, 1.0, (0.0, 0.0), 0.80);
        let claim = |margins, overall| {
            cosine_sep_claim(&result(vec![
                row(Principle::Cosine, 0.6, margins, overall),
                baseline.clone(),
            ]))
            .unwrap()
        };
        let held = claim((0.1, 0.2), 0.80);
        assert!(held.held, "{}", held.summary());
        assert_eq!(held.reconstruction_only_overall, 0.80);
        assert!(!claim((0.1, -0.01), 0.9).held, "ΔInstrument ≤ 0");
        assert!(!claim((0.0, 0.2), 0.9).held, "ΔPitch ≤ 0");
        assert!(
            !claim((0.1, 0.2), 0.79).held,
            "overall below reconstruction only"
        );
        // Cosine-SEP's own λ = 1 run is preferred as the baseline.
        let both = cosine_sep_claim(&result(vec![
            row(Principle::Cosine, 0.6, (0.1, 0.1), 0.85),
            baseline,
            row(Principle::Cosine, 1.0, (0.0, 0.0), 0.9),
        ]))
        .unwrap();
        assert_eq!(both.reconstruction_only_overall, 0.9);
        assert!(!both.held);
    }

    #[test]
    fn a_sweep_without_the_claims_runs_cannot_answer_it() {
        let only_baseline = result(vec![row(Principle::Cosine, 1.0, (0.0, 0.0), 0.8)]);
        let error = cosine_sep_claim(&only_baseline).unwrap_err().to_string();
        assert!(error.contains("λ = 0.6"), "{error}");
        let no_baseline = result(vec![row(Principle::Cosine, 0.6, (0.1, 0.1), 0.8)]);
        let error = cosine_sep_claim(&no_baseline).unwrap_err().to_string();
        assert!(error.contains("λ = 1"), "{error}");
    }
}
