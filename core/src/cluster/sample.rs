//! Seeded uniform sub-sampling of feature vectors that arrive file by file, so a fit on a
//! corpus larger than memory can use a fixed-size random subset.

use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The ChaCha stream reservoirs draw from (fits use stream 0).
const RESERVOIR_STREAM: u64 = 1;

/// Reservoir sampling (Vitter's algorithm R) over rows: after any number of
/// [`RowReservoir::offer`] calls it holds a uniform random subset of at most `capacity` of
/// the rows offered, using memory for `capacity` rows only.
#[derive(Debug, Clone)]
pub struct RowReservoir {
    capacity: usize,
    dim: usize,
    values: Vec<f32>,
    kept: usize,
    seen: u64,
    rng: ChaCha8Rng,
}

impl RowReservoir {
    /// An empty reservoir for up to `capacity` rows of `dim` values, drawing from a ChaCha
    /// generator seeded with `seed`. It uses its own ChaCha stream, so a reservoir and a
    /// k-means fit given the same seed draw unrelated numbers.
    pub fn new(capacity: usize, dim: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(RESERVOIR_STREAM);
        Self {
            capacity,
            dim,
            values: Vec::new(),
            kept: 0,
            seen: 0,
            rng,
        }
    }

    /// The dimension rows must have.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Offers every row of `rows`; returns `Err(rows.ncols())` when the rows do not have the
    /// reservoir's dimension (nothing is taken then).
    pub fn offer(&mut self, rows: ArrayView2<f32>) -> Result<(), usize> {
        if rows.ncols() != self.dim {
            return Err(rows.ncols());
        }
        for row in rows.rows() {
            if self.kept < self.capacity {
                self.values.extend(row.iter());
                self.kept += 1;
            } else if self.capacity > 0 {
                let slot = self.rng.random_range(0..=self.seen);
                if let Ok(slot) = usize::try_from(slot)
                    && slot < self.capacity
                {
                    self.values[slot * self.dim..(slot + 1) * self.dim]
                        .iter_mut()
                        .zip(row)
                        .for_each(|(kept, &value)| *kept = value);
                }
            }
            self.seen += 1;
        }
        Ok(())
    }

    /// The kept rows [min(seen, capacity) × dim].
    pub fn into_rows(self) -> Array2<f32> {
        Array2::from_shape_vec((self.kept, self.dim), self.values)
            .expect("the buffer always holds whole rows")
    }
}
