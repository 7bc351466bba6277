//! The one font every figure uses, registered with plotters once per process.

use std::sync::Once;

use plotters::style::FontStyle;

/// Family name the figures ask plotters for.
pub const FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers the embedded DejaVu Sans under [`FAMILY`]; cheap after the first call.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_err() {
            unreachable!("the embedded DejaVu Sans is a valid TrueType font");
        }
    });
}
