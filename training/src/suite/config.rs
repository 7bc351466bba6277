//! What `tessera bench suite` measures: a TOML file naming the encoders, the probing tasks
//! and the optional extra measurements (attention–stem alignment, the multi-view sweep).
//! Relative paths are resolved against the file's folder, so a suite file travels with its
//! data.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use serde::{Deserialize, Serialize};

use crate::probe::EncoderChoice;
use tessera_core::models::disentanglement::{ObjectiveType, Principle};

/// The whole suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteConfig {
    /// Name of the encoder s(m) measures improvements from (HEAR-naive log-mel statistics
    /// in the WavJEPA paper).
    pub baseline: String,
    /// How every cell's probe is trained.
    #[serde(default)]
    pub probe: ProbeSettings,
    /// The encoders, one row of the table each.
    pub encoders: Vec<SuiteEncoder>,
    /// The probing tasks, one column each.
    pub tasks: Vec<SuiteTask>,
    /// Attention–stem alignment of PupuJEPA on songs with stems, if measured.
    pub attention_stems: Option<AttentionStemsSettings>,
    /// The multi-view disentanglement sweep, if run.
    pub multiview: Option<MultiviewSettings>,
}

/// One encoder of the suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteEncoder {
    /// Its name in the tables.
    pub name: String,
    /// What `tessera probe --encoder` takes: a model path, `pupu-jepa-tiny`, `logmel`,
    /// `random` or `random:PATH`.
    pub encoder: String,
    /// What the encoder stands for in the papers' claims, if anything.
    pub role: Option<EncoderRole>,
}

/// The parts encoders play in the claims RESULTS.md checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderRole {
    /// A 2D (spectrogram-patch) JEPA: PupuJEPA.
    TwoDJepa,
    /// A 1D (waveform) JEPA whose targets average the top K > 1 target-encoder layers: WavJEPA.
    OneDJepa,
    /// WavJEPA with top-K = 1 targets, the ablation of the top-K claim.
    OneDJepaTop1,
    /// WavJEPA-Nat, trained on naturalistic scenes.
    NatJepa,
}

/// One probing task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteTask {
    /// Its name in the tables; the claims look for `pitch`, `key` and `scenes`.
    pub name: String,
    /// Training manifest (`tessera probe --train`).
    pub train: PathBuf,
    /// Test manifest (`tessera probe --test`); the training manifest's own `test` rows when
    /// it is the same file.
    pub test: PathBuf,
}

/// The probe of every cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSettings {
    /// `linear` or `mlp` (HEAR's protocol).
    pub probe: String,
    /// `last`, `mean`, `weighted` or a layer number, as `tessera probe --layer`.
    pub layer: String,
    /// Most epochs per learning rate.
    pub max_epochs: usize,
    /// Seeds validation splits, probes and random encoders.
    pub seed: u64,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            probe: "mlp".into(),
            layer: "weighted".into(),
            max_epochs: 500,
            seed: 0,
        }
    }
}

/// `tessera eval attention-stems` inside the suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionStemsSettings {
    /// Folders of songs with stems.
    pub set: Vec<PathBuf>,
    /// Consecutive clips measured per song.
    pub clips_per_song: usize,
    /// Masked regions per stem and clip.
    pub regions_per_stem: usize,
}

/// `tessera multiview sweep` inside the suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiviewSettings {
    /// The frozen encoder, as `--encoder` spells it.
    pub encoder: String,
    /// Its layer read, counted from 1; the last when absent.
    pub layer: Option<usize>,
    /// The notes folder of `tessera data notes`.
    pub notes: PathBuf,
    pub principles: Vec<Principle>,
    pub objectives: Vec<ObjectiveType>,
    /// Reconstruction weights λ; the claim needs 0.6 and 1.
    pub lambdas: Vec<f64>,
    /// A multi-view run configuration (TOML); the defaults when absent.
    pub config: Option<PathBuf>,
}

impl SuiteConfig {
    /// Reads and checks a suite file; relative paths become relative to its folder.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the suite file {}", path.display()))?;
        let mut config: Self = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid suite file", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let resolve = |p: &mut PathBuf| *p = base.join(&*p);
        for task in &mut config.tasks {
            resolve(&mut task.train);
            resolve(&mut task.test);
        }
        if let Some(attention) = &mut config.attention_stems {
            attention.set.iter_mut().for_each(resolve);
        }
        if let Some(multiview) = &mut config.multiview {
            resolve(&mut multiview.notes);
            multiview.config.iter_mut().for_each(resolve);
            multiview.encoder = resolve_encoder(&multiview.encoder, base);
        }
        for encoder in &mut config.encoders {
            encoder.encoder = resolve_encoder(&encoder.encoder, base);
        }
        config
            .check()
            .with_context(|| format!("{}: bad suite", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        ensure!(!self.encoders.is_empty(), "no encoders");
        ensure!(!self.tasks.is_empty(), "no tasks");
        ensure!(
            self.encoders.iter().any(|e| e.name == self.baseline),
            "the baseline `{}` is not one of the encoders",
            self.baseline
        );
        for (i, encoder) in self.encoders.iter().enumerate() {
            ensure!(
                self.encoders[..i].iter().all(|e| e.name != encoder.name),
                "two encoders are named `{}`",
                encoder.name
            );
            encoder
                .encoder
                .parse::<EncoderChoice>()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("encoder `{}`", encoder.name))?;
        }
        for (i, task) in self.tasks.iter().enumerate() {
            ensure!(
                self.tasks[..i].iter().all(|t| t.name != task.name),
                "two tasks are named `{}`",
                task.name
            );
        }
        Ok(())
    }
}

/// A model path in an encoder text made relative to `base`; keywords stay as they are.
fn resolve_encoder(text: &str, base: &Path) -> String {
    match text {
        "logmel" | "pupu-jepa-tiny" | "random" => text.to_owned(),
        _ => match text.strip_prefix("random:") {
            Some(path) => format!("random:{}", base.join(path).display()),
            None => base.join(text).display().to_string(),
        },
    }
}
