//! `cargo xtask <command>`: the project's own build tasks.
//!
//! - `test`   — install what the build needs, then fmt check, clippy, and the whole test suite
//! - `data-packages` — install the large Debian data packages (FluidR3 SoundFont, game music)
//! - `demo`   — the main job on the embedded defaults (see `demo.rs`)
//! - `results` — render the evaluation data if missing and regenerate RESULTS.md's probing
//!   suite (see `results.rs`)
//! - `bundle` — CLAP/VST3 bundles through nice-plug-xtask

mod demo;
mod results;
mod setup;
mod test;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The plugin's package, bundled as `tessera.clap` / `tessera.vst3` (see bundler.toml).
const PLUGIN_PACKAGE: &str = "tessera-plugin";

const USAGE: &str = "usage: cargo xtask <test | data-packages | demo [AUDIO] | results | bundle tessera [--release]>";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match command.as_str() {
        "test" => test::run(),
        "data-packages" => setup::ensure_data_packages(),
        "demo" => demo::run(rest.first().map(PathBuf::from)),
        "results" => results::run(),
        // nice-plug-xtask parses its own arguments (package names, --release, --target ...);
        // `tessera` names the plugin package, as the bundles are named.
        "bundle" | "bundle-universal" => nice_plug_xtask::main_with_args(
            "cargo xtask",
            std::iter::once(command.clone()).chain(rest.into_iter().map(|arg| {
                if arg == "tessera" {
                    PLUGIN_PACKAGE.to_string()
                } else {
                    arg
                }
            })),
        ),
        _ => bail!("{USAGE}"),
    }
}

/// The workspace root: xtask's manifest lives one level below it.
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
}

/// `tessera ARGS` from a release build, in the workspace root.
fn tessera(args: &[&str]) -> Result<()> {
    let mut full = vec![
        "run",
        "--release",
        "--quiet",
        "-p",
        "tessera-train",
        "--bin",
        "tessera",
        "--",
    ];
    full.extend(args);
    run_step("cargo", &full)
}

/// Runs `program args...` in the workspace root, echoing it first, and fails if it fails.
fn run_step(program: &str, args: &[&str]) -> Result<()> {
    run_step_with_env(program, args, &[])
}

/// Like [`run_step`], with extra environment variables for the child.
fn run_step_with_env(program: &str, args: &[&str], env: &[(&str, &OsStr)]) -> Result<()> {
    let shown_env: String = env
        .iter()
        .map(|(key, value)| format!("{key}={} ", value.to_string_lossy()))
        .collect();
    println!("\n$ {shown_env}{program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("could not start `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
