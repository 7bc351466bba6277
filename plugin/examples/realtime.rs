//! Runs the whole plugin (`Tessera::process`, as a host calls it) in real time on a
//! recording and measures the audio thread: time per block against the block's duration,
//! the separation worker's real-time factor, and how often the worker missed its deadline.
//!
//! ```sh
//! cargo run --release -p tessera-plugin --example realtime -- song.wav --block 512 --seconds 600 --out soak.json
//! ```
//!
//! The recording loops for `--seconds`; blocks are paced by the clock like a sound card's
//! callbacks. Prints one line of JSON and writes it to `--out` when given.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use nice_plug::context::process::SendEventError;
use nice_plug::prelude::*;
use tessera_core::audio::decode::decode_file;
use tessera_core::dsp::resample::{ResampleQuality, resample_planar};
use tessera_plugin::Tessera;

#[derive(Parser)]
struct Args {
    /// Audio file to play through the plugin (looped).
    input: PathBuf,
    /// Host block size, frames.
    #[arg(long, default_value_t = 512)]
    block: usize,
    /// Host sample rate, Hz (the input is resampled to it).
    #[arg(long, default_value_t = 44_100)]
    rate: u32,
    /// How long to run, seconds of audio (= wall time).
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Where to write the JSON result.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The host side of `activate` and `process` for a plugin run outside a host.
struct Host {
    transport: Transport,
}

impl ActivateContext<Tessera> for Host {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    fn execute(&self, _task: ()) {}
    fn set_latency_samples(&self, _samples: u32) {}
    fn set_current_voice_capacity(&self, _capacity: u32) {}
}

impl ProcessContext<Tessera> for Host {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    fn execute_background(&self, _task: ()) {}
    fn execute_gui(&self, _task: ()) {}
    fn transport(&self) -> &Transport {
        &self.transport
    }
    fn next_event(&mut self) -> Option<PluginNoteEvent<Tessera>> {
        None
    }
    fn try_send_event(
        &mut self,
        event: PluginNoteEvent<Tessera>,
    ) -> Result<(), (PluginNoteEvent<Tessera>, SendEventError)> {
        Err((event, SendEventError::NoOutputBuffer))
    }
    fn set_latency_samples(&self, _samples: u32) {}
    fn request_restart(&self) {}
    fn set_current_voice_capacity(&self, _capacity: u32) {}
}

/// The `q`-quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.block == 0 || args.block > 8192 {
        bail!("--block must be 1 … 8192 frames");
    }
    let audio = decode_file(&args.input)
        .with_context(|| format!("cannot play {}", args.input.display()))?;
    let channels: Vec<&[f32]> = audio.channels.iter().take(2).map(|c| &c[..]).collect();
    let mut song = resample_planar(
        &channels,
        audio.sample_rate,
        args.rate,
        ResampleQuality::Balanced,
    )?;
    if song.len() == 1 {
        song.push(song[0].clone());
    }
    let song_len = song[0].len();
    if song_len < args.block {
        bail!("{} is shorter than one block", args.input.display());
    }

    let mut plugin = Tessera::default();
    let mut host = Host {
        transport: Transport::new(args.rate as f32),
    };
    let layout = Tessera::AUDIO_IO_LAYOUTS[0];
    let config = BufferConfig {
        sample_rate: args.rate as f32,
        min_buffer_size: None,
        max_buffer_size: args.block as u32,
        process_mode: ProcessMode::Realtime,
    };
    if !plugin.activate(&layout, &config, &mut host) {
        bail!("the plugin failed to activate");
    }
    plugin.reset();
    let status = plugin.status().clone();

    // Buffers the host owns: main in/out (in place) and four stereo stem outputs.
    let mut main = vec![vec![0f32; args.block]; 2];
    let mut stems = vec![vec![0f32; args.block]; 8];
    let blocks = (args.seconds * f64::from(args.rate) / args.block as f64) as usize;
    let block_seconds = args.block as f64 / f64::from(args.rate);
    let mut times = Vec::with_capacity(blocks);
    let mut position = 0;
    let started = Instant::now();
    for b in 0..blocks {
        for (c, channel) in main.iter_mut().enumerate() {
            for (i, sample) in channel.iter_mut().enumerate() {
                *sample = song[c][(position + i) % song_len];
            }
        }
        position = (position + args.block) % song_len;
        let mut buffer = Buffer::default();
        let mut stem_buffers: Vec<Buffer> = (0..4).map(|_| Buffer::default()).collect();
        // SAFETY: the slices outlive the buffers, which are dropped at the end of this
        // iteration, and all have `args.block` samples.
        unsafe {
            buffer.set_slices(args.block, |slices| {
                slices.clear();
                slices.extend(main.iter_mut().map(|c| &mut c[..]));
            });
            let mut pairs = stems.chunks_mut(2);
            for stem in &mut stem_buffers {
                let pair = pairs.next().expect("four stereo pairs");
                stem.set_slices(args.block, |slices| {
                    slices.clear();
                    slices.extend(pair.iter_mut().map(|c| &mut c[..]));
                });
            }
        }
        let mut aux = AuxiliaryBuffers {
            inputs: &mut [],
            outputs: &mut stem_buffers,
        };
        let call = Instant::now();
        plugin.process(&mut buffer, &mut aux, &mut host);
        times.push(call.elapsed().as_secs_f64() / block_seconds);
        let deadline = started + Duration::from_secs_f64((b + 1) as f64 * block_seconds);
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let overloads = status.overloads.load(std::sync::atomic::Ordering::Relaxed);
    let worker_rtf = status.worker_rtf.load(std::sync::atomic::Ordering::Relaxed);
    let latency = status
        .latency_frames
        .load(std::sync::atomic::Ordering::Relaxed);
    plugin.deactivate();
    times.sort_by(f64::total_cmp);
    let result = serde_json::json!({
        "input": args.input.display().to_string(),
        "rate": args.rate,
        "block": args.block,
        "seconds": blocks as f64 * block_seconds,
        "latency_ms": 1000.0 * f64::from(latency) / f64::from(args.rate),
        "audio_thread_share_of_block": {
            "median": quantile(&times, 0.5),
            "p99": quantile(&times, 0.99),
            "max": quantile(&times, 1.0),
        },
        "worker_real_time_factor": worker_rtf,
        "overloads": overloads,
    });
    println!("{result}");
    if let Some(out) = &args.out {
        std::fs::write(out, format!("{result:#}\n"))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}
