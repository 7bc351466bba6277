//! `tessera bench suite` end to end on the tiny notes set of the multi-view tests: every
//! cell's probe run, a two-run multi-view sweep, suite.json with s(m) and the claims,
//! RESULTS.md's suite section replaced without touching the rest, a rerun that reads every
//! cell back instead of retraining, and a bad suite file named in the error.

use serde_json::Value;
use tessera_tests::{ScratchDir, tessera};

use super::multiview::render_notes;

const SUITE: &str = r#"
baseline = "log-mel"

[probe]
probe = "linear"
layer = "last"
max_epochs = 30

[[encoders]]
name = "log-mel"
encoder = "logmel"

[[encoders]]
name = "random PupuJEPA-Tiny"
encoder = "random"
role = "two-d-jepa"

[[tasks]]
name = "pitch"
train = "notes/notes_pitch.csv"
test = "notes/notes_pitch.csv"

[[tasks]]
name = "family"
train = "notes/notes_family.csv"
test = "notes/notes_family.csv"

[multiview]
encoder = "logmel"
notes = "notes"
principles = ["cosine"]
objectives = ["sep"]
lambdas = [0.6, 1.0]
config = "multiview.toml"
"#;

/// Two epochs of batches of 4: seconds, not minutes.
const MULTIVIEW: &str = "[train]\nepochs = 2\nbatch_size = 4\ncheckpoint_every = 5\n";

#[test]
fn suite_probes_every_cell_scores_and_splices_results() {
    let dir = ScratchDir::new("cli-bench-suite");
    render_notes(&dir);
    let config = dir.join("suite.toml");
    std::fs::write(&config, SUITE).unwrap();
    std::fs::write(dir.join("multiview.toml"), MULTIVIEW).unwrap();
    let results = dir.join("RESULTS.md");
    std::fs::write(&results, "# Results\n\nWritten by hand.\n").unwrap();
    let out = dir.join("suite");
    let args = [
        "bench",
        "suite",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ];
    tessera(&args).expect("the suite runs");

    let suite: Value = serde_json::from_slice(&std::fs::read(out.join("suite.json")).unwrap())
        .expect("suite.json is JSON");
    assert_eq!(suite["encoders"].as_array().unwrap().len(), 2);
    for row in suite["scores"].as_array().unwrap() {
        for score in row.as_array().unwrap() {
            let score = score.as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score), "{score}");
        }
    }
    let s = suite["generalisability"].as_array().unwrap();
    assert_eq!(s[0].as_f64(), Some(0.0), "the baseline improves on nothing");
    assert!((0.0..=100.0).contains(&s[1].as_f64().unwrap()));
    let claims = suite["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 5);
    // The sweep decides the Cosine-SEP claim; no 1D JEPA and no attention section in this
    // suite: those claims are not guessed.
    for claim in claims {
        let measured = claim["claim"].as_str().unwrap().starts_with("Cosine-SEP");
        assert_eq!(claim["verdict"] != "not-measured", measured, "{claim}");
        assert!(!claim["evidence"].as_str().unwrap().is_empty(), "{claim}");
    }
    assert_eq!(suite["multiview"]["rows"].as_array().unwrap().len(), 2);
    for cell in [
        "log-mel/pitch",
        "log-mel/family",
        "random-pupujepa-tiny/pitch",
    ] {
        assert!(out.join(cell).join("probe.json").is_file(), "{cell}");
    }

    let document = std::fs::read_to_string(&results).unwrap();
    assert!(document.starts_with("# Results\n\nWritten by hand.\n"));
    assert!(document.contains("| random PupuJEPA-Tiny |") && document.contains("s(m)"));
    assert!(document.contains("### Multi-view disentanglement"));

    // A rerun reads every cell back: no probe.json is rewritten, the section is replaced
    // (not appended) and the scores are the same.
    let cell = out.join("log-mel/pitch/probe.json");
    let written = std::fs::metadata(&cell).unwrap().modified().unwrap();
    tessera(&args).expect("the suite reruns");
    assert_eq!(
        std::fs::metadata(&cell).unwrap().modified().unwrap(),
        written
    );
    let again: Value =
        serde_json::from_slice(&std::fs::read(out.join("suite.json")).unwrap()).unwrap();
    assert_eq!(again["scores"], suite["scores"]);
    let document = std::fs::read_to_string(&results).unwrap();
    assert_eq!(document.matches("tessera bench suite: begin").count(), 1);

    // A suite whose baseline is not one of its encoders is refused, naming the file.
    std::fs::write(
        &config,
        SUITE.replace("baseline = \"log-mel\"", "baseline = \"mfcc\""),
    )
    .unwrap();
    let err = format!("{:#}", tessera(&args).unwrap_err());
    assert!(
        err.contains("suite.toml") && err.contains("baseline `mfcc`"),
        "{err}"
    );
}
