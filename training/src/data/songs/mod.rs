//! Procedural multitrack songs with ground-truth stems: a composer draws a key, tempo, meter,
//! sections, chords and the parts of four stems (vocals, drums, bass, other), and rustysynth
//! renders each stem from any SF2 SoundFont; the mixture is the exact sum of the stems.
//!
//! The vocals stem is, for now, the sung melody played by the GM voice programs 52–54
//! (Choir Aahs, Voice Oohs, Synth Voice); sung syllables with espeak-ng come later.

pub mod composer;
pub mod parts;
pub mod render;
pub mod stream;
pub mod theory;

pub use composer::{NoteEvent, Part, SAMPLE_RATE, SongPlan, Stem, compose, song_rng};
pub use render::{RenderedSong, render_song, render_window};
pub use stream::{SongCrop, SongStream};
