//! Short-time Fourier transform and its inverse, numerically equal to `librosa.stft` and
//! `librosa.istft` (same framing, padding, window placement and window-sum-square
//! normalisation), built on `realfft` plans that are made once per configuration.

use std::ops::Range;
use std::sync::Arc;

use ndarray::parallel::prelude::*;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::slice::ParallelSliceMut;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::DspError;
use super::window::{WindowKind, window};

/// Single-precision complex number of a spectrum bin (re-exported so callers need not name
/// `realfft`'s `num_complex`).
pub use realfft::num_complex::Complex32;

/// Frames per parallel task of [`Stft::forward`]: enough that a task's scratch buffers cost
/// nothing next to its FFTs, few enough that both cores stay busy on a few seconds of audio.
pub const FRAMES_PER_TASK: usize = 64;

/// How the signal is extended at both ends when frames are centred (`center = true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Zeros (librosa's `pad_mode="constant"`).
    Constant,
    /// Mirror without repeating the edge sample, `[3 2 | 1 2 3 | 2 1]` (numpy's "reflect").
    /// Tessera's default, as torch.stft's: unlike zeros it adds no step at the edges (librosa
    /// defaults to "constant" since 0.10, so fixtures state the mode explicitly).
    #[default]
    Reflect,
}

/// Everything that shapes an STFT; serde-readable with librosa's parameter names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StftConfig {
    /// FFT length in samples; each frame gives `n_fft / 2 + 1` frequency bins.
    pub n_fft: usize,
    /// Samples between the starts of consecutive frames.
    pub hop_length: usize,
    /// Length of the window, at most `n_fft`; shorter windows are zero-padded to `n_fft`
    /// around the centre, as librosa does, to get finer frequency sampling.
    pub win_length: usize,
    /// Window shape (always the periodic variant, librosa's `fftbins=True`).
    pub window: WindowKind,
    /// Centre frame `t` on sample `t · hop_length` by padding `n_fft / 2` samples at both ends;
    /// otherwise frame `t` starts at that sample and no padding is added.
    pub center: bool,
    /// The padding used when `center` is true.
    pub pad_mode: PadMode,
}

impl StftConfig {
    /// `n_fft`-sample frames every `hop_length` samples with a full-length periodic Hann
    /// window, centred frames and reflect padding.
    pub fn new(n_fft: usize, hop_length: usize) -> Self {
        Self {
            n_fft,
            hop_length,
            win_length: n_fft,
            window: WindowKind::Hann,
            center: true,
            pad_mode: PadMode::Reflect,
        }
    }

    /// Rejects configurations the transforms cannot honour, naming the parameter.
    pub fn validate(&self) -> Result<(), DspError> {
        if self.n_fft < 2 {
            return Err(DspError::InvalidConfig(format!(
                "n_fft must be at least 2, got {}",
                self.n_fft
            )));
        }
        if self.hop_length == 0 {
            return Err(DspError::InvalidConfig(
                "hop_length must be at least 1".to_string(),
            ));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return Err(DspError::InvalidConfig(format!(
                "win_length must be in 1..={} (n_fft), got {}",
                self.n_fft, self.win_length
            )));
        }
        Ok(())
    }

    /// Number of frequency bins per frame, `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Samples of padding added before (and after) the signal: `n_fft / 2` when centred.
    pub fn padding(&self) -> usize {
        if self.center { self.n_fft / 2 } else { 0 }
    }

    /// The fewest samples a signal needs: reflect padding mirrors `n_fft / 2` samples
    /// around the first one; without centring one full frame is needed.
    pub fn min_signal_len(&self) -> usize {
        match (self.center, self.pad_mode) {
            (true, PadMode::Reflect) => self.padding() + 1,
            (true, PadMode::Constant) => 1,
            (false, _) => self.n_fft,
        }
    }

    /// Number of frames librosa produces for `len` samples,
    /// `1 + (len + 2·padding − n_fft) / hop_length`, or why the signal is too short.
    pub fn n_frames(&self, len: usize) -> Result<usize, DspError> {
        let needed = self.min_signal_len();
        if len < needed {
            return Err(DspError::SignalTooShort {
                len,
                needed,
                why: match (self.center, self.pad_mode) {
                    (true, PadMode::Reflect) => "reflect padding mirrors n_fft/2 samples",
                    (true, PadMode::Constant) => "an empty signal has no frames",
                    (false, _) => "without centring a frame needs n_fft samples",
                },
            });
        }
        Ok(1 + (len + 2 * self.padding() - self.n_fft) / self.hop_length)
    }

    /// Index in a `len`-sample signal that padded-signal position `position` copies, or
    /// `None` for a zero. Positions below `padding()` are the front padding, positions from
    /// `padding() + len` on the end padding. Valid for `len >= min_signal_len()` and
    /// positions inside the padded signal.
    pub(crate) fn padded_source(&self, len: usize, position: usize) -> Option<usize> {
        let padding = self.padding();
        if position < padding {
            match self.pad_mode {
                PadMode::Reflect => Some(padding - position),
                PadMode::Constant => None,
            }
        } else if position - padding < len {
            Some(position - padding)
        } else {
            match self.pad_mode {
                PadMode::Reflect => Some(len - 2 - (position - padding - len)),
                PadMode::Constant => None,
            }
        }
    }
}

impl Default for StftConfig {
    /// 2048-sample frames, hop 512: librosa's defaults for music at 22.05–44.1 kHz.
    fn default() -> Self {
        Self::new(2048, 512)
    }
}

/// Per-caller working memory of the per-frame transforms, so frames are transformed without
/// allocating.
pub(crate) struct FrameScratch {
    /// Windowed time-domain frame (the real FFT consumes it as its input).
    time: Vec<f32>,
    /// Spectrum copy the inverse FFT may overwrite.
    spectrum: Vec<Complex32>,
    /// realfft's own scratch, sized for both directions.
    fft: Vec<Complex32>,
}

/// An STFT/iSTFT pair for one configuration: the window (zero-padded to `n_fft`) and the
/// forward and inverse FFT plans are made once in [`Stft::new`]. Methods take `&self`, so one
/// `Stft` can serve several channels or threads; each call allocates only its output and one
/// frame of scratch.
pub struct Stft {
    /// The validated configuration.
    config: StftConfig,
    /// Analysis window, `n_fft` long with the `win_length` window centred in it.
    window: Vec<f32>,
    /// Synthesis window with the inverse FFT's `1 / n_fft` normalisation folded in.
    synthesis_window: Vec<f32>,
    /// Squared window, summed over overlapping frames to undo the windowing in `inverse`.
    window_square: Vec<f32>,
    /// Real-to-complex FFT plan of length `n_fft`.
    forward_plan: Arc<dyn RealToComplex<f32>>,
    /// Complex-to-real FFT plan of length `n_fft`.
    inverse_plan: Arc<dyn ComplexToReal<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Stft {
    /// Validates `config` and plans its FFTs.
    pub fn new(config: StftConfig) -> Result<Self, DspError> {
        config.validate()?;
        let n_fft = config.n_fft;
        let mut padded_window = vec![0.0; n_fft];
        let offset = (n_fft - config.win_length) / 2;
        padded_window[offset..offset + config.win_length].copy_from_slice(&window(
            config.window,
            config.win_length,
            true,
        ));
        let scale = 1.0 / n_fft as f32;
        let synthesis_window = padded_window.iter().map(|w| w * scale).collect();
        let window_square = padded_window.iter().map(|w| w * w).collect();
        let mut planner = RealFftPlanner::<f32>::new();
        Ok(Self {
            forward_plan: planner.plan_fft_forward(n_fft),
            inverse_plan: planner.plan_fft_inverse(n_fft),
            config,
            window: padded_window,
            synthesis_window,
            window_square,
        })
    }

    /// The configuration this transform was built from.
    pub fn config(&self) -> &StftConfig {
        &self.config
    }

    /// Complex spectrogram of `signal`, shape `[n_fft/2 + 1 bins × frames]`, equal to
    /// `librosa.stft` with the same parameters.
    ///
    /// The frames are computed into frame-major memory and returned as a transposed view of
    /// it, so each frame's bins are contiguous (`spec.column(t)`) and nothing is copied.
    /// Frames are independent, so runs of [`FRAMES_PER_TASK`] frames are transformed on
    /// rayon's threads.
    pub fn forward(&self, signal: &[f32]) -> Result<Array2<Complex32>, DspError> {
        let n_frames = self.config.n_frames(signal.len())?;
        let n_bins = self.config.n_bins();
        // Zeroed floats come from calloc: the fresh pages are faulted in by the threads
        // that write them, in parallel, with no zeroing pass (which costs as much as the
        // FFTs on a long signal).
        let mut frames: Vec<Complex32> = bytemuck::cast_vec(vec![0.0f32; 2 * n_frames * n_bins]);
        frames
            .par_chunks_mut(FRAMES_PER_TASK * n_bins)
            .enumerate()
            .for_each(|(task, chunk)| {
                let first = task * FRAMES_PER_TASK;
                let frames = first..first + chunk.len() / n_bins;
                let mut rows = chunk.chunks_exact_mut(n_bins);
                self.for_each_frame(signal, frames, |bins| {
                    if let Some(row) = rows.next() {
                        row.copy_from_slice(bins);
                    }
                });
            });
        let frames = Array2::from_shape_vec((n_frames, n_bins), frames)
            .expect("one row of n_bins per frame");
        Ok(frames.reversed_axes())
    }

    /// Like [`Stft::forward`] but writes into `out` (shape `[bins × frames]`, any memory
    /// layout), so repeated calls can reuse one array.
    pub fn forward_into(
        &self,
        signal: &[f32],
        mut out: ArrayViewMut2<'_, Complex32>,
    ) -> Result<(), DspError> {
        let expected = (self.config.n_bins(), self.config.n_frames(signal.len())?);
        if out.dim() != expected {
            return Err(DspError::InvalidConfig(format!(
                "output array must hold {} bins × {} frames, got {} × {}",
                expected.0,
                expected.1,
                out.nrows(),
                out.ncols()
            )));
        }
        out.axis_chunks_iter_mut(Axis(1), FRAMES_PER_TASK)
            .into_par_iter()
            .enumerate()
            .for_each(|(task, mut chunk)| {
                let first = task * FRAMES_PER_TASK;
                let mut columns = chunk.columns_mut().into_iter();
                self.for_each_frame(signal, first..first + columns.len(), |bins| {
                    if let Some(mut column) = columns.next() {
                        column.iter_mut().zip(bins).for_each(|(o, b)| *o = *b);
                    }
                });
            });
        Ok(())
    }

    /// Calls `on_frame` with the bins of each frame in `frames` of `signal`, in order
    /// (`frames` must lie within `config.n_frames(signal.len())`).
    pub(crate) fn for_each_frame(
        &self,
        signal: &[f32],
        frames: Range<usize>,
        mut on_frame: impl FnMut(&[Complex32]),
    ) {
        let config = &self.config;
        let (n_fft, hop, padding) = (config.n_fft, config.hop_length, config.padding());
        let mut scratch = self.frame_scratch();
        let mut edge_frame = vec![0.0; n_fft];
        let mut bins = vec![Complex32::default(); config.n_bins()];
        for t in frames {
            let start = t * hop;
            // Frames fully inside the signal are read in place; only the few that reach into
            // the padding are assembled.
            let frame: &[f32] = if start >= padding && start - padding + n_fft <= signal.len() {
                &signal[start - padding..start - padding + n_fft]
            } else {
                for (j, sample) in edge_frame.iter_mut().enumerate() {
                    *sample = config
                        .padded_source(signal.len(), start + j)
                        .map_or(0.0, |i| signal[i]);
                }
                &edge_frame
            };
            self.analyze_frame(frame, &mut bins, &mut scratch);
            on_frame(&bins);
        }
    }

    /// Signal whose STFT is `spec` (`[n_fft/2 + 1 × frames]`), equal to `librosa.istft`:
    /// windowed inverse FFTs are overlap-added and divided by the summed squared window
    /// wherever that sum is non-negligible, and centring padding is trimmed.
    ///
    /// Without `length` the result has `n_fft + hop·(frames − 1)` samples minus the two
    /// paddings; with it, exactly `length` samples (zero-filled past the last frame), and
    /// frames lying wholly past `length` are ignored as librosa does.
    pub fn inverse(
        &self,
        spec: ArrayView2<'_, Complex32>,
        length: Option<usize>,
    ) -> Result<Vec<f32>, DspError> {
        let config = &self.config;
        let (n_fft, hop, padding) = (config.n_fft, config.hop_length, config.padding());
        self.check_bins(spec.nrows())?;
        let n_frames = match length {
            Some(length) => spec.ncols().min((length + 2 * padding).div_ceil(hop)),
            None => spec.ncols(),
        };
        let padded_len = if n_frames == 0 {
            0
        } else {
            n_fft + hop * (n_frames - 1)
        };
        let mut signal = vec![0.0f32; padded_len];
        let mut weight = vec![0.0f32; padded_len];
        let mut scratch = self.frame_scratch();
        let mut frame = vec![0.0; n_fft];
        let mut bins = vec![Complex32::default(); config.n_bins()];
        for (t, column) in spec.columns().into_iter().take(n_frames).enumerate() {
            let column = match column.as_slice() {
                Some(column) => column,
                None => {
                    bins.iter_mut().zip(column).for_each(|(b, c)| *b = *c);
                    &bins
                }
            };
            self.synthesize_frame(column, &mut frame, &mut scratch);
            let start = t * hop;
            signal[start..start + n_fft]
                .iter_mut()
                .zip(&frame)
                .for_each(|(s, f)| *s += f);
            weight[start..start + n_fft]
                .iter_mut()
                .zip(&self.window_square)
                .for_each(|(w, s)| *w += s);
        }
        let out_len = length.unwrap_or_else(|| padded_len.saturating_sub(2 * padding));
        Ok((0..out_len)
            .map(|i| match signal.get(padding + i) {
                Some(&s) => normalise(s, weight[padding + i]),
                None => 0.0,
            })
            .collect())
    }

    /// Refuses spectra whose bin count does not match `n_fft`.
    pub(crate) fn check_bins(&self, bins: usize) -> Result<(), DspError> {
        if bins == self.config.n_bins() {
            Ok(())
        } else {
            Err(DspError::InvalidConfig(format!(
                "a spectrum with {bins} bins does not fit n_fft = {}, which has {} bins",
                self.config.n_fft,
                self.config.n_bins()
            )))
        }
    }

    /// Fresh working memory for [`Stft::analyze_frame`] and [`Stft::synthesize_frame`].
    pub(crate) fn frame_scratch(&self) -> FrameScratch {
        let fft_len = self
            .forward_plan
            .get_scratch_len()
            .max(self.inverse_plan.get_scratch_len());
        FrameScratch {
            time: vec![0.0; self.config.n_fft],
            spectrum: vec![Complex32::default(); self.config.n_bins()],
            fft: vec![Complex32::default(); fft_len],
        }
    }

    /// Spectrum of one `n_fft`-sample frame of the padded signal into `bins`.
    pub(crate) fn analyze_frame(
        &self,
        frame: &[f32],
        bins: &mut [Complex32],
        scratch: &mut FrameScratch,
    ) {
        scratch
            .time
            .iter_mut()
            .zip(frame.iter().zip(&self.window))
            .for_each(|(out, (x, w))| *out = x * w);
        self.forward_plan
            .process_with_scratch(&mut scratch.time, bins, &mut scratch.fft)
            .expect("buffer lengths come from the plan");
    }

    /// Windowed inverse FFT of one spectrum (`n_fft/2 + 1` bins) into `frame` (`n_fft`
    /// samples), ready to overlap-add.
    pub(crate) fn synthesize_frame(
        &self,
        bins: &[Complex32],
        frame: &mut [f32],
        scratch: &mut FrameScratch,
    ) {
        scratch.spectrum.copy_from_slice(bins);
        // numpy's irfft ignores the imaginary parts of the DC and (even n_fft) Nyquist bins,
        // which a real signal's spectrum cannot have; realfft wants them zero.
        scratch.spectrum[0].im = 0.0;
        if self.config.n_fft.is_multiple_of(2) {
            let last = scratch.spectrum.len() - 1;
            scratch.spectrum[last].im = 0.0;
        }
        self.inverse_plan
            .process_with_scratch(&mut scratch.spectrum, frame, &mut scratch.fft)
            .expect("buffer lengths come from the plan and edge bins are real");
        frame
            .iter_mut()
            .zip(&self.synthesis_window)
            .for_each(|(x, w)| *x *= w);
    }

    /// The squared analysis window, overlap-added by `inverse` to normalise.
    pub(crate) fn window_square(&self) -> &[f32] {
        &self.window_square
    }
}

/// Overlap-added sample divided by the overlap-added squared window, left as is where that
/// sum is below `f32::MIN_POSITIVE` (librosa's `tiny` threshold: no frame covers it).
pub(crate) fn normalise(sample: f32, window_square_sum: f32) -> f32 {
    if window_square_sum > f32::MIN_POSITIVE {
        sample / window_square_sum
    } else {
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let config = StftConfig::new(8, 2);
        let sources: Vec<_> = (0..4 + 6 + 4).map(|p| config.padded_source(6, p)).collect();
        let expected = [4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 4, 3, 2, 1];
        assert_eq!(sources, expected.map(Some));
    }

    #[test]
    fn frame_count_follows_librosa() {
        let config = StftConfig::new(2048, 512);
        assert_eq!(config.n_frames(44_100), Ok(87));
        let uncentred = StftConfig {
            center: false,
            ..config
        };
        assert_eq!(uncentred.n_frames(2048), Ok(1));
        assert!(uncentred.n_frames(2047).is_err());
    }
}
