//! What a probe predicts: class indices per clip, from the manifests' label cells.
//!
//! A cell with several labels separated by `;` (see [`crate::data::manifest`]) makes the task
//! multi-label: every clip then has a set of classes (possibly one) and the probe scores each
//! class independently.

use candle_core::{Device, Tensor};

use crate::data::manifest::ManifestEntry;

/// Separates the labels of one clip in a manifest's label cell.
pub const LABEL_SEPARATOR: char = ';';

/// The answers for a list of clips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Exactly one class per clip (softmax cross-entropy; accuracy, macro-F1).
    Single {
        /// Number of classes.
        classes: usize,
        /// Each clip's class.
        labels: Vec<usize>,
    },
    /// Any set of classes per clip (sigmoid binary cross-entropy; mAP, micro-F1).
    Multi {
        /// Number of classes.
        classes: usize,
        /// Each clip's classes.
        labels: Vec<Vec<usize>>,
    },
}

impl Targets {
    pub fn classes(&self) -> usize {
        match self {
            Self::Single { classes, .. } | Self::Multi { classes, .. } => *classes,
        }
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        match self {
            Self::Single { labels, .. } => labels.len(),
            Self::Multi { labels, .. } => labels.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the clips at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        match self {
            Self::Single { classes, labels } => Self::Single {
                classes: *classes,
                labels: indices.iter().map(|&i| labels[i]).collect(),
            },
            Self::Multi { classes, labels } => Self::Multi {
                classes: *classes,
                labels: indices.iter().map(|&i| labels[i].clone()).collect(),
            },
        }
    }

    /// Each clip's classes as a set of booleans.
    pub fn as_sets(&self) -> Vec<Vec<bool>> {
        let classes = self.classes();
        let set = |members: &[usize]| {
            let mut row = vec![false; classes];
            members.iter().for_each(|&c| row[c] = true);
            row
        };
        match self {
            Self::Single { labels, .. } => labels.iter().map(|&c| set(&[c])).collect(),
            Self::Multi { labels, .. } => labels.iter().map(|l| set(l)).collect(),
        }
    }

    /// `(clips, classes)` f32: one-hot rows, or multi-hot rows for a multi-label task.
    pub fn to_tensor(&self, device: &Device) -> candle_core::Result<Tensor> {
        let values: Vec<f32> = self
            .as_sets()
            .iter()
            .flatten()
            .map(|&member| if member { 1.0 } else { 0.0 })
            .collect();
        Tensor::from_vec(values, (self.len(), self.classes()), device)
    }
}

/// The labels of one manifest cell: split at [`LABEL_SEPARATOR`], trimmed, empty parts
/// dropped.
pub fn cell_labels(cell: &str) -> Vec<&str> {
    cell.split(LABEL_SEPARATOR)
        .map(str::trim)
        .filter(|label| !label.is_empty())
        .collect()
}

/// Whether any entry lists several labels (or uses the separator at all).
pub fn is_multi_label<'a>(entries: impl IntoIterator<Item = &'a ManifestEntry>) -> bool {
    entries
        .into_iter()
        .any(|e| e.label.contains(LABEL_SEPARATOR))
}

/// The sorted distinct labels of `entries` (split at the separator when `multi_label`).
pub fn class_names<'a>(
    entries: impl IntoIterator<Item = &'a ManifestEntry>,
    multi_label: bool,
) -> Vec<String> {
    let mut names: Vec<String> = entries
        .into_iter()
        .flat_map(|e| {
            if multi_label {
                cell_labels(&e.label)
            } else {
                vec![e.label.as_str()]
            }
        })
        .map(str::to_owned)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The targets of `entries` over `names` (from [`class_names`]); `Err` names the first
/// label missing from `names`, with the entry's index.
pub fn targets_of(
    entries: &[&ManifestEntry],
    names: &[String],
    multi_label: bool,
) -> Result<Targets, (usize, String)> {
    let index = |label: &str| names.binary_search_by(|n| n.as_str().cmp(label)).ok();
    let classes = names.len();
    if multi_label {
        let labels = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                cell_labels(&e.label)
                    .iter()
                    .map(|l| index(l).ok_or((i, (*l).to_owned())))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?;
        Ok(Targets::Multi { classes, labels })
    } else {
        let labels = entries
            .iter()
            .enumerate()
            .map(|(i, e)| index(&e.label).ok_or((i, e.label.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Targets::Single { classes, labels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: &str) -> ManifestEntry {
        ManifestEntry {
            path: "a.wav".into(),
            label: label.into(),
            split: "train".into(),
            start: None,
            end: None,
        }
    }

    #[test]
    fn semicolons_make_a_task_multi_label() {
        let entries = [entry("drums; bass"), entry("vocals"), entry("bass;")];
        assert!(is_multi_label(&entries));
        assert!(!is_multi_label(&entries[1..2]));
        let names = class_names(&entries, true);
        assert_eq!(names, ["bass", "drums", "vocals"]);
        let refs: Vec<&ManifestEntry> = entries.iter().collect();
        let targets = targets_of(&refs, &names, true).unwrap();
        assert_eq!(
            targets.as_sets(),
            [
                vec![true, true, false],
                vec![false, false, true],
                vec![true, false, false]
            ]
        );
        let unseen = [entry("piano")];
        let refs: Vec<&ManifestEntry> = unseen.iter().collect();
        assert_eq!(targets_of(&refs, &names, false), Err((0, "piano".into())));
    }
}
