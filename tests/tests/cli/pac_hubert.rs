//! PaC-HuBERT end to end on a tiny model: `tessera features primitive` with the model's STFT
//! and patches, `tessera cluster fit` and `assign`, `tessera pretrain pac-hubert` (outputs,
//! exact resumption, a falling loss), the second iteration on a layer's clusters
//! (`tessera features pac-hubert`), and `tessera finetune separator --init` taking the
//! pretrained encoder; and the errors for labels that do not fit the model.

use std::path::Path;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_core::features_file::FeaturesFile;
use tessera_tests::{ScratchDir, checkpoint_tensors, png_size, tessera};
use tessera_train::hubert::run::{HubertMetricRow, read_metrics};

const RATE: u32 = 22_050;

/// The model's STFT and patches: 256/64 at 22.05 kHz, two blocks of 2 × 4 → 4 × 16 patches,
/// 16-frame chunks of 4 × 8 tokens.
const SEPARATOR: &str = r#"
sample_rate = 22050
n_fft = 256
hop = 64
chunk_frames = 16
stages = [{ time = 2, freq = 4, channels = 16 }, { time = 2, freq = 4, channels = 16 }]
bottleneck = { dim = 16, depth = 2, heads = 2, mlp_ratio = 2 }
"#;

/// The pretraining run around [`SEPARATOR`]: `steps` steps of 4 chunks, 6 clusters.
fn pretrain_config(steps: usize) -> String {
    format!(
        "[train]\nsteps = {steps}\nbatch_size = 4\ncheckpoint_every = 4\n\
         [train.optim]\nwarmup_steps = 2\nlearning_rate = 3e-3\n\
         [model]\nclusters = 6\nprojection_dim = 8\n[model.separator]\n{SEPARATOR}"
    )
}

/// 3-s recordings of different textures, the first `count` of: a melody, clicks, a bass line
/// with a chord, and noise bursts (the primitives need a few seconds).
fn write_audio(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let n = 3 * RATE as usize;
    let t = |i: usize| i as f32 / RATE as f32;
    let sine = |hz: f32, i: usize| (std::f32::consts::TAU * hz * t(i)).sin();
    let mut noise = 0x2545_f491u32;
    let mut next_noise = move || {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        noise as f32 / u32::MAX as f32 - 0.5
    };
    let melody: Vec<f32> = (0..n)
        .map(|i| 0.2 * sine([440.0, 660.0, 550.0, 880.0][(4.0 * t(i)) as usize % 4], i))
        .collect();
    let clicks: Vec<f32> = (0..n)
        .map(|i| {
            if i % 5512 < 120 {
                0.5 * next_noise()
            } else {
                0.0
            }
        })
        .collect();
    let bass: Vec<f32> = (0..n)
        .map(|i| 0.3 * sine(55.0, i) + 0.05 * (sine(330.0, i) + sine(415.0, i)))
        .collect();
    let bursts: Vec<f32> = (0..n)
        .map(|i| {
            if (t(i) * 3.0).fract() < 0.5 {
                0.2 * next_noise()
            } else {
                0.0
            }
        })
        .collect();
    let textures = [
        ("melody", melody),
        ("clicks", clicks),
        ("bass", bass),
        ("bursts", bursts),
    ];
    for (name, samples) in textures.into_iter().take(count) {
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

/// `count` audio files, their features with the STFT hop `hop`, 6 clusters and labels under
/// `scratch` (the primitives take most of a test's time); returns the audio and labels
/// folders.
fn labelled_audio(scratch: &ScratchDir, count: usize, hop: &str) -> (String, String) {
    let audio = scratch.join("audio");
    write_audio(&audio, count);
    let path = |name: &str| scratch.join(name).display().to_string();
    let (audio, features, centroids, labels) = (
        path("audio"),
        path("features"),
        path("centroids.safetensors"),
        path("labels"),
    );
    tessera(&[
        "features",
        "primitive",
        "--data",
        &audio,
        "--out",
        &features,
        "--sample-rate",
        "22050",
        "--n-fft",
        "256",
        "--hop",
        hop,
        "--patch-time",
        "4",
        "--patch-freq",
        "16",
    ])
    .unwrap();
    cluster(&features, &centroids, &labels);
    (audio, labels)
}

/// Fits 6 clusters on the feature files under `features` into `centroids`, and labels
/// them into `labels`.
fn cluster(features: &str, centroids: &str, labels: &str) {
    tessera(&[
        "cluster",
        "fit",
        "--features",
        features,
        "--k",
        "6",
        "--out",
        centroids,
    ])
    .unwrap();
    tessera(&[
        "cluster",
        "assign",
        "--features",
        features,
        "--centroids",
        centroids,
        "--out",
        labels,
    ])
    .unwrap();
}

fn pretrain(
    audio: &str,
    labels: &str,
    config: &str,
    out: &str,
    extra: &[&str],
) -> anyhow::Result<()> {
    let mut args = vec![
        "pretrain",
        "pac-hubert",
        "--data",
        audio,
        "--labels",
        labels,
        "--config",
        config,
        "--out",
        out,
    ];
    args.extend(extra);
    tessera(&args)
}

/// One data set for the whole pipeline: computing the primitives dominates the time.
#[test]
fn pretraining_lowers_the_loss_resumes_exactly_and_initialises_a_separator() {
    let scratch = ScratchDir::new("pac-hubert");
    let (audio, labels) = labelled_audio(&scratch, 4, "64");

    // A longer run learns to predict the masked clusters.
    let config = scratch.join("learns.toml");
    std::fs::write(&config, pretrain_config(60)).unwrap();
    let out = scratch.join("learns");
    pretrain(
        &audio,
        &labels,
        &config.display().to_string(),
        &out.display().to_string(),
        &[],
    )
    .unwrap();
    let metrics = read_metrics(&out.join("metrics.csv")).unwrap();
    let mean =
        |rows: &[HubertMetricRow]| rows.iter().map(|r| r.loss).sum::<f64>() / rows.len() as f64;
    let (first, last) = (mean(&metrics[..10]), mean(&metrics[50..]));
    eprintln!("masked-unit loss: {first:.3} over the first 10 steps, {last:.3} over the last 10");
    assert!(
        last < 0.8 * first,
        "the loss fell from {first:.3} to {last:.3} only"
    );

    // The second iteration (2SSL): the learnt model's second block per patch, on the same
    // grid as the primitive features, clustered into the next run's labels.
    let layer_features = scratch.join("layer-features");
    let layer_labels = scratch.join("layer-labels").display().to_string();
    let centroids = scratch
        .join("layer-centroids.safetensors")
        .display()
        .to_string();
    let layer_features_arg = layer_features.display().to_string();
    let first_model = out.join("model.safetensors").display().to_string();
    tessera(&[
        "features",
        "pac-hubert",
        "--model",
        &first_model,
        "--layer",
        "2",
        "--data",
        &audio,
        "--out",
        &layer_features_arg,
    ])
    .unwrap();
    let primitive = FeaturesFile::read(&scratch.join("features/melody.wav.safetensors")).unwrap();
    let layer = FeaturesFile::read(&layer_features.join("melody.wav.safetensors")).unwrap();
    assert_eq!(layer.features.dim(), (primitive.features.nrows(), 16));
    assert_eq!(layer.metadata["segments"], primitive.metadata["segments"]);
    assert_eq!(layer.metadata["hop_length"], "64");
    cluster(&layer_features_arg, &centroids, &layer_labels);
    let config = scratch.join("second.toml");
    std::fs::write(&config, pretrain_config(4)).unwrap();
    let second = scratch.join("second");
    pretrain(
        &audio,
        &layer_labels,
        &config.display().to_string(),
        &second.display().to_string(),
        &[],
    )
    .unwrap();
    assert!(second.join("model.safetensors").is_file());
    let message = format!(
        "{:#}",
        tessera(&[
            "features",
            "pac-hubert",
            "--model",
            &first_model,
            "--layer",
            "3",
            "--data",
            &audio,
            "--out",
            &layer_features_arg,
        ])
        .unwrap_err()
    );
    assert!(message.contains("blocks 1 to 2"), "{message}");

    // An interrupted and resumed run ends exactly like an uninterrupted one.
    let config = scratch.join("pac-hubert.toml");
    std::fs::write(&config, pretrain_config(8)).unwrap();
    let config = config.display().to_string();
    let (whole, split) = (scratch.join("whole"), scratch.join("split"));
    let (whole_arg, split_arg) = (whole.display().to_string(), split.display().to_string());
    pretrain(&audio, &labels, &config, &whole_arg, &[]).unwrap();
    pretrain(&audio, &labels, &config, &split_arg, &["--stop-after", "4"]).unwrap();
    assert!(!split.join("model.safetensors").exists());
    pretrain(&audio, &labels, &config, &split_arg, &["--resume"]).unwrap();
    let (a, b) = (
        checkpoint_tensors(&whole.join("model.safetensors"), "pac-hubert"),
        checkpoint_tensors(&split.join("model.safetensors"), "pac-hubert"),
    );
    assert_eq!(a, b, "the resumed run's weights differ");
    let metrics = read_metrics(&whole.join("metrics.csv")).unwrap();
    assert_eq!(metrics.len(), 8);
    assert!(
        metrics
            .iter()
            .all(|r| r.loss.is_finite() && (0.0..=1.0).contains(&r.masked_accuracy))
    );
    assert!(png_size(&std::fs::read(whole.join("loss.png")).unwrap()).is_some());
    assert!(whole.join("model-f16.safetensors").is_file());

    // The separator takes the encoder and bottleneck by name.
    let songs = scratch.join("songs/song_0");
    std::fs::create_dir_all(&songs).unwrap();
    for (stem, source) in [
        ("vocals", "melody"),
        ("drums", "clicks"),
        ("bass", "bass"),
        ("other", "bursts"),
    ] {
        let source = scratch.join(&format!("audio/{source}.wav"));
        std::fs::copy(source, songs.join(format!("{stem}.wav"))).unwrap();
    }
    let separator_config = scratch.join("separator.toml");
    std::fs::write(
        &separator_config,
        format!("[train]\nsteps = 2\nbatch_size = 2\ncheckpoint_every = 2\nvalid_chunks = 2\n[model]\n{SEPARATOR}"),
    )
    .unwrap();
    let songs_root = scratch.join("songs").display().to_string();
    let model = whole.join("model.safetensors").display().to_string();
    tessera(&[
        "finetune",
        "separator",
        "--songs",
        &songs_root,
        "--valid",
        &songs_root,
        "--config",
        &separator_config.display().to_string(),
        "--init",
        &model,
        "--out",
        &scratch.join("separator").display().to_string(),
    ])
    .unwrap();
    assert!(scratch.join("separator/model.safetensors").is_file());
}

#[test]
fn labels_that_do_not_fit_the_model_are_refused_naming_the_file() {
    let scratch = ScratchDir::new("pac-hubert-mismatch");
    // Features with a 32-sample hop: the model's STFT hop is 64.
    let (audio, labels) = labelled_audio(&scratch, 1, "32");
    let config = scratch.join("pac-hubert.toml");
    std::fs::write(&config, pretrain_config(2)).unwrap();
    let config = config.display().to_string();
    let out = scratch.join("run").display().to_string();
    let message = format!(
        "{:#}",
        pretrain(&audio, &labels, &config, &out, &[]).unwrap_err()
    );
    assert!(
        message.contains(".labels.safetensors") && message.contains("hop_length is 32"),
        "{message}"
    );
    let missing = format!(
        "{:#}",
        tessera(&["pretrain", "pac-hubert", "--data", &audio, "--out", &out]).unwrap_err()
    );
    assert!(missing.contains("--labels"), "{missing}");
}
