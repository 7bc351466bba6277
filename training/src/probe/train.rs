//! Training a probe on frozen features: inputs standardised with the training clips'
//! statistics, Adam over a grid of learning rates, early stopping on a validation set, the
//! learning rate with the best validation score kept (HEAR's protocol).

use std::collections::HashMap;

use anyhow::{bail, ensure};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tessera_core::models::probe::LAYER_LOGITS;
use tessera_core::models::{LayerMix, ProbeArchitecture, ProbeHead, ProbeHeadConfig};
use tessera_core::nn::{binary_cross_entropy_with_logits, cross_entropy, seeded_normal_init};

use super::scores::ProbeScores;
use super::targets::Targets;
use tessera_core::optim::{AdamW, OptimConfig};

/// The layer-mix weights learn at this multiple of the head's learning rate. At the head's
/// rate, Adam moves each weight logit by about the learning rate per step, so within the
/// few hundred steps a probe on a small data set trains, the mix stays near the uniform
/// mean while an MLP has long fitted the training clips through it; a planted signal in one
/// layer of two then reached 0.82 test accuracy through the learned mix against 0.99 with
/// that layer alone; at ten times the rate the mix reaches 0.99 too (`planted_signal.rs`).
const LAYER_MIX_LEARNING_RATE_FACTOR: f64 = 10.0;

/// Frozen features of some clips and what a probe should predict from them.
#[derive(Debug, Clone)]
pub struct Features {
    /// Per layer, `(clips, dim)` f32 (e.g. [`super::ClipEmbeddings::layers`]).
    pub layers: Vec<Tensor>,
    /// The clips' classes.
    pub targets: Targets,
}

impl Features {
    /// The clips at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> anyhow::Result<Self> {
        Ok(Self {
            layers: select_rows(&self.layers, indices)?,
            targets: self.targets.subset(indices),
        })
    }
}

/// Rows `indices` (in that order) of every `(clips, dim)` layer.
pub fn select_rows(layers: &[Tensor], indices: &[usize]) -> anyhow::Result<Vec<Tensor>> {
    let index = Tensor::from_vec(
        indices.iter().map(|&i| i as u32).collect::<Vec<_>>(),
        indices.len(),
        &Device::Cpu,
    )?;
    Ok(layers
        .iter()
        .map(|layer| layer.index_select(&index, 0))
        .collect::<candle_core::Result<_>>()?)
}

/// How a probe is trained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeConfig {
    /// Linear layer or HEAR's MLP.
    pub architecture: ProbeArchitecture,
    /// Which layers the probe reads.
    pub mix: LayerMix,
    /// Dropout on the input while training (the multi-view paper's linear probes use 0.5).
    pub input_dropout: f64,
    /// Learning rates tried, each from the same initialisation; the best on validation wins.
    pub learning_rates: Vec<f64>,
    /// Most passes over the training clips per learning rate.
    pub max_epochs: usize,
    /// Epochs without a better validation result before a run stops.
    pub patience: usize,
    /// Clips per optimiser step.
    pub batch_size: usize,
    /// Seeds the initialisation, the batch order and the dropout masks.
    pub seed: u64,
}

impl ProbeConfig {
    /// HEAR's learning-rate grid.
    pub const HEAR_LEARNING_RATES: [f64; 4] = [3.2e-3, 1e-3, 3.2e-4, 1e-4];

    /// HEAR's MLP probe: 1024 hidden units, dropout 0.1, batch norm, Adam over
    /// [`Self::HEAR_LEARNING_RATES`], batches of 1024, at most 500 epochs, early stopping
    /// after 20 epochs without improvement.
    pub fn hear_mlp(mix: LayerMix, seed: u64) -> Self {
        Self {
            architecture: ProbeArchitecture::Mlp {
                hidden: 1024,
                dropout: 0.1,
            },
            mix,
            input_dropout: 0.0,
            learning_rates: Self::HEAR_LEARNING_RATES.to_vec(),
            max_epochs: 500,
            patience: 20,
            batch_size: 1024,
            seed,
        }
    }

    /// A linear probe trained like [`Self::hear_mlp`], with `input_dropout` on its input.
    pub fn linear(mix: LayerMix, input_dropout: f64, seed: u64) -> Self {
        Self {
            architecture: ProbeArchitecture::Linear,
            input_dropout,
            ..Self::hear_mlp(mix, seed)
        }
    }
}

/// Per-layer standardisation with the training clips' mean and standard deviation.
#[derive(Debug, Clone)]
struct Standardiser {
    /// Per layer, `(1, dim)` means.
    means: Vec<Tensor>,
    /// Per layer, `(1, dim)` standard deviations (1 where a feature is constant, so it
    /// stays 0 instead of dividing by 0).
    stds: Vec<Tensor>,
}

impl Standardiser {
    fn fit(layers: &[Tensor]) -> candle_core::Result<Self> {
        let mut means = Vec::new();
        let mut stds = Vec::new();
        for layer in layers {
            let mean = layer.mean_keepdim(0)?;
            let std = layer.broadcast_sub(&mean)?.sqr()?.mean_keepdim(0)?.sqrt()?;
            let constant = std.le(1e-12)?;
            let std = constant.where_cond(&std.ones_like()?, &std)?;
            means.push(mean);
            stds.push(std);
        }
        Ok(Self { means, stds })
    }

    /// `(layers, clips, dim)` standardised features.
    fn apply(&self, layers: &[Tensor]) -> candle_core::Result<Tensor> {
        let standardised = layers
            .iter()
            .zip(self.means.iter().zip(&self.stds))
            .map(|(layer, (mean, std))| layer.broadcast_sub(mean)?.broadcast_div(std))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::stack(&standardised, 0)
    }
}

/// A trained probe.
pub struct ProbeModel {
    /// The head with the weights of its best validation epoch.
    head: ProbeHead,
    /// The input standardisation fitted on the training clips.
    standardiser: Standardiser,
    /// Whether the task is multi-label (sigmoid outputs) or single-label (softmax).
    multi_label: bool,
    /// How the chosen learning rate did.
    pub selection: Selection,
}

/// How a probe was selected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// The learning rate whose run scored best on validation.
    pub learning_rate: f64,
    /// Epochs trained up to the kept weights.
    pub best_epoch: usize,
    /// Validation score of the kept weights (accuracy, or mAP for multi-label tasks).
    pub valid_score: f64,
    /// Validation loss of the kept weights.
    pub valid_loss: f64,
    /// Validation score reached by each learning rate tried, in grid order.
    pub grid: Vec<(f64, f64)>,
}

impl ProbeModel {
    /// `[clip][class]` probabilities: softmax over classes, or each class's sigmoid for a
    /// multi-label task.
    pub fn predict(&self, layers: &[Tensor]) -> anyhow::Result<Vec<Vec<f32>>> {
        let input = self.standardiser.apply(layers)?;
        let logits = self.head.forward(&input, None)?;
        let probabilities = if self.multi_label {
            candle_nn::ops::sigmoid(&logits)?
        } else {
            candle_nn::ops::softmax(&logits, D::Minus1)?
        };
        Ok(probabilities.to_dtype(DType::F32)?.to_vec2()?)
    }

    /// Scores the probe on `features`.
    pub fn evaluate(&self, features: &Features) -> anyhow::Result<ProbeScores> {
        ProbeScores::of(&features.targets, &self.predict(&features.layers)?)
    }

    /// The weight of each layer in the probe's input.
    pub fn layer_weights(&self) -> anyhow::Result<Vec<f32>> {
        Ok(self.head.layer_weights()?)
    }
}

/// Trains a probe on `train`, choosing the learning rate and stopping epoch on `valid`.
/// Deterministic for a given `config.seed`. `progress` counts epochs over the whole grid
/// (an early stop skips the rest of its learning rate's share); pass
/// `ProgressBar::hidden()` for none.
pub fn train_probe(
    train: &Features,
    valid: &Features,
    config: &ProbeConfig,
    progress: &ProgressBar,
) -> anyhow::Result<ProbeModel> {
    check_compatible(train, valid)?;
    ensure!(
        !config.learning_rates.is_empty() && config.max_epochs > 0 && config.batch_size > 0,
        "a probe needs a learning rate, an epoch and a batch size"
    );
    let standardiser = Standardiser::fit(&train.layers)?;
    let data = Prepared {
        train_x: standardiser.apply(&train.layers)?,
        train_y: train.targets.to_tensor(&Device::Cpu)?,
        valid_x: standardiser.apply(&valid.layers)?,
        valid: valid.targets.clone(),
        multi_label: matches!(train.targets, Targets::Multi { .. }),
    };
    let head_config = ProbeHeadConfig {
        layers: train.layers.len(),
        dim: train.layers[0].dim(1)?,
        classes: train.targets.classes(),
        mix: config.mix,
        architecture: config.architecture,
        input_dropout: config.input_dropout,
    };
    let mut best: Option<(ProbeHead, Outcome)> = None;
    let mut grid = Vec::new();
    progress.set_length((config.learning_rates.len() * config.max_epochs) as u64);
    for (done, &learning_rate) in config.learning_rates.iter().enumerate() {
        let (head, outcome) = fit(&data, &head_config, config, learning_rate, progress)?;
        progress.set_position(((done + 1) * config.max_epochs) as u64);
        grid.push((learning_rate, outcome.score));
        if best.as_ref().is_none_or(|(_, b)| outcome.beats(b)) {
            best = Some((head, outcome));
        }
    }
    let (head, outcome) = best.expect("at least one learning rate");
    Ok(ProbeModel {
        head,
        standardiser,
        multi_label: data.multi_label,
        selection: Selection {
            learning_rate: outcome.learning_rate,
            best_epoch: outcome.epoch,
            valid_score: outcome.score,
            valid_loss: outcome.loss,
            grid,
        },
    })
}

/// Training and validation inputs ready for the head.
struct Prepared {
    /// `(layers, clips, dim)` standardised training features.
    train_x: Tensor,
    /// `(clips, classes)` one- or multi-hot training targets.
    train_y: Tensor,
    /// `(layers, clips, dim)` standardised validation features.
    valid_x: Tensor,
    /// The validation targets, for scoring.
    valid: Targets,
    /// Sigmoid BCE instead of softmax cross-entropy.
    multi_label: bool,
}

impl Prepared {
    fn loss(&self, logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
        if self.multi_label {
            binary_cross_entropy_with_logits(logits, targets)
        } else {
            cross_entropy(logits, targets)
        }
    }
}

/// The best epoch of one learning rate's run.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    learning_rate: f64,
    /// Epochs trained (counted from 1).
    epoch: usize,
    /// Validation score (higher is better).
    score: f64,
    /// Validation loss, which breaks ties between equal scores (small validation sets
    /// often reach the same accuracy in many epochs).
    loss: f64,
}

impl Outcome {
    fn beats(&self, other: &Self) -> bool {
        self.score > other.score || (self.score == other.score && self.loss < other.loss)
    }
}

/// Trains a fresh head at one learning rate with early stopping; returns it with the
/// weights of its best validation epoch.
fn fit(
    data: &Prepared,
    head_config: &ProbeHeadConfig,
    config: &ProbeConfig,
    learning_rate: f64,
    progress: &ProgressBar,
) -> anyhow::Result<(ProbeHead, Outcome)> {
    let device = Device::Cpu;
    let vars = VarMap::new();
    let head = ProbeHead::new(
        head_config.clone(),
        VarBuilder::from_varmap(&vars, DType::F32, &device),
    )?;
    seeded_normal_init(&vars, config.seed)?;
    let named: HashMap<String, Var> = vars.data().lock().expect("VarMap lock poisoned").clone();
    // Adam: AdamW without weight decay, at a constant learning rate.
    let adam = OptimConfig {
        weight_decay: 0.0,
        ..OptimConfig::default()
    };
    let (mix, rest): (HashMap<String, Var>, HashMap<String, Var>) = named
        .clone()
        .into_iter()
        .partition(|(name, _)| name == LAYER_LOGITS);
    let mut optim = AdamW::new(adam, &rest)?;
    let mut mix_optim = AdamW::new(adam, &mix)?;
    // Parameters and batch-norm statistics: what a snapshot of the best epoch must hold.
    let state: Vec<Var> = named.values().chain(head.buffers()).cloned().collect();
    let valid_y = data.valid.to_tensor(&device)?;
    let clips = data.train_x.dim(1)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<u32> = (0..clips as u32).collect();
    let batches = clips.div_ceil(config.batch_size);
    let mut best: Option<(Outcome, Vec<Tensor>)> = None;
    for epoch in 1..=config.max_epochs {
        order.shuffle(&mut rng);
        // Equal-sized batches, so no step sees a lone clip (batch norm needs a spread).
        for batch in 0..batches {
            let indices = &order[batch * clips / batches..(batch + 1) * clips / batches];
            let index = Tensor::from_slice(indices, indices.len(), &device)?;
            let x = data.train_x.index_select(&index, 1)?;
            let y = data.train_y.index_select(&index, 0)?;
            let loss = data.loss(&head.forward(&x, Some(&mut rng))?, &y)?;
            let grads = loss.backward()?;
            optim.step(&grads, learning_rate)?;
            mix_optim.step(&grads, learning_rate * LAYER_MIX_LEARNING_RATE_FACTOR)?;
        }
        progress.inc(1);
        let logits = head.forward(&data.valid_x, None)?;
        let loss = f64::from(data.loss(&logits, &valid_y)?.to_scalar::<f32>()?);
        if !loss.is_finite() {
            bail!("the probe's validation loss became {loss} at learning rate {learning_rate}");
        }
        let probabilities = if data.multi_label {
            candle_nn::ops::sigmoid(&logits)?
        } else {
            candle_nn::ops::softmax(&logits, D::Minus1)?
        };
        let score = ProbeScores::of(&data.valid, &probabilities.to_vec2()?)?.primary();
        let outcome = Outcome {
            learning_rate,
            epoch,
            score,
            loss,
        };
        if best.as_ref().is_none_or(|(b, _)| outcome.beats(b)) {
            let snapshot = state
                .iter()
                .map(|var| var.as_tensor().copy())
                .collect::<candle_core::Result<_>>()?;
            best = Some((outcome, snapshot));
        } else if epoch - best.as_ref().map_or(0, |(b, _)| b.epoch) >= config.patience {
            break;
        }
    }
    let (outcome, snapshot) = best.expect("at least one epoch");
    for (var, saved) in state.iter().zip(&snapshot) {
        var.set(saved)?;
    }
    Ok((head, outcome))
}

/// Train and validation features must have the same layers, widths and classes.
fn check_compatible(train: &Features, valid: &Features) -> anyhow::Result<()> {
    ensure!(
        !train.layers.is_empty() && !train.targets.is_empty() && !valid.targets.is_empty(),
        "a probe needs training and validation clips"
    );
    let widths = |f: &Features| -> candle_core::Result<Vec<usize>> {
        f.layers.iter().map(|l| l.dim(1)).collect()
    };
    ensure!(
        widths(train)? == widths(valid)?,
        "training and validation features differ in layers or widths"
    );
    ensure!(
        train.targets.classes() == valid.targets.classes()
            && matches!(train.targets, Targets::Multi { .. })
                == matches!(valid.targets, Targets::Multi { .. }),
        "training and validation targets differ in classes or task kind"
    );
    for features in [train, valid] {
        for layer in &features.layers {
            ensure!(
                layer.dim(0)? == features.targets.len(),
                "{} feature rows for {} targets",
                layer.dim(0)?,
                features.targets.len()
            );
        }
    }
    Ok(())
}
