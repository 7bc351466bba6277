//! Sample-rate conversion between any two integer rates, offline and streaming.
//!
//! Built on rubato's synchronous FFT resampler (`rubato::Fft`): the ratio between two integer
//! rates is fixed, which is exactly the case that resampler is made for — it is exact in the
//! ratio, fast, and its delay is a whole number of output frames, so it can be removed
//! exactly. Each FFT block covers `k · from/g` input and `k · to/g` output frames
//! (`g = gcd(from, to)`); the anti-aliasing filter is a windowed sinc as long as the block,
//! so the block length sets the transition width and the window sets the stopband.
//! `k` is always even so the filter's delay (half a block) is a whole number of input *and*
//! output frames.

use rubato::audioadapter_buffers::direct::{SequentialSliceOfSlices, SequentialSliceOfVecs};
use rubato::{Fft, FixedSync, Resampler, WindowFunction};
use serde::{Deserialize, Serialize};

use super::DspError;

/// Speed/quality trade-off of the anti-aliasing filter.
///
/// Measured with pure tones (`core/tests/integration/resample.rs`, `quality_figures_match_documentation`
/// checks these bounds), worst case over 44.1k→16k, 48k→16k, 96k→16k, 32k→16k, 22.05k→16k,
/// 48k→44.1k, 16k→44.1k and 16k→48k. "Nyq" is the lower of the two Nyquist frequencies;
/// stopband = tones from 1.01 Nyq to the input Nyquist (downsampling), relative to the input.
///
/// | quality  | block ≥ (frames at the lower rate) | window           | error to 0.8 Nyq | −0.1 dB edge | stopband |
/// |----------|-----------------------------------:|------------------|-----------------:|-------------:|---------:|
/// | Fast     | 128                                | Blackman²        | < 0.001 dB       | ≥ 0.87 Nyq   | ≥ 115 dB |
/// | Balanced | 512                                | Blackman-Harris² | < 0.001 dB       | ≥ 0.95 Nyq   | ≥ 138 dB |
/// | Best     | 2048                               | Blackman-Harris² | < 0.001 dB       | ≥ 0.98 Nyq   | ≥ 138 dB |
///
/// The qualities differ in how close to Nyquist the passband reaches, and in latency: a
/// longer block means more delay for [`StreamingResampler`] (half a block plus the block
/// gathering time), hardly more work per sample (the FFT cost grows with its log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResampleQuality {
    /// Short blocks: lowest latency, audible roll-off near the new Nyquist frequency.
    Fast,
    /// The default: transparent for features up to ~90 % of the new Nyquist frequency.
    #[default]
    Balanced,
    /// Long blocks: the flattest passband and the sharpest transition (offline work).
    Best,
}

impl ResampleQuality {
    /// Minimum FFT block length in frames at the lower of the two rates.
    fn min_block(self) -> usize {
        match self {
            Self::Fast => 128,
            Self::Balanced => 512,
            Self::Best => 2048,
        }
    }

    /// Window of the anti-aliasing sinc.
    fn window(self) -> WindowFunction {
        match self {
            Self::Fast => WindowFunction::Blackman2,
            Self::Balanced | Self::Best => WindowFunction::BlackmanHarris2,
        }
    }
}

/// Block sizes `(input, output)` of one FFT resampling step for a rate pair and quality.
fn block_sizes(from_hz: u32, to_hz: u32, quality: ResampleQuality) -> (usize, usize) {
    let g = gcd(from_hz, to_hz);
    let (min_in, min_out) = ((from_hz / g) as usize, (to_hz / g) as usize);
    let lower = min_in.min(min_out);
    // Smallest even multiple reaching the quality's block length at the lower rate.
    let multiple = quality
        .min_block()
        .div_ceil(lower)
        .max(1)
        .next_multiple_of(2);
    (multiple * min_in, multiple * min_out)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn check_rates(from_hz: u32, to_hz: u32) -> Result<(), DspError> {
    if from_hz == 0 || to_hz == 0 {
        return Err(DspError::InvalidConfig(format!(
            "sample rates must be positive, got {from_hz} Hz → {to_hz} Hz"
        )));
    }
    Ok(())
}

/// A rubato FFT resampler consuming exactly `block_in` and producing exactly `block_out`
/// frames per call.
fn fft_resampler(
    from_hz: u32,
    to_hz: u32,
    channels: usize,
    quality: ResampleQuality,
) -> Result<Fft<f32>, DspError> {
    let (block_in, _) = block_sizes(from_hz, to_hz, quality);
    Fft::new_custom(
        from_hz as usize,
        to_hz as usize,
        block_in,
        1,
        channels,
        quality.window(),
        FixedSync::Both,
    )
    .map_err(|e| DspError::InvalidConfig(format!("cannot build resampler: {e}")))
}

/// Output length of resampling `input_len` frames: `ceil(input_len · to / from)`.
pub fn resampled_len(input_len: usize, from_hz: u32, to_hz: u32) -> usize {
    (input_len as u64 * u64::from(to_hz)).div_ceil(u64::from(from_hz).max(1)) as usize
}

/// Resamples a mono signal from `from_hz` to `to_hz`. The output has
/// [`resampled_len`] samples and no delay: output sample `j` is the input at time `j / to_hz`.
/// Equal rates return an exact copy.
pub fn resample(
    input: &[f32],
    from_hz: u32,
    to_hz: u32,
    quality: ResampleQuality,
) -> Result<Vec<f32>, DspError> {
    let mut channels = resample_planar(&[input], from_hz, to_hz, quality)?;
    Ok(channels.pop().unwrap_or_default())
}

/// [`resample`] for planar multi-channel audio (one slice per channel, all the same length).
pub fn resample_planar(
    channels: &[&[f32]],
    from_hz: u32,
    to_hz: u32,
    quality: ResampleQuality,
) -> Result<Vec<Vec<f32>>, DspError> {
    check_rates(from_hz, to_hz)?;
    let frames = check_planar(channels)?;
    if from_hz == to_hz || channels.is_empty() {
        return Ok(channels.iter().map(|c| c.to_vec()).collect());
    }
    let out_len = resampled_len(frames, from_hz, to_hz);
    if frames == 0 {
        return Ok(vec![Vec::new(); channels.len()]);
    }
    let mut resampler = fft_resampler(from_hz, to_hz, channels.len(), quality)?;
    let input = SequentialSliceOfSlices::new(channels, channels.len(), frames)
        .map_err(|e| DspError::InvalidConfig(format!("bad input buffer: {e}")))?;
    let capacity = resampler.process_all_needed_output_len(frames);
    let mut output = vec![vec![0.0f32; capacity]; channels.len()];
    let mut output_adapter = SequentialSliceOfVecs::new_mut(&mut output, channels.len(), capacity)
        .map_err(|e| DspError::InvalidConfig(format!("bad output buffer: {e}")))?;
    // process_all_into_buffer trims rubato's delay (half a block, a whole number of frames
    // because blocks are even) and returns exactly ceil(frames · to / from) frames.
    let (_, produced) = resampler
        .process_all_into_buffer(&input, &mut output_adapter, frames, None)
        .map_err(|e| DspError::InvalidConfig(format!("resampling failed: {e}")))?;
    debug_assert_eq!(produced, out_len);
    for channel in &mut output {
        channel.truncate(out_len);
    }
    Ok(output)
}

/// Returns the common length of planar channels, or an error if they differ.
fn check_planar(channels: &[&[f32]]) -> Result<usize, DspError> {
    let frames = channels.first().map_or(0, |c| c.len());
    if channels.iter().any(|c| c.len() != frames) {
        return Err(DspError::InvalidConfig(
            "planar channels must all have the same length".into(),
        ));
    }
    Ok(frames)
}

/// Resampling of an endless stream, fed blocks of any size from a worker thread.
///
/// Input is gathered until one FFT block ([`block_in`](Self::block_in) frames) is complete;
/// each complete block immediately yields [`block_out`](Self::block_out) output frames. The
/// output stream is the input stream resampled and delayed by exactly
/// [`delay`](Self::delay) output frames (constant for the resampler's life; its first
/// `delay` frames are the filter's start-up). A consumer that needs output at a steady rate
/// should additionally buffer one `block_out`, since output arrives a block at a time.
///
/// All memory is allocated in [`new`](Self::new); [`process`](Self::process) never allocates.
/// Equal rates pass samples through unchanged with no delay.
pub struct StreamingResampler {
    /// rubato's resampler, `None` when the rates are equal (pass-through).
    resampler: Option<Fft<f32>>,
    /// Input frames gathered towards the next block, one buffer of `block_in` per channel.
    pending: Vec<Vec<f32>>,
    /// How many frames of `pending` are filled.
    pending_len: usize,
    /// rubato's output for one block, one buffer of `block_out` per channel (rubato's output
    /// adapters cannot borrow the caller's slices for a shorter time than they live).
    resampled: Vec<Vec<f32>>,
    /// Input frames per block (1 for pass-through).
    block_in: usize,
    /// Output frames per block (1 for pass-through).
    block_out: usize,
}

impl StreamingResampler {
    /// A resampler for `channels` planar channels from `from_hz` to `to_hz`.
    pub fn new(
        from_hz: u32,
        to_hz: u32,
        channels: usize,
        quality: ResampleQuality,
    ) -> Result<Self, DspError> {
        check_rates(from_hz, to_hz)?;
        if channels == 0 {
            return Err(DspError::InvalidConfig(
                "a resampler needs at least one channel".into(),
            ));
        }
        let (resampler, (block_in, block_out)) = if from_hz == to_hz {
            (None, (1, 1))
        } else {
            (
                Some(fft_resampler(from_hz, to_hz, channels, quality)?),
                block_sizes(from_hz, to_hz, quality),
            )
        };
        Ok(Self {
            resampler,
            pending: vec![vec![0.0; block_in]; channels],
            pending_len: 0,
            resampled: vec![vec![0.0; block_out]; channels],
            block_in,
            block_out,
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.pending.len()
    }

    /// Input frames per processing block.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Output frames produced per completed input block.
    pub fn block_out(&self) -> usize {
        self.block_out
    }

    /// Delay of the output stream relative to the input, in output frames.
    pub fn delay(&self) -> usize {
        self.resampler.as_ref().map_or(0, |r| r.output_delay())
    }

    /// The most output frames one [`process`](Self::process) call with `input_frames`
    /// frames can write: size output buffers with this.
    pub fn max_output_frames(&self, input_frames: usize) -> usize {
        input_frames.div_ceil(self.block_in) * self.block_out
    }

    /// Feeds `input` (planar, equal lengths) and writes the output that became ready into
    /// the start of `output` (planar, each at least
    /// [`max_output_frames`](Self::max_output_frames)`(input length)` long). Returns the
    /// number of frames written per channel.
    pub fn process(
        &mut self,
        input: &[&[f32]],
        output: &mut [&mut [f32]],
    ) -> Result<usize, DspError> {
        let frames = check_planar(input)?;
        let needed = self.max_output_frames(frames);
        if input.len() != self.channels()
            || output.len() != self.channels()
            || output.iter().any(|c| c.len() < needed)
        {
            return Err(DspError::InvalidConfig(format!(
                "streaming resampler expects {} input and output channels with outputs of at \
                 least {needed} frames",
                self.channels()
            )));
        }
        let Some(resampler) = self.resampler.as_mut() else {
            for (out, inp) in output.iter_mut().zip(input) {
                out[..frames].copy_from_slice(inp);
            }
            return Ok(frames);
        };
        let channels = self.pending.len();
        let mut consumed = 0;
        let mut written = 0;
        while consumed < frames {
            let take = (self.block_in - self.pending_len).min(frames - consumed);
            for (pending, inp) in self.pending.iter_mut().zip(input) {
                pending[self.pending_len..self.pending_len + take]
                    .copy_from_slice(&inp[consumed..consumed + take]);
            }
            self.pending_len += take;
            consumed += take;
            if self.pending_len == self.block_in {
                let block = SequentialSliceOfVecs::new(&self.pending, channels, self.block_in)
                    .map_err(|e| DspError::InvalidConfig(format!("bad input buffer: {e}")))?;
                let mut block_out =
                    SequentialSliceOfVecs::new_mut(&mut self.resampled, channels, self.block_out)
                        .map_err(|e| DspError::InvalidConfig(format!("bad output buffer: {e}")))?;
                resampler
                    .process_into_buffer(&block, &mut block_out, None)
                    .map_err(|e| DspError::InvalidConfig(format!("resampling failed: {e}")))?;
                for (out, resampled) in output.iter_mut().zip(&self.resampled) {
                    out[written..written + self.block_out].copy_from_slice(resampled);
                }
                written += self.block_out;
                self.pending_len = 0;
            }
        }
        Ok(written)
    }

    /// Forgets all buffered input and filter state, as if newly built.
    pub fn reset(&mut self) {
        self.pending_len = 0;
        if let Some(resampler) = self.resampler.as_mut() {
            resampler.reset();
        }
    }
}
