//! The loop on synthetic latents with a known structure: every latent is a fixed random
//! projection of [pitch one-hot, family one-hot, noise], and the pairs share family but not
//! pitch. Training must lower the loss, a similarity objective must leave family, not pitch,
//! in the shared code (where reconstruction alone leaves both), a separation objective must
//! squeeze family out of the private code, and an interrupted run must resume to the same
//! weights and best model.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint;
use tessera_core::models::Multiview;
use tessera_core::models::disentanglement::{ObjectiveType, Principle};

use super::*;
use crate::run_folder::MODEL_FILE;

const PITCHES: usize = 12;
const FAMILIES: usize = 4;
/// Independent noise dimensions in every latent: what neither factor explains.
const NOISE: usize = 8;
/// Standard deviation of every noise source (the factors' sources are 0 or 1).
const NOISE_SCALE: f32 = 0.3;
const LATENT_DIM: usize = 32;
/// Clips of every (pitch, family) combination.
const REPEATS: usize = 10;

/// A standard normal draw.
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// `latent = M · [one-hot(pitch), one-hot(family), NOISE_SCALE · noise]` with one fixed
/// random `M` `(LATENT_DIM × 24)`, every combination `REPEATS` times; paired by family.
fn synthetic_data(seed: u64) -> MultiviewData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sources = PITCHES + FAMILIES + NOISE;
    let projection: Vec<f32> = (0..LATENT_DIM * sources)
        .map(|_| normal(&mut rng) / (sources as f32).sqrt())
        .collect();
    let (mut latents, mut pitch, mut family) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        for p in 0..PITCHES {
            for f in 0..FAMILIES {
                let mut source = vec![0f32; sources];
                source[p] = 1.0;
                source[PITCHES + f] = 1.0;
                for noise in &mut source[PITCHES + FAMILIES..] {
                    *noise = NOISE_SCALE * normal(&mut rng);
                }
                latents.extend((0..LATENT_DIM).map(|row| {
                    let weights = &projection[row * sources..(row + 1) * sources];
                    weights.iter().zip(&source).map(|(w, s)| w * s).sum::<f32>()
                }));
                pitch.push(p);
                family.push(f);
            }
        }
    }
    let clips = pitch.len();
    let latents = Tensor::from_vec(latents, (clips, LATENT_DIM), &Device::Cpu).unwrap();
    MultiviewData::paired_by_family(latents, pitch, family, seed).unwrap()
}

fn config(
    principle: Principle,
    kind: ObjectiveType,
    lambda: f64,
    epochs: usize,
) -> MultiviewRunConfig {
    let mut config = MultiviewRunConfig::default();
    config.model.latent_dim = LATENT_DIM;
    config.model.hidden_dim = LATENT_DIM;
    config.model.code_dim = LATENT_DIM / 2;
    config.model.objective.principle = principle;
    config.model.objective.kind = kind;
    config.model.objective.reconstruction_weight = lambda;
    config.train.epochs = epochs;
    config.train.checkpoint_every = 50;
    // Faster than the paper's 1e-4, so a few hundred steps learn the structure.
    config.train.optim.learning_rate = 3e-3;
    config.train.optim.min_learning_rate = 3e-3;
    config
}

fn scratch(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tessera-multiview-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(out: &Path, resume: bool, stop_after: Option<usize>) -> MultiviewOptions {
    MultiviewOptions {
        out: out.to_path_buf(),
        resume,
        stop_after,
        device: Device::Cpu,
    }
}

/// Whether clip `index` of [`synthetic_data`] helps fit the readout (even repeats of every
/// combination) rather than score it (odd repeats).
fn fits_readout(index: usize) -> bool {
    (index / (PITCHES * FAMILIES)).is_multiple_of(2)
}

/// Nearest-centroid accuracy of `labels` from `codes` `(clips, dim)`: centroids from the
/// clips that fit the readout, scored on the others.
fn nearest_centroid_accuracy(codes: &Tensor, labels: &[usize], classes: usize) -> f64 {
    let rows = codes
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let dim = rows[0].len();
    let mut sums = vec![vec![0f64; dim]; classes];
    let mut counts = vec![0usize; classes];
    let fit = |(i, _): &(usize, _)| fits_readout(*i);
    for (_, (row, &label)) in rows.iter().zip(labels).enumerate().filter(fit) {
        for (sum, &x) in sums[label].iter_mut().zip(row) {
            *sum += f64::from(x);
        }
        counts[label] += 1;
    }
    let centroids: Vec<Vec<f64>> = sums
        .iter()
        .zip(&counts)
        .map(|(sum, &n)| sum.iter().map(|s| s / n as f64).collect())
        .collect();
    let mut correct = 0;
    let mut scored = 0;
    for (_, (row, &label)) in rows.iter().zip(labels).enumerate().filter(|c| !fit(c)) {
        let distance = |centroid: &Vec<f64>| -> f64 {
            centroid
                .iter()
                .zip(row)
                .map(|(c, &x)| (c - f64::from(x)).powi(2))
                .sum()
        };
        let nearest = (0..classes)
            .min_by(|&a, &b| distance(&centroids[a]).total_cmp(&distance(&centroids[b])))
            .unwrap();
        correct += usize::from(nearest == label);
        scored += 1;
    }
    correct as f64 / scored as f64
}

/// How far above chance an accuracy over `classes` balanced classes is: 0 at chance, 1 when
/// perfect, so pitch (12 classes) and family (4) compare.
fn above_chance(accuracy: f64, classes: usize) -> f64 {
    let chance = 1.0 / classes as f64;
    (accuracy - chance) / (1.0 - chance)
}

/// Family and pitch readouts, above chance, from the private and shared codes of a run.
#[derive(Debug)]
struct Readouts {
    pitch_private: f64,
    pitch_shared: f64,
    family_private: f64,
    family_shared: f64,
}

fn readouts(model_file: &Path, data: &MultiviewData) -> Readouts {
    let model = Multiview::load(model_file, &Device::Cpu).unwrap();
    let codes = encode(&model, data.latents()).unwrap();
    let read = |codes: &Tensor, labels: &[usize], classes: usize| {
        above_chance(nearest_centroid_accuracy(codes, labels, classes), classes)
    };
    Readouts {
        pitch_private: read(&codes.private, data.pitch(), PITCHES),
        pitch_shared: read(&codes.shared, data.pitch(), PITCHES),
        family_private: read(&codes.private, data.family(), FAMILIES),
        family_shared: read(&codes.shared, data.family(), FAMILIES),
    }
}

/// Mean of `value` over the first and the last tenth of a run's steps.
fn first_and_last_tenth(
    rows: &[MultiviewMetricRow],
    value: fn(&MultiviewMetricRow) -> f64,
) -> (f64, f64) {
    let tenth = rows.len() / 10;
    let mean =
        |part: &[MultiviewMetricRow]| part.iter().map(value).sum::<f64>() / part.len() as f64;
    (mean(&rows[..tenth]), mean(&rows[rows.len() - tenth..]))
}

/// Trains `principle`/`kind` at λ = `lambda` on `data` for [`EPOCHS`]; returns the outcome
/// and the readouts of the trained codes.
fn train_and_read(
    data: &MultiviewData,
    principle: Principle,
    kind: ObjectiveType,
    lambda: f64,
) -> (MultiviewOutcome, Readouts) {
    let out = scratch(&format!("{principle:?}-{kind:?}-{lambda}"));
    let run = config(principle, kind, lambda, EPOCHS);
    let outcome = train(&run, data, None, &options(&out, false, None)).unwrap();
    assert!(outcome.finished);
    let read = readouts(&outcome.model, data);
    std::fs::remove_dir_all(&out).unwrap();
    eprintln!(
        "{principle:?} {kind:?}, λ = {lambda}, γ = {:.3}: {read:?}",
        outcome.gamma
    );
    (outcome, read)
}

/// Epochs of the runs that check what the codes hold: 30 batches of 16 pairs each, 1200
/// steps in all.
const EPOCHS: usize = 40;

#[test]
fn a_similarity_objective_leaves_family_not_pitch_in_the_shared_code() {
    let data = synthetic_data(1);
    // The readout itself sees both factors in the raw latents.
    let raw_pitch = above_chance(
        nearest_centroid_accuracy(data.latents(), data.pitch(), PITCHES),
        PITCHES,
    );
    let raw_family = above_chance(
        nearest_centroid_accuracy(data.latents(), data.family(), FAMILIES),
        FAMILIES,
    );
    eprintln!("raw latents: pitch {raw_pitch:.3}, family {raw_family:.3} above chance");
    assert!(raw_pitch > 0.9 && raw_family > 0.9);

    let (outcome, disentangled) =
        train_and_read(&data, Principle::InfoNce, ObjectiveType::Similarity, 0.5);
    let (first, last) = first_and_last_tenth(&outcome.metrics, |r| r.total);
    let (first_mse, last_mse) = first_and_last_tenth(&outcome.metrics, |r| r.reconstruction);
    eprintln!("loss {first:.4} → {last:.4}, reconstruction MSE {first_mse:.4} → {last_mse:.4}");
    assert!(
        last < 0.7 * first,
        "the loss fell from {first:.4} to {last:.4} only"
    );
    assert!(
        last_mse < 0.3 * first_mse,
        "the MSE fell from {first_mse:.4} to {last_mse:.4} only"
    );
    // The shared code keeps family and loses pitch, which goes to the private code.
    assert!(disentangled.family_shared > 0.9, "{disentangled:?}");
    assert!(disentangled.pitch_shared < 0.15, "{disentangled:?}");
    assert!(
        disentangled.pitch_private - disentangled.pitch_shared > 0.5,
        "{disentangled:?}"
    );

    // Reconstruction alone leaves pitch in the shared code too.
    let (_, entangled) = train_and_read(&data, Principle::InfoNce, ObjectiveType::Similarity, 1.0);
    assert!(entangled.pitch_shared > 0.3, "{entangled:?}");
}

#[test]
fn a_separation_objective_squeezes_family_out_of_the_private_code() {
    let data = synthetic_data(1);
    // Cosine^SEP at λ = 0.5, near the paper's best configuration (λ = 0.6).
    let (_, read) = train_and_read(&data, Principle::Cosine, ObjectiveType::Separation, 0.5);
    // ΔInstrument above chance: family is read from the shared code, hardly from the private.
    assert!(read.family_shared - read.family_private > 0.5, "{read:?}");
    // And the shared code carries family better than pitch.
    assert!(read.family_shared > read.pitch_shared + 0.2, "{read:?}");
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights_and_best_model() {
    let data = synthetic_data(2);
    let validation = synthetic_data(3);
    let run = config(Principle::Vicreg, ObjectiveType::Both, 0.6, 2);
    let (whole, split) = (scratch("whole"), scratch("split"));
    let outcome = train(
        &run,
        &data,
        Some(&validation),
        &options(&whole, false, None),
    )
    .unwrap();
    assert!(outcome.finished && outcome.model.ends_with(BEST_FILE));
    let steps = outcome.steps;
    assert_eq!(steps, 2 * (data.pairs().len() / run.train.batch_size));

    let first = train(
        &run,
        &data,
        Some(&validation),
        &options(&split, false, Some(37)),
    )
    .unwrap();
    assert!(!first.finished && !split.join(MODEL_FILE).exists());
    let resumed = train(&run, &data, Some(&validation), &options(&split, true, None)).unwrap();
    assert!(resumed.finished);
    assert_eq!(resumed.gamma, outcome.gamma);

    for file in [MODEL_FILE, BEST_FILE] {
        let tensors = |dir: &Path| {
            let saved = checkpoint::load(&dir.join(file), Multiview::KIND, &Device::Cpu).unwrap();
            let mut named: Vec<(String, Vec<f32>)> = saved
                .tensors
                .iter()
                .map(|(name, t)| (name.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
                .collect();
            named.sort_by(|a, b| a.0.cmp(&b.0));
            named
        };
        assert_eq!(tensors(&whole), tensors(&split), "{file} differs");
    }
    let losses = |rows: &[MultiviewMetricRow]| -> Vec<[f64; 3]> {
        rows.iter()
            .map(|r| [r.total, r.valid_total, r.similarity])
            .collect()
    };
    let (a, b) = (
        read_metrics(&whole.join("metrics.csv")).unwrap(),
        read_metrics(&split.join("metrics.csv")).unwrap(),
    );
    assert_eq!(a.len(), steps);
    assert_eq!(format!("{:?}", losses(&a)), format!("{:?}", losses(&b)));
    assert!(a.iter().filter(|r| r.valid_total.is_finite()).count() >= 2);
    assert!(whole.join("loss.png").is_file() && whole.join("model-f16.safetensors").is_file());
    std::fs::remove_dir_all(&whole).unwrap();
    std::fs::remove_dir_all(&split).unwrap();
}

#[test]
fn pairs_share_family_not_pitch_and_bad_pairs_are_refused() {
    let data = synthetic_data(4);
    assert_eq!(data.pairs().len(), data.clips());
    for &(a, b) in data.pairs() {
        assert_eq!(data.family()[a], data.family()[b]);
        assert_ne!(data.pitch()[a], data.pitch()[b]);
    }
    let latents = Tensor::zeros((3, 2), DType::F32, &Device::Cpu).unwrap();
    let error = MultiviewData::new(latents.clone(), vec![0; 3], vec![0; 3], vec![(0, 3)])
        .unwrap_err()
        .to_string();
    assert!(error.contains("(0, 3)"), "{error}");
    let error = MultiviewData::new(latents, vec![0; 2], vec![0; 3], vec![])
        .unwrap_err()
        .to_string();
    assert!(error.contains("3 latents but 2 pitches"), "{error}");
}
