//! Every op the models train through, checked against finite differences (f64).

mod gradcheck;

use candle_core::{Module, Tensor};
use candle_nn::VarMap;
use gradcheck::{max_relative_error, random_var, var_builder, weighted_sum};
use tessera_core::nn::{
    Attention, ConvFeatureEncoder, ConvFeatureEncoderConfig, LayerNorm, Linear, PatchEmbed,
    Transformer, TransformerConfig, fused, instance_norm_time,
};

/// Relative error allowed between analytic and numeric gradients in f64: central differences
/// leave ~1e-6 of truncation noise on small gradients, a wrong gradient is off by O(1).
const TOLERANCE: f64 = 1e-4;

fn all_vars(map: &VarMap) -> Vec<candle_core::Var> {
    map.all_vars()
}

#[test]
fn normalize_last_dim_gradient() {
    let x = random_var(&[3, 4, 7], 1);
    let error = max_relative_error(std::slice::from_ref(&x), || {
        weighted_sum(&fused::normalize_last_dim(&x, 1e-6)?, 2)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn normalize_matches_the_unfused_formula() {
    let x = random_var(&[5, 9], 3).as_tensor().clone();
    let mean = x.mean_keepdim(1).unwrap();
    let centred = x.broadcast_sub(&mean).unwrap();
    let var = centred.sqr().unwrap().mean_keepdim(1).unwrap();
    let expected = centred
        .broadcast_div(&(var + 1e-6).unwrap().sqrt().unwrap())
        .unwrap();
    let got = fused::normalize_last_dim(&x, 1e-6).unwrap();
    let diff = (got - expected)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(diff < 1e-12, "max difference {diff}");
}

#[test]
fn softmax_gradient_and_values() {
    let x = random_var(&[2, 3, 6], 4);
    let error = max_relative_error(std::slice::from_ref(&x), || {
        weighted_sum(&fused::softmax_last_dim(&x)?, 5)
    });
    assert!(error < TOLERANCE, "relative error {error}");
    let reference = candle_nn::ops::softmax(x.as_tensor(), 2).unwrap();
    let diff = (fused::softmax_last_dim(x.as_tensor()).unwrap() - reference)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(diff < 1e-12, "max difference from candle's softmax {diff}");
}

#[test]
fn gelu_gradient_and_values() {
    let x = random_var(&[4, 10], 6);
    let scaled = Tensor::new(3.0f64, &candle_core::Device::Cpu).unwrap();
    let error = max_relative_error(std::slice::from_ref(&x), || {
        weighted_sum(&fused::gelu(&x.broadcast_mul(&scaled)?)?, 7)
    });
    assert!(error < TOLERANCE, "relative error {error}");
    let diff = (fused::gelu(x.as_tensor()).unwrap() - x.as_tensor().gelu().unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(diff < 1e-12, "max difference from candle's gelu {diff}");
}

#[test]
fn unfold_matches_direct_windows_and_has_the_right_gradient() {
    let x = random_var(&[2, 11, 3], 8);
    let unfolded = fused::unfold_time(x.as_tensor(), 3, 2).unwrap();
    assert_eq!(unfolded.dims(), &[2, 5, 9]);
    // Window 2 of sequence 1 holds frames 4, 5, 6.
    let window = unfolded
        .get(1)
        .unwrap()
        .get(2)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let frames = x
        .as_tensor()
        .get(1)
        .unwrap()
        .narrow(0, 4, 3)
        .unwrap()
        .flatten_all()
        .unwrap();
    assert_eq!(window, frames.to_vec1::<f64>().unwrap());
    let error = max_relative_error(std::slice::from_ref(&x), || {
        weighted_sum(&fused::unfold_time(&x, 3, 2)?, 9)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn linear_and_layer_norm_gradients() {
    let (map, vb) = var_builder();
    let linear = Linear::new(5, 4, vb.pp("linear")).unwrap();
    let norm = LayerNorm::new(4, vb.pp("norm")).unwrap();
    let x = random_var(&[2, 3, 5], 10);
    let mut vars = all_vars(&map);
    vars.push(x.clone());
    let error = max_relative_error(&vars, || {
        weighted_sum(&norm.forward(&linear.forward(&x)?)?, 11)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn attention_gradient_through_queries_keys_values() {
    let (map, vb) = var_builder();
    let attention = Attention::new(8, 2, vb).unwrap();
    let x = random_var(&[2, 5, 8], 12);
    let mut vars = all_vars(&map);
    vars.push(x.clone());
    let error = max_relative_error(&vars, || {
        weighted_sum(&attention.forward(&x, false)?.output, 13)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn attention_weights_are_distributions_over_keys() {
    let (_map, vb) = var_builder();
    let attention = Attention::new(8, 2, vb).unwrap();
    let x = random_var(&[2, 5, 8], 14);
    let weights = attention
        .forward(x.as_tensor(), true)
        .unwrap()
        .weights
        .unwrap();
    assert_eq!(weights.dims(), &[2, 2, 5, 5]);
    let sums = weights
        .sum(3)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-12));
}

#[test]
fn transformer_gradient_through_every_layer() {
    let (map, vb) = var_builder();
    let config = TransformerConfig {
        dim: 8,
        depth: 2,
        heads: 2,
        mlp_ratio: 2,
    };
    let transformer = Transformer::new(&config, vb).unwrap();
    let x = random_var(&[2, 4, 8], 15);
    let mut vars = all_vars(&map);
    vars.push(x.clone());
    let error = max_relative_error(&vars, || {
        let out = transformer.forward(&x, false)?;
        // The loss reads the last output and an inner layer, as top-K targets do.
        weighted_sum(&(out.output + &out.layers[0])?, 16)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn patch_embed_gradient_and_token_order() {
    let (map, vb) = var_builder();
    let embed = PatchEmbed::new(2, 3, 4, vb).unwrap();
    let x = random_var(&[1, 4, 6], 17);
    assert_eq!(embed.grid(4, 6).unwrap(), (2, 2));
    let mut vars = all_vars(&map);
    vars.push(x.clone());
    let error = max_relative_error(&vars, || weighted_sum(&embed.forward(&x)?, 18));
    assert!(error < TOLERANCE, "relative error {error}");
    assert!(embed.grid(5, 6).is_err());
}

#[test]
fn conv_feature_encoder_gradient_and_frame_rate() {
    let config = ConvFeatureEncoderConfig {
        kernels: vec![4, 3],
        strides: vec![2, 2],
        channels: 3,
    };
    let (map, vb) = var_builder();
    let encoder = ConvFeatureEncoder::new(&config, vb).unwrap();
    let x = random_var(&[2, 21], 19);
    let mut vars = all_vars(&map);
    vars.push(x.clone());
    let out = encoder.forward(x.as_tensor()).unwrap();
    assert_eq!(out.dims(), &[2, config.frames(21), 3]);
    let error = max_relative_error(&vars, || weighted_sum(&encoder.forward(&x)?, 20));
    assert!(error < TOLERANCE, "relative error {error}");
    let wav2vec = ConvFeatureEncoderConfig::default();
    assert_eq!(wav2vec.hop(), 160);
    assert_eq!(wav2vec.frames(32000), 199);
}

#[test]
fn instance_norm_gradient() {
    let x = random_var(&[2, 6, 3], 21);
    let error = max_relative_error(std::slice::from_ref(&x), || {
        weighted_sum(&instance_norm_time(&x)?, 22)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn token_gather_gradient() {
    // Models pick context and target tokens with index_select on the token axis.
    let x = random_var(&[2, 6, 3], 23);
    let index = Tensor::new(&[4u32, 0, 5], &candle_core::Device::Cpu).unwrap();
    let error = max_relative_error(std::slice::from_ref(&x), || {
        weighted_sum(&x.index_select(&index, 1)?, 24)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}
