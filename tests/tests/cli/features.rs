//! `tessera features primitive` end to end: a directory of audio in, one 48-dim features file
//! per input (mirroring the layout) and a run record out; broken files are skipped and
//! counted, an empty directory is one clear error.

use std::f32::consts::TAU;

use clap::Parser;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_core::features_file::FeaturesFile;
use tessera_tests::ScratchDir;
use tessera_train::cli::{Cli, Command};
use tessera_train::commands::features::{self, FeaturesCommand, PrimitiveArgs};

/// Parses a `tessera features primitive ...` command line exactly as the binary would.
fn primitive_args(args: &[&str]) -> PrimitiveArgs {
    let cli = Cli::try_parse_from(["tessera", "features", "primitive"].iter().chain(args))
        .expect("valid command line");
    match cli.command {
        Command::Features(features::FeaturesArgs {
            command: FeaturesCommand::Primitive(args),
        }) => args,
        other => panic!("parsed as {other:?}"),
    }
}

/// Decaying notes cycling through `pitches`, one every 0.25 s, over `seconds`.
fn notes(pitches: &[f32], sample_rate: u32, seconds: f32) -> Vec<f32> {
    let note_len = sample_rate as usize / 4;
    (0..(seconds * sample_rate as f32) as usize)
        .map(|i| {
            let hz = pitches[(i / note_len) % pitches.len()];
            let t = (i % note_len) as f32 / sample_rate as f32;
            0.3 * (-4.0 * t).exp() * (TAU * hz * t).sin()
        })
        .collect()
}

#[test]
fn a_directory_of_audio_gives_one_features_file_per_input() {
    let dir = ScratchDir::new("features-primitive");
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("mono")).unwrap();
    // 3 s of stereo at 44.1 kHz, and 3 s of mono at 22.05 kHz in a subfolder (resampled, then
    // duplicated to both sides).
    let stereo = AudioBuffer {
        sample_rate: 44_100,
        channels: vec![
            notes(&[220.0, 330.0, 262.0], 44_100, 3.0),
            notes(&[440.0, 494.0], 44_100, 3.0),
        ],
    };
    write_wav(&data.join("stereo.wav"), &stereo, WavSampleFormat::Float32).unwrap();
    let mono = AudioBuffer {
        sample_rate: 22_050,
        channels: vec![notes(&[392.0, 523.0, 659.0, 784.0], 22_050, 3.0)],
    };
    write_wav(&data.join("mono/tune.WAV"), &mono, WavSampleFormat::Int16).unwrap();
    std::fs::write(data.join("broken.flac"), b"not audio at all").unwrap();
    std::fs::write(data.join("notes.txt"), b"ignored: not audio").unwrap();
    let out = dir.join("features");

    let args = primitive_args(&[
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let run = features::primitive(&args).expect("two of three files are readable");

    assert_eq!(run.files_found, 3);
    assert_eq!(run.files_written, 2);
    assert_eq!(run.skipped.len(), 1);
    assert!(run.skipped[0].path.ends_with("broken.flac"));
    // 3 s at hop 441 → 301 frames → 10 time patches (the last zero-padded); 1024 bins / 64 →
    // 16 frequency patches.
    assert_eq!(run.patches, 2 * 160);
    assert!(out.join("primitive_features.json").is_file());

    let stereo_features = FeaturesFile::read(&out.join("stereo.wav.safetensors")).unwrap();
    assert_eq!(stereo_features.features.dim(), (160, 48));
    assert!(
        stereo_features
            .features
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
    );
    assert_eq!(stereo_features.metadata["source"], "stereo.wav");
    assert_eq!(stereo_features.metadata["sample_rate"], "44100");
    assert!(
        stereo_features.metadata["feature_layout"].starts_with("left/low/hpss/fg,left/low/hpss/bg")
    );
    // Different content on the two sides gives different halves.
    let (left, right) = (
        stereo_features.features.slice(ndarray::s![.., ..24]),
        stereo_features.features.slice(ndarray::s![.., 24..]),
    );
    assert_ne!(left, right);

    let mono_features = FeaturesFile::read(&out.join("mono/tune.WAV.safetensors")).unwrap();
    assert_eq!(mono_features.features.dim(), (160, 48));
    assert_eq!(mono_features.metadata["source_sample_rate"], "22050");
    assert_eq!(
        mono_features.features.slice(ndarray::s![.., ..24]),
        mono_features.features.slice(ndarray::s![.., 24..]),
        "mono is duplicated onto both sides"
    );
}

#[test]
fn a_directory_without_audio_is_one_clear_error() {
    let dir = ScratchDir::new("features-empty");
    std::fs::write(dir.join("readme.txt"), b"no audio here").unwrap();
    let args = primitive_args(&[
        "--data",
        dir.path().to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    let error = features::primitive(&args).unwrap_err().to_string();
    assert!(error.contains("holds no audio files"), "{error}");
}

#[test]
fn an_odd_patch_height_is_refused() {
    let dir = ScratchDir::new("features-odd");
    let args = primitive_args(&[
        "--data",
        dir.path().to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--patch-freq",
        "63",
    ]);
    let error = features::primitive(&args).unwrap_err().to_string();
    assert!(error.contains("patch_freq"), "{error}");
}
