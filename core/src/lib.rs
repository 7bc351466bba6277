//! Tessera's shared core: everything both the plugin and the `tessera` CLI need.
//!
//! Data flows one way: samples → [`dsp`] → models → heads/metrics. Audio enters and leaves
//! through [`audio`].

pub mod audio;
pub mod dsp;
