//! Medians for the primitives: a sliding-window median filter with scipy.ndimage's
//! `median_filter(mode="reflect")` semantics (HPSS), and the median of a small set (REPET's
//! and REPET-SIM's repeating models).

use std::cmp::Ordering;

/// Median of `values` (reordered in place): the middle value, or the mean of the two middle
/// values for an even count, as numpy's and MATLAB's `median` (REPET's reference code).
/// `values` must not be empty.
pub(crate) fn median_in_place(values: &mut [f32]) -> f32 {
    let n = values.len();
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f32::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        let below = lower
            .iter()
            .copied()
            .max_by(f32::total_cmp)
            .unwrap_or(upper);
        0.5 * (below + upper)
    }
}

/// Index into a `len`-sample sequence that position `position` (possibly outside `0..len`)
/// reads under scipy.ndimage's `mode="reflect"`: mirrored about the edges *including* the
/// edge sample (`d c b a | a b c d | d c b a`), repeatedly for windows longer than the data.
fn reflect(position: isize, len: usize) -> usize {
    if (0..len as isize).contains(&position) {
        return position as usize;
    }
    let period = 2 * len as isize;
    let folded = position.rem_euclid(period) as usize;
    if folded < len {
        folded
    } else {
        2 * len - 1 - folded
    }
}

/// Writes into `output` the running median of `input` over windows of `size` samples, exactly
/// as `scipy.ndimage.median_filter(input, size, mode="reflect")` on a 1-D signal: the window
/// at `i` covers `i − size/2 ..= i + (size − 1)/2` (scipy's centring for origin 0) and the
/// result is the window's element of rank `size/2` (the upper median for even sizes).
///
/// The window is kept sorted and updated in place per step (the leaving value is replaced by
/// the entering one), so a step costs two binary searches and one shift instead of a sort.
/// `window` is scratch space reused between calls. Requires `size ≥ 1`, equal non-empty
/// lengths.
pub(crate) fn sliding_median(
    input: &[f32],
    size: usize,
    output: &mut [f32],
    window: &mut Vec<f32>,
) {
    let len = input.len();
    debug_assert!(size >= 1 && len >= 1 && output.len() == len);
    let first = -((size / 2) as isize);
    window.clear();
    window.extend((0..size as isize).map(|k| input[reflect(first + k, len)]));
    window.sort_unstable_by(f32::total_cmp);
    let rank = size / 2;
    for (i, out) in output.iter_mut().enumerate() {
        *out = window[rank];
        if i + 1 == len {
            break;
        }
        let leaving = input[reflect(i as isize + first, len)];
        let entering = input[reflect(i as isize + first + size as isize, len)];
        // One shift replaces the leaving value by the entering one, keeping the order.
        let at = window.partition_point(|v| v.total_cmp(&leaving) == Ordering::Less);
        let to = window.partition_point(|v| v.total_cmp(&entering) == Ordering::Less);
        if to <= at {
            window.copy_within(to..at, to + 1);
            window[to] = entering;
        } else {
            window.copy_within(at + 1..to, at);
            window[to - 1] = entering;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter by definition: sort every reflected window.
    fn naive(input: &[f32], size: usize) -> Vec<f32> {
        let first = -((size / 2) as isize);
        (0..input.len())
            .map(|i| {
                let mut w: Vec<f32> = (0..size as isize)
                    .map(|k| input[reflect(i as isize + first + k, input.len())])
                    .collect();
                w.sort_by(f32::total_cmp);
                w[size / 2]
            })
            .collect()
    }

    #[test]
    fn reflect_repeats_the_edge_sample() {
        let got: Vec<usize> = (-5..9).map(|p| reflect(p, 4)).collect();
        assert_eq!(got, [3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]);
    }

    #[test]
    fn sliding_median_matches_sorting_every_window() {
        let input: Vec<f32> = (0..57)
            .map(|i| ((i * 37 % 23) as f32) * 0.5 - 3.0)
            .collect();
        let mut window = Vec::new();
        for size in [1, 2, 3, 4, 7, 31, 100, 131] {
            for len in [1, 2, 5, 57] {
                let mut out = vec![0.0; len];
                sliding_median(&input[..len], size, &mut out, &mut window);
                assert_eq!(out, naive(&input[..len], size), "size {size}, len {len}");
            }
        }
    }

    #[test]
    fn median_averages_the_middle_pair_for_even_counts() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_in_place(&mut [5.0]), 5.0);
    }
}
