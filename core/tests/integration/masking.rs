//! Masking: every constraint of the multi-block 2D, WavJEPA and span samplers as property
//! tests over random grids, lengths, configurations and seeds, plus the samplers' statistics
//! against values derived independently from the papers' procedures, and error cases.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tessera_core::masking::{
    BatchMasks, BlockSpec, MaskError, MaskStrategy, MultiBlockConfig, SpanMaskConfig, TokenGrid,
    WavBlocksConfig,
};

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Whether `indices` is strictly increasing (sorted, no duplicates).
fn strictly_increasing(indices: &[usize]) -> bool {
    indices.windows(2).all(|pair| pair[0] < pair[1])
}

/// `(height, width)` of the bounding box of `tokens` on `grid` (tokens must be non-empty).
fn bounding_box(grid: TokenGrid, tokens: &[usize]) -> (usize, usize) {
    let freqs = tokens.iter().map(|&i| i / grid.time);
    let times = tokens.iter().map(|&i| i % grid.time);
    let height = freqs.clone().max().unwrap() - freqs.min().unwrap() + 1;
    let width = times.clone().max().unwrap() - times.min().unwrap() + 1;
    (height, width)
}

/// The block side the sampler's rounding rule gives for `fraction` of `extent`.
fn side(fraction: f64, extent: usize) -> usize {
    ((fraction * extent as f64).round() as usize).clamp(1, extent)
}

/// Inclusive `(min, max)` target heights and widths the configuration allows on `grid`.
fn target_side_bounds(config: &MultiBlockConfig, grid: TokenGrid) -> [(usize, usize); 2] {
    let (s_min, s_max) = config.target.scale;
    let (a_min, a_max) = config.target.aspect;
    match config.strategy {
        MaskStrategy::Blocks => [
            (
                side((s_min * a_min).sqrt(), grid.freq),
                side((s_max * a_max).sqrt(), grid.freq),
            ),
            (
                side((s_min / a_max).sqrt(), grid.time),
                side((s_max / a_min).sqrt(), grid.time),
            ),
        ],
        MaskStrategy::TimeStripes => [
            (grid.freq, grid.freq),
            (side(s_min, grid.time), side(s_max, grid.time)),
        ],
        MaskStrategy::FrequencyBands => [
            (side(s_min, grid.freq), side(s_max, grid.freq)),
            (grid.time, grid.time),
        ],
    }
}

/// Checks the layout promises of [`BatchMasks`] shared by all JEPA samplers: sorted
/// in-range indices, equal context lengths, equal block lengths, context disjoint from the
/// sample's targets, and flat views consistent with the nested ones.
fn check_batch_layout(masks: &BatchMasks, batch: usize, tokens: usize) {
    assert_eq!(masks.batch_size(), batch);
    assert_eq!(masks.targets.len(), batch);
    for (context, blocks) in masks.context.iter().zip(&masks.targets) {
        assert_eq!(context.len(), masks.context_len(), "context lengths differ");
        assert!(!context.is_empty(), "empty context");
        assert!(strictly_increasing(context), "context not sorted/unique");
        assert!(
            context.iter().all(|&i| i < tokens),
            "context index out of range"
        );
        let mut in_target = vec![false; tokens];
        for block in blocks {
            assert_eq!(
                block.len(),
                masks.target_len(),
                "target block lengths differ"
            );
            assert!(strictly_increasing(block), "target block not sorted/unique");
            assert!(
                block.iter().all(|&i| i < tokens),
                "target index out of range"
            );
            block.iter().for_each(|&i| in_target[i] = true);
        }
        assert!(
            context.iter().all(|&i| !in_target[i]),
            "context overlaps a target block"
        );
    }
    let owners = masks.block_owners();
    assert_eq!(owners.len(), masks.num_blocks());
    let flat = masks.flat_targets();
    assert_eq!(flat.len(), masks.num_blocks() * masks.target_len());
    let nested: Vec<(usize, &Vec<usize>)> = masks
        .targets
        .iter()
        .enumerate()
        .flat_map(|(sample, blocks)| blocks.iter().map(move |block| (sample, block)))
        .collect();
    for (row, (sample, block)) in nested.iter().enumerate() {
        assert_eq!(owners[row], *sample);
        let width = masks.target_len();
        assert_eq!(&flat[row * width..(row + 1) * width], block.as_slice());
    }
    let flat_context = masks.flat_context();
    assert_eq!(flat_context.len(), batch * masks.context_len());
    assert_eq!(flat_context, masks.context.concat());
}

fn strategy_strategy() -> impl Strategy<Value = MaskStrategy> {
    prop_oneof![
        Just(MaskStrategy::Blocks),
        Just(MaskStrategy::TimeStripes),
        Just(MaskStrategy::FrequencyBands),
    ]
}

/// Random grids with random (mostly feasible) multi-block configurations.
fn grid_and_config() -> impl Strategy<Value = (TokenGrid, MultiBlockConfig)> {
    (
        (2usize..=12, 4usize..=80),
        strategy_strategy(),
        1usize..=5,
        (0.05f64..0.3, 0.0f64..0.2),
        (0.4f64..2.0, 0.0f64..1.5),
        (0.6f64..1.0, 0.0f64..1.0),
        (0.7f64..1.0, 0.0f64..0.6),
        0.0f64..0.25,
    )
        .prop_map(
            |(
                (freq, time),
                strategy,
                num_targets,
                (s_lo, s_span),
                (a_lo, a_span),
                (c_lo, c_frac),
                (ca_lo, ca_span),
                keep_frac,
            )| {
                let grid = TokenGrid::new(freq, time);
                let context_scale = (c_lo, c_lo + (1.0 - c_lo) * c_frac);
                let config = MultiBlockConfig {
                    strategy,
                    num_targets,
                    target: BlockSpec {
                        scale: (s_lo, s_lo + s_span),
                        aspect: (a_lo, a_lo + a_span),
                    },
                    context: BlockSpec {
                        scale: context_scale,
                        aspect: (ca_lo, ca_lo + ca_span),
                    },
                    min_keep: ((grid.len() as f64 * keep_frac) as usize).max(1),
                };
                (grid, config)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, max_global_rejects: 2000, ..ProptestConfig::default() })]

    /// Every multi-block constraint: layout, rectangles of one per-batch size within the
    /// scale/aspect bounds (or full-height/width for stripes/bands), context disjoint from
    /// targets with at least `min_keep` tokens inside a context-sized box.
    #[test]
    fn multiblock_masks_meet_every_constraint(
        (grid, config) in grid_and_config(),
        batch in 1usize..=6,
        seed: u64,
    ) {
        let masks = match config.sample_batch(grid, batch, &mut rng(seed)) {
            Ok(masks) => masks,
            // Random configurations can be infeasible (targets covering every context
            // placement); any other error would be a bug.
            Err(MaskError::NoValidMask { .. }) => return Err(TestCaseError::reject("infeasible")),
            Err(other) => panic!("unexpected error: {other}"),
        };
        check_batch_layout(&masks, batch, grid.len());
        prop_assert!(masks.context_len() >= config.min_keep);
        let [(h_min, h_max), (w_min, w_max)] = target_side_bounds(&config, grid);
        let first_box = bounding_box(grid, &masks.targets[0][0]);
        for blocks in &masks.targets {
            prop_assert_eq!(blocks.len(), config.num_targets);
            for block in blocks {
                let (height, width) = bounding_box(grid, block);
                prop_assert_eq!(height * width, block.len(), "target is not a full rectangle");
                prop_assert_eq!((height, width), first_box, "target size differs within the batch");
                prop_assert!((h_min..=h_max).contains(&height), "height {} not in {}..={}", height, h_min, h_max);
                prop_assert!((w_min..=w_max).contains(&width), "width {} not in {}..={}", width, w_min, w_max);
            }
        }
        let (c_scale, c_aspect) = (config.context.scale.1, config.context.aspect);
        let max_height = side((c_scale * c_aspect.1).sqrt(), grid.freq);
        let max_width = side((c_scale / c_aspect.0).sqrt(), grid.time);
        for context in &masks.context {
            let (height, width) = bounding_box(grid, context);
            prop_assert!(height <= max_height && width <= max_width,
                "context spans {}x{}, beyond the largest context block {}x{}", height, width, max_height, max_width);
        }
    }

    /// The default (I-JEPA) configuration never fails on spectrogram-like grids.
    #[test]
    fn default_multiblock_config_always_succeeds(
        freq in 4usize..=16,
        time in 16usize..=128,
        strategy in strategy_strategy(),
        batch in 1usize..=16,
        seed: u64,
    ) {
        let config = MultiBlockConfig { strategy, ..MultiBlockConfig::default() };
        let grid = TokenGrid::new(freq, time);
        let masks = config.sample_batch(grid, batch, &mut rng(seed)).unwrap();
        check_batch_layout(&masks, batch, grid.len());
        prop_assert!(masks.context_len() >= config.min_keep);
    }

    /// Equal seeds give equal masks.
    #[test]
    fn multiblock_is_deterministic((grid, config) in grid_and_config(), seed: u64) {
        let first = config.sample_batch(grid, 3, &mut rng(seed));
        let second = config.sample_batch(grid, 3, &mut rng(seed));
        prop_assert_eq!(first, second);
    }

    /// Every WavJEPA constraint: layout, at least one target block per sample, blocks of
    /// exactly `target_len` consecutive frames, context at least 10 % of the frames and
    /// disjoint from every target frame.
    #[test]
    fn wav_blocks_meet_every_constraint(
        frames in 30usize..=400,
        batch in 1usize..=6,
        target_len in 1usize..=15,
        context_len in 4usize..=15,
        seed: u64,
    ) {
        let config = WavBlocksConfig { target_len, context_len, ..WavBlocksConfig::default() };
        let masks = config.sample_batch(batch, frames, &mut rng(seed)).unwrap();
        check_batch_layout(&masks, batch, frames);
        prop_assert_eq!(masks.target_len(), target_len);
        prop_assert!(masks.context_len() >= config.min_context(frames));
        prop_assert!(masks.context_len() * 10 >= frames, "context below 10 % of the frames");
        for blocks in &masks.targets {
            prop_assert!(!blocks.is_empty(), "a sample has no target block");
            for block in blocks {
                prop_assert_eq!(block.last().unwrap() - block[0] + 1, target_len, "block frames not consecutive");
            }
        }
    }

    /// A single sample (before batch truncation) keeps the paper's structure: every
    /// maximal run of context frames is at least `context_len` long unless a target frame
    /// borders it (removing target frames is the only way a context span is shortened).
    #[test]
    fn wav_context_runs_are_whole_spans_or_cut_by_targets(frames in 30usize..=400, seed: u64) {
        let config = WavBlocksConfig::default();
        let mask = config.sample(frames, &mut rng(seed)).unwrap();
        let mut in_target = vec![false; frames];
        mask.targets.iter().flatten().for_each(|&i| in_target[i] = true);
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &frame in &mask.context {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == frame => *end = frame,
                _ => runs.push((frame, frame)),
            }
        }
        for (start, end) in runs {
            let cut_before = start > 0 && in_target[start - 1];
            let cut_after = end + 1 < frames && in_target[end + 1];
            prop_assert!(end - start + 1 >= config.context_len || cut_before || cut_after,
                "context run {}..={} is shorter than a span without a target next to it", start, end);
        }
    }

    /// Equal seeds give equal WavJEPA masks.
    #[test]
    fn wav_blocks_are_deterministic(frames in 30usize..=400, seed: u64) {
        let config = WavBlocksConfig::default();
        prop_assert_eq!(
            config.sample_batch(4, frames, &mut rng(seed)),
            config.sample_batch(4, frames, &mut rng(seed))
        );
    }

    /// Span masks: right length, every masked run at least one span long, at least
    /// `min_spans` spans' worth masked, deterministic from the seed.
    #[test]
    fn span_masks_meet_every_constraint(
        len in 40usize..=500,
        start_prob in 0.01f64..0.5,
        span_len in 1usize..=10,
        min_spans in 1usize..=3,
        seed: u64,
    ) {
        let config = SpanMaskConfig { start_prob, span_len, min_spans };
        let mask = config.sample(len, &mut rng(seed)).unwrap();
        prop_assert_eq!(mask.len(), len);
        let masked = mask.iter().filter(|&&m| m).count();
        prop_assert!(masked >= span_len, "fewer masked tokens than one span");
        let mut run = 0;
        for &is_masked in mask.iter().chain(std::iter::once(&false)) {
            if is_masked {
                run += 1;
            } else {
                prop_assert!(run == 0 || run >= span_len, "masked run of {} < span length {}", run, span_len);
                run = 0;
            }
        }
        prop_assert_eq!(mask, config.sample(len, &mut rng(seed)).unwrap());
    }
}

#[test]
fn multiblock_positions_vary_per_sample_but_sizes_are_shared() {
    let grid = TokenGrid::new(8, 64);
    let masks = MultiBlockConfig::default()
        .sample_batch(grid, 16, &mut rng(7))
        .unwrap();
    let distinct: std::collections::BTreeSet<&Vec<usize>> =
        masks.targets.iter().map(|blocks| &blocks[0]).collect();
    assert!(
        distinct.len() > 8,
        "only {} distinct first-target positions in 16 samples",
        distinct.len()
    );
    assert_eq!(masks.targets.len(), 16);
    assert!(masks.targets.iter().all(|blocks| blocks.len() == 4));
}

#[test]
fn multiblock_default_context_covers_most_of_a_wide_grid() {
    // Grid-relative aspect ratio: an aspect-1 context block on 8 × 64 spans 85–100 % of
    // the grid, so (before truncation to the batch minimum) the context is that block
    // minus at most four target blocks of ≤ 20 % each.
    let grid = TokenGrid::new(8, 64);
    let masks = MultiBlockConfig::default()
        .sample_batch(grid, 1, &mut rng(3))
        .unwrap();
    let targets: std::collections::BTreeSet<usize> =
        masks.targets[0].iter().flatten().copied().collect();
    let context = masks.context_len();
    assert!(
        context + targets.len() >= grid.len() * 80 / 100,
        "context {context} + targets {} cover under 80 % of {}",
        targets.len(),
        grid.len()
    );
}

#[test]
fn min_keep_redraws_contexts_that_would_be_too_small() {
    let grid = TokenGrid::new(8, 64);
    let loose = MultiBlockConfig {
        min_keep: 1,
        ..MultiBlockConfig::default()
    };
    let strict = MultiBlockConfig {
        min_keep: 250,
        ..MultiBlockConfig::default()
    };
    let mut generator = rng(11);
    let smallest_loose = (0..100)
        .map(|_| {
            loose
                .sample_batch(grid, 16, &mut generator)
                .unwrap()
                .context_len()
        })
        .min()
        .unwrap();
    assert!(
        smallest_loose < 250,
        "unconstrained contexts never fall below 250 ({smallest_loose}), so this test would not test the retry"
    );
    for _ in 0..100 {
        let masks = strict.sample_batch(grid, 16, &mut generator).unwrap();
        assert!(masks.context_len() >= 250);
    }
}

#[test]
fn frequency_bands_and_time_stripes_span_the_grid() {
    let grid = TokenGrid::new(8, 64);
    for (strategy, full_height) in [
        (MaskStrategy::TimeStripes, true),
        (MaskStrategy::FrequencyBands, false),
    ] {
        let config = MultiBlockConfig {
            strategy,
            ..MultiBlockConfig::default()
        };
        let masks = config.sample_batch(grid, 4, &mut rng(5)).unwrap();
        for block in masks.targets.iter().flatten() {
            let (height, width) = bounding_box(grid, block);
            if full_height {
                assert_eq!(height, 8, "{strategy:?}");
                assert!((10..=13).contains(&width), "{strategy:?} width {width}");
            } else {
                assert_eq!(width, 64, "{strategy:?}");
                assert!((1..=2).contains(&height), "{strategy:?} height {height}");
            }
        }
    }
}

#[test]
fn multiblock_rejects_bad_configurations_and_inputs() {
    let grid = TokenGrid::new(8, 64);
    let mut generator = rng(0);
    let bad_configs = [
        MultiBlockConfig {
            num_targets: 0,
            ..MultiBlockConfig::default()
        },
        MultiBlockConfig {
            min_keep: 0,
            ..MultiBlockConfig::default()
        },
        MultiBlockConfig {
            target: BlockSpec {
                scale: (0.2, 0.15),
                aspect: (0.75, 1.5),
            },
            ..MultiBlockConfig::default()
        },
        MultiBlockConfig {
            context: BlockSpec {
                scale: (0.85, 1.5),
                aspect: (1.0, 1.0),
            },
            ..MultiBlockConfig::default()
        },
        MultiBlockConfig {
            target: BlockSpec {
                scale: (0.15, 0.2),
                aspect: (0.0, 1.5),
            },
            ..MultiBlockConfig::default()
        },
    ];
    for config in bad_configs {
        let error = config.sample_batch(grid, 2, &mut generator).unwrap_err();
        assert!(
            matches!(error, MaskError::InvalidConfig(_)),
            "{config:?} gave {error}"
        );
    }
    let config = MultiBlockConfig::default();
    assert_eq!(
        config.sample_batch(grid, 0, &mut generator),
        Err(MaskError::EmptyBatch)
    );
    assert!(matches!(
        config.sample_batch(TokenGrid::new(3, 3), 2, &mut generator),
        Err(MaskError::TooFewTokens { tokens: 9, .. })
    ));
    // Targets covering the whole grid leave no context anywhere: an error, not a hang.
    let covering = MultiBlockConfig {
        target: BlockSpec {
            scale: (1.0, 1.0),
            aspect: (1.0, 1.0),
        },
        ..MultiBlockConfig::default()
    };
    let error = covering.sample_batch(grid, 2, &mut generator).unwrap_err();
    assert!(matches!(error, MaskError::NoValidMask { .. }), "{error}");
    assert!(error.to_string().contains("min_keep = 10"), "{error}");
}

#[test]
fn multiblock_config_reads_partial_settings_and_round_trips() {
    let parsed: MultiBlockConfig =
        serde_json::from_str(r#"{"strategy": "frequency_bands", "num_targets": 2}"#).unwrap();
    assert_eq!(
        parsed,
        MultiBlockConfig {
            strategy: MaskStrategy::FrequencyBands,
            num_targets: 2,
            ..MultiBlockConfig::default()
        }
    );
    let json = serde_json::to_string(&parsed).unwrap();
    assert_eq!(
        serde_json::from_str::<MultiBlockConfig>(&json).unwrap(),
        parsed
    );
    assert!(serde_json::from_str::<MultiBlockConfig>(r#"{"num_target": 2}"#).is_err());
    let defaults: WavBlocksConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(defaults, WavBlocksConfig::default());
    assert_eq!(
        (
            defaults.context_start_prob,
            defaults.context_len,
            defaults.target_start_prob,
            defaults.target_len,
            defaults.min_context_fraction
        ),
        (0.065, 10, 0.025, 10, 0.1)
    );
    let spans: SpanMaskConfig = serde_json::from_str(r#"{"span_len": 5}"#).unwrap();
    assert_eq!(
        spans,
        SpanMaskConfig {
            span_len: 5,
            ..SpanMaskConfig::default()
        }
    );
}

/// Probability that frame `frame` is covered by a span of `len` frames whose starts
/// (`0 ..= frames − len`) are each chosen with probability `p`.
fn covered_probability(frame: usize, frames: usize, len: usize, p: f64) -> f64 {
    let first_start = (frame + 1).saturating_sub(len);
    let last_start = frame.min(frames - len);
    let starts = (last_start + 1).saturating_sub(first_start);
    1.0 - (1.0 - p).powi(starts as i32)
}

#[test]
fn wav_blocks_match_the_papers_sampling_statistics() {
    // Independent derivation of the procedure in section 3.1: a frame is context iff some
    // context span covers it and no target block does; target starts are Bernoulli(p_t)
    // over the 191 valid positions of a 2 s, 100 Hz embedding. (Conditioning on ≥ 10 %
    // context and ≥ 1 target shifts these by well under the tolerances.)
    let config = WavBlocksConfig::default();
    let frames = 200;
    let expected_context: f64 = (0..frames)
        .map(|frame| {
            covered_probability(frame, frames, 10, 0.065)
                * (1.0 - covered_probability(frame, frames, 10, 0.025))
        })
        .sum();
    let starts = (frames - 10 + 1) as f64;
    let expected_blocks = 0.025 * starts / (1.0 - 0.975f64.powf(starts));
    let draws = 3000;
    let mut generator = rng(42);
    let (mut context_sum, mut block_sum) = (0usize, 0usize);
    for _ in 0..draws {
        let mask = config.sample(frames, &mut generator).unwrap();
        context_sum += mask.context.len();
        block_sum += mask.targets.len();
    }
    let mean_context = context_sum as f64 / draws as f64;
    let mean_blocks = block_sum as f64 / draws as f64;
    assert!(
        (mean_context - expected_context).abs() < 0.02 * expected_context,
        "mean context {mean_context:.2} frames, expected {expected_context:.2}"
    );
    assert!(
        (mean_blocks - expected_blocks).abs() < 0.1,
        "mean target blocks {mean_blocks:.3}, expected {expected_blocks:.3}"
    );
}

#[test]
fn wav_blocks_redraw_until_ten_percent_context() {
    // With p_c = 0.01 an unconditioned draw covers only ~7 % of the frames, so most draws
    // are repeated; every accepted one still has at least 10 %.
    let config = WavBlocksConfig {
        context_start_prob: 0.01,
        ..WavBlocksConfig::default()
    };
    let mut generator = rng(9);
    for _ in 0..200 {
        let mask = config.sample(200, &mut generator).unwrap();
        assert!(mask.context.len() >= 20, "context {}", mask.context.len());
    }
    assert_eq!(config.min_context(30), 3);
    assert_eq!(config.min_context(31), 4);
    assert_eq!(
        WavBlocksConfig {
            min_context_fraction: 0.0,
            ..config
        }
        .min_context(200),
        1
    );
}

#[test]
fn wav_blocks_reject_bad_configurations_and_inputs() {
    let mut generator = rng(0);
    for config in [
        WavBlocksConfig {
            context_start_prob: 0.0,
            ..WavBlocksConfig::default()
        },
        WavBlocksConfig {
            target_start_prob: 1.5,
            ..WavBlocksConfig::default()
        },
        WavBlocksConfig {
            target_len: 0,
            ..WavBlocksConfig::default()
        },
        WavBlocksConfig {
            min_context_fraction: 1.1,
            ..WavBlocksConfig::default()
        },
    ] {
        let error = config.sample(200, &mut generator).unwrap_err();
        assert!(matches!(error, MaskError::InvalidConfig(_)), "{error}");
    }
    let config = WavBlocksConfig::default();
    assert!(matches!(
        config.sample(9, &mut generator),
        Err(MaskError::TooFewTokens { tokens: 9, .. })
    ));
    assert_eq!(
        config.sample_batch(0, 200, &mut generator),
        Err(MaskError::EmptyBatch)
    );
    // 90 % context plus a 10-frame target cannot fit in 50 frames.
    let greedy = WavBlocksConfig {
        min_context_fraction: 0.9,
        ..WavBlocksConfig::default()
    };
    assert!(matches!(
        greedy.sample(50, &mut generator),
        Err(MaskError::TooFewTokens { tokens: 50, .. })
    ));
    // Feasible in principle but practically never drawn: an error after bounded tries.
    let hopeless = WavBlocksConfig {
        context_start_prob: 1e-6,
        ..WavBlocksConfig::default()
    };
    assert!(matches!(
        hopeless.sample(200, &mut generator),
        Err(MaskError::NoValidMask { .. })
    ));
}

#[test]
fn span_count_is_start_prob_times_length_on_average() {
    // With one-token spans the masked count equals the span count: 0.08 · 130 = 10.4,
    // rounded stochastically to 10 or 11 with mean 10.4.
    let config = SpanMaskConfig {
        start_prob: 0.08,
        span_len: 1,
        min_spans: 1,
    };
    let mut generator = rng(1);
    let draws = 4000;
    let mut total = 0;
    for _ in 0..draws {
        let count = config
            .sample(130, &mut generator)
            .unwrap()
            .iter()
            .filter(|&&m| m)
            .count();
        assert!(count == 10 || count == 11, "count {count}");
        total += count;
    }
    let mean = total as f64 / draws as f64;
    assert!((mean - 10.4).abs() < 0.05, "mean span count {mean}");
}

#[test]
fn span_masks_reject_bad_configurations_and_inputs() {
    let mut generator = rng(0);
    let config = SpanMaskConfig::default();
    assert!(matches!(
        config.sample(9, &mut generator),
        Err(MaskError::TooFewTokens { tokens: 9, .. })
    ));
    assert!(matches!(
        SpanMaskConfig {
            start_prob: -0.1,
            ..config.clone()
        }
        .sample(100, &mut generator),
        Err(MaskError::InvalidConfig(_))
    ));
    assert!(matches!(
        SpanMaskConfig {
            min_spans: 0,
            ..config.clone()
        }
        .sample(100, &mut generator),
        Err(MaskError::InvalidConfig(_))
    ));
    // Exactly one span fits in 10 tokens: everything is masked.
    assert_eq!(config.sample(10, &mut generator).unwrap(), vec![true; 10]);
}
