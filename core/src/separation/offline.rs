//! Separating a whole recording: any channel count (mono upmixed, surround folded to
//! stereo), any sample rate (resampled to the model's and back), any length.

use crate::audio::AudioBuffer;
use crate::audio::channels::to_stereo;
use crate::dsp::resample::{ResampleQuality, resample_planar};

use super::streaming::StreamingSeparator;

/// The four stems of a recording, each stereo at the recording's sample rate and exactly
/// its length, in `models::separator::STEMS` order.
pub type SeparatedStems = [AudioBuffer; 4];

/// Separates `audio` with `separator` (reset first), reporting `(model-rate samples done,
/// total)` to `progress` after every chunk.
pub fn separate_audio(
    separator: &mut StreamingSeparator,
    audio: &AudioBuffer,
    mut progress: impl FnMut(usize, usize),
) -> candle_core::Result<SeparatedStems> {
    let model_rate = separator.model().config().sample_rate;
    let stereo = to_stereo(audio);
    let planar: Vec<&[f32]> = stereo.channels.iter().map(Vec::as_slice).collect();
    let input = resample_planar(
        &planar,
        audio.sample_rate,
        model_rate,
        ResampleQuality::Balanced,
    )
    .map_err(candle_core::Error::wrap)?;
    let total = input[0].len();
    let latency = separator.latency();
    separator.reset();
    let mut stems: [[Vec<f32>; 2]; 4] =
        std::array::from_fn(|_| std::array::from_fn(|_| Vec::with_capacity(total + latency)));
    let mut collect = |block: super::StemBlock<'_>| {
        for (stem, channels) in stems.iter_mut().zip(block.stems) {
            for (out, samples) in stem.iter_mut().zip(channels) {
                out.extend_from_slice(samples);
            }
        }
    };
    let step = separator.hop();
    let mut done = 0;
    while done < total {
        let end = (done + step).min(total);
        separator.push(&input[0][done..end], &input[1][done..end], &mut collect)?;
        done = end;
        progress(done, total);
    }
    separator.finish(&mut collect)?;
    let mut result = Vec::with_capacity(4);
    for stem in stems {
        let aligned: Vec<&[f32]> = stem.iter().map(|c| &c[latency..latency + total]).collect();
        let channels = resample_planar(
            &aligned,
            model_rate,
            audio.sample_rate,
            ResampleQuality::Balanced,
        )
        .map_err(candle_core::Error::wrap)?;
        result.push(AudioBuffer {
            sample_rate: audio.sample_rate,
            channels: channels
                .into_iter()
                .map(|mut c| {
                    c.resize(audio.num_frames(), 0.0);
                    c
                })
                .collect(),
        });
    }
    Ok(result.try_into().expect("four stems"))
}
