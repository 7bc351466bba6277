//! `tessera finetune separator`, `tessera separate` and `tessera eval sdr` end to end on a
//! tiny separator and songs of synthetic stems: outputs, exact resumption, that training
//! lowers the loss, and the errors for bad input.

use std::path::Path;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::decode::decode_file;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, checkpoint_tensors, png_size, tessera};
use tessera_train::separation::run::read_metrics;

/// A tiny separator: 256-point STFT, 16-frame chunks (0.17 s at 22.05 kHz), two blocks.
const CONFIG: &str = r#"
[train]
steps = 6
batch_size = 2
checkpoint_every = 3
valid_chunks = 2
[train.optim]
warmup_steps = 2
learning_rate = 3e-3
[model]
sample_rate = 22050
n_fft = 256
hop = 64
chunk_frames = 16
stages = [{ time = 2, freq = 4, channels = 16 }, { time = 2, freq = 4, channels = 16 }]
bottleneck = { dim = 16, depth = 1, heads = 2, mlp_ratio = 2 }
"#;

const RATE: u32 = 22_050;

/// A song folder of one-second stems: a sung-like tone (vocals), clicks (drums), a low
/// tone (bass) and a chord (other), each stereo at 22.05 kHz.
fn write_song(dir: &Path, seed: f32) {
    std::fs::create_dir_all(dir).unwrap();
    let n = RATE as usize;
    let tone = |hz: f32, gain: f32| -> Vec<f32> {
        (0..n)
            .map(|i| gain * (std::f32::consts::TAU * hz * i as f32 / RATE as f32).sin())
            .collect()
    };
    let clicks: Vec<f32> = (0..n)
        .map(|i| {
            if i % 5512 < 200 {
                0.3 * ((i * 7919) % 13) as f32 / 13.0 - 0.15
            } else {
                0.0
            }
        })
        .collect();
    let chord: Vec<f32> = tone(500.0 * seed, 0.05)
        .iter()
        .zip(tone(750.0 * seed, 0.05))
        .map(|(a, b)| a + b)
        .collect();
    for (name, samples) in [
        ("vocals", tone(1500.0 * seed, 0.1)),
        ("drums", clicks),
        ("bass", tone(55.0 * seed, 0.2)),
        ("other", chord),
    ] {
        let audio = AudioBuffer {
            sample_rate: RATE,
            channels: vec![samples.clone(), samples],
        };
        write_wav(
            &dir.join(format!("{name}.wav")),
            &audio,
            WavSampleFormat::Float32,
        )
        .unwrap();
    }
}

fn songs(scratch: &ScratchDir) -> (String, String) {
    for (i, seed) in [1.0, 1.1, 0.9].iter().enumerate() {
        write_song(&scratch.join(&format!("train/song_{i}")), *seed);
    }
    write_song(&scratch.join("valid/song_0"), 1.05);
    (
        scratch.join("train").display().to_string(),
        scratch.join("valid").display().to_string(),
    )
}

#[test]
fn a_run_resumed_after_an_interruption_ends_exactly_like_an_uninterrupted_one() {
    let scratch = ScratchDir::new("separator-resume");
    let (train, valid) = songs(&scratch);
    let config = scratch.join("separator.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.display().to_string();
    let (whole, split) = (scratch.join("whole"), scratch.join("split"));
    let (whole, split) = (whole.display().to_string(), split.display().to_string());
    let base = [
        "finetune",
        "separator",
        "--songs",
        &train,
        "--valid",
        &valid,
        "--config",
        &config,
    ];
    let run = |out: &str, extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend(["--out", out]);
        args.extend(extra);
        tessera(&args)
    };
    run(&whole, &[]).unwrap();
    run(&split, &["--stop-after", "3"]).unwrap();
    assert!(!Path::new(&split).join("model.safetensors").exists());
    // Resuming reads the folder's own config.toml.
    let mut args = [
        "finetune",
        "separator",
        "--songs",
        &train,
        "--valid",
        &valid,
        "--out",
        &split,
        "--resume",
    ]
    .to_vec();
    tessera(&args).unwrap();
    let (a, b) = (
        checkpoint_tensors(&Path::new(&whole).join("model.safetensors"), "separator"),
        checkpoint_tensors(&Path::new(&split).join("model.safetensors"), "separator"),
    );
    assert_eq!(a, b, "the resumed run's weights differ");
    let metrics = read_metrics(&Path::new(&whole).join("metrics.csv")).unwrap();
    assert_eq!(metrics.len(), 6);
    assert!(metrics[2].valid_sdr.iter().all(|v| v.is_finite()));
    assert!(metrics[0].valid_sdr.iter().all(|v| v.is_nan()));
    let plot = std::fs::read(Path::new(&whole).join("loss.png")).unwrap();
    assert!(png_size(&plot).is_some());
    // A finished run refuses to start again in the same folder.
    args.pop();
    let message = tessera(&args).unwrap_err().to_string();
    assert!(message.contains("already holds a run"), "{message}");
}

#[test]
fn training_lowers_the_loss_and_the_model_separates_and_evaluates() {
    let scratch = ScratchDir::new("separator-train");
    let (train, valid) = songs(&scratch);
    let config = scratch.join("separator.toml");
    std::fs::write(
        &config,
        CONFIG
            .replace("steps = 6", "steps = 40")
            .replace("checkpoint_every = 3", "checkpoint_every = 20"),
    )
    .unwrap();
    let out = scratch.join("run");
    tessera(&[
        "finetune",
        "separator",
        "--songs",
        &train,
        "--valid",
        &valid,
        "--config",
        &config.display().to_string(),
        "--out",
        &out.display().to_string(),
    ])
    .unwrap();
    let metrics = read_metrics(&out.join("metrics.csv")).unwrap();
    let mean = |rows: &[tessera_train::separation::run::MetricRow]| {
        rows.iter().map(|r| r.loss).sum::<f64>() / rows.len() as f64
    };
    let (first, last) = (mean(&metrics[..5]), mean(&metrics[35..]));
    assert!(
        last < 0.8 * first,
        "the L1 loss went from {first} to {last}"
    );

    // Separate a mono 44.1 kHz file with it: stereo stems at 44.1 kHz of the same length.
    let mixture: Vec<f32> = (0..30_000).map(|i| 0.2 * (i as f32 * 0.03).sin()).collect();
    let input = scratch.join("mix.wav");
    write_wav(
        &input,
        &AudioBuffer {
            sample_rate: 44_100,
            channels: vec![mixture],
        },
        WavSampleFormat::Int16,
    )
    .unwrap();
    let stems = scratch.join("stems");
    let model = out.join("model.safetensors").display().to_string();
    tessera(&[
        "separate",
        &input.display().to_string(),
        "--out",
        &stems.display().to_string(),
        "--model",
        &model,
    ])
    .unwrap();
    for stem in ["vocals", "drums", "bass", "other"] {
        let audio = decode_file(&stems.join("mix").join(format!("{stem}.wav"))).unwrap();
        assert_eq!(
            (audio.sample_rate, audio.num_channels(), audio.num_frames()),
            (44_100, 2, 30_000)
        );
    }

    // Evaluate: JSON with one song and three systems.
    let json = scratch.join("sdr.json");
    tessera(&[
        "eval",
        "sdr",
        "--set",
        &valid,
        "--model",
        &model,
        "--out",
        &json.display().to_string(),
    ])
    .unwrap();
    let scores: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(scores["songs"].as_array().unwrap().len(), 1);
    let median = |system: usize, stem: usize| scores["median_sdr"][system][stem].as_f64().unwrap();
    for stem in 0..4 {
        // The oracle mask beats the HPSS baseline on every stem, and separates the tones,
        // which share no STFT bins, almost perfectly.
        assert!(
            median(1, stem) > median(2, stem),
            "{}",
            scores["median_sdr"]
        );
    }
    for tonal in [0, 2, 3] {
        assert!(median(1, tonal) > 10.0, "{}", scores["median_sdr"]);
    }
}

#[test]
fn bad_songs_and_models_are_refused_naming_the_file() {
    let scratch = ScratchDir::new("separator-errors");
    let (train, valid) = songs(&scratch);
    let config = scratch.join("separator.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.display().to_string();
    let finetune = |songs: &str, out: &str| {
        tessera(&[
            "finetune",
            "separator",
            "--songs",
            songs,
            "--valid",
            &valid,
            "--config",
            &config,
            "--out",
            out,
        ])
        .unwrap_err()
        .to_string()
    };
    // A stem at the wrong rate.
    let wrong = scratch.join("wrong/song_0");
    write_song(&wrong, 1.0);
    let bass = AudioBuffer {
        sample_rate: 16_000,
        channels: vec![vec![0.1; 16_000]],
    };
    write_wav(&wrong.join("bass.wav"), &bass, WavSampleFormat::Float32).unwrap();
    let message = finetune(
        &scratch.join("wrong").display().to_string(),
        &scratch.join("r1").display().to_string(),
    );
    assert!(
        message.contains("bass.wav") && message.contains("16000 Hz"),
        "{message}"
    );
    // An empty folder.
    std::fs::create_dir_all(scratch.join("empty")).unwrap();
    let message = finetune(
        &scratch.join("empty").display().to_string(),
        &scratch.join("r2").display().to_string(),
    );
    assert!(message.contains("holds no song folders"), "{message}");
    // A truncated model file.
    let truncated = scratch.join("model.safetensors");
    std::fs::write(&truncated, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let message = tessera(&[
        "separate",
        &format!("{train}/song_0/vocals.wav"),
        "--out",
        &scratch.join("x").display().to_string(),
        "--model",
        &truncated.display().to_string(),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("model.safetensors") && message.contains("not a valid checkpoint"),
        "{message}"
    );
    // A file that is not audio.
    let text = scratch.join("notes.wav");
    std::fs::write(&text, "not audio").unwrap();
    let message = tessera(&[
        "separate",
        &text.display().to_string(),
        "--out",
        &scratch.join("y").display().to_string(),
    ])
    .unwrap_err();
    assert!(format!("{message:#}").contains("notes.wav"), "{message:#}");
}
