//! juru-stats against reference implementations on the same data (tests/data/).

mod agreement;
mod fairness;
mod paired;

use juru_stats::classification::{classification_report, expected_calibration_error};
use serde_json::Value;

const TOL: f64 = 1e-12;

fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= TOL, "{what}: got {got}, scikit-learn says {want}");
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn ints(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

#[test]
fn classification_metrics_match_scikit_learn() {
    let data: Value = serde_json::from_str(include_str!("../data/classification_reference.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for (i, case) in cases.iter().enumerate() {
        let k = case["classes"].as_u64().unwrap() as usize;
        let labels: Vec<String> = (0..k).map(|c| c.to_string()).collect();
        let (y_true, y_pred) = (ints(&case["y_true"]), ints(&case["y_pred"]));
        let want = &case["expected"];
        let r = classification_report(&y_true, &y_pred, &labels).unwrap();
        close(&format!("case {i} accuracy"), r.accuracy, want["accuracy"].as_f64().unwrap());
        close(&format!("case {i} macro F1"), r.macro_f1, want["macro_f1"].as_f64().unwrap());
        close(&format!("case {i} weighted F1"), r.weighted_f1, want["weighted_f1"].as_f64().unwrap());
        for (c, scores) in r.per_class.iter().enumerate() {
            close(&format!("case {i} class {c} precision"), scores.precision, floats(&want["precision"])[c]);
            close(&format!("case {i} class {c} recall"), scores.recall, floats(&want["recall"])[c]);
            close(&format!("case {i} class {c} F1"), scores.f1, floats(&want["f1"])[c]);
            assert_eq!(scores.support, ints(&want["support"])[c] as u64);
        }
        let confusion: Vec<Vec<u64>> = want["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| ints(row).into_iter().map(|x| x as u64).collect())
            .collect();
        assert_eq!(r.confusion, confusion, "case {i} confusion matrix");
        let conf = floats(&case["confidence"]);
        let correct: Vec<bool> = y_true.iter().zip(&y_pred).map(|(a, b)| a == b).collect();
        close(
            &format!("case {i} ECE/10"),
            expected_calibration_error(&conf, &correct, 10).unwrap(),
            want["ece_10"].as_f64().unwrap(),
        );
        close(
            &format!("case {i} ECE/15"),
            expected_calibration_error(&conf, &correct, 15).unwrap(),
            want["ece_15"].as_f64().unwrap(),
        );
    }
}
