//! The separator the separation tests run: small enough for f64 finite differences.

use tessera_core::models::SeparatorConfig;
use tessera_core::models::separator::StageConfig;
use tessera_core::nn::TransformerConfig;

/// A 32-point STFT at 8 kHz, 8-frame (56-sample) chunks, two blocks down to 2 × 4 tokens.
pub fn config() -> SeparatorConfig {
    SeparatorConfig {
        sample_rate: 8000,
        n_fft: 32,
        hop: 8,
        chunk_frames: 8,
        stages: vec![StageConfig::new(2, 2, 8), StageConfig::new(2, 2, 8)],
        bottleneck: TransformerConfig {
            dim: 8,
            depth: 1,
            heads: 2,
            mlp_ratio: 2,
        },
    }
}
