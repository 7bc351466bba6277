//! `tessera cluster fit` then `tessera cluster assign` end to end on feature files laid out
//! as `tessera features primitive` writes them.

use std::collections::BTreeMap;

use ndarray::Array2;
use tessera_core::cluster::{KMeansModel, LabelsFile};
use tessera_core::features_file::FeaturesFile;
use tessera_tests::{ScratchDir, tessera};

/// `n` vectors of dimension 48 around one of three far-apart centres, chosen by `i % 3`
/// shifted by `offset`, with a small deterministic wobble.
fn blob_features(n: usize, offset: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, 48), |(i, d)| {
        let blob = ((i + offset) % 3) as f32;
        let wobble = ((i * 31 + d * 17) % 13) as f32 / 13.0 - 0.5;
        blob * 10.0 + 0.1 * wobble
    })
}

#[test]
fn fit_then_assign_recovers_the_blobs_in_every_file() {
    let dir = ScratchDir::new("cli-cluster");
    let features = dir.join("features");
    std::fs::create_dir_all(features.join("album")).unwrap();
    for (name, n, offset) in [
        ("a.wav.safetensors", 60, 0),
        ("album/b.flac.safetensors", 45, 1),
    ] {
        let file = FeaturesFile {
            features: blob_features(n, offset),
            metadata: BTreeMap::new(),
        };
        file.write(&features.join(name)).unwrap();
    }
    let centroids = dir.join("centroids.safetensors");
    let labels = dir.join("labels");
    let (features_arg, centroids_arg) = (features.to_str().unwrap(), centroids.to_str().unwrap());

    tessera(&[
        "cluster",
        "fit",
        "--features",
        features_arg,
        "--k",
        "3",
        "--seed",
        "7",
        "--out",
        centroids_arg,
    ])
    .expect("fit succeeds");
    let model = KMeansModel::load(&centroids).unwrap();
    assert_eq!((model.k(), model.dim()), (3, 48));
    assert!(
        dir.join("centroids.safetensors.json").exists(),
        "the run's config is written next to it"
    );

    tessera(&[
        "cluster",
        "assign",
        "--features",
        features_arg,
        "--centroids",
        centroids_arg,
        "--out",
        labels.to_str().unwrap(),
    ])
    .expect("assign succeeds");
    let a = LabelsFile::read(&labels.join("a.wav.labels.safetensors")).unwrap();
    let b = LabelsFile::read(&labels.join("album/b.flac.labels.safetensors")).unwrap();
    assert_eq!((a.labels.len(), b.labels.len(), a.k), (60, 45, 3));
    // Vectors of the same blob share a label, different blobs never do, across both files.
    let label_of_blob = |blob: usize| a.labels[blob];
    assert_eq!(
        [0, 1, 2]
            .map(label_of_blob)
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3
    );
    for (i, &label) in a.labels.iter().enumerate() {
        assert_eq!(label, label_of_blob(i % 3));
    }
    for (i, &label) in b.labels.iter().enumerate() {
        assert_eq!(label, label_of_blob((i + 1) % 3));
    }
}

#[test]
fn bad_inputs_are_named() {
    let dir = ScratchDir::new("cli-cluster-bad");
    let features = dir.join("f.safetensors");
    let mut values = blob_features(20, 0);
    values[[7, 3]] = f32::NAN;
    FeaturesFile {
        features: values,
        metadata: BTreeMap::new(),
    }
    .write(&features)
    .unwrap();
    let out = dir.join("c.safetensors");
    let message = format!(
        "{:#}",
        tessera(&[
            "cluster",
            "fit",
            "--features",
            features.to_str().unwrap(),
            "--k",
            "2",
            "--out",
            out.to_str().unwrap()
        ])
        .unwrap_err()
    );
    assert!(message.contains("f.safetensors"), "{message}");
    assert!(!out.exists());

    let truncated = dir.join("cut.safetensors");
    std::fs::write(&truncated, &std::fs::read(&features).unwrap()[..40]).unwrap();
    let message = format!(
        "{:#}",
        tessera(&[
            "cluster",
            "fit",
            "--features",
            truncated.to_str().unwrap(),
            "--k",
            "2",
            "--out",
            out.to_str().unwrap()
        ])
        .unwrap_err()
    );
    assert!(message.contains("cut.safetensors"), "{message}");
}
