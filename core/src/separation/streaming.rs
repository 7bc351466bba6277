//! The streaming separator: chunking, windowed overlap-add, constant latency.

use candle_core::Device;

use crate::models::Separator;
use crate::models::separator::CHANNELS;

/// One block of separated audio: `hop` samples of every stem and channel.
pub struct StemBlock<'a> {
    /// `[stem][channel]` slices in `models::separator::STEMS` order, all the same length.
    pub stems: [[&'a [f32]; CHANNELS]; 4],
}

/// Separates a stereo stream chunk by chunk.
///
/// Chunks are `chunk` samples long (the model's) and start every `hop = chunk / 2`
/// samples; each separated chunk is weighted by a periodic Hann window, whose copies
/// shifted by half its length sum to exactly one, and added up. Input sample `i` comes
/// out as output sample `i + latency()`. Output is released `hop` samples at a time, each
/// block once the chunk that completes it has been pushed, so a caller that needs output
/// for every input sample as it arrives must delay by `latency() + hop()`.
///
/// All buffers are allocated in [`StreamingSeparator::new`]; `push` and `finish` allocate
/// only inside the model's inference (candle tensors), so they belong on a worker thread,
/// never on an audio thread.
pub struct StreamingSeparator {
    model: Separator,
    device: Device,
    /// Samples per chunk.
    chunk: usize,
    /// Samples between chunk starts.
    hop: usize,
    /// Synthesis window, `chunk` long.
    window: Vec<f32>,
    /// The current chunk's input per channel; the first `filled` samples are valid.
    input: [Vec<f32>; CHANNELS],
    /// Samples of `input` filled so far.
    filled: usize,
    /// Overlap-added output of the chunks seen so far, `[stem][channel]`, `chunk` long;
    /// its first `hop` samples are complete once the chunk starting there is processed.
    accumulator: [[Vec<f32>; CHANNELS]; 4],
}

impl StreamingSeparator {
    pub fn new(model: Separator, device: Device) -> Self {
        let chunk = model.config().chunk_samples();
        let hop = chunk / 2;
        let window = (0..chunk)
            .map(|i| {
                (std::f32::consts::PI * i as f32 / chunk as f32)
                    .sin()
                    .powi(2)
            })
            .collect();
        let buffer = || vec![0f32; chunk];
        let mut separator = Self {
            model,
            device,
            chunk,
            hop,
            window,
            input: std::array::from_fn(|_| buffer()),
            filled: 0,
            accumulator: std::array::from_fn(|_| std::array::from_fn(|_| buffer())),
        };
        separator.reset();
        separator
    }

    /// The separator model.
    pub fn model(&self) -> &Separator {
        &self.model
    }

    /// Delay from input to output, samples at the model's rate: the silence before the
    /// first chunk.
    pub fn latency(&self) -> usize {
        self.chunk - self.hop
    }

    /// Samples released per output block.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Forgets all audio: the next sample pushed is the first of a new stream. The first
    /// chunk starts `chunk − hop` samples before it (silence), so the stream's start is
    /// covered by two chunks like every other sample.
    pub fn reset(&mut self) {
        for channel in &mut self.input {
            channel.fill(0.0);
        }
        for stem in &mut self.accumulator {
            for channel in stem {
                channel.fill(0.0);
            }
        }
        self.filled = self.chunk - self.hop;
    }

    /// Feeds stereo input (both slices the same length; non-finite samples count as
    /// silence) and hands every completed output block to `on_block`.
    pub fn push(
        &mut self,
        left: &[f32],
        right: &[f32],
        mut on_block: impl FnMut(StemBlock<'_>),
    ) -> candle_core::Result<()> {
        if left.len() != right.len() {
            candle_core::bail!(
                "left and right input differ in length ({} vs {})",
                left.len(),
                right.len()
            );
        }
        let sources = [left, right];
        self.feed(
            left.len(),
            |channel, offset, to| {
                let from = &sources[channel][offset..offset + to.len()];
                for (to, &from) in to.iter_mut().zip(from) {
                    *to = if from.is_finite() { from } else { 0.0 };
                }
            },
            &mut on_block,
        )
    }

    /// Pushes silence until every sample pushed so far has come out, plus the latency.
    pub fn finish(&mut self, mut on_block: impl FnMut(StemBlock<'_>)) -> candle_core::Result<()> {
        let silence = self.latency() + self.hop;
        self.feed(silence, |_, _, to| to.fill(0.0), &mut on_block)
    }

    /// Appends `len` samples per channel to the input chunk, `write(channel, offset, to)`
    /// filling each span, and separates every chunk that fills up.
    fn feed(
        &mut self,
        len: usize,
        mut write: impl FnMut(usize, usize, &mut [f32]),
        on_block: &mut impl FnMut(StemBlock<'_>),
    ) -> candle_core::Result<()> {
        let mut offset = 0;
        while offset < len {
            let take = (self.chunk - self.filled).min(len - offset);
            for (c, channel) in self.input.iter_mut().enumerate() {
                write(c, offset, &mut channel[self.filled..self.filled + take]);
            }
            self.filled += take;
            offset += take;
            if self.filled == self.chunk {
                self.process_chunk(on_block)?;
            }
        }
        Ok(())
    }

    /// Separates the full input chunk, overlap-adds it, releases the first `hop` samples
    /// and shifts both buffers by `hop`.
    fn process_chunk(
        &mut self,
        on_block: &mut impl FnMut(StemBlock<'_>),
    ) -> candle_core::Result<()> {
        let chunk = [self.input[0].as_slice(), self.input[1].as_slice()];
        let batch = self.model.spectra(&[chunk], &self.device)?;
        let separated = self.model.separate(&batch)?.squeeze(0)?.to_vec3::<f32>()?;
        for (accumulated, stem) in self.accumulator.iter_mut().zip(&separated) {
            for (acc, samples) in accumulated.iter_mut().zip(stem) {
                for ((a, &s), &w) in acc.iter_mut().zip(samples).zip(&self.window) {
                    *a += s * w;
                }
            }
        }
        let hop = self.hop;
        on_block(StemBlock {
            stems: std::array::from_fn(|s| std::array::from_fn(|c| &self.accumulator[s][c][..hop])),
        });
        for stem in &mut self.accumulator {
            for channel in stem {
                channel.copy_within(hop.., 0);
                channel[self.chunk - hop..].fill(0.0);
            }
        }
        for channel in &mut self.input {
            channel.copy_within(hop.., 0);
        }
        self.filled = self.chunk - hop;
        Ok(())
    }
}
