//! `tessera bench suite --config suite.toml --out DIR [--results RESULTS.md]`: the probing
//! suite (every encoder on every task, s(m), attention–stem alignment, the claims), written
//! to DIR and spliced into RESULTS.md.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::files::write_atomic;
use crate::suite::{self, SuiteConfig};

/// Arguments of `tessera bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: BenchCommand,
}

/// What to benchmark.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Probe every encoder of a suite file on every task, score s(m) and decide the claims.
    Suite(SuiteArgs),
}

/// Arguments of `tessera bench suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// The suite file (TOML: baseline, [probe], [[encoders]], [[tasks]], [attention_stems];
    /// see experiments/suite.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// Folder for every cell's probe run, suite.json and suite.md; rerunning resumes.
    #[arg(long)]
    pub out: PathBuf,
    /// A markdown file (RESULTS.md) whose suite section is replaced by the new one.
    #[arg(long)]
    pub results: Option<PathBuf>,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.bench {
        BenchCommand::Suite(args) => suite(args),
    }
}

fn suite(args: &SuiteArgs) -> anyhow::Result<()> {
    let config = SuiteConfig::read(&args.config)?;
    let result = suite::run(&config, &args.out)?;
    let section = suite::results_section(&result, &config);
    println!("{section}");
    println!(
        "{}, {}",
        args.out.join(suite::SUITE_JSON).display(),
        args.out.join(suite::SUITE_MARKDOWN).display()
    );
    if let Some(path) = &args.results {
        let document = std::fs::read_to_string(path).unwrap_or_default();
        write_atomic(path, suite::splice_section(&document, &section).as_bytes())
            .with_context(|| format!("cannot update {}", path.display()))?;
        println!("{}: suite section updated", path.display());
    }
    Ok(())
}
