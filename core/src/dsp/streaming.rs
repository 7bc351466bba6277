//! Block-wise STFT and overlap-add iSTFT for the real-time path: all memory is allocated at
//! construction, so `push`/`push_frame`/`finish` never allocate, whatever the block size.
//!
//! Both produce exactly what the offline [`Stft`] produces on the whole signal.
//!
//! **Round trip latency.** Feeding [`StreamingStft`]'s frames straight into
//! [`StreamingIstft`], output sample `i` is released during the push that delivers input
//! sample `i + n_fft − 1` (at the latest; the first few come sooner). A host that needs a
//! constant delay can therefore delay the output by `n_fft − 1` samples.

use super::DspError;
use super::stft::{Complex32, FrameScratch, PadMode, Stft, StftConfig, normalise};

/// STFT of a signal arriving in blocks of any size (1 sample or many thousands, varying from
/// call to call). The frames handed out are those of [`Stft::forward`] on the concatenated
/// blocks, in order, computed with the same arithmetic.
///
/// **Latency.** Frame `t` is centred on sample `c = t·hop` (on `t·hop + n_fft/2` when not
/// centred) and is emitted by the push that delivers sample `c + latency_samples()`,
/// `latency_samples() = n_fft − 1 − n_fft/2`, i.e. as soon as its last sample exists. With
/// reflect padding frame 0 also needs sample `n_fft/2` (which it mirrors), one sample later
/// for even `n_fft`. Frames that reach into the end padding are emitted by
/// [`StreamingStft::finish`].
pub struct StreamingStft {
    /// Transform, window and plan shared with the offline path.
    stft: Stft,
    /// A window onto the padded signal: `buffer[..filled]` holds padded positions
    /// `buffer_start..buffer_start + filled`. Twice `n_fft` long, so after dropping what no
    /// future frame needs at least `n_fft` samples fit.
    buffer: Vec<f32>,
    /// Valid samples in `buffer`.
    filled: usize,
    /// Padded-signal position of `buffer[0]`.
    buffer_start: usize,
    /// Samples received since the last reset (the signal length so far).
    received: usize,
    /// Index of the next frame to emit.
    next_frame: usize,
    /// Whether the front padding is in `buffer` (reflect padding waits for sample
    /// `n_fft/2`).
    front_padded: bool,
    /// Frame assembled from buffer and end padding in `finish`.
    edge_frame: Vec<f32>,
    /// The spectrum handed to the callback.
    bins: Vec<Complex32>,
    /// FFT working memory.
    scratch: FrameScratch,
}

impl StreamingStft {
    /// Validates `config` and allocates everything the stream will need.
    pub fn new(config: StftConfig) -> Result<Self, DspError> {
        let stft = Stft::new(config)?;
        let config = stft.config();
        let mut stream = Self {
            buffer: vec![0.0; 2 * config.n_fft],
            filled: 0,
            buffer_start: 0,
            received: 0,
            next_frame: 0,
            front_padded: false,
            edge_frame: vec![0.0; config.n_fft],
            bins: vec![Complex32::default(); config.n_bins()],
            scratch: stft.frame_scratch(),
            stft,
        };
        stream.reset();
        Ok(stream)
    }

    /// The configuration the stream was built from.
    pub fn config(&self) -> &StftConfig {
        self.stft.config()
    }

    /// Samples between a frame's centre arriving and the frame being emitted,
    /// `n_fft − 1 − n_fft/2` (see the type's documentation for the first frame).
    pub fn latency_samples(&self) -> usize {
        let config = self.config();
        config.n_fft - 1 - config.n_fft / 2
    }

    /// Forgets the signal so far: the next push starts a new signal.
    pub fn reset(&mut self) {
        let padding = self.config().padding();
        // The front padding occupies the first slots; zeros are already right for constant
        // padding, reflect padding is mirrored in once its source samples arrive.
        self.buffer[..padding].fill(0.0);
        self.filled = padding;
        self.buffer_start = 0;
        self.received = 0;
        self.next_frame = 0;
        self.front_padded = !(self.config().center && self.config().pad_mode == PadMode::Reflect);
    }

    /// Appends `block` to the signal and calls `on_frame` with the bins (`n_fft/2 + 1`) of
    /// every frame completed by it, in order.
    pub fn push(&mut self, block: &[f32], mut on_frame: impl FnMut(&[Complex32])) {
        let mut rest = block;
        while !rest.is_empty() {
            if self.filled == self.buffer.len() {
                self.drop_consumed();
            }
            let n = rest.len().min(self.buffer.len() - self.filled);
            self.buffer[self.filled..self.filled + n].copy_from_slice(&rest[..n]);
            self.filled += n;
            self.received += n;
            rest = &rest[n..];
            if !self.front_padded {
                self.mirror_front();
            }
            self.emit_complete_frames(&mut on_frame);
        }
    }

    /// Ends the signal: emits the remaining frames, which reach into the end padding, then
    /// resets for a new signal. Fails (and resets) if the whole signal was shorter than
    /// [`StftConfig::min_signal_len`], as [`Stft::forward`] does.
    pub fn finish(&mut self, mut on_frame: impl FnMut(&[Complex32])) -> Result<(), DspError> {
        let result = self.emit_tail_frames(&mut on_frame);
        self.reset();
        result
    }

    fn emit_tail_frames(
        &mut self,
        on_frame: &mut impl FnMut(&[Complex32]),
    ) -> Result<(), DspError> {
        let config = self.stft.config();
        let (len, padding) = (self.received, config.padding());
        let n_frames = config.n_frames(len)?;
        let stored_end = self.buffer_start + self.filled;
        for t in self.next_frame..n_frames {
            let start = t * config.hop_length;
            for (j, sample) in self.edge_frame.iter_mut().enumerate() {
                let position = start + j;
                *sample = if position < stored_end {
                    self.buffer[position - self.buffer_start]
                } else {
                    config
                        .padded_source(len, position)
                        .map_or(0.0, |i| self.buffer[i + padding - self.buffer_start])
                };
            }
            self.stft
                .analyze_frame(&self.edge_frame, &mut self.bins, &mut self.scratch);
            on_frame(&self.bins);
        }
        Ok(())
    }

    /// Writes the reflect front padding once the samples it mirrors have arrived.
    fn mirror_front(&mut self) {
        let config = self.stft.config();
        let padding = config.padding();
        if self.received > padding {
            for position in 0..padding {
                let source = config
                    .padded_source(self.received, position)
                    .expect("reflect padding has a source");
                self.buffer[position] = self.buffer[padding + source];
            }
            self.front_padded = true;
        }
    }

    fn emit_complete_frames(&mut self, on_frame: &mut impl FnMut(&[Complex32])) {
        if !self.front_padded {
            return;
        }
        let (n_fft, hop) = (self.config().n_fft, self.config().hop_length);
        loop {
            let start = self.next_frame * hop;
            if start + n_fft > self.buffer_start + self.filled {
                break;
            }
            let offset = start - self.buffer_start;
            self.stft.analyze_frame(
                &self.buffer[offset..offset + n_fft],
                &mut self.bins,
                &mut self.scratch,
            );
            on_frame(&self.bins);
            self.next_frame += 1;
        }
    }

    /// Frees buffer space by dropping samples no future frame reads: those before the next
    /// frame, except the last `n_fft/2 + 1` samples that reflect end padding may mirror.
    fn drop_consumed(&mut self) {
        let config = self.stft.config();
        let end = self.buffer_start + self.filled;
        let mut keep_from = (self.next_frame * config.hop_length).min(end);
        if config.center && config.pad_mode == PadMode::Reflect {
            keep_from = keep_from.min(end - (config.padding() + 1));
        }
        let drop = keep_from - self.buffer_start;
        self.buffer.copy_within(drop..self.filled, 0);
        self.filled -= drop;
        self.buffer_start = keep_from;
    }
}

/// Overlap-add inverse STFT fed one spectrum frame at a time. The concatenated output equals
/// [`Stft::inverse`] of all frames with `length = None`, and truncated to `length` it equals
/// `Some(length)` (the frames librosa then skips only touch later samples). A `length`
/// beyond that has no streaming counterpart: offline it keeps the end padding.
///
/// **Centre trimming and latency.** Frame `t` starts at padded position `t·hop`; once it is
/// added, no later frame touches positions below `(t + 1)·hop`, so those are divided by the
/// window-sum-square and released: each frame releases `hop` samples. With `center`, the
/// first `n_fft/2` padded positions are the front padding and are not released, so the
/// first `⌈(n_fft/2)/hop⌉` frames release fewer; output sample `i` is released by frame
/// `⌊(i + n_fft/2)/hop⌋`. [`StreamingIstft::finish`] releases the tail up to the end
/// padding.
pub struct StreamingIstft {
    /// Transform, window and plan shared with the offline path.
    stft: Stft,
    /// Overlap-added samples from padded position `frames_pushed·hop` on.
    signal: Vec<f32>,
    /// Overlap-added squared window over the same positions as `signal`.
    weight: Vec<f32>,
    /// One synthesised frame.
    frame: Vec<f32>,
    /// Samples released by the last call.
    output: Vec<f32>,
    /// Frames added since the last reset.
    frames_pushed: usize,
    /// FFT working memory.
    scratch: FrameScratch,
}

impl StreamingIstft {
    /// Validates `config` and allocates everything the stream will need.
    ///
    /// Besides [`StftConfig::validate`], the hop must not exceed `n_fft − padding`: a longer
    /// hop would release samples of the last frame that belong to the trimmed end padding
    /// before the stream knows that frame is the last.
    pub fn new(config: StftConfig) -> Result<Self, DspError> {
        let stft = Stft::new(config)?;
        let config = stft.config();
        let max_hop = config.n_fft - config.padding();
        if config.hop_length > max_hop {
            return Err(DspError::InvalidConfig(format!(
                "a streaming inverse STFT needs hop_length <= {max_hop} (n_fft minus the \
                 centring padding), got {}",
                config.hop_length
            )));
        }
        Ok(Self {
            signal: vec![0.0; config.n_fft],
            weight: vec![0.0; config.n_fft],
            frame: vec![0.0; config.n_fft],
            output: vec![0.0; config.n_fft],
            frames_pushed: 0,
            scratch: stft.frame_scratch(),
            stft,
        })
    }

    /// The configuration the stream was built from.
    pub fn config(&self) -> &StftConfig {
        self.stft.config()
    }

    /// Forgets the frames so far: the next push starts a new signal.
    pub fn reset(&mut self) {
        self.signal.fill(0.0);
        self.weight.fill(0.0);
        self.frames_pushed = 0;
    }

    /// Adds the next frame (`n_fft/2 + 1` bins) and returns the output samples it completes
    /// (`hop` of them once past the front padding). The slice is valid until the next call.
    pub fn push_frame(&mut self, bins: &[Complex32]) -> Result<&[f32], DspError> {
        self.stft.check_bins(bins.len())?;
        self.stft
            .synthesize_frame(bins, &mut self.frame, &mut self.scratch);
        let n_fft = self.config().n_fft;
        self.signal[..n_fft]
            .iter_mut()
            .zip(&self.frame)
            .for_each(|(s, f)| *s += f);
        self.weight[..n_fft]
            .iter_mut()
            .zip(self.stft.window_square())
            .for_each(|(w, s)| *w += s);
        let hop = self.config().hop_length;
        let released = self.release(hop);
        self.signal.copy_within(hop.., 0);
        self.weight.copy_within(hop.., 0);
        self.signal[n_fft - hop..].fill(0.0);
        self.weight[n_fft - hop..].fill(0.0);
        self.frames_pushed += 1;
        Ok(&self.output[..released])
    }

    /// Ends the signal: returns the samples after the last frame's hop up to the end
    /// padding, then resets for a new signal.
    pub fn finish(&mut self) -> &[f32] {
        let config = self.stft.config();
        let (n_fft, hop, padding) = (config.n_fft, config.hop_length, config.padding());
        let released = if self.frames_pushed == 0 {
            0
        } else {
            // Positions up to n_fft + hop·(frames − 1) − padding, i.e. n_fft − hop −
            // padding past the current start, minus the part before the front padding.
            let end = (n_fft - padding).saturating_sub(hop);
            self.release(end)
        };
        self.reset();
        &self.output[..released]
    }

    /// Normalises the accumulated positions `0..count` (relative to the current frame start)
    /// that lie past the front padding into `output`; returns how many were written.
    fn release(&mut self, count: usize) -> usize {
        let start = self.frames_pushed * self.config().hop_length;
        let skip = self.config().padding().saturating_sub(start).min(count);
        let released = count - skip;
        for ((out, s), w) in self.output[..released]
            .iter_mut()
            .zip(&self.signal[skip..count])
            .zip(&self.weight[skip..count])
        {
            *out = normalise(*s, *w);
        }
        released
    }
}
