//! A validation set carved out of the training clips when a manifest has none.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Share of the training clips held out for validation when no `valid` rows exist.
pub const VALID_FRACTION: f64 = 0.15;

/// Splits clip indices `0..strata.len()` into (train, valid), seeded: from each stratum
/// (clips with equal `strata` values, e.g. the same class) [`VALID_FRACTION`] of its clips,
/// rounded, go to validation — at least one from every stratum of two or more clips, so
/// every such class is validated, and never a stratum's last clip, so every class is
/// trained on. Both lists are sorted.
pub fn stratified_split<K: Ord>(strata: &[K], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut groups: BTreeMap<&K, Vec<usize>> = BTreeMap::new();
    for (i, key) in strata.iter().enumerate() {
        groups.entry(key).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for mut members in groups.into_values() {
        members.shuffle(&mut rng);
        let held = if members.len() < 2 {
            0
        } else {
            ((members.len() as f64 * VALID_FRACTION).round() as usize).clamp(1, members.len() - 1)
        };
        valid.extend_from_slice(&members[..held]);
        train.extend_from_slice(&members[held..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_two_or_more_is_in_both_parts_and_the_split_is_seeded() {
        let strata: Vec<usize> = (0..100).map(|i| i % 4).chain([7, 8, 8]).collect();
        let (train, valid) = stratified_split(&strata, 3);
        assert_eq!(train.len() + valid.len(), strata.len());
        // 25 per class → 4 (15 % rounded) each; the pair of 8s gives one; the lone 7 none.
        assert_eq!(valid.len(), 4 * 4 + 1);
        for class in [0, 1, 2, 3, 8] {
            assert!(valid.iter().any(|&i| strata[i] == class));
            assert!(train.iter().any(|&i| strata[i] == class));
        }
        assert!(train.contains(&100), "a lone clip trains");
        assert_eq!(stratified_split(&strata, 3), (train, valid.clone()));
        assert_ne!(stratified_split(&strata, 4).1, valid);
    }
}
