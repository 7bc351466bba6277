//! The pretrained models shipped in `assets/` load, embed real music and are not collapsed.

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use tessera_core::audio::decode::decode_file;
use tessera_core::dsp::resample::{ResampleQuality, resample};
use tessera_core::models::{Encoder, PupuJepa, WavJepa};

fn asset(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets")
        .join(path)
}

/// The first `seconds` of the demo excerpt (real recorded music, stereo) at `rate`: its
/// two channels, or their mix when `channels` is 1.
fn demo_audio(rate: u32, seconds: f32, channels: usize) -> Vec<Vec<f32>> {
    let audio = decode_file(&asset("demo/northerners-excerpt.ogg")).unwrap();
    assert_eq!(audio.channels.len(), 2);
    let mono: Vec<f32> = (0..audio.channels[0].len())
        .map(|i| audio.channels.iter().map(|c| c[i]).sum::<f32>() / audio.channels.len() as f32)
        .collect();
    let heard = if channels == 1 {
        vec![mono]
    } else {
        audio.channels.clone()
    };
    heard
        .iter()
        .map(|channel| {
            let mut resampled =
                resample(channel, audio.sample_rate, rate, ResampleQuality::default()).unwrap();
            resampled.truncate((seconds * rate as f32) as usize);
            resampled
        })
        .collect()
}

/// `model` embeds 6 s of the demo into `depth` layers of `rows` finite rows that vary over
/// time by a fair share of their scale: a collapsed encoder maps every frame to (nearly)
/// the same vector.
fn assert_embeds_music(model: &impl Encoder, depth: usize, rows: usize) {
    let audio = demo_audio(model.sample_rate(), 6.0, model.channels());
    let channels: Vec<&[f32]> = audio.iter().map(Vec::as_slice).collect();
    let layers = model.embed_channels(&channels).unwrap();
    assert_eq!(layers.len(), depth);
    let last = layers.last().unwrap();
    assert_eq!(last.dim(0).unwrap(), rows);
    let values = last.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    let spread = last
        .var(0)
        .unwrap()
        .sqrt()
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let scale = last
        .abs()
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        spread > 0.05 * scale,
        "per-dimension std over time {spread} against mean |x| {scale}"
    );
}

#[test]
fn pupu_jepa_tiny_embeds_music_with_spread_out_features() {
    let model =
        PupuJepa::load(&asset("pupu-jepa-tiny/model-f16.safetensors"), &Device::Cpu).unwrap();
    let config = model.config();
    let column_seconds =
        (config.patch_time * config.mel.hop_length) as f32 / config.mel.sample_rate as f32;
    let rows = (6.0 / column_seconds).ceil() as usize;
    assert_embeds_music(&model, config.encoder.depth, rows);
}

#[test]
fn the_wav_jepa_models_embed_music_with_spread_out_features() {
    for (folder, ears) in [
        ("wav-jepa-tiny", 1),
        ("wav-jepa-tiny-top1", 1),
        ("wav-jepa-nat-tiny", 2),
    ] {
        let path = asset(&format!("{folder}/model-f16.safetensors"));
        let model = WavJepa::load(&path, ears, &Device::Cpu).unwrap();
        assert_eq!(model.channels(), ears, "{folder}");
        // 100 frames per second.
        assert_embeds_music(&model, model.config().encoder.depth, 600);
    }
}

#[test]
fn pupu_jepa_tiny_attention_map_covers_the_grid() {
    let model =
        PupuJepa::load(&asset("pupu-jepa-tiny/model-f16.safetensors"), &Device::Cpu).unwrap();
    let audio = demo_audio(model.sample_rate(), 3.0, 1).swap_remove(0);
    let mel: Tensor = model
        .clip_input(&audio, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let grid = model.config().grid();
    let maps = model.region_attention(&mel, 2..4, 5..8).unwrap();
    let per_map = maps
        .flatten_from(2)
        .unwrap()
        .sum(2)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(
        per_map.iter().all(|s| (s - 1.0).abs() < 1e-3),
        "{per_map:?}"
    );
    assert_eq!(maps.dims()[2..], [grid.freq, grid.time]);
}
