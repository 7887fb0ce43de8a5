//! Classification metrics as scikit-learn defines them: accuracy, per-class precision, recall
//! and F1 (0 where undefined, sklearn's `zero_division=0`), macro and support-weighted averages,
//! the confusion matrix (rows: true class, columns: predicted), and the expected calibration
//! error of top-label confidences over equal-width bins.

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Examples whose true class this is.
    pub support: u64,
}

/// The evaluation of a classifier on labelled examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_f1: f64,
    pub per_class: Vec<ClassScores>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    pub examples: u64,
}

fn check(metric: &'static str, y_true: &[usize], y_pred: &[usize], classes: usize) -> Result<(), StatsError> {
    if y_true.len() != y_pred.len() {
        return Err(StatsError::LengthMismatch {
            metric,
            lhs: "y_true",
            lhs_len: y_true.len(),
            rhs: "y_pred",
            rhs_len: y_pred.len(),
        });
    }
    if y_true.is_empty() {
        return Err(StatsError::Empty { metric });
    }
    if let Some(&index) = y_true.iter().chain(y_pred).find(|&&c| c >= classes) {
        return Err(StatsError::ClassOutOfRange { metric, index, classes });
    }
    Ok(())
}

/// The confusion matrix: `m[true][predicted]`.
pub fn confusion_matrix(
    y_true: &[usize],
    y_pred: &[usize],
    classes: usize,
) -> Result<Vec<Vec<u64>>, StatsError> {
    check("confusion matrix", y_true, y_pred, classes)?;
    let mut m = vec![vec![0u64; classes]; classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        m[t][p] += 1;
    }
    Ok(m)
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// Accuracy, per-class and averaged precision, recall and F1, and the confusion matrix.
/// `labels[i]` names class `i`; every class in `labels` is reported, seen or not (like
/// scikit-learn with `labels=` given).
pub fn classification_report(
    y_true: &[usize],
    y_pred: &[usize],
    labels: &[String],
) -> Result<ClassificationReport, StatsError> {
    let k = labels.len();
    let confusion = confusion_matrix(y_true, y_pred, k)?;
    let n = y_true.len() as u64;
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let mut per_class = Vec::with_capacity(k);
    for (c, label) in labels.iter().enumerate() {
        let tp = confusion[c][c];
        let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
        let support: u64 = confusion[c].iter().sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, support);
        let f1 = if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (predicted + support) as f64 };
        per_class.push(ClassScores { label: label.clone(), precision, recall, f1, support });
    }
    let mean = |f: fn(&ClassScores) -> f64| per_class.iter().map(f).sum::<f64>() / k.max(1) as f64;
    let weighted_f1 = per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / n as f64;
    Ok(ClassificationReport {
        accuracy: ratio(correct, n),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_f1,
        per_class,
        confusion,
        examples: n,
    })
}

/// Expected calibration error of top-label confidences: examples go into `bins` equal-width
/// bins over (0, 1] by confidence (bin `b` holds `b/bins < conf <= (b+1)/bins`, a confidence of 0
/// goes in the first); ECE is the sum over bins of `|accuracy - mean confidence|` weighted by
/// the bin's share of examples.
pub fn expected_calibration_error(
    confidence: &[f64],
    correct: &[bool],
    bins: usize,
) -> Result<f64, StatsError> {
    const METRIC: &str = "expected calibration error";
    if confidence.len() != correct.len() {
        return Err(StatsError::LengthMismatch {
            metric: METRIC,
            lhs: "confidence",
            lhs_len: confidence.len(),
            rhs: "correct",
            rhs_len: correct.len(),
        });
    }
    if confidence.is_empty() || bins == 0 {
        return Err(StatsError::Empty { metric: METRIC });
    }
    let mut count = vec![0u64; bins];
    let mut conf_sum = vec![0f64; bins];
    let mut hits = vec![0u64; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        if !(0.0..=1.0).contains(&c) {
            return Err(StatsError::OutOfUnitRange {
                metric: METRIC,
                what: "confidence",
                value: c.to_string(),
            });
        }
        let b = ((c * bins as f64).ceil() as usize).saturating_sub(1).min(bins - 1);
        count[b] += 1;
        conf_sum[b] += c;
        hits[b] += u64::from(ok);
    }
    let n = confidence.len() as f64;
    Ok((0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let m = count[b] as f64;
            (hits[b] as f64 / m - conf_sum[b] / m).abs() * m / n
        })
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn perfect_and_hopeless() {
        let r = classification_report(&[0, 1, 1, 2], &[0, 1, 1, 2], &labels(3)).unwrap();
        assert_eq!((r.accuracy, r.macro_f1), (1.0, 1.0));
        let r = classification_report(&[0, 0, 1, 1], &[1, 1, 0, 0], &labels(2)).unwrap();
        assert_eq!((r.accuracy, r.macro_f1), (0.0, 0.0));
        assert_eq!(r.confusion, vec![vec![0, 2], vec![2, 0]]);
    }

    #[test]
    fn unseen_class_scores_zero_not_nan() {
        let r = classification_report(&[0, 0, 1], &[0, 0, 1], &labels(3)).unwrap();
        assert_eq!(r.per_class[2].f1, 0.0);
        assert!((r.macro_f1 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_named() {
        let e = classification_report(&[0, 1], &[0], &labels(2)).unwrap_err();
        assert_eq!(e.to_string(), "confusion matrix: y_true has 2 values but y_pred has 1");
        let e = classification_report(&[0, 5], &[0, 1], &labels(2)).unwrap_err();
        assert!(e.to_string().contains("class index 5"), "{e}");
        assert!(expected_calibration_error(&[1.5], &[true], 10).is_err());
    }

    #[test]
    fn calibration_of_a_calibrated_model_is_zero() {
        // Confidence 0.75 with 3 of 4 right, 1.0 with all right.
        let e =
            expected_calibration_error(&[0.75, 0.75, 0.75, 0.75, 1.0], &[true, true, true, false, true], 10)
                .unwrap();
        assert!(e.abs() < 1e-12, "{e}");
    }
}
