//! The standalone application: Tessera without a DAW (JACK or ALSA through cpal; `--help`
//! lists the audio options).

fn main() {
    nice_plug::prelude::nice_export_standalone::<tessera_plugin::Tessera>();
}
