//! The data engine: everything the training and evaluation pipelines read, made or found
//! here since no public data set can be downloaded (see the data issue).

pub mod convolve;
pub mod manifest;
pub mod notes;
pub mod real_audio;
pub mod room;
pub mod scenes;
pub mod songs;
pub mod soundfont;
pub mod stereo;
