//! Any audio file as stereo at a model's rate: what the feature extractors and PaC-HuBERT's
//! training data read (mono is duplicated, more channels are downmixed).

use std::path::Path;

use anyhow::{Context, bail};
use tessera_core::audio::channels::to_stereo;
use tessera_core::audio::decode::decode_file;
use tessera_core::dsp::resample::{ResampleQuality, resample_planar};

/// A decoded, converted file and what it was.
pub struct StereoAudio {
    /// Left and right at the requested rate.
    pub channels: [Vec<f32>; 2],
    /// The file's own rate, Hz.
    pub source_rate: u32,
    /// The file's own channel count.
    pub source_channels: usize,
    /// Its duration, seconds.
    pub seconds: f64,
}

/// Decodes `path` and converts it to finite stereo at `rate`; errors name the file.
pub fn read_stereo(path: &Path, rate: u32) -> anyhow::Result<StereoAudio> {
    let audio = decode_file(path)?;
    let stereo = to_stereo(&audio);
    let planar: Vec<&[f32]> = stereo.channels.iter().map(Vec::as_slice).collect();
    let resampled = resample_planar(&planar, audio.sample_rate, rate, ResampleQuality::Balanced)
        .with_context(|| {
            format!(
                "{}: cannot resample from {} Hz",
                path.display(),
                audio.sample_rate
            )
        })?;
    let Ok(channels) = <[Vec<f32>; 2]>::try_from(resampled) else {
        bail!("{}: not stereo after conversion", path.display());
    };
    if channels.iter().flatten().any(|x| !x.is_finite()) {
        bail!("{}: holds NaN or infinite samples", path.display());
    }
    Ok(StereoAudio {
        channels,
        source_rate: audio.sample_rate,
        source_channels: audio.num_channels(),
        seconds: audio.duration_secs(),
    })
}
