//! `tessera data notes` end to end on the small test SoundFont: mono 4 s notes, silent ones
//! dropped and counted, four labelled manifests whose labels match the file names, held-out
//! SoundFonts that never leak into training, same-family pairs, reproducible for a seed, and
//! clear errors for a missing SoundFont and an SF3 one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tessera_core::audio::decode::decode_file;
use tessera_tests::{ScratchDir, tessera};
use tessera_train::data::manifest::Manifest;
use tessera_train::data::soundfont::TEST_SOUNDFONT;

/// Renders 2 SoundFonts × programs 0 and 40 × pitches 60, 72 × velocities 0, 100 into `out`.
fn render(soundfonts: &[&Path], out: &Path, seed: &str) -> anyhow::Result<()> {
    let mut args = vec!["data", "notes", "--soundfont"];
    args.extend(soundfonts.iter().map(|p| p.to_str().unwrap()));
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--programs",
        "0,40",
        "--pitches",
        "60..72:12",
        "--velocities",
        "0,100",
        "--hold-out",
        "soundfont",
        "--test-fraction",
        "0.5",
        "--seed",
        seed,
    ]);
    tessera(&args)
}

/// The manifest of one label kind as file name → (label, split).
fn labels(out: &Path, kind: &str) -> BTreeMap<String, (String, String)> {
    let manifest = Manifest::read(&out.join(format!("notes_{kind}.csv"))).unwrap();
    manifest
        .entries
        .into_iter()
        .map(|e| {
            let name = e.path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, (e.label, e.split))
        })
        .collect()
}

#[test]
fn notes_are_labelled_split_by_soundfont_paired_and_reproducible() {
    let dir = ScratchDir::new("cli-data-notes");
    // The same SoundFont under two names stands in for two SoundFonts.
    let (a, b) = (dir.join("alpha.sf2"), dir.join("beta.sf2"));
    std::fs::copy(TEST_SOUNDFONT, &a).unwrap();
    std::fs::copy(TEST_SOUNDFONT, &b).unwrap();
    let out = dir.join("out");
    render(&[&a, &b], &out, "3").expect("rendering succeeds");

    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("notes.json")).unwrap()).unwrap();
    assert_eq!(config["written"], 8, "velocity 100 notes are kept");
    assert_eq!(config["dropped_silent"], 8, "velocity 0 notes are dropped");

    let pitch = labels(&out, "pitch");
    let program = labels(&out, "program");
    let family = labels(&out, "family");
    let soundfont = labels(&out, "soundfont");
    assert_eq!(pitch.len(), 8);
    for (name, (label, split)) in &pitch {
        // Names are <soundfont>_<program>_<pitch>_<velocity>.wav.
        let parts: Vec<&str> = name.trim_end_matches(".wav").split('_').collect();
        assert_eq!(parts[3], "100", "{name}");
        assert_eq!(
            label.parse::<u8>().unwrap(),
            parts[2].parse::<u8>().unwrap()
        );
        assert_eq!(
            program[name].0.parse::<u8>().unwrap(),
            parts[1].parse::<u8>().unwrap()
        );
        let expected_family = if parts[1] == "000" {
            "piano"
        } else {
            "strings"
        };
        assert_eq!(family[name].0, expected_family);
        assert_eq!(soundfont[name].0, parts[0]);
        assert!(
            [&program[name].1, &family[name].1, &soundfont[name].1]
                .iter()
                .all(|s| *s == split)
        );

        let audio = decode_file(&out.join("notes").join(name)).unwrap();
        assert_eq!(audio.sample_rate, 16_000);
        assert_eq!(audio.channels.len(), 1);
        assert_eq!(audio.channels[0].len(), 64_000);
    }

    // Every SoundFont lies in exactly one split, and both splits are used.
    let mut splits_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (label, split) in soundfont.values() {
        splits_of.entry(label).or_default().insert(split);
    }
    assert_eq!(splits_of.len(), 2);
    assert!(splits_of.values().all(|s| s.len() == 1), "{splits_of:?}");
    let used: BTreeSet<&str> = splits_of.values().flatten().copied().collect();
    assert_eq!(used.len(), 2);

    let pairs = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    let mut lines = pairs.lines();
    assert_eq!(lines.next(), Some("first,second,family,split"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 8, "every note has a partner");
    for row in &rows {
        let name = |p: &str| p.trim_start_matches("notes/").to_owned();
        let (first, second) = (name(row[0]), name(row[1]));
        assert_eq!(family[&first].0, family[&second].0);
        assert_eq!(family[&first].0, row[2]);
        assert_ne!(pitch[&first].0, pitch[&second].0);
        assert_eq!(pitch[&first].1, row[3]);
        assert_eq!(pitch[&second].1, row[3]);
    }

    let again = dir.join("again");
    render(&[&a, &b], &again, "3").unwrap();
    for file in ["notes_pitch.csv", "notes_soundfont.csv", "pairs.csv"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file}"
        );
    }
    let first_note = pitch.keys().next().unwrap();
    assert_eq!(
        std::fs::read(out.join("notes").join(first_note)).unwrap(),
        std::fs::read(again.join("notes").join(first_note)).unwrap()
    );
}

#[test]
fn missing_and_sf3_soundfonts_are_named_in_the_error() {
    let dir = ScratchDir::new("cli-data-notes-errors");
    let missing = dir.join("missing.sf2");
    let message = format!(
        "{:#}",
        render(&[&missing], &dir.join("out"), "0").unwrap_err()
    );
    assert!(message.contains(missing.to_str().unwrap()), "{message}");

    // An SF3 file is an SF2 whose sample data is Ogg Vorbis: mark the samples as such.
    let mut bytes = std::fs::read(TEST_SOUNDFONT).unwrap();
    let smpl = bytes.windows(4).position(|w| w == b"smpl").unwrap();
    bytes[smpl + 8..smpl + 12].copy_from_slice(b"OggS");
    let sf3 = dir.join("compressed.sf3");
    std::fs::write(&sf3, bytes).unwrap();
    let message = format!("{:#}", render(&[&sf3], &dir.join("out"), "0").unwrap_err());
    assert!(message.contains(sf3.to_str().unwrap()), "{message}");
    assert!(message.contains("SF3"), "{message}");
}

#[test]
fn one_soundfont_cannot_be_held_out() {
    let dir = ScratchDir::new("cli-data-notes-holdout");
    let message = format!(
        "{:#}",
        render(&[Path::new(TEST_SOUNDFONT)], &dir.join("out"), "0").unwrap_err()
    );
    assert!(message.contains("at least two SoundFonts"), "{message}");
}
