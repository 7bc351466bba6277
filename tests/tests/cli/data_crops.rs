//! `tessera data crops` then `tessera data manifest` end to end on a folder of small WAVs,
//! with a corrupt file among them, and the errors for an empty folder and a bad manifest.

use std::path::Path;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::decode::decode_file;
use tessera_core::audio::encode::{WavSampleFormat, write_wav};
use tessera_tests::{ScratchDir, tessera};
use tessera_train::data::manifest::Manifest;

/// Writes `secs` seconds of a stereo tone at `rate` (different pitch per side).
fn write_tone(path: &Path, rate: u32, secs: f32, hz: f32) {
    let len = (secs * rate as f32) as usize;
    let side = |f: f32| {
        (0..len)
            .map(|i| 0.2 * (std::f32::consts::TAU * f * i as f32 / rate as f32).sin())
            .collect::<Vec<f32>>()
    };
    let audio = AudioBuffer {
        sample_rate: rate,
        channels: vec![side(hz), side(hz * 1.5)],
    };
    write_wav(path, &audio, WavSampleFormat::Float32).unwrap();
}

/// Runs `tessera data crops` on `data` into `out` and returns the written files' contents.
fn crops(data: &Path, out: &Path, seed: &str) -> Vec<Vec<u8>> {
    tessera(&[
        "data",
        "crops",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--count",
        "5",
        "--seconds",
        "1",
        "--sample-rate",
        "8000",
        "--seed",
        seed,
    ])
    .expect("crops succeed despite the corrupt file");
    (0..5)
        .map(|i| std::fs::read(out.join(format!("crop_{i:05}.wav"))).unwrap())
        .collect()
}

#[test]
fn crops_are_written_with_a_manifest_and_the_corrupt_file_is_skipped() {
    let dir = ScratchDir::new("cli-data-crops");
    let data = dir.join("music");
    std::fs::create_dir_all(data.join("album")).unwrap();
    write_tone(&data.join("one.wav"), 44_100, 2.5, 220.0);
    write_tone(&data.join("album/two.wav"), 22_050, 3.0, 330.0);
    std::fs::write(data.join("album/broken.flac"), b"fLaC but nothing after").unwrap();
    let out = dir.join("crops");

    let first = crops(&data, &out, "3");
    let manifest = Manifest::read(&out.join("manifest.csv")).unwrap();
    assert_eq!(manifest.entries.len(), 5);
    for (i, entry) in manifest.entries.iter().enumerate() {
        assert_eq!(entry.path, out.join(format!("crop_{i:05}.wav")));
        assert!(
            ["one.wav", "two.wav"].contains(&entry.label.as_str()),
            "{}",
            entry.label
        );
        assert_eq!(entry.split, "train");
        let audio = decode_file(&entry.path).unwrap();
        assert_eq!((audio.sample_rate, audio.num_channels()), (8000, 1));
        assert_eq!(audio.num_frames(), 8000);
        let peak = audio.channels[0].iter().fold(0.0f32, |p, x| p.max(x.abs()));
        assert!(peak > 0.01 && peak <= 0.99, "peak {peak}");
    }
    let sources = std::fs::read_to_string(out.join("sources.csv")).unwrap();
    assert_eq!(sources.lines().count(), 6, "{sources}");
    let record = std::fs::read_to_string(out.join("crops.json")).unwrap();
    assert!(record.contains("broken.flac"), "{record}");

    // The same seed gives the same crops, another seed other crops.
    assert_eq!(crops(&data, &dir.join("again"), "3"), first);
    assert_ne!(crops(&data, &dir.join("other"), "4"), first);

    tessera(&[
        "data",
        "manifest",
        out.join("manifest.csv").to_str().unwrap(),
    ])
    .expect("the written manifest checks out");
}

#[test]
fn empty_folders_and_bad_manifests_are_clear_errors() {
    let dir = ScratchDir::new("cli-data-crops-bad");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let message = format!(
        "{:#}",
        tessera(&[
            "data",
            "crops",
            "--data",
            empty.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
            "--count",
            "2",
        ])
        .unwrap_err()
    );
    assert!(
        message.contains("empty") && message.contains("no audio found"),
        "{message}"
    );
    assert!(!dir.join("out").exists(), "nothing is written on error");

    let corrupt_only = dir.join("corrupt");
    std::fs::create_dir_all(&corrupt_only).unwrap();
    std::fs::write(corrupt_only.join("noise.mp3"), b"not an mp3 at all").unwrap();
    let message = format!(
        "{:#}",
        tessera(&[
            "data",
            "crops",
            "--data",
            corrupt_only.to_str().unwrap(),
            "--out",
            dir.join("out2").to_str().unwrap(),
            "--count",
            "2",
        ])
        .unwrap_err()
    );
    assert!(message.contains("noise.mp3"), "{message}");

    let manifest = dir.join("m.csv");
    write_tone(&dir.join("here.wav"), 8000, 0.5, 440.0);
    std::fs::write(
        &manifest,
        "path,label,split\nhere.wav,a,train\ngone.wav,b,test\n",
    )
    .unwrap();
    let message = format!(
        "{:#}",
        tessera(&["data", "manifest", manifest.to_str().unwrap()]).unwrap_err()
    );
    assert!(
        message.contains("m.csv line 3") && message.contains("gone.wav"),
        "{message}"
    );
    std::fs::write(
        &manifest,
        "path,label,split,start,end\nhere.wav,a,train,2,1\n",
    )
    .unwrap();
    let message = format!(
        "{:#}",
        tessera(&["data", "manifest", manifest.to_str().unwrap()]).unwrap_err()
    );
    assert!(message.contains("m.csv line 2"), "{message}");
}
