//! Writing WAV files with hound, atomically: the data goes to a temporary file in the target's
//! directory, is flushed to disk, and only then renamed over the target, so a crash or a full
//! disk never leaves a half-written WAV at the target path.
//!
//! Integer formats scale by `2^(bits−1)` (the convention symphonia and libsndfile decode with),
//! round half away from zero and clip to the integer range, so a sample in
//! `[−1, 1 − 2^(1−bits)]` comes back within half a quantisation step and `+1.0` comes back as
//! `1 − 2^(1−bits)`. No dither is applied. `Float32` stores samples unchanged, including values
//! beyond ±1. Non-finite samples are refused ([`AudioError::NonFiniteSample`]), not sanitised.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::AudioBuffer;
use super::channels::interleaved;
use super::error::{AudioError, check_channel_count, check_sample_rate};

/// Sample encoding of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavSampleFormat {
    /// 16-bit signed integer PCM: the most compatible choice, ~96 dB of dynamic range.
    Int16,
    /// 24-bit signed integer PCM: studio resolution, ~144 dB.
    Int24,
    /// 32-bit IEEE float: lossless for our `f32` samples and keeps values beyond ±1.
    Float32,
}

impl WavSampleFormat {
    /// Bits per stored sample.
    fn bits(self) -> u16 {
        match self {
            Self::Int16 => 16,
            Self::Int24 => 24,
            Self::Float32 => 32,
        }
    }
}

/// Largest WAV file the format can describe: its RIFF size fields are 32-bit.
const MAX_WAV_BYTES: u64 = u32::MAX as u64;

/// Bytes of the largest header hound writes (WAVE_FORMAT_EXTENSIBLE).
const MAX_HEADER_BYTES: u64 = 68;

/// Makes temporary file names unique among the writes of this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `audio` to `path` as a WAV file in `format`, replacing any existing file atomically.
/// The buffer must have a sample rate in `1..=MAX_SAMPLE_RATE`, `1..=MAX_CHANNELS` channels of
/// equal length, and finite samples; zero frames are allowed (a valid, empty WAV).
pub fn write_wav(
    path: &Path,
    audio: &AudioBuffer,
    format: WavSampleFormat,
) -> Result<(), AudioError> {
    check_writable(path, audio, format)?;
    let write_error = |source| AudioError::Write {
        path: path.to_path_buf(),
        source,
    };
    let temp = temp_path_for(path).map_err(write_error)?;
    let result = write_temp(&temp, audio, format).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: the write already failed, and a leftover temp file is only clutter.
        let _ = fs::remove_file(&temp);
    }
    result.map_err(write_error)
}

/// Everything about `audio` that would make the file invalid, checked before touching the disk.
fn check_writable(
    path: &Path,
    audio: &AudioBuffer,
    format: WavSampleFormat,
) -> Result<(), AudioError> {
    check_sample_rate(path, audio.sample_rate)?;
    check_channel_count(path, audio.num_channels())?;
    let expected = audio.num_frames();
    if let Some((channel, samples)) = audio
        .channels
        .iter()
        .enumerate()
        .find(|(_, samples)| samples.len() != expected)
    {
        return Err(AudioError::UnequalChannelLengths {
            path: path.to_path_buf(),
            channel,
            len: samples.len(),
            expected,
        });
    }
    for (channel, samples) in audio.channels.iter().enumerate() {
        if let Some((frame, &value)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AudioError::NonFiniteSample {
                path: path.to_path_buf(),
                channel,
                frame,
                value,
            });
        }
    }
    let data_bytes = (expected * audio.num_channels()) as u64 * u64::from(format.bits() / 8);
    if data_bytes + MAX_HEADER_BYTES > MAX_WAV_BYTES {
        return Err(AudioError::Write {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("{data_bytes} bytes of samples exceed the 4 GiB limit of the WAV format"),
            ),
        });
    }
    Ok(())
}

/// A fresh name next to `path` (same directory, hence same file system, so the final rename is
/// atomic), hidden and marked as temporary.
fn temp_path_for(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not end in a file name",
        )
    })?;
    let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.{unique}.tmp", std::process::id()));
    Ok(path.with_file_name(temp_name))
}

/// Writes the complete WAV file to `temp` and syncs it to disk.
fn write_temp(temp: &Path, audio: &AudioBuffer, format: WavSampleFormat) -> io::Result<()> {
    let file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    let sync_handle = file.try_clone()?;
    let spec = hound::WavSpec {
        channels: audio.num_channels() as u16,
        sample_rate: audio.sample_rate,
        bits_per_sample: format.bits(),
        sample_format: match format {
            WavSampleFormat::Int16 | WavSampleFormat::Int24 => hound::SampleFormat::Int,
            WavSampleFormat::Float32 => hound::SampleFormat::Float,
        },
    };
    write_samples(BufWriter::new(file), spec, audio, format).map_err(hound_to_io)?;
    sync_handle.sync_all()
}

/// Streams the samples through hound, quantising integer formats (see the module docs).
fn write_samples(
    sink: BufWriter<File>,
    spec: hound::WavSpec,
    audio: &AudioBuffer,
    format: WavSampleFormat,
) -> Result<(), hound::Error> {
    let mut writer = hound::WavWriter::new(sink, spec)?;
    match format {
        WavSampleFormat::Int16 => {
            for x in interleaved(audio) {
                writer.write_sample(quantise(x, 16) as i16)?;
            }
        }
        WavSampleFormat::Int24 => {
            for x in interleaved(audio) {
                writer.write_sample(quantise(x, 24))?;
            }
        }
        WavSampleFormat::Float32 => {
            for x in interleaved(audio) {
                writer.write_sample(x)?;
            }
        }
    }
    writer.finalize()
}

/// `round(x · 2^(bits−1))`, clipped to the signed `bits`-bit range.
fn quantise(x: f32, bits: u32) -> i32 {
    let scale = (1i64 << (bits - 1)) as f64;
    (f64::from(x) * scale).round().clamp(-scale, scale - 1.0) as i32
}

/// Hound wraps I/O failures; anything else it reports is a format limit it refused.
fn hound_to_io(err: hound::Error) -> io::Error {
    match err {
        hound::Error::IoError(source) => source,
        other => io::Error::other(other.to_string()),
    }
}
