//! Classification scores against scikit-learn (fixtures from
//! tests/fixtures/gen/classification.py).

use serde_json::Value;
use tessera_core::metrics::classification::{ConfusionMatrix, average_precision, micro_f1};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/classification/reference.json"
);

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURES).expect("fixture")).unwrap()
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn indices(value: &Value) -> Vec<usize> {
    numbers(value).into_iter().map(|v| v as usize).collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-12, "{what}: {a} vs scikit-learn's {b}");
}

#[test]
fn single_label_scores_match_scikit_learn() {
    let reference = reference();
    for (i, case) in reference["single_label"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let classes = case["classes"].as_u64().unwrap() as usize;
        let matrix = ConfusionMatrix::new(
            classes,
            &indices(&case["truth"]),
            &indices(&case["predicted"]),
        )
        .unwrap();
        close(
            matrix.accuracy(),
            case["accuracy"].as_f64().unwrap(),
            "accuracy",
        );
        close(
            matrix.macro_f1(),
            case["macro_f1"].as_f64().unwrap(),
            "macro-F1",
        );
        let rows: Vec<Vec<u64>> = case["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| indices(row).into_iter().map(|v| v as u64).collect())
            .collect();
        assert_eq!(matrix.rows(), rows, "case {i}: confusion matrix");
        let scores = matrix.per_class();
        for (c, s) in scores.iter().enumerate() {
            close(s.precision, numbers(&case["precision"])[c], "precision");
            close(s.recall, numbers(&case["recall"])[c], "recall");
            close(s.f1, numbers(&case["f1"])[c], "F1");
            assert_eq!(s.support as usize, indices(&case["support"])[c]);
        }
    }
}

#[test]
fn multi_label_scores_match_scikit_learn() {
    let reference = reference();
    for case in reference["multi_label"].as_array().unwrap() {
        let truth: Vec<Vec<bool>> = case["truth"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| numbers(row).iter().map(|&v| v == 1.0).collect())
            .collect();
        let scores: Vec<Vec<f64>> = case["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(numbers)
            .collect();
        let classes = truth[0].len();
        let mut present = Vec::new();
        for c in 0..classes {
            let column = |rows: &[Vec<f64>]| rows.iter().map(|r| r[c]).collect::<Vec<_>>();
            let positive: Vec<bool> = truth.iter().map(|r| r[c]).collect();
            let ap = average_precision(&column(&scores), &positive).unwrap();
            let expected = case["average_precision"][c].as_f64();
            assert_eq!(ap.is_some(), expected.is_some());
            if let (Some(ap), Some(expected)) = (ap, expected) {
                close(ap, expected, "average precision");
                present.push(ap);
            }
        }
        let map = present.iter().sum::<f64>() / present.len() as f64;
        close(map, case["mean_average_precision"].as_f64().unwrap(), "mAP");
        let predicted: Vec<Vec<bool>> = scores
            .iter()
            .map(|row| row.iter().map(|&s| s >= 0.5).collect())
            .collect();
        close(
            micro_f1(&truth, &predicted).unwrap(),
            case["micro_f1"].as_f64().unwrap(),
            "micro-F1",
        );
    }
}

#[test]
fn mismatched_inputs_are_errors_not_panics() {
    assert!(ConfusionMatrix::new(2, &[0, 1], &[0]).is_err());
    assert!(ConfusionMatrix::new(2, &[0, 2], &[0, 1]).is_err());
    assert!(average_precision(&[0.5], &[true, false]).is_err());
    assert_eq!(
        average_precision(&[0.5, 0.2], &[false, false]).unwrap(),
        None
    );
    assert!(micro_f1(&[vec![true]], &[vec![true, false]]).is_err());
}
