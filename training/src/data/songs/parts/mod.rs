//! The part generators, one per stem: each writes notes on the beat grid of a `Grid`.

pub mod bass;
pub mod drums;
pub mod other;
pub mod vocals;
