//! `tessera data keys` end to end: clips balanced over the 24 keys and 5 tempo bands, two
//! manifests over the same clips and splits, clips whose chroma profile agrees with their
//! key label for at least 90 % of them, and clear errors for impossible settings.

use std::collections::BTreeMap;
use std::path::Path;

use tessera_core::audio::decode::decode_file;
use tessera_tests::{ScratchDir, tessera};
use tessera_train::data::manifest::Manifest;
use tessera_train::data::songs::key_finding::{chroma, estimate_key};
use tessera_train::data::soundfont::TEST_SOUNDFONT;

/// Runs `tessera data keys` with the test SoundFont and `extra` arguments.
fn make_keys(out: &Path, count: usize, extra: &[&str]) -> anyhow::Result<()> {
    make_keys_with(out, count, TEST_SOUNDFONT, extra)
}

/// Runs `tessera data keys` with the SoundFont `soundfont` and `extra` arguments.
fn make_keys_with(out: &Path, count: usize, soundfont: &str, extra: &[&str]) -> anyhow::Result<()> {
    let count = count.to_string();
    let mut args = vec![
        "data",
        "keys",
        "--out",
        out.to_str().unwrap(),
        "--count",
        &count,
        "--soundfont",
        soundfont,
    ];
    args.extend(extra);
    tessera(&args)
}

/// Entries per label.
fn label_counts(manifest: &Manifest) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for entry in &manifest.entries {
        *counts.entry(entry.label.as_str()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn key_clips_are_balanced_and_sound_in_their_labelled_key() {
    let dir = ScratchDir::new("cli-keys");
    let out = dir.join("keys");
    // The pitched stems (drums carry no key), at the song rate so nothing is resampled.
    let args = [
        "--seconds",
        "8",
        "--seed",
        "0",
        "--stems",
        "bass,other",
        "--sample-rate",
        "44100",
    ];
    make_keys(&out, 48, &args).expect("clips are made");

    let keys = Manifest::read(&out.join("keys.csv")).unwrap();
    let tempo = Manifest::read(&out.join("tempo.csv")).unwrap();
    assert_eq!(keys.entries.len(), 48);
    let key_counts = label_counts(&keys);
    assert_eq!(key_counts.len(), 24, "{key_counts:?}");
    assert!(key_counts.values().all(|&n| n == 2), "{key_counts:?}");
    assert!(key_counts.contains_key("C# minor") && key_counts.contains_key("A# major"));
    let tempo_counts = label_counts(&tempo);
    assert_eq!(tempo_counts.len(), 5, "{tempo_counts:?}");
    assert!(
        tempo_counts.values().all(|&n| (9..=10).contains(&n)),
        "{tempo_counts:?}"
    );
    for (k, t) in keys.entries.iter().zip(&tempo.entries) {
        assert_eq!((&k.path, &k.split), (&t.path, &t.split));
    }
    let splits: Vec<&str> = keys.splits();
    assert_eq!(splits, ["test", "train", "valid"]);

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("clips.json")).unwrap()).unwrap();
    let clips = json["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 48);

    // The key each clip's chroma suggests, as the command recorded it; recomputed here from
    // the written files for every sixth clip (the FFTs are slow in a debug build).
    let mut agree = 0;
    let mut misses = Vec::new();
    for (index, (entry, clip)) in keys.entries.iter().zip(clips).enumerate() {
        let bpm = clip["tempo_bpm"].as_f64().unwrap();
        let band = clip["tempo_band"].as_str().unwrap();
        let (low, high) = band.trim_end_matches(" bpm").split_once('-').unwrap();
        assert!((low.parse().unwrap()..=high.parse().unwrap()).contains(&bpm));
        assert_eq!(clip["key"].as_str().unwrap(), entry.label);
        let heard = clip["chroma_key"].as_str().unwrap();
        if index % 6 == 0 {
            let audio = decode_file(&entry.path).unwrap();
            assert_eq!((audio.sample_rate, audio.channels.len()), (44_100, 1));
            assert_eq!(audio.channels[0].len(), 8 * 44_100);
            let chroma = chroma(&audio.channels[0], audio.sample_rate).unwrap();
            assert_eq!(
                estimate_key(&chroma).name(),
                heard,
                "{}",
                entry.path.display()
            );
        }
        if heard == entry.label {
            agree += 1;
        } else {
            misses.push(format!("{} heard as {heard}", entry.label));
        }
    }
    eprintln!("{agree}/48 clips sound in their labelled key; misses: {misses:?}");
    assert!(
        agree * 10 >= 48 * 9,
        "only {agree}/48 clips agree: {misses:?}"
    );
}

#[test]
fn impossible_settings_are_refused_clearly() {
    let dir = ScratchDir::new("cli-keys-bad");
    let out = dir.join("keys");
    for (extra, expected) in [
        (&["--seconds", "0"][..], "--seconds must be between"),
        (
            &["--test-fraction", "0.6", "--valid-fraction", "0.5"],
            "leave clips for training",
        ),
        (&["--stems", ""], "--stems"),
    ] {
        let message = format!("{:#}", make_keys(&out, 2, extra).unwrap_err());
        assert!(message.contains(expected), "{extra:?} gave: {message}");
    }
    let missing = make_keys_with(&out, 2, "/nonexistent/x.sf2", &[]).unwrap_err();
    assert!(format!("{missing:#}").contains("cannot open the SoundFont /nonexistent/x.sf2"));
    assert!(make_keys(&out, 0, &[]).is_err());
    assert!(!out.join("keys.csv").exists());
}
