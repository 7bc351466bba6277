//! The models of the four methods, each built from a serde Config and a VarBuilder.

pub mod disentanglement;
pub mod ema;
mod encoder;
mod jepa_loss;
pub mod multiview;
pub mod pac_hubert;
mod predictor;
pub mod probe;
pub mod pupu_jepa;
pub mod separator;
mod tokens;
pub mod wav_jepa;

pub use encoder::Encoder;
pub use jepa_loss::JepaLoss;
pub use multiview::{Multiview, MultiviewConfig};
pub use pac_hubert::{PacHubert, PacHubertConfig};
pub use predictor::Prediction;
pub use probe::{LayerMix, ProbeArchitecture, ProbeHead, ProbeHeadConfig};
pub use pupu_jepa::{PupuJepa, PupuJepaConfig};
pub use separator::{Separator, SeparatorConfig};
pub use wav_jepa::{WavJepa, WavJepaConfig};
