//! Training crops cut from folders of real recorded audio: every WAV/FLAC/MP3/OGG/AIFF file
//! under a folder, recursively, plus the audio members of `.pk3`/`.zip` archives inside it
//! (games such as Wesnoth or UFO:AI ship their music that way).
//!
//! Files are decoded lazily, when a crop is first drawn from them, converted to the wanted
//! channel layout and sample rate, and kept in a small least-recently-used cache. Each crop is
//! loudness-normalised (ITU-R BS.1770 integrated loudness, measured with the `ebur128` crate)
//! to a target level, with the gain lowered where needed so no sample exceeds a peak limit.
//! A file that cannot be read is reported once on stderr, remembered in
//! [`RealAudioCrops::skipped`] and never drawn again; only when no file is readable at all is
//! that an error.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use ebur128::{EbuR128, Mode};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};
use tessera_core::audio::AudioBuffer;
use tessera_core::audio::channels::{to_mono, to_stereo};
use tessera_core::audio::decode::{AUDIO_EXTENSIONS, decode_file, decode_reader};
use tessera_core::dsp::resample::{ResampleQuality, resample_planar};

use crate::files::files_with_extensions;

/// Extensions of zip archives whose audio members are read too (`.pk3` is a renamed zip).
pub const ARCHIVE_EXTENSIONS: [&str; 2] = ["pk3", "zip"];

/// Consecutive draws that may all land on silent (or unreadable) material before giving up,
/// so a folder of silence ends in an error instead of an endless loop.
const MAX_FRUITLESS_DRAWS: usize = 1000;

/// One piece of audio that crops can be drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// An audio file on disk.
    File(PathBuf),
    /// An audio file stored inside a zip archive (`.pk3`/`.zip`).
    ArchiveMember {
        /// The archive on disk.
        archive: PathBuf,
        /// The member's path inside the archive, as the archive spells it.
        member: String,
    },
}

impl AudioSource {
    /// The name used in messages and manifests: the file's path, or `archive.pk3/member/path.ogg`.
    pub fn name(&self) -> PathBuf {
        match self {
            Self::File(path) => path.clone(),
            Self::ArchiveMember { archive, member } => archive.join(member),
        }
    }

    /// The source's file name (without folders), used as its label.
    pub fn file_name(&self) -> String {
        let name = self.name();
        name.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string_lossy().into_owned())
    }

    /// Decodes the whole source. Errors name the file or archive member.
    pub fn decode(&self) -> anyhow::Result<AudioBuffer> {
        match self {
            Self::File(path) => Ok(decode_file(path)?),
            Self::ArchiveMember { archive, member } => {
                let name = self.name();
                let bytes = read_archive_member(archive, member)
                    .with_context(|| format!("{}: cannot read the member", name.display()))?;
                let extension = Path::new(member).extension().and_then(|e| e.to_str());
                Ok(decode_reader(Cursor::new(bytes), extension, &name)?)
            }
        }
    }
}

/// Opens `archive` and reads the bytes of `member`.
fn read_archive_member(archive: &Path, member: &str) -> anyhow::Result<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(File::open(archive)?)?;
    let mut file = zip.by_name(member)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Audio members (by extension) of the zip archive at `archive`, in the archive's order.
fn archive_members(archive: &Path) -> anyhow::Result<Vec<String>> {
    let file = File::open(archive)?;
    let zip = zip::ZipArchive::new(file).context("not a readable zip archive")?;
    let mut members = Vec::new();
    for name in zip.file_names() {
        let name = name?;
        let is_audio = Path::new(name.as_ref())
            .extension()
            .is_some_and(|ext| AUDIO_EXTENSIONS.iter().any(|k| ext.eq_ignore_ascii_case(k)));
        if is_audio && !name.ends_with('/') {
            members.push(name.into_owned());
        }
    }
    members.sort();
    Ok(members)
}

/// What was found under a folder: the audio sources, and the archives that could not be
/// listed (path, reason).
#[derive(Debug, Default)]
pub struct FoundSources {
    /// Audio files and archive members, files first in path order, then archive members.
    pub sources: Vec<AudioSource>,
    /// Archives that could not be opened or listed, with the reason.
    pub unreadable_archives: Vec<(PathBuf, String)>,
}

/// Every audio file under `dir` (recursively) and every audio member of the `.pk3`/`.zip`
/// archives there. An unreadable folder is an error; an unreadable archive is only recorded.
pub fn find_sources(dir: &Path) -> anyhow::Result<FoundSources> {
    if !dir.is_dir() {
        bail!("{}: not a folder", dir.display());
    }
    let mut found = FoundSources {
        sources: files_with_extensions(dir, &AUDIO_EXTENSIONS)?
            .into_iter()
            .map(AudioSource::File)
            .collect(),
        ..FoundSources::default()
    };
    for archive in files_with_extensions(dir, &ARCHIVE_EXTENSIONS)? {
        match archive_members(&archive) {
            Ok(members) => {
                found.sources.extend(
                    members
                        .into_iter()
                        .map(|member| AudioSource::ArchiveMember {
                            archive: archive.clone(),
                            member,
                        }),
                )
            }
            Err(err) => found
                .unreadable_archives
                .push((archive, format!("{err:#}"))),
        }
    }
    Ok(found)
}

/// How crops are cut and normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CropConfig {
    /// Sample rate of the crops in Hz (sources are resampled to it).
    pub sample_rate: u32,
    /// Length of each crop in seconds.
    pub crop_secs: f64,
    /// Two channels (a stereo mix of the source) instead of one (a mono mix).
    pub stereo: bool,
    /// Integrated loudness each crop is normalised to, in LUFS (EBU R128 uses −23).
    pub target_lufs: f64,
    /// Largest absolute sample value allowed after normalisation; the gain is lowered to
    /// respect it, so crops never clip (their loudness then falls short of the target).
    pub peak_limit: f32,
    /// Crops quieter than this (LUFS, before normalisation) are silence or near it and are
    /// drawn again rather than amplified.
    pub min_lufs: f64,
    /// Memory for decoded and resampled sources, in MiB; a draw from a cached source skips
    /// decoding it again (decoding dominates the cost of a crop). 1 GiB holds about 4.5 hours
    /// of 16 kHz mono. The most recently used source is always kept, whatever its size.
    pub cache_mib: usize,
}

impl Default for CropConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            crop_secs: 4.0,
            stereo: false,
            target_lufs: -23.0,
            peak_limit: 0.99,
            min_lufs: -60.0,
            cache_mib: 1024,
        }
    }
}

impl CropConfig {
    /// Length of a crop in frames at the crop sample rate.
    pub fn crop_frames(&self) -> usize {
        (self.crop_secs * f64::from(self.sample_rate)).round() as usize
    }

    /// Rejects settings that cannot produce crops.
    fn check(&self) -> anyhow::Result<()> {
        if self.sample_rate == 0 {
            bail!("the crop sample rate must be positive");
        }
        if !(self.crop_secs.is_finite() && self.crop_secs > 0.0) || self.crop_frames() < 1 {
            bail!(
                "the crop length must be a positive number of seconds (got {})",
                self.crop_secs
            );
        }
        // BS.1770 measures in 400 ms blocks: a shorter crop has no integrated loudness.
        if self.crop_secs < 0.4 {
            bail!(
                "crops must last at least 0.4 s to measure their loudness (got {} s)",
                self.crop_secs
            );
        }
        if !(self.peak_limit.is_finite() && self.peak_limit > 0.0) {
            bail!("the peak limit must be positive (got {})", self.peak_limit);
        }
        if !self.target_lufs.is_finite() || !self.min_lufs.is_finite() {
            bail!("loudness levels must be finite numbers");
        }
        Ok(())
    }
}

/// One training crop.
#[derive(Debug, Clone)]
pub struct Crop {
    /// The audio, normalised, at the configured rate and channel count.
    pub audio: AudioBuffer,
    /// Where it was cut from.
    pub source: AudioSource,
    /// Start of the crop within the source, in seconds.
    pub start_secs: f64,
    /// End of the crop's material within the source, in seconds (less than `start + length`
    /// when the source is shorter than a crop and the rest is silence).
    pub end_secs: f64,
    /// Integrated loudness of the crop before normalisation, in LUFS.
    pub loudness_lufs: f64,
    /// Gain applied, in dB.
    pub gain_db: f64,
}

/// Draws normalised training crops at random from the audio under a folder.
pub struct RealAudioCrops {
    /// How crops are made.
    config: CropConfig,
    /// Every source found; indices into it identify sources everywhere else.
    sources: Vec<AudioSource>,
    /// Indices of the sources not (yet) found unreadable: the ones draws pick from.
    live: Vec<usize>,
    /// Sources and archives that could not be read, with the reason, in the order found.
    skipped: Vec<(PathBuf, String)>,
    /// Decoded sources, least recently used first.
    cache: Vec<(usize, Arc<AudioBuffer>)>,
}

impl RealAudioCrops {
    /// Finds the audio under `dir`. Unreadable archives are reported on stderr and skipped; a
    /// folder with no audio at all is an error.
    pub fn open(dir: &Path, config: CropConfig) -> anyhow::Result<Self> {
        config.check()?;
        let found = find_sources(dir)?;
        for (archive, reason) in &found.unreadable_archives {
            report_skipped(archive, reason);
        }
        if found.sources.is_empty() {
            bail!(
                "{}: no audio found (looked for .{} files and .{} archives holding them, \
                 in all subfolders)",
                dir.display(),
                AUDIO_EXTENSIONS.join(", ."),
                ARCHIVE_EXTENSIONS.join(", .")
            );
        }
        Ok(Self {
            config,
            live: (0..found.sources.len()).collect(),
            sources: found.sources,
            skipped: found.unreadable_archives,
            cache: Vec::new(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &CropConfig {
        &self.config
    }

    /// Every source found, readable or not.
    pub fn sources(&self) -> &[AudioSource] {
        &self.sources
    }

    /// Files, archive members and archives found unreadable so far, with the reason.
    pub fn skipped(&self) -> &[(PathBuf, String)] {
        &self.skipped
    }

    /// Draws the next crop: a source uniformly among the readable ones, then a start uniformly
    /// within it, both from `rng`, so the same seed and data give the same crops. Unreadable
    /// sources met on the way are skipped (reported once); silent crops are drawn again.
    /// Errors when no source is readable or no audible crop turns up.
    pub fn next_crop<R: Rng + ?Sized>(&mut self, rng: &mut R) -> anyhow::Result<Crop> {
        for _ in 0..MAX_FRUITLESS_DRAWS {
            if self.live.is_empty() {
                let (first, reason) = self.skipped.first().map_or_else(
                    || (String::new(), String::new()),
                    |(p, r)| (p.display().to_string(), r.clone()),
                );
                bail!(
                    "none of the {} audio sources could be read (the first, {first}: {reason})",
                    self.sources.len()
                );
            }
            let slot = rng.random_range(0..self.live.len());
            let index = self.live[slot];
            let Some(audio) = self.load(index) else {
                self.live.remove(slot);
                continue;
            };
            let crop = self.cut(index, &audio, rng)?;
            if let Some(crop) = crop {
                return Ok(crop);
            }
        }
        bail!(
            "{MAX_FRUITLESS_DRAWS} draws in a row found only crops quieter than {} LUFS: \
             is the audio silent?",
            self.config.min_lufs
        )
    }

    /// The decoded, converted source `index`, from the cache or freshly decoded; `None` (after
    /// recording and reporting the failure) when it cannot be read.
    fn load(&mut self, index: usize) -> Option<Arc<AudioBuffer>> {
        if let Some(at) = self.cache.iter().position(|(i, _)| *i == index) {
            let entry = self.cache.remove(at);
            let audio = Arc::clone(&entry.1);
            self.cache.push(entry);
            return Some(audio);
        }
        match self.prepare(&self.sources[index]) {
            Ok(audio) => {
                let audio = Arc::new(audio);
                self.cache.push((index, Arc::clone(&audio)));
                let budget = self.config.cache_mib.saturating_mul(1 << 20);
                while self.cache.len() > 1
                    && self.cache.iter().map(|(_, a)| bytes_of(a)).sum::<usize>() > budget
                {
                    self.cache.remove(0);
                }
                Some(audio)
            }
            Err(err) => {
                let name = self.sources[index].name();
                // Audio errors begin with the name already; say it only once.
                let reason = format!("{err:#}");
                let reason = reason
                    .strip_prefix(&format!("{}: ", name.display()))
                    .map_or(reason.clone(), str::to_owned);
                report_skipped(&name, &reason);
                self.skipped.push((name, reason));
                None
            }
        }
    }

    /// Decodes `source` and converts it to the crop layout and rate.
    fn prepare(&self, source: &AudioSource) -> anyhow::Result<AudioBuffer> {
        let decoded = source.decode()?;
        let mixed = if self.config.stereo {
            to_stereo(&decoded)
        } else {
            to_mono(&decoded)
        };
        let planar: Vec<&[f32]> = mixed.channels.iter().map(Vec::as_slice).collect();
        let channels = resample_planar(
            &planar,
            mixed.sample_rate,
            self.config.sample_rate,
            ResampleQuality::Balanced,
        )
        .with_context(|| format!("{}: cannot resample", source.name().display()))?;
        Ok(AudioBuffer {
            sample_rate: self.config.sample_rate,
            channels,
        })
    }

    /// Cuts a random crop from the prepared source and normalises it; `None` when it is too
    /// quiet to use.
    fn cut<R: Rng + ?Sized>(
        &self,
        index: usize,
        audio: &AudioBuffer,
        rng: &mut R,
    ) -> anyhow::Result<Option<Crop>> {
        let frames = self.config.crop_frames();
        let available = audio.num_frames();
        let start = if available > frames {
            rng.random_range(0..=available - frames)
        } else {
            0
        };
        let end = (start + frames).min(available);
        let mut channels: Vec<Vec<f32>> = audio
            .channels
            .iter()
            .map(|c| {
                let mut crop = c[start..end].to_vec();
                crop.resize(frames, 0.0);
                crop
            })
            .collect();
        let loudness = integrated_loudness(&channels, self.config.sample_rate)?;
        if loudness.is_nan() || loudness < self.config.min_lufs {
            return Ok(None);
        }
        let gain_db = normalise(
            &mut channels,
            loudness,
            self.config.target_lufs,
            self.config.peak_limit,
        );
        let rate = f64::from(self.config.sample_rate);
        Ok(Some(Crop {
            audio: AudioBuffer {
                sample_rate: self.config.sample_rate,
                channels,
            },
            source: self.sources[index].clone(),
            start_secs: start as f64 / rate,
            end_secs: end as f64 / rate,
            loudness_lufs: loudness,
            gain_db,
        }))
    }
}

/// Memory held by the samples of `audio`.
fn bytes_of(audio: &AudioBuffer) -> usize {
    audio.channels.iter().map(Vec::len).sum::<usize>() * size_of::<f32>()
}

/// Prints the one line that tells the user a file is skipped.
fn report_skipped(path: &Path, reason: &str) {
    eprintln!("skipping unreadable {}: {reason}", path.display());
}

/// ITU-R BS.1770 integrated loudness of planar audio in LUFS (−∞ for silence).
pub fn integrated_loudness(channels: &[Vec<f32>], sample_rate: u32) -> anyhow::Result<f64> {
    let mut meter = EbuR128::new(channels.len() as u32, sample_rate, Mode::I)
        .context("cannot set up the loudness meter")?;
    let planar: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    meter
        .add_frames_planar_f32(&planar)
        .context("cannot measure loudness")?;
    meter.loudness_global().context("cannot measure loudness")
}

/// Scales `channels` (measured at `loudness_lufs`) towards `target_lufs`, lowering the gain
/// where needed so the largest absolute sample stays at or below `peak_limit`. Returns the
/// gain applied in dB.
pub fn normalise(
    channels: &mut [Vec<f32>],
    loudness_lufs: f64,
    target_lufs: f64,
    peak_limit: f32,
) -> f64 {
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f32, |peak, &x| peak.max(x.abs()));
    let mut gain = 10f64.powf((target_lufs - loudness_lufs) / 20.0);
    if peak > 0.0 {
        gain = gain.min(f64::from(peak_limit) / f64::from(peak));
    }
    let gain_f32 = gain as f32;
    channels.iter_mut().flatten().for_each(|x| *x *= gain_f32);
    20.0 * gain.log10()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use tessera_core::audio::encode::{WavSampleFormat, write_wav};

    use super::*;

    /// A fresh folder under the temp dir for one test.
    fn scratch(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-real-audio-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Deterministic white-ish noise (a linear congruential generator) at amplitude `amp`.
    fn noise(len: usize, amp: f32, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amp * ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    fn tone(len: usize, rate: u32, hz: f32, amp: f32) -> Vec<f32> {
        (0..len)
            .map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    fn write(path: &Path, rate: u32, channels: Vec<Vec<f32>>) {
        let audio = AudioBuffer {
            sample_rate: rate,
            channels,
        };
        write_wav(path, &audio, WavSampleFormat::Float32).unwrap();
    }

    #[test]
    fn normalisation_hits_the_target_loudness() {
        let rate = 16_000;
        for (name, signal) in [
            ("tone", tone(rate as usize * 3, rate, 997.0, 0.02)),
            ("noise", noise(rate as usize * 3, 0.5, 3)),
        ] {
            let mut channels = vec![signal];
            let before = integrated_loudness(&channels, rate).unwrap();
            normalise(&mut channels, before, -23.0, 0.99);
            let after = integrated_loudness(&channels, rate).unwrap();
            assert!((after + 23.0).abs() <= 0.5, "{name}: {after} LUFS");
        }
    }

    #[test]
    fn the_peak_limit_wins_over_the_target() {
        // A single click is very quiet but peaky: full gain to −23 LUFS would clip it.
        let mut channels = vec![vec![0.0f32; 16_000]];
        channels[0][8000] = 0.5;
        let before = integrated_loudness(&channels, 16_000).unwrap();
        let gain_db = normalise(&mut channels, before, -10.0, 0.9);
        let peak = channels[0].iter().fold(0.0f32, |p, x| p.max(x.abs()));
        assert!((peak - 0.9).abs() < 1e-6, "peak {peak}");
        assert!((gain_db - 20.0 * (1.8f64).log10()).abs() < 1e-6);
    }

    #[test]
    fn crops_are_deterministic_for_a_seed_and_normalised() {
        let dir = scratch("determinism");
        write(&dir.join("a.wav"), 22_050, vec![noise(22_050 * 3, 0.3, 1)]);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        write(
            &dir.join("sub/b.wav"),
            16_000,
            vec![noise(16_000 * 2, 0.1, 2), noise(16_000 * 2, 0.1, 5)],
        );
        let config = CropConfig {
            crop_secs: 1.0,
            ..CropConfig::default()
        };
        let draw = |seed: u64| {
            let mut crops = RealAudioCrops::open(&dir, config.clone()).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..6)
                .map(|_| crops.next_crop(&mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        let (first, again, other) = (draw(9), draw(9), draw(10));
        let key = |crops: &[Crop]| {
            crops
                .iter()
                .map(|c| (c.source.name(), c.start_secs, c.audio.channels.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&first), key(&again));
        assert_ne!(key(&first), key(&other));
        for crop in &first {
            assert_eq!(crop.audio.sample_rate, 16_000);
            assert_eq!(crop.audio.channels.len(), 1);
            assert_eq!(crop.audio.num_frames(), 16_000);
            let loudness = integrated_loudness(&crop.audio.channels, 16_000).unwrap();
            assert!((loudness + 23.0).abs() <= 0.5, "{loudness} LUFS");
            assert!((crop.end_secs - crop.start_secs - 1.0).abs() < 1e-9);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn archive_members_decode_and_a_corrupt_one_is_skipped_once() {
        let dir = scratch("archive");
        let wav = dir.join("tone.wav");
        write(&wav, 16_000, vec![tone(16_000 * 2, 16_000, 440.0, 0.3)]);
        let wav_bytes = std::fs::read(&wav).unwrap();
        std::fs::remove_file(&wav).unwrap();
        let mut zip = zip::ZipWriter::new(File::create(dir.join("music.pk3")).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("music/good.wav", options).unwrap();
        zip.write_all(&wav_bytes).unwrap();
        zip.start_file("music/bad.ogg", options).unwrap();
        zip.write_all(b"OggS this is not really vorbis").unwrap();
        zip.start_file("readme.txt", options).unwrap();
        zip.write_all(b"not audio").unwrap();
        zip.finish().unwrap();

        let mut crops = RealAudioCrops::open(
            &dir,
            CropConfig {
                crop_secs: 0.5,
                ..CropConfig::default()
            },
        )
        .unwrap();
        let names: Vec<String> = crops
            .sources()
            .iter()
            .map(|s| s.name().display().to_string())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.contains("music.pk3")), "{names:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..20 {
            let crop = crops.next_crop(&mut rng).unwrap();
            assert_eq!(crop.source.file_name(), "good.wav");
        }
        assert_eq!(crops.skipped().len(), 1, "{:?}", crops.skipped());
        assert!(crops.skipped()[0].0.ends_with("music.pk3/music/bad.ogg"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_audio_and_no_readable_audio_are_clear_errors() {
        let dir = scratch("empty");
        let message = format!(
            "{:#}",
            RealAudioCrops::open(&dir, CropConfig::default())
                .err()
                .unwrap()
        );
        assert!(message.contains("no audio found"), "{message}");

        std::fs::write(dir.join("broken.wav"), b"RIFF nonsense").unwrap();
        let mut crops = RealAudioCrops::open(&dir, CropConfig::default()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let message = format!("{:#}", crops.next_crop(&mut rng).unwrap_err());
        assert!(
            message.contains("none of the 1 audio sources") && message.contains("broken.wav"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn silence_is_an_error_not_a_hang() {
        let dir = scratch("silence");
        write(&dir.join("quiet.wav"), 16_000, vec![vec![0.0; 16_000]]);
        let mut crops = RealAudioCrops::open(
            &dir,
            CropConfig {
                crop_secs: 0.5,
                ..CropConfig::default()
            },
        )
        .unwrap();
        let message = format!(
            "{:#}",
            crops
                .next_crop(&mut ChaCha8Rng::seed_from_u64(0))
                .unwrap_err()
        );
        assert!(message.contains("silent"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
