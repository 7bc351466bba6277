//! The PaC-HuBERT pretraining loop: seeded labelled chunks and span masks per step, AdamW,
//! metrics (loss, masked accuracy), a plot and atomic checkpoints that resume exactly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure};
use candle_core::{DType, Device, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint::tensors_of;
use tessera_core::models::PacHubert;
use tessera_core::nn::seeded_normal_init;

use super::config::HubertConfig;
use super::data::{LabelledChunk, LabelledSet};
use crate::metrics_csv::{MetricsRow, read_rows, recent_mean, write_rows};
use crate::plot::{Curve, render_curves_png};
use crate::progress;
use crate::run_folder::{self, CONFIG_FILE, METRICS_FILE, PLOT_FILE, Schedule};
use tessera_core::optim::AdamW;

/// How and where a run executes.
pub struct HubertOptions {
    /// The run folder.
    pub out: PathBuf,
    /// Folders holding the audio the labels name.
    pub data: Vec<PathBuf>,
    /// The folder of labels files (`tessera cluster assign --out`).
    pub labels: PathBuf,
    /// Continue from the folder's last checkpoint.
    pub resume: bool,
    /// Stop after this many steps in this session (the run can be resumed later).
    pub stop_after: Option<usize>,
    /// Where tensors live.
    pub device: Device,
}

/// One logged step.
#[derive(Debug, Clone, PartialEq)]
pub struct HubertMetricRow {
    /// Steps completed, this one included.
    pub step: usize,
    /// Cross-entropy over the masked tokens.
    pub loss: f64,
    /// Share of masked tokens whose cluster was predicted (the paper's masked accuracy).
    pub masked_accuracy: f64,
    pub learning_rate: f64,
    /// Wall time of the step.
    pub seconds: f64,
}

/// What a session did.
#[derive(Debug)]
pub struct HubertOutcome {
    /// Steps completed in the run so far.
    pub steps_done: usize,
    /// Whether the run reached its last step (final model files written).
    pub finished: bool,
    /// Every logged step of the run.
    pub metrics: Vec<HubertMetricRow>,
    /// Clusters of the labels (chance accuracy is about its inverse, or the most common
    /// cluster's share).
    pub clusters: usize,
}

/// Pretrains the PaC-HuBERT of `config` in `options.out`.
pub fn pretrain_hubert(
    config: &HubertConfig,
    options: &HubertOptions,
) -> anyhow::Result<HubertOutcome> {
    let out = &options.out;
    run_folder::open(
        out,
        options.resume,
        || {
            let mut saved = HubertConfig::read(&out.join(CONFIG_FILE))?;
            saved.train.steps = config.train.steps;
            Ok(&saved == config)
        },
        &config.to_toml()?,
        Schedule {
            steps: config.train.steps,
            batch_size: config.train.batch_size,
            checkpoint_every: config.train.checkpoint_every,
        },
    )?;
    let train = &config.train;
    let set = LabelledSet::open(&options.data, &options.labels, &config.model)?;
    ensure!(
        set.clusters() == config.model.clusters,
        "the labels in {} come from {} clusters but the model predicts {}: set model.clusters \
         = {} in the configuration",
        options.labels.display(),
        set.clusters(),
        config.model.clusters,
        set.clusters()
    );

    let device = &options.device;
    let vars = VarMap::new();
    let model = PacHubert::new(
        config.model.clone(),
        VarBuilder::from_varmap(&vars, DType::F32, device),
    )?;
    seeded_normal_init(&vars, train.seed)?;
    let named: HashMap<String, Var> = vars.data().lock().expect("VarMap lock").clone();
    let mut optim = AdamW::new(train.optim, &named)?;

    let mut metrics = Vec::new();
    let mut start = 0;
    if options.resume {
        let (saved, step, logged) = run_folder::resume(out, PacHubert::KIND, device)?;
        saved.restore(&vars, "trainable.")?;
        optim.restore(&saved.tensors, "optim.", step)?;
        (start, metrics) = (step, logged);
    }
    let end = options
        .stop_after
        .map_or(train.steps, |n| (start + n).min(train.steps));
    eprintln!(
        "pretraining on {} chunk positions, labels from {} clusters",
        set.windows(),
        set.clusters()
    );

    let bar = progress::bar(end.saturating_sub(start) as u64, PacHubert::KIND);
    for step in start..end {
        let began = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(train.seed);
        rng.set_stream(step as u64);
        let chunks: Vec<LabelledChunk> =
            (0..train.batch_size).map(|_| set.draw(&mut rng)).collect();
        let audio: Vec<_> = chunks.iter().map(|c| c.audio.clone()).collect();
        let labels: Vec<u32> = chunks
            .iter()
            .flat_map(|c| c.labels.iter().copied())
            .collect();
        let features = model.spectra(&audio, device)?.features;
        let masks = model.sample_masks(train.batch_size, &mut rng)?;
        let objective = model.loss(&features, &masks, &labels)?;
        let loss = f64::from(objective.loss.to_scalar::<f32>()?);
        if !loss.is_finite() {
            bail!(
                "the loss became {loss} at step {}: training diverged. The last checkpoint in {} is intact; lower the learning rate and --resume",
                step + 1,
                out.display()
            );
        }
        let grads = objective.loss.backward()?;
        let learning_rate = train.optim.learning_rate_at(step, train.steps);
        optim.step(&grads, learning_rate)?;
        let seconds = began.elapsed().as_secs_f64();
        metrics.push(HubertMetricRow {
            step: step + 1,
            loss,
            masked_accuracy: objective.accuracy,
            learning_rate,
            seconds,
        });
        bar.set_message(format!(
            "loss {loss:.3} · acc {:.3} · {seconds:.2} s/step",
            objective.accuracy
        ));
        bar.inc(1);

        let done = step + 1;
        if done % train.checkpoint_every == 0 || done == end {
            let mut tensors = tensors_of(&vars, "trainable.", DType::F32)?;
            tensors.extend(optim.state("optim.")?);
            run_folder::save_checkpoint(out, PacHubert::KIND, &config.model, &tensors, done)?;
            write_rows(&out.join(METRICS_FILE), &metrics)?;
            plot_metrics(&metrics, &out.join(PLOT_FILE))?;
            let mean = |value: fn(&HubertMetricRow) -> f64| {
                recent_mean(&metrics, train.checkpoint_every, value)
            };
            bar.suspend(|| {
                eprintln!(
                    "step {done}/{}: loss {:.4}, masked accuracy {:.4}, {:.2} s/step",
                    train.steps,
                    mean(|r| r.loss),
                    mean(|r| r.masked_accuracy),
                    mean(|r| r.seconds)
                )
            });
        }
    }
    bar.finish_and_clear();
    let done = end.max(start);
    let finished = done >= train.steps;
    if finished && end > start {
        run_folder::write_models(out, PacHubert::KIND, &config.model, &vars, done)?;
    }
    Ok(HubertOutcome {
        steps_done: done,
        finished,
        metrics,
        clusters: set.clusters(),
    })
}

impl MetricsRow for HubertMetricRow {
    const HEADER: &'static str = "step,loss,masked_accuracy,learning_rate,seconds";

    fn values(&self) -> Vec<f64> {
        vec![
            self.step as f64,
            self.loss,
            self.masked_accuracy,
            self.learning_rate,
            self.seconds,
        ]
    }

    fn from_values(v: &[f64]) -> Self {
        Self {
            step: v[0] as usize,
            loss: v[1],
            masked_accuracy: v[2],
            learning_rate: v[3],
            seconds: v[4],
        }
    }
}

/// Reads a metrics file written by this loop (for resuming).
pub fn read_metrics(path: &Path) -> anyhow::Result<Vec<HubertMetricRow>> {
    read_rows(path)
}

fn plot_metrics(rows: &[HubertMetricRow], path: &Path) -> anyhow::Result<()> {
    let curve = |label: &str, value: fn(&HubertMetricRow) -> f64| Curve {
        label: label.to_owned(),
        points: rows.iter().map(|r| (r.step as f64, value(r))).collect(),
    };
    render_curves_png(
        "PaC-HuBERT pretraining",
        &[
            curve("masked-unit loss", |r| r.loss),
            curve("masked accuracy", |r| r.masked_accuracy),
            curve("learning rate", |r| r.learning_rate),
        ],
        path,
    )
}
