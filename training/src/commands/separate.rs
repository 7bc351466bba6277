//! `tessera separate IN... --out DIR [--model PATH]`: split recordings into vocals, drums,
//! bass and other with the embedded default separator (or a trained one).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::Device;
use clap::Args;
use tessera_core::audio::decode::decode_file;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_core::models::Separator;
use tessera_core::models::separator::STEMS;
use tessera_core::separation::{StreamingSeparator, separate_audio};

use crate::progress;

/// Arguments of `tessera separate`.
#[derive(Debug, Args)]
pub struct SeparateArgs {
    /// Audio files to separate (WAV, FLAC, MP3, OGG/Vorbis, AIFF; any rate, any channels).
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Folder the stems are written to: DIR/<input name>/{vocals,drums,bass,other}.wav.
    #[arg(long)]
    pub out: PathBuf,
    /// A separator written by `tessera finetune separator` instead of the embedded default.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// The separator a command asked for: `path`, or the embedded default.
pub fn load_separator(path: Option<&Path>, device: &Device) -> anyhow::Result<Separator> {
    Ok(match path {
        Some(path) => Separator::load(path, device)?,
        None => tessera_core::embedded::default_separator(device)?,
    })
}

pub fn run(args: &SeparateArgs) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let model = load_separator(args.model.as_deref(), &device)?;
    let mut separator = StreamingSeparator::new(model, device);
    for input in &args.inputs {
        let audio =
            decode_file(input).with_context(|| format!("cannot separate {}", input.display()))?;
        if audio.num_frames() == 0 {
            bail!("{} holds no audio samples", input.display());
        }
        if audio.channels.iter().flatten().any(|v| !v.is_finite()) {
            bail!("{} contains NaN or infinite samples", input.display());
        }
        let name = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "audio".to_owned());
        let folder = args.out.join(&name);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        let bar = progress::bar(audio.num_frames() as u64, &name);
        let began = Instant::now();
        let stems = separate_audio(&mut separator, &audio, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
        bar.finish_and_clear();
        let seconds = began.elapsed().as_secs_f64();
        for (stem, audio) in STEMS.iter().zip(&stems) {
            let path = folder.join(format!("{stem}.wav"));
            write_wav(&path, audio, WavSampleFormat::Float32)?;
        }
        let duration = audio.num_frames() as f64 / f64::from(audio.sample_rate);
        println!(
            "{}: {duration:.1} s separated in {seconds:.1} s (real-time factor {:.2}) → {}/{{{}}}.wav",
            input.display(),
            seconds / duration,
            folder.display(),
            STEMS.join(",")
        );
    }
    Ok(())
}
