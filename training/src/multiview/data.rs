//! What the multi-view disentangler trains on: one frozen-encoder latent per clip, the
//! clips' labels (for pairing and evaluation; training never reads them) and the pairs whose
//! two notes are the two views.

use anyhow::{Context, ensure};
use candle_core::{DType, Device, Tensor};

use crate::data::notes::pair_within_groups;

/// Clip latents, their labels and the pairs of views, checked consistent.
#[derive(Debug, Clone)]
pub struct MultiviewData {
    /// `(clips, dim)` in f32: one embedding per clip from the frozen encoder (the paper's
    /// `x_i`, pooled over time).
    latents: Tensor,
    /// Pitch of every clip: the factor the private code should hold.
    pitch: Vec<usize>,
    /// Instrument family of every clip: the factor the views of a pair share.
    family: Vec<usize>,
    /// The pairs: indices of the first and second view's clips.
    pairs: Vec<(usize, usize)>,
}

impl MultiviewData {
    /// Checks that there is one label of each kind per latent and that every pair names two
    /// distinct clips. The pairs define what the views share: any pairing is taken as given
    /// (the paper's is [`Self::paired_by_family`]; `tessera data notes` writes the same in
    /// `pairs.csv`).
    pub fn new(
        latents: Tensor,
        pitch: Vec<usize>,
        family: Vec<usize>,
        pairs: Vec<(usize, usize)>,
    ) -> anyhow::Result<Self> {
        let (clips, dim) = latents
            .dims2()
            .context("the latents must be one vector per clip, (clips, dim)")?;
        ensure!(clips > 0 && dim > 0, "no latents to train on");
        ensure!(
            pitch.len() == clips && family.len() == clips,
            "{clips} latents but {} pitches and {} families",
            pitch.len(),
            family.len()
        );
        if let Some(&(a, b)) = pairs.iter().find(|(a, b)| a == b || *a.max(b) >= clips) {
            anyhow::bail!("pair ({a}, {b}) does not name two distinct clips of the {clips}");
        }
        Ok(Self {
            latents: latents.to_dtype(DType::F32)?,
            pitch,
            family,
            pairs,
        })
    }

    /// The paper's pairing: every clip with one seeded random partner of the same family and
    /// a different pitch (clips without one are left unpaired).
    pub fn paired_by_family(
        latents: Tensor,
        pitch: Vec<usize>,
        family: Vec<usize>,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let pairs = pair_within_groups(&family, &pitch, seed);
        Self::new(latents, pitch, family, pairs)
    }

    /// `(clips, dim)` f32.
    pub fn latents(&self) -> &Tensor {
        &self.latents
    }

    pub fn pitch(&self) -> &[usize] {
        &self.pitch
    }

    pub fn family(&self) -> &[usize] {
        &self.family
    }

    pub fn pairs(&self) -> &[(usize, usize)] {
        &self.pairs
    }

    /// Clips held.
    pub fn clips(&self) -> usize {
        self.pitch.len()
    }

    /// Width of the latents.
    pub fn latent_dim(&self) -> usize {
        self.latents.dims()[1]
    }

    /// The same set with its latents on `device`.
    pub fn to_device(&self, device: &Device) -> candle_core::Result<Self> {
        Ok(Self {
            latents: self.latents.to_device(device)?,
            ..self.clone()
        })
    }

    /// The latents of both views of the pairs numbered `pairs` (indices into
    /// [`Self::pairs`]), each `(pairs, dim)`.
    pub fn views(&self, pairs: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
        let gather = |side: fn(&(usize, usize)) -> usize| {
            let rows: Vec<u32> = pairs.iter().map(|&p| side(&self.pairs[p]) as u32).collect();
            let rows = Tensor::from_vec(rows, pairs.len(), self.latents.device())?;
            self.latents.index_select(&rows, 0)
        };
        Ok((gather(|pair| pair.0)?, gather(|pair| pair.1)?))
    }
}
