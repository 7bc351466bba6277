//! The paper's evaluation (§3.5) of a trained disentangler: linear probes with 50 % input
//! dropout on `z_p`, `z_s` and `z_p ⊕ z_s` for pitch and for instrument family, trained on
//! the training notes' codes, validated on the held-out part and scored on the test split;
//! the disentanglement margins and the test reconstruction MSE.

use std::path::Path;

use anyhow::Context;
use candle_core::{Device, Tensor};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use tessera_core::models::multiview::ObjectiveConfig;
use tessera_core::models::{LayerMix, Multiview};

use super::encode::{EncodedClips, encode};
use super::notes::{EmbeddedNotes, EmbeddingSource, NotesPart};
use crate::probe::{Features, ProbeConfig, Targets, train_probe};

/// Input dropout of the paper's linear probes.
const PROBE_INPUT_DROPOUT: f64 = 0.5;

/// How the probes are trained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeSettings {
    /// Most epochs per learning rate (HEAR's 500 by default; tests use fewer).
    pub max_epochs: usize,
    /// Seeds the probes' initialisation, batch order and dropout.
    pub seed: u64,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            max_epochs: 500,
            seed: 0,
        }
    }
}

/// Test accuracy of one task's probes on each code.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SubspaceAccuracy {
    /// On `z_p`.
    pub private: f64,
    /// On `z_s`.
    pub shared: f64,
    /// On `z_p ⊕ z_s`: the paper's overall accuracy of the task.
    pub joined: f64,
}

/// Clip counts of the three parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PartSizes {
    pub train: usize,
    pub valid: usize,
    pub test: usize,
}

/// What `eval.json` holds: one point of the paper's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiviewEvaluation {
    /// How the notes were embedded.
    pub source: EmbeddingSource,
    /// The model's objective: which point of the sweep this is.
    pub objective: ObjectiveConfig,
    /// Clips per part.
    pub sizes: PartSizes,
    /// Pitch probes.
    pub pitch: SubspaceAccuracy,
    /// Instrument-family probes.
    pub family: SubspaceAccuracy,
    /// `pitch(z_p) − pitch(z_s)`: positive when pitch lives in the private code.
    pub delta_pitch: f64,
    /// `family(z_s) − family(z_p)`: positive when family lives in the shared code.
    pub delta_instrument: f64,
    /// Mean of the two tasks' overall (joined) accuracies: the y axis of Fig. 2 and the
    /// point size of Fig. 3.
    pub overall: f64,
    /// Reconstruction MSE of the test clips' latents: the x axis of Fig. 2.
    pub reconstruction_mse: f64,
    /// Probe settings used.
    pub probes: ProbeSettings,
}

impl MultiviewEvaluation {
    /// Header of [`Self::markdown_row`].
    pub const MARKDOWN_HEADER: &'static str = "| principle | objective | λ | pitch z_p | pitch z_s | pitch z_p⊕z_s | family z_p | family z_s | family z_p⊕z_s | ΔPitch | ΔInstrument | overall | MSE |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|";

    /// One table row with every number of the evaluation; at λ = 1 (reconstruction only)
    /// the principle and objective play no part and show as `–`.
    pub fn markdown_row(&self) -> String {
        let o = &self.objective;
        let (principle, objective) = if o.is_reconstruction_only() {
            ("–".to_owned(), "–".to_owned())
        } else {
            (name_of(&o.principle), name_of(&o.kind))
        };
        format!(
            "| {principle} | {objective} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:+.3} | {:+.3} | {:.3} | {:.4} |",
            o.reconstruction_weight,
            self.pitch.private,
            self.pitch.shared,
            self.pitch.joined,
            self.family.private,
            self.family.shared,
            self.family.joined,
            self.delta_pitch,
            self.delta_instrument,
            self.overall,
            self.reconstruction_mse
        )
    }
}

/// A value's name as the configuration files spell it (its serde name).
pub fn name_of(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Evaluates the disentangler at `model_path` on `notes`; `progress` shows the probes.
pub fn evaluate(
    model_path: &Path,
    notes: &EmbeddedNotes,
    probes: ProbeSettings,
    progress: &ProgressBar,
) -> anyhow::Result<MultiviewEvaluation> {
    let model = Multiview::load(model_path, &Device::Cpu)
        .with_context(|| format!("cannot load the disentangler {}", model_path.display()))?;
    let [train, valid, test] =
        [&notes.train, &notes.valid, &notes.test].map(|part| encode(&model, &part.latents));
    let (train, valid, test) = (train?, valid?, test?);
    progress.set_length(6);
    let accuracy = |codes: fn(&EncodedClips) -> candle_core::Result<Tensor>,
                    labels: fn(&NotesPart) -> &[usize],
                    classes: usize|
     -> anyhow::Result<f64> {
        let features = |clips: &EncodedClips, part: &NotesPart| -> anyhow::Result<Features> {
            Ok(Features {
                layers: vec![codes(clips)?],
                targets: Targets::Single {
                    classes,
                    labels: labels(part).to_vec(),
                },
            })
        };
        let config = ProbeConfig {
            max_epochs: probes.max_epochs,
            ..ProbeConfig::linear(LayerMix::One(0), PROBE_INPUT_DROPOUT, probes.seed)
        };
        let model = train_probe(
            &features(&train, &notes.train)?,
            &features(&valid, &notes.valid)?,
            &config,
            &ProgressBar::hidden(),
        )?;
        progress.inc(1);
        Ok(model.evaluate(&features(&test, &notes.test)?)?.primary())
    };
    let private: fn(&EncodedClips) -> _ = |c| Ok(c.private.clone());
    let shared: fn(&EncodedClips) -> _ = |c| Ok(c.shared.clone());
    let joined: fn(&EncodedClips) -> _ = EncodedClips::joined;
    let pitch_of: fn(&NotesPart) -> &[usize] = |p| &p.pitch;
    let family_of: fn(&NotesPart) -> &[usize] = |p| &p.family;
    let (pitches, families) = (notes.pitch_classes.len(), notes.family_classes.len());
    let pitch = SubspaceAccuracy {
        private: accuracy(private, pitch_of, pitches)?,
        shared: accuracy(shared, pitch_of, pitches)?,
        joined: accuracy(joined, pitch_of, pitches)?,
    };
    let family = SubspaceAccuracy {
        private: accuracy(private, family_of, families)?,
        shared: accuracy(shared, family_of, families)?,
        joined: accuracy(joined, family_of, families)?,
    };
    Ok(MultiviewEvaluation {
        source: notes.source.clone(),
        objective: model.config().objective,
        sizes: PartSizes {
            train: notes.train.clips(),
            valid: notes.valid.clips(),
            test: notes.test.clips(),
        },
        delta_pitch: pitch.private - pitch.shared,
        delta_instrument: family.shared - family.private,
        overall: (pitch.joined + family.joined) / 2.0,
        pitch,
        family,
        reconstruction_mse: test.reconstruction_mse,
        probes,
    })
}
