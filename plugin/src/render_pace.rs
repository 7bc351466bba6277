//! Tells a render that runs faster than real time from real-time playback by the pace at
//! which the host calls `process`, for hosts that render without saying so: Ardour 7.3 runs
//! VST3 plugins in real-time mode while it bounces, and signals exports only per process
//! call, which nice-plug 0.4.2 does not pass on. Without this the plugin never waits for its
//! separation worker there, and the render comes out as the dry fallback.
//!
//! A host playing in real time delivers audio no faster than the clock, give or take its
//! device buffer and look-ahead (Reaper's anticipative processing runs 200 ms ahead), so a
//! window of half a second that arrives in under a quarter of its duration is a render. The
//! time the plugin itself spent waiting for the worker does not count, or waiting would slow
//! the measured pace and switch the waiting off again.

use std::time::{Duration, Instant};

/// Audio per measurement, seconds: far longer than any device buffer or look-ahead, and
/// far shorter than the separation's lead-in (about 1.5 s), so a render is recognised
/// before the first separated frame is due.
const WINDOW_SECONDS: f64 = 0.5;
/// A window that took less wall time than this share of its duration is a render.
const RENDER_PACE: f64 = 0.25;
/// A window that took more than this share is real-time playback again (between the two
/// the verdict stays, so a render slowed down by the worker does not flicker).
const REAL_TIME_PACE: f64 = 0.5;

/// The pace of the host's `process` calls over the current window.
pub struct RenderPace {
    /// Host sample rate, Hz, to turn frames into seconds.
    sample_rate: f64,
    /// When the current window's first block started (none before the first block).
    window_start: Option<Instant>,
    /// Frames of the blocks started in the current window.
    window_frames: usize,
    /// Time spent waiting for the worker in the current window, left out of its wall time.
    window_waited: Duration,
    /// The verdict of the last complete window.
    faster_than_real_time: bool,
}

impl RenderPace {
    pub fn new(sample_rate: f32) -> Self {
        Self {
            sample_rate: f64::from(sample_rate),
            window_start: None,
            window_frames: 0,
            window_waited: Duration::ZERO,
            faster_than_real_time: false,
        }
    }

    /// Called at the start of each block of `frames` frames, at `now`: whether the host is
    /// rendering faster than real time.
    pub fn block_started(&mut self, now: Instant, frames: usize) -> bool {
        let start = *self.window_start.get_or_insert(now);
        let audio = self.window_frames as f64 / self.sample_rate;
        if audio >= WINDOW_SECONDS {
            let wall = now
                .saturating_duration_since(start)
                .saturating_sub(self.window_waited);
            let pace = wall.as_secs_f64() / audio;
            if pace < RENDER_PACE {
                self.faster_than_real_time = true;
            } else if pace > REAL_TIME_PACE {
                self.faster_than_real_time = false;
            }
            self.window_start = Some(now);
            self.window_frames = 0;
            self.window_waited = Duration::ZERO;
        }
        self.window_frames += frames;
        self.faster_than_real_time
    }

    /// Records time the block spent waiting for the separation worker.
    pub fn waited(&mut self, duration: Duration) {
        self.window_waited += duration;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f32 = 48_000.0;
    const BLOCK: usize = 480;

    /// Feeds `blocks` blocks of [`BLOCK`] frames starting `step` apart from `at`, each
    /// waiting `wait`; returns the last verdict and the next block's start.
    fn play(
        pace: &mut RenderPace,
        mut at: Instant,
        blocks: usize,
        step: Duration,
        wait: Duration,
    ) -> (bool, Instant) {
        let mut verdict = false;
        for _ in 0..blocks {
            verdict = pace.block_started(at, BLOCK);
            pace.waited(wait);
            at += step;
        }
        (verdict, at)
    }

    #[test]
    fn real_time_playback_is_not_a_render_even_in_bursts() {
        let mut pace = RenderPace::new(RATE);
        let now = Instant::now();
        // 10-ms blocks delivered as four at once every 40 ms (a large device buffer).
        let mut at = now;
        for _ in 0..100 {
            for _ in 0..4 {
                assert!(!pace.block_started(at, BLOCK));
            }
            at += Duration::from_millis(40);
        }
    }

    #[test]
    fn a_fast_render_is_recognised_within_a_window_and_stays_while_the_plugin_waits() {
        let mut pace = RenderPace::new(RATE);
        let fast = Duration::from_micros(200);
        // Half a second of audio, then one more block to close the window.
        let (verdict, at) = play(&mut pace, Instant::now(), 51, fast, Duration::ZERO);
        assert!(
            verdict,
            "a render at 50x real time is recognised after 0.5 s of audio"
        );
        // Waiting for the worker (8 ms per 10-ms block) does not count against the pace.
        let (verdict, at) = play(&mut pace, at, 200, fast + Duration::from_millis(8), {
            Duration::from_millis(8)
        });
        assert!(verdict);
        // Back to real time: recognised within two windows.
        let (verdict, _) = play(
            &mut pace,
            at,
            101,
            Duration::from_millis(10),
            Duration::ZERO,
        );
        assert!(!verdict, "real-time playback after a render is recognised");
    }

    #[test]
    fn a_pace_between_the_thresholds_keeps_the_verdict() {
        let mut pace = RenderPace::new(RATE);
        let (verdict, at) = play(
            &mut pace,
            Instant::now(),
            51,
            Duration::ZERO,
            Duration::ZERO,
        );
        assert!(verdict);
        // 2.5x real time: neither clearly a render nor real time.
        let (verdict, _) = play(&mut pace, at, 200, Duration::from_millis(4), Duration::ZERO);
        assert!(verdict);
    }
}
