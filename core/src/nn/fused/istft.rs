//! Inverse STFT as a differentiable op, so a separator can be trained with a loss on
//! waveforms: masks × mixture spectrum → [`istft`] → waveform.
//!
//! Per row the forward pass is [`Stft::inverse`](crate::dsp::stft::Stft::inverse) with a
//! `length` (librosa.istft): windowed inverse real FFTs, overlap-added, divided by the
//! window-sum-square, padding trimmed. That map is linear in the spectrum, so the backward
//! pass is its adjoint, the same steps transposed in reverse order: pad the gradient back
//! out and divide it where the forward divided, cut it into frames, window them, and take the
//! adjoint of the inverse FFT — a forward real FFT whose bins strictly between DC and Nyquist
//! count twice (the inverse adds each of them and its mirror image) and whose DC and Nyquist
//! imaginary parts are zero (the inverse ignores them).
//!
//! The spectrum is one tensor with re/im in a trailing dimension of 2 rather than two
//! tensors: each frame's adjoint FFT yields real and imaginary parts together, so the
//! backward is one op writing one gradient in one pass, in the very memory layout of
//! realfft's complex bins (and of [`Stft::forward`](crate::dsp::stft::Stft::forward)'s
//! frame-major output). A real mask multiplies it with one broadcast over that dimension.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, FftNum, RealFftPlanner, RealToComplex};

use super::rows::{Float, map_storage};
use crate::dsp::stft::StftConfig;
use crate::dsp::window::window;

/// `(rows, frames, n_fft/2 + 1 bins, 2)` spectra (re, im) → `(rows, length)` signals, each
/// row equal to `Stft::inverse(spectrum, Some(length))` with `config`. Rows are independent
/// (the caller flattens batch × stems × channels into them) and run in parallel; `f32` and
/// `f64`, CPU only.
pub fn istft(spectrum: &Tensor, config: &StftConfig, length: usize) -> Result<Tensor> {
    spectrum.contiguous()?.apply_op1(Istft {
        config: config.clone(),
        length,
    })
}

/// The forward op: spectrum → signal.
struct Istft {
    /// The transform being inverted.
    config: StftConfig,
    /// Samples per output row.
    length: usize,
}

/// The backward op: gradient of the signal → gradient of the spectrum.
struct IstftAdjoint {
    /// The transform being inverted.
    config: StftConfig,
    /// Samples per row of the incoming gradient.
    length: usize,
    /// Frames per row of the spectrum the gradient is for.
    frames: usize,
}

/// Sizes of one call, checked against the configuration.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    /// Independent signals.
    rows: usize,
    /// Frames per row of the spectrum.
    frames: usize,
    /// Frames that are overlap-added: librosa ignores frames lying wholly past `length`.
    used_frames: usize,
    /// Samples of the overlap-added signal before the padding is trimmed.
    padded_len: usize,
    /// Samples per output row.
    length: usize,
}

impl Geometry {
    /// Checks a spectrum's dimensions against `config`, naming the mismatch.
    fn new(dims: &[usize], config: &StftConfig, length: usize) -> Result<Self> {
        if let Err(error) = config.validate() {
            bail!("istft: {error}");
        }
        let &[rows, frames, bins, 2] = dims else {
            bail!(
                "istft: expected a spectrum shaped (rows, frames, bins, 2) with re/im last, \
                 got {dims:?}"
            );
        };
        if bins != config.n_bins() {
            bail!(
                "istft: a spectrum with {bins} bins does not fit n_fft = {}, which has {} bins",
                config.n_fft,
                config.n_bins()
            );
        }
        let (n_fft, hop) = (config.n_fft, config.hop_length);
        let used_frames = frames.min((length + 2 * config.padding()).div_ceil(hop));
        let padded_len = match used_frames {
            0 => 0,
            n => n_fft + hop * (n - 1),
        };
        Ok(Self {
            rows,
            frames,
            used_frames,
            padded_len,
            length,
        })
    }
}

/// What every row of one call shares: FFT plans, the synthesis window and the
/// window-sum-square.
struct Synthesis<T> {
    /// FFT length.
    n_fft: usize,
    /// Samples between frame starts.
    hop: usize,
    /// Centring padding trimmed from the front of the overlap-added signal.
    padding: usize,
    /// Bins per frame.
    bins: usize,
    /// Sizes of this call.
    geometry: Geometry,
    /// Analysis window with realfft's missing `1 / n_fft` folded in, as `Stft` has it.
    window: Vec<T>,
    /// Squared analysis window overlap-added over the padded signal: what the forward divides by.
    window_square_sum: Vec<T>,
    /// Complex-to-real FFT of the forward pass.
    inverse: Arc<dyn ComplexToReal<T>>,
    /// Real-to-complex FFT of the backward pass.
    forward: Arc<dyn RealToComplex<T>>,
}

/// One rayon task's working memory, reused across its rows.
struct Scratch<T> {
    /// One frame's bins (the inverse FFT overwrites its input).
    spectrum: Vec<Complex<T>>,
    /// One frame of samples.
    frame: Vec<T>,
    /// realfft's own scratch, sized for both directions.
    fft: Vec<Complex<T>>,
    /// The padded signal (forward) or padded signal gradient (backward) of one row.
    signal: Vec<T>,
}

impl<T: Float + FftNum> Synthesis<T> {
    /// Plans the FFTs and builds the windows. The arithmetic is `Stft`'s, in the same order,
    /// so in `f32` rows match `Stft::inverse` bit for bit.
    fn new(config: &StftConfig, geometry: Geometry) -> Self {
        let n_fft = config.n_fft;
        let mut analysis = vec![0.0f32; n_fft];
        let offset = (n_fft - config.win_length) / 2;
        analysis[offset..offset + config.win_length].copy_from_slice(&window(
            config.window,
            config.win_length,
            true,
        ));
        let scale = T::one() / T::of(n_fft as f64);
        let window = analysis.iter().map(|&w| T::of(w.into()) * scale).collect();
        let mut window_square_sum = vec![T::zero(); geometry.padded_len];
        for t in 0..geometry.used_frames {
            let start = t * config.hop_length;
            for (sum, &w) in window_square_sum[start..start + n_fft]
                .iter_mut()
                .zip(&analysis)
            {
                let w = T::of(w.into());
                *sum += w * w;
            }
        }
        let mut planner = RealFftPlanner::<T>::new();
        Self {
            n_fft,
            hop: config.hop_length,
            padding: config.padding(),
            bins: config.n_bins(),
            geometry,
            window,
            window_square_sum,
            inverse: planner.plan_fft_inverse(n_fft),
            forward: planner.plan_fft_forward(n_fft),
        }
    }

    /// Fresh working memory for one rayon task.
    fn scratch(&self) -> Scratch<T> {
        let fft_len = self
            .inverse
            .get_scratch_len()
            .max(self.forward.get_scratch_len());
        Scratch {
            spectrum: vec![Complex::new(T::zero(), T::zero()); self.bins],
            frame: vec![T::zero(); self.n_fft],
            fft: vec![Complex::new(T::zero(), T::zero()); fft_len],
            signal: vec![T::zero(); self.geometry.padded_len],
        }
    }

    /// Applies `kernel(input_row, output_row, scratch)` to every row, rows in parallel.
    fn map_rows(
        &self,
        input: &[T],
        input_row: usize,
        output_row: usize,
        kernel: impl Fn(&Self, &[T], &mut [T], &mut Scratch<T>) + Send + Sync,
    ) -> Vec<T> {
        let mut output = vec![T::zero(); self.geometry.rows * output_row];
        // An empty side (no frames, or length 0) leaves the output all zeros.
        if input_row == 0 || output_row == 0 {
            return output;
        }
        output
            .par_chunks_mut(output_row)
            .zip(input.par_chunks(input_row))
            .for_each_init(
                || self.scratch(),
                |scratch, (out, row)| kernel(self, row, out, scratch),
            );
        output
    }

    /// Forward of one row: `spectrum` is `frames × bins × 2`, `signal` is `length` long.
    fn synthesize_row(&self, spectrum: &[T], signal: &mut [T], scratch: &mut Scratch<T>) {
        let Scratch {
            spectrum: bins,
            frame,
            fft,
            signal: padded,
        } = scratch;
        padded.fill(T::zero());
        for (t, pairs) in spectrum
            .chunks_exact(2 * self.bins)
            .take(self.geometry.used_frames)
            .enumerate()
        {
            for (bin, pair) in bins.iter_mut().zip(pairs.chunks_exact(2)) {
                *bin = Complex::new(pair[0], pair[1]);
            }
            // numpy's irfft ignores the imaginary parts of the DC and (even n_fft) Nyquist
            // bins; realfft wants them zero.
            bins[0].im = T::zero();
            if self.n_fft.is_multiple_of(2) {
                bins[self.bins - 1].im = T::zero();
            }
            self.inverse
                .process_with_scratch(bins, frame, fft)
                .expect("buffer lengths come from the plan and edge bins are real");
            let start = t * self.hop;
            for ((sum, &x), &w) in padded[start..start + self.n_fft]
                .iter_mut()
                .zip(frame.iter())
                .zip(&self.window)
            {
                *sum += x * w;
            }
        }
        for (i, out) in signal.iter_mut().enumerate() {
            *out = match padded.get(self.padding + i) {
                Some(&x) => normalise(x, self.window_square_sum[self.padding + i]),
                None => T::zero(),
            };
        }
    }

    /// Backward of one row: `grad_signal` is `length` long, `grad_spectrum` is
    /// `frames × bins × 2` (frames that were not overlap-added keep a zero gradient).
    fn analyze_row(&self, grad_signal: &[T], grad_spectrum: &mut [T], scratch: &mut Scratch<T>) {
        let Scratch {
            spectrum: bins,
            frame,
            fft,
            signal: padded,
        } = scratch;
        // Adjoint of trimming (zeros where the padding was cut or the output zero-filled)
        // and of the normalisation, which is diagonal.
        padded.fill(T::zero());
        for ((slot, &sum), &g) in padded
            .iter_mut()
            .zip(&self.window_square_sum)
            .skip(self.padding)
            .zip(grad_signal)
        {
            *slot = normalise(g, sum);
        }
        let nyquist = self.n_fft.is_multiple_of(2).then_some(self.bins - 1);
        for (t, pairs) in grad_spectrum
            .chunks_exact_mut(2 * self.bins)
            .take(self.geometry.used_frames)
            .enumerate()
        {
            let start = t * self.hop;
            for ((x, &g), &w) in frame
                .iter_mut()
                .zip(&padded[start..start + self.n_fft])
                .zip(&self.window)
            {
                *x = g * w;
            }
            self.forward
                .process_with_scratch(frame, bins, fft)
                .expect("buffer lengths come from the plan");
            let two = T::of(2.0);
            for (k, (pair, bin)) in pairs.chunks_exact_mut(2).zip(bins.iter()).enumerate() {
                if k == 0 || Some(k) == nyquist {
                    pair[0] = bin.re;
                    pair[1] = T::zero();
                } else {
                    pair[0] = two * bin.re;
                    pair[1] = two * bin.im;
                }
            }
        }
    }
}

/// librosa's normalisation: divide by the window-sum-square where it exceeds the smallest
/// normal float (`tiny`), leave the sample alone where no window covers it. Diagonal, so it is
/// its own adjoint.
fn normalise<T: Float>(x: T, window_square_sum: T) -> T {
    if window_square_sum > T::min_positive_value() {
        x / window_square_sum
    } else {
        x
    }
}

fn forward<T: Float + FftNum>(spectrum: &[T], config: &StftConfig, geometry: Geometry) -> Vec<T> {
    let synthesis = Synthesis::<T>::new(config, geometry);
    synthesis.map_rows(
        spectrum,
        geometry.frames * synthesis.bins * 2,
        geometry.length,
        Synthesis::synthesize_row,
    )
}

fn backward<T: Float + FftNum>(grad: &[T], config: &StftConfig, geometry: Geometry) -> Vec<T> {
    let synthesis = Synthesis::<T>::new(config, geometry);
    synthesis.map_rows(
        grad,
        geometry.length,
        geometry.frames * synthesis.bins * 2,
        Synthesis::analyze_row,
    )
}

impl CustomOp1 for Istft {
    fn name(&self) -> &'static str {
        "istft"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let geometry = Geometry::new(layout.dims(), &self.config, self.length)?;
        let out = map_storage(
            storage,
            layout,
            self.name(),
            |x| forward(x, &self.config, geometry),
            |x| forward(x, &self.config, geometry),
        )?;
        Ok((out, Shape::from((geometry.rows, self.length))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let adjoint = IstftAdjoint {
            config: self.config.clone(),
            length: self.length,
            frames: arg.dim(1)?,
        };
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&adjoint)?))
    }
}

impl CustomOp1 for IstftAdjoint {
    fn name(&self) -> &'static str {
        "istft-backward"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[rows, length] = layout.dims() else {
            bail!(
                "istft-backward: expected a (rows, length) gradient, got {:?}",
                layout.dims()
            );
        };
        if length != self.length {
            bail!(
                "istft-backward: gradient rows hold {length} samples, the output had {}",
                self.length
            );
        }
        let dims = [rows, self.frames, self.config.n_bins(), 2];
        let geometry = Geometry::new(&dims, &self.config, self.length)?;
        let out = map_storage(
            storage,
            layout,
            self.name(),
            |g| backward(g, &self.config, geometry),
            |g| backward(g, &self.config, geometry),
        )?;
        Ok((out, Shape::from(dims.to_vec())))
    }
}
