//! Probe training on synthetic features: a planted feature that encodes the label is found
//! (accuracy ≥ 0.9), the same features with shuffled labels stay at chance, the learned
//! layer mix favours the layer that holds the signal, multi-label targets work, and a seed
//! fixes the result.

use candle_core::{Device, Tensor};
use indicatif::ProgressBar;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::models::{LayerMix, ProbeArchitecture};

use super::{Features, ProbeConfig, ProbeScores, Targets, train_probe};

const CLASSES: usize = 4;
const DIM: usize = 12;

/// Short runs: the planted signal is found within a few dozen epochs.
fn quick(mut config: ProbeConfig) -> ProbeConfig {
    config.max_epochs = 60;
    config.patience = 10;
    config.batch_size = 64;
    config
}

fn mlp(mix: LayerMix) -> ProbeConfig {
    quick(ProbeConfig::hear_mlp(mix, 5))
}

fn linear(mix: LayerMix) -> ProbeConfig {
    quick(ProbeConfig::linear(mix, 0.0, 5))
}

/// Two layers of N(0, 1) noise for `labels`; layer 1 also holds the label: +4 on the
/// feature of each of the clip's classes.
fn planted(labels: &[Vec<usize>], seed: u64) -> Vec<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut noise = |_| -> f32 {
        // Sum of uniforms: close enough to Gaussian noise for a probe.
        (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0
    };
    let clips = labels.len();
    let plain: Vec<f32> = (0..clips * DIM).map(&mut noise).collect();
    let mut signal: Vec<f32> = (0..clips * DIM).map(&mut noise).collect();
    for (clip, classes) in labels.iter().enumerate() {
        for &c in classes {
            signal[clip * DIM + c] += 4.0;
        }
    }
    [plain, signal]
        .into_iter()
        .map(|v| Tensor::from_vec(v, (clips, DIM), &Device::Cpu).unwrap())
        .collect()
}

fn single(clips: usize, seed: u64) -> Features {
    let labels: Vec<usize> = (0..clips).map(|i| i % CLASSES).collect();
    let sets: Vec<Vec<usize>> = labels.iter().map(|&c| vec![c]).collect();
    Features {
        layers: planted(&sets, seed),
        targets: Targets::Single {
            classes: CLASSES,
            labels,
        },
    }
}

fn accuracy(scores: &ProbeScores) -> f64 {
    match scores {
        ProbeScores::Single { accuracy, .. } => *accuracy,
        ProbeScores::Multi { .. } => unreachable!("a single-label task"),
    }
}

fn shuffled(features: &Features, seed: u64) -> Features {
    let Targets::Single { classes, labels } = &features.targets else {
        unreachable!("a single-label task")
    };
    let mut labels = labels.clone();
    labels.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    Features {
        layers: features.layers.clone(),
        targets: Targets::Single {
            classes: *classes,
            labels,
        },
    }
}

#[test]
fn a_planted_label_is_found_and_shuffled_labels_stay_at_chance() {
    let (train, valid, test) = (single(240, 1), single(80, 2), single(400, 3));
    // Chance is 1/4; with 400 test clips three binomial standard deviations are
    // 3·√(0.25·0.75/400) = 0.065.
    let chance_bound = 3.0 * (0.25f64 * 0.75 / 400.0).sqrt();
    for config in [linear(LayerMix::One(1)), mlp(LayerMix::Weighted)] {
        let probe = train_probe(&train, &valid, &config, &ProgressBar::hidden()).unwrap();
        let found = accuracy(&probe.evaluate(&test).unwrap());
        assert!(found >= 0.9, "{:?}: accuracy {found}", config.architecture);

        let probe = train_probe(
            &shuffled(&train, 7),
            &shuffled(&valid, 8),
            &config,
            &ProgressBar::hidden(),
        )
        .unwrap();
        let chance = accuracy(&probe.evaluate(&shuffled(&test, 9)).unwrap());
        assert!(
            (chance - 0.25).abs() <= chance_bound,
            "{:?}: accuracy {chance} on shuffled labels",
            config.architecture
        );
    }
}

#[test]
fn the_learned_mix_weights_the_layer_with_the_signal_and_a_seed_fixes_the_result() {
    let (train, valid) = (single(240, 1), single(80, 2));
    let config = linear(LayerMix::Weighted);
    let probe = train_probe(&train, &valid, &config, &ProgressBar::hidden()).unwrap();
    let weights = probe.layer_weights().unwrap();
    assert!(weights[1] > weights[0], "{weights:?}");
    let again = train_probe(&train, &valid, &config, &ProgressBar::hidden()).unwrap();
    assert_eq!(
        probe.predict(&valid.layers).unwrap(),
        again.predict(&valid.layers).unwrap()
    );
    assert_eq!(probe.selection, again.selection);
    assert_eq!(
        probe.selection.grid.len(),
        4,
        "every HEAR learning rate was tried"
    );
}

#[test]
fn a_planted_multi_label_signal_is_found() {
    let labels = |clips: usize, seed: u64| -> Vec<Vec<usize>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..clips)
            .map(|_| (0..CLASSES).filter(|_| rng.random::<f64>() < 0.4).collect())
            .collect()
    };
    let features = |clips, seed| {
        let labels = labels(clips, seed);
        Features {
            layers: planted(&labels, seed + 10),
            targets: Targets::Multi {
                classes: CLASSES,
                labels,
            },
        }
    };
    let (train, valid, test) = (features(240, 1), features(80, 2), features(200, 3));
    let probe = train_probe(
        &train,
        &valid,
        &mlp(LayerMix::One(1)),
        &ProgressBar::hidden(),
    )
    .unwrap();
    match probe.evaluate(&test).unwrap() {
        ProbeScores::Multi {
            mean_average_precision,
            micro_f1,
            ..
        } => {
            assert!(
                mean_average_precision >= 0.9,
                "mAP {mean_average_precision}"
            );
            assert!(micro_f1 >= 0.8, "micro-F1 {micro_f1}");
        }
        ProbeScores::Single { .. } => panic!("a multi-label task"),
    }
}

#[test]
fn mismatched_features_are_errors() {
    let train = single(40, 1);
    let narrow = Features {
        layers: vec![train.layers[0].narrow(1, 0, 4).unwrap(); 2],
        ..train.clone()
    };
    let error = train_probe(
        &train,
        &narrow,
        &linear(LayerMix::Mean),
        &ProgressBar::hidden(),
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("widths"), "{error}");
    let mut config = mlp(LayerMix::Mean);
    config.architecture = ProbeArchitecture::Linear;
    config.learning_rates.clear();
    assert!(train_probe(&train, &train, &config, &ProgressBar::hidden()).is_err());
}
