//! Sung syllables from espeak-ng: each (voice, syllable) is spoken once per process on one flat
//! pitch (SSML `<prosody range="0">`), decoded, resampled to 44.1 kHz and analysed for PSOLA;
//! every later note reuses that analysis, so rendering never waits on espeak-ng again.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::process::Command;
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::{Context, bail, ensure};
use tessera_core::dsp::resample::{ResampleQuality, resample};

use super::composer::SAMPLE_RATE;
use super::psola::Syllable;

/// The espeak-ng voices songs are sung with: English with female variants whose flat pitch at
/// `-p 99` lies between 290 and 410 Hz, the middle of the A3–G5 melody range on a log scale,
/// so PSOLA shifts by at most about an octave either way.
pub const VOICES: [&str; 7] = [
    "en+f2",
    "en+f3",
    "en+f5",
    "en+belinda",
    "en+linda",
    "en+Annie",
    "en+Andrea",
];

/// The syllables sung: an optional voiced onset and one long vowel or diphthong, no final
/// consonant, so the vowel can be held for any note length.
pub const SYLLABLES: [&str; 12] = [
    "lah", "nah", "mah", "dah", "doo", "loo", "oh", "ooh", "hey", "no", "woah", "lie",
];

/// The espeak-ng executable, found on `PATH`.
const ESPEAK: &str = "espeak-ng";

/// espeak-ng's base pitch setting (0–99): the highest, see [`VOICES`].
const PITCH: &str = "99";

/// Speaking rate in words per minute (espeak-ng's slowest is 80): slow speech gives long
/// vowels that need less stretching.
const WORDS_PER_MINUTE: &str = "100";

/// Analysed syllables by (voice, syllable).
type Voicebank = HashMap<(String, String), Arc<Syllable>>;

/// The syllables sung so far in this process, filled on first use; espeak-ng is
/// deterministic, so one render per process serves every song.
static VOICEBANK: LazyLock<Mutex<Voicebank>> = LazyLock::new(Default::default);

/// The analysed `syllable` as sung by espeak-ng `voice` (one of [`VOICES`] and
/// [`SYLLABLES`]), rendering it on first use.
pub fn syllable(voice: &str, syllable: &str) -> anyhow::Result<Arc<Syllable>> {
    let key = (voice.to_owned(), syllable.to_owned());
    if let Some(found) = VOICEBANK.lock().expect("voicebank lock").get(&key) {
        return Ok(found.clone());
    }
    ensure!(
        VOICES.contains(&voice),
        "\"{voice}\" is not one of the espeak-ng voices songs are sung with ({})",
        VOICES.join(", ")
    );
    ensure!(
        SYLLABLES.contains(&syllable),
        "\"{syllable}\" is not one of the sung syllables ({})",
        SYLLABLES.join(", ")
    );
    let (sample_rate, samples) = speak(voice, syllable)?;
    let samples = resample(
        &samples,
        sample_rate,
        SAMPLE_RATE,
        ResampleQuality::Balanced,
    )?;
    let analysed = Syllable::analyse(samples, SAMPLE_RATE).with_context(|| {
        format!("espeak-ng voice {voice} singing \"{syllable}\" cannot be used")
    })?;
    let analysed = Arc::new(analysed);
    // Another thread may have rendered it meanwhile; both renders are identical.
    VOICEBANK
        .lock()
        .expect("voicebank lock")
        .insert(key, analysed.clone());
    Ok(analysed)
}

/// Runs espeak-ng on `syllable` at one flat pitch and returns its sample rate and samples.
fn speak(voice: &str, syllable: &str) -> anyhow::Result<(u32, Vec<f32>)> {
    speak_with(ESPEAK, voice, syllable)
}

/// [`speak`] with the espeak-ng executable `program`.
fn speak_with(program: &str, voice: &str, syllable: &str) -> anyhow::Result<(u32, Vec<f32>)> {
    let ssml = format!("<speak><prosody range=\"0\">{syllable}</prosody></speak>");
    let output = Command::new(program)
        .args(["-v", voice, "-p", PITCH, "-s", WORDS_PER_MINUTE, "-z", "-m"])
        .arg("--stdout")
        .arg(&ssml)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => bail!(
            "espeak-ng is not installed, and songs whose vocals espeak-ng sings need it: \
             install it with `sudo apt-get install espeak-ng` (or run `cargo xtask test` as \
             root, which installs it)"
        ),
        Err(error) => return Err(error).context("cannot run espeak-ng"),
    };
    ensure!(
        output.status.success(),
        "espeak-ng -v {voice} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    parse_wav(&output.stdout)
        .with_context(|| format!("espeak-ng -v {voice} \"{syllable}\" wrote no usable WAV"))
}

/// Reads espeak-ng's `--stdout` WAV: 16-bit PCM mono whose RIFF and data sizes are
/// placeholders (a stream cannot seek back), so the data runs to the end of the bytes.
fn parse_wav(bytes: &[u8]) -> anyhow::Result<(u32, Vec<f32>)> {
    ensure!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "not a RIFF/WAVE stream"
    );
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let mut at = 12;
    let mut sample_rate = None;
    while at + 8 <= bytes.len() {
        let (id, size) = (&bytes[at..at + 4], u32_at(at + 4) as usize);
        let body = at + 8;
        if id == b"fmt " {
            ensure!(body + 16 <= bytes.len(), "truncated fmt chunk");
            let (format, channels, bits) = (u16_at(body), u16_at(body + 2), u16_at(body + 14));
            ensure!(
                format == 1 && channels == 1 && bits == 16,
                "expected 16-bit PCM mono, got format {format}, {channels} channels, {bits} bits"
            );
            sample_rate = Some(u32_at(body + 4));
        } else if id == b"data" {
            let sample_rate = sample_rate.context("the data chunk comes before fmt")?;
            let samples: Vec<f32> = bytes[body..]
                .chunks_exact(2)
                .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32768.0)
                .collect();
            ensure!(!samples.is_empty(), "no samples");
            return Ok((sample_rate, samples));
        }
        at = body + size + size % 2;
    }
    bail!("no data chunk")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_wav_is_read_to_its_end() {
        let mut bytes = b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00".to_vec();
        bytes.extend([1, 0, 1, 0]);
        bytes.extend(22_050u32.to_le_bytes());
        bytes.extend(44_100u32.to_le_bytes());
        bytes.extend([2, 0, 16, 0]);
        bytes.extend(b"data\xff\xff\xff\x7f");
        bytes.extend([0x00, 0x40, 0x00, 0xc0]);
        let (rate, samples) = parse_wav(&bytes).unwrap();
        assert_eq!((rate, samples), (22_050, vec![0.5, -0.5]));
        assert!(parse_wav(b"RIFF\0\0\0\0WAVE").is_err());
    }

    #[test]
    fn a_missing_espeak_ng_says_how_to_install_it() {
        let error = speak_with("espeak-ng-not-installed-here", VOICES[0], "lah").unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("espeak-ng is not installed")
                && message.contains("apt-get install espeak-ng"),
            "{message}"
        );
    }

    #[test]
    fn every_voice_and_syllable_is_found_at_its_flat_pitch() {
        // Twelve pairs cover every voice and every syllable.
        for (i, word) in SYLLABLES.iter().enumerate() {
            let voice = VOICES[i % VOICES.len()];
            let hz = syllable(voice, word).unwrap().source_hz();
            assert!(
                (250.0..450.0).contains(&hz),
                "{voice} \"{word}\" at {hz:.0} Hz"
            );
        }
    }

    #[test]
    fn unknown_voices_and_syllables_are_refused() {
        let voice = format!("{:#}", syllable("en+nobody", "lah").unwrap_err());
        assert!(voice.contains("en+nobody"), "{voice}");
        let word = format!("{:#}", syllable(VOICES[0], "<break/>").unwrap_err());
        assert!(word.contains("<break/>"), "{word}");
    }
}
