use thiserror::Error;

/// Why a metric refused its input. Every variant names the offending source (and channel or
/// sample where that helps), so a caller can point at the file that was wrong.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MetricsError {
    /// A parameter is out of its valid range; the message names it.
    #[error("invalid BSS Eval configuration: {0}")]
    InvalidConfig(String),
    /// No sources, no channels or no samples were given.
    #[error("nothing to evaluate: the {what} have no {missing}")]
    Empty {
        what: &'static str,
        missing: &'static str,
    },
    /// References and estimates hold different numbers of sources.
    #[error("{estimates} estimated sources were given for {references} reference sources")]
    SourceCount { references: usize, estimates: usize },
    /// A source's channel count differs from the first reference's.
    #[error("{what} source {index} has {found} channels, the first reference has {expected}")]
    ChannelCount {
        what: &'static str,
        index: usize,
        found: usize,
        expected: usize,
    },
    /// A channel's length differs from the first reference channel's.
    #[error(
        "{what} source {index} channel {channel} has {found} samples, the first reference \
         channel has {expected}"
    )]
    Length {
        what: &'static str,
        index: usize,
        channel: usize,
        found: usize,
        expected: usize,
    },
    /// A sample is NaN or infinite.
    #[error("{what} source {index} channel {channel} has a non-finite sample at {sample}")]
    NonFinite {
        what: &'static str,
        index: usize,
        channel: usize,
        sample: usize,
    },
    /// A whole source is silent; museval refuses this because the projections are then
    /// undetermined (a silent reference) or meaningless (a silent estimate).
    #[error(
        "{what} source {index} is silent (its channels sum to zero at every sample); \
         BSS Eval needs every reference and estimate to be non-silent"
    )]
    Silent { what: &'static str, index: usize },
    /// Labels and predictions do not fit together (lengths, class indices).
    #[error("classification scores: {0}")]
    Shape(String),
}
