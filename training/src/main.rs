//! The `tessera` command line.

use std::process::ExitCode;

use clap::Parser;
use tessera_train::cli::Cli;

fn main() -> ExitCode {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { tessera_core::threads::elementwise_on_calling_thread() };
    let cli = Cli::parse();
    match tessera_train::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line per cause, outermost first: "could not read x.wav: truncated: ...".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
