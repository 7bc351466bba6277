//! The standalone editor on a virtual X display (Xvfb), fed a rendered song through a JACK
//! server with the dummy driver, and judged from screenshots the way a person would judge
//! it: the spectrogram fills with the music, and a mouse drag (through XTEST, like a hand on
//! the mouse) moves the red target box onto the dragged patches.
//!
//! The binary comes from `TESSERA_STANDALONE`, which `cargo xtask test` sets after building it
//! with nice-plug's `assert_process_allocs` (an allocation on the JACK thread aborts it), else
//! from the target directory this test binary was built into. The screenshots are kept in
//! `<target>/gui-test/` (PPM) for a look after a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tessera_tests::{ScratchDir, built_artifact, render_song, target_profile_dir};

/// The editor window's title (nice-plug-egui names the window after the plugin).
const WINDOW_TITLE: &str = "Tessera";
/// The standalone's JACK client name.
const JACK_CLIENT: &str = "tessera";
/// The JACK server's sample rate, also given to the standalone.
const SAMPLE_RATE: &str = "44100";
/// Length of the song played into the standalone: long enough to fill the spectrogram's
/// clip and keep playing through the drag.
const SONG_SECONDS: f64 = 16.0;
/// Audio played before the first screenshot: the spectrogram shows PupuJEPA-Tiny's last
/// 2.56-s clip, so by then it is all music.
const LISTEN_BEFORE_SCREENSHOT: Duration = Duration::from_secs(5);
/// How long any one process may take to come up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// The spectrogram panel in the window at its default 960 × 640 size (measured on a
/// screenshot): full width but the colour bar, between the status bar and the strips.
const SPECTROGRAM: Area = Area {
    left: 0,
    top: 33,
    right: 904,
    bottom: 430,
};
/// Margin kept from the panel's edges where colours are counted, so small layout shifts do
/// not matter.
const MARGIN: i64 = 16;
/// The drag, as fractions of the panel: from the upper left of the middle to the lower
/// right, well away from the default region (low bands, newest quarter).
const DRAG_FROM: (f32, f32) = (0.15, 0.2);
const DRAG_TO: (f32, f32) = (0.45, 0.55);
/// Distinct colours a spectrogram of music shows in the inset at the least (a blank or
/// uniform panel has a handful: the background, the box and the heat overlay's few alphas;
/// the song's measured about 4000).
const MIN_DISTINCT_COLOURS: usize = 500;
/// The red box snaps outwards to PupuJEPA's patch grid (16 × 8 patches of 56.5 × 49.6 px in
/// this panel): each edge lies outside the dragged rectangle by less than one patch.
const MAX_SNAP_PX: i64 = 57;

/// A rectangle in window pixels, edges inclusive-exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Area {
    left: i64,
    top: i64,
    right: i64,
    bottom: i64,
}

impl Area {
    /// The rectangle shrunk by `margin` on every side.
    fn shrunk(&self, margin: i64) -> Self {
        Self {
            left: self.left + margin,
            top: self.top + margin,
            right: self.right - margin,
            bottom: self.bottom - margin,
        }
    }

    /// The point at fractions `(fx, fy)` of the rectangle.
    fn at(&self, (fx, fy): (f32, f32)) -> (i64, i64) {
        (
            self.left + ((self.right - self.left) as f32 * fx) as i64,
            self.top + ((self.bottom - self.top) as f32 * fy) as i64,
        )
    }
}

/// An RGB screenshot of the editor window.
struct Screenshot {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Screenshot {
    /// Parses a binary PPM (P6, maxval 255), as `import ... ppm:FILE` writes it.
    fn read_ppm(path: &Path) -> Self {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P6", "{} is not a binary PPM", path.display());
        assert_eq!(fields[3], "255", "{} is not 8-bit", path.display());
        let width: usize = fields[1].parse().unwrap();
        let height: usize = fields[2].parse().unwrap();
        let rgb = bytes[at + 1..].to_vec();
        assert_eq!(
            rgb.len(),
            width * height * 3,
            "{} is truncated",
            path.display()
        );
        Self { width, height, rgb }
    }

    fn pixel(&self, x: i64, y: i64) -> [u8; 3] {
        let at = (y as usize * self.width + x as usize) * 3;
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }

    /// The pixels of `area`, clipped to the image.
    fn pixels(&self, area: Area) -> impl Iterator<Item = (i64, i64, [u8; 3])> + '_ {
        let (right, bottom) = (
            area.right.min(self.width as i64),
            area.bottom.min(self.height as i64),
        );
        (area.top..bottom)
            .flat_map(move |y| (area.left..right).map(move |x| (x, y, self.pixel(x, y))))
    }

    /// Distinct colours in `area`.
    fn distinct_colours(&self, area: Area) -> usize {
        let colours: std::collections::HashSet<[u8; 3]> =
            self.pixels(area).map(|(_, _, p)| p).collect();
        colours.len()
    }

    /// Bounding box of the pure red pixels in `area`: the 2-px outline of the target region
    /// (the heatmap is orange, the last computed region's outline translucent red).
    fn red_box(&self, area: Area) -> Option<Area> {
        let red: Vec<(i64, i64)> = self
            .pixels(area)
            .filter(|&(_, _, [r, g, b])| r >= 230 && g <= 40 && b <= 40)
            .map(|(x, y, _)| (x, y))
            .collect();
        Some(Area {
            left: red.iter().map(|p| p.0).min()?,
            top: red.iter().map(|p| p.1).min()?,
            right: red.iter().map(|p| p.0).max()? + 1,
            bottom: red.iter().map(|p| p.1).max()? + 1,
        })
    }
}

/// A child process that is killed when the test ends, however it ends.
struct Running {
    name: &'static str,
    child: Child,
}

impl Running {
    fn spawn(name: &'static str, command: &mut Command) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} (is it installed?): {e}"));
        Self { name, child }
    }

    /// Panics with `context` if the process has exited.
    fn assert_alive(&mut self, context: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited ({status}) {context}", self.name);
        }
    }
}

/// How long a stopped process may take to clean up before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

impl Drop for Running {
    /// Asks the process to stop (SIGTERM) so that it removes what it made, such as a JACK
    /// server's files in `/dev/shm`, and kills it only if it does not stop in time.
    fn drop(&mut self) {
        let asked = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let started = Instant::now();
        while asked && started.elapsed() < STOP_TIMEOUT {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The standalone binary: `TESSERA_STANDALONE`, else `<target>/debug/` next to this test.
fn standalone_path() -> PathBuf {
    let path = built_artifact("TESSERA_STANDALONE", "tessera-standalone");
    assert!(
        path.exists(),
        "no standalone at {}: build it with `cargo build -p tessera-plugin --features \
         standalone` or run `cargo xtask test`",
        path.display()
    );
    path
}

/// Where the screenshots are kept: `<target>/gui-test/`.
fn screenshot_dir() -> PathBuf {
    let dir = target_profile_dir()
        .parent()
        .expect("the profile folder lies in the target folder")
        .join("gui-test");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts Xvfb on a free display and returns it with the display's name (`:N`).
fn start_xvfb() -> (Running, String) {
    // `-displayfd 1`: Xvfb picks a free display and prints its number once it accepts
    // clients, so parallel runs never collide and no sleep guesses the start-up time.
    let mut xvfb = Running::spawn(
        "Xvfb",
        Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    BufReader::new(xvfb.child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("Xvfb prints its display");
    let number = line.trim();
    assert!(!number.is_empty(), "Xvfb printed no display number");
    (xvfb, format!(":{number}"))
}

/// Starts a JACK server named `name` with the dummy driver at [`SAMPLE_RATE`] and 512
/// frames, and waits until it takes clients. Its messages go to `log`, which a failure
/// prints.
fn start_jack(name: &str, log: &Path) -> Running {
    let log_file = std::fs::File::create(log).unwrap();
    let mut jack = Running::spawn(
        "jackd",
        Command::new("jackd")
            .args([
                "-n",
                name,
                "--no-realtime",
                // 64 ports, not 2048: the server's shared memory then takes 40 MB instead of
                // 107 MB, which fits a container's default 64-MB /dev/shm.
                "--port-max",
                "64",
                "-d",
                "dummy",
                "-r",
                SAMPLE_RATE,
                "-p",
                "512",
            ])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file),
    );
    let timeout = STARTUP_TIMEOUT.as_secs().to_string();
    let waited = Command::new("jack_wait")
        .args(["-s", name, "-w", "-t", &timeout])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("jack_wait runs");
    let exited = jack.child.try_wait().unwrap();
    assert!(
        waited.success() && exited.is_none(),
        "the JACK server did not start ({}); it said:\n{}",
        exited.map_or("still running".into(), |s| s.to_string()),
        std::fs::read_to_string(log).unwrap_or_default()
    );
    jack
}

/// Runs `xdotool ARGS...` on `display` and returns what it printed.
fn xdotool(display: &str, args: &[&str]) -> String {
    let output = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool runs");
    assert!(
        output.status.success(),
        "xdotool {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The editor window's id and its top-left corner on the screen, once it is mapped.
fn find_window(display: &str, standalone: &mut Running) -> (String, (i64, i64)) {
    let started = Instant::now();
    loop {
        standalone.assert_alive("before its window appeared");
        let found = Command::new("xdotool")
            .args([
                "search",
                "--onlyvisible",
                "--name",
                &format!("^{WINDOW_TITLE}$"),
            ])
            .env("DISPLAY", display)
            .output()
            .expect("xdotool runs");
        if let Some(id) = String::from_utf8_lossy(&found.stdout).lines().next() {
            let geometry = xdotool(display, &["getwindowgeometry", "--shell", id]);
            let field = |key: &str| -> i64 {
                geometry
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{key}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no {key} in `{geometry}`"))
            };
            return (id.to_string(), (field("X"), field("Y")));
        }
        assert!(
            started.elapsed() < STARTUP_TIMEOUT,
            "the editor window did not appear within {STARTUP_TIMEOUT:?}"
        );
        sleep(Duration::from_millis(200));
    }
}

/// Captures window `id` on `display` into `<screenshot_dir>/<name>.ppm` and reads it back.
fn screenshot(display: &str, id: &str, name: &str) -> Screenshot {
    let path = screenshot_dir().join(format!("{name}.ppm"));
    let status = Command::new("import")
        .args([
            "-window",
            id,
            "-depth",
            "8",
            &format!("ppm:{}", path.display()),
        ])
        .env("DISPLAY", display)
        .status()
        .expect("import (ImageMagick) runs");
    assert!(status.success(), "import could not capture the window");
    Screenshot::read_ppm(&path)
}

/// Captures window `id` as [`screenshot`] does until `done` holds for the picture or
/// `timeout` passes, and returns the last picture: the editor paints its first frame a
/// moment after the window appears, and a loaded CI machine may take its time.
fn screenshot_when(
    display: &str,
    id: &str,
    name: &str,
    timeout: Duration,
    done: impl Fn(&Screenshot) -> bool,
) -> Screenshot {
    let started = Instant::now();
    loop {
        let shot = screenshot(display, id, name);
        if done(&shot) || started.elapsed() > timeout {
            return shot;
        }
        sleep(Duration::from_millis(250));
    }
}

/// Drags the mouse with button 1 from `from` to `to` (screen pixels) in small steps, as a
/// hand does, so egui sees a drag start, motion and a release.
fn drag(display: &str, from: (i64, i64), to: (i64, i64)) {
    let step = Duration::from_millis(30);
    xdotool(
        display,
        &["mousemove", &from.0.to_string(), &from.1.to_string()],
    );
    sleep(step);
    xdotool(display, &["mousedown", "1"]);
    for i in 1..=10 {
        let x = from.0 + (to.0 - from.0) * i / 10;
        let y = from.1 + (to.1 - from.1) * i / 10;
        sleep(step);
        xdotool(display, &["mousemove", &x.to_string(), &y.to_string()]);
    }
    sleep(step);
    xdotool(display, &["mouseup", "1"]);
}

#[test]
fn editor_draws_the_music_and_a_drag_moves_the_target_region() {
    let scratch = ScratchDir::new("plugin-gui");
    let song = render_song(scratch.path(), SONG_SECONDS);
    let standalone_binary = standalone_path();

    let (_xvfb, display) = start_xvfb();
    let jack_server = format!("tessera-gui-{}", std::process::id());
    let _jack = start_jack(&jack_server, &scratch.path().join("jackd.log"));
    let mut standalone = Running::spawn(
        "tessera-standalone",
        Command::new(&standalone_binary)
            // nice-plug 0.4.2's standalone activates at `--sample-rate`, not JACK's rate.
            .args(["--backend", "jack", "--sample-rate", SAMPLE_RATE])
            .env("DISPLAY", display.as_str())
            .env("JACK_DEFAULT_SERVER", &jack_server)
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    let (window, origin) = find_window(&display, &mut standalone);

    // Before any audio: the default region's box, no music in the panel.
    let silent = screenshot_when(
        &display,
        &window,
        "1-before-audio",
        STARTUP_TIMEOUT,
        |shot| shot.red_box(SPECTROGRAM).is_some(),
    );
    let default_box = silent
        .red_box(SPECTROGRAM)
        .expect("the default target region's red box is drawn");
    let silent_colours = silent.distinct_colours(SPECTROGRAM.shrunk(MARGIN));

    let mut player = Running::spawn(
        "jack-play",
        Command::new("jack-play")
            .arg(&song)
            .env("JACK_DEFAULT_SERVER", &jack_server)
            .env("JACK_PLAY_CONNECT_TO", format!("{JACK_CLIENT}:input_%d"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    sleep(LISTEN_BEFORE_SCREENSHOT);
    let playing = screenshot_when(&display, &window, "2-playing", STARTUP_TIMEOUT, |shot| {
        shot.distinct_colours(SPECTROGRAM.shrunk(MARGIN)) >= MIN_DISTINCT_COLOURS
    });
    player.assert_alive("before the spectrogram was checked (could it connect?)");
    standalone.assert_alive("while the song played");
    let playing_colours = playing.distinct_colours(SPECTROGRAM.shrunk(MARGIN));
    eprintln!(
        "distinct colours in the spectrogram: {silent_colours} silent, {playing_colours} playing"
    );
    assert!(
        playing_colours >= MIN_DISTINCT_COLOURS && playing_colours > 4 * silent_colours,
        "the spectrogram looks blank while music plays: {playing_colours} distinct colours \
         ({silent_colours} before the music)"
    );

    let (from, to) = (SPECTROGRAM.at(DRAG_FROM), SPECTROGRAM.at(DRAG_TO));
    drag(
        &display,
        (origin.0 + from.0, origin.1 + from.1),
        (origin.0 + to.0, origin.1 + to.1),
    );
    sleep(Duration::from_millis(500));
    standalone.assert_alive("after the drag");
    let dragged = screenshot(&display, &window, "3-after-drag");
    eprintln!("screenshots in {}", screenshot_dir().display());
    let new_box = dragged
        .red_box(SPECTROGRAM)
        .expect("the red box is drawn after the drag");
    eprintln!("red box: {default_box:?} before, {new_box:?} after dragging {from:?} → {to:?}");
    assert_ne!(
        new_box, default_box,
        "the drag did not move the target region"
    );
    // How far each edge of the box lies outside the drag's.
    for (edge, outside) in [
        ("left", from.0 - new_box.left),
        ("top", from.1 - new_box.top),
        ("right", new_box.right - to.0),
        ("bottom", new_box.bottom - to.1),
    ] {
        assert!(
            (0..=MAX_SNAP_PX).contains(&outside),
            "the box's {edge} edge lies {outside} px outside the drag's (0..={MAX_SNAP_PX} \
             expected): {new_box:?}"
        );
    }
}
