//! The stem separator: shapes, the mixture-consistency of its masks, every gradient against
//! finite differences, config checks and loading from a checkpoint.

use crate::tiny_separator;

use std::collections::{BTreeMap, HashMap};

use crate::gradcheck::{max_relative_error, var_builder};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint::{self, tensors_of};
use tessera_core::models::separator::{CHANNELS, STEMS, l1_loss};
use tessera_core::models::{Separator, SeparatorConfig};
use tessera_core::nn::seeded_normal_init;

fn random_chunks(config: &SeparatorConfig, count: usize, seed: u64) -> Vec<[Vec<f32>; CHANNELS]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            std::array::from_fn(|_| {
                (0..config.chunk_samples())
                    .map(|_| rng.random_range(-0.5..0.5))
                    .collect()
            })
        })
        .collect()
}

fn built(config: SeparatorConfig, dtype: DType, seed: u64) -> (VarMap, Separator) {
    let map = VarMap::new();
    let model = Separator::new(config, VarBuilder::from_varmap(&map, dtype, &Device::Cpu)).unwrap();
    seeded_normal_init(&map, seed).unwrap();
    (map, model)
}

#[test]
fn the_tiny_and_paper_configs_tile_as_the_paper_says() {
    let tiny = SeparatorConfig::default();
    tiny.validate().unwrap();
    assert_eq!(tiny.patch(), (32, 64));
    assert_eq!(tiny.token_grid(), (8, 16));
    let paper = SeparatorConfig::paper();
    paper.validate().unwrap();
    // P_t = 32, P_f = 64, C_b = 384; 320 frames × 1024 bins → 10 × 16 tokens.
    assert_eq!(paper.patch(), (32, 64));
    assert_eq!(paper.token_grid(), (10, 16));
    assert_eq!(paper.bottleneck.dim, 384);
}

#[test]
fn configs_that_do_not_fit_are_refused_with_the_reason() {
    let mut odd = tiny_separator::config();
    odd.chunk_frames = 6;
    let message = odd.validate().unwrap_err().to_string();
    assert!(message.contains("do not tile"), "{message}");
    let mut narrow = tiny_separator::config();
    narrow.bottleneck.dim = 12;
    let message = narrow.validate().unwrap_err().to_string();
    assert!(message.contains("bottleneck"), "{message}");
}

#[test]
fn the_stems_sum_to_the_mixture() {
    let config = tiny_separator::config();
    let (_, model) = built(config.clone(), DType::F32, 1);
    let chunks = random_chunks(&config, 2, 2);
    let batch = model.spectra(&chunks, &Device::Cpu).unwrap();
    let logits = model.mask_logits(&batch.features).unwrap();
    let bins = config.n_fft / 2;
    assert_eq!(
        logits.dims(),
        &[2, config.chunk_frames, bins, CHANNELS, STEMS.len()]
    );
    let stems = model.separate(&batch).unwrap();
    assert_eq!(
        stems.dims(),
        &[2, STEMS.len(), CHANNELS, config.chunk_samples()]
    );
    let sum = stems.sum(1).unwrap().to_vec3::<f32>().unwrap();
    for (chunk, summed) in chunks.iter().zip(&sum) {
        for (channel, summed) in chunk.iter().zip(summed) {
            let worst = channel
                .iter()
                .zip(summed)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "stems differ from the mixture by {worst}");
        }
    }
}

#[test]
fn every_parameter_gets_the_finite_difference_gradient_of_the_l1_loss() {
    let config = tiny_separator::config();
    let (map, vb) = var_builder();
    let model = Separator::new(config.clone(), vb).unwrap();
    seeded_normal_init(&map, 3).unwrap();
    // Bigger weights than the 0.02 initialisation, so every path carries signal.
    for var in map.all_vars() {
        let scaled = (var.as_tensor() * 20.0).unwrap();
        var.set(&scaled).unwrap();
    }
    let chunks = random_chunks(&config, 2, 4);
    let batch = model.spectra(&chunks, &Device::Cpu).unwrap();
    let to_f64 = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
    let batch = tessera_core::models::separator::SpectraBatch {
        spectrum: to_f64(&batch.spectrum),
        features: to_f64(&batch.features),
        samples: batch.samples,
    };
    let truth = random_chunks(&config, 8, 5);
    let flat: Vec<f64> = truth
        .iter()
        .flatten()
        .flatten()
        .map(|&v| f64::from(v))
        .collect();
    let truth = Tensor::from_vec(flat, (2, 4, 2, config.chunk_samples()), &Device::Cpu).unwrap();
    let error = max_relative_error(&map.all_vars(), || {
        l1_loss(&model.separate(&batch)?, &truth)
    });
    assert!(error < 1e-4, "relative gradient error {error}");
}

#[test]
fn a_saved_separator_loads_and_separates_identically() {
    let config = tiny_separator::config();
    let (map, model) = built(config.clone(), DType::F32, 6);
    let dir = std::env::temp_dir().join(format!("tessera-separator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let tensors: HashMap<String, Tensor> = tensors_of(&map, "trainable.", DType::F32).unwrap();
    checkpoint::save(&path, Separator::KIND, &config, &tensors, &BTreeMap::new()).unwrap();
    let loaded = Separator::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.config(), &config);
    let batch = model
        .spectra(&random_chunks(&config, 1, 7), &Device::Cpu)
        .unwrap();
    let (a, b) = (
        model.separate(&batch).unwrap(),
        loaded.separate(&batch).unwrap(),
    );
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(diff, 0.0);
    // A PupuJEPA file is not a separator.
    let message = checkpoint::load(&path, "pupu-jepa", &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("separator checkpoint, expected pupu-jepa"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
