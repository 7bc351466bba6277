//! Multi-view disentanglement (../shared/papers/multiview-disentanglement-music-ssl.txt):
//! training the disentangler of `tessera_core::models::multiview` on frozen-encoder latents
//! of paired notes, and encoding clips with it for the evaluation's probes; on a notes
//! folder of `tessera data notes`, the paper's evaluation, sweep and Table 1 claim.

pub mod claim;
pub mod config;
pub mod data;
pub mod encode;
pub mod evaluate;
pub mod notes;
pub mod notes_run;
pub mod run;
pub mod sweep;
#[cfg(test)]
mod tests;

pub use claim::{CosineSepClaim, cosine_sep_claim};
pub use config::{Gamma, MultiviewRunConfig, MultiviewTrainConfig};
pub use data::MultiviewData;
pub use encode::{EncodedClips, encode};
pub use evaluate::{MultiviewEvaluation, ProbeSettings, SubspaceAccuracy, evaluate};
pub use notes::{EmbeddedNotes, EmbeddingSource, NotesPart, embed_notes};
pub use run::{
    BEST_FILE, MultiviewMetricRow, MultiviewOptions, MultiviewOutcome, read_metrics, train,
};
pub use sweep::{SweepConfig, SweepResult, SweepRow};
