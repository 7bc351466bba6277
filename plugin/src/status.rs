//! What the audio thread and the workers report to the editor: lock-free values only, so
//! the audio thread never waits for the GUI.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use atomic_float::AtomicF32;
use parking_lot::Mutex;

/// Live figures shared between the audio thread, the workers and the editor.
#[derive(Default)]
pub struct EngineStatus {
    /// Latency reported to the host, frames at the host rate (0 before activation).
    pub latency_frames: AtomicU32,
    /// Host sample rate of the current activation, Hz.
    pub sample_rate: AtomicF32,
    /// Audio-thread time per block over the block's duration, smoothed.
    pub audio_load: AtomicF32,
    /// Worker inference time over the audio duration it separated, smoothed.
    pub worker_rtf: AtomicF32,
    /// Whether the audio thread waits for the worker: the host renders offline, or faster
    /// than real time.
    pub rendering: AtomicBool,
    /// Whether the main output is (partly) the dry fallback because the worker is late.
    pub overloaded: AtomicBool,
    /// Times the worker has missed its deadline since activation.
    pub overloads: AtomicU32,
    /// Peak level of each stem's output, linear, decayed by the audio thread.
    pub stem_peaks: [AtomicF32; 4],
    /// Whether the separation worker has stopped on an error (the audio thread then stops
    /// waiting for it in offline renders).
    pub worker_failed: AtomicBool,
    /// Why the separation worker stopped, when it failed (shown instead of the stems).
    pub worker_error: Mutex<Option<String>>,
}

impl EngineStatus {
    /// Clears the per-activation figures.
    pub fn reset(&self) {
        self.overloaded.store(false, Ordering::Relaxed);
        self.rendering.store(false, Ordering::Relaxed);
        self.overloads.store(0, Ordering::Relaxed);
        self.worker_rtf.store(0.0, Ordering::Relaxed);
        for peak in &self.stem_peaks {
            peak.store(0.0, Ordering::Relaxed);
        }
        self.worker_failed.store(false, Ordering::Relaxed);
        *self.worker_error.lock() = None;
    }
}
