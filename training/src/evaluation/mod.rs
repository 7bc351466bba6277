//! Evaluation of trained models against references and anchors (`tessera eval`).

pub mod anchors;
pub mod attention_stems;
pub mod generalisability;
pub mod separation;
