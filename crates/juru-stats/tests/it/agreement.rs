//! Agreement statistics against the `krippendorff` package, scikit-learn's `cohen_kappa_score`,
//! statsmodels' `fleiss_kappa` and seqeval on the same data (tests/data/make_agreement_reference.py);
//! span overlap and label aggregation (majority vote, Dawid–Skene) on data made here.

use juru_stats::StatsError;
use juru_stats::aggregation::{Votes, dawid_skene, majority_vote};
use juru_stats::agreement::{
    KappaWeights, Level, Span, SpanMatch, alpha_per_class, annotator_agreement, bootstrap_units, cohen_kappa,
    fleiss_kappa, krippendorff_alpha, percent_agreement, span_f1,
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

fn spans(v: &Value) -> Vec<Span> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| Span {
            start: s[0].as_u64().unwrap() as usize,
            end: s[1].as_u64().unwrap() as usize,
            label: s[2].as_str().unwrap().to_owned(),
        })
        .collect()
}

#[test]
fn exact_span_f1_matches_seqeval() {
    let data = reference();
    let s = &data["spans"];
    let docs: Vec<(Vec<Span>, Vec<Span>)> =
        s["documents"].as_array().unwrap().iter().map(|d| (spans(&d["pred"]), spans(&d["gold"]))).collect();
    let got = span_f1(&docs, SpanMatch::Exact);
    for (name, have) in [("precision", got.precision), ("recall", got.recall), ("f1", got.f1)] {
        let want = s[name].as_f64().unwrap();
        assert!((have - want).abs() <= TOL, "{name}: got {have}, seqeval says {want}");
    }
}

#[test]
fn overlap_span_f1_gives_partial_credit() {
    let span = |start, end, label: &str| Span { start, end, label: label.into() };
    // Gold PER over 0..4; the annotator marked 0..2 as PER and 6..8 as LOC (gold has none).
    let docs = vec![(vec![span(0, 2, "PER"), span(6, 8, "LOC")], vec![span(0, 4, "PER")])];
    let exact = span_f1(&docs, SpanMatch::Exact);
    assert_eq!((exact.matched, exact.f1), (0, 0.0));
    let overlap = span_f1(&docs, SpanMatch::Overlap);
    assert_eq!((overlap.matched, overlap.predicted, overlap.reference), (2, 4, 4));
    assert!((overlap.f1 - 0.5).abs() < 1e-15);
    // A different label over the same positions earns nothing; nothing on both sides agrees.
    let relabelled = vec![(vec![span(0, 4, "LOC")], vec![span(0, 4, "PER")])];
    assert_eq!(span_f1(&relabelled, SpanMatch::Overlap).f1, 0.0);
    assert_eq!(span_f1(&[(vec![], vec![])], SpanMatch::Exact).f1, 1.0);
}

/// Items with a known true class, labelled by three careful annotators (90% right) and three
/// spammers (uniformly random), each item by a random subset of four.
fn crowd(items: usize, classes: usize, seed: u64) -> (Vec<Votes>, Vec<usize>) {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut truth = Vec::new();
    let mut all = Vec::new();
    for _ in 0..items {
        let t = next() % classes;
        truth.push(t);
        let mut who: Vec<usize> = (0..6).collect();
        for i in (1..who.len()).rev() {
            who.swap(i, next() % (i + 1));
        }
        let votes = who[..4]
            .iter()
            .map(|&a| {
                let careful = a < 3;
                let label = if careful && next() % 10 != 0 { t } else { next() % classes };
                (a, label)
            })
            .collect();
        all.push(votes);
    }
    (all, truth)
}

#[test]
fn dawid_skene_finds_the_careful_annotators_and_beats_the_majority() {
    let (items, truth) = crowd(600, 3, 11);
    let accuracy = |labels: &[usize]| {
        labels.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
    };
    let mv = majority_vote(&items, 3).unwrap();
    let ds = dawid_skene(&items, 3, 100, 1e-6).unwrap();
    let (mv_acc, ds_acc) = (accuracy(&mv.labels), accuracy(&ds.labels));
    assert!(ds_acc > mv_acc + 0.03, "Dawid–Skene {ds_acc} vs majority {mv_acc}");
    assert!(ds_acc > 0.9, "{ds_acc}");
    assert!(ds.iterations < 100, "converged in {} iterations", ds.iterations);
    // The diagonal of each confusion matrix estimates how often an annotator is right.
    for a in 0..6 {
        let right = (0..3).map(|k| ds.confusion[a][k][k]).sum::<f64>() / 3.0;
        if a < 3 {
            assert!((right - 0.933).abs() < 0.06, "careful annotator {a}: {right}");
        } else {
            assert!((right - 0.333).abs() < 0.1, "spammer {a}: {right}");
        }
    }
    for p in &ds.posteriors {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert!(matches!(dawid_skene(&[vec![(0, 5)]], 3, 10, 1e-6), Err(StatsError::ClassOutOfRange { .. })));
}

#[test]
fn per_class_alpha_and_each_annotator_against_consensus_and_gold_match_the_references() {
    let data = reference();
    let case = &data["per_annotator"];
    let classes = case["classes"].as_u64().unwrap() as usize;
    let labels: Vec<Vec<Option<usize>>> =
        ratings(&case["ratings"]).iter().map(|c| c.iter().map(|r| r.map(|v| v as usize)).collect()).collect();
    let gold: Vec<Option<usize>> =
        case["gold"].as_array().unwrap().iter().map(|g| g.as_u64().map(|g| g as usize)).collect();
    for (k, (got, want)) in alpha_per_class(&labels, classes)
        .into_iter()
        .zip(case["alpha_per_class"].as_array().unwrap())
        .enumerate()
    {
        let (got, want) = (got.unwrap(), want.as_f64().unwrap());
        assert!((got - want).abs() <= TOL, "class {k}: got {got}, krippendorff says {want}");
    }
    let report = annotator_agreement(&labels, classes, Some(&gold));
    let expected = case["annotators"].as_array().unwrap();
    assert_eq!(report.len(), expected.len());
    for (a, want) in report.iter().zip(expected) {
        assert_eq!(
            a.with_consensus as u64,
            want["with_consensus"].as_u64().unwrap(),
            "annotator {}",
            a.coder
        );
        assert_eq!(a.with_gold as u64, want["with_gold"].as_u64().unwrap(), "annotator {}", a.coder);
        for (name, have) in [
            ("consensus_accuracy", a.consensus_accuracy),
            ("consensus_kappa", a.consensus_kappa),
            ("gold_accuracy", a.gold_accuracy),
            ("gold_kappa", a.gold_kappa),
        ] {
            let (have, want) = (have.unwrap(), want[name].as_f64().unwrap());
            assert!((have - want).abs() <= TOL, "annotator {} {name}: got {have}, reference {want}", a.coder);
        }
    }
    // The careless annotator (90% random) is the one that agrees least with the others.
    let worst =
        report.iter().min_by(|a, b| a.consensus_kappa.partial_cmp(&b.consensus_kappa).unwrap()).unwrap();
    assert_eq!(worst.coder, 4);
}

#[test]
fn alpha_on_several_threads_equals_alpha_on_one() {
    use juru_stats::agreement::krippendorff_alpha_with;
    // 60,000 units x 4 coders, some missing, whole and fractional values.
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    for fractional in [false, true] {
        let ratings: Vec<Vec<Option<f64>>> = (0..4)
            .map(|_| {
                (0..60_000)
                    .map(|_| {
                        let v = (next() * 5.0).floor() + if fractional { 0.5 } else { 0.0 };
                        (next() > 0.2).then_some(v)
                    })
                    .collect()
            })
            .collect();
        for level in [Level::Nominal, Level::Ordinal, Level::Interval, Level::Ratio] {
            let one = krippendorff_alpha(&ratings, level).unwrap();
            let three = krippendorff_alpha_with(&ratings, level, 3).unwrap();
            assert!((one - three).abs() < 1e-12, "{level:?}: {one} vs {three}");
        }
    }
}
