//! A shoebox room simulated with the image-source method (Allen & Berkley, 1979), heard by
//! two ears on a simple head: the binaural room impulse responses (BRIRs) behind the
//! naturalistic scenes of WavJEPA-Nat, which used ray-traced BRIRs that cannot be downloaded.
//!
//! Model, kept deliberately simple:
//! - every wall absorbs the same energy fraction α, so each reflection scales the pressure by
//!   β = √(1 − α). α is chosen so the image-source response itself has the target RT60
//!   (see [`ShoeboxRoom::image_source_rt60`]): Sabine's and Eyring's formulas assume a diffuse
//!   field, but purely specular images keep grazing paths that hit few walls, so the response
//!   decays slower than Eyring predicts, by 30–50 % at these absorptions
//!   (Lehmann & Johansson, JASA 2008);
//! - each image source adds one tap per ear at the nearest sample of its delay `r / c`, with
//!   gain β^reflections / r (1 at 1 m);
//! - the ears sit ±9 cm from the head centre on the interaural axis set by the head's yaw;
//! - head shadow: for a sound arriving from unit direction `u` at an ear pointing along `e`,
//!   the shadowed fraction is `s = max(0, −u·e)` (0 on the ear's side, 1 from straight
//!   opposite). That fraction of the tap is low-passed by a one-pole filter at
//!   [`HEAD_SHADOW_CUTOFF_HZ`] and attenuated by [`HEAD_SHADOW_GAIN`], the rest passes
//!   unchanged. A source at 90° thus reaches the far ear about 3 dB quieter at low
//!   frequencies and much quieter above a few kHz, roughly a spherical head's level
//!   difference; the time difference comes from the ears' positions alone.

use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// Speed of sound in air at about 20 °C, m/s.
pub const SPEED_OF_SOUND: f64 = 343.0;

/// Distance of each ear from the head centre, m (ears ~18 cm apart).
pub const EAR_OFFSET: f64 = 0.09;

/// Corner frequency of the head-shadow low-pass, Hz.
pub const HEAD_SHADOW_CUTOFF_HZ: f64 = 1500.0;

/// Broadband gain of the shadowed part of a tap (about −3 dB).
pub const HEAD_SHADOW_GAIN: f64 = 0.7;

/// Sabine's constant 24·ln(10)/c in s/m, so RT60 = 0.161·V/A.
const SABINE_CONSTANT: f64 = 24.0 * std::f64::consts::LN_10 / SPEED_OF_SOUND;

/// Smallest distance used for the 1/r law, so a source on top of an ear stays finite.
const MIN_DISTANCE: f64 = 0.05;

/// A rectangular room with one absorption coefficient for all six walls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShoeboxRoom {
    /// Length, width and height in metres (x, y, z); the room spans `[0, dims[i]]`.
    pub dims: [f64; 3],
    /// Fraction of incident energy each wall absorbs, in (0, 1).
    pub absorption: f64,
}

impl ShoeboxRoom {
    /// The room with dimensions `dims` whose image-source response has a reverberation time
    /// of `rt60` seconds ([`Self::image_source_rt60`]). Fails for non-positive sizes or times,
    /// or a time too short for the room to reach even with almost fully absorbing walls.
    pub fn with_rt60(dims: [f64; 3], rt60: f64) -> anyhow::Result<Self> {
        ensure!(
            dims.iter().all(|d| d.is_finite() && *d > 0.0),
            "room dimensions must be positive, got {dims:?}"
        );
        ensure!(
            rt60.is_finite() && rt60 > 0.0,
            "RT60 must be positive, got {rt60}"
        );
        // The decay rate λ = −c·ln(1 − α) scales the whole decay curve: solve it directly.
        let rate = unit_rate_rt60(dims) / rt60;
        let absorption = 1.0 - (-rate / SPEED_OF_SOUND).exp();
        ensure!(
            absorption < 0.99,
            "an RT60 of {rt60} s is too short for a {dims:?} m room"
        );
        Ok(Self { dims, absorption })
    }

    /// The reverberation time (T30 of the Schroeder curve) that the image-source model
    /// predicts for this room, in seconds. An image at distance `r = c·t` in direction `u`
    /// has met about `r·Σ|u_i|/L_i` walls, and the images at that distance are spread evenly
    /// over directions, so the energy arriving at time `t` is the mean over directions of
    /// `(1 − α)^(c·t·Σ|u_i|/L_i)`. Averaging the exponent instead of the power gives Eyring.
    pub fn image_source_rt60(&self) -> f64 {
        unit_rate_rt60(self.dims) / (-SPEED_OF_SOUND * (1.0 - self.absorption).ln())
    }

    /// Volume in m³.
    pub fn volume(&self) -> f64 {
        self.dims.iter().product()
    }

    /// Total wall area in m².
    pub fn surface(&self) -> f64 {
        let [x, y, z] = self.dims;
        2.0 * (x * y + x * z + y * z)
    }

    /// Pressure reflection coefficient of every wall, β = √(1 − α).
    pub fn reflection_coefficient(&self) -> f64 {
        (1.0 - self.absorption).sqrt()
    }

    /// Sabine's reverberation time, 0.161·V / (S·α), in seconds.
    pub fn sabine_rt60(&self) -> f64 {
        SABINE_CONSTANT * self.volume() / (self.surface() * self.absorption)
    }

    /// Eyring's reverberation time, 0.161·V / (−S·ln(1 − α)), in seconds.
    pub fn eyring_rt60(&self) -> f64 {
        SABINE_CONSTANT * self.volume() / (-self.surface() * (1.0 - self.absorption).ln())
    }

    /// Whether `point` lies inside the room at least `margin` metres from every wall.
    pub fn contains(&self, point: [f64; 3], margin: f64) -> bool {
        point
            .iter()
            .zip(self.dims)
            .all(|(p, d)| *p >= margin && *p <= d - margin)
    }
}

/// Directions (a Fibonacci sphere) the image-source decay is averaged over.
const DECAY_DIRECTIONS: usize = 2048;

/// The image-source RT60 of a room of size `dims` times its decay rate `λ = −c·ln(1 − α)`:
/// with `λ = 1`, the energy decay curve is `mean_k exp(−s_k·τ) / s_k` for the reflections per
/// metre `s_k = Σ|u_i|/L_i` of each direction, and the RT60 is twice the time it takes from
/// −5 to −35 dB.
fn unit_rate_rt60(dims: [f64; 3]) -> f64 {
    let golden_angle = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let rates: Vec<f64> = (0..DECAY_DIRECTIONS)
        .map(|k| {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / DECAY_DIRECTIONS as f64;
            let radius = (1.0 - z * z).sqrt();
            let angle = golden_angle * k as f64;
            let u = [radius * angle.cos(), radius * angle.sin(), z];
            (0..3).map(|i| u[i].abs() / dims[i]).sum()
        })
        .collect();
    let curve = |tau: f64| rates.iter().map(|s| (-s * tau).exp() / s).sum::<f64>();
    let start = curve(0.0);
    let time_to = |db: f64| {
        let target = start * 10f64.powf(db / 10.0);
        let mut high = 1.0;
        while curve(high) > target {
            high *= 2.0;
        }
        let mut low = 0.0;
        for _ in 0..50 {
            let middle = 0.5 * (low + high);
            if curve(middle) > target {
                low = middle;
            } else {
                high = middle;
            }
        }
        high
    };
    2.0 * (time_to(-35.0) - time_to(-5.0))
}

/// A listener's head: where it is and which way it faces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// Centre of the head (midpoint between the ears), m.
    pub centre: [f64; 3],
    /// Facing direction in the horizontal plane, radians counter-clockwise from +x.
    pub yaw: f64,
}

impl Head {
    /// Unit vector pointing out of the left ear (the right ear points the other way).
    pub fn left_axis(&self) -> [f64; 3] {
        [-self.yaw.sin(), self.yaw.cos(), 0.0]
    }

    /// Positions of the left and right ear.
    pub fn ears(&self) -> [[f64; 3]; 2] {
        let axis = self.left_axis();
        let ear = |sign: f64| std::array::from_fn(|i| self.centre[i] + sign * EAR_OFFSET * axis[i]);
        [ear(1.0), ear(-1.0)]
    }

    /// The point `distance` m from the head centre at `azimuth` (radians counter-clockwise from
    /// the facing direction, so +90° is to the left) and `elevation` (radians above the
    /// horizontal plane).
    pub fn point_at(&self, distance: f64, azimuth: f64, elevation: f64) -> [f64; 3] {
        let heading = self.yaw + azimuth;
        let horizontal = distance * elevation.cos();
        [
            self.centre[0] + horizontal * heading.cos(),
            self.centre[1] + horizontal * heading.sin(),
            self.centre[2] + distance * elevation.sin(),
        ]
    }
}

/// The left and right impulse responses from `source` to `head` in `room`, `length` samples
/// at `sample_rate`, with every image source whose path to the head is shorter than the
/// length allows (the image count grows with the cube of the length: keep it near the decay
/// that matters, e.g. the time to −50 dB).
pub fn binaural_rir(
    room: &ShoeboxRoom,
    source: [f64; 3],
    head: &Head,
    sample_rate: u32,
    length: usize,
) -> anyhow::Result<[Vec<f32>; 2]> {
    ensure!(
        room.contains(source, 0.0) && room.contains(head.centre, 0.0),
        "source {source:?} and head {:?} must lie inside the {:?} m room",
        head.centre,
        room.dims
    );
    ensure!(sample_rate > 0, "the sample rate must be positive");
    let samples_per_metre = f64::from(sample_rate) / SPEED_OF_SOUND;
    let max_distance = length as f64 / samples_per_metre + EAR_OFFSET;
    let beta = room.reflection_coefficient();
    let left_axis = head.left_axis();
    // Per ear: the unshadowed taps and the taps still to be low-passed.
    let mut direct = [vec![0.0f64; length], vec![0.0f64; length]];
    let mut shadowed = [vec![0.0f64; length], vec![0.0f64; length]];

    // Per axis, every image within reach: its offset from the head centre and the gain of
    // its reflections, sorted by offset so the innermost axis can be cut to the sphere.
    let axis_images = |axis: usize| {
        let size = room.dims[axis];
        let reach = (max_distance / size).ceil() as i32 + 1;
        let mut images: Vec<(f64, f64)> = (-reach..=reach)
            .filter_map(|m| {
                // Image m along one axis: |m| reflections, mirrored when m is odd.
                let coordinate = if m % 2 == 0 {
                    f64::from(m) * size + source[axis]
                } else {
                    f64::from(m + 1) * size - source[axis]
                };
                let offset = coordinate - head.centre[axis];
                (offset.abs() <= max_distance).then(|| (offset, beta.powi(m.abs())))
            })
            .collect();
        images.sort_by(|a, b| a.0.total_cmp(&b.0));
        images
    };
    let [x_images, y_images, z_images] = [0, 1, 2].map(axis_images);
    let max_squared = max_distance * max_distance;
    let ear_squared = EAR_OFFSET * EAR_OFFSET;
    for &(dx, gx) in &x_images {
        for &(dy, gy) in &y_images {
            let horizontal = dx * dx + dy * dy;
            if horizontal > max_squared {
                continue;
            }
            let reach = (max_squared - horizontal).sqrt();
            let first = z_images.partition_point(|(dz, _)| *dz < -reach);
            let last = z_images.partition_point(|(dz, _)| *dz <= reach);
            // Component along the left ear's axis (horizontal, so independent of z).
            let lateral = dx * left_axis[0] + dy * left_axis[1];
            for &(dz, gz) in &z_images[first..last] {
                let squared = horizontal + dz * dz;
                let centre_distance = squared.sqrt().max(MIN_DISTANCE);
                let reflection_gain = gx * gy * gz;
                // Left ear (sign +1) at centre + a·e, right ear (−1) at centre − a·e.
                for (ear, sign) in [(0, 1.0), (1, -1.0)] {
                    let distance = (squared - 2.0 * EAR_OFFSET * sign * lateral + ear_squared)
                        .max(0.0)
                        .sqrt();
                    let tap = (distance * samples_per_metre).round() as usize;
                    if tap >= length {
                        continue;
                    }
                    let gain = reflection_gain / distance.max(MIN_DISTANCE);
                    let shadow = (-sign * lateral / centre_distance).max(0.0);
                    direct[ear][tap] += gain * (1.0 - shadow);
                    shadowed[ear][tap] += gain * shadow;
                }
            }
        }
    }

    let pole = (-std::f64::consts::TAU * HEAD_SHADOW_CUTOFF_HZ / f64::from(sample_rate)).exp();
    Ok(std::array::from_fn(|ear| {
        let mut low_passed = 0.0;
        direct[ear]
            .iter()
            .zip(&shadowed[ear])
            .map(|(d, s)| {
                low_passed = (1.0 - pole) * s + pole * low_passed;
                (d + HEAD_SHADOW_GAIN * low_passed) as f32
            })
            .collect()
    }))
}

/// Number of samples an impulse response needs to decay by `decay_db` in a room with
/// reverberation time `rt60`.
pub fn decay_length(rt60: f64, decay_db: f64, sample_rate: u32) -> usize {
    (rt60 * decay_db / 60.0 * f64::from(sample_rate)).ceil() as usize
}

/// Centre of the octave band reverberation is measured in, Hz (ISO 3382 reports the
/// mid-frequency bands).
const MEASUREMENT_BAND_HZ: f64 = 1000.0;

/// `ir` band-passed to the octave around [`MEASUREMENT_BAND_HZ`] by a second-order filter
/// (Bristow-Johnson's band-pass with 0 dB peak).
fn octave_band(ir: &[f32], sample_rate: u32) -> Vec<f64> {
    let w0 = std::f64::consts::TAU * MEASUREMENT_BAND_HZ / f64::from(sample_rate);
    let alpha = w0.sin() / (2.0 * std::f64::consts::SQRT_2);
    let a0 = 1.0 + alpha;
    let (b0, a1, a2) = (alpha / a0, -2.0 * w0.cos() / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    ir.iter()
        .map(|&x| {
            let x = f64::from(x);
            let y = b0 * (x - x2) - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, x, y1, y);
            y
        })
        .collect()
}

/// The reverberation time of `ir` in seconds, measured ISO 3382 style in the 1 kHz octave
/// band: Schroeder backward integration gives the energy decay curve, a least-squares line
/// is fitted to it between −5 dB and −35 dB (T30) when the curve falls 10 dB further than
/// that, else between −5 and −25 dB (T20), and extrapolated to 60 dB. `None` when the curve
/// never reaches −25 dB or the response is silent. A band, not the broadband response,
/// because the sampled image-source response adds up ever more positive taps per sample as
/// reflections grow denser, so its lowest frequencies build up and decay slower.
pub fn measure_rt60(ir: &[f32], sample_rate: u32) -> Option<f64> {
    if sample_rate <= 2 * MEASUREMENT_BAND_HZ as u32 {
        return None;
    }
    let mut remaining: Vec<f64> = octave_band(ir, sample_rate).iter().map(|v| v * v).collect();
    for i in (0..remaining.len().saturating_sub(1)).rev() {
        remaining[i] += remaining[i + 1];
    }
    let total = *remaining.first()?;
    if total <= 0.0 {
        return None;
    }
    let decay_db: Vec<f64> = remaining
        .iter()
        .map(|e| 10.0 * (e / total).max(1e-30).log10())
        .collect();
    let lowest = decay_db.iter().copied().fold(0.0, f64::min);
    let end_db = if lowest <= -45.0 { -35.0 } else { -25.0 };
    if lowest > end_db {
        return None;
    }
    let (mut n, mut sum_t, mut sum_d, mut sum_tt, mut sum_td) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &d) in decay_db.iter().enumerate() {
        if d <= -5.0 && d >= end_db {
            let t = i as f64 / f64::from(sample_rate);
            n += 1.0;
            sum_t += t;
            sum_d += d;
            sum_tt += t * t;
            sum_td += t * d;
        }
    }
    let slope = (n * sum_td - sum_t * sum_d) / (n * sum_tt - sum_t * sum_t);
    (n >= 2.0 && slope < 0.0).then(|| -60.0 / slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16_000;

    fn first_nonzero(ir: &[f32]) -> usize {
        ir.iter()
            .position(|v| v.abs() > 0.0)
            .expect("a direct path")
    }

    #[test]
    fn absorption_reproduces_the_target_and_the_diffuse_formulas_are_shorter() {
        let room = ShoeboxRoom::with_rt60([6.0, 5.0, 3.0], 0.5).unwrap();
        assert!((room.image_source_rt60() - 0.5).abs() < 1e-6);
        assert!(room.sabine_rt60() > room.eyring_rt60());
        assert!(room.eyring_rt60() < 0.5);
        // A cube's directions all meet walls alike only on average: still slower than Eyring.
        let cube = ShoeboxRoom::with_rt60([4.0, 4.0, 4.0], 0.5).unwrap();
        assert!(cube.eyring_rt60() > room.eyring_rt60() * 0.9);
        assert!(ShoeboxRoom::with_rt60([6.0, 5.0, 3.0], 0.01).is_err());
        assert!(ShoeboxRoom::with_rt60([6.0, -5.0, 3.0], 0.5).is_err());
    }

    #[test]
    fn measured_rt60_is_within_10_percent_of_the_target() {
        for (dims, rt60) in [
            ([7.0, 5.5, 3.0], 0.3),
            ([9.0, 7.0, 3.5], 0.6),
            ([8.0, 6.0, 3.2], 0.9),
        ] {
            let room = ShoeboxRoom::with_rt60(dims, rt60).unwrap();
            let head = Head {
                centre: [dims[0] * 0.4, dims[1] * 0.55, 1.5],
                yaw: 0.7,
            };
            let source = head.point_at(2.5, 1.0, 0.2);
            let length = decay_length(rt60, 50.0, RATE);
            let [left, right] = binaural_rir(&room, source, &head, RATE, length).unwrap();
            for ir in [left, right] {
                assert!(ir.iter().all(|v| v.is_finite()));
                let measured = measure_rt60(&ir, RATE).expect("a decay to measure");
                let error = (measured - rt60).abs() / rt60;
                println!(
                    "dims {dims:?} target {rt60} s: measured {measured:.3} s, Eyring {:.3} s, \
                     Sabine {:.3} s, error {:.1} %",
                    room.eyring_rt60(),
                    room.sabine_rt60(),
                    100.0 * error
                );
                assert!(
                    error < 0.1,
                    "measured {measured} s for a target of {rt60} s"
                );
            }
        }
    }

    #[test]
    fn direct_path_arrives_after_distance_over_c_and_the_near_ear_leads() {
        let room = ShoeboxRoom::with_rt60([6.0, 5.0, 3.0], 0.3).unwrap();
        let head = Head {
            centre: [3.0, 2.5, 1.5],
            yaw: 0.3,
        };
        for (azimuth, near) in [(90f64.to_radians(), 0), (-70f64.to_radians(), 1)] {
            let source = head.point_at(2.0, azimuth, 0.1);
            let irs = binaural_rir(&room, source, &head, RATE, 2000).unwrap();
            let ears = head.ears();
            let distance = |ear: usize| {
                (0..3)
                    .map(|i| (source[i] - ears[ear][i]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            let expected = (distance(near) / SPEED_OF_SOUND * f64::from(RATE)).round() as usize;
            assert_eq!(first_nonzero(&irs[near]), expected);
            assert!(
                first_nonzero(&irs[near]) < first_nonzero(&irs[1 - near]),
                "the ear facing the source hears it first"
            );
            // Head shadow: the direct sound is much weaker at the far ear.
            let energy =
                |ir: &[f32], from: usize| -> f32 { ir[from..from + 8].iter().map(|v| v * v).sum() };
            let near_energy = energy(&irs[near], first_nonzero(&irs[near]));
            let far_energy = energy(&irs[1 - near], first_nonzero(&irs[1 - near]));
            assert!(
                near_energy > 2.0 * far_energy,
                "near {near_energy} vs far {far_energy}"
            );
        }
    }

    #[test]
    fn a_frontal_source_reaches_both_ears_alike() {
        let room = ShoeboxRoom::with_rt60([6.0, 5.0, 3.0], 0.3).unwrap();
        let head = Head {
            centre: [3.0, 2.5, 1.5],
            yaw: 0.0,
        };
        let [left, right] =
            binaural_rir(&room, head.point_at(2.0, 0.0, 0.0), &head, RATE, 800).unwrap();
        assert_eq!(first_nonzero(&left), first_nonzero(&right));
        let peak = |ir: &[f32]| ir.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak(&left) - peak(&right)).abs() < 1e-4 * peak(&left));
    }

    #[test]
    fn sources_outside_the_room_are_rejected_and_silence_has_no_rt60() {
        let room = ShoeboxRoom::with_rt60([4.0, 4.0, 3.0], 0.3).unwrap();
        let head = Head {
            centre: [2.0, 2.0, 1.5],
            yaw: 0.0,
        };
        assert!(binaural_rir(&room, [5.0, 1.0, 1.0], &head, RATE, 100).is_err());
        assert_eq!(measure_rt60(&[0.0; 100], RATE), None);
        assert_eq!(measure_rt60(&[], RATE), None);
    }
}
