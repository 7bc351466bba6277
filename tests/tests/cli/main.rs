//! The `tessera` command line end to end on tiny data, in one binary: one link instead of
//! one per command, and the test harness spreads every test over the cores at once.

mod attention;
mod bench_suite;
mod cluster;
mod data_crops;
mod data_keys;
mod data_notes;
mod data_scenes;
mod data_singing;
mod data_songs;
mod features;
mod multiview;
mod pac_hubert;
mod pretrain;
mod probe;
mod separation;
mod spectrogram;
