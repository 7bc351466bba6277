//! 2D patch grids over spectrograms: the time–frequency mosaic the models see.
//!
//! A `[frequency × time]` array is cut into non-overlapping `patch_freq × patch_time` tiles.
//! **Order:** patches are numbered row-major over (frequency-patch index, time-patch index):
//! patch `i = f · n_time_patches + t` covers rows `f·patch_freq ..` and columns
//! `t·patch_time ..` of the input, so all time patches of the lowest frequency band come first.
//! Inside a flattened patch the elements are row-major too: element `(df, dt)` sits at
//! `df · patch_time + dt`.
//!
//! **Padding:** an extent that is not a multiple of the patch size is either zero-padded up
//! to the next multiple ([`PadPolicy::Zero`], nothing is lost) or its remainder is dropped
//! ([`PadPolicy::Drop`], the last partial patches are not produced). [`PatchGrid::merge`]
//! inverts [`PatchGrid::split`] on the original extent: padding is cut off again, and under
//! `Drop` the dropped remainder comes back as zeros.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, s};
use serde::{Deserialize, Serialize};

use super::DspError;

/// What to do with rows/columns left over when an extent is not a multiple of the patch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadPolicy {
    /// Pad with zeros up to the next multiple, so every input value lands in some patch.
    Zero,
    /// Truncate to the previous multiple, so every patch holds only real data.
    Drop,
}

/// The tiling of a spectrogram into `patch_freq × patch_time` patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PatchGrid {
    /// Patch height in frequency bins (e.g. mel bands); must be positive.
    pub patch_freq: usize,
    /// Patch width in frames; must be positive.
    pub patch_time: usize,
    /// How extents that are not multiples of the patch size are handled.
    pub pad: PadPolicy,
}

impl PatchGrid {
    /// A grid of `patch_freq × patch_time` patches with the given padding rule.
    pub fn new(patch_freq: usize, patch_time: usize, pad: PadPolicy) -> Result<Self, DspError> {
        let grid = Self {
            patch_freq,
            patch_time,
            pad,
        };
        grid.validate()?;
        Ok(grid)
    }

    /// Number of values in one patch, `patch_freq · patch_time`.
    pub fn patch_len(&self) -> usize {
        self.patch_freq * self.patch_time
    }

    /// `(n_freq_patches, n_time_patches)` for an input of `n_freq × n_time`.
    pub fn grid_shape(&self, n_freq: usize, n_time: usize) -> Result<(usize, usize), DspError> {
        self.validate()?;
        let count = |extent: usize, patch: usize| match self.pad {
            PadPolicy::Zero => extent.div_ceil(patch),
            PadPolicy::Drop => extent / patch,
        };
        Ok((
            count(n_freq, self.patch_freq),
            count(n_time, self.patch_time),
        ))
    }

    /// Cuts `[n_freq × n_time]` into `[n_patches × patch_freq × patch_time]` in the module's
    /// patch order.
    pub fn split(&self, spectrogram: ArrayView2<'_, f32>) -> Result<Array3<f32>, DspError> {
        let (n_freq, n_time) = spectrogram.dim();
        let (freq_patches, time_patches) = self.grid_shape(n_freq, n_time)?;
        let mut patches = Array3::zeros((
            freq_patches * time_patches,
            self.patch_freq,
            self.patch_time,
        ));
        for (index, mut patch) in patches.outer_iter_mut().enumerate() {
            let (rows, cols) = self.patch_extent(index, time_patches, n_freq, n_time);
            patch
                .slice_mut(s![..rows.len(), ..cols.len()])
                .assign(&spectrogram.slice(s![rows, cols]));
        }
        Ok(patches)
    }

    /// [`split`](Self::split) with each patch flattened: `[n_patches × patch_freq·patch_time]`.
    pub fn split_flat(&self, spectrogram: ArrayView2<'_, f32>) -> Result<Array2<f32>, DspError> {
        let patches = self.split(spectrogram)?;
        let n_patches = patches.len_of(Axis(0));
        Ok(patches
            .into_shape_with_order((n_patches, self.patch_len()))
            .expect("a freshly built Array3 is contiguous in standard order"))
    }

    /// Reassembles `[n_patches × patch_freq × patch_time]` (as made by [`split`](Self::split)
    /// from an `n_freq × n_time` input) into `[n_freq × n_time]`.
    pub fn merge(
        &self,
        patches: ArrayView3<'_, f32>,
        n_freq: usize,
        n_time: usize,
    ) -> Result<Array2<f32>, DspError> {
        let (freq_patches, time_patches) = self.grid_shape(n_freq, n_time)?;
        let expected = (
            freq_patches * time_patches,
            self.patch_freq,
            self.patch_time,
        );
        if patches.dim() != expected {
            return Err(DspError::InvalidConfig(format!(
                "patches have shape {:?}, a {n_freq}×{n_time} input on this grid gives {expected:?}",
                patches.dim()
            )));
        }
        let mut spectrogram = Array2::zeros((n_freq, n_time));
        for (index, patch) in patches.outer_iter().enumerate() {
            let (rows, cols) = self.patch_extent(index, time_patches, n_freq, n_time);
            let (height, width) = (rows.len(), cols.len());
            spectrogram
                .slice_mut(s![rows, cols])
                .assign(&patch.slice(s![..height, ..width]));
        }
        Ok(spectrogram)
    }

    /// [`merge`](Self::merge) for flattened patches `[n_patches × patch_freq·patch_time]`.
    pub fn merge_flat(
        &self,
        patches: ArrayView2<'_, f32>,
        n_freq: usize,
        n_time: usize,
    ) -> Result<Array2<f32>, DspError> {
        self.validate()?;
        let (n_patches, len) = patches.dim();
        if len != self.patch_len() {
            return Err(DspError::InvalidConfig(format!(
                "flattened patches have {len} values, the grid's patches have {}",
                self.patch_len()
            )));
        }
        let shaped = patches
            .to_shape((n_patches, self.patch_freq, self.patch_time))
            .expect("the element count matches by the check above");
        self.merge(shaped.view(), n_freq, n_time)
    }

    /// The input rows and columns patch `index` covers, clipped to the input (the part of a
    /// zero-padded edge patch that lies outside is not real data).
    fn patch_extent(
        &self,
        index: usize,
        time_patches: usize,
        n_freq: usize,
        n_time: usize,
    ) -> (Range<usize>, Range<usize>) {
        let f0 = (index / time_patches) * self.patch_freq;
        let t0 = (index % time_patches) * self.patch_time;
        (
            f0..(f0 + self.patch_freq).min(n_freq),
            t0..(t0 + self.patch_time).min(n_time),
        )
    }

    fn validate(&self) -> Result<(), DspError> {
        if self.patch_freq == 0 || self.patch_time == 0 {
            return Err(DspError::InvalidConfig(format!(
                "patch size must be positive, got {}×{}",
                self.patch_freq, self.patch_time
            )));
        }
        Ok(())
    }
}
