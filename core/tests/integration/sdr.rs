//! BSS Eval v4 against museval (fixtures from tests/fixtures/gen/sdr.py): per-window SDR, ISR,
//! SIR and SAR for noisy, filtered, delayed and leaking estimates, silent windows and
//! ill-conditioned tonal sources, track and song medians, museval's refusals, and input
//! validation.

use std::sync::OnceLock;

use ndarray::{Array3, Axis};
use ndarray_npy::read_npy;
use rayon::prelude::*;
use serde_json::Value;
use tessera_core::metrics::MetricsError;
use tessera_core::metrics::sdr::{
    BssEvalConfig, BssEvalScores, Metric, bss_eval_v4, median_over_songs,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sdr");

/// Per-window parity with museval, in dB, wherever museval's value is finite.
const TOLERANCE_DB: f64 = 1e-3;
/// museval's track store rounds scores to 5 decimals before taking medians.
const MEDIAN_TOLERANCE_DB: f64 = TOLERANCE_DB + 1e-5;

/// `[source][channel][sample]`.
type Sources = Vec<Vec<Vec<f32>>>;

fn cases() -> Value {
    let path = format!("{FIXTURES}/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("cases.json is JSON")
}

/// An int16 `[source × channel × sample]` fixture as float sources, keeping only `channels`
/// (all when null).
fn sources(file: &str, channels: &Value) -> Sources {
    let path = format!("{FIXTURES}/{file}");
    let samples: Array3<i16> = read_npy(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let scale = cases()["scale"].as_f64().expect("scale") as f32;
    let keep: Vec<usize> = match channels.as_array() {
        Some(list) => list.iter().map(|c| c.as_u64().unwrap() as usize).collect(),
        None => (0..samples.len_of(Axis(1))).collect(),
    };
    samples
        .outer_iter()
        .map(|source| {
            keep.iter()
                .map(|&c| {
                    source
                        .row(c)
                        .iter()
                        .map(|&v| f32::from(v) * scale)
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn config(case: &Value) -> BssEvalConfig {
    let get = |key: &str| case[key].as_u64().expect("integer") as usize;
    BssEvalConfig {
        window: get("window"),
        hop: get("hop"),
        filter_len: get("filter_len"),
    }
}

/// Our scores for every fixture case, computed once and shared by the tests (most cases
/// solve a 3072-unknown system, the slow part of this suite).
fn all_scores() -> &'static [(Value, BssEvalScores)] {
    static SCORES: OnceLock<Vec<(Value, BssEvalScores)>> = OnceLock::new();
    SCORES.get_or_init(|| {
        let cases = cases();
        cases["cases"]
            .as_array()
            .expect("case list")
            .par_iter()
            .map(|case| {
                let references = sources(case["references"].as_str().unwrap(), &case["channels"]);
                let estimates = sources(case["estimates"].as_str().unwrap(), &case["channels"]);
                let scores = bss_eval_v4(&references, &estimates, &config(case));
                (case.clone(), scores.expect("valid input"))
            })
            .collect()
    })
}

/// Our scores of fixture case `name` under configuration `config`.
fn scores(name: &str, config: &str) -> &'static BssEvalScores {
    all_scores()
        .iter()
        .find(|(case, _)| case["case"] == name && case["config"] == config)
        .map(|(_, scores)| scores)
        .unwrap_or_else(|| panic!("no fixture case {name} {config}"))
}

/// Largest |ours − museval| over the finite windows, after checking that NaN and infinite
/// windows are exactly where museval has them.
fn max_difference(name: &str, ours: &BssEvalScores, expected: &Array3<f64>) -> f64 {
    assert_eq!(
        ours.num_sources(),
        expected.len_of(Axis(1)),
        "{name}: sources"
    );
    assert_eq!(
        ours.num_windows(),
        expected.len_of(Axis(2)),
        "{name}: windows"
    );
    let mut worst = 0.0f64;
    for (m, metric) in Metric::ALL.into_iter().enumerate() {
        for source in 0..ours.num_sources() {
            for (w, &ours) in ours.values(metric, source).iter().enumerate() {
                let theirs = expected[[m, source, w]];
                let at = format!("{name} {} source {source} window {w}", metric.name());
                if theirs.is_finite() {
                    assert!(ours.is_finite(), "{at}: {ours} where museval has {theirs}");
                    worst = worst.max((ours - theirs).abs());
                } else {
                    assert!(
                        ours.is_nan() && theirs.is_nan() || ours == theirs,
                        "{at}: {ours} where museval has {theirs}"
                    );
                }
            }
        }
    }
    worst
}

#[test]
fn per_window_scores_match_museval() {
    for (case, ours) in all_scores() {
        let name = format!("{} {}", case["case"], case["config"]);
        let expected: Array3<f64> =
            read_npy(format!("{FIXTURES}/{}", case["expected"].as_str().unwrap()))
                .expect("expected scores");
        let worst = max_difference(&name, ours, &expected);
        println!("{name}: largest difference from museval {worst:.2e} dB");
        assert!(worst < TOLERANCE_DB, "{name}: {worst} dB from museval");
    }
}

#[test]
fn silent_windows_score_nan_for_every_source() {
    let ours = scores("silent_window", "w1470");
    // Window 1: a reference is silent; window 3: an estimate is.
    for metric in Metric::ALL {
        for source in 0..ours.num_sources() {
            let values = ours.values(metric, source);
            assert!(values[1].is_nan() && values[3].is_nan(), "{values:?}");
            assert!(values[0].is_finite() && values[2].is_finite(), "{values:?}");
            assert_eq!(ours.median(metric, source), (values[0] + values[2]) / 2.0);
        }
    }
}

#[test]
fn track_and_song_medians_match_museval_aggregation() {
    let cases = cases();
    let medians = &cases["medians"];
    let tracks = medians["tracks"].as_object().expect("track medians");
    let mut per_song: Vec<&BssEvalScores> = Vec::new();
    for (track, expected) in tracks {
        let ours = scores(track, "w1470");
        for metric in Metric::ALL {
            for source in 0..ours.num_sources() {
                let theirs = expected[metric.name()][source]
                    .as_f64()
                    .expect("finite median");
                let diff = (ours.median(metric, source) - theirs).abs();
                assert!(
                    diff < MEDIAN_TOLERANCE_DB,
                    "{track} {metric:?} {source}: {diff}"
                );
            }
        }
        per_song.push(ours);
    }
    for metric in Metric::ALL {
        for source in 0..per_song[0].num_sources() {
            let song_scores: Vec<f64> = per_song.iter().map(|s| s.median(metric, source)).collect();
            let theirs = medians["songs"][metric.name()][source].as_f64().unwrap();
            let diff = (median_over_songs(&song_scores) - theirs).abs();
            assert!(
                diff < MEDIAN_TOLERANCE_DB,
                "songs {metric:?} {source}: {diff}"
            );
        }
    }
    assert_eq!(
        per_song[0].median_sdr(0),
        per_song[0].median(Metric::Sdr, 0)
    );
}

#[test]
fn silent_sources_are_refused_like_museval() {
    let references = sources("refs.npy", &Value::Null);
    let estimates = sources("est_noise.npy", &Value::Null);
    for refused in cases()["refused"].as_array().expect("refusals") {
        let mut references = references.clone();
        let mut estimates = estimates.clone();
        let silence = &refused["silence"];
        let expected = if let Some(source) = silence["estimate"].as_u64() {
            let source = source as usize;
            estimates[source].iter_mut().for_each(|c| c.fill(0.0));
            MetricsError::Silent {
                what: "estimated",
                index: source,
            }
        } else {
            let source = silence["reference"].as_u64().expect("a silenced source") as usize;
            references[source].iter_mut().for_each(|c| c.fill(0.0));
            MetricsError::Silent {
                what: "reference",
                index: source,
            }
        };
        let error = bss_eval_v4(&references, &estimates, &BssEvalConfig::default()).unwrap_err();
        assert_eq!(error, expected, "museval: {}", refused["museval_error"]);
        assert!(error.to_string().contains("silent"), "{error}");
    }
}

#[test]
fn a_perfect_estimate_scores_far_above_any_real_one() {
    // Error energy is rounding noise (museval computes it the same way): finite or +∞, but
    // hundreds of dB.
    let references = sources("refs.npy", &Value::Null);
    let config = BssEvalConfig {
        window: 1470,
        hop: 1470,
        filter_len: 32,
    };
    let scores = bss_eval_v4(&references, &references, &config).expect("valid input");
    for source in 0..scores.num_sources() {
        for &sdr in scores.values(Metric::Sdr, source) {
            assert!(sdr > 150.0, "source {source}: SDR {sdr}");
        }
    }
}

#[test]
fn channels_that_cancel_count_as_silent() {
    // museval sums channels before its silence test, so left = −right is silent.
    let left = vec![0.5f32, -0.25, 0.125, 1.0];
    let right: Vec<f32> = left.iter().map(|v| -v).collect();
    let references = vec![vec![left.clone(), right], vec![left.clone(), left.clone()]];
    let estimates = vec![vec![left.clone(), left.clone()]; 2];
    let error = bss_eval_v4(&references, &estimates, &BssEvalConfig::default()).unwrap_err();
    assert_eq!(
        error,
        MetricsError::Silent {
            what: "reference",
            index: 0
        }
    );
}

#[test]
fn bad_input_is_refused_with_the_problem_named() {
    let good = || vec![vec![vec![0.1f32, 0.2, -0.3]; 2]; 2];
    let config = BssEvalConfig::default();
    let check = |references: Sources, estimates: Sources, config: &BssEvalConfig, want: &str| {
        let error = bss_eval_v4(&references, &estimates, config).unwrap_err();
        assert!(
            error.to_string().contains(want),
            "{error} (wanted {want:?})"
        );
    };
    check(vec![], vec![], &config, "the references have no sources");
    check(vec![vec![]], vec![vec![]], &config, "no channels");
    check(
        vec![vec![vec![]]],
        vec![vec![vec![]]],
        &config,
        "no samples",
    );
    let mut three = good();
    three.push(good()[0].clone());
    check(
        good(),
        three,
        &config,
        "3 estimated sources were given for 2",
    );
    let mut mono = good();
    mono[1].pop();
    check(good(), mono, &config, "estimated source 1 has 1 channels");
    let mut short = good();
    short[0][1].pop();
    check(
        short,
        good(),
        &config,
        "reference source 0 channel 1 has 2 samples",
    );
    let mut nan = good();
    nan[1][0][2] = f32::NAN;
    check(
        good(),
        nan,
        &config,
        "estimated source 1 channel 0 has a non-finite sample at 2",
    );
    for (field, bad) in [
        (
            "window",
            BssEvalConfig {
                window: 0,
                ..config
            },
        ),
        ("hop", BssEvalConfig { hop: 0, ..config }),
        (
            "filter_len",
            BssEvalConfig {
                filter_len: 0,
                ..config
            },
        ),
    ] {
        check(good(), good(), &bad, field);
    }
}

#[test]
fn defaults_are_musevals() {
    let config = BssEvalConfig::default();
    assert_eq!(
        (config.window, config.hop, config.filter_len),
        (44_100, 44_100, 512)
    );
}

#[test]
fn medians_skip_nan_and_infinite_values() {
    assert_eq!(median_over_songs(&[3.0, f64::NAN, 1.0, 2.0]), 2.0);
    assert_eq!(median_over_songs(&[4.0, 1.0, f64::NAN, 2.0, 3.0]), 2.5);
    assert_eq!(median_over_songs(&[f64::INFINITY, 1.0]), 1.0);
    assert!(median_over_songs(&[f64::NAN]).is_nan());
    assert!(median_over_songs(&[]).is_nan());
}
