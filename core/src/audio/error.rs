//! What can go wrong when reading or writing audio files. Every variant names the file, so the
//! message alone tells a user which file is bad and why, in one sentence.

use std::path::{Path, PathBuf};

/// Highest sample rate accepted on decode and encode (768 kHz, the top professional rate).
/// Anything above is taken for a corrupt header rather than real audio.
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// Highest channel count accepted on decode and encode. Music files have at most a few dozen
/// channels (third-order ambisonics has 16); a larger count signals a corrupt header.
pub const MAX_CHANNELS: usize = 64;

/// Failure to decode or encode an audio file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read from.
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file (or archive member) concerned.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },

    /// No enabled demuxer recognises the data, or it uses a codec or feature we cannot decode.
    #[error("{}: unsupported or unrecognised format: {reason}", path.display())]
    UnsupportedFormat {
        /// The file (or archive member) concerned.
        path: PathBuf,
        /// Which format, codec or feature is the problem.
        reason: String,
    },

    /// The data is malformed: the decoder rejected it.
    #[error("{}: corrupt audio data: {detail}", path.display())]
    Corrupt {
        /// The file (or archive member) concerned.
        path: PathBuf,
        /// The decoder's description of the fault.
        detail: String,
    },

    /// The file ends before the audio it announces, or in the middle of a packet.
    #[error("{}: truncated: {}", path.display(), truncation_detail(*announced_frames, *decoded_frames))]
    Truncated {
        /// The file (or archive member) concerned.
        path: PathBuf,
        /// Frames per channel the header promised, when the format records it.
        announced_frames: Option<u64>,
        /// Frames per channel that could be decoded before the data ran out.
        decoded_frames: u64,
    },

    /// The file is well formed but holds no audio frames (or no bytes at all).
    #[error("{}: empty: the file holds no audio frames", path.display())]
    Empty {
        /// The file (or archive member) concerned.
        path: PathBuf,
    },

    /// The sample rate is zero or above [`MAX_SAMPLE_RATE`].
    #[error(
        "{}: invalid sample rate: {sample_rate} Hz is outside 1..={MAX_SAMPLE_RATE} Hz",
        path.display()
    )]
    InvalidSampleRate {
        /// The file (or archive member) concerned.
        path: PathBuf,
        /// The rate found in the header or in the buffer to write.
        sample_rate: u32,
    },

    /// The channel count is zero or above [`MAX_CHANNELS`].
    #[error(
        "{}: invalid channel count: {channels} is outside 1..={MAX_CHANNELS}",
        path.display()
    )]
    InvalidChannelCount {
        /// The file (or archive member) concerned.
        path: PathBuf,
        /// The channel count found in the header or in the buffer to write.
        channels: usize,
    },

    /// A buffer to write has channels of different lengths, so it has no well-defined frames.
    #[error(
        "{}: cannot write: channel {channel} has {len} samples but channel 0 has {expected}",
        path.display()
    )]
    UnequalChannelLengths {
        /// The file that was to be written.
        path: PathBuf,
        /// Index of the first channel whose length differs from channel 0.
        channel: usize,
        /// Its length.
        len: usize,
        /// The length of channel 0.
        expected: usize,
    },

    /// A buffer to write contains NaN or infinity. Refused rather than sanitised: such samples
    /// mean an upstream bug, and silently writing zeros would hide it.
    #[error(
        "{}: cannot write: sample {frame} of channel {channel} is {value}, not a finite number",
        path.display()
    )]
    NonFiniteSample {
        /// The file that was to be written.
        path: PathBuf,
        /// Channel of the first offending sample.
        channel: usize,
        /// Frame index of the first offending sample.
        frame: usize,
        /// The offending value (NaN or ±inf).
        value: f32,
    },

    /// Creating, writing, syncing or renaming the output file failed.
    #[error("{}: cannot write the file: {source}", path.display())]
    Write {
        /// The file that was to be written.
        path: PathBuf,
        /// What the operating system (or the WAV writer) reported.
        source: std::io::Error,
    },
}

/// The second half of a [`AudioError::Truncated`] message.
fn truncation_detail(announced_frames: Option<u64>, decoded_frames: u64) -> String {
    match announced_frames {
        Some(announced) => {
            format!("the header announces {announced} frames but the file holds {decoded_frames}")
        }
        None => format!("the data ends unexpectedly after {decoded_frames} decodable frames"),
    }
}

/// Rejects a sample rate of zero or above [`MAX_SAMPLE_RATE`]; decode and encode share it so both
/// sides of the crate agree on what a plausible stream is.
pub(super) fn check_sample_rate(path: &Path, sample_rate: u32) -> Result<(), AudioError> {
    if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE {
        return Err(AudioError::InvalidSampleRate {
            path: path.to_path_buf(),
            sample_rate,
        });
    }
    Ok(())
}

/// Rejects a channel count of zero or above [`MAX_CHANNELS`], for the same reason.
pub(super) fn check_channel_count(path: &Path, channels: usize) -> Result<(), AudioError> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(AudioError::InvalidChannelCount {
            path: path.to_path_buf(),
            channels,
        });
    }
    Ok(())
}
