//! `tessera attention AUDIO --at SECONDS --region t0,t1,f0,f1 --out x.png`: where PupuJEPA's
//! predictor looks to predict a masked region of a clip — the figure of the PupuJEPA case
//! study: the clip's log-mel spectrogram, the attention heatmap over its patches with a
//! colour bar, and the target region outlined in red.

use std::ops::Range;
use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use candle_core::{Device, IndexOp, Tensor};
use clap::Args;
use ndarray::Array2;
use tessera_core::audio::{channels, decode};
use tessera_core::dsp::mel::mel_frequencies;
use tessera_core::dsp::resample::{ResampleQuality, resample};
use tessera_core::models::PupuJepa;

use super::spectrogram::{file_name, parse_size};
use crate::plot::{PatchOverlay, SpectrogramFigure, render_spectrogram_png};

/// The model's log-mel input is `(dB + 40) / 40` of the clip's peak-relative dB.
const INPUT_DB_SCALE: f32 = 40.0;

#[derive(Debug, Args)]
pub struct AttentionArgs {
    /// Audio file (WAV, FLAC, MP3, OGG/Vorbis, AIFF).
    pub input: PathBuf,
    /// Where the clip starts in the file, seconds (the clip is the model's 2.56 s).
    #[arg(long, default_value_t = 0.0)]
    pub at: f64,
    /// The masked target region: start and end time in seconds within the clip, lowest and
    /// highest frequency in Hz, as `t0,t1,f0,f1`; widened to whole patches.
    #[arg(long, value_parser = parse_region)]
    pub region: Region,
    /// PNG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// A PupuJEPA model or checkpoint (default: the embedded PupuJEPA-Tiny).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Which predictor layers to show: their mean, or one (counted from 1).
    #[arg(long, default_value = "mean")]
    pub layer: Selection,
    /// Which attention heads to show: their mean, or one (counted from 1).
    #[arg(long, default_value = "mean")]
    pub head: Selection,
    /// Image size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1200x480", value_parser = parse_size)]
    pub size: (u32, u32),
}

/// The target region as given: seconds within the clip and Hz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub time: (f64, f64),
    pub freq: (f64, f64),
}

/// The mean over layers or heads, or one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    Mean,
    /// Counted from 1.
    One(usize),
}

impl std::str::FromStr for Selection {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "mean" {
            return Ok(Self::Mean);
        }
        match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Self::One(n)),
            _ => Err(format!("expected `mean` or a number from 1, got `{text}`")),
        }
    }
}

fn parse_region(text: &str) -> Result<Region, String> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>().map_err(|e| format!("`{v}`: {e}")))
        .collect::<Result<_, _>>()?;
    let [t0, t1, f0, f1] = values[..] else {
        return Err(format!("expected t0,t1,f0,f1, got `{text}`"));
    };
    if !(t0 < t1 && f0 < f1 && t0 >= 0.0 && f0 >= 0.0) {
        return Err(format!(
            "the region needs 0 ≤ t0 < t1 and 0 ≤ f0 < f1, got {t0},{t1},{f0},{f1}"
        ));
    }
    Ok(Region {
        time: (t0, t1),
        freq: (f0, f1),
    })
}

/// What the figure shows, printed after it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionSummary {
    /// The target region in patches: frequency and time patch ranges.
    pub patches: (Range<usize>, Range<usize>),
    /// The patch grid: frequency × time patches.
    pub grid: (usize, usize),
    /// The shown map, `[freq patches][time patches]`; sums to one.
    pub map: Vec<Vec<f32>>,
    /// Share of the attention on the region's own patches (the mask tokens among themselves).
    pub on_region: f32,
}

pub fn run(args: &AttentionArgs) -> Result<()> {
    let summary = render(args)?;
    let (freq, time) = &summary.patches;
    println!(
        "{}: region = frequency patches {freq:?} × time patches {time:?} of {} × {}; {:.1} % of \
         the attention on the region itself, {:.1} % on the context",
        args.input.display(),
        summary.grid.0,
        summary.grid.1,
        100.0 * summary.on_region,
        100.0 * (1.0 - summary.on_region)
    );
    println!("  figure {}", args.out.display());
    Ok(())
}

/// Computes and draws the attention of `args`; returns what it shows.
pub fn render(args: &AttentionArgs) -> Result<AttentionSummary> {
    let device = Device::Cpu;
    let model = match &args.model {
        Some(path) => PupuJepa::load(path, &device)?,
        None => tessera_core::embedded::default_pupu_jepa(&device)?,
    };
    let config = model.config();
    let mel = &config.mel;
    let audio = decode::decode_file(&args.input)?;
    let mono = channels::to_mono(&audio);
    let duration = audio.duration_secs();
    ensure!(
        args.at >= 0.0 && args.at < duration,
        "{}: --at {} s is outside its {duration:.2} s",
        args.input.display(),
        args.at
    );
    let signal = resample(
        &mono.channels[0],
        audio.sample_rate,
        mel.sample_rate,
        ResampleQuality::Best,
    )
    .with_context(|| format!("{}: cannot resample", args.input.display()))?;
    let start = (args.at * f64::from(mel.sample_rate)) as usize;
    let clip = &signal[start.min(signal.len())..];
    let input = model.clip_input(clip, &device)?;

    let grid = config.grid();
    let clip_secs = (config.clip_frames * mel.hop_length) as f64 / f64::from(mel.sample_rate);
    let fmax = mel.fmax.unwrap_or(f64::from(mel.sample_rate) / 2.0);
    let band_hz =
        mel_frequencies(mel.n_mels + 2, mel.fmin, fmax, mel.scale)[1..=mel.n_mels].to_vec();
    let patches = region_patches(
        args.region,
        clip_secs,
        &band_hz,
        config.patch_freq,
        (grid.freq, grid.time),
    )?;

    // (layers, heads, freq patches, time patches)
    let maps =
        model.region_attention(&input.unsqueeze(0)?, patches.0.clone(), patches.1.clone())?;
    let (layers, heads) = (maps.dim(0)?, maps.dim(1)?);
    let by_layer = select(&maps, args.layer, layers, "--layer", "predictor layers")?;
    let shown = select(&by_layer, args.head, heads, "--head", "heads")?;
    let map: Vec<Vec<f32>> = shown.to_vec2()?;
    let on_region: f32 = patches
        .0
        .clone()
        .flat_map(|f| patches.1.clone().map(move |t| (f, t)))
        .map(|(f, t)| map[f][t])
        .sum();

    let values_db = (input * f64::from(INPUT_DB_SCALE))?.affine(1.0, -f64::from(INPUT_DB_SCALE))?;
    let values_db = Array2::from_shape_vec(
        (mel.n_mels, config.clip_frames),
        values_db.flatten_all()?.to_vec1::<f32>()?,
    )?;
    let weights = Array2::from_shape_vec((grid.freq, grid.time), map.concat())?;
    let which = |selection: Selection, what: &str| match selection {
        Selection::Mean => format!("mean of {what}"),
        Selection::One(n) => format!("{what} {n}"),
    };
    let figure = SpectrogramFigure {
        title: format!(
            "{} at {:.2} s — PupuJEPA predictor attention for the red region ({}, {})",
            file_name(&args.input),
            args.at,
            which(args.layer, "layers"),
            which(args.head, "heads")
        ),
        values_db: values_db.view(),
        duration_secs: clip_secs,
        band_hz,
        db_range: (-80.0, 0.0),
        size: args.size,
        overlay: Some(PatchOverlay {
            weights: weights.view(),
            label: "attention".to_owned(),
            outline: patches.clone(),
        }),
    };
    if let Some(dir) = args.out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    render_spectrogram_png(&figure, &args.out)?;
    Ok(AttentionSummary {
        patches,
        grid: (grid.freq, grid.time),
        map,
        on_region,
    })
}

/// The patches the region covers, widened to whole patches: frequency patches from the
/// mel bands whose centres lie in `f0..f1` (at least the nearest band), time patches from
/// the seconds.
fn region_patches(
    region: Region,
    clip_secs: f64,
    band_hz: &[f64],
    patch_bands: usize,
    (freq_patches, time_patches): (usize, usize),
) -> Result<(Range<usize>, Range<usize>)> {
    let (t0, t1) = region.time;
    if t1 > clip_secs + 1e-9 {
        bail!("the region ends at {t1} s, after the {clip_secs:.2}-s clip");
    }
    let patch_secs = clip_secs / time_patches as f64;
    let time =
        (t0 / patch_secs).floor() as usize..((t1 / patch_secs).ceil() as usize).min(time_patches);
    let (f0, f1) = region.freq;
    let top = band_hz[band_hz.len() - 1];
    if f0 > top {
        bail!("the region starts at {f0} Hz, above the highest band ({top:.0} Hz)");
    }
    let first_band = band_hz
        .partition_point(|&hz| hz < f0)
        .min(band_hz.len() - 1);
    let last_band = band_hz.partition_point(|&hz| hz <= f1).max(first_band + 1);
    let freq = first_band / patch_bands..last_band.div_ceil(patch_bands).min(freq_patches);
    if freq.len() * time.len() == freq_patches * time_patches {
        bail!("the region covers the whole clip: leave some context to attend to");
    }
    Ok((freq, time))
}

/// The mean over the first axis of `maps`, or its `n`th entry.
fn select(
    maps: &Tensor,
    selection: Selection,
    count: usize,
    flag: &str,
    what: &str,
) -> Result<Tensor> {
    Ok(match selection {
        Selection::Mean => maps.mean(0)?,
        Selection::One(n) if n <= count => maps.i(n - 1)?,
        Selection::One(n) => bail!("{flag} {n}: the model has {count} {what}"),
    })
}
