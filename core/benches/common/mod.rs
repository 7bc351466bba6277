//! What the benchmarks compared with a PyTorch script share: where they leave files for
//! the script, and a `main` that sets candle's threads up as the `tessera` CLI does (the
//! reference timings are meant to compare with the CLI's, not with candle's defaults), and
//! the CLI's allocator.

use std::path::PathBuf;

use criterion::Criterion;

/// cargo's target folder, where a bench leaves its inputs and outputs for the reference
/// script: `CARGO_TARGET_DIR` when set (relative paths from the workspace root), else
/// `target/`, as bench/compare.py looks for it.
pub fn target_dir() -> PathBuf {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::var_os("CARGO_TARGET_DIR").map_or(workspace.join("target"), |dir| workspace.join(dir))
}

/// `criterion_main!` with candle's threads set up as the `tessera` CLI sets them.
pub fn main_with_cli_threads(benches: fn()) {
    // SAFETY: first thing in main, before criterion or candle start any thread.
    unsafe { tessera_core::threads::elementwise_on_calling_thread() };
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The `tessera` binary's allocator (training/src/main.rs says why), so the timings are the
/// CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
