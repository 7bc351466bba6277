//! `tessera pretrain` end to end on tiny models and a folder of synthetic tones: outputs,
//! exact resumption after an interruption, and the errors for misuse.

use std::path::Path;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, checkpoint_tensors, png_size, tessera};
use tessera_train::pretrain::run::read_metrics;

/// Tiny PupuJEPA: 32 mels × 32 frames in 8 × 8 patches (4 × 4 tokens).
const PUPU_CONFIG: &str = r#"
[train]
steps = 6
batch_size = 2
checkpoint_every = 2
[train.optim]
warmup_steps = 2
[model]
clip_frames = 32
patch_freq = 8
patch_time = 8
mel = { n_mels = 32 }
encoder = { dim = 16, depth = 2, heads = 2, mlp_ratio = 2 }
predictor = { dim = 8, depth = 1, heads = 2, mlp_ratio = 2 }
masking = { min_keep = 2 }
"#;

/// Tiny WavJEPA(-Nat): 0.4-s clips, 8 conv channels.
const WAV_CONFIG: &str = r#"
[train]
steps = 3
batch_size = 2
checkpoint_every = 3
[train.scenes]
max_seconds = 1.0
[model]
clip_samples = 6400
feature_encoder = { kernels = [10, 3, 3, 3, 3, 2], strides = [5, 2, 2, 2, 2, 2], channels = 8 }
encoder = { dim = 16, depth = 2, heads = 2, mlp_ratio = 2 }
predictor = { dim = 8, depth = 1, heads = 2, mlp_ratio = 2 }
top_k = 2
"#;

/// A folder of two-second harmonic tones at 16 kHz.
fn tone_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, hz) in [110.0f32, 220.0, 330.0, 196.0].iter().enumerate() {
        let samples: Vec<f32> = (0..32_000)
            .map(|n| {
                let t = n as f32 / 16_000.0;
                (1..5)
                    .map(|h| 0.1 / h as f32 * (std::f32::consts::TAU * hz * h as f32 * t).sin())
                    .sum()
            })
            .collect();
        let audio = AudioBuffer {
            sample_rate: 16_000,
            channels: vec![samples],
        };
        write_wav(
            &dir.join(format!("tone{i}.wav")),
            &audio,
            WavSampleFormat::Float32,
        )
        .unwrap();
    }
}

fn pretrain(
    model: &str,
    data: &Path,
    config: &Path,
    out: &Path,
    extra: &[&str],
) -> anyhow::Result<()> {
    let mut args = vec![
        "pretrain",
        model,
        "--data",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tessera(&args)
}

#[test]
fn pupu_jepa_run_writes_its_outputs_and_resumes_bit_identically() {
    let scratch = ScratchDir::new("pretrain-pupu");
    let data = scratch.join("data");
    tone_folder(&data);
    let config = scratch.join("pupu.toml");
    std::fs::write(&config, PUPU_CONFIG).unwrap();

    let straight = scratch.join("straight");
    pretrain("pupu-jepa", &data, &config, &straight, &[]).unwrap();
    for file in [
        "config.toml",
        "checkpoint.safetensors",
        "model.safetensors",
        "model-f16.safetensors",
        "metrics.csv",
    ] {
        assert!(straight.join(file).exists(), "{file} missing");
    }
    assert!(png_size(&std::fs::read(straight.join("loss.png")).unwrap()).is_some());
    let metrics = read_metrics(&straight.join("metrics.csv")).unwrap();
    assert_eq!(
        metrics.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert!(
        metrics
            .iter()
            .all(|r| r.loss.is_finite() && r.loss > 0.0 && r.target_std > 0.0)
    );

    // Interrupted after 3 steps (between checkpoints 2 and 4), then resumed.
    let split = scratch.join("split");
    pretrain("pupu-jepa", &data, &config, &split, &["--stop-after", "3"]).unwrap();
    assert!(
        !split.join("model.safetensors").exists(),
        "an unfinished run has no final model"
    );
    tessera(&[
        "pretrain",
        "pupu-jepa",
        "--data",
        data.to_str().unwrap(),
        "--out",
        split.to_str().unwrap(),
        "--resume",
    ])
    .unwrap();

    let a = checkpoint_tensors(&straight.join("checkpoint.safetensors"), "pupu-jepa");
    let b = checkpoint_tensors(&split.join("checkpoint.safetensors"), "pupu-jepa");
    assert_eq!(a.len(), b.len());
    for (name, values) in &a {
        assert_eq!(values, &b[name], "{name} differs after resuming");
    }
    let resumed = read_metrics(&split.join("metrics.csv")).unwrap();
    let losses = |rows: &[tessera_train::pretrain::run::MetricRow]| {
        rows.iter().map(|r| r.loss).collect::<Vec<_>>()
    };
    assert_eq!(losses(&metrics), losses(&resumed));
    assert!(
        a.keys().any(|k| k.starts_with("optim.m.")),
        "optimiser state is checkpointed"
    );
}

#[test]
fn wav_jepa_and_nat_runs_train() {
    let scratch = ScratchDir::new("pretrain-wav");
    let data = scratch.join("data");
    tone_folder(&data);
    let config = scratch.join("wav.toml");
    std::fs::write(&config, WAV_CONFIG).unwrap();
    for model in ["wav-jepa", "wav-jepa-nat"] {
        let out = scratch.join(model);
        pretrain(model, &data, &config, &out, &[]).unwrap();
        let metrics = read_metrics(&out.join("metrics.csv")).unwrap();
        assert_eq!(metrics.len(), 3);
        assert!(metrics.iter().all(|r| r.loss.is_finite()));
        let weights = checkpoint_tensors(&out.join("model.safetensors"), model);
        let ears = weights
            .keys()
            .filter(|k| {
                k.starts_with("trainable.encoder.waveform.") && k.ends_with("conv.0.weight")
            })
            .count();
        assert_eq!(ears, if model == "wav-jepa" { 1 } else { 2 });
    }
}

#[test]
fn misuse_gets_clear_errors() {
    let scratch = ScratchDir::new("pretrain-errors");
    let data = scratch.join("data");
    tone_folder(&data);
    let config = scratch.join("pupu.toml");
    std::fs::write(&config, PUPU_CONFIG.replace("steps = 6", "steps = 1")).unwrap();
    let out = scratch.join("run");
    pretrain("pupu-jepa", &data, &config, &out, &[]).unwrap();

    let again = pretrain("pupu-jepa", &data, &config, &out, &[]).unwrap_err();
    assert!(format!("{again:#}").contains("--resume"), "{again:#}");

    let wrong_kind = tessera(&[
        "pretrain",
        "wav-jepa",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ])
    .unwrap_err();
    assert!(
        format!("{wrong_kind:#}").contains("pupu-jepa"),
        "{wrong_kind:#}"
    );

    let typo = scratch.join("typo.toml");
    std::fs::write(&typo, "[train]\nstepz = 3\n").unwrap();
    let bad = pretrain("pupu-jepa", &data, &typo, &scratch.join("typo-run"), &[]).unwrap_err();
    assert!(
        format!("{bad:#}").contains("typo.toml") && format!("{bad:#}").contains("stepz"),
        "{bad:#}"
    );

    let empty = scratch.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let no_audio = pretrain(
        "pupu-jepa",
        &empty,
        &config,
        &scratch.join("empty-run"),
        &[],
    )
    .unwrap_err();
    assert!(format!("{no_audio:#}").contains("empty"), "{no_audio:#}");

    let truncated = scratch.join("truncated");
    std::fs::create_dir_all(&truncated).unwrap();
    std::fs::copy(out.join("config.toml"), truncated.join("config.toml")).unwrap();
    let bytes = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    std::fs::write(
        truncated.join("checkpoint.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let cut = tessera(&[
        "pretrain",
        "pupu-jepa",
        "--data",
        data.to_str().unwrap(),
        "--out",
        truncated.to_str().unwrap(),
        "--resume",
    ])
    .unwrap_err();
    assert!(
        format!("{cut:#}").contains("checkpoint.safetensors"),
        "{cut:#}"
    );
}
