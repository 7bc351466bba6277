//! The paper's sweep (§3, Figs. 2 and 3): every contrastive principle × objective type ×
//! reconstruction weight λ trained and evaluated on the same embedded notes, one run folder
//! each; `sweep.json`, `sweep.md` and the two figures in the sweep folder. A run whose
//! `eval.json` exists is reused, an interrupted one resumed, so a sweep can be rerun until
//! done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, ensure};
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};
use tessera_core::models::disentanglement::{ObjectiveType, Principle};

use super::config::MultiviewRunConfig;
use super::evaluate::{MultiviewEvaluation, ProbeSettings, name_of};
use super::notes::{EmbeddedNotes, EmbeddingSource, embed_notes};
use super::notes_run::{evaluate_run, read_evaluation, train_on_notes};
use crate::files::write_atomic;
use crate::plot::{Marker, ScatterAxes, ScatterPoint, ScatterSeries, render_scatter_png};
use crate::progress;
use crate::run_folder::CHECKPOINT_FILE;

/// Files of a sweep folder.
pub const SWEEP_JSON: &str = "sweep.json";
pub const SWEEP_MARKDOWN: &str = "sweep.md";
pub const ACCURACY_PNG: &str = "accuracy-vs-mse.png";
pub const MARGINS_PNG: &str = "margins.png";

/// What a sweep covers and how.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// The notes folder of `tessera data notes`.
    pub notes: PathBuf,
    /// How its clips are embedded (once for the whole sweep).
    pub source: EmbeddingSource,
    /// The embedding cache (`None`: embed afresh, cache nothing).
    pub cache: Option<PathBuf>,
    /// The sweep folder: one run folder per combination, and the sweep's reports.
    pub out: PathBuf,
    pub principles: Vec<Principle>,
    pub objectives: Vec<ObjectiveType>,
    /// Reconstruction weights λ (1 is reconstruction only).
    pub lambdas: Vec<f64>,
    /// Every run's configuration apart from its objective, which the sweep sets.
    pub base: MultiviewRunConfig,
    /// How the probes are trained.
    pub probes: ProbeSettings,
}

/// One combination's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Its run folder, relative to the sweep folder.
    pub run: PathBuf,
    /// Its evaluation (its objective says which combination it is).
    pub evaluation: MultiviewEvaluation,
}

/// What `sweep.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// How the notes were embedded.
    pub source: EmbeddingSource,
    /// The notes folder.
    pub notes: PathBuf,
    /// One row per combination, in sweep order (principle, objective, λ).
    pub rows: Vec<SweepRow>,
}

impl SweepResult {
    /// The rows as a markdown table.
    pub fn markdown_table(&self) -> String {
        let mut table = MultiviewEvaluation::MARKDOWN_HEADER.to_owned();
        for row in &self.rows {
            table.push('\n');
            table.push_str(&row.evaluation.markdown_row());
        }
        table + "\n"
    }

    /// `sweep.md`: what was swept on what, and the table.
    pub fn markdown(&self) -> String {
        format!(
            "# Multi-view sweep\n\nEncoder `{}` (layer {}), notes {}, seed {}. Accuracies are \
             linear probes (50 % input dropout) on the test split; ΔPitch = pitch(z_p) − \
             pitch(z_s), ΔInstrument = family(z_s) − family(z_p); overall is the mean of both \
             tasks on z_p⊕z_s; MSE is the test latents' reconstruction error.\n\n{}",
            self.source.encoder,
            self.source
                .layer
                .map_or("last".to_owned(), |l| l.to_string()),
            self.notes.display(),
            self.source.seed,
            self.markdown_table()
        )
    }
}

/// The run folder of every combination at λ = 1.
pub const RECONSTRUCTION_ONLY_RUN: &str = "reconstruction-only";

/// A combination's run folder name, e.g. `cosine-sep-lambda0.6`. At λ = 1 the
/// disentanglement term weighs nothing, so every principle and objective trains the same
/// model: one run, [`RECONSTRUCTION_ONLY_RUN`].
pub fn run_name(principle: Principle, objective: ObjectiveType, lambda: f64) -> String {
    if lambda == 1.0 {
        return RECONSTRUCTION_ONLY_RUN.to_owned();
    }
    format!(
        "{}-{}-lambda{lambda}",
        name_of(&principle),
        name_of(&objective).replace('+', "-")
    )
}

/// Runs the sweep of `config`: embeds the notes once, then trains and evaluates every
/// combination not already evaluated, and writes the sweep's reports and figures.
pub fn run(config: &SweepConfig) -> anyhow::Result<SweepResult> {
    ensure!(
        !config.principles.is_empty()
            && !config.objectives.is_empty()
            && !config.lambdas.is_empty(),
        "a sweep needs at least one principle, objective and λ"
    );
    if let Some(&lambda) = config.lambdas.iter().find(|l| !(0.0..=1.0).contains(*l)) {
        anyhow::bail!("λ must be in [0, 1], got {lambda}");
    }
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("cannot create {}", config.out.display()))?;
    // Embedded only when some run still needs the latents.
    let mut notes: Option<EmbeddedNotes> = None;
    let mut names = HashSet::new();
    let combinations: Vec<(Principle, ObjectiveType, f64)> = config
        .principles
        .iter()
        .flat_map(|&p| {
            config
                .objectives
                .iter()
                .flat_map(move |&o| config.lambdas.iter().map(move |&l| (p, o, l)))
        })
        .filter(|&(p, o, l)| names.insert(run_name(p, o, l)))
        .collect();
    let mut rows = Vec::new();
    for (i, &(principle, objective, lambda)) in combinations.iter().enumerate() {
        let name = run_name(principle, objective, lambda);
        let folder = config.out.join(&name);
        let began = Instant::now();
        let evaluation = match read_evaluation(&folder)? {
            Some(done) => {
                eprintln!(
                    "[{}/{}] {name}: evaluated before, reused",
                    i + 1,
                    combinations.len()
                );
                done
            }
            None => {
                let notes = match &mut notes {
                    Some(notes) => &*notes,
                    None => notes.insert(embed_notes(
                        &config.notes,
                        &config.source,
                        config.cache.as_deref(),
                    )?),
                };
                let mut run_config = config.base.clone();
                run_config.model.objective.principle = principle;
                run_config.model.objective.kind = objective;
                run_config.model.objective.reconstruction_weight = lambda;
                let resume = folder.join(CHECKPOINT_FILE).is_file();
                train_on_notes(&run_config, notes, &folder, resume)?;
                let bar = progress::bar(6, "probes");
                let evaluation = evaluate_run(&folder, notes, config.probes, &bar)?;
                bar.finish_and_clear();
                eprintln!(
                    "[{}/{}] {name}: overall {:.3}, ΔPitch {:+.3}, ΔInstrument {:+.3}, MSE {:.4} ({:.0} s)",
                    i + 1,
                    combinations.len(),
                    evaluation.overall,
                    evaluation.delta_pitch,
                    evaluation.delta_instrument,
                    evaluation.reconstruction_mse,
                    began.elapsed().as_secs_f64()
                );
                evaluation
            }
        };
        rows.push(SweepRow {
            run: PathBuf::from(name),
            evaluation,
        });
    }
    let result = SweepResult {
        source: config.source.clone(),
        notes: config.notes.clone(),
        rows,
    };
    write_reports(&result, &config.out)?;
    Ok(result)
}

/// Writes `sweep.json`, `sweep.md` and the two figures into `out`.
pub fn write_reports(result: &SweepResult, out: &Path) -> anyhow::Result<()> {
    write_atomic(
        &out.join(SWEEP_JSON),
        (serde_json::to_string_pretty(result)? + "\n").as_bytes(),
    )?;
    write_atomic(&out.join(SWEEP_MARKDOWN), result.markdown().as_bytes())?;
    let title = |what: &str| format!("{what} — {}", result.source.encoder);
    // Fig. 2: overall accuracy against reconstruction MSE.
    render_scatter_png(
        &ScatterAxes {
            title: title("overall accuracy vs reconstruction (Fig. 2)"),
            x_label: "reconstruction MSE (test)".into(),
            y_label: "overall accuracy (mean of pitch and family on z_p⊕z_s)".into(),
            zero_lines: false,
        },
        &series(result, |e| (e.reconstruction_mse, e.overall), |_| 6.0),
        &out.join(ACCURACY_PNG),
    )?;
    // Fig. 3: the two margins, point size by overall accuracy as in the paper.
    render_scatter_png(
        &ScatterAxes {
            title: title("disentanglement margins (Fig. 3; size: overall accuracy)"),
            x_label: "ΔPitch = pitch(z_p) − pitch(z_s)".into(),
            y_label: "ΔInstrument = family(z_s) − family(z_p)".into(),
            zero_lines: true,
        },
        &series(
            result,
            |e| (e.delta_pitch, e.delta_instrument),
            |e| 3.0 + 9.0 * e.overall.clamp(0.0, 1.0),
        ),
        &out.join(MARGINS_PNG),
    )
}

/// One series per (principle, objective): colour by objective type (as the paper's Fig. 3:
/// similarity blue, separation red, both purple), marker by principle; every point notes
/// its λ. The reconstruction-only run (λ = 1) has no principle or objective: a grey series
/// of its own.
fn series(
    result: &SweepResult,
    position: fn(&MultiviewEvaluation) -> (f64, f64),
    radius: fn(&MultiviewEvaluation) -> f64,
) -> Vec<ScatterSeries> {
    let mut groups: Vec<ScatterSeries> = Vec::new();
    for row in &result.rows {
        let e = &row.evaluation;
        let (principle, objective) = (e.objective.principle, e.objective.kind);
        let reconstruction_only = e.objective.is_reconstruction_only();
        let label = if reconstruction_only {
            "reconstruction only".to_owned()
        } else {
            format!("{} {}", name_of(&principle), name_of(&objective))
        };
        let (x, y) = position(e);
        let point = ScatterPoint {
            x,
            y,
            radius: radius(e),
            note: format!("λ={}", e.objective.reconstruction_weight),
        };
        match groups.iter_mut().find(|g| g.label == label) {
            Some(group) => group.points.push(point),
            None => groups.push(ScatterSeries {
                label,
                colour: match objective {
                    _ if reconstruction_only => RGBColor(110, 110, 110),
                    ObjectiveType::Similarity => RGBColor(31, 119, 180),
                    ObjectiveType::Separation => RGBColor(214, 39, 40),
                    ObjectiveType::Both => RGBColor(148, 103, 189),
                },
                marker: match principle {
                    _ if reconstruction_only => Marker::Square,
                    Principle::InfoNce => Marker::Circle,
                    Principle::Cosine => Marker::Triangle,
                    Principle::Vicreg => Marker::Square,
                },
                points: vec![point],
            }),
        }
    }
    groups
}
