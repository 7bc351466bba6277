//! PaC-HuBERT's masked unit prediction: the loss against hand-computed values, the masks'
//! shape, every gradient against finite differences, and the separator taking its encoder
//! by name.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint::{self, tensors_of};
use tessera_core::models::pac_hubert::{cosine_logits, masked_unit_loss};
use tessera_core::models::separator::CHANNELS;
use tessera_core::models::{PacHubert, PacHubertConfig, Separator};
use tessera_core::nn::seeded_normal_init;

use crate::gradcheck::{max_relative_error, random_var, var_builder};
use crate::tiny_separator;

/// PaC-HuBERT over the tiny test separator (2 × 4 tokens per chunk), 5 clusters.
fn tiny_config() -> PacHubertConfig {
    PacHubertConfig {
        separator: tiny_separator::config(),
        clusters: 5,
        projection_dim: 6,
        ..PacHubertConfig::default()
    }
}

fn random_chunks(samples: usize, count: usize, seed: u64) -> Vec<[Vec<f32>; CHANNELS]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            std::array::from_fn(|_| (0..samples).map(|_| rng.random_range(-0.5..0.5)).collect())
        })
        .collect()
}

fn tensor(values: &[f64], shape: (usize, usize)) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).unwrap()
}

#[test]
fn the_masked_unit_loss_is_the_cross_entropy_of_the_masked_tokens_only() {
    let ln = f64::ln;
    // Token 0: logits (0, ln 2, ln 3), label 2: softmax 3/6, cross-entropy ln 2, arg-max right.
    // Token 1: not masked, so its wrong, confident logits must not count.
    // Token 2: logits (1, 1 + ln 2, 1), label 0: softmax 1/4, cross-entropy ln 4, arg-max 1.
    let logits = tensor(
        &[
            0.0,
            ln(2.0),
            ln(3.0),
            9.0,
            -9.0,
            -9.0,
            1.0,
            1.0 + ln(2.0),
            1.0,
        ],
        (3, 3),
    );
    let masked = Tensor::new(&[1.0f64, 0.0, 1.0], &Device::Cpu).unwrap();
    let result = masked_unit_loss(&logits, &[2, 2, 0], &masked).unwrap();
    let loss = result.loss.to_scalar::<f64>().unwrap();
    assert!((loss - 1.5 * ln(2.0)).abs() < 1e-12, "loss {loss}");
    assert_eq!(result.masked_tokens, 2);
    assert_eq!(result.accuracy, 0.5);

    let nothing = Tensor::zeros(3, DType::F64, &Device::Cpu).unwrap();
    let message = masked_unit_loss(&logits, &[2, 2, 0], &nothing)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("no token is masked"), "{message}");
}

#[test]
fn the_logits_are_cosine_similarities_scaled_by_tau() {
    let projected = tensor(&[1.0, 0.0, 0.0, 2.0], (2, 2));
    let clusters = tensor(&[1.0, 1.0, 0.0, -3.0, 5.0, 0.0], (3, 2));
    let logits = cosine_logits(&projected, &clusters, 10.0)
        .unwrap()
        .to_vec2::<f64>()
        .unwrap();
    let r = 10.0 / 2f64.sqrt();
    let expected = [[r, 0.0, 10.0], [r, -10.0, 0.0]];
    for (row, want) in logits.iter().zip(expected) {
        for (&got, want) in row.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{logits:?}");
        }
    }
}

#[test]
fn the_loss_has_the_finite_difference_gradient_of_its_inputs() {
    let projected = random_var(&[4, 3], 1);
    let clusters = random_var(&[5, 3], 2);
    let masked = Tensor::new(&[1.0f64, 0.0, 1.0, 1.0], &Device::Cpu).unwrap();
    let error = max_relative_error(&[projected.clone(), clusters.clone()], || {
        let logits = cosine_logits(projected.as_tensor(), clusters.as_tensor(), 10.0)?;
        Ok(masked_unit_loss(&logits, &[4, 0, 2, 2], &masked)?.loss)
    });
    assert!(error < 1e-5, "relative gradient error {error}");
}

#[test]
fn masks_hide_whole_time_steps_in_every_chunk() {
    let map = VarMap::new();
    let model = PacHubert::new(
        PacHubertConfig::default(),
        VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let (steps, freqs) = model.token_grid();
    assert_eq!((steps, freqs), (8, 16));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let masks = model.sample_masks(200, &mut rng).unwrap();
    let mut masked = 0;
    for mask in &masks {
        assert_eq!(mask.len(), steps * freqs);
        let per_step: Vec<&[bool]> = mask.chunks(freqs).collect();
        assert!(per_step.iter().all(|s| s.iter().all(|&m| m == s[0])));
        let hidden = per_step.iter().filter(|s| s[0]).count();
        assert!(
            (1..steps).contains(&hidden),
            "{hidden} of {steps} steps hidden"
        );
        masked += hidden;
    }
    let share = masked as f64 / (200 * steps) as f64;
    assert!((0.25..0.45).contains(&share), "masked share {share}");
}

#[test]
fn every_parameter_gets_the_finite_difference_gradient_of_the_masked_unit_loss() {
    let config = tiny_config();
    let (map, vb) = var_builder();
    let model = PacHubert::new(config.clone(), vb).unwrap();
    seeded_normal_init(&map, 3).unwrap();
    // Bigger weights than the 0.02 initialisation, so every path carries signal.
    for var in map.all_vars() {
        var.set(&(var.as_tensor() * 20.0).unwrap()).unwrap();
    }
    let chunks = random_chunks(config.separator.chunk_samples(), 2, 4);
    let features = model
        .spectra(&chunks, &Device::Cpu)
        .unwrap()
        .features
        .to_dtype(DType::F64)
        .unwrap();
    let tokens = 8;
    let masks = vec![
        [true, true, true, true, false, false, false, false].to_vec(),
        [false, false, false, false, true, true, true, true].to_vec(),
    ];
    let labels: Vec<u32> = (0..2 * tokens as u32).map(|t| (t * 3) % 5).collect();
    let error = max_relative_error(&map.all_vars(), || {
        Ok(model.loss(&features, &masks, &labels)?.loss)
    });
    assert!(error < 1e-4, "relative gradient error {error}");
}

#[test]
fn bad_labels_are_refused() {
    let map = VarMap::new();
    let model = PacHubert::new(
        tiny_config(),
        VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let chunks = random_chunks(tiny_config().separator.chunk_samples(), 1, 1);
    let features = model.spectra(&chunks, &Device::Cpu).unwrap().features;
    let mask = vec![vec![true; 8]];
    let message = model
        .loss(&features, &mask, &[5; 8])
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("not below the model's 5 clusters"),
        "{message}"
    );
    let message = model
        .loss(&features, &mask, &[0; 7])
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("7 labels"), "{message}");
}

#[test]
fn a_separator_takes_the_pretrained_encoder_by_name() {
    let config = tiny_config();
    let pretrained = VarMap::new();
    PacHubert::new(
        config.clone(),
        VarBuilder::from_varmap(&pretrained, DType::F32, &Device::Cpu),
    )
    .unwrap();
    seeded_normal_init(&pretrained, 11).unwrap();
    let path = std::env::temp_dir().join(format!(
        "tessera-pac-hubert-{}.safetensors",
        std::process::id()
    ));
    let tensors = tensors_of(&pretrained, "trainable.", DType::F32).unwrap();
    checkpoint::save(&path, PacHubert::KIND, &config, &tensors, &BTreeMap::new()).unwrap();

    let separator = VarMap::new();
    Separator::new(
        config.separator.clone(),
        VarBuilder::from_varmap(&separator, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let saved = checkpoint::load(&path, PacHubert::KIND, &Device::Cpu).unwrap();
    std::fs::remove_file(&path).unwrap();
    let restored = saved
        .restore_part(&separator, "trainable.", "encoder.")
        .unwrap();
    let encoder_vars = separator
        .data()
        .lock()
        .unwrap()
        .keys()
        .filter(|name| name.starts_with("encoder."))
        .count();
    assert_eq!(restored, encoder_vars);
    let name = "encoder.bottleneck.blocks.0.attn.qkv.weight";
    let same = |map: &VarMap| {
        map.data().lock().unwrap()[name]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(same(&separator), same(&pretrained));
}
