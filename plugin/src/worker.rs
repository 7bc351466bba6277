//! The separation worker: a thread that resamples the input to the model's rate, runs the
//! streaming separator of `tessera-core`, resamples the stems back and hands them to the
//! audio thread. It may allocate (candle does) and take its time; the audio thread only
//! ever sees the rings.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candle_core::Device;
use tessera_core::dsp::resample::{ResampleQuality, StreamingResampler};
use tessera_core::models::Separator;
use tessera_core::separation::{StemBlock, StreamingSeparator};

use crate::engine::{InputFrame, STEM_CHANNELS, StemFrame};
use crate::status::EngineStatus;

/// Input frames the worker takes from the ring at once.
const BATCH: usize = 4096;

/// How long the worker sleeps when it has nothing to do or no room for its output.
const IDLE: Duration = Duration::from_millis(1);

/// Where the delay between input and stems comes from, in host frames, and the latency
/// the plugin reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyPlan {
    /// Input sample `i` comes out of the worker as output sample `i + stream_delay`
    /// (rounded: with resampling the exact delay is fractional).
    pub stream_delay: usize,
    /// The constant latency reported to the host: the stream delay, plus the longest the
    /// worker may wait for input to complete a chunk or a resampler block, plus half a
    /// chunk hop of time for inference.
    pub latency: usize,
    /// Host frames the separator releases at once (its hop, at the host rate).
    pub burst: usize,
}

/// The worker's thread and the flag that stops it.
pub struct WorkerHandle {
    /// Set to end the thread.
    stop: Arc<AtomicBool>,
    /// Joined on drop, so a deactivated plugin leaves no thread behind.
    thread: Option<JoinHandle<()>>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Everything the worker thread owns.
struct SeparationWorker {
    separator: StreamingSeparator,
    /// Host rate → model rate, stereo.
    to_model: StreamingResampler,
    /// Model rate → host rate, all stems' channels.
    to_host: StreamingResampler,
    input: rtrb::Consumer<InputFrame>,
    output: rtrb::Producer<StemFrame>,
    /// Generation of the stream being separated: a frame from a newer one means the audio
    /// thread was reset and the worker starts afresh.
    generation: u32,
    stop: Arc<AtomicBool>,
    status: Arc<EngineStatus>,
    /// Model rate, Hz, for the real-time factor.
    model_rate: f32,
    /// Frames popped from the input ring.
    batch: Vec<InputFrame>,
    /// The batch's left and right channels at the host rate.
    host_input: [Vec<f32>; 2],
    /// The batch resampled to the model rate.
    model_input: [Vec<f32>; 2],
    /// One separated block resampled to the host rate, `[stem · 2 + channel]`.
    host_stems: Vec<Vec<f32>>,
    /// Silence pushed at the start of every stream (see [`alignment_pad`]); shorter
    /// than a hop, so pushing it never completes a chunk.
    alignment_silence: Vec<f32>,
}

/// The most silence the worker adds at the model rate to make its delay a whole number of
/// host frames; rate pairs that would need more are rounded instead.
const MAX_ALIGNMENT_PAD: usize = 4096;

/// Silence (model samples) that, pushed at the start of every stream, makes the delay
/// through both resamplers and the separator a whole number of host frames, so the stems
/// line up with the input exactly at any rate, not just within half a sample.
fn alignment_pad(model_delay: usize, model_rate: u32, host_rate: u32) -> usize {
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let period =
        (u64::from(model_rate) / gcd(u64::from(model_rate), u64::from(host_rate))) as usize;
    if period > MAX_ALIGNMENT_PAD {
        return 0;
    }
    (period - model_delay % period) % period
}

fn latency_plan(
    separator: &StreamingSeparator,
    to_model: &StreamingResampler,
    to_host: &StreamingResampler,
    host_rate: u32,
    pad: usize,
) -> LatencyPlan {
    let ratio = f64::from(host_rate) / f64::from(separator.model().config().sample_rate);
    let hop = separator.hop() as f64;
    let model_delay = (to_model.delay() + separator.latency() + pad) as f64;
    let delay = model_delay * ratio + to_host.delay() as f64;
    let waiting = to_model.block_in() as f64 + (hop + to_host.block_in() as f64) * ratio;
    let inference = 0.5 * hop * ratio;
    LatencyPlan {
        stream_delay: delay.round() as usize,
        latency: (delay + waiting + inference).ceil() as usize,
        burst: (hop * ratio).ceil() as usize,
    }
}

/// A worker ready to start: model, resamplers and latency plan for one host rate.
pub struct PreparedWorker {
    separator: StreamingSeparator,
    to_model: StreamingResampler,
    to_host: StreamingResampler,
    plan: LatencyPlan,
    /// See [`alignment_pad`].
    pad: usize,
}

impl PreparedWorker {
    /// Prepares to separate a stream at `host_rate` with `model`.
    pub fn new(model: Separator, host_rate: u32) -> anyhow::Result<Self> {
        let model_rate = model.config().sample_rate;
        let mut separator = StreamingSeparator::new(model, Device::Cpu);
        // The first inference is the slowest (candle sets up its buffers): run it here, on
        // silence, rather than against the first deadline.
        let silence = vec![0.0; separator.model().config().chunk_samples()];
        separator.push(&silence, &silence, |_| {})?;
        separator.reset();
        let to_model =
            StreamingResampler::new(host_rate, model_rate, 2, ResampleQuality::Balanced)?;
        let to_host = StreamingResampler::new(
            model_rate,
            host_rate,
            STEM_CHANNELS,
            ResampleQuality::Balanced,
        )?;
        let pad = alignment_pad(
            to_model.delay() + separator.latency(),
            model_rate,
            host_rate,
        );
        let plan = latency_plan(&separator, &to_model, &to_host, host_rate, pad);
        Ok(Self {
            separator,
            to_model,
            to_host,
            plan,
            pad,
        })
    }

    pub fn plan(&self) -> LatencyPlan {
        self.plan
    }

    /// Starts the thread, reading `input` and writing `output`.
    pub fn spawn(
        self,
        input: rtrb::Consumer<InputFrame>,
        output: rtrb::Producer<StemFrame>,
        status: Arc<EngineStatus>,
    ) -> anyhow::Result<WorkerHandle> {
        let model_rate = self.separator.model().config().sample_rate;
        let model_batch = self.to_model.max_output_frames(BATCH);
        let host_block = self.to_host.max_output_frames(self.separator.hop());
        let stop = Arc::new(AtomicBool::new(false));
        let mut worker = SeparationWorker {
            separator: self.separator,
            to_model: self.to_model,
            to_host: self.to_host,
            input,
            output,
            generation: 0,
            stop: stop.clone(),
            status,
            model_rate: model_rate as f32,
            batch: vec![InputFrame::default(); BATCH],
            host_input: std::array::from_fn(|_| vec![0.0; BATCH]),
            model_input: std::array::from_fn(|_| vec![0.0; model_batch]),
            host_stems: vec![vec![0.0; host_block]; STEM_CHANNELS],
            alignment_silence: vec![0.0; self.pad],
        };
        let thread = std::thread::Builder::new()
            .name("tessera-separation".into())
            .spawn(move || {
                if let Err(error) = worker.run() {
                    *worker.status.worker_error.lock() = Some(format!("{error:#}"));
                    worker.status.worker_failed.store(true, Ordering::Release);
                }
            })?;
        Ok(WorkerHandle {
            stop,
            thread: Some(thread),
        })
    }
}

impl SeparationWorker {
    fn run(&mut self) -> anyhow::Result<()> {
        while !self.stop.load(Ordering::Acquire) {
            let available = self.input.slots().min(BATCH);
            if available == 0 {
                std::thread::sleep(IDLE);
                continue;
            }
            let (popped, _) = self.input.pop_partial_slice(&mut self.batch[..available]);
            let popped = popped.len();
            // Split the batch where the generation changes: frames before it belong to
            // the old stream, frames after it start the new one.
            let mut start = 0;
            while start < popped {
                let generation = self.batch[start].generation;
                if generation != self.generation {
                    self.restart(generation)?;
                }
                let end = self.batch[start..popped]
                    .iter()
                    .position(|frame| frame.generation != generation)
                    .map_or(popped, |offset| start + offset);
                self.separate(start, end)?;
                start = end;
            }
        }
        Ok(())
    }

    /// Forgets the old stream: the next frame is the first of generation `generation`.
    fn restart(&mut self, generation: u32) -> anyhow::Result<()> {
        self.generation = generation;
        self.separator.reset();
        self.to_model.reset();
        self.to_host.reset();
        let silence = &self.alignment_silence;
        self.separator.push(silence, silence, |_| {})?;
        Ok(())
    }

    /// Separates `batch[start..end]` and sends every completed block to the audio thread.
    fn separate(&mut self, start: usize, end: usize) -> anyhow::Result<()> {
        let frames = end - start;
        for (i, frame) in self.batch[start..end].iter().enumerate() {
            self.host_input[0][i] = frame.samples[0];
            self.host_input[1][i] = frame.samples[1];
        }
        let [model_left, model_right] = &mut self.model_input;
        let resampled = self.to_model.process(
            &[&self.host_input[0][..frames], &self.host_input[1][..frames]],
            &mut [&mut model_left[..], &mut model_right[..]],
        )?;
        let Self {
            separator,
            to_host,
            output,
            host_stems,
            stop,
            status,
            generation,
            model_rate,
            ..
        } = self;
        let started = Instant::now();
        let mut separated = 0;
        let mut failure = None;
        separator.push(
            &model_left[..resampled],
            &model_right[..resampled],
            |block: StemBlock<'_>| {
                separated += block.stems[0][0].len();
                if failure.is_none() {
                    failure =
                        send_block(&block, to_host, host_stems, output, *generation, stop).err();
                }
            },
        )?;
        if let Some(error) = failure {
            return Err(error);
        }
        if separated > 0 {
            let rtf = started.elapsed().as_secs_f32() / (separated as f32 / *model_rate);
            let smoothed = match status.worker_rtf.load(Ordering::Relaxed) {
                0.0 => rtf,
                old => 0.7 * old + 0.3 * rtf,
            };
            status.worker_rtf.store(smoothed, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Resamples one separated block to the host rate and pushes it to the audio thread,
/// waiting for room in the ring (the audio thread drains it at the host's pace).
fn send_block(
    block: &StemBlock<'_>,
    to_host: &mut StreamingResampler,
    host_stems: &mut [Vec<f32>],
    output: &mut rtrb::Producer<StemFrame>,
    generation: u32,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let inputs: [&[f32]; STEM_CHANNELS] = std::array::from_fn(|i| block.stems[i / 2][i % 2]);
    let mut outputs: Vec<&mut [f32]> = host_stems.iter_mut().map(|c| &mut c[..]).collect();
    let frames = to_host.process(&inputs, &mut outputs)?;
    let mut sent = 0;
    while sent < frames {
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        let room = output.slots().min(frames - sent);
        if room == 0 {
            std::thread::sleep(IDLE);
            continue;
        }
        let mut chunk = output.write_chunk(room)?;
        let (first, second) = chunk.as_mut_slices();
        for (slot, i) in first.iter_mut().chain(second).zip(sent..) {
            *slot = StemFrame {
                generation,
                stems: std::array::from_fn(|s| [outputs[2 * s][i], outputs[2 * s + 1][i]]),
            };
        }
        chunk.commit_all();
        sent += room;
    }
    Ok(())
}
