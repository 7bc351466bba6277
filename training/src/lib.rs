//! `tessera-train`: the `tessera` CLI's commands and the pipelines behind them. Everything
//! numeric comes from `tessera-core`; this crate adds file handling, progress, plots and
//! the command-line surface.

pub mod cli;
pub mod commands;
pub mod data;
pub mod evaluation;
mod files;
pub mod hubert;
mod metrics_csv;
pub mod multiview;
pub mod plot;
pub mod pretrain;
pub mod probe;
mod progress;
mod run_folder;
pub mod separation;
pub mod suite;

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Spectrogram(args) => commands::spectrogram::run(&args),
        cli::Command::Attention(args) => commands::attention::run(&args),
        cli::Command::Cluster(args) => commands::cluster::run(&args),
        cli::Command::Data(args) => commands::data::run(&args),
        cli::Command::Features(args) => commands::features::run(&args),
        cli::Command::Pretrain(args) => commands::pretrain::run(&args),
        cli::Command::Finetune(args) => commands::finetune::run(&args),
        cli::Command::Separate(args) => commands::separate::run(&args),
        cli::Command::Eval(args) => commands::eval::run(&args),
        cli::Command::Probe(args) => commands::probe::run(&args),
        cli::Command::Bench(args) => commands::bench::run(&args),
        cli::Command::Multiview(args) => commands::multiview::run(&args),
    }
}
