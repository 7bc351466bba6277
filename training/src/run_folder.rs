//! What every training loop does with its run folder: refuse to overwrite a run unless it
//! resumes one with the same configuration, write the configuration, and at the end the
//! model in f32 and f16.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use candle_core::DType;
use candle_nn::VarMap;
use serde::Serialize;
use tessera_core::checkpoint::{self, tensors_of};

use crate::files::write_atomic;

/// Files of a run folder.
pub const CONFIG_FILE: &str = "config.toml";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub const MODEL_FILE: &str = "model.safetensors";
pub const MODEL_F16_FILE: &str = "model-f16.safetensors";
pub const METRICS_FILE: &str = "metrics.csv";
pub const PLOT_FILE: &str = "loss.png";

/// Creates `out` for a new run, or checks it for a resumed one (`same_as_saved` compares
/// the configuration with the one the run was started with), then writes `config_toml`.
pub fn open(
    out: &Path,
    resume: bool,
    same_as_saved: impl FnOnce() -> anyhow::Result<bool>,
    config_toml: &str,
) -> anyhow::Result<()> {
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
        let tensors = tensors_of(vars, "trainable.", dtype)?;
        let extra = BTreeMap::from([("step".to_owned(), step.to_string())]);
        checkpoint::save(&out.join(file), kind, config, &tensors, &extra)?;
    }
    Ok(())
}
