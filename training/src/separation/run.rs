//! The separator fine-tuning loop: augmented chunks of songs with stems, L1 on the separated
//! waveforms, AdamW, validation SDR at every checkpoint, metrics, plots and atomic
//! checkpoints that resume exactly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tessera_core::checkpoint::{self, tensors_of};
use tessera_core::models::Separator;
use tessera_core::models::separator::{CHANNELS, STEMS, SpectraBatch, l1_loss};
use tessera_core::nn::seeded_normal_init;

use super::augment::{AugmentConfig, StemCrop, draw_example};
use super::config::FinetuneConfig;
use super::songs::{StemSong, find_song_folders, load_song, mix, subset};
use crate::metrics_csv::{MetricsRow, read_rows, recent_mean, write_rows};
use crate::plot::{Curve, render_curves_png};
use crate::progress;
use crate::run_folder::{self, Schedule};
use tessera_core::optim::AdamW;

/// The checkpoint kind of PaC-HuBERT runs, whose encoder initialises a separator.
const PAC_HUBERT_KIND: &str = "pac-hubert";

pub use crate::run_folder::{
    CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, MODEL_F16_FILE, MODEL_FILE, PLOT_FILE,
};

/// How and where a run executes.
pub struct FinetuneOptions {
    /// The run folder.
    pub out: PathBuf,
    /// Folders of training songs with stems.
    pub songs: Vec<PathBuf>,
    /// Folders of validation songs (scored at every checkpoint).
    pub valid: Vec<PathBuf>,
    /// A PaC-HuBERT checkpoint whose encoder and bottleneck initialise the separator.
    pub init: Option<PathBuf>,
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
    /// L1 between separated and true stems.
    pub loss: f64,
    pub learning_rate: f64,
    /// Wall time of the step.
    pub seconds: f64,
    /// Validation SDR per stem (dB) on checkpoint steps, NaN on the others.
    pub valid_sdr: [f64; 4],
}

/// What a session did.
#[derive(Debug)]
pub struct FinetuneOutcome {
    /// Steps completed in the run so far.
    pub steps_done: usize,
    /// Whether the run reached its last step (final model files written).
    pub finished: bool,
    /// Every logged step of the run.
    pub metrics: Vec<MetricRow>,
}

/// Trains the separator of `config` in `options.out`.
pub fn finetune(
    config: &FinetuneConfig,
    options: &FinetuneOptions,
) -> anyhow::Result<FinetuneOutcome> {
    let out = &options.out;
    run_folder::open(
        out,
        options.resume,
        || {
            let mut saved = FinetuneConfig::read(&out.join(CONFIG_FILE))?;
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

    let device = &options.device;
    let vars = VarMap::new();
    let model = Separator::new(
        config.model.clone(),
        VarBuilder::from_varmap(&vars, DType::F32, device),
    )?;
    seeded_normal_init(&vars, train.seed)?;
    let named: HashMap<String, Var> = vars.data().lock().expect("VarMap lock").clone();
    let mut optim = AdamW::new(train.optim, &named)?;

    let mut metrics = Vec::new();
    let mut start = 0;
    if options.resume {
        let (saved, step, logged) = run_folder::resume(out, Separator::KIND, device)?;
        saved.restore(&vars, "trainable.")?;
        optim.restore(&saved.tensors, "optim.", step)?;
        (start, metrics) = (step, logged);
    } else if let Some(init) = &options.init {
        let saved = checkpoint::load(init, PAC_HUBERT_KIND, device)?;
        let restored = saved.restore_part(&vars, "trainable.", "encoder.")?;
        eprintln!(
            "initialised {restored} encoder and bottleneck tensors from {}",
            init.display()
        );
    }
    let end = options
        .stop_after
        .map_or(train.steps, |n| (start + n).min(train.steps));
    if start >= end {
        return Ok(FinetuneOutcome {
            steps_done: start,
            finished: start >= train.steps,
            metrics,
        });
    }

    let sample_rate = config.model.sample_rate;
    let folders = find_song_folders(&options.songs)?;
    let songs = load_songs(subset(&folders, train.fraction)?, sample_rate)?;
    let valid_songs = load_songs(&find_song_folders(&options.valid)?, sample_rate)?;
    let samples = config.model.chunk_samples();
    let mut valid_rng = ChaCha8Rng::seed_from_u64(train.seed);
    let valid: Vec<StemCrop> = (0..train.valid_chunks)
        .map(|_| {
            draw_example(
                &valid_songs,
                &AugmentConfig::none(),
                samples,
                sample_rate,
                &mut valid_rng,
            )
        })
        .collect();
    eprintln!(
        "training on {} songs ({:.0} % of {}), validating on {} chunks of {} songs",
        songs.len(),
        train.fraction * 100.0,
        folders.len(),
        valid.len(),
        valid_songs.len()
    );

    let bar = progress::bar((end - start) as u64, Separator::KIND);
    for step in start..end {
        let began = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(train.seed);
        rng.set_stream(step as u64);
        let seeds: Vec<u64> = (0..train.batch_size).map(|_| rng.random()).collect();
        let examples: Vec<StemCrop> = seeds
            .par_iter()
            .map(|&seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                draw_example(&songs, &train.augment, samples, sample_rate, &mut rng)
            })
            .collect();
        let (batch, truth) = to_batch(&model, &examples, device)?;
        let loss = l1_loss(&model.separate(&batch)?, &truth)?;
        let loss_value = f64::from(loss.to_scalar::<f32>()?);
        if !loss_value.is_finite() {
            bail!(
                "the loss became {loss_value} at step {}: training diverged. The last checkpoint in {} is intact; lower the learning rate and --resume",
                step + 1,
                out.display()
            );
        }
        let grads = loss.backward()?;
        let learning_rate = train.optim.learning_rate_at(step, train.steps);
        optim.step(&grads, learning_rate)?;
        let done = step + 1;
        let checkpoint_now = done % train.checkpoint_every == 0 || done == end;
        let valid_sdr = if checkpoint_now {
            validation_sdr(&model, &valid, train.batch_size, device)?
        } else {
            [f64::NAN; 4]
        };
        let seconds = began.elapsed().as_secs_f64();
        metrics.push(MetricRow {
            step: done,
            loss: loss_value,
            learning_rate,
            seconds,
            valid_sdr,
        });
        bar.set_message(format!("L1 {loss_value:.5} · {:.2} s/step", seconds));
        bar.inc(1);

        if checkpoint_now {
            let mut tensors = tensors_of(&vars, "trainable.", DType::F32)?;
            tensors.extend(optim.state("optim.")?);
            run_folder::save_checkpoint(out, Separator::KIND, &config.model, &tensors, done)?;
            write_rows(&out.join(METRICS_FILE), &metrics)?;
            plot_metrics(&metrics, &out.join(PLOT_FILE))?;
            let mean =
                |value: fn(&MetricRow) -> f64| recent_mean(&metrics, train.checkpoint_every, value);
            let sdr: Vec<String> = STEMS
                .iter()
                .zip(valid_sdr)
                .map(|(stem, sdr)| format!("{stem} {sdr:.2}"))
                .collect();
            bar.suspend(|| {
                eprintln!(
                    "step {done}/{}: L1 {:.5}, {:.2} s/step, validation SDR (dB): {}",
                    train.steps,
                    mean(|r| r.loss),
                    mean(|r| r.seconds),
                    sdr.join(", ")
                )
            });
        }
    }
    bar.finish_and_clear();
    let finished = end == train.steps;
    if finished {
        run_folder::write_models(out, Separator::KIND, &config.model, &vars, end)?;
    }
    Ok(FinetuneOutcome {
        steps_done: end,
        finished,
        metrics,
    })
}

/// Loads every song folder, in parallel.
fn load_songs(folders: &[PathBuf], sample_rate: u32) -> anyhow::Result<Vec<StemSong>> {
    let songs: Vec<StemSong> = folders
        .par_iter()
        .map(|folder| load_song(folder, sample_rate))
        .collect::<anyhow::Result<_>>()?;
    let short = songs.iter().find(|s| s.is_empty());
    if let Some(song) = short {
        bail!("{} has empty stems", song.folder.display());
    }
    Ok(songs)
}

/// The model input of `examples` (mixture = sum of stems) and the true stems
/// `(batch, stems, channels, samples)`.
fn to_batch(
    model: &Separator,
    examples: &[StemCrop],
    device: &Device,
) -> anyhow::Result<(SpectraBatch, Tensor)> {
    let mixtures: Vec<[Vec<f32>; CHANNELS]> = examples.iter().map(mix).collect();
    let batch = model.spectra(&mixtures, device)?;
    let samples = batch.samples;
    let flat: Vec<f32> = examples
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .copied()
        .collect();
    let truth = Tensor::from_vec(
        flat,
        (examples.len(), STEMS.len(), CHANNELS, samples),
        device,
    )?;
    Ok((batch, truth))
}

/// Signal-to-distortion ratio per stem over all validation chunks and channels,
/// `10·log10(Σ s² / Σ (s − ŝ)²)` (the "global" SDR of the Music Demixing challenges; the
/// museval BSS Eval score comes from `tessera eval sdr`).
fn validation_sdr(
    model: &Separator,
    valid: &[StemCrop],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<[f64; 4]> {
    let (mut signal, mut error) = ([0f64; 4], [0f64; 4]);
    for chunk in valid.chunks(batch_size) {
        let (batch, truth) = to_batch(model, chunk, device)?;
        let separated = model.separate(&batch)?;
        let residual = (&separated - &truth)?.sqr()?.sum((2, 3))?.sum(0)?;
        let energy = truth.sqr()?.sum((2, 3))?.sum(0)?;
        for (total, part) in [(&mut signal, energy), (&mut error, residual)] {
            for (t, v) in total.iter_mut().zip(part.to_vec1::<f32>()?) {
                *t += f64::from(v);
            }
        }
    }
    Ok(std::array::from_fn(|s| {
        10.0 * (signal[s].max(1e-12) / error[s].max(1e-12)).log10()
    }))
}

impl MetricsRow for MetricRow {
    const HEADER: &'static str = "step,loss,learning_rate,seconds,valid_sdr_vocals,valid_sdr_drums,valid_sdr_bass,valid_sdr_other";

    fn values(&self) -> Vec<f64> {
        let mut values = vec![
            self.step as f64,
            self.loss,
            self.learning_rate,
            self.seconds,
        ];
        values.extend(self.valid_sdr);
        values
    }

    fn from_values(v: &[f64]) -> Self {
        Self {
            step: v[0] as usize,
            loss: v[1],
            learning_rate: v[2],
            seconds: v[3],
            valid_sdr: [v[4], v[5], v[6], v[7]],
        }
    }
}

/// Reads a metrics file written by this loop (for resuming).
pub fn read_metrics(path: &Path) -> anyhow::Result<Vec<MetricRow>> {
    read_rows(path)
}

fn plot_metrics(rows: &[MetricRow], path: &Path) -> anyhow::Result<()> {
    let mut curves = vec![Curve {
        label: "L1 loss × 100".to_owned(),
        points: rows
            .iter()
            .map(|r| (r.step as f64, 100.0 * r.loss))
            .collect(),
    }];
    for (s, stem) in STEMS.iter().enumerate() {
        curves.push(Curve {
            label: format!("validation SDR {stem} (dB)"),
            points: rows
                .iter()
                .filter(|r| r.valid_sdr[s].is_finite())
                .map(|r| (r.step as f64, r.valid_sdr[s]))
                .collect(),
        });
    }
    render_curves_png("separator fine-tuning", &curves, path)
}
