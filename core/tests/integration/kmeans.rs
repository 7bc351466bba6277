//! k-means against scikit-learn (fixtures from tests/fixtures/gen/kmeans.py), plus
//! determinism, empty-cluster repair, error cases and the centroid / label / feature files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, ArrayView2, array, s};
use ndarray_npy::read_npy;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tessera_core::cluster::{
    Algorithm, ClusterError, KMeans, KMeansConfig, KMeansModel, LabelsFile, RowReservoir,
};
use tessera_core::features_file::FeaturesFile;
use tessera_core::tensor_file::TensorFileError;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/kmeans");

/// Relative inertia gap allowed between our Lloyd fit and scikit-learn's `KMeans` (the
/// issue's acceptance bar).
const LLOYD_TOLERANCE: f64 = 0.02;
/// Relative gap allowed between our mini-batch fit and scikit-learn's `MiniBatchKMeans`:
/// both are stochastic approximations, so a looser bar than Lloyd's.
const MINI_BATCH_TOLERANCE: f64 = 0.03;

fn blobs() -> Array2<f32> {
    read_npy(format!("{FIXTURES}/blobs.npy")).expect("blobs.npy fixture")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/reference.json")).expect("fixture");
    serde_json::from_str(&text).expect("reference.json is JSON")
}

/// The reference entry of `algorithm` ("lloyd" / "mini_batch") for `k`.
fn reference_entry(algorithm: &str, k: usize) -> Value {
    reference()[algorithm]
        .as_array()
        .expect("list of runs")
        .iter()
        .find(|entry| entry["k"].as_u64() == Some(k as u64))
        .expect("reference run for this k")
        .clone()
}

fn relative_gap(ours: f64, theirs: f64) -> f64 {
    (ours - theirs).abs() / theirs
}

fn random_data(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, d), || rng.random_range(-1.0f32..1.0))
}

/// A fresh scratch directory for file tests.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-kmeans-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn lloyd_config(k: usize, n_init: usize, seed: u64) -> KMeansConfig {
    KMeansConfig {
        k,
        n_init,
        seed,
        ..KMeansConfig::default()
    }
}

#[test]
fn lloyd_inertia_matches_sklearn() {
    let data = blobs();
    for k in [20, 64] {
        let reference = reference_entry("lloyd", k);
        let theirs = reference["inertia"].as_f64().expect("inertia");
        let n_init = reference["n_init"].as_u64().expect("n_init") as usize;
        let fit = KMeans::fit(data.view(), &lloyd_config(k, n_init, 7)).expect("fit");
        let gap = relative_gap(fit.inertia, theirs);
        assert!(
            gap <= LLOYD_TOLERANCE,
            "k = {k}: inertia {} vs scikit-learn {theirs} (gap {gap:.4})",
            fit.inertia
        );
        assert_eq!(fit.model.k(), k);
        assert_eq!(fit.model.dim(), 48);
    }
}

#[test]
fn lloyd_seeded_on_a_subset_still_matches_sklearn() {
    let data = blobs();
    let theirs = reference_entry("lloyd", 20)["inertia"]
        .as_f64()
        .expect("inertia");
    let config = KMeansConfig {
        init_size: Some(500),
        ..lloyd_config(20, 10, 7)
    };
    let fit = KMeans::fit(data.view(), &config).expect("fit");
    let gap = relative_gap(fit.inertia, theirs);
    assert!(
        gap <= LLOYD_TOLERANCE,
        "inertia {} vs {theirs} (gap {gap:.4})",
        fit.inertia
    );
}

#[test]
fn mini_batch_inertia_matches_sklearn() {
    let data = blobs();
    let reference = reference_entry("mini_batch", 20);
    let theirs = reference["inertia"].as_f64().expect("inertia");
    let config = KMeansConfig {
        k: 20,
        n_init: reference["n_init"].as_u64().expect("n_init") as usize,
        max_iter: reference["max_iter"].as_u64().expect("max_iter") as usize,
        algorithm: Algorithm::mini_batch(reference["batch_size"].as_u64().expect("batch") as usize),
        seed: 7,
        ..KMeansConfig::default()
    };
    let fit = KMeans::fit(data.view(), &config).expect("fit");
    let gap = relative_gap(fit.inertia, theirs);
    assert!(
        gap <= MINI_BATCH_TOLERANCE,
        "inertia {} vs scikit-learn MiniBatchKMeans {theirs} (gap {gap:.4})",
        fit.inertia
    );
}

#[test]
fn fits_are_deterministic_per_seed() {
    let data = blobs();
    for algorithm in [Algorithm::Lloyd, Algorithm::mini_batch(128)] {
        let config = KMeansConfig {
            k: 16,
            algorithm,
            seed: 3,
            ..KMeansConfig::default()
        };
        let first = KMeans::fit(data.view(), &config).expect("fit");
        let second = KMeans::fit(data.view(), &config).expect("fit");
        assert_eq!(
            first.model, second.model,
            "{algorithm:?}: same seed, same centroids"
        );
        assert_eq!(first.inertia.to_bits(), second.inertia.to_bits());
        let other_seed =
            KMeans::fit(data.view(), &KMeansConfig { seed: 4, ..config }).expect("fit");
        assert_ne!(
            first.model, other_seed.model,
            "{algorithm:?}: seed must matter"
        );
    }
}

#[test]
fn fit_inertia_and_labels_agree_with_brute_force() {
    let data = random_data(700, 5, 11);
    let fit = KMeans::fit(data.view(), &lloyd_config(9, 1, 1)).expect("fit");
    let labels = fit.model.assign(data.view()).expect("assign");
    let centroids = fit.model.centroids();
    let mut brute_inertia = 0.0f64;
    for (row, &label) in data.rows().into_iter().zip(&labels) {
        let distances: Vec<f64> = centroids
            .rows()
            .into_iter()
            .map(|c| {
                row.iter()
                    .zip(c)
                    .map(|(&x, &y)| f64::from(x - y).powi(2))
                    .sum()
            })
            .collect();
        let best = distances.iter().copied().fold(f64::INFINITY, f64::min);
        // The expanded-form search may pick a centre that is within float rounding of the best.
        assert!(
            distances[label as usize] <= best + 1e-5,
            "label {label} is not nearest"
        );
        brute_inertia += best;
    }
    assert!(relative_gap(fit.inertia, brute_inertia) < 1e-6);
    let model_inertia = fit.model.inertia(data.view()).expect("inertia");
    assert!(relative_gap(model_inertia, brute_inertia) < 1e-6);
}

#[test]
fn lloyd_converges_to_means_of_its_labels() {
    let data = blobs();
    let fit = KMeans::fit(
        data.view(),
        &KMeansConfig {
            tol: 0.0,
            ..lloyd_config(20, 1, 5)
        },
    )
    .expect("fit");
    assert!(fit.converged, "tol 0 stops only when labels repeat");
    let labels = fit.model.assign(data.view()).expect("assign");
    for (cluster, centroid) in fit.model.centroids().rows().into_iter().enumerate() {
        let members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] == cluster as u32)
            .collect();
        assert!(!members.is_empty(), "cluster {cluster} is empty");
        let mean = data
            .select(ndarray::Axis(0), &members)
            .mean_axis(ndarray::Axis(0))
            .expect("mean");
        for (value, expected) in centroid.iter().zip(&mean) {
            assert!(
                (value - expected).abs() < 1e-4,
                "cluster {cluster}: {value} vs mean {expected}"
            );
        }
    }
}

#[test]
fn k_equal_to_n_puts_every_vector_in_its_own_cluster() {
    let data = random_data(40, 3, 2);
    for algorithm in [Algorithm::Lloyd, Algorithm::mini_batch(16)] {
        let config = KMeansConfig {
            k: 40,
            algorithm,
            ..KMeansConfig::default()
        };
        let fit = KMeans::fit(data.view(), &config).expect("fit");
        if algorithm == Algorithm::Lloyd {
            assert!(fit.inertia < 1e-9, "Lloyd: inertia {}", fit.inertia);
            let mut labels = fit.model.assign(data.view()).expect("assign");
            labels.sort_unstable();
            labels.dedup();
            assert_eq!(labels.len(), 40, "every cluster holds one vector");
        }
        assert!(
            fit.model.centroids().iter().all(|v| v.is_finite()),
            "{algorithm:?}"
        );
    }
}

#[test]
fn duplicate_vectors_with_k_near_n_stay_finite() {
    // 30 distinct vectors, each twice; 40 clusters: 10 clusters can never hold a distinct vector.
    let distinct = random_data(30, 4, 9);
    let data = ndarray::concatenate![ndarray::Axis(0), distinct, distinct];
    for algorithm in [Algorithm::Lloyd, Algorithm::mini_batch(8)] {
        let config = KMeansConfig {
            k: 40,
            algorithm,
            ..KMeansConfig::default()
        };
        let fit = KMeans::fit(data.view(), &config).expect("fit");
        assert!(
            fit.model.centroids().iter().all(|v| v.is_finite()),
            "{algorithm:?}"
        );
        assert!(
            fit.model
                .assign(data.view())
                .expect("assign")
                .iter()
                .all(|&l| l < 40)
        );
        if algorithm == Algorithm::Lloyd {
            assert!(
                fit.inertia < 1e-9,
                "every distinct vector gets a centre: {}",
                fit.inertia
            );
        }
    }
}

#[test]
fn invalid_inputs_are_errors() {
    let data = random_data(10, 3, 0);
    let fit = |k, data: ArrayView2<f32>| KMeans::fit(data, &lloyd_config(k, 1, 0));
    assert!(matches!(
        fit(0, data.view()),
        Err(ClusterError::InvalidConfig(_))
    ));
    assert!(matches!(
        fit(11, data.view()),
        Err(ClusterError::TooFewVectors { k: 11, vectors: 10 })
    ));
    assert!(matches!(
        fit(1, data.slice(s![.., ..0])),
        Err(ClusterError::ZeroDimensions)
    ));
    let mut poisoned = data.clone();
    poisoned[[5, 2]] = f32::NAN;
    let error = fit(2, poisoned.view()).expect_err("NaN must be rejected");
    assert!(matches!(
        error,
        ClusterError::NonFinite {
            row: 5,
            column: 2,
            ..
        }
    ));
    assert!(error.to_string().contains("row 5"), "{error}");
    poisoned[[5, 2]] = f32::INFINITY;
    assert!(fit(2, poisoned.view()).is_err());

    let model = fit(2, data.view()).expect("fit").model;
    assert!(matches!(
        model.assign(random_data(4, 5, 1).view()),
        Err(ClusterError::DimensionMismatch {
            expected: 3,
            found: 5
        })
    ));
    assert!(KMeansModel::new(Array2::zeros((0, 3))).is_err());
    assert!(KMeansModel::new(array![[1.0, f32::NAN]]).is_err());
    let bad_batch = KMeansConfig {
        algorithm: Algorithm::mini_batch(0),
        ..lloyd_config(2, 1, 0)
    };
    assert!(matches!(
        KMeans::fit(data.view(), &bad_batch),
        Err(ClusterError::InvalidConfig(_))
    ));
}

#[test]
fn config_round_trips_through_json() {
    let config = KMeansConfig {
        algorithm: Algorithm::mini_batch(4096),
        ..KMeansConfig::default()
    };
    let json = serde_json::to_string(&config).expect("serialise");
    assert!(json.contains("\"kind\":\"mini_batch\""), "{json}");
    let back: KMeansConfig = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, config);
    let partial: KMeansConfig = serde_json::from_str(r#"{"k": 8}"#).expect("defaults fill in");
    assert_eq!(
        partial,
        KMeansConfig {
            k: 8,
            ..KMeansConfig::default()
        }
    );
}

#[test]
fn centroids_save_and_load_round_trip() {
    let dir = scratch("roundtrip");
    let path = dir.join("centroids.safetensors");
    let model = KMeans::fit(blobs().view(), &lloyd_config(12, 1, 2))
        .expect("fit")
        .model;
    model.save(&path).expect("save");
    assert_eq!(KMeansModel::load(&path).expect("load"), model);
    // No temporary files are left behind by the atomic write.
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
    std::fs::remove_dir_all(dir).ok();
}

fn assert_error_names(error: &impl std::fmt::Display, path: &Path) {
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn truncated_or_mismatched_centroid_files_are_clear_errors() {
    let dir = scratch("bad-files");
    let good = dir.join("good.safetensors");
    KMeansModel::new(random_data(4, 3, 0))
        .expect("model")
        .save(&good)
        .expect("save");
    let bytes = std::fs::read(&good).expect("read");

    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).expect("write");
    let error = KMeansModel::load(&truncated).expect_err("truncated");
    assert!(
        matches!(error, ClusterError::File(TensorFileError::Invalid { .. })),
        "{error}"
    );
    assert_error_names(&error, &truncated);

    let header_only = dir.join("header-only.safetensors");
    std::fs::write(&header_only, &bytes[..4]).expect("write");
    assert_error_names(
        &KMeansModel::load(&header_only).expect_err("4 bytes"),
        &header_only,
    );

    let features = dir.join("features.safetensors");
    FeaturesFile {
        features: random_data(4, 3, 0),
        metadata: BTreeMap::new(),
    }
    .write(&features)
    .expect("write");
    let error = KMeansModel::load(&features).expect_err("a features file is not centroids");
    assert!(
        matches!(
            error,
            ClusterError::File(TensorFileError::WrongFormat { .. })
        ),
        "{error}"
    );
    assert_error_names(&error, &features);

    let missing = dir.join("missing.safetensors");
    assert_error_names(&KMeansModel::load(&missing).expect_err("missing"), &missing);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn features_and_labels_files_round_trip() {
    let dir = scratch("data-files");
    let metadata = BTreeMap::from([("grid".to_owned(), "10x16".to_owned())]);
    let features = FeaturesFile {
        features: random_data(7, 48, 4),
        metadata: metadata.clone(),
    };
    let path = dir.join("clip.safetensors");
    features.write(&path).expect("write features");
    assert_eq!(FeaturesFile::read(&path).expect("read features"), features);

    let labels = LabelsFile {
        labels: Array1::from(vec![0, 3, 959, 2]),
        k: 960,
        metadata,
    };
    let labels_path = dir.join("clip.labels.safetensors");
    labels.write(&labels_path).expect("write labels");
    assert_eq!(LabelsFile::read(&labels_path).expect("read labels"), labels);

    let out_of_range = LabelsFile { k: 959, ..labels };
    out_of_range.write(&labels_path).expect("write labels");
    let error = LabelsFile::read(&labels_path).expect_err("label 959 with k = 959");
    assert_error_names(&error, &labels_path);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn reservoir_keeps_a_seeded_uniform_subset() {
    let rows = Array2::from_shape_fn((1000, 2), |(i, j)| (i * 2 + j) as f32);
    let mut everything = RowReservoir::new(usize::MAX, 2, 0);
    everything.offer(rows.slice(s![..600, ..])).expect("dim");
    everything.offer(rows.slice(s![600.., ..])).expect("dim");
    assert_eq!(everything.seen(), 1000);
    assert_eq!(
        everything.into_rows(),
        rows,
        "under capacity: every row, in order"
    );

    let sample = |seed| {
        let mut reservoir = RowReservoir::new(100, 2, seed);
        reservoir.offer(rows.view()).expect("dim");
        reservoir.into_rows()
    };
    let kept = sample(1);
    assert_eq!(kept.dim(), (100, 2));
    assert_eq!(kept, sample(1), "same seed, same subset");
    assert_ne!(kept, sample(2), "seed must matter");
    // Kept rows are input rows, and the subset reaches past the first 100 rows.
    let originals: Vec<usize> = kept.rows().into_iter().map(|r| r[0] as usize / 2).collect();
    assert!(
        kept.rows()
            .into_iter()
            .zip(&originals)
            .all(|(r, &i)| r == rows.row(i))
    );
    assert!(
        originals.iter().filter(|&&i| i >= 500).count() > 25,
        "{originals:?}"
    );

    let mut reservoir = RowReservoir::new(10, 2, 0);
    assert_eq!(reservoir.offer(random_data(3, 5, 0).view()), Err(5));
}
