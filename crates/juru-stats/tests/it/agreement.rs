//! Agreement statistics against the `krippendorff` package, scikit-learn's `cohen_kappa_score`
//! and statsmodels' `fleiss_kappa` on the same data (tests/data/make_agreement_reference.py).

use juru_stats::StatsError;
use juru_stats::agreement::{
    KappaWeights, Level, bootstrap_units, cohen_kappa, fleiss_kappa, krippendorff_alpha, percent_agreement,
};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn reference() -> Value {
    serde_json::from_str(include_str!("../data/agreement_reference.json")).unwrap()
}

fn ratings(v: &Value) -> Vec<Vec<Option<f64>>> {
    v.as_array().unwrap().iter().map(|c| c.as_array().unwrap().iter().map(Value::as_f64).collect()).collect()
}

fn ints(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

#[test]
fn krippendorff_alpha_matches_the_krippendorff_package_at_every_level() {
    let data = reference();
    let cases = data["alpha"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for (i, case) in cases.iter().enumerate() {
        let r = ratings(&case["ratings"]);
        for (name, level) in [
            ("nominal", Level::Nominal),
            ("ordinal", Level::Ordinal),
            ("interval", Level::Interval),
            ("ratio", Level::Ratio),
        ] {
            let want = case["alpha"][name].as_f64().unwrap();
            let got = krippendorff_alpha(&r, level).unwrap();
            assert!((got - want).abs() <= TOL, "case {i} {name}: got {got}, krippendorff says {want}");
        }
    }
}

#[test]
fn cohen_kappa_matches_scikit_learn_with_and_without_weights() {
    let data = reference();
    for (i, case) in data["cohen"].as_array().unwrap().iter().enumerate() {
        let k = case["classes"].as_u64().unwrap() as usize;
        let (a, b) = (ints(&case["a"]), ints(&case["b"]));
        for (name, w) in [
            ("none", KappaWeights::None),
            ("linear", KappaWeights::Linear),
            ("quadratic", KappaWeights::Quadratic),
        ] {
            let want = case["kappa"][name].as_f64().unwrap();
            let got = cohen_kappa(&a, &b, k, w).unwrap();
            assert!((got - want).abs() <= TOL, "case {i} {name}: got {got}, scikit-learn says {want}");
        }
    }
}

#[test]
fn fleiss_kappa_matches_statsmodels() {
    let data = reference();
    for (i, case) in data["fleiss"].as_array().unwrap().iter().enumerate() {
        let table: Vec<Vec<u64>> = case["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect())
            .collect();
        let want = case["kappa"].as_f64().unwrap();
        let got = fleiss_kappa(&table).unwrap();
        assert!((got - want).abs() <= TOL, "case {i}: got {got}, statsmodels says {want}");
    }
}

#[test]
fn percent_agreement_counts_pairs_of_ratings() {
    // Unit 1: three equal ratings (3 of 3 pairs agree); unit 2: 1, 1, 2 (1 of 3); unit 3: one
    // rating only (no pair); unit 4: 2 and 3 (0 of 1). 4 of 7 pairs agree.
    let r = vec![
        vec![Some(1.0), Some(1.0), Some(5.0), Some(2.0)],
        vec![Some(1.0), Some(1.0), None, Some(3.0)],
        vec![Some(1.0), Some(2.0), None, None],
    ];
    assert!((percent_agreement(&r).unwrap() - 4.0 / 7.0).abs() < 1e-15);
}

#[test]
fn bad_input_is_named_not_a_number() {
    assert!(matches!(
        cohen_kappa(&[0, 1], &[0], 2, KappaWeights::None),
        Err(StatsError::LengthMismatch { .. })
    ));
    assert!(matches!(
        cohen_kappa(&[0, 3], &[0, 1], 2, KappaWeights::None),
        Err(StatsError::ClassOutOfRange { .. })
    ));
    let err = fleiss_kappa(&[vec![2, 1], vec![1, 1]]).unwrap_err().to_string();
    assert!(err.contains("unit 1 has 2 ratings; every unit must have 3"), "{err}");
    let same = vec![vec![Some(2.0), Some(2.0)], vec![Some(2.0), Some(2.0)]];
    let err = krippendorff_alpha(&same, Level::Nominal).unwrap_err().to_string();
    assert!(err.contains("same value"), "{err}");
    let lonely = vec![vec![Some(1.0), None], vec![None, Some(2.0)]];
    assert!(krippendorff_alpha(&lonely, Level::Nominal).unwrap_err().to_string().contains("no unit has two"));
}

#[test]
fn bootstrap_intervals_are_seeded_and_narrow_with_more_units() {
    let data = reference();
    let small = ratings(&data["alpha"][0]["ratings"]); // 3 coders × 40 units
    let large = ratings(&data["alpha"][1]["ratings"]); // 5 coders × 120 units
    let alpha = |r: &[Vec<Option<f64>>]| krippendorff_alpha(r, Level::Nominal);
    let a = bootstrap_units(&small, alpha, 1000, 0.95, 7).unwrap();
    assert_eq!(a, bootstrap_units(&small, alpha, 1000, 0.95, 7).unwrap(), "same seed, same interval");
    assert_ne!(a, bootstrap_units(&small, alpha, 1000, 0.95, 8).unwrap());
    assert!(a.low < a.estimate && a.estimate < a.high, "{a:?}");
    assert_eq!(a.estimate, alpha(&small).unwrap());
    let b = bootstrap_units(&large, alpha, 1000, 0.95, 7).unwrap();
    assert!(b.high - b.low < a.high - a.low, "more units, narrower: {a:?} {b:?}");
    let narrow = bootstrap_units(&small, alpha, 1000, 0.5, 7).unwrap();
    assert!(narrow.high - narrow.low < a.high - a.low);
}
