//! `tessera multiview` end to end on a tiny rendered notes set with a tiny configuration:
//! train → eval writes eval.json with every accuracy, margin and the MSE; `--resume` on a
//! finished run does not retrain; a two-run sweep writes sweep.json, sweep.md and both
//! figures and, rerun, reuses its runs; bad input names the path.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tessera_tests::{ScratchDir, png_size, tessera};
use tessera_train::multiview::{SweepResult, cosine_sep_claim};

/// 104 notes: piano and strings × 13 pitches × 2 velocities, so the training SoundFont's 52
/// notes leave a validation part with pairs of one family.
pub(crate) fn render_notes(dir: &ScratchDir) -> PathBuf {
    tessera_tests::render_notes(dir, "48..72:2", "64,100")
}

/// Two epochs of batches of 4 on narrow codes: seconds, not minutes.
fn tiny_config(dir: &ScratchDir) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(
        &path,
        "[train]\nepochs = 2\nbatch_size = 4\ncheckpoint_every = 5\n[train.optim]\nlearning_rate = 1e-3\nmin_learning_rate = 1e-3\n",
    )
    .unwrap();
    path
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn share(value: &Value) -> f64 {
    let share = value.as_f64().expect("a number");
    assert!((0.0..=1.0).contains(&share), "{share}");
    share
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn train_eval_and_resume_on_tiny_notes() {
    let dir = ScratchDir::new("cli-multiview");
    let notes = render_notes(&dir);
    let config = tiny_config(&dir);
    let run = dir.join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "multiview",
            "train",
            "--encoder",
            "logmel",
            "--notes",
            text(&notes),
            "--out",
            text(&run),
        ];
        args.extend(extra);
        tessera(&args).expect("training runs")
    };
    train(&[
        "--config",
        text(&config),
        "--principle",
        "vicreg",
        "--objective",
        "sim+sep",
        "--lambda",
        "0.4",
    ]);
    let best = run.join("best.safetensors");
    assert!(best.is_file() && run.join("embedding.json").is_file());
    let written = std::fs::metadata(&best).unwrap().modified().unwrap();
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();

    tessera(&[
        "multiview",
        "eval",
        "--run",
        text(&run),
        "--notes",
        text(&notes),
        "--probe-epochs",
        "20",
    ])
    .expect("evaluation runs");
    let report = json(&run.join("eval.json"));
    assert_eq!(report["source"]["encoder"], "logmel");
    assert_eq!(report["objective"]["principle"], "vicreg");
    assert_eq!(report["objective"]["kind"], "sim+sep");
    assert_eq!(report["objective"]["reconstruction_weight"], 0.4);
    assert_eq!(report["sizes"]["test"], 52, "the held-out SoundFont tests");
    assert_eq!(
        report["sizes"]["train"].as_u64().unwrap() + report["sizes"]["valid"].as_u64().unwrap(),
        52
    );
    let accuracy = |task: &str, code: &str| share(&report[task][code]);
    let delta_pitch = report["delta_pitch"].as_f64().unwrap();
    assert!(
        (delta_pitch - (accuracy("pitch", "private") - accuracy("pitch", "shared"))).abs() < 1e-12
    );
    let delta_instrument = report["delta_instrument"].as_f64().unwrap();
    assert!(
        (delta_instrument - (accuracy("family", "shared") - accuracy("family", "private"))).abs()
            < 1e-12
    );
    let overall = share(&report["overall"]);
    assert!(
        (overall - (accuracy("pitch", "joined") + accuracy("family", "joined")) / 2.0).abs()
            < 1e-12
    );
    let mse = report["reconstruction_mse"].as_f64().unwrap();
    assert!(mse.is_finite() && mse > 0.0, "{mse}");

    // Resuming a finished run leaves it as it was.
    train(&["--resume"]);
    assert_eq!(
        std::fs::metadata(&best).unwrap().modified().unwrap(),
        written
    );
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.csv")).unwrap(),
        metrics
    );

    // Bad input names the path.
    let missing = dir.join("no-notes");
    let error = tessera(&[
        "multiview",
        "train",
        "--encoder",
        "logmel",
        "--notes",
        text(&missing),
        "--out",
        text(&dir.join("other")),
    ])
    .unwrap_err();
    let error = format!("{error:#}");
    assert!(
        error.contains(text(&missing)) && error.contains("notes folder"),
        "{error}"
    );
    let empty = dir.join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    let error = tessera(&[
        "multiview",
        "eval",
        "--run",
        text(&empty),
        "--notes",
        text(&notes),
    ])
    .unwrap_err();
    let error = format!("{error:#}");
    assert!(
        error.contains(text(&empty)) && error.contains("no trained model"),
        "{error}"
    );
}

#[test]
fn a_sweep_trains_lambda_one_once_writes_its_reports_and_reuses_finished_runs() {
    let dir = ScratchDir::new("cli-multiview-sweep");
    let notes = render_notes(&dir);
    let config = tiny_config(&dir);
    let out = dir.join("sweep");
    let sweep = || {
        tessera(&[
            "multiview",
            "sweep",
            "--encoder",
            "logmel",
            "--notes",
            text(&notes),
            "--out",
            text(&out),
            "--principles",
            "cosine",
            "--objectives",
            "sep,sim",
            "--lambdas",
            "0.6,1",
            "--config",
            text(&config),
            "--probe-epochs",
            "20",
        ])
        .expect("the sweep runs")
    };
    sweep();
    let result = json(&out.join("sweep.json"));
    let rows = result["rows"].as_array().unwrap();
    // λ = 1 trains the same model for every objective: one run.
    let runs: Vec<&str> = rows.iter().map(|r| r["run"].as_str().unwrap()).collect();
    assert_eq!(
        runs,
        [
            "cosine-sep-lambda0.6",
            "reconstruction-only",
            "cosine-sim-lambda0.6"
        ]
    );
    assert_eq!(
        rows[1]["evaluation"]["objective"]["reconstruction_weight"],
        1.0
    );
    let markdown = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(markdown.contains("| cosine | sep | 0.6 |"), "{markdown}");
    assert!(markdown.contains("| – | – | 1 |"), "{markdown}");
    for figure in ["accuracy-vs-mse.png", "margins.png"] {
        let png = std::fs::read(out.join(figure)).unwrap();
        assert!(png_size(&png).is_some(), "{figure} is a PNG");
    }

    let model = out.join("cosine-sep-lambda0.6/best.safetensors");
    let written = std::fs::metadata(&model).unwrap().modified().unwrap();
    sweep();
    assert_eq!(
        std::fs::metadata(&model).unwrap().modified().unwrap(),
        written
    );
    assert_eq!(
        json(&out.join("sweep.json")),
        result,
        "the reused runs give the same table"
    );

    // The claim of the paper's Table 1, answered from the library's result.
    let parsed: SweepResult = serde_json::from_value(result).unwrap();
    let claim = cosine_sep_claim(&parsed).unwrap();
    let (candidate, baseline) = (&parsed.rows[0].evaluation, &parsed.rows[1].evaluation);
    assert_eq!(claim.delta_pitch, candidate.delta_pitch);
    assert_eq!(claim.delta_instrument, candidate.delta_instrument);
    assert_eq!(claim.reconstruction_only_overall, baseline.overall);
    assert_eq!(
        claim.held,
        candidate.delta_pitch > 0.0
            && candidate.delta_instrument > 0.0
            && candidate.overall >= baseline.overall
    );
}
