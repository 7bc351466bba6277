//! The audio thread's side of separation: hands the input to the worker, takes the stems
//! back, and keeps the output continuous and aligned whatever the worker does.
//!
//! The output is the input delayed by the reported latency `L`. The worker's stem stream
//! lags the input by `D ≤ L` frames, so after a (re)start the engine plays `L − D` frames
//! of lead-in before the worker's first frame is due. When a frame is due and the worker
//! has not delivered it (real-time mode only), the engine crossfades to the delayed dry
//! input, remembers how many frames it owes, skips exactly that many when they arrive,
//! and crossfades back: the output never clicks and never drifts out of alignment.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tessera_core::models::Separator;

use crate::status::EngineStatus;
use crate::worker::{LatencyPlan, PreparedWorker, WorkerHandle};

/// Separated stems: vocals, drums, bass, other.
pub const STEM_COUNT: usize = 4;
/// Channels of all stems together (stereo each).
pub const STEM_CHANNELS: usize = 2 * STEM_COUNT;

/// Length of the crossfade between stems and dry fallback.
const FADE_SECONDS: f32 = 0.02;
/// The longest a render waits for the worker on one block before giving up on
/// it (then the block is the dry fallback, as in real time).
const OFFLINE_PATIENCE: Duration = Duration::from_secs(60);

/// One input frame on its way to the worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputFrame {
    /// Which stream the frame belongs to; bumped by every reset.
    pub generation: u32,
    /// Left and right, finite.
    pub samples: [f32; 2],
}

/// One frame of separated stems on its way back.
#[derive(Debug, Clone, Copy, Default)]
pub struct StemFrame {
    /// The stream of the input it was separated from.
    pub generation: u32,
    /// `[stem][channel]`.
    pub stems: [[f32; 2]; STEM_COUNT],
}

/// One block's worth of what the engine produced, in buffers allocated at activation.
pub struct EngineBlock {
    /// Separated stems `[stem][channel]`, already faded out where the worker was late.
    pub stems: [[Vec<f32>; 2]; STEM_COUNT],
    /// The input delayed by the latency.
    pub dry: [Vec<f32>; 2],
    /// Per frame, how much of the output is stems (1) rather than dry fallback (0).
    pub wet: Vec<f32>,
    /// How long the block waited for the worker (zero unless asked to wait).
    pub waited: Duration,
}

/// A delay line of fixed length per channel.
struct DryDelay {
    /// Circular buffer per channel, the delay long.
    lines: [Vec<f32>; 2],
    /// Next position to read (the oldest sample) and write.
    position: usize,
}

impl DryDelay {
    fn new(delay: usize) -> Self {
        Self {
            lines: std::array::from_fn(|_| vec![0.0; delay.max(1)]),
            position: 0,
        }
    }

    fn clear(&mut self) {
        for line in &mut self.lines {
            line.fill(0.0);
        }
        self.position = 0;
    }

    /// Stores `frame` and returns the frame from one delay ago.
    fn process(&mut self, frame: [f32; 2]) -> [f32; 2] {
        let p = self.position;
        let out = [self.lines[0][p], self.lines[1][p]];
        self.lines[0][p] = frame[0];
        self.lines[1][p] = frame[1];
        self.position = (p + 1) % self.lines[0].len();
        out
    }
}

/// The audio thread's end of the separation: everything allocated in [`Self::new`].
pub struct SeparationEngine {
    to_worker: rtrb::Producer<InputFrame>,
    from_worker: rtrb::Consumer<StemFrame>,
    /// Keeps the worker thread alive as long as the engine; dropping it joins the thread.
    _worker: WorkerHandle,
    plan: LatencyPlan,
    /// Generation of the current stream (see [`InputFrame::generation`]).
    generation: u32,
    /// Frames still to play before the worker's first frame of this stream is due.
    lead_in: usize,
    /// Worker frames whose slots were already played as dry fallback: dropped on arrival.
    debt: usize,
    /// Current stems share of the output, ramped by `fade_step` per frame.
    wet: f32,
    fade_step: f32,
    /// The crossfade length, frames: fading starts when fewer worker frames are ready.
    fade_frames: usize,
    dry: DryDelay,
    status: Arc<EngineStatus>,
    /// Whether the previous block fell back to dry, to count overloads once each.
    was_overloaded: bool,
    /// The latest block's output.
    block: EngineBlock,
}

impl SeparationEngine {
    /// Starts a worker for `model` at `sample_rate` and allocates every buffer the audio
    /// thread will use for blocks of up to `max_block` frames.
    pub fn new(
        model: Separator,
        sample_rate: u32,
        max_block: usize,
        status: Arc<EngineStatus>,
    ) -> anyhow::Result<Self> {
        let prepared = PreparedWorker::new(model, sample_rate)?;
        let plan = prepared.plan();
        // The rings hold everything in flight: the latency, a chunk hop released at once
        // and a few host blocks of slack.
        let capacity = plan.latency + plan.burst + 4 * max_block;
        let (to_worker, worker_input) = rtrb::RingBuffer::new(capacity);
        let (worker_output, from_worker) = rtrb::RingBuffer::new(capacity);
        let worker = prepared.spawn(worker_input, worker_output, status.clone())?;
        let fade_frames = ((FADE_SECONDS * sample_rate as f32) as usize).max(1);
        let buffer = || vec![0.0; max_block];
        let mut engine = Self {
            to_worker,
            from_worker,
            _worker: worker,
            plan,
            generation: 0,
            lead_in: 0,
            debt: 0,
            wet: 0.0,
            fade_step: 1.0 / fade_frames as f32,
            fade_frames,
            dry: DryDelay::new(plan.latency),
            status,
            was_overloaded: false,
            block: EngineBlock {
                stems: std::array::from_fn(|_| std::array::from_fn(|_| buffer())),
                dry: std::array::from_fn(|_| buffer()),
                wet: buffer(),
                waited: Duration::ZERO,
            },
        };
        engine.reset();
        Ok(engine)
    }

    /// The constant latency from input to every output, frames.
    pub fn latency(&self) -> usize {
        self.plan.latency
    }

    /// Starts a new stream: forgets the audio so far without allocating (the worker sees
    /// the next generation's first frame and restarts too).
    pub fn reset(&mut self) {
        self.restart_worker_stream();
        self.dry.clear();
    }

    /// Restarts the worker's stream only: the output carries on as the delayed dry signal
    /// until the new stream's stems are due.
    fn restart_worker_stream(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.lead_in = self.plan.latency - self.plan.stream_delay;
        self.debt = 0;
        self.wet = 0.0;
        self.was_overloaded = false;
    }

    /// Separates one block of stereo input (`left` and `right` the same length, at most
    /// the activation's maximum block). With `wait` (renders) it waits for the worker, so
    /// the output is exact; without (real time) it never waits.
    pub fn process(&mut self, left: &[f32], right: &[f32], wait: bool) -> &EngineBlock {
        let frames = left.len();
        self.send_input(left, right);
        self.block.waited = if wait {
            self.wait_for_worker(frames)
        } else {
            Duration::ZERO
        };
        let mut ready = self.from_worker.slots();
        let mut overloaded = false;
        for i in 0..frames {
            let dry = self.dry.process([sanitise(left[i]), sanitise(right[i])]);
            let leading_in = self.lead_in > 0;
            let stems = if leading_in {
                self.lead_in -= 1;
                None
            } else {
                while self.debt > 0 && ready > 0 {
                    ready -= 1;
                    if self.pop_current().is_some() {
                        self.debt -= 1;
                    }
                }
                let frame = self.pop_ready(&mut ready);
                if frame.is_none() {
                    self.debt += 1;
                    overloaded = true;
                }
                frame
            };
            let keep_up = wait || (self.debt == 0 && ready >= self.fade_frames);
            let target = if stems.is_some() && keep_up { 1.0 } else { 0.0 };
            if target < 1.0 && !leading_in {
                overloaded = true;
            }
            self.wet += (target - self.wet).clamp(-self.fade_step, self.fade_step);
            let stems = stems.unwrap_or_default();
            let block = &mut self.block;
            for (s, stem) in stems.iter().enumerate() {
                block.stems[s][0][i] = stem[0] * self.wet;
                block.stems[s][1][i] = stem[1] * self.wet;
            }
            block.dry[0][i] = dry[0];
            block.dry[1][i] = dry[1];
            block.wet[i] = self.wet;
        }
        if overloaded && !self.was_overloaded {
            self.status.overloads.fetch_add(1, Ordering::Relaxed);
        }
        self.was_overloaded = overloaded;
        self.status.overloaded.store(overloaded, Ordering::Relaxed);
        &self.block
    }

    /// Queues the block for the worker; non-finite samples become silence.
    fn send_input(&mut self, left: &[f32], right: &[f32]) {
        let room = self.to_worker.slots().min(left.len());
        if room < left.len() {
            // The worker has stopped taking input (it failed, or the machine is far too
            // slow): start a fresh stream once it catches up rather than drift; the dry
            // signal plays on meanwhile.
            self.restart_worker_stream();
        }
        let Ok(mut chunk) = self.to_worker.write_chunk(room) else {
            return;
        };
        let generation = self.generation;
        let (first, second) = chunk.as_mut_slices();
        for (slot, (&l, &r)) in first.iter_mut().chain(second).zip(left.iter().zip(right)) {
            *slot = InputFrame {
                generation,
                samples: [sanitise(l), sanitise(r)],
            };
        }
        chunk.commit_all();
    }

    /// Renders: waits until the worker has every frame this block needs, and says how long.
    fn wait_for_worker(&mut self, frames: usize) -> Duration {
        let needed = frames.saturating_sub(self.lead_in) + self.debt;
        let started = Instant::now();
        while self.from_worker.slots() < needed
            && !self.status.worker_failed.load(Ordering::Acquire)
            && started.elapsed() < OFFLINE_PATIENCE
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        started.elapsed()
    }

    /// The next frame of the current stream, dropping stale frames from before a reset.
    fn pop_current(&mut self) -> Option<[[f32; 2]; STEM_COUNT]> {
        while let Ok(frame) = self.from_worker.pop() {
            if frame.generation == self.generation {
                return Some(frame.stems);
            }
        }
        None
    }

    /// [`Self::pop_current`] if the ring had frames at the block's start.
    fn pop_ready(&mut self, ready: &mut usize) -> Option<[[f32; 2]; STEM_COUNT]> {
        if *ready == 0 {
            return None;
        }
        *ready -= 1;
        self.pop_current()
    }
}

/// Non-finite samples become silence, so one bad sample never poisons the state.
fn sanitise(sample: f32) -> f32 {
    if sample.is_finite() { sample } else { 0.0 }
}
