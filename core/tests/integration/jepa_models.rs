//! PupuJEPA and WavJEPA / WavJEPA-Nat on tiny configurations: shapes, where gradients go,
//! EMA arithmetic, a short pretraining run that must lower the loss, checkpoint round
//! trips and their errors, and config validation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint::{self, CheckpointError, FORMAT, FORMAT_VERSION};
use tessera_core::dsp::mel::MelConfig;
use tessera_core::masking::{BatchMasks, MultiBlockConfig, WavBlocksConfig};
use tessera_core::models::ema::{EmaSchedule, ema_pairs, ema_update};
use tessera_core::models::{Encoder, PupuJepa, PupuJepaConfig, WavJepa, WavJepaConfig};
use tessera_core::nn::{ConvFeatureEncoderConfig, TransformerConfig, seeded_normal_init};

const PUPU_KIND: &str = PupuJepa::KIND;

// ---------------------------------------------------------------------------------------
// Tiny models and synthetic data
// ---------------------------------------------------------------------------------------

/// 32 mels × 32 frames in 8 × 8 patches: a 4 × 4 token grid.
fn pupu_config() -> PupuJepaConfig {
    PupuJepaConfig {
        mel: MelConfig {
            n_mels: 32,
            ..MelConfig::default()
        },
        clip_frames: 32,
        patch_freq: 8,
        patch_time: 8,
        encoder: TransformerConfig {
            dim: 16,
            depth: 2,
            heads: 2,
            mlp_ratio: 4,
        },
        predictor: TransformerConfig {
            dim: 8,
            depth: 1,
            heads: 2,
            mlp_ratio: 4,
        },
        // Sixteen tokens cannot keep I-JEPA's ten context tokens beside four targets.
        masking: MultiBlockConfig {
            min_keep: 4,
            ..MultiBlockConfig::default()
        },
    }
}

/// 4,000-sample clips through an 8-channel wav2vec2 stack: 24 frames per ear.
fn wav_config(ears: usize) -> WavJepaConfig {
    WavJepaConfig {
        sample_rate: 16_000,
        clip_samples: 4000,
        ears,
        feature_encoder: ConvFeatureEncoderConfig {
            channels: 8,
            ..ConvFeatureEncoderConfig::default()
        },
        encoder: TransformerConfig {
            dim: 16,
            depth: 2,
            heads: 2,
            mlp_ratio: 4,
        },
        predictor: TransformerConfig {
            dim: 8,
            depth: 1,
            heads: 2,
            mlp_ratio: 4,
        },
        top_k: 2,
        // Blocks of the paper's 10 frames rarely fit a 24-frame clip.
        masking: WavBlocksConfig {
            context_start_prob: 0.15,
            context_len: 4,
            target_start_prob: 0.1,
            target_len: 4,
            min_context_fraction: 0.1,
        },
    }
}

/// A model with its two variable maps: `trainable` (context encoder + predictor) and
/// `target` (the EMA encoder).
struct Built<M> {
    model: M,
    trainable: VarMap,
    target: VarMap,
}

/// Builds a model, gives its trainable variables a seeded initialisation (candle's own is
/// unseeded) and copies the context encoder into the target encoder (I-JEPA starts the EMA
/// from the context weights).
fn build<M>(
    make: impl FnOnce(VarBuilder<'static>, VarBuilder<'static>) -> Result<M>,
    seed: u64,
) -> Built<M> {
    let trainable = VarMap::new();
    let target = VarMap::new();
    let model = make(
        VarBuilder::from_varmap(&trainable, DType::F32, &Device::Cpu),
        VarBuilder::from_varmap(&target, DType::F32, &Device::Cpu),
    )
    .unwrap();
    seeded_normal_init(&trainable, seed).unwrap();
    ema_update(&ema_pairs(&target, &trainable).unwrap(), 0.0).unwrap();
    Built {
        model,
        trainable,
        target,
    }
}

fn build_pupu(config: PupuJepaConfig, seed: u64) -> Built<PupuJepa> {
    build(|t, e| PupuJepa::new(config, t, e), seed)
}

fn build_wav(config: WavJepaConfig, seed: u64) -> Built<WavJepa> {
    build(|t, e| WavJepa::new(config, t, e), seed)
}

/// `samples` of a harmonic tone at a random pitch (five partials, random phases), with a
/// random onset so clips differ in time as well as in frequency.
fn harmonic_tone(samples: usize, sample_rate: u32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let f0 = 110.0 * 2f64.powf(rng.random_range(0.0..3.0));
    let phases: Vec<f64> = (0..5)
        .map(|_| rng.random_range(0.0..std::f64::consts::TAU))
        .collect();
    let onset = rng.random_range(0..samples / 4);
    (0..samples)
        .map(|n| {
            if n < onset {
                return 0.0;
            }
            let t = (n - onset) as f64 / f64::from(sample_rate);
            let tone: f64 = phases
                .iter()
                .enumerate()
                .map(|(k, phase)| {
                    let partial = (k + 1) as f64;
                    (std::f64::consts::TAU * f0 * partial * t + phase).sin() / partial
                })
                .sum();
            (0.3 * tone * (-3.0 * t).exp()) as f32
        })
        .collect()
}

/// `(batch, mels, frames)` log-mel clips of random tones.
fn pupu_batch(model: &PupuJepa, batch: usize, rng: &mut ChaCha8Rng) -> Tensor {
    let config = model.config();
    let clips: Vec<Tensor> = (0..batch)
        .map(|_| {
            let audio = harmonic_tone(config.clip_samples(), config.mel.sample_rate, rng);
            model.clip_input(&audio, &Device::Cpu).unwrap()
        })
        .collect();
    Tensor::stack(&clips, 0).unwrap()
}

/// `(batch, ears, clip_samples)` random tones; the second ear (if any) hears the tone
/// quieter and a few samples later, as a source off to one side.
fn wav_batch(config: &WavJepaConfig, batch: usize, rng: &mut ChaCha8Rng) -> Tensor {
    let samples = config.clip_samples;
    let mut values = Vec::with_capacity(batch * config.ears * samples);
    for _ in 0..batch {
        let tone = harmonic_tone(samples, config.sample_rate, rng);
        for ear in 0..config.ears {
            let delay = 7 * ear;
            values.extend((0..samples).map(|n| {
                let gain = 1.0 - 0.4 * ear as f32;
                n.checked_sub(delay).map_or(0.0, |m| gain * tone[m])
            }));
        }
    }
    Tensor::from_vec(values, (batch, config.ears, samples), &Device::Cpu).unwrap()
}

fn pupu_masks(config: &PupuJepaConfig, batch: usize, rng: &mut ChaCha8Rng) -> BatchMasks {
    config
        .masking
        .sample_batch(config.grid(), batch, rng)
        .unwrap()
}

fn wav_masks(config: &WavJepaConfig, batch: usize, rng: &mut ChaCha8Rng) -> BatchMasks {
    config
        .masking
        .sample_batch(batch, config.frames(), rng)
        .unwrap()
}

fn scalar(tensor: &Tensor) -> f32 {
    tensor.to_scalar::<f32>().unwrap()
}

fn values(tensor: &Tensor) -> Vec<f32> {
    tensor
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Every variable of `map` by name, sorted.
fn named_vars(map: &VarMap) -> Vec<(String, Var)> {
    let mut vars: Vec<(String, Var)> = map
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| (name.clone(), var.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// A directory removed when dropped, unique to one test of one run.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tessera-jepa-models-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// 1. Shapes
// ---------------------------------------------------------------------------------------

#[test]
fn pupu_loss_is_a_scalar_and_predictions_cover_every_target_block() {
    let config = pupu_config();
    let built = build_pupu(config.clone(), 1);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let mel = pupu_batch(&built.model, 3, &mut rng);
    assert_eq!(mel.dims(), [3, 32, 32]);
    let masks = pupu_masks(&config, 3, &mut rng);

    let loss = built.model.loss(&mel, &masks).unwrap();
    assert_eq!(loss.loss.dims(), [] as [usize; 0]);
    assert!(scalar(&loss.loss).is_finite() && scalar(&loss.loss) > 0.0);
    assert!(loss.target_std.is_finite() && loss.target_std > 0.0);

    let blocks = masks.num_blocks();
    assert_eq!(blocks, 3 * config.masking.num_targets);
    let (ctx, tgt) = (masks.context_len(), masks.target_len());
    let plain = built.model.predict(&mel, &masks, false).unwrap();
    assert_eq!(plain.latents.dims(), [blocks, tgt, config.encoder.dim]);
    assert!(plain.attention.is_empty());

    let with_attention = built.model.predict(&mel, &masks, true).unwrap();
    assert_eq!(
        values(&with_attention.latents),
        values(&plain.latents),
        "keeping attention weights changes nothing else"
    );
    assert_eq!(with_attention.attention.len(), config.predictor.depth);
    for weights in &with_attention.attention {
        let heads = config.predictor.heads;
        assert_eq!(weights.dims(), [blocks, heads, ctx + tgt, ctx + tgt]);
        assert!(values(weights).iter().all(|&w| w >= 0.0));
        for row_sum in values(&weights.sum(3).unwrap()) {
            assert!(
                (row_sum - 1.0).abs() < 1e-5,
                "attention row sums to {row_sum}"
            );
        }
    }
}

#[test]
fn wav_jepa_and_wav_jepa_nat_losses_are_scalars() {
    for ears in [1, 2] {
        let config = wav_config(ears);
        assert_eq!(config.frames(), 24);
        let built = build_wav(config.clone(), 2);
        let mut rng = ChaCha8Rng::seed_from_u64(20 + ears as u64);
        let audio = wav_batch(&config, 3, &mut rng);
        let masks = wav_masks(&config, 3, &mut rng);

        let loss = built.model.loss(&audio, &masks).unwrap();
        assert_eq!(loss.loss.dims(), [] as [usize; 0], "ears = {ears}");
        assert!(scalar(&loss.loss).is_finite() && scalar(&loss.loss) > 0.0);
        assert!(loss.target_std.is_finite() && loss.target_std > 0.0);

        // Predictions run on masks expanded to both ears: each block covers every ear.
        let expanded = built.model.expand_to_ears(&masks);
        let prediction = built.model.predict(&audio, &expanded, true).unwrap();
        let (ctx, tgt) = (expanded.context_len(), expanded.target_len());
        assert_eq!(tgt, ears * config.masking.target_len);
        assert_eq!(ctx, ears * masks.context_len());
        assert_eq!(
            prediction.latents.dims(),
            [masks.num_blocks(), tgt, config.encoder.dim]
        );
        assert_eq!(
            prediction.attention[0].dims(),
            [
                masks.num_blocks(),
                config.predictor.heads,
                ctx + tgt,
                ctx + tgt
            ]
        );
    }
}

#[test]
fn expand_to_ears_maps_frame_t_to_ear_times_frames_plus_t() {
    let masks = BatchMasks {
        context: vec![vec![0, 5, 23], vec![1, 2, 3]],
        targets: vec![vec![vec![7, 8]], vec![vec![10, 11], vec![20, 21]]],
    };
    let mono = build_wav(wav_config(1), 3).model;
    assert_eq!(mono.expand_to_ears(&masks), masks);

    let nat = build_wav(wav_config(2), 3).model;
    let frames = nat.config().frames();
    let expanded = nat.expand_to_ears(&masks);
    assert_eq!(
        expanded.context,
        vec![
            vec![0, 5, 23, frames, frames + 5, frames + 23],
            vec![1, 2, 3, frames + 1, frames + 2, frames + 3],
        ]
    );
    assert_eq!(
        expanded.targets,
        vec![
            vec![vec![7, 8, frames + 7, frames + 8]],
            vec![
                vec![10, 11, frames + 10, frames + 11],
                vec![20, 21, frames + 20, frames + 21],
            ],
        ]
    );
}

#[test]
fn pupu_embed_gives_one_row_per_patch_column_that_holds_audio() {
    let config = pupu_config();
    let built = build_pupu(config.clone(), 4);
    let mut rng = ChaCha8Rng::seed_from_u64(40);
    let clip = config.clip_samples();
    // A patch column is patch_time frames of hop_length samples: 1,280 samples here.
    let column = config.patch_time * config.mel.hop_length;
    for clips in [1.0, 2.5] {
        let samples = (clips * clip as f64) as usize;
        let audio = harmonic_tone(samples, config.mel.sample_rate, &mut rng);
        let layers = built.model.embed(&audio).unwrap();
        assert_eq!(layers.len(), config.encoder.depth);
        for layer in &layers {
            assert_eq!(
                layer.dims(),
                [samples.div_ceil(column), config.encoder.dim],
                "{clips} clips of {clip} samples"
            );
            assert!(values(layer).iter().all(|v| v.is_finite()));
        }
    }
    assert_eq!(built.model.sample_rate(), 16_000);
    let rows_per_clip = config.grid().time;
    assert_rows_follow_the_time_grid(&built.model, rows_per_clip, column, &mut rng);
}

/// Row `r` of an embedding starts at sample `r · row_samples`: embedding the audio from
/// the start of the second clip reproduces the long embedding's rows from there on.
fn assert_rows_follow_the_time_grid(
    model: &impl Encoder,
    rows_per_clip: usize,
    row_samples: usize,
    rng: &mut ChaCha8Rng,
) {
    let audio = harmonic_tone(3 * rows_per_clip * row_samples, 16_000, rng);
    let whole = model.embed(&audio).unwrap();
    let from_second_clip = model.embed(&audio[rows_per_clip * row_samples..]).unwrap();
    for (whole, tail) in whole.iter().zip(&from_second_clip) {
        let rows = tail.dim(0).unwrap();
        assert_eq!(whole.dim(0).unwrap(), rows + rows_per_clip);
        assert_eq!(
            values(&whole.narrow(0, rows_per_clip, rows).unwrap()),
            values(tail)
        );
    }
}

#[test]
fn wav_embed_gives_one_row_per_10_ms_frame() {
    for ears in [1, 2] {
        let config = wav_config(ears);
        let built = build_wav(config.clone(), 5);
        let mut rng = ChaCha8Rng::seed_from_u64(50);
        let hop = config.feature_encoder.hop();
        assert_eq!(hop, 160, "10 ms at 16 kHz");
        for clips in [1.0, 2.5] {
            let samples = (clips * config.clip_samples as f64) as usize;
            let audio = harmonic_tone(samples, config.sample_rate, &mut rng);
            let layers = built.model.embed(&audio).unwrap();
            assert_eq!(layers.len(), config.encoder.depth);
            for layer in &layers {
                assert_eq!(
                    layer.dims(),
                    [samples.div_ceil(hop), config.encoder.dim],
                    "ears = {ears}, {clips} clips"
                );
                assert!(values(layer).iter().all(|v| v.is_finite()));
            }
        }
        assert_rows_follow_the_time_grid(&built.model, config.frames(), hop, &mut rng);
    }
}

#[test]
fn wav_jepa_nat_hears_each_ear_and_mono_on_both() {
    let config = wav_config(2);
    let model = build_wav(config.clone(), 6).model;
    assert_eq!(model.channels(), 2);
    let mut rng = ChaCha8Rng::seed_from_u64(60);
    let samples = config.clip_samples * 3 / 2;
    let (left, right) = (
        harmonic_tone(samples, config.sample_rate, &mut rng),
        harmonic_tone(samples, config.sample_rate, &mut rng),
    );
    let embed = |channels: &[&[f32]]| -> Vec<Vec<f32>> {
        let layers = model.embed_channels(channels).unwrap();
        layers.iter().map(values).collect()
    };
    assert_eq!(embed(&[&left, &left]), {
        let layers = model.embed(&left).unwrap();
        layers.iter().map(values).collect::<Vec<_>>()
    });
    let two_ears = embed(&[&left, &right]);
    assert_ne!(two_ears, embed(&[&left, &left]));
    assert_ne!(two_ears, embed(&[&right, &right]));
    // The ears' tokens are averaged, so swapping the ears changes nothing only if the
    // model is symmetric, which two independent waveform encoders are not.
    assert_ne!(two_ears, embed(&[&right, &left]));

    let error = model.embed_channels(&[&left]).unwrap_err().to_string();
    assert!(error.contains("2 equally long channels"), "{error}");
    let error = model
        .embed_channels(&[&left, &right[1..]])
        .unwrap_err()
        .to_string();
    assert!(error.contains("equally long"), "{error}");
    let mono = build_wav(wav_config(1), 6).model;
    assert!(mono.embed_channels(&[&left, &right]).is_err());
}

// ---------------------------------------------------------------------------------------
// 2. Gradients reach only the context encoder and predictor
// ---------------------------------------------------------------------------------------

/// Every trainable variable has a non-zero gradient; no target variable has any.
fn assert_gradients_stay_in_trainable<M>(built: &Built<M>, grads: &GradStore) {
    let trainable = named_vars(&built.trainable);
    assert!(
        trainable
            .iter()
            .any(|(name, _)| name.starts_with("predictor."))
    );
    assert!(
        trainable
            .iter()
            .any(|(name, _)| name.starts_with("encoder."))
    );
    for (name, var) in trainable {
        let grad = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient reached trainable {name}"));
        let largest = values(grad).iter().fold(0f32, |m, g| m.max(g.abs()));
        assert!(largest > 0.0, "gradient of trainable {name} is all zero");
        assert!(
            largest.is_finite(),
            "gradient of trainable {name} is not finite"
        );
    }
    for (name, var) in named_vars(&built.target) {
        if let Some(grad) = grads.get(var.as_tensor()) {
            assert!(
                values(grad).iter().all(|&g| g == 0.0),
                "target encoder variable {name} received a gradient"
            );
        }
    }
}

#[test]
fn pupu_gradients_reach_only_context_encoder_and_predictor() {
    let config = pupu_config();
    let built = build_pupu(config.clone(), 6);
    let mut rng = ChaCha8Rng::seed_from_u64(60);
    let mel = pupu_batch(&built.model, 2, &mut rng);
    let masks = pupu_masks(&config, 2, &mut rng);
    let grads = built
        .model
        .loss(&mel, &masks)
        .unwrap()
        .loss
        .backward()
        .unwrap();
    assert_gradients_stay_in_trainable(&built, &grads);
}

#[test]
fn wav_gradients_reach_only_context_encoder_and_predictor() {
    for ears in [1, 2] {
        let config = wav_config(ears);
        let built = build_wav(config.clone(), 7);
        // WavJEPA-Nat has a waveform encoder per ear; both must learn.
        let names: Vec<String> = named_vars(&built.trainable)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for ear in 0..ears {
            let prefix = format!("encoder.waveform.{ear}.");
            assert!(names.iter().any(|n| n.starts_with(&prefix)), "{prefix}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(70);
        let audio = wav_batch(&config, 2, &mut rng);
        let masks = wav_masks(&config, 2, &mut rng);
        let grads = built
            .model
            .loss(&audio, &masks)
            .unwrap()
            .loss
            .backward()
            .unwrap();
        assert_gradients_stay_in_trainable(&built, &grads);
    }
}

// ---------------------------------------------------------------------------------------
// 3. EMA
// ---------------------------------------------------------------------------------------

fn var_of(values: &[f32]) -> Var {
    Var::from_tensor(&Tensor::new(values, &Device::Cpu).unwrap()).unwrap()
}

#[test]
fn ema_update_is_momentum_weighted_average() {
    let target = VarMap::new();
    let online = VarMap::new();
    let entries = [
        ("a.weight", [1.0f32, -2.0, 0.5], [3.0f32, 2.0, -0.5]),
        ("b.bias", [0.25f32, 8.0, -1.0], [0.0f32, -8.0, 4.0]),
    ];
    for (name, t, o) in entries {
        target
            .data()
            .lock()
            .unwrap()
            .insert(name.into(), var_of(&t));
        online
            .data()
            .lock()
            .unwrap()
            .insert(name.into(), var_of(&o));
    }
    let pairs = ema_pairs(&target, &online).unwrap();
    assert_eq!(pairs.len(), 2);

    // 0.75 and 0.25 are exact in binary, so the expected values are exact.
    ema_update(&pairs, 0.75).unwrap();
    let targets = target.data().lock().unwrap();
    assert_eq!(values(targets["a.weight"].as_tensor()), [1.5, -1.0, 0.25]);
    assert_eq!(values(targets["b.bias"].as_tensor()), [0.1875, 4.0, 0.25]);
    drop(targets);
    // The online weights are read, never written.
    let onlines = online.data().lock().unwrap();
    assert_eq!(values(onlines["a.weight"].as_tensor()), [3.0, 2.0, -0.5]);
    drop(onlines);

    // A momentum near 1, as in training: the target barely moves towards the online weights.
    ema_update(&pairs, 0.996).unwrap();
    let got = values(target.data().lock().unwrap()["a.weight"].as_tensor());
    let expected = [1.5, -1.0, 0.25]
        .iter()
        .zip([3.0, 2.0, -0.5])
        .map(|(t, o)| 0.996 * t + 0.004 * o);
    for (g, e) in got.iter().zip(expected) {
        assert!((f64::from(*g) - e).abs() < 1e-6, "{g} vs {e}");
    }
}

#[test]
fn ema_pairs_match_a_models_variables_by_name() {
    let built = build_pupu(pupu_config(), 8);
    let pairs = ema_pairs(&built.target, &built.trainable).unwrap();
    let target_vars = named_vars(&built.target);
    assert_eq!(pairs.len(), target_vars.len());
    // Every target variable has an `encoder.` trainable twin; the predictor has none.
    assert!(
        target_vars
            .iter()
            .all(|(name, _)| name.starts_with("encoder."))
    );
    let trainable = built.trainable.data().lock().unwrap();
    for (target, online) in &pairs {
        let (name, _) = target_vars
            .iter()
            .find(|(_, v)| v.as_tensor().id() == target.as_tensor().id())
            .expect("pairs hold the map's own target variables");
        assert_eq!(
            trainable[name].as_tensor().id(),
            online.as_tensor().id(),
            "{name} is paired with the trainable variable of the same name"
        );
    }
}

#[test]
fn ema_pairs_reject_a_missing_or_misshapen_partner() {
    let target = VarMap::new();
    let online = VarMap::new();
    target
        .data()
        .lock()
        .unwrap()
        .insert("encoder.extra".into(), var_of(&[1.0]));
    let error = ema_pairs(&target, &online).unwrap_err().to_string();
    assert!(error.contains("encoder.extra"), "{error}");

    online
        .data()
        .lock()
        .unwrap()
        .insert("encoder.extra".into(), var_of(&[1.0, 2.0]));
    let error = ema_pairs(&target, &online).unwrap_err().to_string();
    assert!(
        error.contains("encoder.extra") && error.contains("shape"),
        "{error}"
    );
}

#[test]
fn ema_schedule_ramps_linearly_then_holds() {
    let schedule = EmaSchedule {
        start: 0.99,
        end: 1.0,
        ramp_steps: 100,
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(schedule.momentum(0), 0.99));
    assert!(close(schedule.momentum(25), 0.9925));
    assert!(close(schedule.momentum(50), 0.995));
    assert!(close(schedule.momentum(100), 1.0));
    assert!(close(schedule.momentum(101), 1.0));
    assert!(close(schedule.momentum(10_000), 1.0));
    let steps: Vec<f64> = (0..=100).map(|s| schedule.momentum(s)).collect();
    assert!(
        steps.windows(2).all(|w| w[1] > w[0]),
        "strictly rising ramp"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Pretraining lowers the loss
// ---------------------------------------------------------------------------------------

/// Runs `steps` AdamW steps with EMA updates and fresh masks every step; returns the
/// losses.
fn pretrain<M>(
    built: &Built<M>,
    steps: usize,
    learning_rate: f64,
    mut loss_of_step: impl FnMut(&M, &mut ChaCha8Rng) -> Tensor,
) -> Vec<f32> {
    let mut optimiser = AdamW::new(
        built.trainable.all_vars(),
        ParamsAdamW {
            lr: learning_rate,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )
    .unwrap();
    let pairs = ema_pairs(&built.target, &built.trainable).unwrap();
    let schedule = EmaSchedule {
        start: 0.99,
        end: 1.0,
        ramp_steps: steps,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    (0..steps)
        .map(|step| {
            let loss = loss_of_step(&built.model, &mut rng);
            optimiser.backward_step(&loss).unwrap();
            ema_update(&pairs, schedule.momentum(step)).unwrap();
            scalar(&loss)
        })
        .collect()
}

/// Mean of the first and last ten losses.
fn first_and_last_ten(losses: &[f32]) -> (f32, f32) {
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    (mean(&losses[..10]), mean(&losses[losses.len() - 10..]))
}

#[test]
fn fifty_pupu_steps_lower_the_loss() {
    let config = pupu_config();
    let built = build_pupu(config.clone(), 9);
    let mel = pupu_batch(&built.model, 4, &mut ChaCha8Rng::seed_from_u64(90));
    let losses = pretrain(&built, 50, 3e-3, |model, rng| {
        let masks = pupu_masks(&config, 4, rng);
        model.loss(&mel, &masks).unwrap().loss
    });
    assert!(losses.iter().all(|l| l.is_finite()));
    let (first, last) = first_and_last_ten(&losses);
    assert!(
        last < 0.7 * first,
        "PupuJEPA loss went from {first} to {last}"
    );
}

#[test]
fn fifty_wav_jepa_steps_lower_the_loss() {
    let config = wav_config(1);
    let built = build_wav(config.clone(), 10);
    let audio = wav_batch(&config, 4, &mut ChaCha8Rng::seed_from_u64(100));
    let losses = pretrain(&built, 50, 3e-3, |model, rng| {
        let masks = wav_masks(&config, 4, rng);
        model.loss(&audio, &masks).unwrap().loss
    });
    assert!(losses.iter().all(|l| l.is_finite()));
    let (first, last) = first_and_last_ten(&losses);
    assert!(
        last < 0.7 * first,
        "WavJEPA loss went from {first} to {last}"
    );
}

// ---------------------------------------------------------------------------------------
// 5. Checkpoints
// ---------------------------------------------------------------------------------------

/// Saves both variable maps of `built` as one checkpoint of `dtype` tensors.
fn save_pupu(built: &Built<PupuJepa>, path: &Path, dtype: DType) {
    let mut tensors = checkpoint::tensors_of(&built.trainable, "trainable.", dtype).unwrap();
    tensors.extend(checkpoint::tensors_of(&built.target, "target.", dtype).unwrap());
    let extra = BTreeMap::from([("step".to_string(), "50".to_string())]);
    checkpoint::save(path, PUPU_KIND, built.model.config(), &tensors, &extra).unwrap();
}

/// A freshly built model (other random weights) restored from `path`.
fn restore_pupu(path: &Path) -> std::result::Result<Built<PupuJepa>, CheckpointError> {
    let loaded = checkpoint::load(path, PUPU_KIND, &Device::Cpu)?;
    let config: PupuJepaConfig = loaded.config()?;
    let fresh = build_pupu(config, 12345);
    loaded.restore(&fresh.trainable, "trainable.")?;
    loaded.restore(&fresh.target, "target.")?;
    Ok(fresh)
}

/// Moves the target encoder away from the context encoder, as training does, so that a
/// restore mixing up the two maps would show.
fn drift_target(built: &Built<PupuJepa>) {
    let other = build_pupu(pupu_config(), 777);
    ema_update(&ema_pairs(&built.target, &other.trainable).unwrap(), 0.5).unwrap();
}

#[test]
fn checkpoint_round_trip_reproduces_outputs_bit_for_bit() {
    let scratch = Scratch::new("round-trip");
    let path = scratch.path("model.safetensors");
    let config = pupu_config();
    let original = build_pupu(config.clone(), 11);
    drift_target(&original);
    save_pupu(&original, &path, DType::F32);

    let restored = restore_pupu(&path).unwrap();
    assert_eq!(restored.model.config(), &config);
    let loaded = checkpoint::load(&path, PUPU_KIND, &Device::Cpu).unwrap();
    assert_eq!(loaded.kind, PUPU_KIND);
    assert_eq!(loaded.metadata.get("step").map(String::as_str), Some("50"));

    let mut rng = ChaCha8Rng::seed_from_u64(110);
    let mel = pupu_batch(&original.model, 2, &mut rng);
    let masks = pupu_masks(&config, 2, &mut rng);
    let before = original.model.loss(&mel, &masks).unwrap();
    let after = restored.model.loss(&mel, &masks).unwrap();
    assert_eq!(
        scalar(&before.loss).to_bits(),
        scalar(&after.loss).to_bits()
    );
    assert_eq!(before.target_std.to_bits(), after.target_std.to_bits());
    let predicted =
        |b: &Built<PupuJepa>| values(&b.model.predict(&mel, &masks, false).unwrap().latents);
    assert_eq!(predicted(&original), predicted(&restored));
    let audio = harmonic_tone(3000, 16_000, &mut rng);
    let embedded = |b: &Built<PupuJepa>| -> Vec<Vec<f32>> {
        b.model.embed(&audio).unwrap().iter().map(values).collect()
    };
    assert_eq!(embedded(&original), embedded(&restored));

    // The inference loader builds the same model from the file alone.
    let loaded = PupuJepa::load(&path, &Device::Cpu).unwrap();
    assert_eq!(
        values(&loaded.predict(&mel, &masks, false).unwrap().latents),
        predicted(&original)
    );
    let wrong = tessera_core::models::WavJepa::load(&path, 1, &Device::Cpu).unwrap_err();
    assert!(
        matches!(wrong, CheckpointError::WrongKind { .. }),
        "{wrong}"
    );
}

#[test]
fn checkpoint_in_f16_restores_within_f16_precision() {
    let scratch = Scratch::new("f16");
    let path = scratch.path("model-f16.safetensors");
    let original = build_pupu(pupu_config(), 13);
    drift_target(&original);
    save_pupu(&original, &path, DType::F16);
    let f32_size = {
        let f32_path = scratch.path("model-f32.safetensors");
        save_pupu(&original, &f32_path, DType::F32);
        std::fs::metadata(f32_path).unwrap().len()
    };
    assert!(std::fs::metadata(&path).unwrap().len() < f32_size * 6 / 10);

    let restored = restore_pupu(&path).unwrap();
    for (map, restored_map) in [
        (&original.trainable, &restored.trainable),
        (&original.target, &restored.target),
    ] {
        let restored_vars = restored_map.data().lock().unwrap();
        for (name, var) in named_vars(map) {
            let restored_var = &restored_vars[&name];
            assert_eq!(restored_var.dtype(), DType::F32, "{name}");
            for (a, b) in values(var.as_tensor()).iter().zip(values(restored_var)) {
                // Half of f16's last place, relative; absolute below its normal range.
                let tolerance = a.abs() * 2f32.powi(-11) + 2f32.powi(-25);
                assert!((a - b).abs() <= tolerance, "{name}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn truncated_checkpoint_is_invalid_and_names_the_file() {
    let scratch = Scratch::new("truncated");
    let path = scratch.path("model.safetensors");
    save_pupu(&build_pupu(pupu_config(), 14), &path, DType::F32);
    let bytes = std::fs::read(&path).unwrap();
    let cut = scratch.path("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();

    let error = checkpoint::load(&cut, PUPU_KIND, &Device::Cpu).unwrap_err();
    assert!(
        matches!(error, CheckpointError::Invalid { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&cut.display().to_string()),
        "{error}"
    );

    let missing = scratch.path("absent.safetensors");
    let error = checkpoint::load(&missing, PUPU_KIND, &Device::Cpu).unwrap_err();
    assert!(matches!(error, CheckpointError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains(&missing.display().to_string()));
}

#[test]
fn checkpoint_of_another_kind_is_refused() {
    let scratch = Scratch::new("kind");
    let path = scratch.path("model.safetensors");
    save_pupu(&build_pupu(pupu_config(), 15), &path, DType::F32);
    let error = checkpoint::load(&path, "wav-jepa", &Device::Cpu).unwrap_err();
    match &error {
        CheckpointError::WrongKind {
            found, expected, ..
        } => assert_eq!((found.as_str(), expected.as_str()), (PUPU_KIND, "wav-jepa")),
        other => panic!("expected WrongKind, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn checkpoint_of_another_config_names_the_mismatched_tensor() {
    let scratch = Scratch::new("config");
    let path = scratch.path("model.safetensors");
    save_pupu(&build_pupu(pupu_config(), 16), &path, DType::F32);
    let loaded = checkpoint::load(&path, PUPU_KIND, &Device::Cpu).unwrap();

    let wider = PupuJepaConfig {
        encoder: TransformerConfig {
            dim: 24,
            ..pupu_config().encoder
        },
        ..pupu_config()
    };
    let model = build_pupu(wider, 17);
    let error = loaded.restore(&model.trainable, "trainable.").unwrap_err();
    match &error {
        CheckpointError::WrongShape {
            name,
            found,
            expected,
            ..
        } => {
            assert!(name.starts_with("trainable."), "{name}");
            assert_ne!(found, expected);
            assert!(error.to_string().contains(name.as_str()));
        }
        other => panic!("expected WrongShape, got {other:?}"),
    }

    let deeper = PupuJepaConfig {
        encoder: TransformerConfig {
            depth: 3,
            ..pupu_config().encoder
        },
        ..pupu_config()
    };
    let model = build_pupu(deeper, 18);
    let error = loaded.restore(&model.target, "target.").unwrap_err();
    match &error {
        CheckpointError::MissingTensor { name, .. } => {
            assert!(
                name.starts_with("target.encoder.transformer.blocks.2."),
                "{name}"
            );
            let message = error.to_string();
            assert!(message.contains(name.as_str()), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }
}

#[test]
fn checkpoint_of_another_format_version_is_refused() {
    let scratch = Scratch::new("version");
    let path = scratch.path("future.safetensors");
    let built = build_pupu(pupu_config(), 19);
    let tensors = checkpoint::tensors_of(&built.trainable, "trainable.", DType::F32).unwrap();
    let bumped = (FORMAT_VERSION + 1).to_string();
    let metadata = std::collections::HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".to_string(), bumped.clone()),
        ("kind".to_string(), PUPU_KIND.to_string()),
        (
            "config".to_string(),
            serde_json::to_string(built.model.config()).unwrap(),
        ),
    ]);
    safetensors::serialize_to_file(tensors.iter(), Some(metadata), &path).unwrap();

    let error = checkpoint::load(&path, PUPU_KIND, &Device::Cpu).unwrap_err();
    match &error {
        CheckpointError::WrongVersion { found, .. } => assert_eq!(found, &bumped),
        other => panic!("expected WrongVersion, got {other:?}"),
    }
    assert!(error.to_string().contains(&path.display().to_string()));
}

// ---------------------------------------------------------------------------------------
// 6. Config errors
// ---------------------------------------------------------------------------------------

#[test]
fn pupu_config_rejects_patches_that_do_not_tile() {
    assert!(pupu_config().validate().is_ok());
    let bad_freq = PupuJepaConfig {
        patch_freq: 5,
        ..pupu_config()
    };
    let error = bad_freq.validate().unwrap_err().to_string();
    assert!(error.contains("do not tile"), "{error}");
    let bad_time = PupuJepaConfig {
        patch_time: 6,
        ..pupu_config()
    };
    assert!(bad_time.validate().is_err());
    // The model refuses to build from it, too.
    let (trainable, target) = (VarMap::new(), VarMap::new());
    let built = PupuJepa::new(
        bad_freq,
        VarBuilder::from_varmap(&trainable, DType::F32, &Device::Cpu),
        VarBuilder::from_varmap(&target, DType::F32, &Device::Cpu),
    );
    assert!(built.is_err());
}

#[test]
fn wav_config_rejects_top_k_beyond_depth_and_three_ears() {
    assert!(wav_config(1).validate().is_ok());
    assert!(wav_config(2).validate().is_ok());
    let deep_top_k = WavJepaConfig {
        top_k: 3,
        ..wav_config(1)
    };
    let error = deep_top_k.validate().unwrap_err().to_string();
    assert!(error.contains("top_k"), "{error}");
    let three_ears = wav_config(3);
    let error = three_ears.validate().unwrap_err().to_string();
    assert!(error.contains("ears"), "{error}");
}

#[test]
fn region_attention_is_a_distribution_over_the_patch_grid() {
    let config = pupu_config();
    let built = build_pupu(config.clone(), 3);
    let mut rng = ChaCha8Rng::seed_from_u64(30);
    let mel = pupu_batch(&built.model, 1, &mut rng);
    let grid = config.grid();
    let maps = built.model.region_attention(&mel, 1..3, 0..2).unwrap();
    assert_eq!(
        maps.dims(),
        [
            config.predictor.depth,
            config.predictor.heads,
            grid.freq,
            grid.time
        ]
    );
    let flat = maps.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for map in flat.chunks(grid.len()) {
        assert!((map.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(
            map.iter().all(|&w| w > 0.0),
            "softmax leaves no patch at zero"
        );
    }
    // The map places each key where its patch is: check against the raw predictor weights.
    let inside = |i: usize| (1..3).contains(&(i / grid.time)) && (0..2).contains(&(i % grid.time));
    let (target, context): (Vec<usize>, Vec<usize>) = (0..grid.len()).partition(|&i| inside(i));
    let masks = BatchMasks {
        context: vec![context.clone()],
        targets: vec![vec![target.clone()]],
    };
    let raw = built.model.predict(&mel, &masks, true).unwrap().attention[0]
        .get(0)
        .unwrap()
        .get(0)
        .unwrap()
        .narrow(0, context.len(), target.len())
        .unwrap()
        .mean(0)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let first_layer_head = &flat[..grid.len()];
    for (key, &token) in context.iter().chain(&target).enumerate() {
        assert!(
            (first_layer_head[token] - raw[key]).abs() < 1e-6,
            "patch {token}"
        );
    }
    assert!(
        built
            .model
            .region_attention(&mel, 0..grid.freq, 0..grid.time)
            .is_err()
    );
    assert!(
        built
            .model
            .region_attention(&mel, 0..1, 0..grid.time + 1)
            .is_err()
    );
}
