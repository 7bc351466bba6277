//! The HEAR-naive baseline: a clip's log-mel bands summarised by their mean and standard
//! deviation over time. Whatever a learned encoder adds must beat this.

use tessera_core::dsp::mel::{LogMel, MelConfig};
use tessera_core::dsp::spectrogram::DbScaling;

/// Per-clip log-mel statistics on PupuJEPA's front end (16 kHz, 128 bands, 10-ms hop).
#[derive(Debug)]
pub struct LogMelStats {
    /// Log-mel in dB relative to full scale (librosa's `power_to_db` defaults), so louder
    /// clips have higher means, as in HEAR's naive baseline.
    log_mel: LogMel,
}

impl LogMelStats {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            log_mel: LogMel::new(&Self::mel_config(), DbScaling::default())?,
        })
    }

    /// The front end; part of the cache fingerprint, so changing it re-embeds.
    pub fn mel_config() -> MelConfig {
        MelConfig::default()
    }

    pub fn sample_rate(&self) -> u32 {
        self.log_mel.mel().config().sample_rate
    }

    /// The per-band means over time followed by the per-band standard deviations
    /// (`2 · n_mels` values).
    pub fn compute(&self, audio: &[f32]) -> anyhow::Result<Vec<f32>> {
        let bands = self.log_mel.compute(audio)?;
        let frames = bands.ncols().max(1) as f64;
        let (means, stds): (Vec<f32>, Vec<f32>) = bands
            .rows()
            .into_iter()
            .map(|band| {
                let mean = band.iter().map(|&v| f64::from(v)).sum::<f64>() / frames;
                let variance = band
                    .iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / frames;
                (mean as f32, variance.sqrt() as f32)
            })
            .unzip();
        Ok([means, stds].concat())
    }
}
