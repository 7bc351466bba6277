//! A multi-view run on a notes folder, as `tessera multiview train` and `eval` and the sweep
//! keep it: the run folder of [`super::train`] plus `embedding.json` (how the notes were
//! embedded, so the evaluation embeds them the same way) and, once evaluated, `eval.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use candle_core::Device;
use indicatif::ProgressBar;

use super::config::MultiviewRunConfig;
use super::evaluate::{MultiviewEvaluation, ProbeSettings, evaluate};
use super::notes::{EmbeddedNotes, EmbeddingSource};
use super::run::{BEST_FILE, MultiviewOptions, MultiviewOutcome, train};
use crate::files::write_atomic;

/// How the run's notes were embedded.
pub const SOURCE_FILE: &str = "embedding.json";
/// The run's evaluation.
pub const EVAL_FILE: &str = "eval.json";

/// `config` with its widths fitted to latents `dim` wide: the latent width always, and the
/// hidden and code widths where they followed the configured latent width (hidden = d and
/// code = d / 2, the defaults), so a log-mel (256) or other encoder needs no configuration
/// while widths set on purpose stay.
pub fn fit_to_latents(config: &MultiviewRunConfig, dim: usize) -> MultiviewRunConfig {
    let mut fitted = config.clone();
    let model = &mut fitted.model;
    if model.hidden_dim == model.latent_dim {
        model.hidden_dim = dim;
    }
    if model.code_dim == model.latent_dim / 2 {
        model.code_dim = (dim / 2).max(1);
    }
    model.latent_dim = dim;
    fitted
}

/// Trains `config` (fitted to the latents' width) on the training part of `notes`, validated
/// on its held-out part, in `out`; continues a run there when `resume` (a finished run is
/// not retrained). A resumed run must have embedded its notes the same way.
pub fn train_on_notes(
    config: &MultiviewRunConfig,
    notes: &EmbeddedNotes,
    out: &Path,
    resume: bool,
) -> anyhow::Result<MultiviewOutcome> {
    if resume {
        let saved = read_source(out)?;
        ensure!(
            saved == notes.source,
            "{} embedded its notes as {saved:?}, not {:?}; resume with the same --encoder, \
             --layer and --seed",
            out.display(),
            notes.source
        );
    }
    let config = fit_to_latents(config, notes.train.latents.dim(1)?);
    let seed = notes.source.seed;
    // Different pairing seeds for the two parts, so the same draw does not repeat.
    let train_pairs = notes.train.paired(seed)?;
    let valid_pairs = notes.valid.paired(seed.wrapping_add(1))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(
        &out.join(SOURCE_FILE),
        (serde_json::to_string_pretty(&notes.source)? + "\n").as_bytes(),
    )?;
    train(
        &config,
        &train_pairs,
        Some(&valid_pairs),
        &MultiviewOptions {
            out: out.to_path_buf(),
            resume,
            stop_after: None,
            device: Device::Cpu,
        },
    )
}

/// How the run in `run` embedded its notes.
pub fn read_source(run: &Path) -> anyhow::Result<EmbeddingSource> {
    let path = run.join(SOURCE_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read the run's {SOURCE_FILE}; is {} a folder of `tessera multiview train`?",
            path.display(),
            run.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// The model to evaluate: the run's best on validation.
pub fn trained_model(run: &Path) -> anyhow::Result<PathBuf> {
    let model = run.join(BEST_FILE);
    ensure!(
        model.is_file(),
        "{}: no trained model ({BEST_FILE} is missing); train it with `tessera multiview train \
         --out {}`",
        run.display(),
        run.display()
    );
    Ok(model)
}

/// Evaluates the run in `run` on `notes` and writes its `eval.json`.
pub fn evaluate_run(
    run: &Path,
    notes: &EmbeddedNotes,
    probes: ProbeSettings,
    progress: &ProgressBar,
) -> anyhow::Result<MultiviewEvaluation> {
    let evaluation = evaluate(&trained_model(run)?, notes, probes, progress)?;
    write_atomic(
        &run.join(EVAL_FILE),
        (serde_json::to_string_pretty(&evaluation)? + "\n").as_bytes(),
    )?;
    Ok(evaluation)
}

/// The evaluation a run folder holds, if it was evaluated.
pub fn read_evaluation(run: &Path) -> anyhow::Result<Option<MultiviewEvaluation>> {
    let path = run.join(EVAL_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let evaluation = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a multi-view evaluation", path.display()))?;
    Ok(Some(evaluation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_that_followed_the_latent_width_follow_the_data() {
        let fitted = fit_to_latents(&MultiviewRunConfig::default(), 256);
        assert_eq!(
            (
                fitted.model.latent_dim,
                fitted.model.hidden_dim,
                fitted.model.code_dim
            ),
            (256, 256, 128)
        );
        let mut chosen = MultiviewRunConfig::default();
        chosen.model.hidden_dim = 64;
        chosen.model.code_dim = 16;
        let fitted = fit_to_latents(&chosen, 256);
        assert_eq!(
            (
                fitted.model.latent_dim,
                fitted.model.hidden_dim,
                fitted.model.code_dim
            ),
            (256, 64, 16)
        );
    }
}
