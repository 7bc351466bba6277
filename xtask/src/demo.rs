//! `cargo xtask demo [AUDIO]`: the main job on the embedded defaults. It separates the
//! bundled music excerpt (or AUDIO) into vocals, drums, bass and other with the embedded
//! default separator, and draws the input's log-mel spectrogram.

use std::path::PathBuf;

use anyhow::Result;

use crate::{tessera, workspace_root};

/// The bundled real-music clip (see assets/README.md).
const DEMO_CLIP: &str = "assets/demo/northerners-excerpt.ogg";

/// Where the demo writes its outputs (git-ignored).
const OUT_DIR: &str = "out/demo";

pub fn run(input: Option<PathBuf>) -> Result<()> {
    let input = input.unwrap_or_else(|| workspace_root().join(DEMO_CLIP));
    let out = workspace_root().join(OUT_DIR);
    let figure = out.join("spectrogram.png");
    let (input, out_arg, figure_arg) = (
        input.to_string_lossy(),
        out.to_string_lossy(),
        figure.to_string_lossy(),
    );
    tessera(&["separate", &input, "--out", &out_arg])?;
    tessera(&["spectrogram", &input, "--out", &figure_arg])?;
    println!(
        "\nListen to the stems in {} and open {} to see the input.",
        out.display(),
        figure.display()
    );
    Ok(())
}
