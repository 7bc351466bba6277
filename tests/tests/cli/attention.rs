//! `tessera attention` end to end: a file in, the PupuJEPA case-study figure out, the map a
//! distribution over the patch grid, the region snapped to whole patches, and clear errors;
//! and `tessera eval attention-stems` on a rendered song.

use std::f32::consts::TAU;

use clap::Parser;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, png_size, tessera};
use tessera_train::cli::{Cli, Command};
use tessera_train::commands::attention::{self, AttentionArgs};

/// Parses a `tessera attention ...` command line exactly as the binary would.
fn attention_args(args: &[&str]) -> AttentionArgs {
    let cli = Cli::try_parse_from(["tessera", "attention"].iter().chain(args))
        .expect("valid command line");
    match cli.command {
        Command::Attention(args) => args,
        other => panic!("parsed as {other:?}"),
    }
}

/// Four seconds of a bass note and a melody at 22.05 kHz.
fn write_music(dir: &ScratchDir) -> String {
    let rate = 22_050;
    let samples: Vec<f32> = (0..4 * rate)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let melody = [440.0, 550.0, 660.0, 880.0][(t * 4.0) as usize % 4];
            0.3 * (TAU * 110.0 * t).sin() + 0.2 * (TAU * melody * t).sin()
        })
        .collect();
    let path = dir.join("music.wav");
    let audio = AudioBuffer {
        sample_rate: rate as u32,
        channels: vec![samples],
    };
    write_wav(&path, &audio, WavSampleFormat::Float32).unwrap();
    path.display().to_string()
}

#[test]
fn the_figure_shows_a_distribution_over_the_patches_and_the_snapped_region() {
    let dir = ScratchDir::new("attention");
    let input = write_music(&dir);
    let out = dir.join("figure.png");
    let args = attention_args(&[
        &input,
        "--at",
        "1.0",
        "--region",
        "1.0,1.5,200,1000",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "900x400",
    ]);
    let summary = attention::render(&args).unwrap();
    assert_eq!(png_size(&std::fs::read(&out).unwrap()), Some((900, 400)));
    // PupuJEPA-Tiny: 8 × 16 patches of 16 mel bands × 0.16 s. 1.0–1.5 s → time patches
    // 6..10 (0.96–1.6 s); 200–1000 Hz → the lowest three frequency patches (48 Slaney
    // bands, centres up to about 1.1 kHz).
    assert_eq!(summary.grid, (8, 16));
    assert_eq!(summary.patches, (0..3, 6..10));
    let total: f32 = summary.map.iter().flatten().sum();
    assert!((total - 1.0).abs() < 1e-4, "the map sums to {total}");
    assert!(summary.map.iter().flatten().all(|&w| w >= 0.0));
    assert!((0.0..1.0).contains(&summary.on_region));

    // One layer and one head are a distribution too.
    let args = attention_args(&[
        &input,
        "--region",
        "0,0.5,2000,4000",
        "--out",
        out.to_str().unwrap(),
        "--layer",
        "1",
        "--head",
        "2",
    ]);
    let summary = attention::render(&args).unwrap();
    let total: f32 = summary.map.iter().flatten().sum();
    assert!((total - 1.0).abs() < 1e-4, "the map sums to {total}");
}

#[test]
fn impossible_requests_are_refused_with_the_reason() {
    let dir = ScratchDir::new("attention-errors");
    let input = write_music(&dir);
    let out = dir.join("figure.png");
    let out = out.to_str().unwrap();
    let error = |extra: &[&str]| {
        let mut args = vec![input.as_str(), "--out", out];
        args.extend(extra);
        format!(
            "{:#}",
            attention::render(&attention_args(&args)).unwrap_err()
        )
    };
    let message = error(&["--at", "9", "--region", "0,1,100,200"]);
    assert!(message.contains("outside its 4.00 s"), "{message}");
    let message = error(&["--region", "0,3,100,200"]);
    assert!(message.contains("after the 2.56-s clip"), "{message}");
    let message = error(&["--region", "0,2.56,0,9000"]);
    assert!(message.contains("whole clip"), "{message}");
    let message = error(&["--region", "0,1,100,200", "--layer", "9"]);
    assert!(message.contains("--layer 9"), "{message}");
    let parsed = Cli::try_parse_from([
        "tessera",
        "attention",
        &input,
        "--out",
        out,
        "--region",
        "1,0,100,200",
    ]);
    assert!(parsed.unwrap_err().to_string().contains("t0 < t1"));
}

#[test]
fn attention_stem_alignment_is_measured_per_stem() {
    let dir = ScratchDir::new("attention-stems");
    let mixture = tessera_tests::render_song(dir.path(), 8.0);
    let song = mixture.parent().unwrap().display().to_string();
    let out = dir.join("alignment.json");
    tessera(&[
        "eval",
        "attention-stems",
        "--set",
        &song,
        "--clips-per-song",
        "3",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let measured: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let stems: Vec<&str> = measured
        .iter()
        .map(|m| m["stem"].as_str().unwrap())
        .collect();
    assert_eq!(stems, ["vocals", "drums", "bass", "other"]);
    let regions: u64 = measured
        .iter()
        .map(|m| m["regions"].as_u64().unwrap())
        .sum();
    assert!(
        regions > 0,
        "no region any stem dominates in 3 clips: {measured:?}"
    );
    for m in measured.iter().filter(|m| m["regions"].as_u64() > Some(0)) {
        for key in ["attention_share", "chance_share"] {
            let share = m[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&share), "{key} {share} of {m}");
        }
    }
}
