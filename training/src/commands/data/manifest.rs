//! `tessera data manifest`: check a labelled manifest and summarise it.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use crate::data::manifest::Manifest;

/// Arguments of `tessera data manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The manifest (CSV with header path,label,split[,start,end]).
    pub path: PathBuf,
}

pub fn run(args: &ManifestArgs) -> anyhow::Result<()> {
    let (manifest, lines) = Manifest::read_with_lines(&args.path)?;
    let missing: Vec<_> = manifest
        .entries
        .iter()
        .zip(&lines)
        .filter(|(entry, _)| !entry.path.is_file())
        .collect();
    if let Some((entry, line)) = missing.first() {
        let more = match missing.len() {
            1 => String::new(),
            n => format!(" (and {} more missing files)", n - 1),
        };
        bail!(
            "{} line {line}: the audio file {} does not exist{more}",
            args.path.display(),
            entry.path.display()
        );
    }
    println!(
        "{}: {} entries, {} labels, {} splits",
        args.path.display(),
        manifest.entries.len(),
        manifest.labels().len(),
        manifest.splits().len()
    );
    let counts = manifest.counts();
    for split in manifest.splits() {
        println!("  {split}: {} entries", manifest.entries_in(split).count());
        for ((_, label), count) in counts.iter().filter(|((s, _), _)| *s == split) {
            println!("    {label}: {count}");
        }
    }
    Ok(())
}
