//! Sung vocals: songs choose espeak-ng singing or a GM voice from their seed and record the
//! choice, a sung vocals stem follows the composed notes (its tracked f0 lies within half a
//! semitone of the note sounding in most voiced frames), and a crop of a sung stem is the
//! same stretch of the whole song, sample for sample.

use std::path::Path;

use tessera_core::dsp::stft::{Stft, StftConfig};
use tessera_core::primitives::SpectrogramGeometry;
use tessera_core::primitives::melody::Melody;
use tessera_train::data::songs::{
    SAMPLE_RATE, Singer, SongPlan, Stem, compose, render_song, render_window, song_rng,
};
use tessera_train::data::soundfont::{TEST_SOUNDFONT, load_soundfont};

/// The first song of seed `seed` (streams 0, 1, …) that espeak-ng sings, with its stream.
fn first_sung_song(seed: u64, seconds: f64) -> (u64, SongPlan) {
    (0..)
        .map(|stream| (stream, compose(&mut song_rng(seed, stream), seconds)))
        .find(|(_, plan)| {
            let notes = plan
                .parts
                .iter()
                .filter(|p| p.stem == Stem::Vocals)
                .map(|p| p.notes.len())
                .sum::<usize>();
            matches!(plan.singer, Singer::Espeak { .. }) && notes >= 8
        })
        .expect("some song is sung by espeak-ng")
}

#[test]
fn songs_choose_their_singer_from_the_seed_and_record_it() {
    let plans: Vec<SongPlan> = (0..100)
        .map(|stream| compose(&mut song_rng(2, stream), 20.0))
        .collect();
    let mut voices = std::collections::HashSet::new();
    let mut sung = 0;
    for plan in &plans {
        let vocal_notes = plan
            .parts
            .iter()
            .find(|p| p.stem == Stem::Vocals)
            .map_or(0, |p| p.notes.len());
        if let Singer::Espeak { voice, syllables } = &plan.singer {
            sung += 1;
            voices.insert(voice.clone());
            assert_eq!(syllables.len(), vocal_notes, "one syllable per note");
        }
        let json = serde_json::to_value(plan).unwrap();
        assert!(
            json["singer"]["kind"] == "espeak" || json["singer"]["kind"] == "general_midi",
            "{}",
            json["singer"]
        );
    }
    assert!(
        (45..=75).contains(&sung),
        "{sung} of 100 songs sung by espeak-ng"
    );
    assert!(voices.len() >= 3, "only voices {voices:?}");
    assert_eq!(plans[7], compose(&mut song_rng(2, 7), 20.0));
}

#[test]
fn a_sung_vocals_stem_follows_the_composed_notes() {
    let sound_font = load_soundfont(Path::new(TEST_SOUNDFONT))
        .unwrap()
        .sound_font;
    let (stream, plan) = first_sung_song(4, 10.0);
    let song = render_song(&plan, &sound_font).unwrap();
    let vocals = song.stem(Stem::Vocals);
    let mono: Vec<f32> = vocals.channels[0]
        .iter()
        .zip(&vocals.channels[1])
        .map(|(l, r)| l + r)
        .collect();
    let geometry = SpectrogramGeometry {
        sample_rate: SAMPLE_RATE,
        n_fft: 2048,
        hop_length: 441,
    };
    let magnitude = Stft::new(StftConfig::new(geometry.n_fft, geometry.hop_length))
        .unwrap()
        .forward(&mono)
        .unwrap()
        .mapv(|c| c.norm());
    let f0 = Melody::default()
        .track(magnitude.view(), &geometry)
        .unwrap();

    let part = plan.parts.iter().find(|p| p.stem == Stem::Vocals).unwrap();
    let (mut in_notes, mut voiced, mut agree) = (0, 0, 0);
    for (frame, f0) in f0.iter().enumerate() {
        let t = frame as f64 / geometry.frame_rate();
        // Past the consonant and before the release of the note sounding at `t`.
        let Some(note) = part
            .notes
            .iter()
            .find(|n| t >= n.start + 0.1 && t <= n.start + n.duration - 0.05)
        else {
            continue;
        };
        in_notes += 1;
        if let Some(hz) = f0 {
            voiced += 1;
            let expected = 440.0 * ((f64::from(note.key) - 69.0) / 12.0).exp2();
            let cents = 1200.0 * (f64::from(*hz) / expected).log2();
            agree += usize::from(cents.abs() < 50.0);
        }
    }
    eprintln!(
        "stream {stream}: {in_notes} frames inside notes, {voiced} voiced, {agree} within 50 cents"
    );
    assert!(in_notes >= 100, "only {in_notes} frames inside notes");
    assert!(
        voiced * 10 >= in_notes * 8,
        "{voiced}/{in_notes} frames inside notes voiced"
    );
    assert!(
        agree * 10 >= voiced * 9,
        "{agree}/{voiced} voiced frames within 50 cents of the note"
    );
}

#[test]
fn a_crop_of_a_sung_stem_is_the_same_stretch_of_the_song() {
    let sound_font = load_soundfont(Path::new(TEST_SOUNDFONT))
        .unwrap()
        .sound_font;
    let (_, plan) = first_sung_song(5, 8.0);
    let whole = render_song(&plan, &sound_font).unwrap();
    // From just before the first sung note (off rustysynth's 64-sample block grid), 2 s.
    let first_note = plan
        .parts
        .iter()
        .find(|p| p.stem == Stem::Vocals)
        .unwrap()
        .notes[0];
    let start = ((first_note.start - 0.3).max(0.0) * f64::from(SAMPLE_RATE)) as usize + 123;
    let len = 2 * SAMPLE_RATE as usize;
    let crop = render_window(&plan, &sound_font, start, len).unwrap();
    let sung = |audio: &tessera_core::audio::AudioBuffer| audio.channels[0].clone();
    let whole_vocals = sung(whole.stem(Stem::Vocals));
    let crop_vocals = sung(crop.stem(Stem::Vocals));
    assert!(crop_vocals.iter().any(|&x| x != 0.0), "the crop is silent");
    let max_error = crop_vocals
        .iter()
        .zip(&whole_vocals[start..start + len])
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(max_error <= 1e-6, "crop and song differ by {max_error}");
}
