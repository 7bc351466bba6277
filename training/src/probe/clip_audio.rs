//! The audio of one manifest entry as an encoder hears it.

use anyhow::{Context, ensure};
use tessera_core::audio::{channels, decode};
use tessera_core::dsp::resample::{ResampleQuality, resample};

use crate::data::manifest::ManifestEntry;

/// Decodes `entry`'s file, cuts the entry's region and resamples it to `sample_rate`: its
/// channels when the file has exactly `channels` of them (a two-ear scene for a two-ear
/// encoder), otherwise one channel, the mono mix. Errors name the file: unreadable audio,
/// or a region that holds none of it.
pub fn entry_audio(
    entry: &ManifestEntry,
    sample_rate: u32,
    channels: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let file = entry.path.display();
    let mut audio = decode::decode_file(&entry.path)?;
    let rate = audio.sample_rate;
    if audio.num_channels() != channels {
        audio = channels::to_mono(&audio);
    }
    let length = audio.num_frames();
    let frame = |seconds: Option<f64>, default: usize| {
        seconds.map_or(default, |s| {
            ((s * f64::from(rate)).round() as usize).min(length)
        })
    };
    let (start, end) = (frame(entry.start, 0), frame(entry.end, length));
    ensure!(
        start < end,
        "{file}: the region {}–{} s holds no audio (the file lasts {:.2} s)",
        entry.start.unwrap_or(0.0),
        entry
            .end
            .map_or_else(|| "end".to_owned(), |e| e.to_string()),
        audio.duration_secs()
    );
    audio
        .channels
        .iter()
        .map(|channel| {
            resample(
                &channel[start..end],
                rate,
                sample_rate,
                ResampleQuality::Best,
            )
            .with_context(|| format!("{file}: cannot resample from {rate} Hz to {sample_rate} Hz"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tessera_core::audio::AudioBuffer;
    use tessera_core::audio::encode::{WavSampleFormat, write_wav};

    use super::*;

    /// Writes a 16-kHz file of the given channels (each a constant) and returns its entry.
    fn entry(label: &str, levels: &[f32]) -> ManifestEntry {
        let dir = std::env::temp_dir().join(format!("tessera-clip-audio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{label}.wav"));
        let audio = AudioBuffer {
            sample_rate: 16_000,
            channels: levels.iter().map(|&level| vec![level; 1600]).collect(),
        };
        write_wav(&path, &audio, WavSampleFormat::Float32).unwrap();
        ManifestEntry {
            path,
            label: label.into(),
            split: "train".into(),
            start: Some(0.05),
            end: None,
        }
    }

    #[test]
    fn a_two_ear_encoder_hears_both_ears_and_others_the_mono_mix() {
        let stereo = entry("stereo", &[0.2, 0.6]);
        let mono = entry("mono", &[0.5]);
        let channel_means = |audio: Vec<Vec<f32>>| -> Vec<f32> {
            audio
                .iter()
                .map(|c| {
                    assert_eq!(c.len(), 800, "the region starts at 0.05 s");
                    c[100..700].iter().sum::<f32>() / 600.0
                })
                .collect()
        };
        let near = |a: Vec<f32>, b: &[f32]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3)
        };
        let ears = channel_means(entry_audio(&stereo, 16_000, 2).unwrap());
        assert!(near(ears.clone(), &[0.2, 0.6]), "{ears:?}");
        let mix = channel_means(entry_audio(&stereo, 16_000, 1).unwrap());
        assert!(near(mix.clone(), &[0.4]), "{mix:?}");
        let single = channel_means(entry_audio(&mono, 16_000, 2).unwrap());
        assert!(near(single.clone(), &[0.5]), "{single:?}");
    }
}
