//! The standalone application: Tessera without a DAW (JACK or ALSA through cpal; `--help`
//! lists the audio options).

fn main() {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { tessera_core::threads::elementwise_on_calling_thread() };
    nice_plug::prelude::nice_export_standalone::<tessera_plugin::Tessera>();
}
