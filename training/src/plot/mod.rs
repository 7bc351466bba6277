//! PNG figures: spectrograms with axes and colour bars, attention maps, training curves and
//! confusion matrices. Rendered with plotters on an in-memory bitmap; text uses the DejaVu
//! Sans font embedded from `assets/fonts`, so no system font is needed.

mod colorbar;
mod confusion;
pub mod curves;
mod font;
pub mod spectrogram;

pub use confusion::{ConfusionPanel, render_confusion_png};
pub use curves::{Curve, render_curves_png};
pub use spectrogram::{PatchOverlay, SpectrogramFigure, render_spectrogram_png};
