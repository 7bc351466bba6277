//! (being written)
pub enum AudioError {}
