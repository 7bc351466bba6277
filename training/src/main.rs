//! The `tessera` command line.

use std::process::ExitCode;

use clap::Parser;
use tessera_train::cli::Cli;

/// Training allocates and frees activation and gradient buffers of up to tens of MiB in
/// every step. glibc's malloc returns such blocks to the kernel when they are freed, so the
/// next step page-faults them back in, zero-filled; mimalloc keeps freed pages for reuse.
/// A PupuJEPA-Tiny train step took a quarter less time with it (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
