//! The three JEPA pretraining tasks behind one interface, so one training loop serves all.

use candle_core::{Device, Result, Tensor};
use candle_nn::VarBuilder;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tessera_core::masking::BatchMasks;
use tessera_core::models::{JepaLoss, PupuJepa, PupuJepaConfig, WavJepa, WavJepaConfig};

/// Which model a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// I-JEPA on log-mel patches with frequency-aware positions.
    PupuJepa,
    /// JEPA on mono waveforms.
    WavJepa,
    /// JEPA on two-ear waveforms of naturalistic scenes.
    WavJepaNat,
}

impl ModelKind {
    /// The checkpoint kind string.
    pub fn name(self) -> &'static str {
        match self {
            Self::PupuJepa => PupuJepa::KIND,
            Self::WavJepa => WavJepa::kind(1),
            Self::WavJepaNat => WavJepa::kind(2),
        }
    }
}

/// A model config of any kind; which one is fixed by the run's [`ModelKind`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ModelConfig {
    Pupu(PupuJepaConfig),
    Wav(WavJepaConfig),
}

/// A built model ready to train.
pub enum Task {
    // Boxed: the models differ a lot in size and a task is built once per run.
    Pupu(Box<PupuJepa>),
    Wav(Box<WavJepa>),
}

impl Task {
    pub fn build(config: &ModelConfig, trainable: VarBuilder, target: VarBuilder) -> Result<Self> {
        Ok(match config {
            ModelConfig::Pupu(c) => {
                Self::Pupu(Box::new(PupuJepa::new(c.clone(), trainable, target)?))
            }
            ModelConfig::Wav(c) => Self::Wav(Box::new(WavJepa::new(c.clone(), trainable, target)?)),
        })
    }

    /// Sample rate of the audio the model reads.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Pupu(m) => m.config().mel.sample_rate,
            Self::Wav(m) => m.config().sample_rate,
        }
    }

    /// Samples per clip and ear.
    pub fn clip_samples(&self) -> usize {
        match self {
            Self::Pupu(m) => m.config().clip_samples(),
            Self::Wav(m) => m.config().clip_samples,
        }
    }

    /// The model input for `[example][ear][sample]` audio.
    pub fn input(&self, examples: &[Vec<Vec<f32>>], device: &Device) -> Result<Tensor> {
        match self {
            Self::Pupu(m) => {
                let clips = examples
                    .iter()
                    .map(|ears| m.clip_input(&ears[0], device))
                    .collect::<Result<Vec<_>>>()?;
                Tensor::stack(&clips, 0)
            }
            Self::Wav(_) => {
                let (batch, ears) = (examples.len(), examples[0].len());
                let samples = examples[0][0].len();
                let flat: Vec<f32> = examples.iter().flatten().flatten().copied().collect();
                Tensor::from_vec(flat, (batch, ears, samples), device)
            }
        }
    }

    /// Masks for a batch.
    pub fn masks(&self, batch: usize, rng: &mut ChaCha8Rng) -> Result<BatchMasks> {
        let masks = match self {
            Self::Pupu(m) => m
                .config()
                .masking
                .sample_batch(m.config().grid(), batch, rng),
            Self::Wav(m) => m
                .config()
                .masking
                .sample_batch(batch, m.config().frames(), rng),
        };
        masks.map_err(candle_core::Error::wrap)
    }

    pub fn loss(&self, input: &Tensor, masks: &BatchMasks) -> Result<JepaLoss> {
        match self {
            Self::Pupu(m) => m.loss(input, masks),
            Self::Wav(m) => m.loss(input, masks),
        }
    }
}
