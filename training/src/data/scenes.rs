//! Naturalistic two-ear scenes for WavJEPA-Nat (WavJEPA paper, appendix D): a source in a
//! random simulated room heard by a randomly placed and turned head, plus localised or
//! diffuse noise mixed at a random SNR.
//!
//! Mixing follows the paper: noise clips are cut to the scene length (at most 10 s) and given
//! 200 ms linear fades, the target `T` and the noise `N` (summed over noise positions when
//! diffuse) are each convolved with their BRIRs, and the scene is `S = T + b·N`. The SNR is
//! defined on the two-channel reverberant signals over the whole scene:
//! `SNR = 10·log10(Σ_ear Σ_t T² / Σ_ear Σ_t (b·N)²)`, and `b` is set to make it the drawn value.

use std::f64::consts::{FRAC_PI_2, TAU};

use anyhow::{bail, ensure};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::data::convolve::convolve;
use crate::data::room::{Head, ShoeboxRoom, binaural_rir, decay_length};

/// Draws of noise excerpts before a scene whose noise stays silent is an error.
const MAX_NOISE_DRAWS: usize = 16;

/// The ranges scenes are drawn from; the defaults follow the WavJEPA paper where it gives
/// them (distances, angles, SNR, fades, 10 s) and plausible living-space rooms elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SceneConfig {
    /// Room length (x) range in metres.
    pub room_length: [f64; 2],
    /// Room width (y) range in metres.
    pub room_width: [f64; 2],
    /// Room height (z) range in metres.
    pub room_height: [f64; 2],
    /// Reverberation time range in seconds.
    pub rt60: [f64; 2],
    /// Height range of the head centre in metres (seated to standing).
    pub head_height: [f64; 2],
    /// Source distance from the head centre, metres.
    pub source_distance: [f64; 2],
    /// Closest any source or the head may come to a wall, metres.
    pub wall_margin: f64,
    /// Probability that the noise is diffuse rather than localised.
    pub diffuse_probability: f64,
    /// Number of noise positions of a diffuse field (inclusive range).
    pub diffuse_sources: [usize; 2],
    /// SNR range in dB.
    pub snr_db: [f64; 2],
    /// Linear fade-in and fade-out applied to each noise clip, seconds.
    pub noise_fade_seconds: f64,
    /// Longest scene, seconds; longer sources are cut.
    pub max_seconds: f64,
    /// Decay at which the impulse responses are cut, dB below the direct level: well below
    /// what the quietest noise (40 dB SNR) leaves audible, and it bounds the image count.
    pub ir_decay_db: f64,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            room_length: [4.0, 12.0],
            room_width: [3.5, 10.0],
            room_height: [2.5, 4.0],
            rt60: [0.2, 1.0],
            head_height: [1.1, 1.8],
            source_distance: [1.5, 5.0],
            wall_margin: 0.3,
            diffuse_probability: 0.5,
            diffuse_sources: [3, 5],
            snr_db: [5.0, 40.0],
            noise_fade_seconds: 0.2,
            max_seconds: 10.0,
            ir_decay_db: 50.0,
        }
    }
}

impl SceneConfig {
    /// Checks that every range is ordered and physically possible.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, [low, high]) in [
            ("room_length", self.room_length),
            ("room_width", self.room_width),
            ("room_height", self.room_height),
            ("rt60", self.rt60),
            ("head_height", self.head_height),
            ("source_distance", self.source_distance),
            ("snr_db", self.snr_db),
        ] {
            ensure!(
                low.is_finite() && high.is_finite() && low <= high,
                "{name} must be an ordered range, got [{low}, {high}]"
            );
        }
        ensure!(
            self.room_length[0] > 0.0 && self.room_width[0] > 0.0 && self.rt60[0] > 0.0,
            "rooms and RT60 must be positive"
        );
        ensure!(
            self.source_distance[0] > 0.0,
            "source distances must be positive"
        );
        let margin_fits = self.room_height[0] > 2.0 * self.wall_margin
            && self.room_length[0] > 2.0 * self.wall_margin
            && self.room_width[0] > 2.0 * self.wall_margin;
        ensure!(
            self.wall_margin >= 0.0 && margin_fits,
            "the wall margin {} does not fit the smallest room",
            self.wall_margin
        );
        ensure!(
            (0.0..=1.0).contains(&self.diffuse_probability),
            "diffuse_probability must lie in [0, 1]"
        );
        let [few, many] = self.diffuse_sources;
        ensure!(
            few >= 1 && few <= many,
            "diffuse_sources must be an ordered range of at least 1"
        );
        ensure!(
            self.noise_fade_seconds >= 0.0 && self.max_seconds > 0.0 && self.ir_decay_db > 0.0,
            "fades, scene length and IR decay must be positive"
        );
        Ok(())
    }
}

/// Every random choice that makes one scene, serialised next to the rendered audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneInfo {
    /// The room, with the absorption that gives `rt60`.
    pub room: ShoeboxRoom,
    /// The drawn (Eyring) reverberation time, seconds.
    pub rt60: f64,
    /// The listener's head.
    pub head: Head,
    /// Source position, metres.
    pub source: [f64; 3],
    /// Source distance from the head centre, metres.
    pub source_distance: f64,
    /// Source azimuth relative to the facing direction, degrees counter-clockwise (+90 = left).
    pub source_azimuth_deg: f64,
    /// Source elevation, degrees above the horizontal (after clipping to fit the room).
    pub source_elevation_deg: f64,
    /// Whether the noise is a diffuse field (several positions) rather than one source.
    pub diffuse: bool,
    /// One entry per noise position.
    pub noises: Vec<NoiseInfo>,
    /// Target-to-noise ratio of the mix, dB (see the module doc for the definition).
    pub snr_db: f64,
    /// The factor `b` the noise was scaled by.
    pub noise_gain: f64,
    /// Sample rate of the rendered scene.
    pub sample_rate: u32,
    /// Scene length in samples.
    pub samples: usize,
}

/// One noise position and the clip played there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseInfo {
    /// Position, metres.
    pub position: [f64; 3],
    /// Index into the noise clips passed to [`render_scene`].
    pub clip: usize,
    /// Sample of the clip where the used excerpt starts (the clip is looped if too short).
    pub offset: usize,
}

/// Draws a uniform value from `[low, high]` (exactly `low` when the range is empty).
fn uniform(rng: &mut impl Rng, [low, high]: [f64; 2]) -> f64 {
    if high > low {
        rng.random_range(low..high)
    } else {
        low
    }
}

/// A uniformly random point of `room` at least `margin` from the walls.
fn point_in_room(rng: &mut impl Rng, room: &ShoeboxRoom, margin: f64) -> [f64; 3] {
    room.dims.map(|d| uniform(rng, [margin, d - margin]))
}

/// Room, head and source of a scene.
struct Geometry {
    room: ShoeboxRoom,
    rt60: f64,
    head: Head,
    distance: f64,
    azimuth: f64,
    elevation: f64,
    source: [f64; 3],
}

/// Draws a room, a head in it and a source at the configured distance in any direction,
/// with the elevation clipped so the source stays inside. Rooms too small for the drawn
/// distance are redrawn.
fn draw_geometry(config: &SceneConfig, rng: &mut impl Rng) -> anyhow::Result<Geometry> {
    let margin = config.wall_margin;
    for _ in 0..100 {
        let dims = [
            uniform(rng, config.room_length),
            uniform(rng, config.room_width),
            uniform(rng, config.room_height),
        ];
        let rt60 = uniform(rng, config.rt60);
        let Ok(room) = ShoeboxRoom::with_rt60(dims, rt60) else {
            continue;
        };
        for _ in 0..100 {
            let mut centre = point_in_room(rng, &room, margin);
            centre[2] = uniform(rng, config.head_height).clamp(margin, dims[2] - margin);
            let head = Head {
                centre,
                yaw: rng.random_range(0.0..TAU),
            };
            let distance = uniform(rng, config.source_distance);
            let azimuth = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
            // Uniform on the sphere, then clipped to the heights the room allows.
            let wanted = rng.random_range(-1.0f64..1.0).asin();
            let lowest = ((margin - centre[2]) / distance).clamp(-1.0, 1.0).asin();
            let highest = ((dims[2] - margin - centre[2]) / distance)
                .clamp(-1.0, 1.0)
                .asin();
            let elevation = wanted.clamp(lowest, highest).clamp(-FRAC_PI_2, FRAC_PI_2);
            let source = head.point_at(distance, azimuth, elevation);
            if room.contains(source, margin * 0.999) {
                return Ok(Geometry {
                    room,
                    rt60,
                    head,
                    distance,
                    azimuth,
                    elevation,
                    source,
                });
            }
        }
    }
    bail!("could not fit a source at the configured distance into the configured rooms")
}

/// `clip` cut or looped to `length` samples starting at `offset`, with linear fades of
/// `fade` samples at both ends (shortened to half the length for very short scenes).
pub fn excerpt_with_fades(clip: &[f32], offset: usize, length: usize, fade: usize) -> Vec<f32> {
    let fade = fade.min(length / 2);
    (0..length)
        .map(|i| {
            let ramp = if i < fade {
                i as f32 / fade as f32
            } else if length - 1 - i < fade {
                (length - 1 - i) as f32 / fade as f32
            } else {
                1.0
            };
            clip[(offset + i) % clip.len()] * ramp
        })
        .collect()
}

/// Sum of squares over both channels.
fn energy(channels: &[Vec<f32>; 2]) -> f64 {
    channels
        .iter()
        .flatten()
        .map(|&v| f64::from(v).powi(2))
        .sum()
}

/// Renders one scene drawn from `config`: `source` (mono, at `sample_rate`, cut to
/// `config.max_seconds`) in a random room, mixed with noise clips drawn from `noise` (any
/// lengths; each noise position draws its clip and start independently). Returns the left
/// and right channels and everything drawn. Every random choice comes from `rng`.
pub fn render_scene(
    config: &SceneConfig,
    source: &[f32],
    noise: &[&[f32]],
    sample_rate: u32,
    rng: &mut impl Rng,
) -> anyhow::Result<(Vec<Vec<f32>>, SceneInfo)> {
    config.validate()?;
    ensure!(sample_rate > 0, "the sample rate must be positive");
    let length = source
        .len()
        .min((config.max_seconds * f64::from(sample_rate)) as usize);
    let source = &source[..length];
    ensure!(
        source.iter().any(|v| *v != 0.0),
        "the source is empty or silent"
    );
    ensure!(
        source.iter().all(|v| v.is_finite()),
        "the source has non-finite samples"
    );
    ensure!(
        !noise.is_empty() && noise.iter().all(|clip| !clip.is_empty()),
        "scenes need at least one non-empty noise clip"
    );

    let geometry = draw_geometry(config, rng)?;
    let diffuse = rng.random_bool(config.diffuse_probability);
    let positions = if diffuse {
        rng.random_range(config.diffuse_sources[0]..=config.diffuse_sources[1])
    } else {
        1
    };
    let ir_length = decay_length(geometry.rt60, config.ir_decay_db, sample_rate);
    let brir = |position| {
        binaural_rir(
            &geometry.room,
            position,
            &geometry.head,
            sample_rate,
            ir_length,
        )
    };
    let fade = (config.noise_fade_seconds * f64::from(sample_rate)).round() as usize;
    // Noise positions, clips and offsets, redrawn when the excerpts are all silent (a
    // stem's rests); the first draw is kept otherwise, so scenes stay reproducible.
    let mut attempts = 0;
    let (noises, noise_field, snr_db) = loop {
        let noises: Vec<NoiseInfo> = (0..positions)
            .map(|_| {
                let position = point_in_room(rng, &geometry.room, config.wall_margin);
                let clip = rng.random_range(0..noise.len());
                let offset = rng.random_range(0..noise[clip].len());
                NoiseInfo {
                    position,
                    clip,
                    offset,
                }
            })
            .collect();
        let snr_db = uniform(rng, config.snr_db);
        let mut noise_field = [vec![0.0f32; length], vec![0.0f32; length]];
        for info in &noises {
            let clip = excerpt_with_fades(noise[info.clip], info.offset, length, fade);
            let rendered = convolve(&clip, &brir(info.position)?, length);
            for (sum, part) in noise_field.iter_mut().zip(&rendered) {
                sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
            }
        }
        let noise_energy = energy(&noise_field);
        attempts += 1;
        if noise_energy > 0.0 && noise_energy.is_finite() {
            break (noises, noise_field, snr_db);
        }
        ensure!(
            attempts < MAX_NOISE_DRAWS,
            "the noise clips are silent ({MAX_NOISE_DRAWS} excerpts tried)"
        );
    };
    let target = convolve(source, &brir(geometry.source)?, length);
    let (target_energy, noise_energy) = (energy(&target), energy(&noise_field));
    let noise_gain = (target_energy / (noise_energy * 10f64.powf(snr_db / 10.0))).sqrt();
    let stereo = target
        .iter()
        .zip(&noise_field)
        .map(|(t, n)| {
            t.iter()
                .zip(n)
                .map(|(t, n)| t + (noise_gain as f32) * n)
                .collect()
        })
        .collect();
    let info = SceneInfo {
        room: geometry.room,
        rt60: geometry.rt60,
        head: geometry.head,
        source: geometry.source,
        source_distance: geometry.distance,
        source_azimuth_deg: geometry.azimuth.to_degrees(),
        source_elevation_deg: geometry.elevation.to_degrees(),
        diffuse,
        noises,
        snr_db,
        noise_gain,
        sample_rate,
        samples: length,
    };
    Ok((stereo, info))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const RATE: u32 = 16_000;

    /// A deterministic noise-like signal (a linear congruential sequence).
    fn pseudo_noise(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Short, small-room scenes so the tests stay fast in debug builds.
    fn quick_config(diffuse_probability: f64) -> SceneConfig {
        SceneConfig {
            room_length: [5.0, 7.0],
            room_width: [4.5, 6.0],
            rt60: [0.2, 0.4],
            diffuse_probability,
            ir_decay_db: 30.0,
            ..SceneConfig::default()
        }
    }

    /// The SNR error of a rendered scene, in dB: the scene is rendered twice from the same
    /// seed, once as drawn and once with the noise 200 dB down (the SNR is the last draw, so
    /// room, positions and clips stay the same), which gives the target alone.
    fn measured_snr(config: &SceneConfig, source: &[f32], noise: &[&[f32]], seed: u64) -> f64 {
        let (mixed, info) = render_scene(
            config,
            source,
            noise,
            RATE,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
        .unwrap();
        let (target_only, _) = render_scene(
            &SceneConfig {
                snr_db: [200.0, 200.0],
                ..config.clone()
            },
            source,
            noise,
            RATE,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
        .unwrap();
        let (mut t, mut n) = (0.0f64, 0.0f64);
        for (m, s) in mixed.iter().flatten().zip(target_only.iter().flatten()) {
            t += f64::from(*s).powi(2);
            n += f64::from(m - s).powi(2);
        }
        assert!(mixed.iter().flatten().all(|v| v.is_finite()));
        println!(
            "diffuse {} ({} positions): requested {:.2} dB, measured {:.3} dB",
            info.diffuse,
            info.noises.len(),
            info.snr_db,
            10.0 * (t / n).log10()
        );
        10.0 * (t / n).log10() - info.snr_db
    }

    #[test]
    fn mixed_scenes_have_the_requested_snr_for_localised_and_diffuse_noise() {
        let source = pseudo_noise(RATE as usize, 1);
        let noises = [pseudo_noise(6000, 2), pseudo_noise(30_000, 3)];
        let noise: Vec<&[f32]> = noises.iter().map(Vec::as_slice).collect();
        for (probability, seed) in [(0.0, 11), (0.0, 12), (1.0, 13), (1.0, 14)] {
            let error = measured_snr(&quick_config(probability), &source, &noise, seed);
            assert!(error.abs() < 0.1, "SNR off by {error} dB");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_scene_and_another_seed_another() {
        let source = pseudo_noise(4000, 4);
        let noise = pseudo_noise(5000, 5);
        let config = quick_config(0.5);
        let render = |seed| {
            render_scene(
                &config,
                &source,
                &[&noise],
                RATE,
                &mut ChaCha8Rng::seed_from_u64(seed),
            )
            .unwrap()
        };
        let (first, first_info) = render(7);
        let (again, again_info) = render(7);
        let (other, other_info) = render(8);
        assert_eq!(first, again);
        assert_eq!(first_info, again_info);
        assert_ne!(first, other);
        assert_ne!(first_info, other_info);
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].len(), 4000);
        // JSON keeps every draw (floats to within serde_json's shortest round trip).
        let json = serde_json::to_string(&first_info).unwrap();
        let back: SceneInfo = serde_json::from_str(&json).unwrap();
        assert!((back.snr_db - first_info.snr_db).abs() < 1e-12);
        assert!((back.head.yaw - first_info.head.yaw).abs() < 1e-12);
        assert_eq!(back.noises.len(), first_info.noises.len());
        assert_eq!(back.diffuse, first_info.diffuse);
    }

    #[test]
    fn drawn_scenes_respect_the_configured_ranges() {
        let config = SceneConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let g = draw_geometry(&config, &mut rng).unwrap();
            assert!(g.room.contains(g.source, config.wall_margin * 0.99));
            assert!((1.5..=5.0).contains(&g.distance));
            let d: f64 = (0..3)
                .map(|i| (g.source[i] - g.head.centre[i]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((d - g.distance).abs() < 1e-9);
            assert!((0.2..=1.0).contains(&g.rt60));
        }
    }

    #[test]
    fn noise_excerpts_fade_in_and_out_linearly() {
        let clip = vec![1.0f32; 100];
        let faded = excerpt_with_fades(&clip, 30, 1000, 200);
        assert_eq!(faded.len(), 1000);
        assert_eq!(faded[0], 0.0);
        assert!((faded[100] - 0.5).abs() < 1e-6);
        assert_eq!(faded[500], 1.0);
        assert!((faded[899] - 0.5).abs() < 1e-2);
        assert_eq!(faded[999], 0.0);
        // Looped from the offset.
        let ramp: Vec<f32> = (0..10).map(|v| v as f32).collect();
        assert_eq!(
            excerpt_with_fades(&ramp, 7, 5, 0),
            [7.0, 8.0, 9.0, 0.0, 1.0]
        );
    }

    #[test]
    fn fft_convolution_matches_direct_convolution() {
        let signal = pseudo_noise(300, 9);
        let irs = [pseudo_noise(40, 10), pseudo_noise(17, 11)];
        let fast = convolve(&signal, &irs, 320);
        for (ear, ir) in irs.iter().enumerate() {
            for (n, value) in fast[ear].iter().enumerate() {
                let direct: f32 = (0..ir.len())
                    .filter(|k| *k <= n && n - k < signal.len())
                    .map(|k| ir[k] * signal[n - k])
                    .sum();
                assert!((value - direct).abs() < 1e-4, "sample {n}");
            }
        }
    }

    #[test]
    fn silent_or_missing_inputs_are_errors() {
        let noise = pseudo_noise(100, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let config = quick_config(0.0);
        assert!(render_scene(&config, &[0.0; 100], &[&noise], RATE, &mut rng).is_err());
        assert!(render_scene(&config, &noise, &[], RATE, &mut rng).is_err());
        let bad = SceneConfig {
            snr_db: [40.0, 5.0],
            ..SceneConfig::default()
        };
        assert!(render_scene(&bad, &noise, &[&noise], RATE, &mut rng).is_err());
        let error = render_scene(&config, &noise, &[&[0.0; 50]], RATE, &mut rng).unwrap_err();
        assert!(
            error.to_string().contains("noise clips are silent"),
            "{error}"
        );
    }

    #[test]
    fn silent_noise_excerpts_are_drawn_again() {
        // Noise that sounds in a quarter of the clip: a scene a tenth as long often starts
        // its excerpt in the rest, which must not end the scene.
        let source = pseudo_noise(1600, 2);
        let mut mostly_rest = vec![0.0; 16_000];
        mostly_rest[..4000].copy_from_slice(&pseudo_noise(4000, 3));
        let config = SceneConfig {
            diffuse_probability: 0.0,
            noise_fade_seconds: 0.0,
            ..quick_config(0.0)
        };
        let mut redrawn = 0;
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (stereo, info) =
                render_scene(&config, &source, &[&mostly_rest], RATE, &mut rng).unwrap();
            assert!(stereo.iter().flatten().all(|v| v.is_finite()));
            // Only excerpts reaching into the sounding part are kept.
            let offset = info.noises[0].offset;
            assert!(offset < 4000 || offset + 1600 > 16_000, "offset {offset}");
            // The first draw of a seed without a retry is what it always was.
            let mut first = ChaCha8Rng::seed_from_u64(seed);
            let _ = draw_geometry(&config, &mut first).unwrap();
            let _ = first.random_bool(config.diffuse_probability);
            let _ = point_in_room(&mut first, &info.room, config.wall_margin);
            let _ = first.random_range(0..1usize);
            redrawn += usize::from(first.random_range(0..16_000usize) != offset);
        }
        assert!(redrawn > 0, "some seed drew a silent excerpt first");
    }
}
