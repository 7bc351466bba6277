//! Patch grids: shape, order, padding and the split/merge round trip.

use ndarray::{Array2, array};
use proptest::prelude::*;
use tessera_core::dsp::patches::{PadPolicy, PatchGrid};

#[test]
fn grid_shape_follows_the_padding_rule() {
    let zero = PatchGrid::new(16, 16, PadPolicy::Zero).unwrap();
    let drop = PatchGrid::new(16, 16, PadPolicy::Drop).unwrap();
    assert_eq!(zero.grid_shape(128, 1001).unwrap(), (8, 63));
    assert_eq!(drop.grid_shape(128, 1001).unwrap(), (8, 62));
    assert_eq!(zero.grid_shape(128, 1008).unwrap(), (8, 63));
    assert_eq!(drop.grid_shape(10, 1008).unwrap(), (0, 63));
    assert!(PatchGrid::new(0, 4, PadPolicy::Zero).is_err());
    let invalid = PatchGrid {
        patch_freq: 4,
        patch_time: 0,
        pad: PadPolicy::Drop,
    };
    assert!(invalid.grid_shape(8, 8).is_err());
    assert!(invalid.split(Array2::zeros((8, 8)).view()).is_err());
}

/// Patch `i = f · n_time_patches + t`, elements row-major inside a patch, zero padding at the
/// high-frequency and late-time edges.
#[test]
fn patches_are_numbered_frequency_major_and_zero_padded() {
    // value = 10·row + column
    let x = Array2::from_shape_fn((3, 5), |(f, t)| (10 * f + t) as f32);
    let grid = PatchGrid::new(2, 2, PadPolicy::Zero).unwrap();
    let patches = grid.split(x.view()).unwrap();
    assert_eq!(patches.dim(), (6, 2, 2));
    assert_eq!(
        patches.index_axis(ndarray::Axis(0), 0),
        array![[0., 1.], [10., 11.]]
    );
    assert_eq!(
        patches.index_axis(ndarray::Axis(0), 1),
        array![[2., 3.], [12., 13.]]
    );
    assert_eq!(
        patches.index_axis(ndarray::Axis(0), 2),
        array![[4., 0.], [14., 0.]]
    );
    assert_eq!(
        patches.index_axis(ndarray::Axis(0), 3),
        array![[20., 21.], [0., 0.]]
    );
    assert_eq!(
        patches.index_axis(ndarray::Axis(0), 5),
        array![[24., 0.], [0., 0.]]
    );
    let flat = grid.split_flat(x.view()).unwrap();
    assert_eq!(flat.dim(), (6, 4));
    assert_eq!(flat.row(1).to_vec(), vec![2., 3., 12., 13.]);

    let dropped = PatchGrid::new(2, 2, PadPolicy::Drop)
        .unwrap()
        .split(x.view())
        .unwrap();
    assert_eq!(dropped.dim(), (2, 2, 2));
    assert_eq!(
        dropped.index_axis(ndarray::Axis(0), 1),
        array![[2., 3.], [12., 13.]]
    );
}

#[test]
fn merge_rejects_mismatched_patches() {
    let grid = PatchGrid::new(2, 2, PadPolicy::Zero).unwrap();
    let patches = grid.split(Array2::ones((4, 4)).view()).unwrap();
    assert!(grid.merge(patches.view(), 4, 6).is_err());
    let flat = grid.split_flat(Array2::ones((4, 4)).view()).unwrap();
    assert!(
        grid.merge_flat(flat.slice(ndarray::s![.., ..3]), 4, 4)
            .is_err()
    );
}

proptest! {
    /// merge(split(x)) is x for Zero padding; for Drop it is x on the covered part and zero
    /// on the dropped remainder. Same for the flattened forms.
    #[test]
    fn merge_inverts_split(
        n_freq in 1usize..40,
        n_time in 1usize..40,
        patch_freq in 1usize..9,
        patch_time in 1usize..9,
        seed in any::<u32>(),
    ) {
        let x = Array2::from_shape_fn((n_freq, n_time), |(f, t)| {
            ((f as u32).wrapping_mul(2_654_435_761) ^ (t as u32).wrapping_mul(40_503) ^ seed) as f32
        });
        let zero = PatchGrid::new(patch_freq, patch_time, PadPolicy::Zero).unwrap();
        let patches = zero.split(x.view()).unwrap();
        prop_assert_eq!(&zero.merge(patches.view(), n_freq, n_time).unwrap(), &x);
        let flat = zero.split_flat(x.view()).unwrap();
        prop_assert_eq!(&zero.merge_flat(flat.view(), n_freq, n_time).unwrap(), &x);

        let drop = PatchGrid::new(patch_freq, patch_time, PadPolicy::Drop).unwrap();
        let (fp, tp) = drop.grid_shape(n_freq, n_time).unwrap();
        let merged = drop.merge(drop.split(x.view()).unwrap().view(), n_freq, n_time).unwrap();
        let (kept_f, kept_t) = (fp * patch_freq, tp * patch_time);
        for ((f, t), &v) in merged.indexed_iter() {
            let expected = if f < kept_f && t < kept_t { x[[f, t]] } else { 0.0 };
            prop_assert_eq!(v, expected);
        }
    }
}
