//! tessera-core's integration tests, in one binary: one link instead of one per file, and
//! the test harness spreads every test over the cores at once.

mod audio;
mod classification;
mod gradcheck;
mod jepa_models;
mod kmeans;
mod masking;
mod mel;
mod multiview;
mod nn_gradients;
mod pac_hubert;
mod patches;
mod primitives_ft2d_melody;
mod primitives_hpss;
mod primitives_synthetic;
mod probe_head;
mod resample;
mod sdr;
mod separation;
mod separator;
mod shipped_models;
mod stft;
mod streaming;
mod support;
mod tiny_separator;
