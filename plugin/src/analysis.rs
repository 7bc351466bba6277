//! What the editor draws, computed off the audio thread: a live log-mel spectrogram of the
//! input and PupuJEPA-Tiny's attention for the target region the user chose.
//!
//! Two low-priority threads live as long as the plugin. The spectrogram thread takes the
//! input (mono, host rate) from a ring the audio thread writes without waiting, resamples
//! it to PupuJEPA's 16 kHz, computes log-mel columns with the model's own mel settings and
//! publishes them, and the latest clip of audio, through triple buffers. The attention
//! thread runs the predictor on that clip twice a second and publishes the map. Both idle
//! while the editor is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use nice_plug_egui::EguiEditorState;
use nice_plug_egui::RepaintNotifier;
use parking_lot::Mutex;
use tessera_core::dsp::mel::{MelConfig, MelFilterbank};
use tessera_core::dsp::resample::{ResampleQuality, StreamingResampler};
use tessera_core::dsp::streaming::StreamingStft;
use tessera_core::models::{PupuJepa, PupuJepaConfig};

use crate::params::{AttentionAveraging, AttentionRegion, ViewSettings};
use crate::status::EngineStatus;

/// Mono samples the audio thread may queue ahead of the spectrogram thread (when it is
/// full, samples are dropped: the picture skips, the audio never waits).
const RING_FRAMES: usize = 1 << 17;
/// How often the spectrogram is published (the editor redraws when it is).
const FRAME_INTERVAL: Duration = Duration::from_millis(16);
/// How often the attention map is recomputed.
const ATTENTION_INTERVAL: Duration = Duration::from_millis(500);
/// Sleep when there is nothing to do.
const IDLE: Duration = Duration::from_millis(5);

/// The level of a silent mel band, dB: the power floor of the log-mel columns.
pub const SILENCE_DB: f32 = -100.0;
/// The power [`SILENCE_DB`] stands for.
const SILENCE_POWER: f32 = 1e-10;

/// The last clip's worth of log-mel columns, as the editor draws them.
#[derive(Debug, Clone)]
pub struct SpectrogramView {
    /// Mel bands per column, lowest first.
    pub mels: usize,
    /// Columns kept: one PupuJEPA clip.
    pub columns: usize,
    /// `columns × mels` dB values, column `c` at `c · mels`, in a circular buffer.
    pub data: Vec<f32>,
    /// Index of the oldest column in `data`.
    pub oldest: usize,
    /// Columns computed since the plugin started: where the window is in the stream.
    pub total: u64,
}

impl SpectrogramView {
    fn new(mels: usize, columns: usize) -> Self {
        Self {
            mels,
            columns,
            data: vec![SILENCE_DB; mels * columns],
            oldest: 0,
            total: 0,
        }
    }

    /// Column `c` of the window, 0 the oldest.
    pub fn column(&self, c: usize) -> &[f32] {
        let index = (self.oldest + c) % self.columns;
        &self.data[index * self.mels..(index + 1) * self.mels]
    }

    fn push(&mut self, column: impl Iterator<Item = f32>) {
        let slot = self.oldest;
        for (to, from) in self.data[slot * self.mels..(slot + 1) * self.mels]
            .iter_mut()
            .zip(column)
        {
            *to = from;
        }
        self.oldest = (self.oldest + 1) % self.columns;
        self.total += 1;
    }
}

/// The latest clip of 16 kHz audio, for the attention thread.
#[derive(Debug, Clone, Default)]
struct ClipAudio {
    /// One clip of samples, oldest first.
    samples: Vec<f32>,
    /// [`SpectrogramView::total`] when the clip ended.
    end_column: u64,
}

/// The predictor's attention for one target region of one clip.
#[derive(Debug, Clone, Default)]
pub struct AttentionView {
    /// Patch grid `(frequency, time)` of the map.
    pub grid: (usize, usize),
    /// `freq × time` attention weights, lowest frequency row first; sums to one.
    pub map: Vec<f32>,
    /// The region it was computed for.
    pub region: AttentionRegion,
    /// [`SpectrogramView::total`] when its clip ended: how far it has scrolled since.
    pub end_column: u64,
    /// Why there is no map (model failed to load or run).
    pub error: Option<String>,
}

/// What the editor reads.
pub struct AnalysisOutputs {
    pub spectrogram: triple_buffer::Output<SpectrogramView>,
    pub attention: triple_buffer::Output<AttentionView>,
    /// PupuJEPA's patch grid and clip, for mapping drags to patches.
    pub model: PupuJepaConfig,
}

/// The analysis threads and the audio thread's end of their input ring.
pub struct Analysis {
    /// Mono input at the host rate; written by the audio thread, never waited on.
    pub input: rtrb::Producer<f32>,
    /// Set to end both threads.
    stop: Arc<AtomicBool>,
    /// Joined on drop.
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Analysis {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Analysis {
    /// Starts both threads. `editor` says whether the editor is open, `view` holds the
    /// region and averaging the user chose, `repaint` wakes the editor.
    pub fn start(
        editor: Arc<EguiEditorState>,
        view: Arc<Mutex<ViewSettings>>,
        status: Arc<EngineStatus>,
        repaint: RepaintNotifier,
    ) -> anyhow::Result<(Self, AnalysisOutputs)> {
        let model = PupuJepaConfig::default();
        let (input, ring) = rtrb::RingBuffer::new(RING_FRAMES);
        let spectrogram = SpectrogramView::new(model.mel.n_mels, model.clip_frames);
        let (spectrogram_in, spectrogram_out) = triple_buffer::triple_buffer(&spectrogram);
        let (clip_in, clip_out) = triple_buffer::triple_buffer(&ClipAudio::default());
        let (attention_in, attention_out) = triple_buffer::triple_buffer(&AttentionView::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut spectrogram_thread = SpectrogramThread {
            ring,
            mel: model.mel,
            filterbank: MelFilterbank::from_config(&model.mel)?,
            stft: StreamingStft::new(model.mel.stft_config())?,
            resampler: None,
            view: spectrogram,
            history: vec![0.0; model.clip_samples()],
            history_end: 0,
            output: spectrogram_in,
            clip_output: clip_in,
            block: vec![0.0; 4096],
            resampled: Vec::new(),
            editor: editor.clone(),
            status,
            repaint,
            stop: stop.clone(),
        };
        let mut attention_thread = AttentionThread {
            clip: clip_out,
            output: attention_in,
            view,
            editor,
            model: None,
            stop: stop.clone(),
        };
        let threads = vec![
            std::thread::Builder::new()
                .name("tessera-spectrogram".into())
                .spawn(move || spectrogram_thread.run())?,
            std::thread::Builder::new()
                .name("tessera-attention".into())
                .spawn(move || attention_thread.run())?,
        ];
        Ok((
            Self {
                input,
                stop,
                threads,
            },
            AnalysisOutputs {
                spectrogram: spectrogram_out,
                attention: attention_out,
                model,
            },
        ))
    }
}

struct SpectrogramThread {
    ring: rtrb::Consumer<f32>,
    mel: MelConfig,
    filterbank: MelFilterbank,
    stft: StreamingStft,
    /// Host rate → 16 kHz, rebuilt when the host rate changes; `None` before activation.
    resampler: Option<(u32, StreamingResampler)>,
    /// The master copy of the window, copied whole into the triple buffer on publish.
    view: SpectrogramView,
    /// The last clip of 16 kHz audio, circular; `history_end` is the next write index.
    history: Vec<f32>,
    history_end: usize,
    output: triple_buffer::Input<SpectrogramView>,
    clip_output: triple_buffer::Input<ClipAudio>,
    /// Samples popped from the ring.
    block: Vec<f32>,
    /// The block at 16 kHz.
    resampled: Vec<f32>,
    editor: Arc<EguiEditorState>,
    status: Arc<EngineStatus>,
    repaint: RepaintNotifier,
    stop: Arc<AtomicBool>,
}

impl SpectrogramThread {
    fn run(&mut self) {
        let mut published = Instant::now();
        let mut clip_published = Instant::now();
        let mut dirty = false;
        while !self.stop.load(Ordering::Acquire) {
            let (popped, _) = self.ring.pop_partial_slice(&mut self.block);
            let popped = popped.len();
            if popped == 0 {
                std::thread::sleep(IDLE);
            } else if self.editor.is_open() && self.analyse(popped) {
                dirty = true;
            }
            if dirty && published.elapsed() >= FRAME_INTERVAL {
                self.output.input_buffer_mut().clone_from(&self.view);
                self.output.publish();
                self.repaint.request_repaint();
                published = Instant::now();
                dirty = false;
            }
            if clip_published.elapsed() >= ATTENTION_INTERVAL / 2 && self.editor.is_open() {
                self.publish_clip();
                clip_published = Instant::now();
            }
        }
    }

    /// Adds `block[..len]` to the history and the spectrogram; returns whether a column
    /// was added.
    fn analyse(&mut self, len: usize) -> bool {
        let host_rate = self.status.sample_rate.load(Ordering::Relaxed) as u32;
        if host_rate == 0 {
            return false;
        }
        if self.resampler.as_ref().map(|(rate, _)| *rate) != Some(host_rate) {
            let Ok(resampler) =
                StreamingResampler::new(host_rate, self.mel.sample_rate, 1, ResampleQuality::Fast)
            else {
                return false;
            };
            self.resampled = vec![0.0; resampler.max_output_frames(self.block.len())];
            self.resampler = Some((host_rate, resampler));
        }
        let Some((_, resampler)) = self.resampler.as_mut() else {
            return false;
        };
        let Ok(frames) = resampler.process(&[&self.block[..len]], &mut [&mut self.resampled])
        else {
            return false;
        };
        for &sample in &self.resampled[..frames] {
            self.history[self.history_end] = sample;
            self.history_end = (self.history_end + 1) % self.history.len();
        }
        let before = self.view.total;
        let (view, filterbank) = (&mut self.view, &self.filterbank);
        self.stft.push(&self.resampled[..frames], |bins| {
            let weights = filterbank.weights();
            view.push(weights.rows().into_iter().map(|row| {
                let power: f32 = row.iter().zip(bins).map(|(w, b)| w * b.norm_sqr()).sum();
                10.0 * power.max(SILENCE_POWER).log10()
            }));
        });
        self.view.total > before
    }

    fn publish_clip(&mut self) {
        let clip = self.clip_output.input_buffer_mut();
        clip.samples.clear();
        clip.samples
            .extend_from_slice(&self.history[self.history_end..]);
        clip.samples
            .extend_from_slice(&self.history[..self.history_end]);
        clip.end_column = self.view.total;
        self.clip_output.publish();
    }
}

struct AttentionThread {
    clip: triple_buffer::Output<ClipAudio>,
    output: triple_buffer::Input<AttentionView>,
    view: Arc<Mutex<ViewSettings>>,
    editor: Arc<EguiEditorState>,
    /// PupuJEPA-Tiny, loaded the first time the editor opens.
    model: Option<PupuJepa>,
    stop: Arc<AtomicBool>,
}

impl AttentionThread {
    fn run(&mut self) {
        let mut computed: Option<(Instant, ViewSettings)> = None;
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(IDLE * 4);
            if !self.editor.is_open() {
                continue;
            }
            let settings = *self.view.lock();
            let due = computed
                .is_none_or(|(at, used)| at.elapsed() >= ATTENTION_INTERVAL || used != settings);
            if !due || !self.clip.updated() && computed.is_some_and(|(_, used)| used == settings) {
                continue;
            }
            let clip = self.clip.read().clone();
            if clip.samples.is_empty() {
                continue;
            }
            let view = match self.attention(&clip, settings) {
                Ok(view) => view,
                Err(error) => AttentionView {
                    error: Some(format!("{error:#}")),
                    ..Default::default()
                },
            };
            self.output.write(view);
            computed = Some((Instant::now(), settings));
        }
    }

    fn attention(
        &mut self,
        clip: &ClipAudio,
        settings: ViewSettings,
    ) -> anyhow::Result<AttentionView> {
        let device = Device::Cpu;
        if self.model.is_none() {
            self.model = Some(tessera_core::embedded::default_pupu_jepa(&device)?);
        }
        let model = self.model.as_ref().expect("loaded above");
        let grid = model.config().grid();
        let region = settings.region;
        let mel = model.clip_input(&clip.samples, &device)?.unsqueeze(0)?;
        // (layers, heads, freq, time)
        let maps = model.region_attention(
            &mel,
            region.freq.0..region.freq.1,
            region.time.0..region.time.1,
        )?;
        let averaged: Tensor = match settings.averaging {
            AttentionAveraging::AllLayers => maps.mean(0)?.mean(0)?,
            AttentionAveraging::LastLayer => maps.get(maps.dim(0)? - 1)?.mean(0)?,
        };
        Ok(AttentionView {
            grid: (grid.freq, grid.time),
            map: averaged.flatten_all()?.to_vec1()?,
            region,
            end_column: clip.end_column,
            error: None,
        })
    }
}
