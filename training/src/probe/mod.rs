//! Probes (`tessera probe`): how much of a label frozen embeddings make easy to read out.
//!
//! [`embed_clips`] turns manifest entries into cached per-clip embeddings of any
//! [`EncoderChoice`]; [`train_probe`] trains a linear or HEAR-MLP probe on such features
//! (or any others) with HEAR's learning-rate grid and early stopping; [`ProbeScores`] holds
//! what the probe scores on held-out clips. The multi-view evaluation reuses all three.

mod clip_audio;
mod embeddings;
mod encoder_choice;
mod log_mel_stats;
pub mod report;
mod scores;
mod split;
mod targets;
mod train;

pub use clip_audio::entry_audio;
pub use embeddings::{ClipEmbeddings, embed_clips};
pub use encoder_choice::{EncoderChoice, LoadedEncoder};
pub use log_mel_stats::LogMelStats;
pub use scores::{ClassReport, MULTI_LABEL_THRESHOLD, ProbeScores};
pub use split::{VALID_FRACTION, stratified_split};
pub use targets::{LABEL_SEPARATOR, Targets, cell_labels, class_names, is_multi_label, targets_of};
pub use train::{Features, ProbeConfig, ProbeModel, Selection, select_rows, train_probe};

#[cfg(test)]
mod planted_signal;
