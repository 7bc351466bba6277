//! `tessera spectrogram IN --out x.png`: the log-mel spectrogram of an audio file as a
//! figure, and the statistics a producer or researcher checks first.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use ndarray::Axis;
use tessera_core::audio::{AudioBuffer, channels, decode};
use tessera_core::dsp::mel::{LogMel, MelConfig, mel_frequencies};
use tessera_core::dsp::resample::{ResampleQuality, resample};
use tessera_core::dsp::spectrogram::{DbReference, DbScaling};

use crate::plot::{SpectrogramFigure, render_spectrogram_png};
use crate::progress;

#[derive(Debug, Args)]
pub struct SpectrogramArgs {
    /// Audio file to analyse (WAV, FLAC, MP3, OGG/Vorbis, AIFF).
    pub input: PathBuf,
    /// PNG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Analysis sample rate in Hz; the audio is resampled to it first. The default is the
    /// models' front end.
    #[arg(long, default_value_t = MelConfig::default().sample_rate)]
    pub sample_rate: u32,
    /// FFT length in samples.
    #[arg(long, default_value_t = MelConfig::default().n_fft)]
    pub n_fft: usize,
    /// Hop between frames in samples.
    #[arg(long, default_value_t = MelConfig::default().hop_length)]
    pub hop: usize,
    /// Number of mel bands.
    #[arg(long, default_value_t = MelConfig::default().n_mels)]
    pub n_mels: usize,
    /// Lowest mel filter edge in Hz.
    #[arg(long, default_value_t = 0.0)]
    pub fmin: f64,
    /// Highest mel filter edge in Hz (default: half the analysis rate).
    #[arg(long)]
    pub fmax: Option<f64>,
    /// Dynamic range shown, in dB below the loudest bin.
    #[arg(long, default_value_t = 80.0)]
    pub top_db: f32,
    /// Image size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1200x480", value_parser = parse_size)]
    pub size: (u32, u32),
}

/// What `tessera spectrogram` measured, printed after the figure is written.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrogramSummary {
    /// The file analysed.
    pub input: PathBuf,
    /// The file's own sample rate in Hz.
    pub source_rate: u32,
    /// The file's channel count.
    pub channels: usize,
    /// Length in seconds.
    pub duration_secs: f64,
    /// Largest absolute sample over all channels, dB re full scale (−∞ for silence).
    pub peak_dbfs: f64,
    /// Root-mean-square level over all channels, dB re full scale (−∞ for silence).
    pub rms_dbfs: f64,
    /// Mel bands × frames of the analysis.
    pub shape: (usize, usize),
    /// Mean log-mel level per band is highest at this band centre frequency (Hz).
    pub loudest_band_hz: f64,
    /// Mean of the log-mel spectrogram in dB re its loudest bin.
    pub mean_db: f32,
}

impl fmt::Display for SpectrogramSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.input.display())?;
        writeln!(
            f,
            "  audio      {:.2} s, {} Hz, {} channel(s)",
            self.duration_secs, self.source_rate, self.channels
        )?;
        writeln!(
            f,
            "  level      peak {:.1} dBFS, RMS {:.1} dBFS",
            self.peak_dbfs, self.rms_dbfs
        )?;
        writeln!(
            f,
            "  log-mel    {} bands x {} frames, mean {:.1} dB re max, loudest band {:.0} Hz",
            self.shape.0, self.shape.1, self.mean_db, self.loudest_band_hz
        )
    }
}

pub fn run(args: &SpectrogramArgs) -> Result<()> {
    let summary = render(args)?;
    print!("{summary}");
    println!("  figure     {}", args.out.display());
    Ok(())
}

/// Decodes, analyses and draws `args.input`; returns what it measured.
pub fn render(args: &SpectrogramArgs) -> Result<SpectrogramSummary> {
    let config = MelConfig {
        sample_rate: args.sample_rate,
        n_fft: args.n_fft,
        hop_length: args.hop,
        n_mels: args.n_mels,
        fmin: args.fmin,
        fmax: args.fmax,
        ..MelConfig::default()
    };
    let scaling = DbScaling {
        reference: DbReference::Max,
        top_db: Some(args.top_db),
        ..DbScaling::default()
    };
    let log_mel = LogMel::new(&config, scaling).context("invalid analysis settings")?;

    // Decoding dominates the time on long compressed files, so the bar follows the bytes read.
    let bar = progress::bar(0, "decoding");
    let audio = decode::decode_file_with_progress(&args.input, &|read, len| {
        bar.set_length(len);
        bar.set_position(read);
    })?;
    bar.set_message("analysing");
    let mono = channels::to_mono(&audio);
    let signal = resample(
        &mono.channels[0],
        audio.sample_rate,
        args.sample_rate,
        ResampleQuality::Best,
    )
    .with_context(|| format!("{}: cannot resample", args.input.display()))?;
    let values_db = log_mel.compute(&signal).with_context(|| {
        format!(
            "{}: cannot analyse ({} samples at {} Hz)",
            args.input.display(),
            signal.len(),
            args.sample_rate
        )
    })?;
    bar.finish_and_clear();

    let fmax = args.fmax.unwrap_or(f64::from(args.sample_rate) / 2.0);
    let band_hz =
        mel_frequencies(args.n_mels + 2, args.fmin, fmax, config.scale)[1..=args.n_mels].to_vec();
    let band_means = values_db.mean_axis(Axis(1)).context("empty spectrogram")?;
    let loudest_band = band_means
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (band, &v)| {
            if v > best.1 { (band, v) } else { best }
        })
        .0;

    let figure = SpectrogramFigure {
        title: format!(
            "{} — log-mel, {} Hz, n_fft {}, hop {}, {} mels",
            file_name(&args.input),
            args.sample_rate,
            args.n_fft,
            args.hop,
            args.n_mels
        ),
        values_db: values_db.view(),
        duration_secs: audio.duration_secs(),
        band_hz: band_hz.clone(),
        db_range: (-args.top_db, 0.0),
        size: args.size,
        overlay: None,
    };
    if let Some(dir) = args.out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the output folder {}", dir.display()))?;
    }
    render_spectrogram_png(&figure, &args.out)?;

    let (peak, mean_square) = levels(&audio);
    Ok(SpectrogramSummary {
        input: args.input.clone(),
        source_rate: audio.sample_rate,
        channels: audio.num_channels(),
        duration_secs: audio.duration_secs(),
        peak_dbfs: 20.0 * peak.log10(),
        rms_dbfs: 10.0 * mean_square.log10(),
        shape: values_db.dim(),
        loudest_band_hz: band_hz[loudest_band],
        mean_db: values_db.mean().unwrap_or(f32::NAN),
    })
}

/// Peak absolute value and mean square over all channels.
fn levels(audio: &AudioBuffer) -> (f64, f64) {
    let (mut peak, mut sum_squares) = (0.0f64, 0.0f64);
    for &x in audio.channels.iter().flatten() {
        let x = f64::from(x);
        peak = peak.max(x.abs());
        sum_squares += x * x;
    }
    let count = (audio.num_frames() * audio.num_channels()).max(1) as f64;
    (peak, sum_squares / count)
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

pub(crate) fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (width, height) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got `{text}`"))?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("`{v}`: {e}"));
    let size = (parse(width)?, parse(height)?);
    if size.0 < 300 || size.1 < 200 || size.0 > 10_000 || size.1 > 10_000 {
        return Err(format!(
            "{}x{} is outside 300x200 … 10000x10000",
            size.0, size.1
        ));
    }
    Ok(size)
}
