//! `cargo xtask test`: what CI runs. Formatting, lints with warnings as errors, then every
//! test of the workspace.

use anyhow::Result;

use crate::{run_step, setup};

pub fn run() -> Result<()> {
    setup::ensure_test_prerequisites()?;
    run_step("cargo", &["fmt", "--all", "--", "--check"])?;
    run_step(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run_step("cargo", &["test", "--workspace"])?;
    println!("\nAll checks passed.");
    Ok(())
}
