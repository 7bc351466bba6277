//! Complex spectra stored as separate real and imaginary arrays, the element-wise
//! multiply-adds of the correlation and projection loops over them, and the zero-padded f64
//! frames they are transformed from.

use std::ops::Range;

use num_complex::Complex;

/// Several spectra of one length with real and imaginary parts in separate arrays, so the
/// products summed over them vectorise.
pub(super) struct SplitSpectra {
    bins: usize,
    /// `[spectrum][bin]` real parts.
    re: Vec<f64>,
    /// `[spectrum][bin]` imaginary parts.
    im: Vec<f64>,
}

impl SplitSpectra {
    /// `count` all-zero spectra of `bins` bins.
    pub(super) fn zeros(count: usize, bins: usize) -> Self {
        Self {
            bins,
            re: vec![0.0; count * bins],
            im: vec![0.0; count * bins],
        }
    }

    /// Stores `spectrum`, or its complex conjugate, as spectrum `index`.
    pub(super) fn set(&mut self, index: usize, spectrum: &[Complex<f64>], conjugate: bool) {
        let sign = if conjugate { -1.0 } else { 1.0 };
        let (re, im) = self.get_mut(index, &(0..self.bins));
        for ((re, im), c) in re.iter_mut().zip(im).zip(spectrum) {
            *re = c.re;
            *im = sign * c.im;
        }
    }

    /// Spectrum `index` back in interleaved form.
    pub(super) fn copy_to(&self, index: usize, spectrum: &mut [Complex<f64>]) {
        let (re, im) = self.get(index, &(0..self.bins));
        for ((c, &re), &im) in spectrum.iter_mut().zip(re).zip(im) {
            *c = Complex::new(re, im);
        }
    }

    /// Bins `bins` of spectrum `index`, as (real parts, imaginary parts).
    pub(super) fn get(&self, index: usize, bins: &Range<usize>) -> (&[f64], &[f64]) {
        let range = index * self.bins + bins.start..index * self.bins + bins.end;
        (&self.re[range.clone()], &self.im[range])
    }

    /// Bins `bins` of spectrum `index`, writable.
    pub(super) fn get_mut(
        &mut self,
        index: usize,
        bins: &Range<usize>,
    ) -> (&mut [f64], &mut [f64]) {
        let range = index * self.bins + bins.start..index * self.bins + bins.end;
        (&mut self.re[range.clone()], &mut self.im[range])
    }
}

/// `sum += a·b`, element-wise.
pub(super) fn multiply_add(
    sum_re: &mut [f64],
    sum_im: &mut [f64],
    a_re: &[f64],
    a_im: &[f64],
    b_re: &[f64],
    b_im: &[f64],
) {
    let a = a_re.iter().zip(a_im);
    let b = b_re.iter().zip(b_im);
    let sums = sum_re.iter_mut().zip(sum_im.iter_mut());
    for (((s_re, s_im), (ar, ai)), (br, bi)) in sums.zip(a).zip(b) {
        *s_re += ar * br - ai * bi;
        *s_im += ar * bi + ai * br;
    }
}

/// `frame` = `part` in f64, zero-padded.
pub(super) fn fill_frame(frame: &mut [f64], part: &[f32]) {
    let (head, tail) = frame.split_at_mut(part.len());
    for (f, &x) in head.iter_mut().zip(part) {
        *f = f64::from(x);
    }
    tail.fill(0.0);
}
