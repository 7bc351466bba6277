//! Sung syllables from espeak-ng: each (voice, syllable) is spoken once per process on one flat
//! pitch (SSML `<prosody range="0">`), decoded, resampled to 44.1 kHz and analysed for PSOLA;
//! every later note reuses that analysis, so rendering never waits on espeak-ng again.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::{Context, bail, ensure};
use tessera_core::audio::channels::to_mono;
use tessera_core::audio::decode::decode_file;
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

/// Makes the WAV file names of concurrent espeak-ng runs unique within this process.
static RUN_COUNTER: AtomicU64 = AtomicU64::new(0);

/// [`speak`] with the espeak-ng executable `program`. espeak-ng writes a WAV file (its
/// `--stdout` stream cannot seek back to fill in the header's sizes), read with the
/// project's decoder and removed.
fn speak_with(program: &str, voice: &str, syllable: &str) -> anyhow::Result<(u32, Vec<f32>)> {
    let ssml = format!("<speak><prosody range=\"0\">{syllable}</prosody></speak>");
    let wav = std::env::temp_dir().join(format!(
        "tessera-espeak-{}-{}.wav",
        std::process::id(),
        RUN_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let output = Command::new(program)
        .args([
            "-v",
            voice,
            "-p",
            PITCH,
            "-s",
            WORDS_PER_MINUTE,
            "-z",
            "-m",
            "-w",
        ])
        .arg(&wav)
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
    let decoded = decode_file(&wav);
    // Best effort: a leftover temporary file is only clutter.
    let _ = std::fs::remove_file(&wav);
    ensure!(
        output.status.success(),
        "espeak-ng -v {voice} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let audio = decoded
        .with_context(|| format!("espeak-ng -v {voice} \"{syllable}\" wrote no usable WAV"))?;
    let samples = to_mono(&audio).channels.swap_remove(0);
    ensure!(
        !samples.is_empty(),
        "espeak-ng -v {voice} \"{syllable}\" wrote no samples"
    );
    Ok((audio.sample_rate, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

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
