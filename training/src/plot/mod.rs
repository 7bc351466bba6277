//! PNG figures: spectrograms with axes and colour bars, attention maps, training curves,
//! confusion matrices and scatter plots. Rendered with plotters on an in-memory bitmap; text uses the DejaVu
//! Sans font embedded from `assets/fonts`, so no system font is needed.

mod colorbar;
mod confusion;
pub mod curves;
mod font;
mod scatter;
pub mod spectrogram;

pub use confusion::{ConfusionPanel, render_confusion_png};
pub use curves::{Curve, render_curves_png};
pub use scatter::{Marker, ScatterAxes, ScatterPoint, ScatterSeries, render_scatter_png};
pub use spectrogram::{PatchOverlay, SpectrogramFigure, render_spectrogram_png};
