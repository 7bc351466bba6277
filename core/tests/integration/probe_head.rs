//! The probe heads and every op they train through: gradients against finite differences
//! (f64), the losses against hand-computed values, batch norm against its formula.

use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tessera_core::models::{LayerMix, ProbeArchitecture, ProbeHead, ProbeHeadConfig};
use tessera_core::nn::{BatchNorm, binary_cross_entropy_with_logits, cross_entropy, dropout};

use crate::gradcheck::{max_relative_error, random_var, var_builder, weighted_sum};

/// As in nn_gradients.rs: central differences leave ~1e-6, a wrong gradient is off by O(1).
const TOLERANCE: f64 = 1e-4;

fn tensor(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

/// Softmax cross-entropy of logits [1, 2, 3] for class 2 is log(1 + e⁻¹ + e⁻²) = 0.4076060;
/// of [0.5, −1, 0] for class 0 it is log(e^0.5 + e⁻¹ + 1) − 0.5 = 0.6041306; the mean
/// 0.5058683.
#[test]
fn cross_entropy_matches_hand_computed_values() {
    let logits = tensor(&[1.0, 2.0, 3.0, 0.5, -1.0, 0.0], &[2, 3]);
    let targets = tensor(&[0.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[2, 3]);
    let loss = scalar(&cross_entropy(&logits, &targets).unwrap());
    assert!((loss - 0.505_868_284_890_554).abs() < 1e-12, "{loss}");
    // Large logits do not overflow: the shift by the row maximum keeps exp() finite.
    let large = tensor(&[1000.0, 1001.0, 1002.0], &[1, 3]);
    let loss = scalar(&cross_entropy(&large, &tensor(&[0.0, 0.0, 1.0], &[1, 3])).unwrap());
    assert!((loss - 0.407_605_964_444_380).abs() < 1e-9, "{loss}");
}

/// BCE with logits of x = [0, 2, −1, 30] against t = [1, 0, 1, 1]: log 2 = 0.6931472,
/// 2 + log(1 + e⁻²) = 2.1269280, log(1 + e) = 1.3132617, log(1 + e⁻³⁰) ≈ 9.4e-14; mean
/// 1.0333342.
#[test]
fn binary_cross_entropy_matches_hand_computed_values() {
    let logits = tensor(&[0.0, 2.0, -1.0, 30.0], &[2, 2]);
    let targets = tensor(&[1.0, 0.0, 1.0, 1.0], &[2, 2]);
    let loss = scalar(&binary_cross_entropy_with_logits(&logits, &targets).unwrap());
    assert!((loss - 1.033_334_219_780_308_6).abs() < 1e-12, "{loss}");
    // A confidently wrong logit of −100 costs 100, not infinity.
    let wrong =
        binary_cross_entropy_with_logits(&tensor(&[-100.0], &[1, 1]), &tensor(&[1.0], &[1, 1]))
            .unwrap();
    assert!((scalar(&wrong) - 100.0).abs() < 1e-9);
}

#[test]
fn loss_gradients() {
    let logits = random_var(&[4, 5], 50);
    let soft = candle_nn::ops::softmax(random_var(&[4, 5], 51).as_tensor(), 1).unwrap();
    let error = max_relative_error(std::slice::from_ref(&logits), || {
        cross_entropy(&(logits.as_tensor() * 3.0)?, &soft)
    });
    assert!(error < TOLERANCE, "cross-entropy: relative error {error}");
    let targets = (random_var(&[4, 5], 52).as_tensor() + 1.0).unwrap() * 0.5;
    let targets = targets.unwrap();
    let error = max_relative_error(std::slice::from_ref(&logits), || {
        binary_cross_entropy_with_logits(&(logits.as_tensor() * 4.0)?, &targets)
    });
    assert!(
        error < TOLERANCE,
        "binary cross-entropy: relative error {error}"
    );
}

#[test]
fn batch_norm_gradient_through_input_scale_and_shift() {
    let (map, vb) = var_builder();
    let norm = BatchNorm::new(3, vb).unwrap();
    let x = random_var(&[6, 3], 53);
    let mut vars = map.all_vars();
    vars.push(x.clone());
    // Scale and shift start at 1 and 0; move them so their gradients are generic.
    for (i, var) in map.all_vars().iter().enumerate() {
        var.set(random_var(&[3], 54 + i as u64).as_tensor())
            .unwrap();
    }
    let error = max_relative_error(&vars, || weighted_sum(&norm.forward_train(&x)?, 56));
    assert!(error < TOLERANCE, "relative error {error}");
}

/// Training normalises with the batch's biased variance and moves the running statistics
/// 10 % towards the batch's mean and unbiased variance, as PyTorch's `BatchNorm1d`;
/// inference uses the running statistics.
#[test]
fn batch_norm_matches_the_pytorch_formula() {
    let (_map, vb) = var_builder();
    let norm = BatchNorm::new(2, vb).unwrap();
    let x = tensor(&[1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 6.0, 60.0], &[4, 2]);
    let out = norm.forward_train(&x).unwrap().to_vec2::<f64>().unwrap();
    // Column 0: mean 3, biased variance 3.5.
    let expected = (1.0 - 3.0) / (3.5f64 + 1e-5).sqrt();
    assert!((out[0][0] - expected).abs() < 1e-12, "{out:?}");
    let [mean, var] = norm.running_stats();
    let mean = mean.as_tensor().to_vec1::<f64>().unwrap();
    let var = var.as_tensor().to_vec1::<f64>().unwrap();
    assert!(
        (mean[0] - 0.3).abs() < 1e-12 && (mean[1] - 3.0).abs() < 1e-12,
        "{mean:?}"
    );
    // Unbiased variance 14/3 and 1400/3.
    assert!((var[0] - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-12, "{var:?}");
    assert!(
        (var[1] - (0.9 + 0.1 * 1400.0 / 3.0)).abs() < 1e-9,
        "{var:?}"
    );
    let eval = norm.forward_eval(&x).unwrap().to_vec2::<f64>().unwrap();
    let expected = (1.0 - 0.3) / (0.9 + 0.1 * 14.0 / 3.0 + 1e-5f64).sqrt();
    assert!((eval[0][0] - expected).abs() < 1e-12, "{eval:?}");
}

/// A fixed seed gives a fixed mask; survivors are scaled by 1 / (1 − p); about p of the
/// entries are dropped; and the gradient is the mask.
#[test]
fn dropout_is_seeded_scaled_and_differentiable() {
    let x = Tensor::ones((100, 100), DType::F64, &Device::Cpu).unwrap();
    let draw = |seed| {
        dropout(&x, 0.3, &mut ChaCha8Rng::seed_from_u64(seed))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    let (a, b, c) = (draw(1), draw(1), draw(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
    let dropped = a.iter().filter(|&&v| v == 0.0).count() as f64 / a.len() as f64;
    // 10,000 draws: the share's standard deviation is 0.0046.
    assert!((dropped - 0.3).abs() < 0.02, "dropped {dropped}");
    let input = random_var(&[5, 4], 57);
    let error = max_relative_error(std::slice::from_ref(&input), || {
        weighted_sum(
            &dropout(&input, 0.5, &mut ChaCha8Rng::seed_from_u64(3))?,
            58,
        )
    });
    assert!(error < TOLERANCE, "relative error {error}");
    let same = dropout(&x, 0.0, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert_eq!(
        same.sum_all().unwrap().to_scalar::<f64>().unwrap(),
        10_000.0
    );
}

fn head_config(mix: LayerMix, architecture: ProbeArchitecture) -> ProbeHeadConfig {
    ProbeHeadConfig {
        layers: 3,
        dim: 4,
        classes: 5,
        mix,
        architecture,
        input_dropout: 0.2,
    }
}

/// Every parameter of both heads — the layer weights, the MLP's layers and batch norm —
/// gets the gradient finite differences give, in training mode (dropout and batch
/// statistics) and through the cross-entropy the probes train with.
#[test]
fn probe_head_gradients_linear_and_mlp_with_learned_layer_weights() {
    let mlp = ProbeArchitecture::Mlp {
        hidden: 6,
        dropout: 0.1,
    };
    for (architecture, seed) in [(ProbeArchitecture::Linear, 60), (mlp, 70)] {
        let (map, vb) = var_builder();
        let head = ProbeHead::new(head_config(LayerMix::Weighted, architecture), vb).unwrap();
        // Move the constant-initialised parameters (layer logits, batch norm) off 0 and 1.
        for (i, var) in map.all_vars().iter().enumerate() {
            let values = random_var(var.dims(), seed + i as u64);
            var.set(values.as_tensor()).unwrap();
        }
        let x = random_var(&[3, 8, 4], seed + 20);
        let targets =
            candle_nn::ops::softmax(random_var(&[8, 5], seed + 21).as_tensor(), 1).unwrap();
        let mut vars = map.all_vars();
        vars.push(x.clone());
        let error = max_relative_error(&vars, || {
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 22);
            cross_entropy(&head.forward(&x, Some(&mut rng))?, &targets)
        });
        assert!(
            error < TOLERANCE,
            "{architecture:?}: relative error {error}"
        );
    }
}

#[test]
fn layer_mixes_pick_average_or_weight_the_layers() {
    let x = random_var(&[3, 2, 4], 80).as_tensor().clone();
    let weights = |mix| {
        let (_map, vb) = var_builder();
        let head = ProbeHead::new(head_config(mix, ProbeArchitecture::Linear), vb).unwrap();
        // Inference is deterministic: no dropout, no batch statistics.
        let a = head.forward(&x, None).unwrap().to_vec2::<f64>().unwrap();
        let b = head.forward(&x, None).unwrap().to_vec2::<f64>().unwrap();
        assert_eq!(a, b);
        head.layer_weights().unwrap()
    };
    assert_eq!(weights(LayerMix::One(2)), [0.0, 0.0, 1.0]);
    for mix in [LayerMix::Mean, LayerMix::Weighted] {
        let w = weights(mix);
        assert!(
            w.iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-6),
            "{mix:?}: {w:?}"
        );
    }
    let (_map, vb) = var_builder();
    let error = ProbeHead::new(head_config(LayerMix::One(3), ProbeArchitecture::Linear), vb)
        .unwrap_err()
        .to_string();
    assert!(error.contains("has 3 layers"), "{error}");
}
