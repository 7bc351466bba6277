//! The main output: the separated stems remixed with the user's gain, mute and solo, mixed
//! with the latency-aligned input by dry/wet and bypass, all smoothed per sample.

use std::sync::atomic::Ordering;

use nice_plug::prelude::*;

use crate::engine::{EngineBlock, STEM_COUNT};
use crate::params::TesseraParams;
use crate::status::EngineStatus;

/// Ramp time of mute, solo and bypass, ms: long enough not to click.
const SWITCH_MS: f32 = 10.0;
/// Meters fall by half every this many seconds.
const METER_HALF_LIFE: f32 = 0.15;

/// Per-sample smoothing of the switches (the gains smooth themselves).
pub struct Remix {
    /// Whether each stem is in the remix (mute and solo), 0 or 1, ramped.
    audible: [Smoother<f32>; STEM_COUNT],
    /// 1 while bypassed, ramped.
    bypass: Smoother<f32>,
    sample_rate: f32,
}

impl Remix {
    pub fn new() -> Self {
        Self {
            audible: std::array::from_fn(|_| Smoother::new(SmoothingStyle::Linear(SWITCH_MS))),
            bypass: Smoother::new(SmoothingStyle::Linear(SWITCH_MS)),
            sample_rate: 44_100.0,
        }
    }

    /// Jumps every switch to the parameters' current state.
    pub fn reset(&mut self, params: &TesseraParams, sample_rate: f32) {
        self.sample_rate = sample_rate;
        let targets = audible_targets(params);
        for (smoother, target) in self.audible.iter_mut().zip(targets) {
            smoother.reset(target);
        }
        self.bypass.reset(bypass_target(params));
    }

    /// Writes `frames` frames of the main output (stereo) and of each stem's own output
    /// (`stem_outputs`, the aux ports in stem order) from the engine's block, and updates
    /// the meters.
    pub fn process(
        &mut self,
        params: &TesseraParams,
        block: &EngineBlock,
        frames: usize,
        main: &mut [&mut [f32]],
        stem_outputs: &mut [Buffer],
        status: &EngineStatus,
    ) {
        for (smoother, target) in self.audible.iter_mut().zip(audible_targets(params)) {
            smoother.set_target(self.sample_rate, target);
        }
        self.bypass
            .set_target(self.sample_rate, bypass_target(params));
        let stems = params.stems();
        // Each stem's output channels, looked up once per block rather than per sample.
        let mut ports = stem_outputs.iter_mut().map(Buffer::as_slice);
        let mut stem_ports: [Option<&mut [&mut [f32]]>; STEM_COUNT] =
            std::array::from_fn(|_| ports.next());
        let mut peaks = [0f32; STEM_COUNT];
        for i in 0..frames {
            let bypass = self.bypass.next();
            let dry_wet = params.dry_wet.smoothed.next();
            let dry = [block.dry[0][i], block.dry[1][i]];
            // What the worker could not deliver is the dry signal (crossfaded by `wet`).
            let fallback = 1.0 - block.wet[i];
            let mut remix = [dry[0] * fallback, dry[1] * fallback];
            for s in 0..STEM_COUNT {
                let gain = util::db_to_gain(stems[s].gain.smoothed.next());
                let audible = self.audible[s].next();
                let stem = [block.stems[s][0][i] * gain, block.stems[s][1][i] * gain];
                for c in 0..2 {
                    remix[c] += audible * stem[c];
                    peaks[s] = peaks[s].max(stem[c].abs());
                }
                if let Some(port) = &mut stem_ports[s] {
                    for (c, channel) in port.iter_mut().enumerate().take(2) {
                        channel[i] = (1.0 - bypass) * stem[c];
                    }
                }
            }
            for (c, channel) in main.iter_mut().enumerate().take(2) {
                let wet = dry_wet * remix[c] + (1.0 - dry_wet) * dry[c];
                channel[i] = bypass * dry[c] + (1.0 - bypass) * wet;
            }
        }
        let decay = 0.5f32.powf(frames as f32 / (METER_HALF_LIFE * self.sample_rate));
        for (meter, peak) in status.stem_peaks.iter().zip(peaks) {
            let held = meter.load(Ordering::Relaxed) * decay;
            meter.store(held.max(peak), Ordering::Relaxed);
        }
    }
}

/// 1 for stems in the remix: not muted, and soloed if any stem is.
fn audible_targets(params: &TesseraParams) -> [f32; STEM_COUNT] {
    let stems = params.stems();
    let any_solo = stems.iter().any(|s| s.solo.value());
    std::array::from_fn(|s| {
        let on = !stems[s].mute.value() && (!any_solo || stems[s].solo.value());
        if on { 1.0 } else { 0.0 }
    })
}

fn bypass_target(params: &TesseraParams) -> f32 {
    if params.bypass.value() { 1.0 } else { 0.0 }
}
