//! `tessera data scenes` end to end: sources and noise at other sample rates (one corrupt
//! file among them), stereo float WAVs plus JSON per scene, reproducible for a seed, and a
//! clear error for an empty folder.

use std::path::Path;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::decode::decode_file;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, tessera};

/// Writes `seconds` of a mono signal at `rate`: a chirp-like tone when `noisy` is false,
/// a deterministic noise otherwise.
fn write_signal(path: &Path, rate: u32, seconds: f32, noisy: bool) {
    let len = (seconds * rate as f32) as usize;
    let mut state = 12_345u32;
    let samples = (0..len)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if noisy {
                0.3 * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            } else {
                let t = i as f32 / rate as f32;
                0.4 * (std::f32::consts::TAU * (300.0 + 200.0 * t) * t).sin()
            }
        })
        .collect();
    let audio = AudioBuffer {
        sample_rate: rate,
        channels: vec![samples],
    };
    write_wav(path, &audio, WavSampleFormat::Float32).unwrap();
}

/// Runs `tessera data scenes` with `seed` into `out`.
fn scenes(sources: &Path, noise: &Path, out: &Path, seed: &str) -> anyhow::Result<()> {
    tessera(&[
        "data",
        "scenes",
        "--sources",
        sources.to_str().unwrap(),
        "--noise",
        noise.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--count",
        "3",
        "--seed",
        seed,
        "--seconds",
        "0.5",
    ])
}

#[test]
fn scenes_are_stereo_wavs_with_their_draws_and_reproducible() {
    let dir = ScratchDir::new("cli-data-scenes");
    let (sources, noise) = (dir.join("sources"), dir.join("noise"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&noise).unwrap();
    write_signal(&sources.join("a.wav"), 22_050, 1.0, false);
    write_signal(&sources.join("b.wav"), 16_000, 0.3, false);
    std::fs::write(sources.join("broken.wav"), b"not a wav at all").unwrap();
    write_signal(&noise.join("hum.wav"), 44_100, 0.7, true);

    scenes(&sources, &noise, &dir.join("out"), "5").expect("scenes render");
    scenes(&sources, &noise, &dir.join("again"), "5").expect("scenes render again");
    for index in 0..3 {
        let wav = dir.join(&format!("out/scene_{index:05}.wav"));
        let audio = decode_file(&wav).unwrap();
        assert_eq!(audio.sample_rate, 16_000);
        assert_eq!(audio.num_channels(), 2);
        assert!(audio.num_frames() > 0 && audio.num_frames() <= 8000);
        assert!(audio.channels.iter().flatten().all(|v| v.is_finite()));
        assert_ne!(audio.channels[0], audio.channels[1], "two different ears");

        let json = std::fs::read_to_string(wav.with_extension("json")).unwrap();
        let record: serde_json::Value = serde_json::from_str(&json).unwrap();
        let snr = record["scene"]["snr_db"].as_f64().unwrap();
        assert!((5.0..=40.0).contains(&snr));
        let distance = record["scene"]["source_distance"].as_f64().unwrap();
        assert!((1.5..=5.0).contains(&distance));
        assert!(
            !record["source"].as_str().unwrap().ends_with("broken.wav"),
            "the corrupt file is skipped"
        );
        assert_eq!(
            record["scene"]["samples"].as_u64(),
            Some(audio.num_frames() as u64)
        );

        let again = std::fs::read(dir.join(&format!("again/scene_{index:05}.wav"))).unwrap();
        assert_eq!(std::fs::read(&wav).unwrap(), again, "same seed, same scene");
    }
}

#[test]
fn an_empty_noise_folder_is_a_clear_error() {
    let dir = ScratchDir::new("cli-data-scenes-empty");
    let (sources, noise) = (dir.join("sources"), dir.join("noise"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&noise).unwrap();
    write_signal(&sources.join("a.wav"), 16_000, 0.5, false);
    let error = scenes(&sources, &noise, &dir.join("out"), "1").unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("no noise audio files") && message.contains("noise"),
        "{message}"
    );
}
