//! The generalisability score s(m) of the WavJEPA paper's appendix B (after SUPERB): per task,
//! a model's improvement over the baseline as a share of the best model's improvement, floored
//! at 0, averaged over tasks, in percent. A task on which no model beats the baseline counts 0
//! for every model.

/// s(m) for every model: `scores[m][t]` is model `m`'s score on task `t` (higher is better),
/// `baseline` the index of the baseline model (HEAR-naive log-mel statistics in the paper).
/// Every model must have a score for every task.
pub fn generalisability(scores: &[Vec<f64>], baseline: usize) -> Vec<f64> {
    let tasks = scores[baseline].len();
    assert!(
        scores.iter().all(|row| row.len() == tasks),
        "every model needs a score for every task"
    );
    let mut total = vec![0.0; scores.len()];
    for task in 0..tasks {
        let base = scores[baseline][task];
        let best = scores.iter().map(|row| row[task]).fold(f64::MIN, f64::max);
        let gap = best - base;
        if gap <= 0.0 {
            continue;
        }
        for (sum, row) in total.iter_mut().zip(scores) {
            *sum += ((row[task] - base) / gap).max(0.0);
        }
    }
    total
        .into_iter()
        .map(|sum| 100.0 * sum / tasks.max(1) as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_as_a_share_of_the_best_models() {
        // Task 0: baseline 0.5, best 0.9 → the middle model gets (0.7 − 0.5)/0.4 = 0.5.
        // Task 1: the baseline is best → 0 for everyone. Task 2: the middle model is below
        // the baseline → floored at 0; the best gets 1.
        let scores = vec![
            vec![0.5, 0.8, 0.4],
            vec![0.7, 0.6, 0.3],
            vec![0.9, 0.7, 0.6],
        ];
        let s = generalisability(&scores, 0);
        let expected = [0.0, 100.0 * 0.5 / 3.0, 100.0 * 2.0 / 3.0];
        for (got, want) in s.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{s:?}");
        }
    }
}
