//! Multi-view disentanglement (../shared/papers/multiview-disentanglement-music-ssl.txt):
//! training the disentangler of `tessera_core::models::multiview` on frozen-encoder latents
//! of paired notes, and encoding clips with it for the evaluation's probes.

pub mod config;
pub mod data;
pub mod encode;
pub mod run;
#[cfg(test)]
mod tests;

pub use config::{Gamma, MultiviewRunConfig, MultiviewTrainConfig};
pub use data::MultiviewData;
pub use encode::{EncodedClips, encode};
pub use run::{
    BEST_FILE, MultiviewMetricRow, MultiviewOptions, MultiviewOutcome, read_metrics, train,
};
