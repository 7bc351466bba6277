//! Loading General MIDI SoundFonts for rustysynth, with one clear error per bad file.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use rustysynth::{SoundFont, SoundFontError};

/// The SoundFont tests and CI render with (Debian `timgm6mb-soundfont`, 6 MB).
pub const TEST_SOUNDFONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

/// The default SoundFont for real data sets (Debian `fluid-soundfont-gm`, 140 MB).
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

/// A loaded SoundFont and the file it came from (kept for labels and error messages).
#[derive(Clone)]
pub struct LoadedSoundFont {
    /// The parsed SoundFont, shared by every synthesizer rendering with it.
    pub sound_font: Arc<SoundFont>,
    /// Where it was read from.
    pub path: PathBuf,
}

impl std::fmt::Debug for LoadedSoundFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedSoundFont")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Reads an SF2 file. Missing files, SF3 (Ogg-compressed samples, which rustysynth cannot
/// read) and damaged files are refused with a sentence naming the file and what to do.
pub fn load_soundfont(path: &Path) -> anyhow::Result<LoadedSoundFont> {
    let file = File::open(path).with_context(|| {
        format!(
            "cannot open the SoundFont {} (Debian: apt-get install timgm6mb-soundfont or \
             fluid-soundfont-gm)",
            path.display()
        )
    })?;
    let sound_font = match SoundFont::new(&mut BufReader::new(file)) {
        Ok(sound_font) => sound_font,
        Err(SoundFontError::UnsupportedSampleFormat) => bail!(
            "{}: compressed (SF3) samples are not supported; use an SF2 SoundFont",
            path.display()
        ),
        Err(error) => bail!(
            "{}: not a readable SF2 SoundFont ({error:?})",
            path.display()
        ),
    };
    Ok(LoadedSoundFont {
        sound_font: Arc::new(sound_font),
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("tessera-sf2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.sf2");
        let garbage = dir.join("garbage.sf2");
        std::fs::write(&garbage, b"RIFF\x04\x00\x00\x00sfbk").unwrap();
        for path in [&missing, &garbage] {
            let message = format!("{:#}", load_soundfont(path).unwrap_err());
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_test_soundfont_has_general_midi_presets() {
        let loaded =
            load_soundfont(Path::new(TEST_SOUNDFONT)).expect("timgm6mb-soundfont is installed");
        let presets = loaded.sound_font.get_presets();
        // A GM bank: 128 melodic programs in bank 0 and a drum kit in bank 128.
        assert!(presets.iter().filter(|p| p.get_bank_number() == 0).count() >= 128);
        assert!(presets.iter().any(|p| p.get_bank_number() == 128));
    }
}
