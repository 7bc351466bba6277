//! The wav2vec2 convolutional feature encoder (waveform → 100 Hz frames at 16 kHz).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use super::fused::{add_bias, gelu, scale_columns, unfold_time};
use super::instance_norm::instance_norm_time;
use super::linear::Linear;

/// Layer geometry of the feature encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvFeatureEncoderConfig {
    /// Kernel sizes, first layer first.
    pub kernels: Vec<usize>,
    /// Strides; their product is the hop in samples.
    pub strides: Vec<usize>,
    /// Channels of every layer (512 in wav2vec2; ≤ 128 keeps the CPU path fast).
    pub channels: usize,
}

impl Default for ConvFeatureEncoderConfig {
    /// wav2vec2's stack without its last layer, as WavJEPA uses it: hop 160 samples,
    /// 100 frames per second at 16 kHz.
    fn default() -> Self {
        Self {
            kernels: vec![10, 3, 3, 3, 3, 2],
            strides: vec![5, 2, 2, 2, 2, 2],
            channels: 128,
        }
    }
}

impl ConvFeatureEncoderConfig {
    /// Samples between consecutive output frames.
    pub fn hop(&self) -> usize {
        self.strides.iter().product()
    }

    /// Output frames for `samples` input samples (valid convolutions, no padding).
    pub fn frames(&self, samples: usize) -> usize {
        self.kernels
            .iter()
            .zip(&self.strides)
            .fold(
                samples,
                |len, (&k, &s)| {
                    if len < k { 0 } else { (len - k) / s + 1 }
                },
            )
    }
}

/// One strided convolution as unfold + matmul, channels last.
#[derive(Debug, Clone)]
struct ConvLayer {
    /// `channels × (kernel · in_channels)`, no bias (wav2vec2's `conv_bias = False`).
    weight: Linear,
    kernel: usize,
    stride: usize,
}

/// Conv layers with GELU; the first also instance-normalises (GroupNorm with one group
/// per channel, as wav2vec2 base), with a learned per-channel scale and shift.
#[derive(Debug, Clone)]
pub struct ConvFeatureEncoder {
    layers: Vec<ConvLayer>,
    /// Scale of the first layer's normalisation.
    norm_weight: Tensor,
    /// Shift of the first layer's normalisation.
    norm_bias: Tensor,
}

impl ConvFeatureEncoder {
    pub fn new(config: &ConvFeatureEncoderConfig, vb: VarBuilder) -> Result<Self> {
        if config.kernels.len() != config.strides.len() || config.kernels.is_empty() {
            candle_core::bail!(
                "conv feature encoder: kernels and strides must be equally long and non-empty"
            );
        }
        let mut in_channels = 1;
        let mut layers = Vec::with_capacity(config.kernels.len());
        for (i, (&kernel, &stride)) in config.kernels.iter().zip(&config.strides).enumerate() {
            let weight = Linear::without_bias(
                kernel * in_channels,
                config.channels,
                vb.pp(format!("conv.{i}")),
            )?;
            layers.push(ConvLayer {
                weight,
                kernel,
                stride,
            });
            in_channels = config.channels;
        }
        Ok(Self {
            layers,
            norm_weight: vb.get_with_hints(config.channels, "norm.weight", Init::Const(1.0))?,
            norm_bias: vb.get_with_hints(config.channels, "norm.bias", Init::Const(0.0))?,
        })
    }
}

impl Module for ConvFeatureEncoder {
    /// `(batch, samples)` → `(batch, frames, channels)`.
    fn forward(&self, waveform: &Tensor) -> Result<Tensor> {
        let (batch, samples) = waveform.dims2()?;
        let mut x = waveform.reshape((batch, samples, 1))?;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer
                .weight
                .forward(&unfold_time(&x, layer.kernel, layer.stride)?)?;
            if i == 0 {
                // Ours, not candle's broadcast ops, whose backward reduces this
                // (batch, frames, channels) gradient slowly.
                x = add_bias(
                    &scale_columns(&instance_norm_time(&x)?, &self.norm_weight)?,
                    &self.norm_bias,
                )?;
            }
            x = gelu(&x)?;
        }
        Ok(x)
    }
}
