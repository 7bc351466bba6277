//! Why a mask could not be drawn, in one sentence each.

/// Errors of [`crate::masking`]: configurations out of range, inputs too small for the
/// configured blocks, and constraints that random draws failed to meet.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MaskError {
    /// A configuration value is out of range (the message says which and why).
    #[error("invalid masking configuration: {0}")]
    InvalidConfig(String),
    /// A batch of zero samples was asked for; there is nothing to mask.
    #[error("cannot draw masks for an empty batch")]
    EmptyBatch,
    /// The token grid or sequence is too small for the configured blocks or minimum context.
    #[error("cannot mask {tokens} tokens: {reason}")]
    TooFewTokens {
        /// Number of tokens in the grid or sequence.
        tokens: usize,
        /// What the configuration needs that the input lacks.
        reason: String,
    },
    /// Repeated draws never met the constraints; the configuration is (nearly) infeasible.
    #[error(
        "no mask met the constraints ({constraint}) in {attempts} random draws; relax the masking configuration"
    )]
    NoValidMask {
        /// The constraint that kept failing.
        constraint: String,
        /// How many draws were tried.
        attempts: usize,
    },
}

impl MaskError {
    /// Accepts a probability in (0, 1]; `name` is the configuration field, for the message.
    pub(crate) fn check_probability(name: &str, value: f64) -> Result<(), Self> {
        if value > 0.0 && value <= 1.0 {
            Ok(())
        } else {
            Err(Self::InvalidConfig(format!(
                "{name} is {value} but must be a probability in (0, 1]"
            )))
        }
    }

    /// Accepts a count of at least 1; `name` is the configuration field, for the message.
    pub(crate) fn check_positive(name: &str, value: usize) -> Result<(), Self> {
        if value >= 1 {
            Ok(())
        } else {
            Err(Self::InvalidConfig(format!("{name} must be at least 1")))
        }
    }
}
