//! `tessera data songs` end to end and the song engine behind it: stems that sum to the
//! mixture, reproducible bytes for a seed, plans whose notes lie in the song on the right
//! channels and programs, key labels that the audio's chroma agrees with, seeded on-the-fly
//! crops, and clear errors for a missing or SF3 SoundFont.

use std::path::Path;
use std::sync::Arc;

use tessera_core::audio::AudioBuffer;
use tessera_core::audio::decode::decode_file;
use tessera_tests::{ScratchDir, tessera};
use tessera_train::data::songs::key_finding::{chroma, estimate_key};
use tessera_train::data::songs::{
    SAMPLE_RATE, SongPlan, SongStream, Stem, compose, render_song, song_rng,
};
use tessera_train::data::soundfont::{TEST_SOUNDFONT, load_soundfont};

/// Makes `count` songs of `seconds` seconds with `seed` into `out`.
fn make_songs(out: &Path, count: usize, seed: u64, seconds: f64) {
    let (count, seed, seconds) = (count.to_string(), seed.to_string(), seconds.to_string());
    tessera(&[
        "data",
        "songs",
        "--count",
        &count,
        "--out",
        out.to_str().unwrap(),
        "--soundfont",
        TEST_SOUNDFONT,
        "--seed",
        &seed,
        "--seconds",
        &seconds,
    ])
    .expect("songs are made");
}

fn plan(seed: u64, stream: u64, seconds: f64) -> SongPlan {
    compose(&mut song_rng(seed, stream), seconds)
}

#[test]
fn stems_sum_to_the_mixture_and_the_same_seed_gives_the_same_bytes() {
    let dir = ScratchDir::new("cli-songs");
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    make_songs(&a, 2, 5, 6.0);
    make_songs(&b, 2, 5, 6.0);
    make_songs(&c, 1, 6, 6.0);
    for song in ["song_00000", "song_00001"] {
        let files = [
            "mixture.wav",
            "vocals.wav",
            "drums.wav",
            "bass.wav",
            "other.wav",
            "song.json",
        ];
        for file in files {
            let (x, y) = (a.join(song).join(file), b.join(song).join(file));
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{} differs between runs",
                x.display()
            );
        }
        let mixture = decode_file(&a.join(song).join("mixture.wav")).unwrap();
        assert_eq!(mixture.sample_rate, 44_100);
        assert_eq!(mixture.channels.len(), 2);
        assert_eq!(mixture.channels[0].len(), 6 * 44_100);
        let stems: Vec<AudioBuffer> = ["vocals", "drums", "bass", "other"]
            .iter()
            .map(|stem| decode_file(&a.join(song).join(format!("{stem}.wav"))).unwrap())
            .collect();
        let mut max_error = 0f64;
        for channel in 0..2 {
            for i in 0..mixture.channels[channel].len() {
                let sum: f64 = stems.iter().map(|s| s.channels[channel][i] as f64).sum();
                max_error = max_error.max((sum - mixture.channels[channel][i] as f64).abs());
            }
        }
        assert!(
            max_error <= 1e-5,
            "{song}: mixture − Σ stems reaches {max_error}"
        );
        let peak = mixture
            .channels
            .iter()
            .flatten()
            .fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.01, "{song} is silent");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(a.join(song).join("song.json")).unwrap())
                .unwrap();
        for field in [
            "key",
            "key_name",
            "tempo_bpm",
            "chords",
            "parts",
            "mix",
            "sections",
            "singer",
        ] {
            assert!(json.get(field).is_some(), "song.json lacks {field}");
        }
    }
    let other = std::fs::read(c.join("song_00000/mixture.wav")).unwrap();
    assert!(
        other != std::fs::read(a.join("song_00000/mixture.wav")).unwrap(),
        "seeds 5 and 6 made the same song"
    );
}

#[test]
fn every_part_lies_in_the_song_on_its_channel_and_programs() {
    let mut roles = std::collections::HashSet::new();
    for stream in 0..60 {
        let seconds = 5.0 + stream as f64;
        let plan = plan(1, stream, seconds);
        assert!((70.0..=170.0).contains(&plan.tempo_bpm));
        assert!([3, 4].contains(&plan.beats_per_bar));
        assert!(!plan.chords.is_empty() && plan.chords[0].start == 0.0);
        let count = |stem| plan.parts.iter().filter(|p| p.stem == stem).count();
        assert_eq!(
            (count(Stem::Vocals), count(Stem::Drums), count(Stem::Bass)),
            (1, 1, 1)
        );
        assert!((1..=3).contains(&count(Stem::Other)));
        let other_notes: usize = plan
            .parts
            .iter()
            .filter(|p| p.stem == Stem::Other)
            .map(|p| p.notes.len())
            .sum();
        assert!(other_notes > 0, "the other stem is silent");
        for part in &plan.parts {
            roles.insert(part.role.clone());
            match part.stem {
                Stem::Drums => assert_eq!(part.channel, 9),
                Stem::Bass => assert!(
                    (32..=39).contains(&part.program),
                    "bass program {}",
                    part.program
                ),
                Stem::Vocals => assert!(
                    (52..=54).contains(&part.program),
                    "voice program {}",
                    part.program
                ),
                Stem::Other => assert!(part.channel != 9),
            }
            // Leads and vocals may rest through a short song; drums and bass never do.
            if matches!(part.stem, Stem::Drums | Stem::Bass) {
                assert!(!part.notes.is_empty(), "{} has no notes", part.role);
            }
            for note in &part.notes {
                assert!(note.start >= 0.0 && note.duration > 0.0, "{note:?}");
                assert!(
                    note.start + note.duration <= plan.seconds + 1e-9,
                    "{note:?} past {seconds} s"
                );
                assert!((1..=127).contains(&note.velocity) && note.key <= 127);
            }
            assert!(part.notes.windows(2).all(|w| w[0].start <= w[1].start));
        }
    }
    for role in [
        "walking bass",
        "syncopated bass",
        "pad",
        "lead",
        "sung melody",
        "drum kit",
    ] {
        assert!(roles.contains(role), "no {role} in 60 songs");
    }
}

#[test]
fn the_chroma_of_rendered_songs_agrees_with_their_key_labels() {
    let sound_font = load_soundfont(Path::new(TEST_SOUNDFONT))
        .unwrap()
        .sound_font;
    let songs = 10;
    let mut agree = 0;
    let mut misses = Vec::new();
    for stream in 0..songs {
        let plan = plan(3, stream, 12.0);
        let song = render_song(&plan, &sound_font).unwrap();
        let mono: Vec<f32> = song.mixture.channels[0]
            .iter()
            .zip(&song.mixture.channels[1])
            .map(|(l, r)| l + r)
            .collect();
        let found = estimate_key(&chroma(&mono, SAMPLE_RATE).unwrap());
        if found == plan.key {
            agree += 1;
        } else {
            misses.push(format!("{} heard as {}", plan.key_name, found.name()));
        }
    }
    eprintln!("{agree}/{songs} key labels agree with the chroma; misses: {misses:?}");
    assert!(
        agree * 10 >= songs * 8,
        "only {agree}/{songs} keys agree: {misses:?}"
    );
}

#[test]
fn song_stream_crops_are_sized_and_seeded() {
    let sound_font: Arc<_> = load_soundfont(Path::new(TEST_SOUNDFONT))
        .unwrap()
        .sound_font;
    let take = |seed| -> Vec<_> {
        SongStream::new(sound_font.clone(), seed, 12.0, 4.0)
            .take(3)
            .map(|crop| crop.unwrap())
            .collect()
    };
    let (first, again, other) = (take(9), take(9), take(10));
    for (crop, same) in first.iter().zip(&again) {
        assert_eq!(crop.start_sample, same.start_sample);
        assert_eq!(crop.plan, same.plan);
        assert!(crop.audio.mixture.channels == same.audio.mixture.channels);
        assert!(crop.start_sample + 4 * 44_100 <= 12 * 44_100);
        for audio in crop.audio.stems.iter().chain([&crop.audio.mixture]) {
            assert_eq!(audio.channels.len(), 2);
            assert!(audio.channels.iter().all(|c| c.len() == 4 * 44_100));
        }
    }
    assert!(first[0].audio.mixture.channels != other[0].audio.mixture.channels);
    assert!(first[0].audio.mixture.channels != first[1].audio.mixture.channels);

    // A crop sounds like the same stretch of the whole song (same events, pre-rolled synth).
    let crop = &first[0];
    let whole = render_song(&crop.plan, &sound_font).unwrap();
    let window = crop.start_sample..crop.start_sample + 4 * 44_100;
    let (mut error, mut energy) = (0f64, 0f64);
    for (c, w) in crop
        .audio
        .mixture
        .channels
        .iter()
        .zip(&whole.mixture.channels)
    {
        for (x, y) in c.iter().zip(&w[window.clone()]) {
            error += ((x - y) as f64).powi(2);
            energy += (*y as f64).powi(2);
        }
    }
    assert!(
        error <= 0.01 * energy,
        "crop differs from the song: error/energy = {}",
        error / energy
    );
}

#[test]
fn a_missing_or_sf3_soundfont_is_refused_clearly() {
    let dir = ScratchDir::new("cli-songs-bad");
    let out = dir.join("out");
    let missing = dir.join("missing.sf2");
    let fake_sf3 = dir.join("fake.sf3");
    // The layout of an SF3: an INFO list with version 3, then sample data in Ogg Vorbis.
    let mut bytes = b"RIFF\x00\x00\x00\x00sfbk".to_vec();
    bytes.extend(b"LIST\x10\x00\x00\x00INFOifil\x04\x00\x00\x00\x03\x00\x00\x00");
    bytes.extend(b"LIST\x14\x00\x00\x00sdtasmpl\x08\x00\x00\x00OggS\x00\x02\x00\x00");
    std::fs::write(&fake_sf3, bytes).unwrap();
    for (path, expected) in [
        (&missing, "cannot open the SoundFont"),
        (&fake_sf3, "(SF3) samples are not supported"),
    ] {
        let error = tessera(&[
            "data",
            "songs",
            "--count",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--soundfont",
            path.to_str().unwrap(),
            "--seconds",
            "2",
        ])
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains(expected), "{message}");
    }
    assert!(!out.join("song_00000").exists());
}
