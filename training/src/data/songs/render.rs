//! Renders a song plan with rustysynth: one dry synthesizer per stem (no reverb or chorus:
//! rooms are added later as augmentation), note events applied at their sample positions;
//! vocals that espeak-ng sings come from `sung` instead. Then each stem's gain and pan, and
//! the mixture as the exact sum of the stems.

use std::sync::Arc;

use anyhow::Context;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use tessera_core::audio::AudioBuffer;

use super::composer::{Part, SAMPLE_RATE, SongPlan, Stem};
use super::parts::vocals::Singer;
use super::sung::render_sung;

/// rustysynth's synthesis block: events take effect from the start of the next block, so
/// onsets land within 64 samples (1.5 ms) of their time. Render windows start on a multiple
/// of it, so a crop and the whole song quantise events identically.
const BLOCK: usize = 64;

/// How long before a window the renderer starts so that notes released just before it ring
/// on into it, seconds.
const RELEASE_PRE_ROLL: f64 = 1.0;

/// A rendered stretch of a song: the four stems after gain and pan, and their sum.
#[derive(Clone, Debug)]
pub struct RenderedSong {
    /// The stems in `Stem::ALL` order (stereo, 44.1 kHz).
    pub stems: [AudioBuffer; 4],
    /// The mixture: sample by sample the sum of the four stems.
    pub mixture: AudioBuffer,
}

impl RenderedSong {
    /// The stem `stem`.
    pub fn stem(&self, stem: Stem) -> &AudioBuffer {
        &self.stems[stem.index()]
    }
}

/// Number of samples of the whole song.
pub fn song_samples(plan: &SongPlan) -> usize {
    (plan.seconds * SAMPLE_RATE as f64).round() as usize
}

/// Renders the whole song.
pub fn render_song(plan: &SongPlan, sound_font: &Arc<SoundFont>) -> anyhow::Result<RenderedSong> {
    render_window(plan, sound_font, 0, song_samples(plan))
}

/// Renders samples `start..start + len` of the song: all four stems and their sum.
pub fn render_window(
    plan: &SongPlan,
    sound_font: &Arc<SoundFont>,
    start: usize,
    len: usize,
) -> anyhow::Result<RenderedSong> {
    let rendered = render_stems(plan, sound_font, start, len, &Stem::ALL)?;
    let mut mixture = vec![vec![0f32; len]; 2];
    for stem in &rendered {
        for (mix_channel, stem_channel) in mixture.iter_mut().zip(&stem.channels) {
            mix_channel
                .iter_mut()
                .zip(stem_channel)
                .for_each(|(m, s)| *m += s);
        }
    }
    let stems: [AudioBuffer; 4] = rendered.try_into().expect("one buffer per stem");
    Ok(RenderedSong {
        stems,
        mixture: AudioBuffer {
            sample_rate: SAMPLE_RATE,
            channels: mixture,
        },
    })
}

/// Renders samples `start..start + len` of the stems `stems` only (in that order, after
/// their gain and pan), so callers that need some stems pay for those alone. Synthesis
/// begins early enough that every note sounding at `start`, and every note released up to a
/// second before it, is heard as in the whole song.
pub fn render_stems(
    plan: &SongPlan,
    sound_font: &Arc<SoundFont>,
    start: usize,
    len: usize,
    stems: &[Stem],
) -> anyhow::Result<Vec<AudioBuffer>> {
    let sr = SAMPLE_RATE as f64;
    let window_start = start as f64 / sr;
    let earliest_active = plan
        .parts
        .iter()
        .flat_map(|p| &p.notes)
        .filter(|n| {
            n.start < window_start && n.start + n.duration > window_start - RELEASE_PRE_ROLL
        })
        .map(|n| n.start)
        .fold(window_start - RELEASE_PRE_ROLL, f64::min);
    let from = ((earliest_active * sr).floor().max(0.0) as usize / BLOCK) * BLOCK;
    let from = from.min(start);
    let total = start + len - from;
    let mut rendered = Vec::with_capacity(stems.len());
    for &stem in stems {
        let result = match (stem, &plan.singer) {
            (Stem::Vocals, Singer::Espeak { voice, syllables }) => {
                let part = plan.parts.iter().find(|p| p.stem == Stem::Vocals);
                let mono = match part {
                    Some(part) => render_sung(part, voice, syllables, from, total),
                    None => Ok(vec![0.0; total]),
                };
                mono.map(|mono| [mono.clone(), mono])
            }
            _ => render_stem(plan, sound_font, stem, from, total),
        };
        let [mut left, mut right] =
            result.with_context(|| format!("cannot render the {} stem", stem.name()))?;
        let mix = plan.mix[stem.index()];
        let gain = 10f32.powf(mix.gain_db / 20.0);
        // Constant-power balance, unity at the centre.
        let angle = (mix.pan + 1.0) * std::f32::consts::FRAC_PI_4;
        let (left_gain, right_gain) = (
            gain * angle.cos() * 2f32.sqrt(),
            gain * angle.sin() * 2f32.sqrt(),
        );
        left.drain(..start - from);
        right.drain(..start - from);
        left.iter_mut().for_each(|s| *s *= left_gain);
        right.iter_mut().for_each(|s| *s *= right_gain);
        rendered.push(AudioBuffer {
            sample_rate: SAMPLE_RATE,
            channels: vec![left, right],
        });
    }
    Ok(rendered)
}

/// A MIDI event at a sample position relative to the render start.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    sample: usize,
    /// Note-offs (0) sort before note-ons (1) at the same sample, so repeated keys restart.
    on: u8,
    channel: u8,
    key: u8,
    velocity: u8,
}

/// The parts of `stem` rendered from sample `from` for `total` samples, as [left, right].
fn render_stem(
    plan: &SongPlan,
    sound_font: &Arc<SoundFont>,
    stem: Stem,
    from: usize,
    total: usize,
) -> anyhow::Result<[Vec<f32>; 2]> {
    let mut settings = SynthesizerSettings::new(SAMPLE_RATE as i32);
    // Dry stems: rooms and reverb are augmentations applied later, and they cost time.
    settings.enable_reverb_and_chorus = false;
    let mut synth = Synthesizer::new(sound_font, &settings)
        .map_err(|error| anyhow::anyhow!("cannot start the synthesizer: {error:?}"))?;
    let parts: Vec<&Part> = plan.parts.iter().filter(|p| p.stem == stem).collect();
    let mut events = Vec::new();
    let position =
        |seconds: f64| ((seconds * SAMPLE_RATE as f64).round() as usize).saturating_sub(from);
    for part in &parts {
        synth.process_midi_message(part.channel as i32, 0xC0, part.program as i32, 0);
        for note in &part.notes {
            let off = position(note.start + note.duration);
            // Notes that ended before the render start are silent by then.
            if off == 0 {
                continue;
            }
            let (channel, key) = (part.channel, note.key);
            events.push(Event {
                sample: position(note.start),
                on: 1,
                channel,
                key,
                velocity: note.velocity,
            });
            events.push(Event {
                sample: off,
                on: 0,
                channel,
                key,
                velocity: 0,
            });
        }
    }
    events.sort_unstable();
    let mut left = vec![0f32; total];
    let mut right = vec![0f32; total];
    let mut done = 0;
    for event in events.iter().filter(|e| e.sample < total) {
        if event.sample > done {
            synth.render(
                &mut left[done..event.sample],
                &mut right[done..event.sample],
            );
            done = event.sample;
        }
        if event.on == 1 {
            synth.note_on(
                event.channel as i32,
                event.key as i32,
                event.velocity as i32,
            );
        } else {
            synth.note_off(event.channel as i32, event.key as i32);
        }
    }
    synth.render(&mut left[done..], &mut right[done..]);
    Ok([left, right])
}
