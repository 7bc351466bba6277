//! Procedural multitrack songs with ground-truth stems: a composer draws a key, tempo, meter,
//! sections, chords and the parts of four stems (vocals, drums, bass, other), and rustysynth
//! renders each stem from any SF2 SoundFont; the mixture is the exact sum of the stems.
//!
//! The vocals stem is the melody sung by espeak-ng (syllables at the notes' pitches, see
//! `espeak`, `psola` and `sung`) in 60 % of the songs and by the GM voice programs 52–54
//! (Choir Aahs, Voice Oohs, Synth Voice) in the rest.
//!
//! Key- and tempo-labelled clips are cut from songs composed for them (`key_clips`), and
//! `key_finding` checks that their key can be heard.

pub mod composer;
pub mod espeak;
pub mod key_clips;
pub mod key_finding;
pub mod parts;
pub mod psola;
pub mod render;
pub mod stream;
pub mod sung;
pub mod theory;

pub use composer::{
    Constraints, NoteEvent, Part, SAMPLE_RATE, SongPlan, Stem, compose, compose_with, song_rng,
};
pub use parts::vocals::Singer;
pub use render::{RenderedSong, render_song, render_stems, render_window};
pub use stream::{SongCrop, SongStream};
