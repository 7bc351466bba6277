//! Separating audio of any length with the stem separator, for both the CLI and the plugin.
//!
//! [`StreamingSeparator`] cuts the incoming stereo stream into chunks the model sees at once,
//! overlapping by half, and overlap-adds the separated chunks with a window whose shifted
//! copies sum to one, so the output is continuous and its latency constant.
//! [`separate_audio`] runs it over a whole recording at any sample rate and channel count.

mod offline;
mod streaming;

pub use offline::{SeparatedStems, separate_audio};
pub use streaming::{StemBlock, StreamingSeparator};
