//! The audio of one manifest entry as an encoder hears it.

use anyhow::{Context, ensure};
use tessera_core::audio::{channels, decode};
use tessera_core::dsp::resample::{ResampleQuality, resample};

use crate::data::manifest::ManifestEntry;

/// Decodes `entry`'s file, mixes it to mono, cuts the entry's region and resamples it to
/// `sample_rate`. Errors name the file: unreadable audio, or a region that holds none of it.
pub fn entry_audio(entry: &ManifestEntry, sample_rate: u32) -> anyhow::Result<Vec<f32>> {
    let file = entry.path.display();
    let audio = decode::decode_file(&entry.path)?;
    let rate = audio.sample_rate;
    let mono = channels::to_mono(&audio).channels.swap_remove(0);
    let frame = |seconds: Option<f64>, default: usize| {
        seconds.map_or(default, |s| {
            ((s * f64::from(rate)).round() as usize).min(mono.len())
        })
    };
    let (start, end) = (frame(entry.start, 0), frame(entry.end, mono.len()));
    ensure!(
        start < end,
        "{file}: the region {}–{} s holds no audio (the file lasts {:.2} s)",
        entry.start.unwrap_or(0.0),
        entry
            .end
            .map_or_else(|| "end".to_owned(), |e| e.to_string()),
        audio.duration_secs()
    );
    resample(&mono[start..end], rate, sample_rate, ResampleQuality::Best)
        .with_context(|| format!("{file}: cannot resample from {rate} Hz to {sample_rate} Hz"))
}
