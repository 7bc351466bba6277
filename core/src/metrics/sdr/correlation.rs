//! Cross-correlations of long signals at the few hundred lags the distortion filters need.
//!
//! museval transforms each whole (zero-padded) track once and inverse-transforms every pair's
//! cross-spectrum at the full length, though only `filter_len` lags of each are used. Here the
//! signals are cut into blocks of a few thousand samples whose cross-spectra are summed, so
//! each pair costs one short inverse FFT; the sums are the same exact linear correlations.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::split_spectra::{SplitSpectra, fill_frame, multiply_add};

/// Smallest block FFT: long enough that the overlap of `lags − 1` samples between blocks is a
/// small part of each block.
const MIN_FFT_LEN: usize = 4096;
/// Blocks summed per parallel task. Fixed (rather than one task per thread) so the partial
/// sums, and hence the last bits of the results, do not depend on the thread count.
const BLOCKS_PER_TASK: usize = 64;
/// Blocks whose spectra are held at once, so each pair's running sum is read and written once
/// per batch rather than once per block.
const BATCH: usize = 8;
/// Frequency bins accumulated together (see the accumulation loop).
const BIN_CHUNK: usize = 128;

/// `c[u][v][k] = Σₙ u[n]·v[n + k]` for `k < lags`, for every `u` in one signal set and `v` in
/// another (samples past the end count as zero).
pub(super) struct LaggedCorrelations {
    lags: usize,
    v_count: usize,
    /// `[u][v][k]`, flattened.
    values: Vec<f64>,
}

impl LaggedCorrelations {
    /// Correlations of `us` with `vs`; every signal has the same non-zero length.
    pub(super) fn new(us: &[&[f32]], vs: &[&[f32]], lags: usize) -> Self {
        let blocks = Blocks::new(us[0].len(), lags);
        let tasks = blocks.count.div_ceil(BLOCKS_PER_TASK);
        let partials: Vec<Vec<f64>> = (0..tasks)
            .into_par_iter()
            .map(|task| {
                let first = task * BLOCKS_PER_TASK;
                let sums =
                    blocks.spectrum_sums(us, vs, first..blocks.count.min(first + BLOCKS_PER_TASK));
                blocks.lags_of(&sums, us.len() * vs.len())
            })
            .collect();
        let mut values = vec![0.0; us.len() * vs.len() * lags];
        for partial in &partials {
            for (v, p) in values.iter_mut().zip(partial) {
                *v += p;
            }
        }
        Self {
            lags,
            v_count: vs.len(),
            values,
        }
    }

    /// `c[u][v][k]` for `k < lags`.
    pub(super) fn get(&self, u: usize, v: usize) -> &[f64] {
        &self.values[(u * self.v_count + v) * self.lags..][..self.lags]
    }
}

/// How the signals are cut and transformed: block `b` of `u` is its samples from `b·block_len`
/// on, for `block_len` samples; `v`'s extends `lags − 1` samples further, and both fit one FFT
/// without wrapping the lags wanted.
struct Blocks {
    len: usize,
    lags: usize,
    block_len: usize,
    count: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl Blocks {
    fn new(len: usize, lags: usize) -> Self {
        // Whole signals in one block when they are short, else blocks of at least 4·lags.
        let fft_len = MIN_FFT_LEN
            .max(4 * lags)
            .next_power_of_two()
            .min((len + lags - 1).next_power_of_two());
        let block_len = fft_len - (lags - 1);
        let mut planner = RealFftPlanner::<f64>::new();
        Self {
            len,
            lags,
            block_len,
            count: len.div_ceil(block_len),
            forward: planner.plan_fft_forward(fft_len),
            inverse: planner.plan_fft_inverse(fft_len),
        }
    }

    fn bins(&self) -> usize {
        self.forward.len() / 2 + 1
    }

    /// `Σ conj(U_b)·V_b` over `blocks`, per pair (`u · vs.len() + v`).
    fn spectrum_sums(&self, us: &[&[f32]], vs: &[&[f32]], blocks: Range<usize>) -> SplitSpectra {
        let bins = self.bins();
        let mut frame = self.forward.make_input_vec();
        let mut spectrum = self.forward.make_output_vec();
        let mut scratch = self.forward.make_scratch_vec();
        let mut u_spectra = SplitSpectra::zeros(BATCH * us.len(), bins);
        let mut v_spectra = SplitSpectra::zeros(BATCH * vs.len(), bins);
        let mut sums = SplitSpectra::zeros(us.len() * vs.len(), bins);
        let end = blocks.end;
        for batch in blocks.step_by(BATCH).map(|b| b..(b + BATCH).min(end)) {
            let count = batch.len();
            for (i, block) in batch.enumerate() {
                let start = block * self.block_len;
                // u's block (conjugated, for the correlation), v's with the samples it meets.
                for (signals, extent, spectra, conjugate) in [
                    (us, self.block_len, &mut u_spectra, true),
                    (vs, self.block_len + self.lags - 1, &mut v_spectra, false),
                ] {
                    for (s, signal) in signals.iter().enumerate() {
                        fill_frame(&mut frame, &signal[start..(start + extent).min(self.len)]);
                        self.forward
                            .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                            .expect("buffer lengths come from the plan");
                        spectra.set(i * signals.len() + s, &spectrum, conjugate);
                    }
                }
            }
            // A few hundred bins at a time, so the batch's spectra and the pairs' sums for
            // those bins stay in cache while every pair is accumulated.
            for bin_start in (0..bins).step_by(BIN_CHUNK) {
                let chunk = bin_start..(bin_start + BIN_CHUNK).min(bins);
                for u in 0..us.len() {
                    for v in 0..vs.len() {
                        let (sum_re, sum_im) = sums.get_mut(u * vs.len() + v, &chunk);
                        for i in 0..count {
                            let (a_re, a_im) = u_spectra.get(i * us.len() + u, &chunk);
                            let (b_re, b_im) = v_spectra.get(i * vs.len() + v, &chunk);
                            multiply_add(sum_re, sum_im, a_re, a_im, b_re, b_im);
                        }
                    }
                }
            }
        }
        sums
    }

    /// The first `lags` samples of each of `pairs` summed cross-spectra, back in time.
    fn lags_of(&self, sums: &SplitSpectra, pairs: usize) -> Vec<f64> {
        let fft_len = self.forward.len();
        let mut spectrum = self.inverse.make_input_vec();
        let mut frame = self.inverse.make_output_vec();
        let mut scratch = self.inverse.make_scratch_vec();
        let mut out = vec![0.0; pairs * self.lags];
        for (pair, lagged) in out.chunks_mut(self.lags).enumerate() {
            sums.copy_to(pair, &mut spectrum);
            // Real signals: the DC and Nyquist bins are real (and exactly so here).
            let last = spectrum.len() - 1;
            spectrum[0].im = 0.0;
            spectrum[last].im = 0.0;
            self.inverse
                .process_with_scratch(&mut spectrum, &mut frame, &mut scratch)
                .expect("buffer lengths come from the plan");
            for (l, f) in lagged.iter_mut().zip(&frame) {
                *l = f / fft_len as f64;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(u: &[f32], v: &[f32], k: usize) -> f64 {
        (0..u.len())
            .filter(|n| n + k < v.len())
            .map(|n| f64::from(u[n]) * f64::from(v[n + k]))
            .sum()
    }

    #[test]
    fn matches_direct_sums_over_many_blocks() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for len in [7, 300, 70_000] {
            let signals: Vec<Vec<f32>> = (0..3)
                .map(|_| (0..len).map(|_| rng.random_range(-1.0..1.0)).collect())
                .collect();
            let us: Vec<&[f32]> = signals[..2].iter().map(Vec::as_slice).collect();
            let vs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
            let lags = 40;
            let c = LaggedCorrelations::new(&us, &vs, lags);
            for (u, a) in us.iter().enumerate() {
                for (v, b) in vs.iter().enumerate() {
                    // Rounding relative to the largest a correlation can be.
                    let bound = (direct(a, a, 0) * direct(b, b, 0)).sqrt();
                    for k in 0..lags {
                        let want = direct(a, b, k);
                        let got = c.get(u, v)[k];
                        let at = format!("len {len} ({u},{v},{k}): {got} vs {want}");
                        assert!((got - want).abs() < 1e-12 * bound, "{at}");
                    }
                }
            }
        }
    }
}
