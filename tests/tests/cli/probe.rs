//! `tessera probe` end to end on a tiny rendered notes set: the log-mel baseline and the
//! embedded PupuJEPA-Tiny write probe.json, probe.md and confusion.png; a second probe on
//! the same clips reads every embedding from the cache and gives the same result; a damaged
//! cache file is recomputed; bad input gets one clear sentence naming the file.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tessera_tests::{ScratchDir, png_size, tessera};

/// 28 notes: piano and strings × 7 pitches, one velocity.
fn render_notes(dir: &ScratchDir) -> PathBuf {
    tessera_tests::render_notes(dir, "48..72:4", "100")
}

/// Runs `tessera probe` on one manifest's splits with a short epoch cap and returns its
/// probe.json.
fn probe(manifest: &Path, encoder: &str, out: &Path, cache: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "probe",
        "--encoder",
        encoder,
        "--train",
        manifest.to_str().unwrap(),
        "--test",
        manifest.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--max-epochs",
        "30",
    ];
    args.extend(extra);
    tessera(&args).expect("the probe runs");
    serde_json::from_slice(&std::fs::read(out.join("probe.json")).unwrap()).unwrap()
}

fn share(value: &Value) -> f64 {
    let share = value.as_f64().expect("a number");
    assert!((0.0..=1.0).contains(&share), "{share}");
    share
}

#[test]
fn logmel_and_pupu_jepa_probes_write_their_reports_and_reuse_the_cache() {
    let dir = ScratchDir::new("cli-probe");
    let notes = render_notes(&dir);
    let cache = dir.join("cache");

    let out = dir.join("family-logmel");
    let family = notes.join("notes_family.csv");
    let report = probe(&family, "logmel", &out, &cache, &["--probe", "both"]);
    assert_eq!(report["encoder"], "logmel");
    assert_eq!(report["task"], "single-label");
    assert_eq!(report["classes"], serde_json::json!(["piano", "strings"]));
    let sizes = &report["sizes"];
    let total = ["train", "valid", "test"].map(|s| sizes[s].as_u64().unwrap());
    assert_eq!(total.iter().sum::<u64>(), 28);
    assert_eq!(total[2], 14, "the held-out SoundFont's notes test");
    assert_eq!(report["embedding"]["layers"], 1);
    assert_eq!(report["embedding"]["dim"], 256, "mean and std of 128 bands");
    assert_eq!(report["embedding"]["from_cache"], 0);
    let probes = report["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    for (probe, name) in probes.iter().zip(["linear", "mlp"]) {
        assert_eq!(probe["probe"], name);
        share(&probe["accuracy"]);
        share(&probe["macro_f1"]);
        let confusion: Vec<Vec<u64>> = serde_json::from_value(probe["confusion"].clone()).unwrap();
        assert_eq!(confusion.len(), 2);
        assert_eq!(confusion.iter().flatten().sum::<u64>(), 14);
        assert_eq!(probe["per_class"].as_array().unwrap().len(), 2);
        assert_eq!(probe["per_class"][0]["label"], "piano");
        assert!(
            [3.2e-3, 1e-3, 3.2e-4, 1e-4]
                .contains(&probe["selection"]["learning_rate"].as_f64().unwrap())
        );
    }
    let markdown = std::fs::read_to_string(out.join("probe.md")).unwrap();
    assert!(markdown.contains("| probe | learning rate |"), "{markdown}");
    assert!(markdown.contains("| mlp |"), "{markdown}");
    let png = std::fs::read(out.join("confusion.png")).unwrap();
    assert!(png_size(&png).is_some(), "confusion.png is a PNG");

    // Another label of the same clips: every embedding comes from the cache.
    let pitch = notes.join("notes_pitch.csv");
    let report = probe(&pitch, "logmel", &dir.join("pitch-logmel"), &cache, &[]);
    assert_eq!(report["embedding"]["from_cache"], 28);
    assert_eq!(report["classes"].as_array().unwrap().len(), 7);

    // The embedded PupuJEPA-Tiny, all six layers mixed by learned weights.
    let run = |out: &str| {
        probe(
            &pitch,
            "pupu-jepa-tiny",
            &dir.join(out),
            &cache,
            &["--layer", "weighted", "--probe", "linear"],
        )
    };
    let first = run("pitch-pupu");
    assert_eq!(first["embedding"]["from_cache"], 0);
    assert_eq!(first["embedding"]["layers"], 6);
    assert_eq!(first["embedding"]["dim"], 192);
    let weights: Vec<f64> =
        serde_json::from_value(first["probes"][0]["layer_weights"].clone()).unwrap();
    assert_eq!(weights.len(), 6);
    assert!(
        (weights.iter().sum::<f64>() - 1.0).abs() < 1e-5,
        "{weights:?}"
    );
    let second = run("pitch-pupu-again");
    assert_eq!(second["embedding"]["from_cache"], 28);
    assert_eq!(
        first["probes"][0]["accuracy"], second["probes"][0]["accuracy"],
        "cached embeddings and a fixed seed give the same probe"
    );
    assert_eq!(
        first["probes"][0]["confusion"],
        second["probes"][0]["confusion"]
    );

    // A damaged cache file is embedded again, not fatal.
    let folder = cache.join(first["encoder_fingerprint"].as_str().unwrap());
    let damaged = std::fs::read_dir(&folder)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&damaged, b"not a safetensors file").unwrap();
    let third = run("pitch-pupu-repaired");
    assert_eq!(third["embedding"]["from_cache"], 27);
    assert_eq!(
        first["probes"][0]["accuracy"],
        third["probes"][0]["accuracy"]
    );
}

/// The error of `tessera probe ARGS` (which must fail), as one string.
fn probe_error(args: &[&str]) -> String {
    let mut all = vec!["probe"];
    all.extend(args);
    format!("{:#}", tessera(&all).unwrap_err())
}

#[test]
fn bad_input_gets_a_clear_error_naming_the_file() {
    let dir = ScratchDir::new("cli-probe-errors");
    let notes = render_notes(&dir);
    let family = notes.join("notes_family.csv");
    let family = family.to_str().unwrap();
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let run = |encoder: &str, train: &str, test: &str| {
        probe_error(&[
            "--encoder",
            encoder,
            "--train",
            train,
            "--test",
            test,
            "--out",
            out,
            "--no-cache",
        ])
    };

    let missing = dir.join("missing.csv");
    let message = run("logmel", missing.to_str().unwrap(), family);
    assert!(message.contains("missing.csv"), "{message}");

    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "path,label,split\n").unwrap();
    let message = run("logmel", family, empty.to_str().unwrap());
    assert!(
        message.contains("empty.csv") && message.contains("no rows"),
        "{message}"
    );

    // A test label the training rows never had.
    let unseen = notes.join("unseen.csv");
    let first_note = std::fs::read_to_string(notes.join("notes_family.csv")).unwrap();
    let note = first_note
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(
        &unseen,
        format!("path,label,split\n{note},piano,test\n{note},brass,test\n"),
    )
    .unwrap();
    let message = run("logmel", family, unseen.to_str().unwrap());
    assert!(
        message.contains("unseen.csv line 3") && message.contains("\"brass\" never occurs"),
        "{message}"
    );

    let message = run("no-such-encoder", family, family);
    assert!(
        message.contains("unknown encoder `no-such-encoder`"),
        "{message}"
    );

    let separator = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/separator-tiny/model-f16.safetensors"
    );
    let message = run(separator, family, family);
    assert!(
        message.contains("is a separator checkpoint, not an encoder"),
        "{message}"
    );

    let message = run(&note_path(&notes, &note), family, family);
    assert!(message.contains("not a valid checkpoint"), "{message}");

    // Audio that does not decode.
    let broken = notes.join("broken.wav");
    std::fs::write(&broken, b"RIFF but not really").unwrap();
    let bad_audio = notes.join("bad_audio.csv");
    std::fs::write(
        &bad_audio,
        format!(
            "path,label,split\nbroken.wav,piano,train\n{note},piano,valid\n{note},piano,test\n"
        ),
    )
    .unwrap();
    let bad_audio = bad_audio.to_str().unwrap();
    let message = run("logmel", bad_audio, bad_audio);
    assert!(message.contains("broken.wav"), "{message}");
}

/// A note's audio file, given its manifest path.
fn note_path(notes: &Path, note: &str) -> String {
    notes.join(note).to_str().unwrap().to_owned()
}
