//! One window of BSS Eval: project each estimate's window through its distortion filters,
//! split it into true image, spatial distortion, interference and artifacts (museval's
//! `_bss_decomp_mtifilt`) and turn the energies into the four ratios (`_bss_crit`, images
//! version).
//!
//! As in museval the window's references are cut out before filtering, so each projection is
//! `filter_len − 1` samples longer than the window and the estimate is zero-padded to match.
//! The filtering is FFT convolution by overlap-add over segments of at most a few ten thousand
//! samples: every reference channel's segment is transformed once, each output channel is a
//! sum of products with the filters' spectra, and the energies are summed as the output
//! samples become final, so memory does not grow with the window (a whole song can be one).

use std::ops::Range;
use std::sync::Arc;

use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::filters::DistortionFilters;
use super::split_spectra::{SplitSpectra, fill_frame, multiply_add};

/// SDR, ISR, SIR and SAR of one source in one window, in dB.
pub(super) type Ratios = [f64; 4];

/// Longest FFT used (unless the filters need more): segments of about this length keep the
/// per-thread buffers small while the `filter_len − 1` overlap stays a small part of each.
const MAX_FFT_LEN: usize = 16_384;

/// The filters' spectra and FFT plans for windows of one length.
pub(super) struct WindowDecomposer {
    channels: usize,
    filter_len: usize,
    fft_len: usize,
    /// Window samples per segment: `fft_len − filter_len + 1`, so a segment's convolution
    /// never wraps.
    segment_len: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    /// `[target][input][output]` spectra of [`DistortionFilters::full`].
    full: SplitSpectra,
    /// `[target][own channel][output]` spectra of [`DistortionFilters::spatial`].
    spatial: SplitSpectra,
}

/// Per-thread buffers of [`WindowDecomposer::ratios`].
pub(super) struct Scratch {
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    forward_scratch: Vec<Complex<f64>>,
    inverse_scratch: Vec<Complex<f64>>,
    /// `[reference channel]` spectra of the current segment.
    spectra: SplitSpectra,
    /// The one sum of filtered spectra being built.
    sum: SplitSpectra,
    /// The current segment's spatial and full projections of one output channel.
    spatial: Vec<f64>,
    full: Vec<f64>,
    /// `[target][output][spatial, full]`: each projection's `filter_len − 1` samples that
    /// spill into the next segment.
    carries: Vec<[Vec<f64>; 2]>,
}

impl WindowDecomposer {
    /// Prepares windows of `window_len` samples for `sources` sources.
    pub(super) fn new(
        filters: &DistortionFilters,
        sources: usize,
        channels: usize,
        window_len: usize,
    ) -> Self {
        Self::with_max_fft_len(filters, sources, channels, window_len, MAX_FFT_LEN)
    }

    /// [`WindowDecomposer::new`] with segments of at most `max_fft_len` (or twice the filter
    /// length, if more).
    fn with_max_fft_len(
        filters: &DistortionFilters,
        sources: usize,
        channels: usize,
        window_len: usize,
        max_fft_len: usize,
    ) -> Self {
        let filter_len = filters.filter_len();
        let fft_len = fast_fft_len(window_len + filter_len - 1)
            .min(max_fft_len.max((2 * filter_len).next_power_of_two()));
        let bins = fft_len / 2 + 1;
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let mut frame = forward.make_input_vec();
        let mut spectrum = forward.make_output_vec();
        let mut transform = |taps: &[f64], spectra: &mut SplitSpectra, index: usize| {
            frame[..taps.len()].copy_from_slice(taps);
            frame[taps.len()..].fill(0.0);
            forward
                .process(&mut frame, &mut spectrum)
                .expect("buffer lengths come from the plan");
            spectra.set(index, &spectrum, false);
        };
        let inputs = sources * channels;
        let mut full = SplitSpectra::zeros(sources * inputs * channels, bins);
        let mut spatial = SplitSpectra::zeros(sources * channels * channels, bins);
        for target in 0..sources {
            for input in 0..inputs {
                for output in 0..channels {
                    let index = (target * inputs + input) * channels + output;
                    transform(filters.full(target, input, output), &mut full, index);
                }
            }
            for input in 0..channels {
                for output in 0..channels {
                    let index = (target * channels + input) * channels + output;
                    transform(filters.spatial(target, input, output), &mut spatial, index);
                }
            }
        }
        Self {
            channels,
            filter_len,
            fft_len,
            segment_len: fft_len - filter_len + 1,
            forward,
            inverse,
            full,
            spatial,
        }
    }

    /// Fresh buffers for one thread.
    pub(super) fn scratch(&self, inputs: usize) -> Scratch {
        let bins = self.fft_len / 2 + 1;
        let carry = || vec![0.0; self.filter_len - 1];
        Scratch {
            frame: self.forward.make_input_vec(),
            spectrum: self.forward.make_output_vec(),
            forward_scratch: self.forward.make_scratch_vec(),
            inverse_scratch: self.inverse.make_scratch_vec(),
            spectra: SplitSpectra::zeros(inputs, bins),
            sum: SplitSpectra::zeros(1, bins),
            spatial: self.inverse.make_output_vec(),
            full: self.inverse.make_output_vec(),
            carries: (0..inputs).map(|_| [carry(), carry()]).collect(),
        }
    }

    /// The ratios of every source over the samples `window`. `references` and `estimates`
    /// hold every channel of every source in order (`source · channels + channel`).
    pub(super) fn ratios(
        &self,
        references: &[&[f32]],
        estimates: &[&[f32]],
        window: Range<usize>,
        scratch: &mut Scratch,
    ) -> Vec<Ratios> {
        let channels = self.channels;
        let inputs = references.len();
        let mut energies = vec![Energies::default(); inputs / channels];
        scratch
            .carries
            .iter_mut()
            .flatten()
            .for_each(|c| c.fill(0.0));
        for start in (0..window.len()).step_by(self.segment_len) {
            let segment =
                window.start + start..(window.start + start + self.segment_len).min(window.end);
            let last = segment.end == window.end;
            // The output samples this segment completes: its own, and the tail after the last.
            let done = segment.len() + if last { self.filter_len - 1 } else { 0 };
            for (input, reference) in references.iter().enumerate() {
                fill_frame(&mut scratch.frame, &reference[segment.clone()]);
                self.forward
                    .process_with_scratch(
                        &mut scratch.frame,
                        &mut scratch.spectrum,
                        &mut scratch.forward_scratch,
                    )
                    .expect("buffer lengths come from the plan");
                scratch.spectra.set(input, &scratch.spectrum, false);
            }
            for (target, energies) in energies.iter_mut().enumerate() {
                for output in 0..channels {
                    let spatial_terms = (0..channels).map(|input| {
                        let filter = (target * channels + input) * channels + output;
                        (target * channels + input, &self.spatial, filter)
                    });
                    self.project(spatial_terms, scratch, false);
                    let full_terms = (0..inputs).map(|input| {
                        let filter = (target * inputs + input) * channels + output;
                        (input, &self.full, filter)
                    });
                    self.project(full_terms, scratch, true);
                    let channel = target * channels + output;
                    let [spatial_carry, full_carry] = &mut scratch.carries[channel];
                    for (projection, carry) in [
                        (&mut scratch.spatial, spatial_carry),
                        (&mut scratch.full, full_carry),
                    ] {
                        overlap_add(projection, carry, segment.len());
                    }
                    let inside = segment.len();
                    let signals = references[channel][segment.clone()]
                        .iter()
                        .zip(&estimates[channel][segment.clone()]);
                    let projections = scratch.spatial[..done].iter().zip(&scratch.full[..done]);
                    for ((&s, &e), (&p, &f)) in signals.zip(projections.clone()) {
                        energies.add(f64::from(s), f64::from(e), p, f);
                    }
                    // The projections' tail past the window, where reference and estimate
                    // are zero.
                    for (&p, &f) in projections.skip(inside) {
                        energies.add(0.0, 0.0, p, f);
                    }
                }
            }
        }
        energies.iter().map(Energies::ratios).collect()
    }

    /// `Σ reference ∗ filter` over (reference channel, filter set, filter index) terms, back in
    /// time into the segment's full (or spatial) projection; a circular convolution that is
    /// linear because the FFT is long enough.
    fn project<'a>(
        &self,
        terms: impl Iterator<Item = (usize, &'a SplitSpectra, usize)>,
        scratch: &mut Scratch,
        full: bool,
    ) {
        let bins = 0..self.fft_len / 2 + 1;
        let (sum_re, sum_im) = scratch.sum.get_mut(0, &bins);
        sum_re.fill(0.0);
        sum_im.fill(0.0);
        for (input, filters, filter) in terms {
            let (x_re, x_im) = scratch.spectra.get(input, &bins);
            let (h_re, h_im) = filters.get(filter, &bins);
            multiply_add(sum_re, sum_im, x_re, x_im, h_re, h_im);
        }
        scratch.sum.copy_to(0, &mut scratch.spectrum);
        // Products of real signals' spectra: DC and Nyquist are real up to rounding.
        let last = bins.end - 1;
        scratch.spectrum[0].im = 0.0;
        scratch.spectrum[last].im = 0.0;
        let out = if full {
            &mut scratch.full
        } else {
            &mut scratch.spatial
        };
        self.inverse
            .process_with_scratch(&mut scratch.spectrum, out, &mut scratch.inverse_scratch)
            .expect("buffer lengths come from the plan");
        let scale = 1.0 / self.fft_len as f64;
        out.iter_mut().for_each(|v| *v *= scale);
    }
}

/// Adds the previous segment's spill-over to the start of `projection` and keeps this
/// segment's (the `carry.len()` samples after its `segment_len` own ones) for the next.
fn overlap_add(projection: &mut [f64], carry: &mut [f64], segment_len: usize) {
    for (p, c) in projection.iter_mut().zip(carry.iter()) {
        *p += c;
    }
    carry.copy_from_slice(&projection[segment_len..segment_len + carry.len()]);
}

/// The energy sums of museval's decomposition of one target, over its channels and samples.
#[derive(Debug, Clone, Copy, Default)]
struct Energies {
    /// Of: true image, its spatial distortion, the spatially distorted image, interference,
    /// image plus interference, artifacts, total error.
    sums: [f64; 7],
}

impl Energies {
    /// One sample: the reference (true image) and estimate, and the spatial and full
    /// projections of the estimate.
    fn add(&mut self, s_true: f64, estimate: f64, spatial: f64, full: f64) {
        // In museval's order of operations, so rounding matches where it matters (an estimate
        // equal to its reference gets a huge SDR from rounding noise, not +∞).
        let e_spat = spatial - s_true;
        let e_interf = full - s_true - e_spat;
        let e_artif = -s_true - e_spat - e_interf + estimate;
        let image = s_true + e_spat;
        let terms = [
            s_true,
            e_spat,
            image,
            e_interf,
            image + e_interf,
            e_artif,
            e_spat + e_interf + e_artif,
        ];
        for (sum, term) in self.sums.iter_mut().zip(terms) {
            *sum += term * term;
        }
    }

    fn ratios(&self) -> Ratios {
        let [
            true_image,
            spatial_error,
            image,
            interference,
            image_interference,
            artifacts,
            error,
        ] = self.sums;
        [
            safe_db(true_image, error),
            safe_db(true_image, spatial_error),
            safe_db(image, interference),
            safe_db(image_interference, artifacts),
        ]
    }
}

/// `10·log₁₀(num / den)`, +∞ for a zero denominator (museval's `_safe_db`).
fn safe_db(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (num / den).log10()
    }
}

/// The smallest even length ≥ `min` whose prime factors are 2, 3, 5 and 7 (fast FFT sizes).
fn fast_fft_len(min: usize) -> usize {
    (min.max(2)..)
        .find(|&n| {
            let mut m = n;
            for p in [2, 3, 5, 7] {
                while m % p == 0 {
                    m /= p;
                }
            }
            m == 1 && n % 2 == 0
        })
        .expect("7-smooth even numbers are unbounded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_give_the_same_ratios_as_one_transform() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (sources, channels, len, filter_len) = (2, 2, 9000, 64);
        let mut signal = || -> Vec<f32> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let references: Vec<Vec<f32>> = (0..sources * channels).map(|_| signal()).collect();
        let estimates: Vec<Vec<f32>> = references
            .iter()
            .map(|r| r.iter().zip(signal()).map(|(a, b)| a + 0.3 * b).collect())
            .collect();
        let references: Vec<&[f32]> = references.iter().map(Vec::as_slice).collect();
        let estimates: Vec<&[f32]> = estimates.iter().map(Vec::as_slice).collect();
        let filters = DistortionFilters::fit(&references, &estimates, channels, filter_len);
        for window in [0..len, 1000..7001] {
            let ratios = |max_fft_len| {
                let decomposer = WindowDecomposer::with_max_fft_len(
                    &filters,
                    sources,
                    channels,
                    window.len(),
                    max_fft_len,
                );
                let mut scratch = decomposer.scratch(references.len());
                decomposer.ratios(&references, &estimates, window.clone(), &mut scratch)
            };
            let whole = ratios(usize::MAX);
            // 512-sample transforms: 449-sample segments, a short last one.
            let segmented = ratios(512);
            for (a, b) in whole.iter().flatten().zip(segmented.iter().flatten()) {
                assert!((a - b).abs() < 1e-9, "{window:?}: {a} vs {b}");
            }
        }
    }
}
