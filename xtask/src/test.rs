//! `cargo xtask test`: what CI runs. Formatting, lints with warnings as errors, the plugin's
//! shared library and standalone application with nice-plug's allocation checker for the
//! tests that host them (a CLAP host, Ardour and the editor test:
//! `tests/tests/plugin_{clap,ardour,gui}.rs`), then every test of the workspace.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{PLUGIN_PACKAGE, run_step, run_step_with_env, setup, workspace_root};

/// The library's crate name, which names the built file.
const PLUGIN_LIB_NAME: &str = "tessera_plugin";
/// What tells the hosting tests which library to load.
const PLUGIN_LIB_ENV: &str = "TESSERA_PLUGIN_LIB";
/// The standalone application the editor test runs (`cargo test` leaves it alone: it needs
/// the `standalone` feature).
const STANDALONE_BIN: &str = "tessera-standalone";
/// What tells the editor test which standalone to run.
const STANDALONE_ENV: &str = "TESSERA_STANDALONE";

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
    // Debug profile: nice-plug checks for allocations on the audio thread only in debug builds.
    run_step(
        "cargo",
        &[
            "build",
            "-p",
            PLUGIN_PACKAGE,
            "--features",
            "assert_process_allocs,standalone",
            "--lib",
            "--bin",
            STANDALONE_BIN,
        ],
    )?;
    let library = stage_plugin_library()?;
    let standalone = target_directory()?.join("debug").join(STANDALONE_BIN);
    run_step_with_env(
        "cargo",
        &["test", "--workspace"],
        &[
            (PLUGIN_LIB_ENV, library.as_os_str()),
            (STANDALONE_ENV, standalone.as_os_str()),
        ],
    )?;
    println!("\nAll checks passed.");
    Ok(())
}

/// Keeps the freshly built plugin library out of `<target>/debug/`, where `cargo test
/// --workspace` rebuilds it without the allocation checker (for the plugin's own tests), as
/// `<target>/clap-host-test/`, and returns that path. A hard link costs no disk space (the
/// debug library is hundreds of MB): cargo replaces the debug file rather than rewriting it,
/// so the link keeps the checked build. Falls back to a copy across file systems.
fn stage_plugin_library() -> Result<PathBuf> {
    let target = target_directory()?;
    let file_name = format!(
        "{}{PLUGIN_LIB_NAME}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let built = target.join("debug").join(&file_name);
    let staged_dir = target.join("clap-host-test");
    std::fs::create_dir_all(&staged_dir)
        .with_context(|| format!("could not create {}", staged_dir.display()))?;
    let staged = staged_dir.join(&file_name);
    if staged.exists() {
        std::fs::remove_file(&staged)
            .with_context(|| format!("could not remove the old {}", staged.display()))?;
    }
    std::fs::hard_link(&built, &staged)
        .or_else(|_| std::fs::copy(&built, &staged).map(drop))
        .with_context(|| {
            format!(
                "could not link or copy the plugin library {} to {}",
                built.display(),
                staged.display()
            )
        })?;
    Ok(staged)
}

/// The workspace's target directory as cargo resolves it (`CARGO_TARGET_DIR`, config files,
/// or `target/`), from `cargo metadata`.
fn target_directory() -> Result<PathBuf> {
    let output = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .context("could not start `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed bad JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` printed no target_directory")
}
