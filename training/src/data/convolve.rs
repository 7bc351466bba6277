//! Convolution by FFT, for room impulse responses (scenes) and reverb (augmentation).

use realfft::RealFftPlanner;

/// The first `length` samples of `signal` convolved with each of `irs`, by FFT (the signal's
/// spectrum is computed once for all responses).
pub fn convolve(signal: &[f32], irs: &[Vec<f32>; 2], length: usize) -> [Vec<f32>; 2] {
    let longest = irs.iter().map(Vec::len).max().unwrap_or(0);
    let size = (signal.len() + longest).max(2).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let spectrum_of = |samples: &[f32]| {
        let mut input = vec![0.0f32; size];
        input[..samples.len()].copy_from_slice(samples);
        let mut spectrum = forward.make_output_vec();
        forward
            .process(&mut input, &mut spectrum)
            .expect("buffers sized by the plan");
        spectrum
    };
    let signal_spectrum = spectrum_of(signal);
    std::array::from_fn(|ear| {
        let mut spectrum = spectrum_of(&irs[ear]);
        for (s, x) in spectrum.iter_mut().zip(&signal_spectrum) {
            *s *= *x / size as f32;
        }
        let mut output = inverse.make_output_vec();
        inverse
            .process(&mut spectrum, &mut output)
            .expect("buffers sized by the plan");
        output.truncate(length);
        output
    })
}
