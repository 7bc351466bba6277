//! Tessera's shared core: everything both the plugin and the `tessera` CLI need.
//!
//! Data flows one way: samples → [`dsp`] → models → heads/metrics. Audio enters and leaves
//! through [`audio`].

pub mod audio;
pub mod checkpoint;
pub mod cluster;
pub mod dsp;
pub mod embedded;
pub mod features_file;
pub mod masking;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod optim;
pub mod primitives;
pub mod separation;
pub mod tensor_file;
pub mod threads;
