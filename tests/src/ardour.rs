//! Headless Ardour 7 (the Debian package `ardour`) as a host for the built plugin: a hermetic
//! home for its configuration and plugin cache, the VST3 bundle indexed by
//! `ardour-vst3-scanner`, Lua scripts run by `ardour7-lua` (Dummy backend) under a time limit,
//! and the one session edit headless Ardour cannot make itself: putting audio on a track (its
//! Lua bindings have no import, and `Editor:do_import` needs the GUI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};

/// Ardour's Lua interpreter, which runs sessions without a GUI.
const LUA_SESSION: &str = "ardour7-lua";
/// Where the Debian package keeps Ardour's libraries and helper programs.
const LIB_DIR: &str = "/usr/lib/ardour7";
/// The program that loads VST3 bundles and writes Ardour's plugin cache.
const VST3_SCANNER: &str = "ardour-vst3-scanner";
/// Ardour 7 stores session times in superclock ticks, this many per second.
const SUPERCLOCK_TICKS_PER_SECOND: u64 = 282_240_000;

/// An Ardour installation with a home directory of its own, so its configuration and plugin
/// cache are the test's alone.
pub struct Ardour {
    /// `ardour7-lua`, as found on `PATH`.
    lua_session: PathBuf,
    /// The home directory every Ardour program runs with (`HOME` and the XDG directories).
    home: PathBuf,
}

impl Ardour {
    /// Finds Ardour and prepares `home` (created if missing) for it; fails, naming the package
    /// to install, when Ardour is not installed.
    pub fn new(home: &Path) -> Result<Self> {
        let lua_session = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(LUA_SESSION))
            .find(|path| path.is_file());
        let Some(lua_session) = lua_session.filter(|_| scanner().is_file()) else {
            bail!(
                "Ardour 7 is not installed: this test needs `{LUA_SESSION}` on PATH and {}; \
                 install the Debian package `ardour` (`cargo xtask test` does, when run as root)",
                scanner().display()
            );
        };
        std::fs::create_dir_all(home)
            .with_context(|| format!("could not create {}", home.display()))?;
        Ok(Self {
            lua_session,
            home: home.to_path_buf(),
        })
    }

    /// Installs the plugin `library` as the VST3 bundle `<name>.vst3` in `~/.vst3`, where
    /// Ardour looks, and indexes it into Ardour's plugin cache with `ardour-vst3-scanner`.
    pub fn add_vst3(&self, library: &Path, name: &str, timeout: Duration) -> Result<()> {
        let bundle = self.home.join(".vst3").join(format!("{name}.vst3"));
        let binary_dir = bundle.join("Contents/x86_64-linux");
        std::fs::create_dir_all(&binary_dir)
            .with_context(|| format!("could not create {}", binary_dir.display()))?;
        let binary = binary_dir.join(format!("{name}.so"));
        std::os::unix::fs::symlink(library, &binary).with_context(|| {
            format!(
                "could not link {} to {}",
                binary.display(),
                library.display()
            )
        })?;
        let mut scan = self.command(&scanner());
        scan.env("LD_LIBRARY_PATH", LIB_DIR)
            .arg("--verbose")
            .arg(&bundle);
        self.run(VST3_SCANNER, scan, timeout).map(drop)
    }

    /// Runs `ardour7-lua SCRIPT ARGS...`, killing it after `timeout`; returns what it printed
    /// to stdout.
    pub fn run_lua(&self, script: &Path, args: &[&str], timeout: Duration) -> Result<String> {
        let mut lua = self.command(&self.lua_session);
        lua.arg(script).args(args);
        self.run(&format!("{LUA_SESSION} {}", args.join(" ")), lua, timeout)
    }

    /// `program` with the home directory set for every place Ardour keeps files.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .stdin(Stdio::null());
        command
    }

    /// Runs `command`, killed after `timeout`, with its output in log files in the home
    /// directory; prints that output (so a failing test shows it) and fails unless the
    /// program exited successfully in time. Returns its stdout.
    fn run(&self, what: &str, mut command: Command, timeout: Duration) -> Result<String> {
        let logs = [self.home.join("stdout.log"), self.home.join("stderr.log")];
        let [stdout, stderr] = [&logs[0], &logs[1]]
            .map(|path| std::fs::File::create(path).context("could not create a log file"));
        let started = Instant::now();
        let mut child = command
            .stdout(stdout?)
            .stderr(stderr?)
            .spawn()
            .with_context(|| format!("could not start {what}"))?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if started.elapsed() > timeout {
                child.kill()?;
                child.wait()?;
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let [stdout, stderr] =
            [&logs[0], &logs[1]].map(|path| std::fs::read_to_string(path).unwrap_or_default());
        println!(
            "--- {what}: {} after {:.1} s\n--- stdout:\n{stdout}--- stderr:\n{stderr}---",
            status.map_or("killed".to_string(), |s| s.to_string()),
            started.elapsed().as_secs_f64()
        );
        match status {
            None => bail!("{what} did not finish within {timeout:?} and was killed"),
            Some(status) if !status.success() => bail!("{what} failed ({status})"),
            Some(_) => Ok(stdout),
        }
    }
}

/// `ardour-vst3-scanner`'s path.
fn scanner() -> PathBuf {
    Path::new(LIB_DIR).join(VST3_SCANNER)
}

/// Puts `audio` on the track `track` of the saved session `<session_dir>/<name>.ardour` as
/// one region from the session's start: one mono float WAV per channel in the session's audio
/// folder, their sources, and the region on the track's (empty) playlist, written as Ardour 7
/// saves a recording but for the attributes that keep their defaults. The session must be
/// closed, and `audio` at the session's rate.
pub fn put_audio_on_track(
    session_dir: &Path,
    name: &str,
    track: &str,
    audio: &AudioBuffer,
) -> Result<()> {
    let session_file = session_dir.join(format!("{name}.ardour"));
    let mut xml = std::fs::read_to_string(&session_file)
        .with_context(|| format!("could not read {}", session_file.display()))?;
    let rate = session_attribute(&xml, "sample-rate")?;
    ensure!(
        rate == u64::from(audio.sample_rate),
        "the session runs at {rate} Hz, the audio at {} Hz",
        audio.sample_rate
    );
    ensure!(
        SUPERCLOCK_TICKS_PER_SECOND.is_multiple_of(rate),
        "{rate} Hz is no whole number of superclock ticks per sample"
    );
    // New objects take ids from the session's counter, which then moves past them.
    let first_id = session_attribute(&xml, "id-counter")?;
    let channels = audio.num_channels() as u64;
    let counter = |id: u64| format!("id-counter=\"{id}\"");
    xml = xml.replacen(&counter(first_id), &counter(first_id + channels + 1), 1);

    let audio_dir = audio_folder(session_dir)?;
    let mut sources = String::from("<Sources>\n");
    let mut source_ids = String::new();
    for (channel, samples) in audio.channels.iter().enumerate() {
        let file = format!("{track}-{channel}.wav");
        let mono = AudioBuffer {
            sample_rate: audio.sample_rate,
            channels: vec![samples.clone()],
        };
        write_wav(&audio_dir.join(&file), &mono, WavSampleFormat::Float32)?;
        let id = first_id + channel as u64;
        sources.push_str(&format!(
            "    <Source name=\"{file}\" type=\"audio\" flags=\"\" id=\"{id}\" channel=\"0\" \
             origin=\"\"/>\n"
        ));
        source_ids.push_str(&format!(
            "source-{channel}=\"{id}\" master-source-{channel}=\"{id}\" "
        ));
    }
    sources.push_str("  </Sources>");
    ensure!(
        xml.contains("<Sources/>"),
        "{} already has sources",
        session_file.display()
    );
    xml = xml.replacen("<Sources/>", &sources, 1);

    // Fades off: the region plays the files' samples unchanged, first to last.
    let ticks = audio.num_frames() as u64 * (SUPERCLOCK_TICKS_PER_SECOND / rate);
    let region = format!(
        "<Region name=\"{track}\" start=\"a0\" length=\"a{ticks}@a0\" fade-in-active=\"0\" \
         fade-out-active=\"0\" id=\"{}\" type=\"audio\" {source_ids}channels=\"{channels}\"/>",
        first_id + channels
    );
    let playlist = tag_with(&xml, "<Playlist ", &format!("name=\"{track}\""))
        .with_context(|| format!("{} has no playlist {track}", session_file.display()))?;
    ensure!(
        xml[playlist.clone()].ends_with("/>"),
        "the playlist {track} in {} is not empty",
        session_file.display()
    );
    xml.replace_range(
        playlist.end - 2..playlist.end,
        &format!(">\n      {region}\n    </Playlist>"),
    );
    std::fs::write(&session_file, xml)
        .with_context(|| format!("could not write {}", session_file.display()))
}

/// The folder a session keeps its audio files in: `interchange/<folder>/audiofiles`, where
/// Ardour names `<folder>` after the session's directory, not its name.
fn audio_folder(session_dir: &Path) -> Result<PathBuf> {
    let interchange = session_dir.join("interchange");
    let folders: Vec<PathBuf> = std::fs::read_dir(&interchange)
        .with_context(|| format!("could not list {}", interchange.display()))?
        .map(|entry| entry.map(|e| e.path().join("audiofiles")))
        .collect::<std::io::Result<_>>()?;
    match folders.as_slice() {
        [folder] if folder.is_dir() => Ok(folder.clone()),
        _ => bail!(
            "{} should hold one session folder with audiofiles, not {folders:?}",
            interchange.display()
        ),
    }
}

/// Where in `xml` the first tag that starts with `start` and holds `attribute` (`name="value"`)
/// is, from `<` to `>` inclusive.
fn tag_with(xml: &str, start: &str, attribute: &str) -> Option<std::ops::Range<usize>> {
    xml.match_indices(start).find_map(|(at, _)| {
        let end = at + xml[at..].find('>')? + 1;
        xml[at..end].contains(attribute).then_some(at..end)
    })
}

/// The numeric attribute `name` of the session file's `<Session>` tag.
fn session_attribute(xml: &str, name: &str) -> Result<u64> {
    let key = format!(" {name}=\"");
    let tag = tag_with(xml, "<Session ", &key).with_context(|| format!("no <Session {name}>"))?;
    let value =
        &xml[tag.start + xml[tag.clone()].find(&key).expect("tag_with found it") + key.len()..];
    value[..value.find('"').context("an unclosed attribute")?]
        .parse()
        .with_context(|| format!("<Session> has a non-numeric {name}"))
}
