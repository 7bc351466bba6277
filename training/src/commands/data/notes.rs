//! `tessera data notes`: render NSynth-like labelled single notes from SoundFonts, as
//! `notes/<soundfont>_<program>_<pitch>_<velocity>.wav` (mono float), one labelled manifest per
//! label kind (`notes_pitch.csv`, `notes_program.csv`, `notes_family.csv`,
//! `notes_soundfont.csv`), `pairs.csv` (same family, different pitch) and `notes.json` (the run's
//! configuration and counts).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Args;
use serde::Serialize;
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};

use crate::data::manifest::{Manifest, ManifestEntry};
use crate::data::notes::{
    HoldOut, NoteConfig, NoteSpec, Split, assign_splits, has_program, note_grid, pair_notes,
    random_subset, render_note,
};
use crate::data::soundfont::{DEFAULT_SOUNDFONT, LoadedSoundFont, load_soundfont};
use crate::progress;

/// Arguments of `tessera data notes`.
#[derive(Debug, Args)]
pub struct NotesArgs {
    /// SF2 SoundFonts to render with (one or more; their file names label the notes).
    #[arg(long, num_args = 1.., default_values_t = [DEFAULT_SOUNDFONT.to_owned()])]
    pub soundfont: Vec<String>,
    /// Folder the notes, manifests and pairs are written to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// General MIDI programs, as a comma list of numbers and ranges, e.g. `0-7,40,73`. The
    /// default leaves out the percussive and sound-effect families (112–127).
    #[arg(long, default_value = "0-111")]
    pub programs: String,
    /// MIDI pitches `LO..HI` (inclusive), optionally every `STEP`-th as `LO..HI:STEP`.
    #[arg(long, default_value = "21..108")]
    pub pitches: String,
    /// MIDI velocities, as a comma list (0 renders silence and is dropped).
    #[arg(long, default_value = "25,50,75,100,127")]
    pub velocities: String,
    /// What the test split holds out whole.
    #[arg(long, value_enum, default_value_t = HoldOut::Program)]
    pub hold_out: HoldOut,
    /// Fraction of the SoundFonts or programs held out for the test split.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of the subset, the held-out groups and the pairs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Render at most this many notes, a seeded random subset of the whole grid.
    #[arg(long)]
    pub max_notes: Option<usize>,
}

/// What `notes.json` holds.
#[derive(Serialize)]
struct NotesRecord<'a> {
    /// The SoundFonts, indexed by the notes' `soundfont`.
    soundfonts: Vec<&'a Path>,
    /// The rendering settings.
    config: &'a NoteConfig,
    /// The programs asked for.
    programs: &'a [u8],
    /// The pitches asked for.
    pitches: &'a [u8],
    /// The velocities asked for.
    velocities: &'a [u8],
    /// What the test split holds out.
    hold_out: HoldOut,
    /// Fraction of groups held out.
    test_fraction: f64,
    /// The `--seed` of the run.
    seed: u64,
    /// The `--max-notes` of the run.
    max_notes: Option<usize>,
    /// Notes written.
    written: usize,
    /// Notes dropped as silent.
    dropped_silent: usize,
    /// (SoundFont, program) combinations skipped because the SoundFont lacks the preset.
    missing_presets: Vec<(usize, u8)>,
}

/// Gives a note's label of one kind, given the SoundFonts' names.
type LabelOf = fn(&NoteSpec, &[String]) -> String;

/// Parses a comma list of numbers and `A-B` ranges in `0..=127`, sorted and deduplicated.
fn parse_midi_list(text: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let number = |s: &str| -> anyhow::Result<u8> {
        s.trim()
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 127)
            .with_context(|| format!("--{what}: \"{s}\" is not a MIDI number 0–127"))
    };
    let mut values = BTreeSet::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                ensure!(lo <= hi, "--{what}: the range {part} is empty");
                values.extend(lo..=hi);
            }
            None => {
                values.insert(number(part)?);
            }
        }
    }
    Ok(values.into_iter().collect())
}

/// Parses `LO..HI` or `LO..HI:STEP` (inclusive) into MIDI pitches.
fn parse_pitches(text: &str) -> anyhow::Result<Vec<u8>> {
    let usage = || format!("--pitches: \"{text}\" is not LO..HI or LO..HI:STEP with MIDI 0–127");
    let (range, step) = text.split_once(':').unwrap_or((text, "1"));
    let (lo, hi) = range.split_once("..").with_context(usage)?;
    let parse = |s: &str| s.trim().parse::<u8>().ok().filter(|&n| n <= 127);
    let (Some(lo), Some(hi)) = (parse(lo), parse(hi)) else {
        bail!(usage());
    };
    let step: usize = step
        .trim()
        .parse()
        .ok()
        .filter(|&s| s > 0)
        .with_context(usage)?;
    ensure!(lo <= hi, "--pitches: the range {text} is empty");
    Ok((lo..=hi).step_by(step).collect())
}

/// The label-free name of a SoundFont, used in file names and as the `soundfont` label.
fn soundfont_name(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "soundfont".into(), |s| s.to_string_lossy().into_owned())
}

/// Runs `tessera data notes`.
pub fn run(args: &NotesArgs) -> anyhow::Result<()> {
    let programs = parse_midi_list(&args.programs, "programs")?;
    let pitches = parse_pitches(&args.pitches)?;
    let velocities = parse_midi_list(&args.velocities, "velocities")?;
    ensure!(
        args.test_fraction > 0.0 && args.test_fraction < 1.0,
        "--test-fraction must be between 0 and 1 (exclusive)"
    );
    ensure!(args.max_notes != Some(0), "--max-notes must be at least 1");
    let soundfonts: Vec<LoadedSoundFont> = args
        .soundfont
        .iter()
        .map(|path| load_soundfont(Path::new(path)))
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<String> = soundfonts.iter().map(|s| soundfont_name(&s.path)).collect();
    let distinct: BTreeSet<&String> = names.iter().collect();
    ensure!(
        distinct.len() == names.len(),
        "two SoundFonts have the same file name ({}); their notes would overwrite each other",
        names.join(", ")
    );
    let config = NoteConfig::default();

    let mut missing_presets = Vec::new();
    for (index, soundfont) in soundfonts.iter().enumerate() {
        for &program in &programs {
            if !has_program(soundfont, program) {
                eprintln!(
                    "{} has no preset for program {program}; skipping it",
                    soundfont.path.display()
                );
                missing_presets.push((index, program));
            }
        }
    }
    let grid: Vec<NoteSpec> = note_grid(soundfonts.len(), &programs, &pitches, &velocities)
        .into_iter()
        .filter(|n| !missing_presets.contains(&(n.soundfont, n.program)))
        .collect();
    let grid = match args.max_notes {
        Some(max) => random_subset(grid, max, args.seed),
        None => grid,
    };
    ensure!(!grid.is_empty(), "no notes to render");
    // Fail before the long render when the hold-out cannot work (silent notes may still
    // remove a group, which the split after rendering reports).
    assign_splits(&grid, args.hold_out, args.test_fraction, args.seed)?;

    let notes_dir = args.out.join("notes");
    std::fs::create_dir_all(&notes_dir)
        .with_context(|| format!("could not create {}", notes_dir.display()))?;
    let started = Instant::now();
    let bar = progress::bar(grid.len() as u64, "notes");
    let mut kept = Vec::with_capacity(grid.len());
    let mut paths = Vec::with_capacity(grid.len());
    for spec in &grid {
        let samples = render_note(&soundfonts[spec.soundfont], spec, &config)?;
        bar.inc(1);
        if config.is_silent(&samples) {
            continue;
        }
        let path = notes_dir.join(format!(
            "{}_{:03}_{:03}_{:03}.wav",
            names[spec.soundfont], spec.program, spec.pitch, spec.velocity
        ));
        let audio = AudioBuffer {
            sample_rate: config.sample_rate,
            channels: vec![samples],
        };
        write_wav(&path, &audio, WavSampleFormat::Float32)?;
        kept.push(*spec);
        paths.push(path);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let dropped_silent = grid.len() - kept.len();
    ensure!(
        !kept.is_empty(),
        "every note was silent ({dropped_silent} dropped)"
    );

    let splits = assign_splits(&kept, args.hold_out, args.test_fraction, args.seed)?;
    let label_kinds: [(&str, LabelOf); 4] = [
        ("pitch", |n, _| n.pitch.to_string()),
        ("program", |n, _| n.program.to_string()),
        ("family", |n, _| n.family_name().to_owned()),
        ("soundfont", |n, names| names[n.soundfont].clone()),
    ];
    for (kind, label) in label_kinds {
        let manifest = Manifest {
            entries: kept
                .iter()
                .zip(&paths)
                .zip(&splits)
                .map(|((note, path), split)| ManifestEntry {
                    path: path.clone(),
                    label: label(note, &names),
                    split: split.as_str().to_owned(),
                    start: None,
                    end: None,
                })
                .collect(),
        };
        manifest.write(&args.out.join(format!("notes_{kind}.csv")))?;
    }
    write_pairs(
        &args.out,
        &kept,
        &paths,
        &splits,
        &pair_notes(&kept, &splits, args.seed),
    )?;

    let record = NotesRecord {
        soundfonts: soundfonts.iter().map(|s| s.path.as_path()).collect(),
        config: &config,
        programs: &programs,
        pitches: &pitches,
        velocities: &velocities,
        hold_out: args.hold_out,
        test_fraction: args.test_fraction,
        seed: args.seed,
        max_notes: args.max_notes,
        written: kept.len(),
        dropped_silent,
        missing_presets,
    };
    let json = args.out.join("notes.json");
    std::fs::write(&json, serde_json::to_string_pretty(&record)?)
        .with_context(|| format!("could not write {}", json.display()))?;
    let test = splits.iter().filter(|&&s| s == Split::Test).count();
    println!(
        "rendered {} notes in {elapsed:.1} s ({:.1} notes/s): {} written ({} train, {test} test), \
         {dropped_silent} dropped as silent",
        grid.len(),
        grid.len() as f64 / elapsed.max(1e-9),
        kept.len(),
        kept.len() - test,
    );
    Ok(())
}

/// Writes `pairs.csv`: `first,second,family,split` with paths relative to `out`.
fn write_pairs(
    out: &Path,
    notes: &[NoteSpec],
    paths: &[PathBuf],
    splits: &[Split],
    pairs: &[(usize, usize)],
) -> anyhow::Result<()> {
    let file = out.join("pairs.csv");
    let relative = |i: usize| {
        paths[i]
            .strip_prefix(out)
            .unwrap_or(&paths[i])
            .display()
            .to_string()
    };
    let mut writer = csv::Writer::from_path(&file)
        .with_context(|| format!("could not write {}", file.display()))?;
    writer.write_record(["first", "second", "family", "split"])?;
    for &(a, b) in pairs {
        writer.write_record([
            relative(a),
            relative(b),
            notes[a].family_name().to_owned(),
            splits[a].as_str().to_owned(),
        ])?;
    }
    writer
        .flush()
        .with_context(|| format!("could not write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_parse() {
        assert_eq!(
            parse_midi_list("0-2,40, 73,1", "programs").unwrap(),
            [0, 1, 2, 40, 73]
        );
        assert!(parse_midi_list("0-128", "programs").is_err());
        assert!(parse_midi_list("5-3", "programs").is_err());
        assert!(
            parse_midi_list("x", "velocities")
                .unwrap_err()
                .to_string()
                .contains("--velocities")
        );
        assert_eq!(parse_pitches("60..64").unwrap(), [60, 61, 62, 63, 64]);
        assert_eq!(
            parse_pitches("21..108:12").unwrap(),
            [21, 33, 45, 57, 69, 81, 93, 105]
        );
        for bad in ["60", "60..200", "64..60", "60..64:0", "a..b"] {
            assert!(parse_pitches(bad).is_err(), "{bad}");
        }
    }
}
