//! What every training loop does with its run folder: refuse to overwrite a run unless it
//! resumes one with the same configuration, write the configuration, checkpoints and, at
//! the end, the model in f32 and f16.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, bail, ensure};
use candle_core::Device;
use candle_core::{DType, Tensor};
use candle_nn::VarMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_core::checkpoint::{self, Checkpoint, tensors_of};

use crate::files::write_atomic;
use crate::metrics_csv::{MetricsRow, read_rows};

/// Files of a run folder.
pub const CONFIG_FILE: &str = "config.toml";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub const MODEL_FILE: &str = "model.safetensors";
pub const MODEL_F16_FILE: &str = "model-f16.safetensors";
pub const METRICS_FILE: &str = "metrics.csv";
pub const PLOT_FILE: &str = "loss.png";

/// How long a run is and how often it saves: the values every loop checks first.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub steps: usize,
    pub batch_size: usize,
    pub checkpoint_every: usize,
}

/// Reads a run configuration (TOML; absent fields take the defaults); `what` names the kind
/// of run in errors.
pub fn read_config<C: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<C> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid {what} configuration", path.display()))
}

/// Creates `out` for a new run, or checks it for a resumed one (`same_as_saved` compares
/// the configuration with the one the run was started with), then writes `config_toml`.
pub fn open(
    out: &Path,
    resume: bool,
    same_as_saved: impl FnOnce() -> anyhow::Result<bool>,
    config_toml: &str,
    schedule: Schedule,
) -> anyhow::Result<()> {
    ensure!(
        schedule.steps > 0 && schedule.batch_size > 0 && schedule.checkpoint_every > 0,
        "steps, batch_size and checkpoint_every must be positive"
    );
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    if resume {
        ensure!(
            same_as_saved()?,
            "{} was started with another configuration; resume without --config",
            out.display()
        );
    } else if out.join(CHECKPOINT_FILE).exists() {
        bail!(
            "{} already holds a run: pass --resume to continue it, or choose another --out",
            out.display()
        );
    }
    write_atomic(&out.join(CONFIG_FILE), config_toml.as_bytes())
}

/// Writes `tensors` as the run's checkpoint at `step`, atomically.
pub fn save_checkpoint(
    out: &Path,
    kind: &str,
    config: &impl Serialize,
    tensors: &HashMap<String, Tensor>,
    step: usize,
) -> anyhow::Result<()> {
    let extra = BTreeMap::from([("step".to_owned(), step.to_string())]);
    checkpoint::save(&out.join(CHECKPOINT_FILE), kind, config, tensors, &extra)?;
    Ok(())
}

/// The run in `out` as its last checkpoint left it: the checkpoint (to restore variables
/// and optimiser from), the steps it had done, and the metrics logged up to then.
pub fn resume<R: MetricsRow>(
    out: &Path,
    kind: &str,
    device: &Device,
) -> anyhow::Result<(Checkpoint, usize, Vec<R>)> {
    let path = out.join(CHECKPOINT_FILE);
    let saved = checkpoint::load(&path, kind, device)?;
    let step = saved
        .metadata
        .get("step")
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{} records no step", path.display()))?;
    let mut metrics: Vec<R> = read_rows(&out.join(METRICS_FILE))?;
    metrics.retain(|row| row.step() <= step);
    Ok((saved, step, metrics))
}

/// Writes the final model files of a run that reached `step`: `vars` under `trainable.`,
/// in f32 and in f16.
pub fn write_models(
    out: &Path,
    kind: &str,
    config: &impl Serialize,
    vars: &VarMap,
    step: usize,
) -> anyhow::Result<()> {
    for (file, dtype) in [(MODEL_FILE, DType::F32), (MODEL_F16_FILE, DType::F16)] {
        write_model(out, file, dtype, kind, config, vars, step)?;
    }
    Ok(())
}

/// Writes `vars` under `trainable.` in `dtype` as `file` of the run folder, a model as it was
/// at `step` (a final model, or the best one so far).
pub fn write_model(
    out: &Path,
    file: &str,
    dtype: DType,
    kind: &str,
    config: &impl Serialize,
    vars: &VarMap,
    step: usize,
) -> anyhow::Result<()> {
    let tensors = tensors_of(vars, "trainable.", dtype)?;
    let extra = BTreeMap::from([("step".to_owned(), step.to_string())]);
    checkpoint::save(&out.join(file), kind, config, &tensors, &extra)?;
    Ok(())
}
