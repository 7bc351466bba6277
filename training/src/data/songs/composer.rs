//! The composer: draws a key, tempo, meter, sections with their chord progressions and the
//! parts of every stem, all from one random stream, and writes every note as an event in
//! seconds (the song plan `song.json` records and the renderer plays).

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::parts::vocals::{self, Singer};
use super::parts::{bass, drums, other};
use super::theory::{Chord, Key, Mode, cadential_progressions, progressions};

/// Sample rate of every rendered song and crop.
pub const SAMPLE_RATE: u32 = 44_100;

/// The four stems a song is split into, in the order of `Stem::ALL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Stem {
    /// The sung melody.
    Vocals,
    /// The drum kit.
    Drums,
    /// The bass line.
    Bass,
    /// Everything else: keys, guitars, strings, pads, plucks, leads.
    Other,
}

impl Stem {
    /// Every stem, in file and array order.
    pub const ALL: [Stem; 4] = [Stem::Vocals, Stem::Drums, Stem::Bass, Stem::Other];

    /// The file stem name (`vocals.wav` …).
    pub fn name(self) -> &'static str {
        match self {
            Stem::Vocals => "vocals",
            Stem::Drums => "drums",
            Stem::Bass => "bass",
            Stem::Other => "other",
        }
    }

    /// Position in `Stem::ALL`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The kinds of section a song is made of; each sets which parts play and how busily.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionKind {
    /// Opening bars without vocals.
    Intro,
    /// Verse: the melody, moderate accompaniment.
    Verse,
    /// Chorus: everything, loudest.
    Chorus,
    /// Drop: four-on-the-floor drums, syncopated bass, no vocals.
    Drop,
    /// Bridge: half-time drums, a contrasting progression.
    Bridge,
    /// Closing bars, sparse.
    Outro,
}

impl SectionKind {
    /// How busy and loud the section is, 0 (sparse) to 2 (full).
    pub fn energy(self) -> u8 {
        match self {
            SectionKind::Intro | SectionKind::Outro => 0,
            SectionKind::Verse | SectionKind::Bridge => 1,
            SectionKind::Chorus | SectionKind::Drop => 2,
        }
    }

    /// Whether the vocals sing in this section.
    pub fn has_vocals(self) -> bool {
        matches!(
            self,
            SectionKind::Verse | SectionKind::Chorus | SectionKind::Bridge
        )
    }
}

/// A run of bars of one kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// What the section is.
    pub kind: SectionKind,
    /// First bar (0-based).
    pub start_bar: usize,
    /// Length in bars.
    pub bars: usize,
}

/// A chord and when it sounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChordSpan {
    /// Start, in beats from the song start.
    pub start_beat: f64,
    /// Length in beats.
    pub beats: f64,
    /// Start in seconds (for labels read without the tempo).
    pub start: f64,
    /// The chord.
    pub chord: Chord,
    /// Its symbol, e.g. "Am7".
    pub symbol: String,
}

/// A note as the part generators write it, on the beat grid before humanisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeatNote {
    /// Onset in beats from the song start.
    pub beat: f64,
    /// Length in beats.
    pub beats: f64,
    /// MIDI key (for drums: the GM percussion sound).
    pub key: u8,
    /// MIDI velocity 1–127.
    pub velocity: u8,
}

/// A note as rendered: humanised, in seconds, inside the song.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteEvent {
    /// Onset in seconds.
    pub start: f64,
    /// Length in seconds (note-on to note-off; the release rings on after it).
    pub duration: f64,
    /// MIDI key.
    pub key: u8,
    /// MIDI velocity 1–127.
    pub velocity: u8,
}

/// One instrument of one stem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The stem it is rendered into.
    pub stem: Stem,
    /// What it plays, e.g. "walking bass" or "pad".
    pub role: String,
    /// MIDI channel (0-based; 9 is the GM drum channel).
    pub channel: u8,
    /// GM program (for drums: the kit, bank 128).
    pub program: u8,
    /// Every note, sorted by onset.
    pub notes: Vec<NoteEvent>,
}

/// How a stem enters the mixture.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StemMix {
    /// Which stem.
    pub stem: Stem,
    /// Gain in dB applied to the stem.
    pub gain_db: f32,
    /// Pan, −1 (left) to 1 (right), constant-power balance.
    pub pan: f32,
}

/// A whole song: everything needed to render it and every label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SongPlan {
    /// The key.
    pub key: Key,
    /// The key as text, e.g. "F# minor".
    pub key_name: String,
    /// Tempo in beats per minute.
    pub tempo_bpm: f64,
    /// Beats per bar (4 or 3; the beat is a quarter note).
    pub beats_per_bar: usize,
    /// Length in seconds; every note lies inside it.
    pub seconds: f64,
    /// The sections in order.
    pub sections: Vec<Section>,
    /// The chords in order.
    pub chords: Vec<ChordSpan>,
    /// Every part of every stem.
    pub parts: Vec<Part>,
    /// Gain and pan of each stem, in `Stem::ALL` order.
    pub mix: Vec<StemMix>,
    /// Who sings the vocals part: its GM program or espeak-ng (voice and syllables).
    pub singer: Singer,
}

/// What a caller imposes on a composed song instead of letting the composer draw it, e.g. to
/// balance labelled clips over keys and tempi.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Constraints {
    /// The key, or `None` to draw it.
    pub key: Option<Key>,
    /// The tempo in bpm, or `None` to draw it (70–170).
    pub tempo_bpm: Option<f64>,
    /// Draw every section's progression from `theory::cadential_progressions`, which state
    /// the key in any excerpt from a section's start (for key-labelled clips).
    pub cadential: bool,
}

/// What the part generators see of the song: the key, meter, sections and harmony on the
/// beat grid.
pub struct Grid {
    /// The key.
    pub key: Key,
    /// Beats per bar.
    pub beats_per_bar: usize,
    /// Tempo, for generators that adapt to it.
    pub tempo_bpm: f64,
    /// The sections covering every bar.
    pub sections: Vec<Section>,
    /// One chord per bar.
    pub bar_chords: Vec<Chord>,
}

impl Grid {
    /// Number of bars.
    pub fn bars(&self) -> usize {
        self.bar_chords.len()
    }

    /// The section bar `bar` belongs to.
    pub fn section_at(&self, bar: usize) -> &Section {
        self.sections
            .iter()
            .find(|s| (s.start_bar..s.start_bar + s.bars).contains(&bar))
            .unwrap_or(&self.sections[self.sections.len() - 1])
    }

    /// The chord of bar `bar` (the last chord past the end).
    pub fn chord_at(&self, bar: usize) -> &Chord {
        &self.bar_chords[bar.min(self.bar_chords.len() - 1)]
    }

    /// Beat at which bar `bar` starts.
    pub fn bar_beat(&self, bar: usize) -> f64 {
        (bar * self.beats_per_bar) as f64
    }
}

/// The random stream song `stream` of seed `seed` is drawn from (the CLI's song `i` and the
/// on-the-fly stream's crop `i` use stream `i`, so any song can be made again alone).
pub fn song_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Composes a song of `seconds` seconds from `rng`.
pub fn compose(rng: &mut impl Rng, seconds: f64) -> SongPlan {
    compose_with(rng, seconds, Constraints::default())
}

/// Composes a song of `seconds` seconds from `rng`, as `constraints` demand.
pub fn compose_with(rng: &mut impl Rng, seconds: f64, constraints: Constraints) -> SongPlan {
    let key = constraints.key.unwrap_or_else(|| Key {
        tonic: rng.random_range(0..12),
        mode: if rng.random_bool(0.5) {
            Mode::Major
        } else {
            Mode::Minor
        },
    });
    let tempo_bpm = constraints
        .tempo_bpm
        .unwrap_or_else(|| rng.random_range(70.0..170.0f64).round());
    let beats_per_bar = if rng.random_bool(0.25) { 3 } else { 4 };
    let bar_seconds = beats_per_bar as f64 * 60.0 / tempo_bpm;
    let bars = (seconds / bar_seconds).ceil().max(1.0) as usize;
    let sections = sections(rng, bars, beats_per_bar);

    // One progression per section kind, so choruses repeat their chords.
    let options = if constraints.cadential {
        cadential_progressions(key.mode)
    } else {
        progressions(key.mode)
    };
    let mut kind_progressions: Vec<(SectionKind, &[usize], bool)> = Vec::new();
    let mut bar_chords = Vec::with_capacity(bars);
    // Slow harmonic rhythm (two bars per chord) at fast tempi.
    let bars_per_chord = if tempo_bpm > 130.0 { 2 } else { 1 };
    for section in &sections {
        let (_, progression, sevenths) =
            match kind_progressions.iter().find(|k| k.0 == section.kind) {
                Some(found) => *found,
                None => {
                    let chosen = (
                        section.kind,
                        options[rng.random_range(0..options.len())],
                        rng.random_bool(0.3),
                    );
                    kind_progressions.push(chosen);
                    chosen
                }
            };
        for bar in 0..section.bars {
            let degree = progression[(bar / bars_per_chord) % progression.len()];
            bar_chords.push(key.chord(degree, sevenths));
        }
    }
    let grid = Grid {
        key,
        beats_per_bar,
        tempo_bpm,
        sections,
        bar_chords,
    };

    let seconds_per_beat = 60.0 / tempo_bpm;
    let chords = chord_spans(&grid, seconds_per_beat);
    let timing_jitter = rng.random_range(0.0..0.012);
    let mut parts = Vec::new();

    let drums = drums::compose(rng, &grid);
    parts.push((
        Stem::Drums,
        drums.role,
        9,
        drums.program,
        drums.notes,
        timing_jitter * 0.5,
    ));
    let bass = bass::compose(rng, &grid);
    parts.push((
        Stem::Bass,
        bass.role,
        1,
        bass.program,
        bass.notes,
        timing_jitter,
    ));
    let n_other = rng.random_range(1..=3);
    for (i, part) in other::compose(rng, &grid, n_other).into_iter().enumerate() {
        parts.push((
            Stem::Other,
            part.role,
            2 + i as u8,
            part.program,
            part.notes,
            timing_jitter,
        ));
    }
    let vocals = vocals::compose(rng, &grid);
    parts.push((
        Stem::Vocals,
        vocals.role,
        0,
        vocals.program,
        vocals.notes,
        timing_jitter,
    ));

    let parts: Vec<Part> = parts
        .into_iter()
        .map(|(stem, role, channel, program, notes, jitter)| Part {
            stem,
            role,
            channel,
            program,
            notes: humanise(rng, &notes, seconds_per_beat, seconds, jitter),
        })
        .collect();
    let vocal_notes = parts
        .iter()
        .filter(|p| p.stem == Stem::Vocals)
        .map(|p| p.notes.len())
        .sum();
    let singer = vocals::draw_singer(rng, vocal_notes);
    let mix = Stem::ALL
        .iter()
        .map(|&stem| StemMix {
            stem,
            gain_db: rng.random_range(-9.0..0.0f32),
            pan: rng.random_range(-0.5..0.5f32),
        })
        .collect();
    SongPlan {
        key,
        key_name: key.name(),
        tempo_bpm,
        beats_per_bar,
        seconds,
        sections: grid.sections,
        chords,
        parts,
        mix,
        singer,
    }
}

/// A part as a generator returns it.
pub struct GeneratedPart {
    /// What it plays.
    pub role: String,
    /// GM program.
    pub program: u8,
    /// The notes on the beat grid.
    pub notes: Vec<BeatNote>,
}

/// A section layout covering `bars` bars: a short intro, then verses and choruses with an
/// occasional drop (4/4 only) or bridge, and an outro when the song is long enough.
fn sections(rng: &mut impl Rng, bars: usize, beats_per_bar: usize) -> Vec<Section> {
    let mut kinds = vec![(SectionKind::Intro, if rng.random_bool(0.5) { 2 } else { 4 })];
    let body = [SectionKind::Verse, SectionKind::Chorus];
    let mut i = 0;
    while kinds.iter().map(|k| k.1).sum::<usize>() < bars {
        let kind = if i >= 2 && rng.random_bool(0.3) {
            if beats_per_bar == 4 && rng.random_bool(0.5) {
                SectionKind::Drop
            } else {
                SectionKind::Bridge
            }
        } else {
            body[i % 2]
        };
        kinds.push((kind, if kind == SectionKind::Bridge { 4 } else { 8 }));
        i += 1;
    }
    if bars >= 24 {
        kinds.push((SectionKind::Outro, 4));
    }
    let mut start_bar = 0;
    let mut sections = Vec::new();
    for (kind, length) in kinds {
        if start_bar >= bars {
            break;
        }
        let length = length.min(bars - start_bar);
        sections.push(Section {
            kind,
            start_bar,
            bars: length,
        });
        start_bar += length;
    }
    sections
}

/// The chords as labelled spans, merging repeated bars of one chord.
fn chord_spans(grid: &Grid, seconds_per_beat: f64) -> Vec<ChordSpan> {
    let mut spans: Vec<ChordSpan> = Vec::new();
    for (bar, chord) in grid.bar_chords.iter().enumerate() {
        let beat = grid.bar_beat(bar);
        match spans.last_mut() {
            Some(last) if last.chord == *chord && grid.section_at(bar).start_bar != bar => {
                last.beats += grid.beats_per_bar as f64;
            }
            _ => spans.push(ChordSpan {
                start_beat: beat,
                beats: grid.beats_per_bar as f64,
                start: beat * seconds_per_beat,
                chord: chord.clone(),
                symbol: chord.symbol(),
            }),
        }
    }
    spans
}

/// Beat notes → note events in seconds: onsets shifted by up to `jitter` seconds and
/// velocities by up to ±8, then cut to the song (`seconds`).
fn humanise(
    rng: &mut impl Rng,
    notes: &[BeatNote],
    seconds_per_beat: f64,
    seconds: f64,
    jitter: f64,
) -> Vec<NoteEvent> {
    let mut events: Vec<NoteEvent> = notes
        .iter()
        .filter_map(|note| {
            let shift = if jitter > 0.0 {
                rng.random_range(-jitter..jitter)
            } else {
                0.0
            };
            let velocity = (note.velocity as i32 + rng.random_range(-8..=8)).clamp(1, 127) as u8;
            let start = (note.beat * seconds_per_beat + shift).max(0.0);
            let end = ((note.beat + note.beats) * seconds_per_beat + shift).min(seconds);
            (start < seconds && end > start).then_some(NoteEvent {
                start,
                duration: end - start,
                key: note.key,
                velocity,
            })
        })
        .collect();
    events.sort_by(|a, b| a.start.total_cmp(&b.start));
    events
}
