//! `tessera spectrogram` end to end: real files in, a PNG and statistics out, and one clear
//! error naming the file for bad input.

use std::f32::consts::TAU;

use clap::Parser;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, png_size};
use tessera_train::cli::{Cli, Command};
use tessera_train::commands::spectrogram;

/// Parses a `tessera spectrogram ...` command line exactly as the binary would.
fn spectrogram_args(args: &[&str]) -> spectrogram::SpectrogramArgs {
    let cli = Cli::try_parse_from(["tessera", "spectrogram"].iter().chain(args))
        .expect("valid command line");
    match cli.command {
        Command::Spectrogram(args) => args,
        other => panic!("parsed as {other:?}"),
    }
}

fn tone(frequency: f32, amplitude: f32, sample_rate: u32, seconds: f32) -> Vec<f32> {
    (0..(seconds * sample_rate as f32) as usize)
        .map(|i| amplitude * (TAU * frequency * i as f32 / sample_rate as f32).sin())
        .collect()
}

#[test]
fn a_stereo_tone_gives_a_png_and_its_statistics() {
    let dir = ScratchDir::new("spectrogram-tone");
    let input = dir.join("tone.wav");
    // 1 kHz at half scale on the left, silence on the right, at 44.1 kHz: the command must
    // downmix and resample to its 16 kHz analysis rate.
    let left = tone(1000.0, 0.5, 44_100, 2.0);
    let right = vec![0.0; left.len()];
    let audio = AudioBuffer {
        sample_rate: 44_100,
        channels: vec![left, right],
    };
    write_wav(&input, &audio, WavSampleFormat::Float32).unwrap();
    let out = dir.join("figures/tone.png");

    let args = spectrogram_args(&[
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--size",
        "800x400",
    ]);
    let summary = spectrogram::render(&args).expect("a valid WAV renders");

    assert_eq!(summary.source_rate, 44_100);
    assert_eq!(summary.channels, 2);
    assert!((summary.duration_secs - 2.0).abs() < 1e-6);
    // Peak 0.5 → −6.02 dBFS; RMS over both channels: 0.5/√2 on one of two → −12.04 dBFS.
    assert!(
        (summary.peak_dbfs + 6.02).abs() < 0.05,
        "peak {}",
        summary.peak_dbfs
    );
    assert!(
        (summary.rms_dbfs + 12.04).abs() < 0.05,
        "rms {}",
        summary.rms_dbfs
    );
    // 2 s at 16 kHz, hop 160, centred: 1 + 32000/160 frames.
    assert_eq!(summary.shape, (128, 201));
    // The loudest mel band is the one around 1 kHz (neighbouring Slaney bands are ~60 Hz apart there).
    assert!(
        (summary.loudest_band_hz - 1000.0).abs() < 60.0,
        "loudest band {} Hz",
        summary.loudest_band_hz
    );

    let png = std::fs::read(&out).expect("the figure was written, creating its folder");
    assert_eq!(png_size(&png), Some((800, 400)));
}

#[test]
fn silence_is_drawn_not_refused() {
    let dir = ScratchDir::new("spectrogram-silence");
    let input = dir.join("silence.wav");
    let audio = AudioBuffer {
        sample_rate: 16_000,
        channels: vec![vec![0.0; 16_000]],
    };
    write_wav(&input, &audio, WavSampleFormat::Int16).unwrap();
    let out = dir.join("silence.png");
    let args = spectrogram_args(&[input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let summary = spectrogram::render(&args).expect("silence is valid audio");
    assert_eq!(summary.peak_dbfs, f64::NEG_INFINITY);
    assert!(out.exists());
}

#[test]
fn the_bundled_demo_clip_renders() {
    let clip = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/demo/northerners-excerpt.ogg"
    );
    let dir = ScratchDir::new("spectrogram-demo");
    let out = dir.join("demo.png");
    let args = spectrogram_args(&[clip, "--out", out.to_str().unwrap()]);
    let summary = spectrogram::render(&args).expect("the demo clip decodes");
    assert_eq!((summary.source_rate, summary.channels), (44_100, 2));
    assert!((summary.duration_secs - 15.0).abs() < 0.01);
    // Real music: loud but not clipped to silence, with energy spread over the bands.
    assert!(
        summary.rms_dbfs > -30.0 && summary.rms_dbfs < -6.0,
        "rms {}",
        summary.rms_dbfs
    );
    assert!(
        summary.mean_db > -70.0 && summary.mean_db < -20.0,
        "mean {}",
        summary.mean_db
    );
}

#[test]
fn bad_input_gives_one_error_naming_the_file() {
    let dir = ScratchDir::new("spectrogram-bad");
    let out = dir.join("x.png");
    let missing = dir.join("no-such-song.wav");
    let garbage = dir.join("garbage.mp3");
    std::fs::write(&garbage, b"this is a text file, not an MP3 at all").unwrap();
    let empty = dir.join("empty.flac");
    std::fs::write(&empty, b"").unwrap();

    for (input, file_name) in [
        (&missing, "no-such-song.wav"),
        (&garbage, "garbage.mp3"),
        (&empty, "empty.flac"),
    ] {
        let args = spectrogram_args(&[input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let message = format!(
            "{:#}",
            spectrogram::render(&args).expect_err("bad input is refused")
        );
        assert!(message.contains(file_name), "{message}");
        assert!(!out.exists(), "no figure for bad input");
    }
}

#[test]
fn impossible_settings_are_refused_before_reading() {
    let clip = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/demo/northerners-excerpt.ogg"
    );
    let args = spectrogram_args(&[clip, "--out", "/nonexistent/x.png", "--n-mels", "0"]);
    let message = format!("{:#}", spectrogram::render(&args).unwrap_err());
    assert!(message.contains("invalid analysis settings"), "{message}");
    assert!(
        Cli::try_parse_from([
            "tessera",
            "spectrogram",
            clip,
            "--out",
            "x.png",
            "--size",
            "10x10"
        ])
        .is_err()
    );
}
