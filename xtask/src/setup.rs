//! Makes a fresh machine ready: the Debian packages and rustup components the build and the
//! tests need, and on request the large data packages. Everything is checked first, so a
//! ready machine costs nothing.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::{run_step, run_step_with_env};

/// Debian packages the build and the test suite need beyond a bare Rust toolchain with gcc:
/// the small General MIDI SoundFont the data engine's tests render with; espeak-ng, which
/// sings the vocals of most generated songs; the standalone plugin's audio back ends
/// (pkg-config, ALSA and JACK headers); what its editor test drives it with: a virtual X
/// display, a JACK server with a file player, XTEST mouse input and screenshots; and Ardour 7
/// (`ardour7-lua`, the Dummy backend and `ardour-vst3-scanner`), the DAW
/// `tests/tests/plugin_ardour.rs` runs the VST3 in (about 110 MB with its libraries).
const DEBIAN_PACKAGES: &[&str] = &[
    "timgm6mb-soundfont",
    "espeak-ng",
    "pkg-config",
    "libasound2-dev",
    "libjack-jackd2-dev",
    "xvfb",
    "jackd2",
    "jack-tools",
    "xdotool",
    "imagemagick",
    "ardour",
];

/// The large Debian packages behind the real-size data sets, installed only by
/// `cargo xtask data-packages`: the 140 MB FluidR3 General MIDI SoundFont (the default of
/// `tessera data songs|notes|keys`) and two games' music (Ogg Vorbis, UFO:AI's inside .pk3
/// archives) for `tessera data crops` and `tessera data scenes`. (`warzone2100-music` is
/// Opus, which the decoder does not read.)
const DATA_PACKAGES: &[&str] = &["fluid-soundfont-gm", "wesnoth-1.16-music", "ufoai-music"];

/// rustup components `cargo xtask test` runs.
const RUSTUP_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Installs whatever is missing of [`DEBIAN_PACKAGES`] and [`RUSTUP_COMPONENTS`].
pub fn ensure_test_prerequisites() -> Result<()> {
    ensure_debian_packages(DEBIAN_PACKAGES)?;
    ensure_rustup_components()
}

/// Installs whatever is missing of [`DATA_PACKAGES`] and prints the folder each one put
/// its SoundFonts or music in, ready for `--soundfont`, `--data` or `--sources`.
pub fn ensure_data_packages() -> Result<()> {
    ensure_debian_packages(DATA_PACKAGES)?;
    println!("\nData packages ready:");
    for package in DATA_PACKAGES {
        match data_folder(package) {
            Some(folder) => println!("  {package}: {}", folder.display()),
            None => println!("  {package}: installed (no audio files listed by dpkg)"),
        }
    }
    Ok(())
}

/// The deepest folder holding every SoundFont, audio file or .pk3 archive `package`
/// installed, from `dpkg-query -L`.
fn data_folder(package: &str) -> Option<PathBuf> {
    let out = Command::new("dpkg-query")
        .args(["-L", package])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let data_files: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|path| {
            path.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["sf2", "ogg", "pk3", "wav", "flac", "mp3"].contains(&e))
        })
        .collect();
    let mut common = data_files.first()?.parent()?.to_path_buf();
    for file in &data_files {
        while !file.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    Some(common)
}

pub fn ensure_debian_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !running_as_root() {
        bail!(
            "missing Debian packages: {}. Install them with `sudo apt-get install {}` and run again.",
            missing.join(", "),
            missing.join(" ")
        );
    }
    run_step("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    // jackd2 asks about real-time scheduling; the default answer is right for CI.
    run_step_with_env(
        "apt-get",
        &args,
        &[("DEBIAN_FRONTEND", OsStr::new("noninteractive"))],
    )
}

fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn ensure_rustup_components() -> Result<()> {
    for component in RUSTUP_COMPONENTS {
        let probe = match *component {
            "rustfmt" => "fmt",
            other => other,
        };
        let present = Command::new("cargo")
            .args([probe, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !present {
            run_step("rustup", &["component", "add", component])?;
        }
    }
    Ok(())
}
