//! The multi-view disentangler: every disentanglement loss (3 principles × SIM, SEP,
//! SIM+SEP) and the reconstruction against values worked out by hand, eq. (5) through a
//! model with hand-set weights, gradients of the whole loss against finite differences,
//! shapes and loading.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use tessera_core::checkpoint::{self, tensors_of};
use tessera_core::models::disentanglement::{
    LOG_EPS, ObjectiveType, Principle, separation_loss, similarity_loss,
};
use tessera_core::models::multiview::{ObjectiveConfig, reconstruction_loss};
use tessera_core::models::{Multiview, MultiviewConfig};

use crate::gradcheck::{max_difference, max_relative_error, random_var, var_builder};

/// Relative error allowed between analytic and numeric gradients (as in nn_gradients.rs).
const GRADIENT_TOLERANCE: f64 = 1e-4;

fn tensor(rows: &[[f64; 2]]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_scalar::<f64>().unwrap()
}

/// Agreement to 1e-9: the guard added to squared norms before cosines (1e-12) moves the
/// cosines of the smallest codes here (squared norms near 0.01) by about 1e-10; a wrong
/// formula is off by far more.
fn assert_close(got: f64, expected: f64, what: &str) {
    assert!(
        (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: got {got}, expected {expected}"
    );
}

// The codes of two pairs, chosen so every cosine is a fraction:
// first view  a₁ = (3, 4), a₂ = (1, 0); second view b₁ = (4, 3), b₂ = (5, 12).
// cos(a₁, b₁) = 24/25, cos(a₁, b₂) = 63/65, cos(a₂, b₁) = 4/5, cos(a₂, b₂) = 5/13.
const FIRST: [[f64; 2]; 2] = [[3.0, 4.0], [1.0, 0.0]];
const SECOND: [[f64; 2]; 2] = [[4.0, 3.0], [5.0, 12.0]];

fn ln_eps(x: f64) -> f64 {
    (x + LOG_EPS).ln()
}

/// Eq. (1): each first-view code against both second-view codes, its partner positive.
fn info_nce_similarity_by_hand() -> f64 {
    let e = f64::exp;
    let pair_1 = (e(24.0 / 25.0) + e(63.0 / 65.0)).ln() - 24.0 / 25.0;
    let pair_2 = (e(4.0 / 5.0) + e(5.0 / 13.0)).ln() - 5.0 / 13.0;
    (pair_1 + pair_2) / 2.0
}

/// Eq. (2): `−log(1 − cos)` over all four combinations.
fn info_nce_separation_by_hand() -> f64 {
    -(ln_eps(1.0 / 25.0) + ln_eps(2.0 / 65.0) + ln_eps(1.0 / 5.0) + ln_eps(8.0 / 13.0)) / 4.0
}

/// Eq. (3): `−log cos` of the two pairs.
fn cosine_similarity_by_hand() -> f64 {
    -(ln_eps(24.0 / 25.0) + ln_eps(5.0 / 13.0)) / 2.0
}

/// Eq. (4): `−log(1 − cos)` of the two pairs.
fn cosine_separation_by_hand() -> f64 {
    -(ln_eps(1.0 / 25.0) + ln_eps(8.0 / 13.0)) / 2.0
}

/// VICReg of the codes divided by 10 (so the variance hinge is active):
/// a = ((.3, .4), (.1, 0)), b = ((.4, .3), (.5, 1.2)), with the given invariance term.
/// Unbiased variances over the 2 pairs: a (.02, .08), b (.005, .405).
/// Covariances: a (.1·.2 + .1·.2) = .04, b (.05·.45 + .05·.45) = .045; each appears twice
/// off the diagonal, divided by 2 dimensions: .04², .045².
fn vicreg_by_hand(invariance_weight: f64, invariance: f64) -> f64 {
    let hinge = |v: f64| (1.0 - (v + 1e-4).sqrt()).max(0.0);
    let variance_a = (hinge(0.02) + hinge(0.08)) / 2.0;
    let variance_b = (hinge(0.005) + hinge(0.405)) / 2.0;
    let covariance = 0.04f64.powi(2) + 0.045f64.powi(2);
    invariance_weight * invariance + 25.0 * (variance_a + variance_b) / 2.0 + covariance
}

/// VICReg^SIM's invariance, the reference's MSE: the squared differences .01, .01, .16,
/// 1.44, mean .405.
const VICREG_SIM_INVARIANCE: f64 = 0.405;

/// VICReg^SEP's invariance, on unit-length codes: `‖â − b̂‖² = 2 − 2 cos`, so
/// `2 − 2 · 24/25 = 2/25` and `2 − 2 · 5/13 = 16/13`, averaged over the two pairs.
fn vicreg_separation_invariance() -> f64 {
    (2.0 / 25.0 + 16.0 / 13.0) / 2.0
}

fn vicreg_separation_by_hand() -> f64 {
    vicreg_by_hand(-25.0, vicreg_separation_invariance())
}

fn scaled(rows: [[f64; 2]; 2], by: f64) -> [[f64; 2]; 2] {
    rows.map(|row| row.map(|x| x * by))
}

#[test]
fn info_nce_losses_match_eqs_1_and_2_by_hand() {
    let (a, b) = (tensor(&FIRST), tensor(&SECOND));
    let similarity = scalar(&similarity_loss(Principle::InfoNce, &a, &b).unwrap());
    assert_close(similarity, info_nce_similarity_by_hand(), "InfoNCE^SIM");
    let separation = scalar(&separation_loss(Principle::InfoNce, &a, &b).unwrap());
    assert_close(separation, info_nce_separation_by_hand(), "InfoNCE^SEP");
}

#[test]
fn cosine_losses_match_eqs_3_and_4_by_hand() {
    let (a, b) = (tensor(&FIRST), tensor(&SECOND));
    let similarity = scalar(&similarity_loss(Principle::Cosine, &a, &b).unwrap());
    assert_close(similarity, cosine_similarity_by_hand(), "Cosine^SIM");
    let separation = scalar(&separation_loss(Principle::Cosine, &a, &b).unwrap());
    assert_close(separation, cosine_separation_by_hand(), "Cosine^SEP");
    // Cosines ignore scale: the same codes ten times smaller give the same losses.
    let (small_a, small_b) = (tensor(&scaled(FIRST, 0.1)), tensor(&scaled(SECOND, 0.1)));
    let small = scalar(&similarity_loss(Principle::Cosine, &small_a, &small_b).unwrap());
    assert_close(small, similarity, "Cosine^SIM of scaled codes");
}

#[test]
fn vicreg_losses_match_the_reference_formulation_by_hand() {
    let (a, b) = (tensor(&scaled(FIRST, 0.1)), tensor(&scaled(SECOND, 0.1)));
    let similarity = scalar(&similarity_loss(Principle::Vicreg, &a, &b).unwrap());
    assert_close(
        similarity,
        vicreg_by_hand(25.0, VICREG_SIM_INVARIANCE),
        "VICReg^SIM",
    );
    let separation = scalar(&separation_loss(Principle::Vicreg, &a, &b).unwrap());
    assert_close(separation, vicreg_separation_by_hand(), "VICReg^SEP");
    // A single pair has no variance.
    let one = a.narrow(0, 0, 1).unwrap();
    assert!(similarity_loss(Principle::Vicreg, &one, &one).is_err());
}

#[test]
fn vicreg_separation_is_bounded_below_however_far_apart_the_codes_are() {
    // Orthogonal codes scaled up without end: the literal −25 · MSE would fall with the
    // square of the scale (to −2e7 in training); on unit-length codes the invariance stays
    // at its floor, ‖â − b̂‖² = 2 for orthogonal non-negative codes, whatever the scale.
    for scale in [1.0, 1e3, 1e6] {
        let a = tensor(&[[scale, 0.0], [0.0, scale]]);
        let b = tensor(&[[0.0, scale], [scale, 0.0]]);
        let separation = scalar(&separation_loss(Principle::Vicreg, &a, &b).unwrap());
        // No variance hinge once the scale is large, and the covariances are large and
        // positive: the loss is at least the invariance's −25 · 2.
        assert!(separation >= -50.0, "scale {scale}: {separation}");
    }
}

#[test]
fn vicreg_separation_has_the_right_gradient() {
    let first = random_var(&[5, 4], 60);
    let second = random_var(&[5, 4], 61);
    // Non-negative codes, as the encoders give, shifted off zero so no norm is tiny.
    let positive = |v: &candle_core::Var| (v.as_tensor().abs().unwrap() + 0.1).unwrap();
    let vars = [first.clone(), second.clone()];
    let error = max_relative_error(&vars, || {
        separation_loss(Principle::Vicreg, &positive(&first), &positive(&second))
    });
    assert!(error < GRADIENT_TOLERANCE, "relative error {error}");
}

#[test]
fn reconstruction_is_the_mean_squared_error() {
    let latents = tensor(&[[1.0, 2.0], [3.0, 4.0]]);
    let reconstruction = tensor(&[[1.5, 2.0], [2.0, 4.0]]);
    // Errors .5, 0, −1, 0: (.25 + 1) / 4.
    let mse = scalar(&reconstruction_loss(&latents, &reconstruction).unwrap());
    assert_close(mse, 0.3125, "L_rec");
}

/// A 2-wide model with hand-set weights: the private encoder is the identity (so on
/// non-negative latents `z_p = x`), the shared encoder swaps the two dimensions and halves
/// them (`z_s = ½ (x₂, x₁)`: the same cosines as `x`), and the decoder returns `z_p` shifted
/// by (+½, −½), so every reconstructed entry is off by ½ and `L_rec = ¼`.
fn hand_set_model(objective: ObjectiveConfig) -> Multiview {
    let (map, vb) = var_builder();
    let config = MultiviewConfig {
        latent_dim: 2,
        hidden_dim: 2,
        code_dim: 2,
        objective,
    };
    let model = Multiview::new(config, vb).unwrap();
    let set = |name: &str, values: &[f64], shape: &[usize]| {
        let data = map.data().lock().unwrap();
        let var = data
            .get(name)
            .unwrap_or_else(|| panic!("no variable {name}"));
        var.set(&Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).unwrap())
            .unwrap();
    };
    let identity = [1.0, 0.0, 0.0, 1.0];
    set("private.fc1.weight", &identity, &[2, 2]);
    set("private.fc2.weight", &identity, &[2, 2]);
    set("shared.fc1.weight", &[0.0, 1.0, 1.0, 0.0], &[2, 2]);
    set("shared.fc2.weight", &[0.5, 0.0, 0.0, 0.5], &[2, 2]);
    set(
        "decoder.fc1.weight",
        &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        &[2, 4],
    );
    set("decoder.fc2.weight", &identity, &[2, 2]);
    set("decoder.fc2.bias", &[0.5, -0.5], &[2]);
    model
}

#[test]
fn eq_5_weighs_reconstruction_and_every_disentanglement_variant_by_hand() {
    // The latents are the VICReg codes above: non-negative, so z_p = x.
    let first = tensor(&scaled(FIRST, 0.1));
    let second = tensor(&scaled(SECOND, 0.1));
    let (gamma, lambda) = (3.0, 0.25);
    // The shared codes are the latents halved and swapped: the cosines stay, VICReg's
    // invariance, variances and covariances shrink by ¼ (the variances change places).
    let hinge = |v: f64| (1.0 - (v + 1e-4).sqrt()).max(0.0);
    let vicreg_shared = 25.0 * 0.405 / 4.0
        + 25.0 * ((hinge(0.005) + hinge(0.02)) / 2.0 + (hinge(0.00125) + hinge(0.10125)) / 2.0)
            / 2.0
        + 0.01f64.powi(2)
        + 0.01125f64.powi(2);
    let cases = [
        (
            Principle::InfoNce,
            info_nce_similarity_by_hand(),
            info_nce_separation_by_hand(),
        ),
        (
            Principle::Cosine,
            cosine_similarity_by_hand(),
            cosine_separation_by_hand(),
        ),
        (
            Principle::Vicreg,
            vicreg_shared,
            vicreg_separation_by_hand(),
        ),
    ];
    for (principle, similarity, separation) in cases {
        for kind in [
            ObjectiveType::Similarity,
            ObjectiveType::Separation,
            ObjectiveType::Both,
        ] {
            let model = hand_set_model(ObjectiveConfig {
                principle,
                kind,
                reconstruction_weight: lambda,
            });
            let loss = model.loss(&first, &second, gamma).unwrap();
            let what = format!("{principle:?} {kind:?}");
            assert_close(scalar(&loss.reconstruction), 0.25, &what);
            assert_close(scalar(&loss.similarity), similarity, &what);
            assert_close(scalar(&loss.separation), separation, &what);
            let disentanglement = match kind {
                ObjectiveType::Similarity => similarity,
                ObjectiveType::Separation => separation,
                ObjectiveType::Both => similarity + separation,
            };
            assert_close(scalar(&loss.disentanglement), disentanglement, &what);
            let total = gamma * lambda * 0.25 + (1.0 - lambda) * disentanglement;
            assert_close(scalar(&loss.total), total, &what);
        }
    }
}

/// A small model with every weight and bias drawn uniformly from (−½, ½), so activations
/// are of order one and every ReLU sees both signs.
fn random_model(principle: Principle, seed: u64) -> (VarMap, Multiview) {
    let (map, vb) = var_builder();
    let config = MultiviewConfig {
        latent_dim: 6,
        hidden_dim: 7,
        code_dim: 4,
        objective: ObjectiveConfig {
            principle,
            kind: ObjectiveType::Both,
            reconstruction_weight: 0.4,
        },
    };
    let model = Multiview::new(config, vb).unwrap();
    let data = map.data().lock().unwrap();
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (i, name) in names.into_iter().enumerate() {
        let var = &data[name];
        let values = (random_var(var.dims(), seed + i as u64).as_tensor() * 0.5).unwrap();
        var.set(&values).unwrap();
    }
    drop(data);
    (map, model)
}

#[test]
fn the_whole_loss_has_the_right_gradient_for_every_principle() {
    for (i, principle) in [Principle::InfoNce, Principle::Cosine, Principle::Vicreg]
        .into_iter()
        .enumerate()
    {
        let (map, model) = random_model(principle, 100 * i as u64);
        let first = random_var(&[5, 6], 40 + i as u64);
        let second = random_var(&[5, 6], 50 + i as u64);
        let mut vars = map.all_vars();
        vars.extend([first.clone(), second.clone()]);
        let error = max_relative_error(&vars, || Ok(model.loss(&first, &second, 1.7)?.total));
        assert!(
            error < GRADIENT_TOLERANCE,
            "{principle:?}: relative error {error}"
        );
    }
}

#[test]
fn codes_and_reconstructions_have_the_right_shapes() {
    let (_map, model) = random_model(Principle::Cosine, 7);
    let latents = random_var(&[3, 6], 8);
    let output = model.forward(&latents).unwrap();
    assert_eq!(output.codes.private.dims(), &[3, 4]);
    assert_eq!(output.codes.shared.dims(), &[3, 4]);
    assert_eq!(output.reconstruction.dims(), &[3, 6]);
    // The codes are non-negative, so every similarity lies in [0, 1].
    for code in [&output.codes.private, &output.codes.shared] {
        let low = code.min_all().unwrap().to_scalar::<f64>().unwrap();
        assert!(low >= 0.0, "negative code entry {low}");
    }
    // Sequences of latents (the paper's n × d) are encoded step by step.
    let sequence = random_var(&[2, 5, 6], 9);
    let output = model.forward(&sequence).unwrap();
    assert_eq!(output.codes.shared.dims(), &[2, 5, 4]);
    assert_eq!(output.reconstruction.dims(), &[2, 5, 6]);
}

#[test]
fn a_reconstruction_weight_outside_0_to_1_is_refused() {
    let (_map, vb) = var_builder();
    let config = MultiviewConfig {
        objective: ObjectiveConfig {
            reconstruction_weight: 1.5,
            ..ObjectiveConfig::default()
        },
        ..MultiviewConfig::default()
    };
    let error = Multiview::new(config, vb).unwrap_err().to_string();
    assert!(error.contains("λ"), "{error}");
}

#[test]
fn a_saved_model_loads_with_its_objective_and_encodes_alike() {
    let (map, model) = random_model(Principle::Vicreg, 11);
    let path = std::env::temp_dir().join(format!(
        "tessera-multiview-{}.safetensors",
        std::process::id()
    ));
    let tensors = tensors_of(&map, "trainable.", DType::F32).unwrap();
    checkpoint::save(
        &path,
        Multiview::KIND,
        model.config(),
        &tensors,
        &BTreeMap::new(),
    )
    .unwrap();
    let loaded = Multiview::load(&path, &Device::Cpu).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.config(), model.config());
    let latents = random_var(&[4, 6], 12).as_tensor().clone();
    let expected = model.encode(&latents).unwrap().shared;
    let got = loaded
        .encode(&latents.to_dtype(DType::F32).unwrap())
        .unwrap()
        .shared
        .to_dtype(DType::F64)
        .unwrap();
    let difference = max_difference(&got, &expected);
    assert!(difference < 1e-5, "max difference {difference}");
}
