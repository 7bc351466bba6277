//! Classification scores for probes, computed as scikit-learn computes them (checked against
//! its numbers in `core/tests/integration/classification.rs`):
//! single-label accuracy, confusion matrix, per-class precision / recall / F1 and macro-F1;
//! multi-label average precision (mAP) and micro-F1.

use super::MetricsError;

/// Counts of (true class, predicted class) pairs: row = truth, column = prediction, as
/// scikit-learn's `confusion_matrix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    /// Number of classes (rows and columns).
    classes: usize,
    /// Row-major `classes × classes` counts.
    counts: Vec<u64>,
}

/// Precision, recall and F1 of one class, with how often it is the truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    /// Of the clips predicted as the class, the share that are it (0 if none is predicted).
    pub precision: f64,
    /// Of the clips of the class, the share predicted as it (0 if none is of it).
    pub recall: f64,
    /// Harmonic mean of precision and recall, `2·tp / (2·tp + fp + fn)` (0 when both are 0).
    pub f1: f64,
    /// Clips whose true class it is.
    pub support: u64,
}

impl ConfusionMatrix {
    /// Tallies `truth` against `predicted` (class indices below `classes`).
    pub fn new(classes: usize, truth: &[usize], predicted: &[usize]) -> Result<Self, MetricsError> {
        if truth.len() != predicted.len() {
            return Err(MetricsError::Shape(format!(
                "{} true labels but {} predictions",
                truth.len(),
                predicted.len()
            )));
        }
        let mut counts = vec![0; classes * classes];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t >= classes || p >= classes {
                return Err(MetricsError::Shape(format!(
                    "class {} is out of range for {classes} classes",
                    t.max(p)
                )));
            }
            counts[t * classes + p] += 1;
        }
        Ok(Self { classes, counts })
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Clips of true class `truth` predicted as `predicted`.
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// The rows, truth by truth.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts
            .chunks(self.classes.max(1))
            .map(<[u64]>::to_vec)
            .collect()
    }

    /// Share of clips predicted right (0 for no clips).
    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        let right: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        ratio(right, total)
    }

    /// Scores of every class, in class order (scikit-learn's `precision_recall_fscore_support`
    /// with `zero_division=0`).
    pub fn per_class(&self) -> Vec<ClassScores> {
        (0..self.classes)
            .map(|c| {
                let true_positives = self.count(c, c);
                let support: u64 = (0..self.classes).map(|p| self.count(c, p)).sum();
                let predicted: u64 = (0..self.classes).map(|t| self.count(t, c)).sum();
                ClassScores {
                    precision: ratio(true_positives, predicted),
                    recall: ratio(true_positives, support),
                    f1: ratio(2 * true_positives, support + predicted),
                    support,
                }
            })
            .collect()
    }

    /// Mean F1 over the classes that occur as truth or as prediction (scikit-learn's
    /// `f1_score(average='macro')` without a `labels` argument); 0 for no clips.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<f64> = self
            .per_class()
            .iter()
            .enumerate()
            .filter(|&(c, scores)| {
                scores.support > 0 || (0..self.classes).any(|t| self.count(t, c) > 0)
            })
            .map(|(_, scores)| scores.f1)
            .collect();
        present.iter().sum::<f64>() / present.len().max(1) as f64
    }
}

/// Average precision of one class from `scores` and which clips are `positive`: the
/// precision at each distinct score threshold, weighted by the recall it adds (scikit-learn's
/// `average_precision_score`). `None` when no clip is positive (the ranking has nothing to
/// find).
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Result<Option<f64>, MetricsError> {
    if scores.len() != positive.len() {
        return Err(MetricsError::Shape(format!(
            "{} scores but {} labels",
            scores.len(),
            positive.len()
        )));
    }
    let positives = positive.iter().filter(|&&p| p).count();
    if positives == 0 {
        return Ok(None);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut hits, mut seen, mut previous_recall, mut sum) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        // Clips with equal scores pass the threshold together.
        let score = scores[order[i]];
        while i < order.len() && scores[order[i]] == score {
            hits += usize::from(positive[order[i]]);
            seen += 1;
            i += 1;
        }
        let recall = hits as f64 / positives as f64;
        sum += (recall - previous_recall) * hits as f64 / seen as f64;
        previous_recall = recall;
    }
    Ok(Some(sum))
}

/// Micro-averaged F1 of multi-label predictions: `2·tp / (2·tp + fp + fn)` over every
/// (clip, class) pair (scikit-learn's `f1_score(average='micro')`); 0 when there is neither a
/// positive nor a predicted label.
pub fn micro_f1(truth: &[Vec<bool>], predicted: &[Vec<bool>]) -> Result<f64, MetricsError> {
    let shapes_match = truth.len() == predicted.len()
        && truth.iter().zip(predicted).all(|(t, p)| t.len() == p.len());
    if !shapes_match {
        return Err(MetricsError::Shape(
            "true and predicted label sets differ in shape".to_owned(),
        ));
    }
    let (mut true_positives, mut positives, mut predictions) = (0u64, 0u64, 0u64);
    for (t, p) in truth.iter().flatten().zip(predicted.iter().flatten()) {
        true_positives += u64::from(*t && *p);
        positives += u64::from(*t);
        predictions += u64::from(*p);
    }
    Ok(ratio(2 * true_positives, positives + predictions))
}

/// `numerator / denominator`, 0 for an empty denominator (scikit-learn's `zero_division=0`).
fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}
