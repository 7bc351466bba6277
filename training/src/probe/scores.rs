//! How well a probe's predictions match the truth: the scores of its task kind.

use serde::Serialize;
use tessera_core::metrics::classification::{
    ClassScores, ConfusionMatrix, average_precision, micro_f1,
};

use super::targets::Targets;

/// Multi-label predictions: a class is predicted when its probability reaches this.
pub const MULTI_LABEL_THRESHOLD: f32 = 0.5;

/// Scores of one probe on one set of clips.
#[derive(Debug, Clone)]
pub enum ProbeScores {
    /// A single-label task.
    Single {
        /// Share of clips whose most probable class is theirs.
        accuracy: f64,
        /// Mean F1 over the classes that occur (scikit-learn's macro average).
        macro_f1: f64,
        /// Truth × prediction counts over every class.
        confusion: ConfusionMatrix,
    },
    /// A multi-label task.
    Multi {
        /// Mean over classes with a positive clip of their average precision.
        mean_average_precision: f64,
        /// F1 over every (clip, class) decision at [`MULTI_LABEL_THRESHOLD`].
        micro_f1: f64,
        /// Each class's average precision; `None` where no clip has the class.
        average_precision: Vec<Option<f64>>,
    },
}

/// One class's numbers in a report.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    pub label: String,
    /// Precision, recall, F1 (single-label tasks).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub scores: Option<ClassScoresReport>,
    /// Average precision (multi-label tasks; `None` when no clip has the class).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_precision: Option<f64>,
}

/// [`ClassScores`] as written to JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScoresReport {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl From<ClassScores> for ClassScoresReport {
    fn from(s: ClassScores) -> Self {
        Self {
            precision: s.precision,
            recall: s.recall,
            f1: s.f1,
            support: s.support,
        }
    }
}

impl ProbeScores {
    /// Scores `probabilities` (`[clip][class]`) against `targets`.
    pub fn of(targets: &Targets, probabilities: &[Vec<f32>]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            probabilities.len() == targets.len(),
            "{} predictions for {} clips",
            probabilities.len(),
            targets.len()
        );
        Ok(match targets {
            Targets::Single { classes, labels } => {
                let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
                let confusion = ConfusionMatrix::new(*classes, labels, &predicted)?;
                Self::Single {
                    accuracy: confusion.accuracy(),
                    macro_f1: confusion.macro_f1(),
                    confusion,
                }
            }
            Targets::Multi { classes, .. } => {
                let truth = targets.as_sets();
                let average_precision = (0..*classes)
                    .map(|c| {
                        let scores: Vec<f64> =
                            probabilities.iter().map(|p| f64::from(p[c])).collect();
                        let positive: Vec<bool> = truth.iter().map(|t| t[c]).collect();
                        average_precision(&scores, &positive)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let present: Vec<f64> = average_precision.iter().flatten().copied().collect();
                let predicted: Vec<Vec<bool>> = probabilities
                    .iter()
                    .map(|p| p.iter().map(|&v| v >= MULTI_LABEL_THRESHOLD).collect())
                    .collect();
                Self::Multi {
                    mean_average_precision: present.iter().sum::<f64>()
                        / present.len().max(1) as f64,
                    micro_f1: micro_f1(&truth, &predicted)?,
                    average_precision,
                }
            }
        })
    }

    /// The number model selection maximises: accuracy, or mAP for multi-label tasks (as
    /// HEAR's primary scores).
    pub fn primary(&self) -> f64 {
        match self {
            Self::Single { accuracy, .. } => *accuracy,
            Self::Multi {
                mean_average_precision,
                ..
            } => *mean_average_precision,
        }
    }

    /// Per-class numbers labelled with `names`.
    pub fn per_class(&self, names: &[String]) -> Vec<ClassReport> {
        match self {
            Self::Single { confusion, .. } => confusion
                .per_class()
                .into_iter()
                .zip(names)
                .map(|(scores, label)| ClassReport {
                    label: label.clone(),
                    scores: Some(scores.into()),
                    average_precision: None,
                })
                .collect(),
            Self::Multi {
                average_precision, ..
            } => average_precision
                .iter()
                .zip(names)
                .map(|(&ap, label)| ClassReport {
                    label: label.clone(),
                    scores: None,
                    average_precision: ap,
                })
                .collect(),
        }
    }
}

/// Index of the largest value (the first of equals).
fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}
