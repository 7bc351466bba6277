//! The multi-view disentanglement loop: the pairs in a seeded order per epoch, eq. (5) with
//! γ resolved before the first step, AdamW, the validation loss at every checkpoint (the
//! paper keeps the model with the lowest), metrics, a plot and atomic checkpoints that resume
//! exactly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure};
use candle_core::{DType, Device, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint::tensors_of;
use tessera_core::models::Multiview;
use tessera_core::models::multiview::MultiviewLoss;
use tessera_core::nn::seeded_normal_init;

use super::config::{Gamma, MultiviewRunConfig};
use super::data::MultiviewData;
use crate::metrics_csv::{MetricsRow, read_rows, recent_mean, write_rows};
use crate::plot::{Curve, render_curves_png};
use crate::progress;
use crate::run_folder::{self, CONFIG_FILE, METRICS_FILE, MODEL_FILE, PLOT_FILE, Schedule};
use tessera_core::optim::AdamW;

/// The model with the lowest validation loss so far (written when validation data is given).
pub const BEST_FILE: &str = "best.safetensors";

/// Batches of the first epoch over which a measured γ averages both loss terms: enough to
/// smooth one batch's luck, few enough to cost nothing next to training.
const GAMMA_BATCHES: usize = 16;

/// How and where a run executes.
pub struct MultiviewOptions {
    /// The run folder.
    pub out: PathBuf,
    /// Continue from the folder's last checkpoint.
    pub resume: bool,
    /// Stop after this many steps in this session (the run can be resumed later).
    pub stop_after: Option<usize>,
    /// Where tensors live.
    pub device: Device,
}

/// One logged step.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiviewMetricRow {
    /// Steps completed, this one included.
    pub step: usize,
    /// Eq. (5), what the step descended.
    pub total: f64,
    /// `L_rec`, the reconstruction MSE before γ.
    pub reconstruction: f64,
    /// `c^SIM` of the shared codes (logged whatever the objective type).
    pub similarity: f64,
    /// `c^SEP` of the private codes (logged whatever the objective type).
    pub separation: f64,
    pub learning_rate: f64,
    /// Wall time of the step.
    pub seconds: f64,
    /// Eq. (5) on the validation pairs at checkpoint steps (NaN elsewhere or without them).
    pub valid_total: f64,
    /// `L_rec` on the validation pairs, when `valid_total` is.
    pub valid_reconstruction: f64,
}

/// What a session did.
#[derive(Debug)]
pub struct MultiviewOutcome {
    /// Steps completed in the run so far.
    pub steps_done: usize,
    /// Steps of the whole run (epochs × full batches of pairs per epoch).
    pub steps: usize,
    /// Whether the run reached its last step (final model files written).
    pub finished: bool,
    /// Every logged step of the run.
    pub metrics: Vec<MultiviewMetricRow>,
    /// The γ of eq. (5) the run trains with.
    pub gamma: f64,
    /// The model to evaluate once finished: [`BEST_FILE`] when there was validation data,
    /// the final `model.safetensors` otherwise.
    pub model: PathBuf,
}

/// Trains the multi-view disentangler of `config` on the pairs of `data` in `options.out`;
/// with `validation`, scores its pairs at every checkpoint and keeps the best model.
pub fn train(
    config: &MultiviewRunConfig,
    data: &MultiviewData,
    validation: Option<&MultiviewData>,
    options: &MultiviewOptions,
) -> anyhow::Result<MultiviewOutcome> {
    let train = &config.train;
    ensure!(
        train.batch_size >= 2,
        "batch_size must be at least 2: InfoNCE needs negatives and VICReg a variance"
    );
    for (set, what) in [(Some(data), "training"), (validation, "validation")] {
        let Some(set) = set else { continue };
        ensure!(
            set.latent_dim() == config.model.latent_dim,
            "the {what} latents are {} wide but model.latent_dim is {}",
            set.latent_dim(),
            config.model.latent_dim
        );
        ensure!(
            set.pairs().len() >= train.batch_size,
            "the {what} data has {} pairs, fewer than one batch of {}",
            set.pairs().len(),
            train.batch_size
        );
    }
    let steps_per_epoch = data.pairs().len() / train.batch_size;
    let steps = train.epochs * steps_per_epoch;
    let out = &options.out;
    run_folder::open(
        out,
        options.resume,
        || {
            let mut saved = MultiviewRunConfig::read(&out.join(CONFIG_FILE))?;
            saved.train.epochs = train.epochs;
            Ok(&saved == config)
        },
        &config.to_toml()?,
        Schedule {
            steps,
            batch_size: train.batch_size,
            checkpoint_every: train.checkpoint_every,
        },
    )?;

    let device = &options.device;
    let data = data.to_device(device)?;
    let validation = validation.map(|v| v.to_device(device)).transpose()?;
    let vars = VarMap::new();
    let model = Multiview::new(
        config.model.clone(),
        VarBuilder::from_varmap(&vars, DType::F32, device),
    )?;
    seeded_normal_init(&vars, train.seed)?;
    let order = PairOrder {
        seed: train.seed,
        pairs: data.pairs().len(),
        batch_size: train.batch_size,
    };
    // Resolved from the untrained model, before a resumed run restores its weights, so a
    // resumed run trains with the same γ.
    let gamma = match train.gamma {
        Gamma::Fixed(gamma) => {
            ensure!(
                gamma.is_finite() && gamma > 0.0,
                "train.gamma must be positive, got {gamma}"
            );
            gamma
        }
        Gamma::Measured => measure_gamma(&model, &data, &order)?,
    };
    let named: HashMap<String, Var> = vars.data().lock().expect("VarMap lock").clone();
    let mut optim = AdamW::new(train.optim, &named)?;

    let mut metrics = Vec::new();
    let mut start = 0;
    if options.resume {
        let (saved, step, logged) = run_folder::resume(out, Multiview::KIND, device)?;
        saved.restore(&vars, "trainable.")?;
        optim.restore(&saved.tensors, "optim.", step)?;
        (start, metrics) = (step, logged);
    }
    let mut best = metrics
        .iter()
        .map(|row: &MultiviewMetricRow| row.valid_total)
        .filter(|loss| loss.is_finite())
        .fold(f64::INFINITY, f64::min);
    let end = options.stop_after.map_or(steps, |n| (start + n).min(steps));
    eprintln!(
        "training on {} pairs of {} clips, {steps_per_epoch} steps per epoch, γ = {gamma:.4}",
        data.pairs().len(),
        data.clips()
    );

    let bar = progress::bar(end.saturating_sub(start) as u64, Multiview::KIND);
    let mut shuffled = order.epoch(start / steps_per_epoch);
    for step in start..end {
        let began = Instant::now();
        if step % steps_per_epoch == 0 {
            shuffled = order.epoch(step / steps_per_epoch);
        }
        let first = (step % steps_per_epoch) * train.batch_size;
        let batch = &shuffled[first..first + train.batch_size];
        let (one, two) = data.views(batch)?;
        let loss = model.loss(&one, &two, gamma)?;
        let values = LossValues::of(&loss)?;
        if !values.total.is_finite() {
            bail!(
                "the loss became {} at step {}: training diverged. The last checkpoint in {} is intact; lower the learning rate and --resume",
                values.total,
                step + 1,
                out.display()
            );
        }
        let grads = loss.total.backward()?;
        let learning_rate = train.optim.learning_rate_at(step, steps);
        optim.step(&grads, learning_rate)?;
        let done = step + 1;
        // Validation on the run's own schedule, not where a session happens to stop, so an
        // interrupted run picks the same best model as an uninterrupted one.
        let scheduled = done % train.checkpoint_every == 0 || done == steps;
        let valid = match &validation {
            Some(set) if scheduled => Some(validation_loss(&model, set, train.batch_size, gamma)?),
            _ => None,
        };
        let seconds = began.elapsed().as_secs_f64();
        metrics.push(MultiviewMetricRow {
            step: done,
            total: values.total,
            reconstruction: values.reconstruction,
            similarity: values.similarity,
            separation: values.separation,
            learning_rate,
            seconds,
            valid_total: valid.map_or(f64::NAN, |v| v.total),
            valid_reconstruction: valid.map_or(f64::NAN, |v| v.reconstruction),
        });
        bar.set_message(format!(
            "loss {:.4} · rec {:.4} · {seconds:.3} s/step",
            values.total, values.reconstruction
        ));
        bar.inc(1);

        if let Some(valid) = valid
            && valid.total < best
        {
            best = valid.total;
            run_folder::write_model(
                out,
                BEST_FILE,
                DType::F32,
                Multiview::KIND,
                &config.model,
                &vars,
                done,
            )?;
        }
        if scheduled || done == end {
            let mut tensors = tensors_of(&vars, "trainable.", DType::F32)?;
            tensors.extend(optim.state("optim.")?);
            run_folder::save_checkpoint(out, Multiview::KIND, &config.model, &tensors, done)?;
            write_rows(&out.join(METRICS_FILE), &metrics)?;
            plot_metrics(&metrics, validation.is_some(), &out.join(PLOT_FILE))?;
            let mean = |value: fn(&MultiviewMetricRow) -> f64| {
                recent_mean(&metrics, train.checkpoint_every, value)
            };
            let valid_text = valid.map_or(String::new(), |v| {
                format!(", validation {:.4} (rec {:.4})", v.total, v.reconstruction)
            });
            bar.suspend(|| {
                eprintln!(
                    "step {done}/{steps}: loss {:.4}, rec {:.4}, sim {:.4}, sep {:.4}{valid_text}, {:.3} s/step",
                    mean(|r| r.total),
                    mean(|r| r.reconstruction),
                    mean(|r| r.similarity),
                    mean(|r| r.separation),
                    mean(|r| r.seconds)
                )
            });
        }
    }
    bar.finish_and_clear();
    let done = end.max(start);
    let finished = done >= steps;
    if finished && end > start {
        run_folder::write_models(out, Multiview::KIND, &config.model, &vars, done)?;
    }
    Ok(MultiviewOutcome {
        steps_done: done,
        steps,
        finished,
        metrics,
        gamma,
        model: out.join(if validation.is_some() {
            BEST_FILE
        } else {
            MODEL_FILE
        }),
    })
}

/// The order pairs are visited in: a fresh seeded permutation every epoch, cut into full
/// batches (a last partial batch is dropped, since InfoNCE's negatives and VICReg's
/// statistics depend on the batch size).
struct PairOrder {
    seed: u64,
    pairs: usize,
    batch_size: usize,
}

impl PairOrder {
    /// The pair indices of `epoch`, in visiting order. Stream 0 of the seed draws the
    /// initial weights; epoch `e` shuffles with stream `e + 1`.
    fn epoch(&self, epoch: usize) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch as u64 + 1);
        let mut order: Vec<usize> = (0..self.pairs).collect();
        order.shuffle(&mut rng);
        order
    }
}

/// A loss's parts as numbers.
#[derive(Debug, Clone, Copy)]
struct LossValues {
    total: f64,
    reconstruction: f64,
    similarity: f64,
    separation: f64,
    disentanglement: f64,
}

impl LossValues {
    fn of(loss: &MultiviewLoss) -> candle_core::Result<Self> {
        let value = |t: &candle_core::Tensor| -> candle_core::Result<f64> {
            Ok(f64::from(t.to_scalar::<f32>()?))
        };
        Ok(Self {
            total: value(&loss.total)?,
            reconstruction: value(&loss.reconstruction)?,
            similarity: value(&loss.similarity)?,
            separation: value(&loss.separation)?,
            disentanglement: value(&loss.disentanglement)?,
        })
    }
}

/// `|L_dis| / L_rec` of `model`, each averaged over the first [`GAMMA_BATCHES`] batches of
/// epoch 0.
fn measure_gamma(
    model: &Multiview,
    data: &MultiviewData,
    order: &PairOrder,
) -> anyhow::Result<f64> {
    let pairs = order.epoch(0);
    let (mut reconstruction, mut disentanglement, mut batches) = (0.0, 0.0, 0);
    for batch in pairs.chunks_exact(order.batch_size).take(GAMMA_BATCHES) {
        let (one, two) = data.views(batch)?;
        // γ only scales the total, which is not read here.
        let values = LossValues::of(&model.loss(&one, &two, 1.0)?)?;
        reconstruction += values.reconstruction;
        disentanglement += values.disentanglement;
        batches += 1;
    }
    let gamma = (disentanglement / reconstruction).abs();
    ensure!(
        gamma.is_finite() && gamma > 0.0,
        "cannot measure γ: the untrained model's reconstruction loss is {} and its \
         disentanglement loss {}; set train.gamma = {{ fixed = … }}",
        reconstruction / batches as f64,
        disentanglement / batches as f64
    );
    Ok(gamma)
}

/// Eq. (5) and `L_rec` averaged over the validation pairs, in order, in full batches.
fn validation_loss(
    model: &Multiview,
    set: &MultiviewData,
    batch_size: usize,
    gamma: f64,
) -> anyhow::Result<ValidationLoss> {
    let indices: Vec<usize> = (0..set.pairs().len()).collect();
    let (mut total, mut reconstruction, mut batches) = (0.0, 0.0, 0);
    for batch in indices.chunks_exact(batch_size) {
        let (one, two) = set.views(batch)?;
        let values = LossValues::of(&model.loss(&one, &two, gamma)?)?;
        total += values.total;
        reconstruction += values.reconstruction;
        batches += 1;
    }
    Ok(ValidationLoss {
        total: total / batches as f64,
        reconstruction: reconstruction / batches as f64,
    })
}

/// The validation pairs' mean loss.
#[derive(Debug, Clone, Copy)]
struct ValidationLoss {
    total: f64,
    reconstruction: f64,
}

impl MetricsRow for MultiviewMetricRow {
    const HEADER: &'static str = "step,total,reconstruction,similarity,separation,learning_rate,seconds,valid_total,valid_reconstruction";

    fn values(&self) -> Vec<f64> {
        vec![
            self.step as f64,
            self.total,
            self.reconstruction,
            self.similarity,
            self.separation,
            self.learning_rate,
            self.seconds,
            self.valid_total,
            self.valid_reconstruction,
        ]
    }

    fn from_values(v: &[f64]) -> Self {
        Self {
            step: v[0] as usize,
            total: v[1],
            reconstruction: v[2],
            similarity: v[3],
            separation: v[4],
            learning_rate: v[5],
            seconds: v[6],
            valid_total: v[7],
            valid_reconstruction: v[8],
        }
    }
}

/// Reads a metrics file written by this loop.
pub fn read_metrics(path: &Path) -> anyhow::Result<Vec<MultiviewMetricRow>> {
    read_rows(path)
}

fn plot_metrics(rows: &[MultiviewMetricRow], validated: bool, path: &Path) -> anyhow::Result<()> {
    let curve = |label: &str, value: fn(&MultiviewMetricRow) -> f64| Curve {
        label: label.to_owned(),
        points: rows
            .iter()
            .map(|r| (r.step as f64, value(r)))
            .filter(|(_, v)| v.is_finite())
            .collect(),
    };
    let mut curves = vec![
        curve("total loss (eq. 5)", |r| r.total),
        curve("reconstruction MSE", |r| r.reconstruction),
        curve("similarity (shared)", |r| r.similarity),
        curve("separation (private)", |r| r.separation),
    ];
    if validated {
        curves.push(curve("validation total loss", |r| r.valid_total));
    }
    render_curves_png("multi-view disentanglement", &curves, path)
}
