//! Evaluation metrics: separation quality and classification scores.
//!
//! [`sdr`] is BSS Eval version 4 as museval computes it for SiSEC / MUSDB18 results, so the
//! numbers Tessera reports can be put next to published ones; [`classification`] scores
//! probes as scikit-learn does.

pub mod classification;
mod error;
pub mod sdr;

pub use error::MetricsError;
