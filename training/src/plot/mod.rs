//! PNG figures: spectrograms with axes and colour bars (and, in later issues, training curves
//! and attention maps). Rendered with plotters on an in-memory bitmap; text uses the DejaVu
//! Sans font embedded from `assets/fonts`, so no system font is needed.

mod colorbar;
pub mod curves;
mod font;
pub mod spectrogram;

pub use curves::{Curve, render_curves_png};
pub use spectrogram::{PatchOverlay, SpectrogramFigure, render_spectrogram_png};
