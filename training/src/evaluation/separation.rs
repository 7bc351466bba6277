//! Separation quality over a set of songs with stems: BSS Eval v4 SDR (museval's numbers)
//! of a separator next to the oracle ideal ratio mask and the HPSS baseline, per stem, as
//! the median over songs of each song's median over 1-s windows.

use serde::Serialize;
use tessera_core::audio::AudioBuffer;
use tessera_core::dsp::stft::Stft;
use tessera_core::metrics::sdr::{BssEvalConfig, bss_eval_v4, median_over_songs};
use tessera_core::models::separator::STEMS;
use tessera_core::separation::{StreamingSeparator, separate_audio};

use super::anchors::{Stems, hpss_baseline, ideal_ratio_masks};
use crate::separation::songs::StemSong;

/// The systems every evaluation scores.
pub const SYSTEMS: [&str; 3] = ["separator", "oracle IRM", "HPSS baseline"];

/// Median SDR per stem of every system on one song (NaN where BSS Eval has no score).
#[derive(Debug, Clone, Serialize)]
pub struct SongScores {
    /// The song folder.
    pub song: String,
    /// `[system][stem]` in [`SYSTEMS`] and `STEMS` order, dB.
    pub sdr: [[f64; 4]; 3],
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct SetScores {
    pub songs: Vec<SongScores>,
    /// `[system][stem]`: median over songs, dB.
    pub median_sdr: [[f64; 4]; 3],
}

/// Scores `separator` and the anchors on `songs`; `progress(done)` after each song.
pub fn evaluate_separation(
    separator: &mut StreamingSeparator,
    songs: &[StemSong],
    mut progress: impl FnMut(usize),
) -> anyhow::Result<SetScores> {
    let config = separator.model().config().clone();
    let stft = Stft::new(config.stft())?;
    let mut scored = Vec::with_capacity(songs.len());
    for (i, song) in songs.iter().enumerate() {
        let mixture = song.mixture();
        let audio = AudioBuffer {
            sample_rate: config.sample_rate,
            channels: mixture.to_vec(),
        };
        let separated = separate_audio(separator, &audio, |_, _| {})?;
        let ours: Stems = separated.map(|stem| {
            let [left, right]: [Vec<f32>; 2] = stem.channels.try_into().expect("stereo stems");
            [left, right]
        });
        let systems = [
            ours,
            ideal_ratio_masks(song, &stft)?,
            hpss_baseline(&mixture, config.sample_rate, &stft)?,
        ];
        let references: Vec<Vec<Vec<f32>>> = song.stems.iter().map(|s| s.to_vec()).collect();
        let mut sdr = [[f64::NAN; 4]; 3];
        for (row, estimates) in sdr.iter_mut().zip(&systems) {
            let estimates: Vec<Vec<Vec<f32>>> = estimates.iter().map(|s| s.to_vec()).collect();
            match bss_eval_v4(&references, &estimates, &BssEvalConfig::default()) {
                Ok(scores) => *row = std::array::from_fn(|s| scores.median_sdr(s)),
                // museval refuses songs where a stem is silent throughout; so do we, and the
                // song then has no score (like museval's NaN).
                Err(error) => eprintln!("{}: no BSS Eval score ({error})", song.folder.display()),
            }
        }
        scored.push(SongScores {
            song: song.folder.display().to_string(),
            sdr,
        });
        progress(i + 1);
    }
    let median_sdr = std::array::from_fn(|system| {
        std::array::from_fn(|stem| {
            let per_song: Vec<f64> = scored.iter().map(|s| s.sdr[system][stem]).collect();
            median_over_songs(&per_song)
        })
    });
    Ok(SetScores {
        songs: scored,
        median_sdr,
    })
}

/// The scores as a markdown table, one row per system.
pub fn markdown_table(scores: &SetScores) -> String {
    let mut text = format!(
        "| system | {} |\n| --- |{}\n",
        STEMS.join(" | "),
        " --- |".repeat(4)
    );
    for (system, row) in SYSTEMS.iter().zip(&scores.median_sdr) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.2}")).collect();
        text.push_str(&format!("| {system} | {} |\n", cells.join(" | ")));
    }
    text
}
