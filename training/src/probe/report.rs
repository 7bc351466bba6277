//! What `tessera probe` writes: `probe.json` (everything, for scripts) and `probe.md` (the
//! same as tables, for people).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::scores::{ClassReport, ProbeScores};
use super::train::{ProbeConfig, Selection};

/// The whole record of one `tessera probe` run.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The encoder as given (`--encoder`).
    pub encoder: String,
    /// Hash of what determines its embeddings (the cache folder's name).
    pub encoder_fingerprint: String,
    /// The manifests read.
    pub train_manifest: PathBuf,
    pub test_manifest: PathBuf,
    /// `single-label` or `multi-label`.
    pub task: String,
    /// Class names, in the order of the matrices and per-class lists.
    pub classes: Vec<String>,
    /// Clips in each part.
    pub sizes: Sizes,
    /// Where the validation clips came from.
    pub validation: String,
    /// How the clips were embedded.
    pub embedding: EmbeddingReport,
    /// The `--layer` choice.
    pub layer: String,
    /// The `--seed`.
    pub seed: u64,
    /// One entry per probe trained.
    pub probes: Vec<ProbeResult>,
}

/// Clips per part of the data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    pub train: usize,
    pub valid: usize,
    pub test: usize,
}

/// How the clips were embedded.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingReport {
    /// Layers of the embedding.
    pub layers: usize,
    /// Width of each layer.
    pub dim: usize,
    /// Clips read from the cache rather than embedded.
    pub from_cache: usize,
    /// The cache folder, if any.
    pub cache: Option<PathBuf>,
    /// Wall time of embedding (including cache reads).
    pub seconds: f64,
}

/// One trained probe and its test scores.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// `linear` or `mlp`.
    pub probe: String,
    /// How it was trained.
    pub config: ProbeConfig,
    /// The chosen learning rate and epoch.
    pub selection: Selection,
    /// Weight of each layer in the probe's input.
    pub layer_weights: Vec<f32>,
    /// Test accuracy (single-label tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Test macro-F1 (single-label tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macro_f1: Option<f64>,
    /// Test mean average precision (multi-label tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_average_precision: Option<f64>,
    /// Test micro-F1 (multi-label tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub micro_f1: Option<f64>,
    /// Per-class test scores.
    pub per_class: Vec<ClassReport>,
    /// `[true][predicted]` test counts (single-label tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Vec<Vec<u64>>>,
    /// Wall time of training (every learning rate) and testing.
    pub seconds: f64,
}

impl ProbeResult {
    /// The record of a probe named `probe` that scored `scores` on the test clips.
    pub fn new(
        probe: &str,
        config: &ProbeConfig,
        selection: &Selection,
        layer_weights: Vec<f32>,
        scores: &ProbeScores,
        classes: &[String],
        seconds: f64,
    ) -> Self {
        let mut result = Self {
            probe: probe.to_owned(),
            config: config.clone(),
            selection: selection.clone(),
            layer_weights,
            accuracy: None,
            macro_f1: None,
            mean_average_precision: None,
            micro_f1: None,
            per_class: scores.per_class(classes),
            confusion: None,
            seconds,
        };
        match scores {
            ProbeScores::Single {
                accuracy,
                macro_f1,
                confusion,
            } => {
                result.accuracy = Some(*accuracy);
                result.macro_f1 = Some(*macro_f1);
                result.confusion = Some(confusion.rows());
            }
            ProbeScores::Multi {
                mean_average_precision,
                micro_f1,
                ..
            } => {
                result.mean_average_precision = Some(*mean_average_precision);
                result.micro_f1 = Some(*micro_f1);
            }
        }
        result
    }
}

impl ProbeReport {
    /// The summary: what was probed and one row of scores per probe.
    pub fn summary_markdown(&self) -> String {
        let mut text = format!(
            "## Probe: {} on {} ({}, {} classes)\n\n\
             {} train / {} valid / {} test clips; validation: {}; layer: {}; embedding: {} \
             layer(s) of {}, {} of {} clips from the cache, {:.1} s.\n\n",
            self.encoder,
            self.test_manifest.display(),
            self.task,
            self.classes.len(),
            self.sizes.train,
            self.sizes.valid,
            self.sizes.test,
            self.validation,
            self.layer,
            self.embedding.layers,
            self.embedding.dim,
            self.embedding.from_cache,
            self.sizes.train + self.sizes.valid + self.sizes.test,
            self.embedding.seconds,
        );
        let multi = self.task == "multi-label";
        let (first, second) = if multi {
            ("mAP", "micro-F1")
        } else {
            ("accuracy", "macro-F1")
        };
        let _ = writeln!(
            text,
            "| probe | learning rate | epochs | valid score | {first} | {second} | seconds |\n\
             |---|---:|---:|---:|---:|---:|---:|"
        );
        for p in &self.probes {
            let (a, b) = if multi {
                (p.mean_average_precision, p.micro_f1)
            } else {
                (p.accuracy, p.macro_f1)
            };
            let _ = writeln!(
                text,
                "| {} | {:.1e} | {} | {:.4} | {:.4} | {:.4} | {:.1} |",
                p.probe,
                p.selection.learning_rate,
                p.selection.best_epoch,
                p.selection.valid_score,
                a.unwrap_or(f64::NAN),
                b.unwrap_or(f64::NAN),
                p.seconds
            );
        }
        text
    }

    /// The summary followed by per-class scores (and layer weights when learned).
    pub fn markdown(&self) -> String {
        let mut text = self.summary_markdown();
        let multi = self.task == "multi-label";
        let names: Vec<&str> = self.probes.iter().map(|p| p.probe.as_str()).collect();
        let what = if multi { "average precision" } else { "F1" };
        let _ = write!(
            text,
            "\n### Per class ({what})\n\n| class | support | {} |\n|---|---:|{}\n",
            names.join(" | "),
            "---:|".repeat(names.len())
        );
        for (c, class) in self.classes.iter().enumerate() {
            let support = self.probes[0].per_class[c]
                .scores
                .as_ref()
                .map_or_else(|| "".to_owned(), |s| s.support.to_string());
            let values: Vec<String> = self
                .probes
                .iter()
                .map(|p| {
                    let entry = &p.per_class[c];
                    let value = entry
                        .scores
                        .as_ref()
                        .map(|s| s.f1)
                        .or(entry.average_precision);
                    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"))
                })
                .collect();
            let _ = writeln!(text, "| {class} | {support} | {} |", values.join(" | "));
        }
        if self.embedding.layers > 1 {
            let _ = write!(
                text,
                "\n### Layer weights\n\n| probe | {} |\n|---|{}\n",
                (1..=self.embedding.layers)
                    .map(|l| format!("layer {l}"))
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---:|".repeat(self.embedding.layers)
            );
            for p in &self.probes {
                let weights: Vec<String> =
                    p.layer_weights.iter().map(|w| format!("{w:.3}")).collect();
                let _ = writeln!(text, "| {} | {} |", p.probe, weights.join(" | "));
            }
        }
        text
    }
}
