//! `cargo xtask demo [AUDIO]`: the main job on the embedded defaults. At this stage that is
//! the log-mel spectrogram of the bundled music excerpt (or of AUDIO), written as a PNG, with
//! the clip's statistics printed.

use std::path::PathBuf;

use anyhow::Result;

use crate::{run_step, workspace_root};

/// The bundled real-music clip (see assets/README.md).
const DEMO_CLIP: &str = "assets/demo/northerners-excerpt.ogg";

/// Where the demo writes its outputs (git-ignored).
const OUT_DIR: &str = "out/demo";

pub fn run(input: Option<PathBuf>) -> Result<()> {
    let input = input.unwrap_or_else(|| workspace_root().join(DEMO_CLIP));
    let figure = workspace_root().join(OUT_DIR).join("spectrogram.png");
    let input = input.to_string_lossy();
    let figure_arg = figure.to_string_lossy();
    run_step(
        "cargo",
        &[
            "run",
            "--release",
            "--quiet",
            "-p",
            "tessera-train",
            "--bin",
            "tessera",
            "--",
            "spectrogram",
            &input,
            "--out",
            &figure_arg,
        ],
    )?;
    println!("\nOpen {} to see it.", figure.display());
    Ok(())
}
