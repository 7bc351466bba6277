//! Decoding any common audio file — WAV (8/16/24/32-bit integer, 32/64-bit float PCM, ADPCM),
//! AIFF, FLAC, MP3, OGG/Vorbis — into planar `f32` with symphonia.
//!
//! The format is found by probing the content; the file extension is passed along only as a
//! hint, so a misnamed file still decodes. Only the default audio track is decoded, in full.
//!
//! Damaged data never yields silently shortened or garbage output:
//! * A stream that ends before the frame count its header announces, or in the middle of a
//!   packet, is [`AudioError::Truncated`]. MP3 without a LAME/Info tag has only a bitrate
//!   estimate of its length, so there a cut is caught only when it splits a packet the demuxer
//!   notices.
//! * Lossy decoders may reject a single packet and continue (a bit error in one MP3 frame).
//!   Such a packet is tolerated when it is isolated — the packet before it decoded — and when at
//!   most 1 packet in 100 fails over the whole stream; its duration is filled with silence so
//!   everything after it stays in time. Two bad packets in a row, or more than 1 in 100, make
//!   the file [`AudioError::Corrupt`].
//! * Decoded NaN or infinite samples (possible in float WAV) are [`AudioError::Corrupt`].
//! * A decoder panic on hostile input is caught and reported as [`AudioError::Corrupt`].

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::{CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, Track, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::AudioBuffer;
use super::error::{AudioError, check_channel_count, check_sample_rate};

/// File extensions of the formats [`decode_file`] reads, for finding audio in folders (the
/// decoder itself probes the content and ignores the name).
pub const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "flac", "mp3", "ogg", "aif", "aiff"];

/// A stream may lose at most this many packets per 100 to isolated decode errors.
const MAX_BAD_PACKETS_PER_HUNDRED: u64 = 1;

/// Upper bound on the silence inserted for one undecodable packet, in frames, so a corrupt
/// packet duration cannot make us allocate without limit. Real packets are far shorter
/// (MP3: 1152 frames, Vorbis: at most 8192).
const MAX_FILL_FRAMES: u64 = 1 << 16;

/// Decodes the audio file at `path` into planar `f32` (see the module docs for the policy on
/// damaged data). Errors name `path`.
pub fn decode_file(path: &Path) -> Result<AudioBuffer, AudioError> {
    decode_file_with_progress(path, &|_, _| {})
}

/// [`decode_file`], calling `on_progress(bytes_read, file_len)` as the decoder reads, so a
/// long file can show a progress bar.
pub fn decode_file_with_progress(
    path: &Path,
    on_progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<AudioBuffer, AudioError> {
    let io_error = |source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let source = SeekableSource::new(file, on_progress).map_err(io_error)?;
    decode_source(
        Box::new(source),
        path.extension().and_then(OsStr::to_str),
        path,
    )
}

/// Decodes audio held by any seekable reader — e.g. a `Cursor` over bytes read from an archive
/// member — from its start. `extension_hint` (without the dot, e.g. `"ogg"`) may help the probe;
/// `name` is what errors call the data, e.g. `maps.pk3/sound/door.ogg`.
pub fn decode_reader<R>(
    reader: R,
    extension_hint: Option<&str>,
    name: &Path,
) -> Result<AudioBuffer, AudioError>
where
    R: Read + Seek + Send + Sync,
{
    let source = SeekableSource::new(reader, &|_, _| {}).map_err(|source| AudioError::Io {
        path: name.to_path_buf(),
        source,
    })?;
    decode_source(Box::new(source), extension_hint, name)
}

/// Adapts any `Read + Seek` to symphonia's `MediaSource`, which also wants the total length
/// (used to find trailing tags and to estimate MP3 durations), and reports how far it has read.
struct SeekableSource<'a, R> {
    /// The wrapped reader, positioned at the start of the data after `new`.
    inner: R,
    /// Total length in bytes, measured once in `new` because `byte_len` only gets `&self`.
    len: u64,
    /// Current byte offset, tracked so progress costs no extra seek per read.
    position: u64,
    /// Told `(position, len)` after every read.
    on_progress: &'a (dyn Fn(u64, u64) + Send + Sync),
}

impl<'a, R: Read + Seek> SeekableSource<'a, R> {
    /// Measures the length of `inner` and rewinds it to the start.
    fn new(mut inner: R, on_progress: &'a (dyn Fn(u64, u64) + Send + Sync)) -> io::Result<Self> {
        let len = inner.seek(SeekFrom::End(0))?;
        inner.rewind()?;
        Ok(Self {
            inner,
            len,
            position: 0,
            on_progress,
        })
    }
}

impl<R: Read> Read for SeekableSource<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.position += read as u64;
        (self.on_progress)(self.position, self.len);
        Ok(read)
    }
}

impl<R: Seek> Seek for SeekableSource<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.position = self.inner.seek(pos)?;
        Ok(self.position)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for SeekableSource<'_, R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// Shared body of [`decode_file`] and [`decode_reader`]: rejects zero-byte input up front (the
/// probe would call it unrecognised) and turns a decoder panic into an error.
fn decode_source(
    source: Box<dyn MediaSource + '_>,
    extension_hint: Option<&str>,
    path: &Path,
) -> Result<AudioBuffer, AudioError> {
    if source.byte_len() == Some(0) {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    panic::catch_unwind(AssertUnwindSafe(|| {
        decode_stream(source, extension_hint, path)
    }))
    .unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("the decoder crashed on this data ({message})"),
        })
    })
}

/// Probes the container, then decodes every packet of its default audio track.
fn decode_stream(
    source: Box<dyn MediaSource + '_>,
    extension_hint: Option<&str>,
    path: &Path,
) -> Result<AudioBuffer, AudioError> {
    let mut hint = Hint::new();
    if let Some(extension) = extension_hint {
        hint.with_extension(extension);
    }
    let stream = MediaSourceStream::new(source, Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|err| match err {
            SymphoniaError::Unsupported(what) => AudioError::UnsupportedFormat {
                path: path.to_path_buf(),
                reason: format!(
                    "none of WAV, AIFF, FLAC, MP3 or OGG/Vorbis was recognised in the data ({what})"
                ),
            },
            other => stream_error(path, other, None, 0),
        })?;

    let unsupported = |reason: &str| AudioError::UnsupportedFormat {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unsupported("the file holds no audio track"))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(CodecParameters::audio)
        .ok_or_else(|| unsupported("the audio track does not describe its codec"))?
        .clone();
    if let Some(sample_rate) = params.sample_rate {
        check_sample_rate(path, sample_rate)?;
    }
    if let Some(channels) = &params.channels {
        check_channel_count(path, channels.count())?;
    }
    let track_id = track.id;
    let announced_frames = exact_frame_count(track, &params.codec);

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|err| stream_error(path, err, announced_frames, 0))?;

    let mut output = PlanarOutput::default();
    let mut packets = 0u64;
    let mut bad_packets = 0u64;
    let mut previous_was_bad = false;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(err) => return Err(stream_error(path, err, announced_frames, output.frames())),
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(decoded) => {
                output.push_decoded(path, &decoded)?;
                previous_was_bad = false;
            }
            Err(err @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                if previous_was_bad {
                    return Err(AudioError::Corrupt {
                        path: path.to_path_buf(),
                        detail: format!("two packets in a row failed to decode ({err})"),
                    });
                }
                bad_packets += 1;
                previous_was_bad = true;
                output.push_silence(packet.dur.get().min(MAX_FILL_FRAMES));
            }
            Err(err) => return Err(stream_error(path, err, announced_frames, output.frames())),
        }
    }

    if bad_packets * 100 > packets * MAX_BAD_PACKETS_PER_HUNDRED {
        return Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("{bad_packets} of {packets} packets failed to decode"),
        });
    }
    if let Some(announced) = announced_frames
        && output.frames() < announced
    {
        return Err(AudioError::Truncated {
            path: path.to_path_buf(),
            announced_frames: Some(announced),
            decoded_frames: output.frames(),
        });
    }
    output.finish(path)
}

/// The track's frame count if the container states it exactly. MPEG audio states it only in a
/// LAME/Info tag (recognisable by the encoder delay/padding it carries); without one symphonia
/// estimates it from the bitrate, which is no basis for calling a file truncated.
fn exact_frame_count(track: &Track, codec: &AudioCodecId) -> Option<u64> {
    let is_mpeg_audio = [CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3].contains(codec);
    let has_info_tag = track.delay.is_some() || track.padding.is_some();
    track.num_frames.filter(|_| !is_mpeg_audio || has_info_tag)
}

/// Maps an unrecoverable symphonia error to ours. `announced` and `decoded` describe the
/// progress so far, for the truncation message.
fn stream_error(
    path: &Path,
    err: SymphoniaError,
    announced: Option<u64>,
    decoded: u64,
) -> AudioError {
    let path = path.to_path_buf();
    match err {
        SymphoniaError::IoError(source) if source.kind() == io::ErrorKind::UnexpectedEof => {
            AudioError::Truncated {
                path,
                announced_frames: announced,
                decoded_frames: decoded,
            }
        }
        SymphoniaError::IoError(source) => AudioError::Io { path, source },
        SymphoniaError::DecodeError(what) => AudioError::Corrupt {
            path,
            detail: what.to_string(),
        },
        SymphoniaError::LimitError(what) => AudioError::Corrupt {
            path,
            detail: format!("a decoder safety limit was exceeded ({what})"),
        },
        SymphoniaError::Unsupported(what) => AudioError::UnsupportedFormat {
            path,
            reason: what.to_string(),
        },
        SymphoniaError::ResetRequired => AudioError::UnsupportedFormat {
            path,
            reason: "the stream changes its codec parameters midway (chained streams are not \
                     supported)"
                .to_string(),
        },
        // Seek errors (we never seek) and variants added in later symphonia versions.
        other => AudioError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

/// Decoded audio collected packet by packet. The layout (rate, channel count) is fixed by the
/// first decoded packet; silence for bad packets before it is remembered and prepended then.
#[derive(Default)]
struct PlanarOutput {
    /// Sample rate and channel count of the first decoded packet.
    layout: Option<(u32, usize)>,
    /// The samples so far, one `Vec` per channel.
    channels: Vec<Vec<f32>>,
    /// Silent frames owed from bad packets that came before the layout was known.
    pending_silence: u64,
    /// Reused per packet to convert the decoder's buffer to `f32`.
    scratch: Vec<Vec<f32>>,
}

impl PlanarOutput {
    /// Frames per channel collected so far, including owed silence.
    fn frames(&self) -> u64 {
        self.channels.first().map_or(0, |c| c.len() as u64) + self.pending_silence
    }

    /// Appends one decoded packet, converted to `f32`.
    fn push_decoded(
        &mut self,
        path: &Path,
        decoded: &GenericAudioBufferRef<'_>,
    ) -> Result<(), AudioError> {
        let spec = decoded.spec();
        let layout = (spec.rate(), spec.channels().count());
        match self.layout {
            None => {
                check_sample_rate(path, layout.0)?;
                check_channel_count(path, layout.1)?;
                self.layout = Some(layout);
                let silence = vec![0.0; self.pending_silence as usize];
                self.channels = vec![silence; layout.1];
                self.pending_silence = 0;
            }
            Some(first) if first != layout => {
                return Err(AudioError::UnsupportedFormat {
                    path: path.to_path_buf(),
                    reason: format!(
                        "the stream switches from {} Hz, {} channels to {} Hz, {} channels midway",
                        first.0, first.1, layout.0, layout.1
                    ),
                });
            }
            Some(_) => {}
        }
        decoded.copy_to_vecs_planar::<f32>(&mut self.scratch);
        for (out, plane) in self.channels.iter_mut().zip(&self.scratch) {
            out.extend_from_slice(plane);
        }
        Ok(())
    }

    /// Appends `frames` frames of silence in place of an undecodable packet.
    fn push_silence(&mut self, frames: u64) {
        if self.layout.is_none() {
            self.pending_silence += frames;
        }
        for channel in &mut self.channels {
            channel.resize(channel.len() + frames as usize, 0.0);
        }
    }

    /// The finished buffer; refuses an empty stream and non-finite samples.
    fn finish(self, path: &Path) -> Result<AudioBuffer, AudioError> {
        let Some((sample_rate, _)) = self.layout.filter(|_| self.frames() > 0) else {
            return Err(AudioError::Empty {
                path: path.to_path_buf(),
            });
        };
        for (channel, samples) in self.channels.iter().enumerate() {
            if let Some((frame, value)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(AudioError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!(
                        "sample {frame} of channel {channel} decodes to {value}, not a finite number"
                    ),
                });
            }
        }
        Ok(AudioBuffer {
            sample_rate,
            channels: self.channels,
        })
    }
}
