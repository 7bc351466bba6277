//! candle building blocks shared by every model.
//!
//! Only ops whose gradients are checked against finite differences in
//! `core/tests/integration/nn_gradients.rs` are used in training; where candle's own op is wrong,
//! missing a backward or slow on the CPU, [`fused`] has ours.

mod attention;
mod batch_norm;
mod conv_feature_encoder;
mod dropout;
pub mod fused;
mod init;
mod instance_norm;
mod layer_norm;
mod linear;
mod losses;
mod patch_embed;
mod posemb;
mod transformer;

pub use attention::{Attention, AttentionOutput};
pub use batch_norm::BatchNorm;
pub use conv_feature_encoder::{ConvFeatureEncoder, ConvFeatureEncoderConfig};
pub use dropout::dropout;
pub use init::seeded_normal_init;
pub use instance_norm::instance_norm_time;
pub use layer_norm::LayerNorm;
pub use linear::{INIT_STD, Linear};
pub use losses::{binary_cross_entropy_with_logits, cross_entropy};
pub use patch_embed::PatchEmbed;
pub use posemb::{sincos_1d, sincos_2d};
pub use transformer::{Transformer, TransformerConfig, TransformerOutput};
