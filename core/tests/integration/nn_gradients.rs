//! Every op the models train through, checked against finite differences (f64).

use crate::gradcheck::{
    max_difference, max_relative_error, max_relative_error_everywhere, random_var, var_builder,
    weighted_sum,
};
use candle_core::{DType, Module, Tensor, Var};
use candle_nn::VarMap;
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::dsp::stft::{Complex32, Stft, StftConfig};
use tessera_core::dsp::window::WindowKind;
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
    let diff = max_difference(&got, &expected);
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
    let diff = max_difference(&fused::softmax_last_dim(x.as_tensor()).unwrap(), &reference);
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
    let diff = max_difference(
        &fused::gelu(x.as_tensor()).unwrap(),
        &x.as_tensor().gelu().unwrap(),
    );
    assert!(diff < 1e-12, "max difference from candle's gelu {diff}");
}

/// The `f32` GELU (vectorised tanh) and its gradient agree with the exact `f64` ones to
/// `f32` precision.
#[test]
fn gelu_in_f32_matches_f64() {
    let x = random_var(&[64, 100], 33)
        .as_tensor()
        .affine(6.0, 0.0)
        .unwrap();
    let check = |x: &Tensor| {
        let var = Var::from_tensor(x).unwrap();
        let y = fused::gelu(var.as_tensor())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let grad = weighted_sum(&y, 34)
            .unwrap()
            .backward()
            .unwrap()
            .get(var.as_tensor())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        (y, grad)
    };
    let (y64, grad64) = check(&x);
    let (y32, grad32) = check(&x.to_dtype(DType::F32).unwrap());
    for (exact, single) in [(y64, y32), (grad64, grad32)] {
        let diff = max_difference(&exact, &single);
        assert!(diff < 2e-6, "max difference {diff}");
    }
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
fn fused_attention_gradient() {
    let qkv = random_var(&[3, 6, 24], 30);
    let error = max_relative_error(std::slice::from_ref(&qkv), || {
        weighted_sum(&fused::attention(&qkv, 2)?, 31)
    });
    assert!(error < TOLERANCE, "relative error {error}");
}

#[test]
fn fused_attention_matches_the_path_that_keeps_weights() {
    let (_map, vb) = var_builder();
    let attention = Attention::new(8, 2, vb).unwrap();
    let x = random_var(&[2, 5, 8], 32);
    let fused = attention.forward(x.as_tensor(), false).unwrap().output;
    let unfused = attention.forward(x.as_tensor(), true).unwrap().output;
    let diff = max_difference(&fused, &unfused);
    assert!(diff < 1e-12, "max difference {diff}");
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
    let reference = fused::normalize_last_dim(&x.transpose(1, 2).unwrap(), 1e-5)
        .unwrap()
        .transpose(1, 2)
        .unwrap();
    let value = instance_norm_time(x.as_tensor()).unwrap();
    assert!(max_difference(&value, &reference) < 1e-12);
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

/// `n_fft` 16, hop 4: 9 bins; 8 frames make a 28-sample signal (16 + 7·4 minus 2·8 padding).
fn small_stft() -> StftConfig {
    StftConfig::new(16, 4)
}

#[test]
fn istft_gradient_matches_finite_differences_at_every_entry() {
    let config = small_stft();
    let x = random_var(&[2, 8, 9, 2], 25);
    // 5 samples leave the last two frames out (librosa drops frames wholly past the end),
    // 28 is the natural length, 35 zero-pads past the last frame.
    for (length, seed) in [(5, 26), (28, 27), (35, 28)] {
        let loss = || weighted_sum(&fused::istft(&x, &config, length)?, seed);
        let error = max_relative_error_everywhere(std::slice::from_ref(&x), loss);
        assert!(error < TOLERANCE, "length {length}: relative error {error}");
        // The forward ignores the imaginary parts of DC and Nyquist, so not even rounding
        // may leak a gradient into them; every other entry of a used frame has one.
        let grads = loss().unwrap().backward().unwrap();
        let grad = grads
            .get(x.as_tensor())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let grad: Vec<Vec<Vec<Vec<f64>>>> = (0..2)
            .map(|r| grad.get(r).unwrap().to_vec3().unwrap())
            .collect();
        // Frame t's nonzero window samples land on padded positions 4t+1 ..= 4t+15, the
        // output on 8 .. 8+length: only frames overlapping it get a gradient.
        let reaches_output = |t: usize| 4 * t + 1 < 8 + length && 4 * t + 15 >= 8;
        for row in &grad {
            for (t, frame) in row.iter().enumerate() {
                for (k, bin) in frame.iter().enumerate() {
                    let at = format!("length {length}, frame {t}, bin {k}");
                    if reaches_output(t) {
                        let edge = k == 0 || k == 8;
                        assert_eq!(edge, bin[1] == 0.0, "{at}");
                        assert_ne!(bin[0], 0.0, "{at}");
                    } else {
                        assert_eq!(bin, &[0.0, 0.0], "{at}");
                    }
                }
            }
        }
    }
}

/// Row `row` of a `(rows, frames, bins, 2)` f32 tensor as `Stft::inverse` takes it,
/// `[bins × frames]`.
fn spectrum_of_row(spectrum: &Tensor, row: usize) -> Array2<Complex32> {
    let (_, frames, bins, _) = spectrum.dims4().unwrap();
    let values: Vec<f32> = spectrum
        .get(row)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let bins_of_frames: Vec<Complex32> = values
        .chunks_exact(2)
        .map(|pair| Complex32::new(pair[0], pair[1]))
        .collect();
    Array2::from_shape_vec((frames, bins), bins_of_frames)
        .unwrap()
        .reversed_axes()
}

/// Largest absolute difference between `istft` (f32) and `Stft::inverse` over all rows of a
/// random spectrum, relative to the largest output sample.
fn istft_vs_stft_inverse(config: &StftConfig, rows: usize, frames: usize, length: usize) -> f32 {
    let shape = [rows, frames, config.n_bins(), 2];
    let spectrum = random_var(&shape, 29)
        .as_tensor()
        .to_dtype(DType::F32)
        .unwrap();
    let got = fused::istft(&spectrum, config, length).unwrap();
    assert_eq!(got.dims(), &[rows, length]);
    let stft = Stft::new(config.clone()).unwrap();
    let (mut worst, mut peak) = (0f32, 0f32);
    for row in 0..rows {
        let expected = stft
            .inverse(spectrum_of_row(&spectrum, row).view(), Some(length))
            .unwrap();
        let got: Vec<f32> = got.get(row).unwrap().to_vec1().unwrap();
        for (g, e) in got.iter().zip(&expected) {
            worst = worst.max((g - e).abs());
            peak = peak.max(e.abs());
        }
    }
    worst / peak
}

#[test]
fn istft_equals_stft_inverse_on_random_spectra() {
    let small = small_stft();
    let shaped = StftConfig {
        win_length: 12,
        window: WindowKind::Hamming,
        center: false,
        ..small.clone()
    };
    let music = StftConfig::new(2048, 512);
    // Cut inside the frames, natural length, zero-padded; then an uncentred short window;
    // then the separator's configuration, cut and natural (16 frames: 9728 samples).
    let cases = [
        (&small, 8, 5),
        (&small, 8, 28),
        (&small, 8, 35),
        (&shaped, 8, 40),
        (&music, 16, 5000),
        (&music, 16, 7680),
    ];
    for (config, frames, length) in cases {
        let error = istft_vs_stft_inverse(config, 3, frames, length);
        assert!(
            error < 1e-6,
            "{config:?}, length {length}: relative error {error}"
        );
    }
}

#[test]
fn istft_of_an_stft_gives_the_signal_back() {
    let mut rng = ChaCha8Rng::seed_from_u64(30);
    let signal: Vec<f32> = (0..11_025).map(|_| rng.random_range(-1.0..1.0)).collect();
    let stft = Stft::new(StftConfig::new(2048, 512)).unwrap();
    let spectrum = stft.forward(&signal).unwrap();
    let (bins, frames) = spectrum.dim();
    // Frame-major re/im pairs: the layout `istft` reads.
    let values: Vec<f32> = spectrum
        .t()
        .iter()
        .flat_map(|bin| [bin.re, bin.im])
        .collect();
    let tensor = Tensor::from_vec(values, (1, frames, bins, 2), &candle_core::Device::Cpu).unwrap();
    let back: Vec<f32> = fused::istft(&tensor, stft.config(), signal.len())
        .unwrap()
        .get(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let worst = back
        .iter()
        .zip(&signal)
        .map(|(b, s)| (b - s).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "round trip off by {worst}");
}

#[test]
fn istft_backward_in_f32_matches_f64() {
    let config = StftConfig::new(64, 16);
    let x64 = random_var(&[2, 6, 33, 2], 31);
    let weights = random_var(&[2, 100], 32).as_tensor().clone();
    let gradient = |dtype: DType| -> Vec<f64> {
        let x = Var::from_tensor(&x64.as_tensor().to_dtype(dtype).unwrap()).unwrap();
        let out = fused::istft(&x, &config, 100).unwrap();
        let loss = (out * weights.to_dtype(dtype).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let grad = grads
            .get(x.as_tensor())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        grad.flatten_all().unwrap().to_vec1().unwrap()
    };
    let (single, double) = (gradient(DType::F32), gradient(DType::F64));
    let peak = double.iter().fold(0f64, |m, g| m.max(g.abs()));
    let worst = single
        .iter()
        .zip(&double)
        .fold(0f64, |m, (s, d)| m.max((s - d).abs()));
    assert!(
        worst / peak < 1e-5,
        "f32 gradient off by {worst} (peak {peak})"
    );
}

#[test]
fn istft_rejects_spectra_that_do_not_fit() {
    let config = small_stft();
    let device = candle_core::Device::Cpu;
    let wrong_bins = Tensor::zeros((2, 8, 8, 2), DType::F32, &device).unwrap();
    let error = fused::istft(&wrong_bins, &config, 28)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a spectrum with 8 bins does not fit n_fft = 16, which has 9 bins"),
        "{error}"
    );
    // Real and imaginary parts come as a trailing pair; separate real and imaginary
    // tensors (or a stack of three) must be stacked on a last dimension of 2 first.
    for dims in [&[2, 8, 9][..], &[2, 8, 9, 3]] {
        let wrong_shape = Tensor::zeros(dims, DType::F32, &device).unwrap();
        let error = fused::istft(&wrong_shape, &config, 28)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("expected a spectrum shaped (rows, frames, bins, 2)"),
            "{error}"
        );
    }
    let bad_config = StftConfig::new(16, 0);
    let spectrum = Tensor::zeros((2, 8, 9, 2), DType::F32, &device).unwrap();
    let error = fused::istft(&spectrum, &bad_config, 28)
        .unwrap_err()
        .to_string();
    assert!(error.contains("hop_length must be at least 1"), "{error}");
}

#[test]
fn bias_and_column_scale_gradients_and_values() {
    let x = random_var(&[3, 4, 5], 30);
    let p = random_var(&[5], 31);
    let error = max_relative_error(&[x.clone(), p.clone()], || {
        weighted_sum(&fused::scale_columns(&fused::add_bias(&x, &p)?, &p)?, 32)
    });
    assert!(error < TOLERANCE, "relative error {error}");
    let fused_value = fused::scale_columns(&fused::add_bias(&x, &p).unwrap(), &p).unwrap();
    let reference = x.broadcast_add(&p).unwrap().broadcast_mul(&p).unwrap();
    assert!(max_difference(&fused_value, &reference) < 1e-12);
}

#[test]
fn fused_linear_gradients_and_values() {
    let x = random_var(&[3, 4, 5], 36);
    let w = random_var(&[6, 5], 37);
    let b = random_var(&[6], 38);
    let error = max_relative_error(&[x.clone(), w.clone(), b.clone()], || {
        weighted_sum(&fused::linear(&x, &w, Some(&b))?, 39)
    });
    assert!(error < TOLERANCE, "relative error {error}");
    let error = max_relative_error(&[x.clone(), w.clone()], || {
        weighted_sum(&fused::linear(&x, &w, None)?, 40)
    });
    assert!(error < TOLERANCE, "relative error without bias {error}");
    let reference = x
        .reshape((12, 5))
        .unwrap()
        .matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap()
        .reshape((3, 4, 6))
        .unwrap();
    let value = fused::linear(&x, &w, Some(&b)).unwrap();
    assert!(max_difference(&value, &reference) < 1e-12);
}

#[test]
fn fused_layer_norm_gradients_and_values() {
    // 600 rows: more than one block of the backward's parameter-gradient sums.
    let x = random_var(&[2, 300, 7], 41);
    let w = random_var(&[7], 42);
    let b = random_var(&[7], 43);
    let error = max_relative_error(&[x.clone(), w.clone(), b.clone()], || {
        weighted_sum(&fused::layer_norm(&x, &w, &b, 1e-6)?, 44)
    });
    assert!(error < TOLERANCE, "relative error {error}");
    let reference = fused::normalize_last_dim(&x, 1e-6)
        .unwrap()
        .broadcast_mul(&w)
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    let value = fused::layer_norm(&x, &w, &b, 1e-6).unwrap();
    assert!(max_difference(&value, &reference) < 1e-12);
}

#[test]
fn stem_masks_gradient_and_values() {
    // (batch 2, frames 3, bins 4, channels 2, stems 3) logits; spectrum with 5 bins.
    let logits = random_var(&[2, 3, 4, 2, 3], 33);
    let spectrum = random_var(&[2, 2, 3, 5, 2], 34);
    let error = max_relative_error(std::slice::from_ref(&logits), || {
        weighted_sum(&fused::apply_stem_masks(&logits, &spectrum)?, 35)
    });
    assert!(error < TOLERANCE, "relative error {error}");
    // The unfused formula: softmax over stems, Nyquist repeats the last bin's masks,
    // (batch, stems, channels, frames, bins + 1, 1) × (batch, 1, channels, frames, bins + 1, 2).
    let masks = candle_nn::ops::softmax(logits.as_tensor(), 4)
        .unwrap()
        .pad_with_same(2, 0, 1)
        .unwrap()
        .permute((0, 4, 3, 1, 2))
        .unwrap()
        .unsqueeze(5)
        .unwrap();
    let reference = masks
        .broadcast_mul(&spectrum.as_tensor().unsqueeze(1).unwrap())
        .unwrap();
    let fused_value = fused::apply_stem_masks(logits.as_tensor(), spectrum.as_tensor()).unwrap();
    assert_eq!(fused_value.dims(), reference.dims());
    assert!(max_difference(&fused_value, &reference) < 1e-12);
    let wrong = random_var(&[2, 2, 3, 4, 2], 36);
    let message = fused::apply_stem_masks(logits.as_tensor(), wrong.as_tensor())
        .unwrap_err()
        .to_string();
    assert!(message.contains("the logits need"), "{message}");
}
