//! Audio I/O against the fixtures of tests/fixtures/gen/audio.py: lossless formats return the
//! known signal to within quantisation, lossy ones recover its tones, every damaged file gives
//! the right error naming the file, and WAV encode → decode round-trips.
//!
//! The known signal (recomputed here, so no Python is needed): 44.1 kHz stereo,
//! left = 0.5·sin(2π·440·t), right = 0.5·sin(2π·660·t).

use std::f64::consts::PI;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use tessera_core::audio::channels::{interleaved, to_mono, to_stereo};
use tessera_core::audio::decode::{decode_file, decode_reader};
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_core::audio::{AudioBuffer, AudioError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/audio");
const RATE: u32 = 44_100;
const TONE_HZ: [f64; 2] = [440.0, 660.0];
const AMPLITUDE: f64 = 0.5;
/// Length of the lossless fixtures (0.1 s).
const LOSSLESS_FRAMES: usize = 4410;
/// Length of the lossy fixtures (0.25 s).
const LOSSY_FRAMES: usize = 11_025;

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// Sample `n` of channel `channel` of the known signal.
fn known(channel: usize, n: usize) -> f64 {
    AMPLITUDE * (2.0 * PI * TONE_HZ[channel] * n as f64 / f64::from(RATE)).sin()
}

/// Asserts `audio` is the known stereo signal, `LOSSLESS_FRAMES` long, within `tolerance`
/// (max abs error).
fn assert_known_signal(audio: &AudioBuffer, tolerance: f64, what: &str) {
    assert_eq!(audio.sample_rate, RATE, "{what}: sample rate");
    assert_eq!(audio.num_channels(), 2, "{what}: channels");
    assert_eq!(audio.num_frames(), LOSSLESS_FRAMES, "{what}: frames");
    for (c, channel) in audio.channels.iter().enumerate() {
        let worst = channel
            .iter()
            .enumerate()
            .map(|(n, &x)| (f64::from(x) - known(c, n)).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= tolerance,
            "{what}: channel {c} is off by {worst:e} > {tolerance:e}"
        );
    }
}

/// Lossless decodes: integer formats hold round(x·2^(bits−1)), so the error is at most half a
/// step, 2^−bits (plus 1e-7 for f32 rounding of the decoded value); float formats are exact to
/// f32 precision (1e-7).
#[test]
fn lossless_formats_return_the_known_signal_within_quantisation() {
    let half_step = |bits: i32| 2f64.powi(-bits) + 1e-7;
    let cases = [
        ("tone_u8.wav", half_step(8)),
        ("tone_i16.wav", half_step(16)),
        ("tone_i24.wav", half_step(24)),
        ("tone_i32.wav", 1e-7),
        ("tone_f32.wav", 1e-7),
        ("tone_f64.wav", 1e-7),
        ("tone_i16.aiff", half_step(16)),
        ("tone_i16.flac", half_step(16)),
    ];
    for (name, tolerance) in cases {
        let audio = decode_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_known_signal(&audio, tolerance, name);
    }
}

/// Magnitude of the Hann-windowed DFT of `x` at `freq` Hz (Goertzel), normalised so a sine of
/// amplitude `a` at `freq` gives `a`.
fn tone_magnitude(x: &[f32], freq: f64) -> f64 {
    let n = x.len();
    let coeff = 2.0 * (2.0 * PI * freq / f64::from(RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut window_sum = 0.0;
    for (i, &v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
        window_sum += w;
        let s0 = w * f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / window_sum
}

/// Lossy decodes. Tolerances, measured on the middle of the signal (the first and last 2048
/// frames hold codec start-up and padding effects):
/// * frame count: exact — the MP3 carries a LAME tag and the Vorbis stream a final granule
///   position, so gapless decoding trims encoder delay and padding precisely;
/// * frequency: the strongest 0.5 Hz step in 300–800 Hz is within 1 Hz of the tone;
/// * amplitude: RMS·√2 within 0.5 dB of 0.5;
/// * channel separation: the other channel's tone is at least 40 dB down.
#[test]
fn lossy_formats_recover_the_tones() {
    for name in ["tone.mp3", "tone.ogg"] {
        let audio = decode_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.sample_rate, RATE, "{name}: sample rate");
        assert_eq!(audio.num_channels(), 2, "{name}: channels");
        assert_eq!(audio.num_frames(), LOSSY_FRAMES, "{name}: frames");
        for (c, channel) in audio.channels.iter().enumerate() {
            let middle = &channel[2048..LOSSY_FRAMES - 2048];
            let (peak_hz, _) = (600..1600)
                .map(|half_hz| {
                    let f = f64::from(half_hz) / 2.0;
                    (f, tone_magnitude(middle, f))
                })
                .fold(
                    (0.0, 0.0),
                    |best, cur| if cur.1 > best.1 { cur } else { best },
                );
            assert!(
                (peak_hz - TONE_HZ[c]).abs() <= 1.0,
                "{name}: channel {c} peaks at {peak_hz} Hz, expected {}",
                TONE_HZ[c]
            );
            let rms = (middle.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>()
                / middle.len() as f64)
                .sqrt();
            let level_db = 20.0 * (rms * 2f64.sqrt() / AMPLITUDE).log10();
            assert!(
                level_db.abs() <= 0.5,
                "{name}: channel {c} level is {level_db:+.2} dB off"
            );
            let own = tone_magnitude(middle, TONE_HZ[c]);
            let other = tone_magnitude(middle, TONE_HZ[1 - c]);
            let separation_db = 20.0 * (own / other).log10();
            assert!(
                separation_db >= 40.0,
                "{name}: channel {c} separation only {separation_db:.1} dB"
            );
        }
    }
}

/// Decodes `name`, expecting an error: checks the message names the file and returns it.
fn decode_error(name: &str) -> AudioError {
    let path = fixture(name);
    let err = match decode_file(&path) {
        Ok(audio) => panic!(
            "{name}: decoded {} frames, expected an error",
            audio.num_frames()
        ),
        Err(err) => err,
    };
    let message = err.to_string();
    assert!(
        message.contains(name),
        "{name}: message does not name the file: {message}"
    );
    err
}

#[test]
fn empty_files_are_empty() {
    for name in ["empty.wav", "zero_frames.wav"] {
        let err = decode_error(name);
        assert!(matches!(err, AudioError::Empty { .. }), "{name}: {err:?}");
    }
}

#[test]
fn truncated_wav_reports_announced_and_held_frames() {
    let err = decode_error("truncated.wav");
    let message = err.to_string();
    let AudioError::Truncated {
        announced_frames,
        decoded_frames,
        ..
    } = err
    else {
        panic!("truncated.wav: {err:?}");
    };
    assert_eq!(announced_frames, Some(LOSSLESS_FRAMES as u64));
    // The file holds 2000.5 frames; symphonia reads whole packets, so a partial last packet
    // is lost and the count may fall short, never exceed.
    assert!(decoded_frames <= 2000, "decoded {decoded_frames} frames");
    assert!(
        message.contains("truncated: the header announces 4410 frames but the file holds"),
        "{message}"
    );
}

#[test]
fn files_cut_in_half_are_truncated() {
    for name in ["truncated.flac", "truncated.mp3", "truncated.ogg"] {
        let err = decode_error(name);
        assert!(
            matches!(err, AudioError::Truncated { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn absurd_headers_are_rejected() {
    let err = decode_error("zero_rate.wav");
    assert!(
        matches!(err, AudioError::InvalidSampleRate { sample_rate: 0, .. }),
        "zero_rate.wav: {err:?}"
    );
    // symphonia's WAV reader rejects a channel count itself, before we see it.
    let err = decode_error("zero_channels.wav");
    assert!(
        matches!(&err, AudioError::Corrupt { detail, .. } if detail.contains("channel count")),
        "zero_channels.wav: {err:?}"
    );
}

#[test]
fn non_audio_files_are_unsupported() {
    for name in ["random.wav", "text.mp3", "image.png"] {
        let err = decode_error(name);
        assert!(
            matches!(err, AudioError::UnsupportedFormat { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = fixture("does_not_exist.wav");
    let err = decode_file(&path).expect_err("decoding a missing file");
    assert!(matches!(err, AudioError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("does_not_exist.wav"), "{err}");
}

#[test]
fn decode_reader_matches_decode_file_and_uses_the_given_name() {
    let path = fixture("tone.ogg");
    let bytes = std::fs::read(&path).expect("read tone.ogg");
    let from_reader = decode_reader(
        Cursor::new(bytes),
        Some("ogg"),
        Path::new("pak0.pk3/sound/tone.ogg"),
    )
    .expect("decode from memory");
    assert_eq!(from_reader, decode_file(&path).expect("decode from file"));

    let bytes = std::fs::read(fixture("truncated.ogg")).expect("read truncated.ogg");
    let err = decode_reader(
        Cursor::new(bytes),
        None,
        Path::new("pak0.pk3/sound/cut.ogg"),
    )
    .expect_err("a truncated stream");
    assert!(matches!(err, AudioError::Truncated { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("pak0.pk3/sound/cut.ogg: truncated"),
        "{err}"
    );
}

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-audio-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("list temp dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stereo test buffer: the known signal followed by edge values, including out-of-range ones
/// that integer formats must clip.
fn edge_case_buffer() -> AudioBuffer {
    let edges = [-1.5f32, -1.0, -0.5, 0.0, 0.25, 0.999, 1.0, 1.5];
    let channels = (0..2)
        .map(|c| {
            let mut samples: Vec<f32> = (0..1000).map(|n| known(c, n) as f32).collect();
            samples.extend(edges);
            samples
        })
        .collect();
    AudioBuffer {
        sample_rate: 48_000,
        channels,
    }
}

/// What an integer format of `bits` must give back for `x`: clip to [−1, 1 − 2^(1−bits)], then
/// round to the step 2^(1−bits).
fn quantised(x: f32, bits: i32) -> f64 {
    let scale = 2f64.powi(bits - 1);
    (f64::from(x) * scale).round().clamp(-scale, scale - 1.0) / scale
}

#[test]
fn wav_round_trips_in_every_format() {
    let dir = TempDir::new("round-trip");
    let original = edge_case_buffer();
    for (format, bits) in [
        (WavSampleFormat::Int16, Some(16)),
        (WavSampleFormat::Int24, Some(24)),
        (WavSampleFormat::Float32, None),
    ] {
        let path = dir.0.join(format!("{format:?}.wav"));
        write_wav(&path, &original, format).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let decoded = decode_file(&path).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(decoded.sample_rate, original.sample_rate, "{format:?}");
        assert_eq!(decoded.num_channels(), 2, "{format:?}");
        assert_eq!(decoded.num_frames(), original.num_frames(), "{format:?}");
        for (orig, back) in original.channels.iter().zip(&decoded.channels) {
            for (&x, &y) in orig.iter().zip(back) {
                match bits {
                    // Exact: the decoder divides the stored integer by the same power of two.
                    Some(bits) => assert_eq!(f64::from(y), quantised(x, bits), "{format:?} {x}"),
                    None => assert_eq!(y, x, "{format:?}"),
                }
            }
        }
    }
    // Only the three targets remain: no temporary files are left behind.
    assert_eq!(dir.entries(), ["Float32.wav", "Int16.wav", "Int24.wav"]);
}

#[test]
fn int16_quantisation_error_is_at_most_half_a_step_in_range() {
    let dir = TempDir::new("int16-error");
    let path = dir.0.join("tone.wav");
    let audio = AudioBuffer {
        sample_rate: RATE,
        channels: vec![(0..LOSSLESS_FRAMES).map(|n| known(0, n) as f32).collect()],
    };
    write_wav(&path, &audio, WavSampleFormat::Int16).expect("write");
    let back = decode_file(&path).expect("decode");
    let worst = audio.channels[0]
        .iter()
        .zip(&back.channels[0])
        .map(|(&x, &y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 0.5 / 32768.0 + 1e-7, "worst error {worst:e}");
}

#[test]
fn write_refuses_bad_buffers_and_leaves_the_target_alone() {
    let dir = TempDir::new("refuse");
    let path = dir.0.join("keep.wav");
    let good = edge_case_buffer();
    write_wav(&path, &good, WavSampleFormat::Int16).expect("write the original");
    let before = std::fs::read(&path).expect("read back");

    let mut nan = good.clone();
    nan.channels[1][7] = f32::NAN;
    let err = write_wav(&path, &nan, WavSampleFormat::Float32).expect_err("NaN");
    assert!(
        matches!(
            err,
            AudioError::NonFiniteSample {
                channel: 1,
                frame: 7,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("keep.wav"), "{err}");

    let mut ragged = good.clone();
    ragged.channels[1].pop();
    let err = write_wav(&path, &ragged, WavSampleFormat::Int16).expect_err("ragged");
    assert!(
        matches!(err, AudioError::UnequalChannelLengths { channel: 1, .. }),
        "{err:?}"
    );

    let no_rate = AudioBuffer {
        sample_rate: 0,
        ..good.clone()
    };
    let err = write_wav(&path, &no_rate, WavSampleFormat::Int16).expect_err("rate 0");
    assert!(
        matches!(err, AudioError::InvalidSampleRate { .. }),
        "{err:?}"
    );

    let no_channels = AudioBuffer {
        sample_rate: RATE,
        channels: vec![],
    };
    let err = write_wav(&path, &no_channels, WavSampleFormat::Int16).expect_err("no channels");
    assert!(
        matches!(err, AudioError::InvalidChannelCount { .. }),
        "{err:?}"
    );

    assert_eq!(std::fs::read(&path).expect("read again"), before);
    assert_eq!(dir.entries(), ["keep.wav"]);
}

#[test]
fn write_into_a_missing_directory_is_a_write_error_naming_the_file() {
    let dir = TempDir::new("missing-dir");
    let path = dir.0.join("no/such/dir/out.wav");
    let err = write_wav(&path, &edge_case_buffer(), WavSampleFormat::Int24).expect_err("write");
    assert!(matches!(err, AudioError::Write { .. }), "{err:?}");
    assert!(err.to_string().contains("out.wav"), "{err}");
}

#[test]
fn empty_buffer_writes_a_valid_wav_that_decodes_as_empty() {
    let dir = TempDir::new("empty");
    let path = dir.0.join("silence.wav");
    let audio = AudioBuffer {
        sample_rate: RATE,
        channels: vec![vec![], vec![]],
    };
    write_wav(&path, &audio, WavSampleFormat::Int16).expect("write");
    let err = decode_file(&path).expect_err("decode");
    assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
}

fn buffer(channels: Vec<Vec<f32>>) -> AudioBuffer {
    AudioBuffer {
        sample_rate: 22_050,
        channels,
    }
}

#[test]
fn to_mono_is_the_channel_mean() {
    let stereo = buffer(vec![vec![1.0, 0.5, -1.0], vec![0.0, 0.5, 1.0]]);
    assert_eq!(to_mono(&stereo), buffer(vec![vec![0.5, 0.5, 0.0]]));
    let mono = buffer(vec![vec![0.1, 0.2]]);
    assert_eq!(to_mono(&mono), mono);
    let three = buffer(vec![vec![0.3], vec![0.6], vec![0.9]]);
    let mixed = to_mono(&three);
    assert!((mixed.channels[0][0] - 0.6).abs() < 1e-6, "{mixed:?}");
    assert_eq!(to_mono(&buffer(vec![])), buffer(vec![vec![]]));
}

#[test]
fn to_stereo_duplicates_mono_and_folds_extra_channels_into_both_sides() {
    let mono = buffer(vec![vec![0.1, -0.2]]);
    assert_eq!(
        to_stereo(&mono),
        buffer(vec![vec![0.1, -0.2], vec![0.1, -0.2]])
    );
    let stereo = buffer(vec![vec![0.1], vec![0.2]]);
    assert_eq!(to_stereo(&stereo), stereo);
    // 5.1 (L, R, C, LFE, Ls, Rs): each side is the mean of its front channel and the four
    // shared ones, so full scale everywhere stays at full scale.
    let surround = buffer(vec![
        vec![1.0, 1.0],
        vec![0.0, 1.0],
        vec![0.5, 1.0],
        vec![0.0, 1.0],
        vec![0.25, 1.0],
        vec![0.25, 1.0],
    ]);
    let mixed = to_stereo(&surround);
    let expected = [[(1.0 + 1.0) / 5.0, 1.0], [1.0 / 5.0, 1.0]];
    for (side, want) in mixed.channels.iter().zip(expected) {
        for (&got, want) in side.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{mixed:?}");
        }
    }
}

#[test]
fn interleaved_goes_frame_by_frame() {
    let audio = buffer(vec![vec![1.0, 2.0, 3.0], vec![-1.0, -2.0, -3.0]]);
    let samples: Vec<f32> = interleaved(&audio).collect();
    assert_eq!(samples, [1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
}

/// MP3s often start with an ID3v2 tag holding cover art. One larger than the probe's 1 MiB
/// search window must still be skipped (this needs symphonia's `id3v2` feature).
#[test]
fn mp3_behind_a_large_id3v2_tag_decodes() {
    let mp3 = std::fs::read(fixture("tone.mp3")).expect("read tone.mp3");
    let tag_body_len: u32 = 1_200_000; // all padding: zero bytes
    let syncsafe = [21, 14, 7, 0].map(|shift| ((tag_body_len >> shift) & 0x7f) as u8);
    let mut bytes = b"ID3\x03\x00\x00".to_vec();
    bytes.extend(syncsafe);
    bytes.resize(bytes.len() + tag_body_len as usize, 0);
    bytes.extend(mp3);
    let audio = decode_reader(Cursor::new(bytes), Some("mp3"), Path::new("tagged.mp3"))
        .expect("decode the tagged MP3");
    assert_eq!(audio.num_frames(), LOSSY_FRAMES);
    assert_eq!(audio.num_channels(), 2);
}

/// Flips 40 bytes of `mp3` at `offset`; at the offsets used below this makes exactly one packet
/// of tone.mp3 undecodable (found by trying; MP3 has no checksum, so most damage decodes
/// silently into wrong samples and cannot be caught at all).
fn damage(mp3: &mut [u8], offset: usize) {
    mp3[offset..offset + 40].iter_mut().for_each(|b| *b ^= 0xff);
}

/// Byte length of the MPEG-1 Layer III frame starting at `frame`.
fn mpeg1_layer3_frame_len(frame: &[u8]) -> usize {
    const KBPS: [usize; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const RATES: [usize; 3] = [44_100, 48_000, 32_000];
    assert_eq!(
        &frame[..2],
        b"\xff\xfb",
        "not an MPEG-1 Layer III frame without CRC"
    );
    let kbps = KBPS[usize::from(frame[2] >> 4)];
    let rate = RATES[usize::from((frame[2] >> 2) & 3)];
    144_000 * kbps / rate + usize::from((frame[2] >> 1) & 1)
}

#[test]
fn one_bad_packet_in_a_short_mp3_is_corrupt() {
    let mut mp3 = std::fs::read(fixture("tone.mp3")).expect("read tone.mp3");
    damage(&mut mp3, 2400);
    let err = decode_reader(Cursor::new(mp3), Some("mp3"), Path::new("damaged.mp3"))
        .expect_err("1 bad packet in 11 is more than 1 in 100");
    assert!(
        err.to_string()
            .starts_with("damaged.mp3: corrupt audio data: 1 of 11 packets failed to decode"),
        "{err}"
    );
}

/// A long MP3 (tone.mp3 without its LAME/Info frame, ten times over: 110 packets) tolerates one
/// isolated bad packet, filled with silence so the length stays the same, but not two.
#[test]
fn long_mp3_tolerates_one_isolated_bad_packet_in_a_hundred() {
    let tone = std::fs::read(fixture("tone.mp3")).expect("read tone.mp3");
    let info_len = mpeg1_layer3_frame_len(&tone);
    let body = &tone[info_len..];
    let long: Vec<u8> = body.repeat(10);
    let decode = |bytes: Vec<u8>| decode_reader(Cursor::new(bytes), None, Path::new("long.mp3"));
    let clean = decode(long.clone()).expect("decode the clean stream");

    let mut once = long.clone();
    damage(&mut once, 5 * body.len() + 2400 - info_len);
    let patched = decode(once).expect("one bad packet in 110 is tolerated");
    assert_eq!(patched.num_frames(), clean.num_frames());
    assert_ne!(
        patched, clean,
        "the damage should have changed some samples"
    );

    let mut twice = long;
    for copy in [3, 7] {
        damage(&mut twice, copy * body.len() + 2400 - info_len);
    }
    let err = decode(twice).expect_err("two bad packets in 110 exceed 1 in 100");
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");
}
