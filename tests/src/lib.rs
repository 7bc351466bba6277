//! Helpers shared by Tessera's cross-crate integration tests (the tests live in `tests/`).

pub mod ardour;
pub mod clap_host;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory under the system temp dir, removed again on drop, so tests running
/// in parallel never see each other's files.
pub struct ScratchDir {
    /// The directory's path.
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `<tmp>/tessera-tests-<pid>-<n>-<label>`.
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tessera-tests-{}-{n}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `<target>/<profile>/`, where the running test binary's crates were built (the binary
/// itself is `<target>/<profile>/deps/<name>-<hash>`).
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in <target>/<profile>/deps")
        .to_path_buf()
}

/// A file another build made for the tests: the path in `env_var` (which `cargo xtask test`
/// sets), else `file_name` in [`target_profile_dir`].
pub fn built_artifact(env_var: &str, file_name: &str) -> PathBuf {
    std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_profile_dir().join(file_name))
}

/// Width and height stored in a PNG's IHDR chunk, or `None` if `bytes` is not a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((word(16), word(20)))
}

/// The built plugin's shared library: `TESSERA_PLUGIN_LIB`, which `cargo xtask test` sets after
/// building it with nice-plug's `assert_process_allocs`, else the library in the target
/// directory the running test binary was built into. Fails, saying how to build it, when the
/// file does not exist.
pub fn plugin_library_path() -> PathBuf {
    let path = built_artifact(
        "TESSERA_PLUGIN_LIB",
        &format!(
            "{}tessera_plugin{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ),
    );
    assert!(
        path.is_file(),
        "the Tessera plugin library {} does not exist; build it with \
         `cargo build -p tessera-plugin --features assert_process_allocs` (or run \
         `cargo xtask test`, which builds it and sets TESSERA_PLUGIN_LIB)",
        path.display()
    );
    path
}

/// 10·log10 of reference energy over error energy, across both channels.
pub fn snr_db(reference: [&[f32]; 2], estimate: [&[f32]; 2]) -> f64 {
    let (mut signal, mut error) = (0.0f64, 0.0f64);
    for (r, e) in reference.iter().zip(estimate) {
        assert_eq!(r.len(), e.len());
        for (&r, &e) in r.iter().zip(e) {
            signal += f64::from(r) * f64::from(r);
            error += (f64::from(r) - f64::from(e)).powi(2);
        }
    }
    10.0 * (signal / error.max(1e-30)).log10()
}

/// Runs `tessera ARGS...` in-process, parsed exactly as the binary parses its command line.
pub fn tessera(args: &[&str]) -> anyhow::Result<()> {
    use clap::Parser;
    let cli = tessera_train::cli::Cli::try_parse_from(
        std::iter::once("tessera").chain(args.iter().copied()),
    )?;
    tessera_train::run(cli)
}

/// Renders one song of `seconds` seconds with the test SoundFont into `dir` through
/// `tessera data songs` and returns its mixture; the stems lie next to it
/// (`vocals.wav`, `drums.wav`, `bass.wav`, `other.wav`).
pub fn render_song(dir: &Path, seconds: f64) -> PathBuf {
    let out = dir.join("songs");
    let seconds = seconds.to_string();
    tessera(&[
        "data",
        "songs",
        "--count",
        "1",
        "--out",
        out.to_str().expect("scratch paths are UTF-8"),
        "--soundfont",
        tessera_train::data::soundfont::TEST_SOUNDFONT,
        "--seconds",
        &seconds,
    ])
    .expect("the song is rendered");
    out.join("song_00000").join("mixture.wav")
}

/// Every tensor of the `kind` checkpoint at `path`, flattened to f32, by name: what two runs
/// are compared by (the files' bytes also hold metadata in no fixed order).
pub fn checkpoint_tensors(path: &Path, kind: &str) -> HashMap<String, Vec<f32>> {
    let loaded = tessera_core::checkpoint::load(path, kind, &candle_core::Device::Cpu).unwrap();
    loaded
        .tensors
        .iter()
        .map(|(name, t)| {
            let values = t
                .to_dtype(candle_core::DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .unwrap();
            (name.clone(), values)
        })
        .collect()
}

/// Renders notes with two copies of the test SoundFont (`beta` held out whole for the test
/// split) × piano and strings × `pitches` (`LO..HI:STEP`) × `velocities` through
/// `tessera data notes`; returns the folder with its manifests and pairs.csv.
pub fn render_notes(dir: &ScratchDir, pitches: &str, velocities: &str) -> PathBuf {
    let (a, b) = (dir.join("alpha.sf2"), dir.join("beta.sf2"));
    std::fs::copy(tessera_train::data::soundfont::TEST_SOUNDFONT, &a).unwrap();
    std::fs::copy(tessera_train::data::soundfont::TEST_SOUNDFONT, &b).unwrap();
    let out = dir.join("notes");
    tessera(&[
        "data",
        "notes",
        "--soundfont",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--programs",
        "0,40",
        "--pitches",
        pitches,
        "--velocities",
        velocities,
        "--hold-out",
        "soundfont",
        "--test-fraction",
        "0.5",
        "--seed",
        "1",
    ])
    .expect("the notes are rendered");
    out
}
