//! BSS Eval version 4 source-separation metrics, computed as museval does for SiSEC 2018 and
//! MUSDB18 results (`museval.evaluate`, mode "v4").
//!
//! For each estimated source BSS Eval fits FIR filters of `filter_len` taps, once over the
//! whole track, that best rebuild the estimate from the references: from every reference (the
//! estimate's interference-free part plus interference) and from its own reference alone (its
//! spatially distorted image). Then, per window of `window` samples every `hop` samples, the
//! estimate splits into true image + spatial distortion + interference + artifacts, and
//!
//! - SDR (source to distortion) = true image / everything else,
//! - ISR (image to spatial distortion) = true image / spatial distortion,
//! - SIR (source to interference) = distorted image / interference,
//! - SAR (source to artifacts) = distorted image + interference / artifacts,
//!
//! as energy ratios in dB. A window in which any reference or any estimate is silent scores
//! NaN for every source; a source's track score is the median of its windows that have a
//! (finite) score, and a set of songs is summarised by the median over songs of those medians
//! ([`median_over_songs`]).
//!
//! With museval's `bss_eval_images` decomposition the SDR works out as the window's plain
//! signal-to-error ratio; the filters shape ISR, SIR and SAR.

mod cholesky;
mod correlation;
mod decomposition;
mod filters;
mod split_spectra;

use std::ops::Range;

use rayon::prelude::*;

use super::MetricsError;
use decomposition::WindowDecomposer;
use filters::DistortionFilters;

/// Window, hop and filter length of the evaluation, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BssEvalConfig {
    /// Samples per scored window (museval: 1 s = 44 100); a window at least as long as the
    /// track scores the whole track at once.
    pub window: usize,
    /// Samples between window starts (museval: 44 100, no overlap).
    pub hop: usize,
    /// Taps of the distortion filters: delays from 0 to `filter_len − 1` samples of a
    /// reference count as the same source rather than as distortion (museval: 512).
    pub filter_len: usize,
}

impl Default for BssEvalConfig {
    /// museval's defaults for 44.1 kHz audio.
    fn default() -> Self {
        Self {
            window: 44_100,
            hop: 44_100,
            filter_len: 512,
        }
    }
}

impl BssEvalConfig {
    fn validate(&self) -> Result<(), MetricsError> {
        for (name, value) in [
            ("window", self.window),
            ("hop", self.hop),
            ("filter_len", self.filter_len),
        ] {
            if value == 0 {
                return Err(MetricsError::InvalidConfig(format!(
                    "{name} must be at least 1 sample"
                )));
            }
        }
        Ok(())
    }

    /// The windows of a track of `len` samples, as museval's `Framing` cuts them: full windows
    /// only (trailing samples that do not fill one are not scored), or the whole track when it
    /// is no longer than one window.
    fn windows(&self, len: usize) -> Vec<Range<usize>> {
        let count = if self.window >= len {
            1
        } else {
            (len - self.window) / self.hop + 1
        };
        (0..count)
            .map(|t| t * self.hop..(t * self.hop + self.window).min(len))
            .collect()
    }
}

/// One of BSS Eval's four energy ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Source to distortion ratio: the headline score.
    Sdr,
    /// Source image to spatial distortion ratio.
    Isr,
    /// Source to interference ratio.
    Sir,
    /// Source to artifacts ratio.
    Sar,
}

impl Metric {
    /// All four, in the order of museval's result tuple (SDR, ISR, SIR, SAR).
    pub const ALL: [Metric; 4] = [Metric::Sdr, Metric::Isr, Metric::Sir, Metric::Sar];

    /// The name museval's JSON and tables use ("SDR", …).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Sdr => "SDR",
            Metric::Isr => "ISR",
            Metric::Sir => "SIR",
            Metric::Sar => "SAR",
        }
    }
}

/// Per-window scores of every source of one track.
#[derive(Debug, Clone, PartialEq)]
pub struct BssEvalScores {
    /// The configuration the scores were computed with (window starts are multiples of its
    /// hop).
    pub config: BssEvalConfig,
    /// `[metric][source][window]` in [`Metric::ALL`] order, dB; NaN for windows with a silent
    /// reference or estimate, +∞ where a denominator energy is exactly zero (as museval).
    values: [Vec<Vec<f64>>; 4],
}

impl BssEvalScores {
    /// Number of sources scored.
    pub fn num_sources(&self) -> usize {
        self.values[0].len()
    }

    /// Number of windows per source.
    pub fn num_windows(&self) -> usize {
        self.values[0].first().map_or(0, Vec::len)
    }

    /// First sample of window `index`.
    pub fn window_start(&self, index: usize) -> usize {
        index * self.config.hop
    }

    /// The per-window values of `metric` for `source`.
    pub fn values(&self, metric: Metric, source: usize) -> &[f64] {
        &self.values[metric as usize][source]
    }

    /// The track score of `metric` for `source`: the median over windows of the finite values
    /// (museval's track store turns ±∞ into NaN and takes a NaN-skipping median); NaN if no
    /// window has one.
    pub fn median(&self, metric: Metric, source: usize) -> f64 {
        median_of_finite(self.values(metric, source))
    }

    /// The track SDR of `source` (see [`BssEvalScores::median`]).
    pub fn median_sdr(&self, source: usize) -> f64 {
        self.median(Metric::Sdr, source)
    }
}

/// The median over songs of per-song scores (e.g. each song's [`BssEvalScores::median_sdr`]
/// for one source), skipping songs without a score (NaN), as museval's aggregation does; NaN
/// if no song has a score.
pub fn median_over_songs(song_scores: &[f64]) -> f64 {
    median_of_finite(song_scores)
}

/// The median of the finite values (mean of the middle two for an even count), NaN if none.
fn median_of_finite(values: &[f64]) -> f64 {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.sort_by(f64::total_cmp);
    let mid = finite.len() / 2;
    if finite.len() % 2 == 1 {
        finite[mid]
    } else {
        (finite[mid - 1] + finite[mid]) / 2.0
    }
}

/// BSS Eval v4 scores of `estimates` against `references`, each `[source][channel][sample]`
/// with the same number of sources, channels per source and samples per channel (pad or cut
/// estimates beforehand; museval's `evaluate` zero-pads or truncates them to the references).
///
/// Fails, naming the source, on empty or mismatched input, non-finite samples, and — like
/// museval — a reference or estimate that is silent over the whole track.
pub fn bss_eval_v4(
    references: &[Vec<Vec<f32>>],
    estimates: &[Vec<Vec<f32>>],
    config: &BssEvalConfig,
) -> Result<BssEvalScores, MetricsError> {
    config.validate()?;
    let (channels, len) = check_shapes(references, estimates)?;
    let references = flatten_checked("reference", references)?;
    let estimates = flatten_checked("estimated", estimates)?;
    let sources = references.len() / channels;

    let filters = DistortionFilters::fit(&references, &estimates, channels, config.filter_len);
    let windows = config.windows(len);
    let decomposer = WindowDecomposer::new(&filters, sources, channels, windows[0].len());
    let per_window: Vec<Vec<[f64; 4]>> = windows
        .par_iter()
        .map_init(
            || decomposer.scratch(references.len()),
            |scratch, window| {
                if any_silent(&references, channels, window)
                    || any_silent(&estimates, channels, window)
                {
                    vec![[f64::NAN; 4]; sources]
                } else {
                    decomposer.ratios(&references, &estimates, window.clone(), scratch)
                }
            },
        )
        .collect();

    let values = std::array::from_fn(|metric| {
        (0..sources)
            .map(|source| per_window.iter().map(|w| w[source][metric]).collect())
            .collect()
    });
    Ok(BssEvalScores {
        config: *config,
        values,
    })
}

/// Channels per source and samples per channel, after checking every source has the first
/// reference's.
fn check_shapes(
    references: &[Vec<Vec<f32>>],
    estimates: &[Vec<Vec<f32>>],
) -> Result<(usize, usize), MetricsError> {
    let empty = |missing| MetricsError::Empty {
        what: "references",
        missing,
    };
    let first = references.first().ok_or(empty("sources"))?;
    let channels = first.len();
    let len = first.first().ok_or(empty("channels"))?.len();
    if len == 0 {
        return Err(empty("samples"));
    }
    if estimates.len() != references.len() {
        return Err(MetricsError::SourceCount {
            references: references.len(),
            estimates: estimates.len(),
        });
    }
    for (what, set) in [("reference", references), ("estimated", estimates)] {
        for (source, channel_signals) in set.iter().enumerate() {
            if channel_signals.len() != channels {
                return Err(MetricsError::ChannelCount {
                    what,
                    index: source,
                    found: channel_signals.len(),
                    expected: channels,
                });
            }
            for (channel, signal) in channel_signals.iter().enumerate() {
                if signal.len() != len {
                    return Err(MetricsError::Length {
                        what,
                        index: source,
                        channel,
                        found: signal.len(),
                        expected: len,
                    });
                }
            }
        }
    }
    Ok((channels, len))
}

/// Every channel of every source in order (`source · channels + channel`), after checking
/// the samples are finite and no source is silent throughout.
fn flatten_checked<'a>(
    what: &'static str,
    sources: &'a [Vec<Vec<f32>>],
) -> Result<Vec<&'a [f32]>, MetricsError> {
    for (index, channel_signals) in sources.iter().enumerate() {
        for (channel, signal) in channel_signals.iter().enumerate() {
            if let Some(sample) = signal.iter().position(|v| !v.is_finite()) {
                return Err(MetricsError::NonFinite {
                    what,
                    index,
                    channel,
                    sample,
                });
            }
        }
        let channels: Vec<&[f32]> = channel_signals.iter().map(Vec::as_slice).collect();
        if is_silent(&channels, 0..channels[0].len()) {
            return Err(MetricsError::Silent { what, index });
        }
    }
    Ok(sources.iter().flatten().map(Vec::as_slice).collect())
}

/// Whether some source's channels sum to zero at every sample of `window` (museval's
/// `_any_source_silent`; a source whose channels cancel exactly counts as silent too).
fn any_silent(signals: &[&[f32]], channels: usize, window: &Range<usize>) -> bool {
    signals
        .chunks(channels)
        .any(|source| is_silent(source, window.clone()))
}

fn is_silent(source: &[&[f32]], window: Range<usize>) -> bool {
    window.into_iter().all(|n| {
        source
            .iter()
            .map(|channel| f64::from(channel[n]))
            .sum::<f64>()
            == 0.0
    })
}
