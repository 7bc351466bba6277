//! Tessera: real-time stem separation (vocals, drums, bass, other) with a live spectrogram
//! and the attention map of a self-supervised spectrogram transformer, as a CLAP and VST3
//! plugin and a standalone application.
//!
//! Threads: the host's audio thread runs [`Tessera::process`], which only copies samples
//! into lock-free rings and out of preallocated buffers; the separation worker
//! ([`worker`]) runs the model; two low-priority threads ([`analysis`]) compute what the
//! editor draws.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use candle_core::Device;
use nice_plug::prelude::*;
use nice_plug_egui::RepaintNotifier;
use nice_plug_egui::{EguiEditor, EguiEditorState};

pub mod analysis;
mod editor;
pub mod engine;
pub mod params;
mod remix;
mod render_pace;
pub mod status;
mod worker;

use analysis::Analysis;
use engine::SeparationEngine;
use params::{STATE_VERSION, TesseraParams};
use remix::Remix;
use render_pace::RenderPace;
use status::EngineStatus;

/// The stems in output-port order, as `tessera_core::models::separator::STEMS` orders them.
pub const STEM_NAMES: [&str; 4] = ["Vocals", "Drums", "Bass", "Other"];

/// Stereo aux output per stem.
const STEM_PORTS: [NonZeroU32; 4] = [new_nonzero_u32(2); 4];

/// The plugin instance.
pub struct Tessera {
    params: Arc<TesseraParams>,
    /// Figures the editor shows (latency, loads, overloads, meters).
    status: Arc<EngineStatus>,
    /// Separation for the current activation; `None` before the first one.
    engine: Option<SeparationEngine>,
    remix: Remix,
    /// The editor's spectrogram and attention threads; `None` if they could not start
    /// (the plugin still separates).
    analysis: Option<Analysis>,
    /// What the analysis threads publish, handed to the editor when the host asks for it.
    analysis_outputs: Option<analysis::AnalysisOutputs>,
    /// Wakes the editor when a new spectrogram column is ready.
    repaint: RepaintNotifier,
    /// The input as stereo (mono input duplicated), one maximum block long.
    input: [Vec<f32>; 2],
    /// Mono mix of the block for the spectrogram.
    mono: Vec<f32>,
    /// Whether the host says it renders offline (the engine then waits for the worker).
    offline: bool,
    /// Whether the host renders faster than real time without saying so (the engine then
    /// waits for the worker too).
    render_pace: RenderPace,
    sample_rate: f32,
}

impl Default for Tessera {
    fn default() -> Self {
        let editor_state = EguiEditorState::from_size(editor::DEFAULT_SIZE, 1.0);
        let params = Arc::new(TesseraParams::new(editor_state.clone()));
        let status = Arc::new(EngineStatus::default());
        let repaint = RepaintNotifier::new();
        let (analysis, analysis_outputs) = match Analysis::start(
            editor_state,
            params.view.clone(),
            status.clone(),
            repaint.clone(),
        ) {
            Ok((analysis, outputs)) => (Some(analysis), Some(outputs)),
            Err(error) => {
                nice_error!("the spectrogram and attention view could not start: {error:#}");
                (None, None)
            }
        };
        Self {
            params,
            status,
            engine: None,
            remix: Remix::new(),
            analysis,
            analysis_outputs,
            repaint,
            input: [Vec::new(), Vec::new()],
            mono: Vec::new(),
            offline: false,
            render_pace: RenderPace::new(44_100.0),
            sample_rate: 44_100.0,
        }
    }
}

impl Tessera {
    /// Latency, loads, overloads and meters of the current activation.
    pub fn status(&self) -> &Arc<EngineStatus> {
        &self.status
    }
}

impl Plugin for Tessera {
    const NAME: &'static str = "Tessera";
    const VENDOR: &'static str = "Tessera";
    const URL: &'static str = "https://github.com/tessera-audio/tessera";
    const EMAIL: &'static str = "tessera@example.org";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: &[],
            aux_output_ports: &STEM_PORTS,
            names: PortNames {
                layout: Some("Stereo"),
                // Left unnamed: nice-plug 0.4.2 names the main output after the main
                // input when that has a name, and JACK then refuses the duplicate port.
                main_input: None,
                main_output: None,
                aux_inputs: &[],
                aux_outputs: &STEM_NAMES,
            },
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: &[],
            aux_output_ports: &STEM_PORTS,
            names: PortNames {
                layout: Some("Mono in"),
                // Left unnamed: nice-plug 0.4.2 names the main output after the main
                // input when that has a name, and JACK then refuses the duplicate port.
                main_input: None,
                main_output: None,
                aux_inputs: &[],
                aux_outputs: &STEM_NAMES,
            },
        },
    ];

    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = EguiEditor<editor::TesseraEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(
            self.params.clone(),
            self.status.clone(),
            self.analysis_outputs.take(),
            self.repaint.clone(),
        )
    }

    /// Projects saved by another state layout load defaults (and say so in the log).
    fn filter_state(state: &mut PluginState) {
        let version = state
            .fields
            .get("state-version")
            .and_then(|v| v.parse::<u32>().ok());
        if version != Some(STATE_VERSION) {
            nice_warn!(
                "Tessera state version {version:?} is not {STATE_VERSION}; loading defaults"
            );
            state.params.clear();
            state.fields.clear();
        }
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let sample_rate = buffer_config.sample_rate;
        let max_block = buffer_config.max_buffer_size as usize;
        self.engine = None;
        self.status.reset();
        let engine = tessera_core::embedded::default_separator(&Device::Cpu)
            .map_err(anyhow::Error::from)
            .and_then(|model| {
                SeparationEngine::new(model, sample_rate as u32, max_block, self.status.clone())
            });
        let engine = match engine {
            Ok(engine) => engine,
            Err(error) => {
                nice_error!("Tessera could not start separating: {error:#}");
                return false;
            }
        };
        context.set_latency_samples(engine.latency() as u32);
        self.status
            .latency_frames
            .store(engine.latency() as u32, Ordering::Relaxed);
        self.status
            .sample_rate
            .store(sample_rate, Ordering::Relaxed);
        self.engine = Some(engine);
        self.input = [vec![0.0; max_block], vec![0.0; max_block]];
        self.mono = vec![0.0; max_block];
        self.offline = buffer_config.process_mode == ProcessMode::Offline;
        self.render_pace = RenderPace::new(sample_rate);
        self.sample_rate = sample_rate;
        true
    }

    fn reset(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.reset();
        }
        self.remix.reset(&self.params, self.sample_rate);
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let started = Instant::now();
        let frames = buffer.samples();
        let Some(engine) = self.engine.as_mut() else {
            return ProcessStatus::Error("Tessera was not activated");
        };
        {
            let channels = buffer.as_slice_immutable();
            let right = channels.len().min(2) - 1;
            self.input[0][..frames].copy_from_slice(&channels[0][..frames]);
            self.input[1][..frames].copy_from_slice(&channels[right][..frames]);
        }
        if let Some(analysis) = self.analysis.as_mut() {
            for (mono, (l, r)) in self.mono[..frames]
                .iter_mut()
                .zip(self.input[0].iter().zip(&self.input[1]))
            {
                let sum = 0.5 * (l + r);
                *mono = if sum.is_finite() { sum } else { 0.0 };
            }
            let room = analysis.input.slots().min(frames);
            if let Ok(chunk) = analysis.input.write_chunk_uninit(room) {
                chunk.fill_from_iter(self.mono[..room].iter().copied());
            }
        }
        let rendering = self.render_pace.block_started(started, frames) || self.offline;
        self.status.rendering.store(rendering, Ordering::Relaxed);
        let block = engine.process(
            &self.input[0][..frames],
            &self.input[1][..frames],
            rendering,
        );
        let waited = block.waited;
        self.render_pace.waited(waited);
        self.remix.process(
            &self.params,
            block,
            frames,
            buffer.as_slice(),
            aux.outputs,
            &self.status,
        );
        // Waiting for the worker in renders is not work the audio thread does.
        let busy = started.elapsed().saturating_sub(waited);
        let load = busy.as_secs_f32() * self.sample_rate / frames.max(1) as f32;
        let smoothed = 0.9 * self.status.audio_load.load(Ordering::Relaxed) + 0.1 * load;
        self.status.audio_load.store(smoothed, Ordering::Relaxed);
        ProcessStatus::Tail(engine.latency() as u32)
    }

    fn deactivate(&mut self) {
        // Joins the worker thread; never called on the audio thread.
        self.engine = None;
    }
}

impl ClapPlugin for Tessera {
    const CLAP_ID: &'static str = "org.tessera.stems";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Real-time stem separation with a live spectrogram and attention map");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Stereo,
        ClapFeature::Mono,
        ClapFeature::Mixing,
        ClapFeature::Analyzer,
    ];
}

impl Vst3Plugin for Tessera {
    const VST3_CLASS_ID: [u8; 16] = *b"TesseraStemSplit";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Analyzer,
        Vst3SubCategory::Tools,
    ];
}

nice_export_clap!(Tessera);
nice_export_vst3!(Tessera);
