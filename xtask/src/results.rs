//! `cargo xtask results`: regenerates RESULTS.md's probing suite from nothing but Debian's
//! SoundFonts — renders the notes, key clips, test songs and reverberant scenes the suite
//! reads (each only if missing, with the commands RESULTS.md quotes), then runs `tessera
//! bench suite`. Several hours on 2 cores the first time (RESULTS.md's "Reading the
//! probing suite" lists what each part took); a rerun resumes.

use anyhow::Result;

use crate::setup::ensure_debian_packages;
use crate::{tessera, workspace_root};

/// The SoundFonts the data is rendered with.
const SOUNDFONT_PACKAGES: &[&str] = &[
    "fluid-soundfont-gm",
    "musescore-general-soundfont-lossless",
    "opl3-soundfont",
    "timgm6mb-soundfont",
    "csound-soundfont",
];
const SF2: &str = "/usr/share/sounds/sf2";
/// Where the data and the suite's runs go (git-ignored).
const DATA: &str = "data";

pub fn run() -> Result<()> {
    ensure_debian_packages(SOUNDFONT_PACKAGES)?;
    let root = workspace_root();
    let data = root.join(DATA);
    let missing = |path: &str| !data.join(path).exists();
    let at = |path: &str| data.join(path).to_string_lossy().into_owned();
    let font = |name: &str| format!("{SF2}/{name}");
    if missing("probe/notes/notes.json") {
        let fonts = [
            "FluidR3_GM.sf2",
            "MuseScore_General_Full.sf2",
            "OPL-3_FM_128M.sf2",
            "TimGM6mb.sf2",
            "sf_GMbank.sf2",
        ]
        .map(font);
        let mut args = vec!["data", "notes", "--soundfont"];
        args.extend(fonts.iter().map(String::as_str));
        let out = at("probe/notes");
        args.extend([
            "--out",
            &out,
            "--pitches",
            "36..96",
            "--velocities",
            "75,127",
            "--hold-out",
            "soundfont",
            "--test-fraction",
            "0.4",
            "--max-notes",
            "4000",
            "--seed",
            "0",
        ]);
        tessera(&args)?;
    }
    for (folder, count, soundfont, seed) in [
        (
            "probe/keys-musescore",
            "480",
            "MuseScore_General_Full.sf2",
            "1",
        ),
        ("probe/keys-fluid", "240", "FluidR3_GM.sf2", "2"),
    ] {
        if missing(&format!("{folder}/clips.json")) {
            let (out, soundfont) = (at(folder), font(soundfont));
            tessera(&[
                "data",
                "keys",
                "--out",
                &out,
                "--count",
                count,
                "--soundfont",
                &soundfont,
                "--seed",
                seed,
            ])?;
        }
    }
    // The separator's test songs (assets/separator-tiny/MODEL_CARD.md), for the attention
    // measurement.
    for (folder, soundfont, seed) in [
        ("sep/test/timgm", "TimGM6mb.sf2", "500"),
        ("sep/test/csound", "sf_GMbank.sf2", "600"),
    ] {
        if missing(folder) {
            let (out, soundfont) = (at(folder), font(soundfont));
            tessera(&[
                "data",
                "songs",
                "--count",
                "8",
                "--seconds",
                "30",
                "--seed",
                seed,
                "--soundfont",
                &soundfont,
                "--out",
                &out,
            ])?;
        }
    }
    // The family task in reverberant, noisy rooms (Nat-HEAR's idea): every fourth note,
    // 2 s of it, with the TimGM6mb test songs playing as noise.
    if missing("probe/scenes/scenes.csv") {
        let (labels, noise, out) = (
            at("probe/notes/notes_family.csv"),
            at("sep/test/timgm"),
            at("probe/scenes"),
        );
        tessera(&[
            "data",
            "scenes",
            "--labels",
            &labels,
            "--noise",
            &noise,
            "--out",
            &out,
            "--count",
            "988",
            "--seconds",
            "2",
            "--seed",
            "3",
        ])?;
    }
    let (config, out, results) = (
        root.join("experiments/suite.toml"),
        data.join("suite"),
        root.join("RESULTS.md"),
    );
    tessera(&[
        "bench",
        "suite",
        "--config",
        &config.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
        "--results",
        &results.to_string_lossy(),
    ])
}
