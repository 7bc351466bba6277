//! The pretraining loop shared by every JEPA model: seeded data and masks per step, AdamW,
//! EMA, metrics, plots, a collapse monitor and atomic checkpoints that resume exactly.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use candle_core::{DType, Device, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tessera_core::checkpoint::{self, tensors_of};
use tessera_core::models::ema::{ema_pairs, ema_update};
use tessera_core::nn::seeded_normal_init;

use super::config::RunConfig;
use super::data::{ClipSource, ExampleKind, draw_example};
use super::task::{ModelKind, Task};
use crate::metrics_csv::{MetricsRow, read_rows, recent_mean, write_rows};
use crate::plot::{Curve, render_curves_png};
use crate::progress;
use crate::run_folder::{self, Schedule};
use tessera_core::optim::AdamW;

pub use crate::run_folder::{
    CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, MODEL_F16_FILE, MODEL_FILE, PLOT_FILE,
};

/// A target-embedding spread below this share of its early value is reported as collapse.
const COLLAPSE_RATIO: f64 = 0.3;
/// Steps whose spread sets the collapse monitor's baseline.
const BASELINE_STEPS: usize = 20;

/// How and where a run executes.
pub struct RunOptions {
    /// The run folder.
    pub out: PathBuf,
    /// Folders of training audio.
    pub data: Vec<PathBuf>,
    /// Continue from the folder's last checkpoint.
    pub resume: bool,
    /// Stop after this many steps in this session (the run can be resumed later).
    pub stop_after: Option<usize>,
    /// Where tensors live.
    pub device: Device,
}

/// One logged step.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Steps completed, this one included.
    pub step: usize,
    pub loss: f64,
    pub learning_rate: f64,
    pub momentum: f64,
    /// Mean per-dimension standard deviation of the target embeddings.
    pub target_std: f64,
    /// Wall time of the step.
    pub seconds: f64,
}

/// What a session did.
#[derive(Debug)]
pub struct RunOutcome {
    /// Steps completed in the run so far.
    pub steps_done: usize,
    /// Whether the run reached its last step (final model files written).
    pub finished: bool,
    /// Every logged step of the run.
    pub metrics: Vec<MetricRow>,
    /// Checkpoints at which the collapse monitor fired.
    pub collapse_warnings: Vec<usize>,
}

/// Trains `config` in `options.out`.
pub fn pretrain(config: &RunConfig, options: &RunOptions) -> anyhow::Result<RunOutcome> {
    let out = &options.out;
    run_folder::open(
        out,
        options.resume,
        || {
            // Only the run's length (and the schedules that stretch with it) may change.
            let mut saved = RunConfig::read(&out.join(CONFIG_FILE))?;
            saved.train.steps = config.train.steps;
            saved.train.ema.ramp_steps = config.train.ema.ramp_steps;
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

    let device = &options.device;
    let (trainable, target) = (VarMap::new(), VarMap::new());
    let task = Task::build(
        &config.model,
        VarBuilder::from_varmap(&trainable, DType::F32, device),
        VarBuilder::from_varmap(&target, DType::F32, device),
    )?;
    seeded_normal_init(&trainable, train.seed)?;
    let pairs = ema_pairs(&target, &trainable)?;
    // The target encoder starts as a copy of the context encoder.
    ema_update(&pairs, 0.0)?;
    let vars: HashMap<String, Var> = trainable
        .data()
        .lock()
        .expect("VarMap lock poisoned")
        .clone();
    let mut optim = AdamW::new(train.optim, &vars)?;

    let mut metrics = Vec::new();
    let mut start = 0;
    if options.resume {
        let (saved, step, logged) = run_folder::resume(out, config.kind.name(), device)?;
        saved.restore(&trainable, "trainable.")?;
        saved.restore(&target, "target.")?;
        optim.restore(&saved.tensors, "optim.", step)?;
        (start, metrics) = (step, logged);
    }
    let end = options
        .stop_after
        .map_or(train.steps, |n| (start + n).min(train.steps));
    if start >= end {
        return Ok(RunOutcome {
            steps_done: start,
            finished: start >= train.steps,
            metrics,
            collapse_warnings: Vec::new(),
        });
    }

    let mut source = ClipSource::open(&options.data, task.sample_rate(), task.clip_samples())?;
    let example_kind = match config.kind {
        ModelKind::WavJepaNat => ExampleKind::Scene(train.scenes.clone()),
        _ => ExampleKind::Mono,
    };
    let bar = progress::bar((end - start) as u64, config.kind.name());
    let mut collapse_warnings = Vec::new();
    for step in start..end {
        let began = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(train.seed);
        rng.set_stream(step as u64);
        let examples = (0..train.batch_size)
            .map(|_| {
                draw_example(
                    &example_kind,
                    &mut source,
                    task.sample_rate(),
                    task.clip_samples(),
                    &mut rng,
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let input = task.input(&examples, device)?;
        let masks = task.masks(train.batch_size, &mut rng)?;
        let objective = task.loss(&input, &masks)?;
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
        let momentum = train.ema.momentum(step);
        ema_update(&pairs, momentum)?;
        let seconds = began.elapsed().as_secs_f64();
        metrics.push(MetricRow {
            step: step + 1,
            loss,
            learning_rate,
            momentum,
            target_std: f64::from(objective.target_std),
            seconds,
        });
        bar.set_message(format!(
            "loss {loss:.4} · {:.2} steps/s",
            1.0 / seconds.max(1e-9)
        ));
        bar.inc(1);

        let done = step + 1;
        if done % train.checkpoint_every == 0 || done == end {
            let mut tensors = tensors_of(&trainable, "trainable.", DType::F32)?;
            tensors.extend(tensors_of(&target, "target.", DType::F32)?);
            tensors.extend(optim.state("optim.")?);
            run_folder::save_checkpoint(out, config.kind.name(), &config.model, &tensors, done)?;
            write_rows(&out.join(METRICS_FILE), &metrics)?;
            plot_metrics(config.kind.name(), &metrics, &out.join(PLOT_FILE))?;
            // Also when stderr is no terminal (the bar is hidden then): logs of long runs.
            let mean =
                |value: fn(&MetricRow) -> f64| recent_mean(&metrics, train.checkpoint_every, value);
            bar.suspend(|| {
                eprintln!(
                    "step {done}/{}: loss {:.4}, target std {:.4}, {:.2} s/step",
                    train.steps,
                    mean(|r| r.loss),
                    mean(|r| r.target_std),
                    mean(|r| r.seconds)
                )
            });
            if let Some(message) = collapse_check(&metrics, train.checkpoint_every) {
                bar.suspend(|| eprintln!("warning at step {done}: {message}"));
                collapse_warnings.push(done);
            }
        }
    }
    bar.finish_and_clear();
    let finished = end == train.steps;
    if finished {
        for (file, dtype) in [(MODEL_FILE, DType::F32), (MODEL_F16_FILE, DType::F16)] {
            let mut tensors = tensors_of(&trainable, "trainable.", dtype)?;
            tensors.extend(tensors_of(&target, "target.", dtype)?);
            let extra = BTreeMap::from([("step".to_owned(), end.to_string())]);
            checkpoint::save(
                &out.join(file),
                config.kind.name(),
                &config.model,
                &tensors,
                &extra,
            )?;
        }
    }
    Ok(RunOutcome {
        steps_done: end,
        finished,
        metrics,
        collapse_warnings,
    })
}

/// A warning when the recent target spread fell below [`COLLAPSE_RATIO`] of its start.
fn collapse_check(metrics: &[MetricRow], window: usize) -> Option<String> {
    if metrics.len() < BASELINE_STEPS + window {
        return None;
    }
    let mean =
        |rows: &[MetricRow]| rows.iter().map(|r| r.target_std).sum::<f64>() / rows.len() as f64;
    let baseline = mean(&metrics[..BASELINE_STEPS]);
    let recent = mean(&metrics[metrics.len() - window..]);
    (recent < COLLAPSE_RATIO * baseline).then(|| {
        format!("target embeddings are collapsing: per-dimension std {recent:.4}, was {baseline:.4} at the start")
    })
}

impl MetricsRow for MetricRow {
    const HEADER: &'static str = "step,loss,learning_rate,momentum,target_std,seconds";

    fn values(&self) -> Vec<f64> {
        vec![
            self.step as f64,
            self.loss,
            self.learning_rate,
            self.momentum,
            self.target_std,
            self.seconds,
        ]
    }

    fn from_values(v: &[f64]) -> Self {
        Self {
            step: v[0] as usize,
            loss: v[1],
            learning_rate: v[2],
            momentum: v[3],
            target_std: v[4],
            seconds: v[5],
        }
    }
}

/// Reads a metrics file written by this loop (for resuming).
pub fn read_metrics(path: &Path) -> anyhow::Result<Vec<MetricRow>> {
    read_rows(path)
}

fn plot_metrics(name: &str, rows: &[MetricRow], path: &Path) -> anyhow::Result<()> {
    let curve = |label: &str, value: fn(&MetricRow) -> f64| Curve {
        label: label.to_owned(),
        points: rows.iter().map(|r| (r.step as f64, value(r))).collect(),
    };
    render_curves_png(
        &format!("{name} pretraining"),
        &[
            curve("loss", |r| r.loss),
            curve("target std (collapse monitor)", |r| r.target_std),
            curve("learning rate", |r| r.learning_rate),
        ],
        path,
    )
}
