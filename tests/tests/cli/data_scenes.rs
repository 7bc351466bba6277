//! `tessera data scenes` end to end: sources and noise at other sample rates (one corrupt
//! file among them), stereo float WAVs plus JSON per scene, reproducible for a seed, and a
//! clear error for an empty folder.

use std::path::Path;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::decode::decode_file;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, tessera};

/// Writes `seconds` of a mono signal at `rate`: a chirp-like tone when `noisy` is false,
/// a deterministic noise otherwise.
fn write_signal(path: &Path, rate: u32, seconds: f32, noisy: bool) {
    let len = (seconds * rate as f32) as usize;
    let mut state = 12_345u32;
    let samples = (0..len)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if noisy {
                0.3 * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            } else {
                let t = i as f32 / rate as f32;
                0.4 * (std::f32::consts::TAU * (300.0 + 200.0 * t) * t).sin()
            }
        })
        .collect();
    let audio = AudioBuffer {
        sample_rate: rate,
        channels: vec![samples],
    };
    write_wav(path, &audio, WavSampleFormat::Float32).unwrap();
}

/// Runs `tessera data scenes` with `seed` into `out`.
fn scenes(sources: &Path, noise: &Path, out: &Path, seed: &str) -> anyhow::Result<()> {
    tessera(&[
        "data",
        "scenes",
        "--sources",
        sources.to_str().unwrap(),
        "--noise",
        noise.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--count",
        "3",
        "--seed",
        seed,
        "--seconds",
        "0.5",
    ])
}

#[test]
fn scenes_are_stereo_wavs_with_their_draws_and_reproducible() {
    let dir = ScratchDir::new("cli-data-scenes");
    let (sources, noise) = (dir.join("sources"), dir.join("noise"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&noise).unwrap();
    write_signal(&sources.join("a.wav"), 22_050, 1.0, false);
    write_signal(&sources.join("b.wav"), 16_000, 0.3, false);
    std::fs::write(sources.join("broken.wav"), b"not a wav at all").unwrap();
    write_signal(&noise.join("hum.wav"), 44_100, 0.7, true);

    scenes(&sources, &noise, &dir.join("out"), "5").expect("scenes render");
    scenes(&sources, &noise, &dir.join("again"), "5").expect("scenes render again");
    for index in 0..3 {
        let wav = dir.join(&format!("out/scene_{index:05}.wav"));
        let audio = decode_file(&wav).unwrap();
        assert_eq!(audio.sample_rate, 16_000);
        assert_eq!(audio.num_channels(), 2);
        assert!(audio.num_frames() > 0 && audio.num_frames() <= 8000);
        assert!(audio.channels.iter().flatten().all(|v| v.is_finite()));
        assert_ne!(audio.channels[0], audio.channels[1], "two different ears");

        let json = std::fs::read_to_string(wav.with_extension("json")).unwrap();
        let record: serde_json::Value = serde_json::from_str(&json).unwrap();
        let snr = record["scene"]["snr_db"].as_f64().unwrap();
        assert!((5.0..=40.0).contains(&snr));
        let distance = record["scene"]["source_distance"].as_f64().unwrap();
        assert!((1.5..=5.0).contains(&distance));
        assert!(
            !record["source"].as_str().unwrap().ends_with("broken.wav"),
            "the corrupt file is skipped"
        );
        assert_eq!(
            record["scene"]["samples"].as_u64(),
            Some(audio.num_frames() as u64)
        );

        let again = std::fs::read(dir.join(&format!("again/scene_{index:05}.wav"))).unwrap();
        assert_eq!(std::fs::read(&wav).unwrap(), again, "same seed, same scene");
    }
}

#[test]
fn an_empty_noise_folder_is_a_clear_error() {
    let dir = ScratchDir::new("cli-data-scenes-empty");
    let (sources, noise) = (dir.join("sources"), dir.join("noise"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&noise).unwrap();
    write_signal(&sources.join("a.wav"), 16_000, 0.5, false);
    let error = scenes(&sources, &noise, &dir.join("out"), "1").unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("no noise audio files") && message.contains("noise"),
        "{message}"
    );
}

#[test]
fn labelled_clips_become_scenes_with_their_labels_and_splits() {
    let dir = ScratchDir::new("cli-data-scenes-labelled");
    let (clips, noise) = (dir.join("clips"), dir.join("noise"));
    std::fs::create_dir_all(&clips).unwrap();
    std::fs::create_dir_all(&noise).unwrap();
    for name in ["a", "b", "c", "d"] {
        write_signal(&clips.join(format!("{name}.wav")), 22_050, 1.0, false);
    }
    write_signal(&noise.join("hum.wav"), 16_000, 0.7, true);
    let manifest = clips.join("labels.csv");
    std::fs::write(
        &manifest,
        "path,label,split,start,end\na.wav,flute,train,,\nb.wav,harp,train,0.2,0.6\n\
         c.wav,flute,test,,\nd.wav,harp,test,,\n",
    )
    .unwrap();
    // Half-second scenes of the clips of `manifest`, `extra` arguments appended.
    let scenes_of_labels = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "data",
            "scenes",
            "--labels",
            manifest.to_str().unwrap(),
            "--noise",
            noise.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seconds",
            "0.5",
        ];
        args.extend(extra);
        tessera(&args)
    };
    let out = dir.join("scenes");
    scenes_of_labels(&out, &["--count", "2"]).expect("labelled scenes render");

    // Two of four clips, evenly spaced: a and c.
    let written = std::fs::read_to_string(out.join("scenes.csv")).unwrap();
    assert_eq!(
        written,
        "path,label,split\nscene_00000.wav,flute,train\nscene_00001.wav,flute,test\n"
    );
    for (index, source) in [(0, "a.wav"), (1, "c.wav")] {
        let wav = out.join(format!("scene_{index:05}.wav"));
        let audio = decode_file(&wav).unwrap();
        assert_eq!((audio.num_channels(), audio.num_frames()), (2, 8000));
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(wav.with_extension("json")).unwrap())
                .unwrap();
        assert!(record["source"].as_str().unwrap().ends_with(source));
        assert_eq!(record["label"], "flute");
    }

    // All four by default; the region of b (0.4 s) bounds its scene.
    let all = dir.join("all");
    scenes_of_labels(&all, &[]).expect("all labelled clips render");
    let b = decode_file(&all.join("scene_00001.wav")).unwrap();
    assert_eq!(b.num_frames(), 6400);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(all.join("scene_00001.json")).unwrap())
            .unwrap();
    assert_eq!(record["source_offset"], 3200);
}
