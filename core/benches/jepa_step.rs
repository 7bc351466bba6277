//! Training-step time of PupuJEPA-Tiny and WavJEPA-Tiny (the default configs), batch 16:
//! the loss forward alone, forward + backward, and a full step (forward, backward, the
//! CLI's AdamW on the context encoder and predictor, EMA update of the target encoder).
//!
//! Before timing, it writes both configs, the masks it drew and the trainable parameter
//! counts to `<target>/jepa_step_masks.json`, so bench/jepa_step_reference.py builds the
//! same networks in PyTorch (checking the counts) and gathers exactly the same context
//! and target tokens.

mod common;

use std::hint::black_box;
use std::time::Duration;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{VarBuilder, VarMap};
use criterion::{Criterion, criterion_group};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tessera_core::masking::BatchMasks;
use tessera_core::models::ema::{EmaSchedule, ema_pairs, ema_update};
use tessera_core::models::{JepaLoss, PupuJepa, PupuJepaConfig, WavJepa, WavJepaConfig};
use tessera_core::optim::{AdamW, OptimConfig};

/// Clips per training batch, as in the Tiny training configs.
const BATCH: usize = 16;

/// AdamW's learning rate, as in bench/jepa_step_reference.py.
const LEARNING_RATE: f64 = 1e-4;

/// Where the reference script finds the configs and masks, in cargo's target folder.
const MASKS_FILE: &str = "jepa_step_masks.json";

/// The trainable and EMA variables of one model, built the way training builds them.
struct Vars {
    trainable: VarMap,
    target: VarMap,
}

impl Vars {
    fn new() -> Self {
        Self {
            trainable: VarMap::new(),
            target: VarMap::new(),
        }
    }

    fn builders(&self, device: &Device) -> (VarBuilder<'static>, VarBuilder<'static>) {
        (
            VarBuilder::from_varmap(&self.trainable, DType::F32, device),
            VarBuilder::from_varmap(&self.target, DType::F32, device),
        )
    }

    /// Parameters AdamW updates; the reference script checks its model has as many.
    fn trainable_params(&self) -> usize {
        self.trainable
            .all_vars()
            .iter()
            .map(|var| var.elem_count())
            .sum()
    }
}

/// Uniform noise in [-1, 1): the values do not change the work, only the shape does.
fn noise(shape: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> Result<Tensor> {
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(values, shape, device)
}

fn masks_json(masks: &BatchMasks) -> serde_json::Value {
    json!({ "context": masks.context, "targets": masks.targets })
}

/// Times forward, forward + backward and the full training step of one model.
fn bench_model(
    c: &mut Criterion,
    name: &str,
    vars: &Vars,
    loss: impl Fn() -> Result<JepaLoss>,
) -> Result<()> {
    // The target encoder starts as a copy of the context encoder, as in training.
    let pairs = ema_pairs(&vars.target, &vars.trainable)?;
    ema_update(&pairs, 0.0)?;
    // The CLI's optimiser, at the reference script's learning rate and weight decay.
    let trainable = vars.trainable.data().lock().expect("VarMap lock").clone();
    let config = OptimConfig {
        learning_rate: LEARNING_RATE,
        weight_decay: 0.04,
        ..OptimConfig::default()
    };
    let mut optimizer = AdamW::new(config, &trainable)?;
    let momentum = EmaSchedule::default().momentum(0);
    let mut group = c.benchmark_group("jepa_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(format!("{name}_forward"), |b| {
        b.iter(|| black_box(loss().expect("loss").loss))
    });
    group.bench_function(format!("{name}_forward_backward"), |b| {
        b.iter(|| black_box(loss().expect("loss").loss.backward().expect("backward")))
    });
    group.bench_function(format!("{name}_train_step"), |b| {
        b.iter(|| {
            let grads = loss().expect("loss").loss.backward().expect("backward");
            optimizer.step(&grads, LEARNING_RATE).expect("AdamW step");
            ema_update(&pairs, momentum).expect("EMA update");
        })
    });
    group.finish();
    Ok(())
}

fn jepa_step(c: &mut Criterion) {
    let device = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(5);

    let pupu_config = PupuJepaConfig::default();
    let pupu_vars = Vars::new();
    let (trainable, target) = pupu_vars.builders(&device);
    let pupu = PupuJepa::new(pupu_config.clone(), trainable, target).expect("PupuJEPA-Tiny");
    let mel_shape = [BATCH, pupu_config.mel.n_mels, pupu_config.clip_frames];
    let mel = noise(&mel_shape, &mut rng, &device).expect("log-mel batch");
    let pupu_masks = pupu_config
        .masking
        .sample_batch(pupu_config.grid(), BATCH, &mut rng)
        .expect("multi-block masks");

    let wav_config = WavJepaConfig::default();
    let wav_vars = Vars::new();
    let (trainable, target) = wav_vars.builders(&device);
    let wav = WavJepa::new(wav_config.clone(), trainable, target).expect("WavJEPA-Tiny");
    let wave_shape = [BATCH, wav_config.ears, wav_config.clip_samples];
    let waves = noise(&wave_shape, &mut rng, &device).expect("waveform batch");
    let wav_masks = wav_config
        .masking
        .sample_batch(BATCH, wav_config.frames(), &mut rng)
        .expect("WavJEPA masks");

    let shared = json!({
        "batch": BATCH,
        "pupu_jepa": {
            "config": pupu_config,
            "trainable_params": pupu_vars.trainable_params(),
            "input_shape": mel_shape,
            "masks": masks_json(&pupu_masks),
        },
        "wav_jepa": {
            "config": wav_config,
            "trainable_params": wav_vars.trainable_params(),
            "frames": wav_config.frames(),
            "input_shape": wave_shape,
            "masks": masks_json(&wav_masks),
        },
    });
    let path = common::target_dir().join(MASKS_FILE);
    std::fs::write(&path, shared.to_string())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));

    bench_model(c, "pupu_jepa_tiny", &pupu_vars, || {
        pupu.loss(&mel, &pupu_masks)
    })
    .expect("PupuJEPA-Tiny bench");
    bench_model(c, "wav_jepa_tiny", &wav_vars, || {
        wav.loss(&waves, &wav_masks)
    })
    .expect("WavJEPA-Tiny bench");
}

criterion_group!(benches, jepa_step);

fn main() {
    common::main_with_cli_threads(benches);
}
