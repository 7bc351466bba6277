//! Makes a fresh machine ready: the Debian packages and rustup components the build and the
//! tests need. Everything is checked first, so a ready machine costs nothing.

use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::run_step;

/// Debian packages the build and the test suite need beyond a bare Rust toolchain with gcc:
/// the small General MIDI SoundFont the data engine's tests render with.
const DEBIAN_PACKAGES: &[&str] = &["timgm6mb-soundfont"];

/// rustup components `cargo xtask test` runs.
const RUSTUP_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Installs whatever is missing of [`DEBIAN_PACKAGES`] and [`RUSTUP_COMPONENTS`].
pub fn ensure_test_prerequisites() -> Result<()> {
    ensure_debian_packages(DEBIAN_PACKAGES)?;
    ensure_rustup_components()
}

fn ensure_debian_packages(packages: &[&str]) -> Result<()> {
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
    run_step("apt-get", &args)
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
