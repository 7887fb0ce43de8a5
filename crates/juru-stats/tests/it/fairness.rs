//! Group fairness against fairlearn, AIF360, statsmodels and scikit-learn on the same data
//! (tests/data/make_fairness_reference.py), and the values fairlearn documents.

use std::collections::BTreeMap;

use juru_stats::fairness::{
    Attribute, Calibration, Input, Metric, Options, Rate, Reference, Report, audit, benjamini_hochberg,
    calibration,
};
use juru_stats::mitigation::reweighing;
use serde_json::Value;

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got}, the reference says {want}");
}

fn attribute(name: &str, v: &Value) -> Attribute {
    let labels: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    let mut values = labels.clone();
    values.sort();
    values.dedup();
    let codes = labels.iter().map(|l| values.iter().position(|v| v == l).unwrap() as u32).collect();
    Attribute { name: name.into(), values, codes }
}

fn bools(v: &Value) -> Vec<bool> {
    v.as_array().unwrap().iter().map(|x| x.as_bool().unwrap()).collect()
}

fn attributes(case: &Value) -> Vec<Attribute> {
    // Keep the order the script wrote (serde_json keeps maps sorted; the script's order is
    // alphabetical too for every case).
    case["attributes"].as_object().unwrap().iter().map(|(k, v)| attribute(k, v)).collect()
}

fn reference(case: &Value) -> Reference {
    match case.get("reference") {
        Some(r) => Reference::Groups(
            r.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        None => Reference::Majority,
    }
}

fn group<'a>(r: &'a Report, label: &str) -> &'a juru_stats::fairness::GroupReport {
    r.slices
        .iter()
        .flat_map(|s| &s.groups)
        .find(|g| g.label == label)
        .unwrap_or_else(|| panic!("no group {label}"))
}

fn disparity(r: &Report, slice: &str, name: &str) -> Option<f64> {
    let s = r
        .slices
        .iter()
        .find(|s| s.attributes.join(" & ") == slice)
        .unwrap_or_else(|| panic!("no slice {slice}"));
    s.disparities.iter().find(|d| d.name == name).unwrap().estimate.value
}

fn run(case: &Value, y_pred_key: &str) -> Report {
    let attrs = attributes(case);
    let (y, p) = (bools(&case["y_true"]), bools(&case[y_pred_key]));
    let options =
        Options { min_group_size: 1, reference: reference(case), resamples: 0, ..Default::default() };
    audit(&Input { attributes: &attrs, y_true: Some(&y), y_pred: &p, scores: None }, &options).unwrap()
}

#[test]
fn fairlearns_documented_example() {
    let groups: Vec<&str> = "b,b,a,b,b,c,c,c,a,a,c,a,b,c,c,b,c,c".split(',').collect();
    let y: Vec<bool> =
        [0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1].iter().map(|&v| v == 1).collect();
    let p: Vec<bool> =
        [0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0].iter().map(|&v| v == 1).collect();
    let attrs = [attribute("group", &serde_json::json!(groups))];
    let options = Options { min_group_size: 1, resamples: 200, seed: 1, ..Default::default() };
    let r =
        audit(&Input { attributes: &attrs, y_true: Some(&y), y_pred: &p, scores: None }, &options).unwrap();
    for (label, want) in [("group=a", 0.75), ("group=b", 0.5), ("group=c", 0.5)] {
        close(label, group(&r, label).metrics[&Metric::SelectionRate].value().unwrap(), want, 1e-12);
    }
    close("DP difference", disparity(&r, "group", "demographic_parity_difference").unwrap(), 0.25, 1e-12);
    close("DP ratio", disparity(&r, "group", "demographic_parity_ratio").unwrap(), 2.0 / 3.0, 1e-12);
    close("EO difference", disparity(&r, "group", "equalized_odds_difference").unwrap(), 1.0, 1e-12);
    // With 18 rows every interval is wide, and present.
    let dp = &r.slices[0].disparities[0].estimate;
    assert!(dp.low.unwrap() <= 0.25 && dp.high.unwrap() >= 0.25, "{dp:?}");
}

#[test]
fn per_group_metrics_and_disparities_match_fairlearn() {
    let data: Value = serde_json::from_str(include_str!("../data/fairness_reference.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let mut checked = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let r = run(case, "y_pred");
        for (label, want) in case["groups"].as_object().unwrap() {
            let g = group(&r, label);
            for (metric, value) in want.as_object().unwrap() {
                let Ok(m) = serde_json::from_value::<Metric>(Value::String(metric.clone())) else { continue };
                match (value.as_f64(), &g.metrics[&m]) {
                    (Some(w), Rate::Estimated { value, .. }) => {
                        close(&format!("{name}: {label} {metric}"), *value, w, 1e-12)
                    }
                    (None, Rate::Insufficient { .. }) => {}
                    (w, got) => panic!("{name}: {label} {metric}: got {got:?}, fairlearn says {w:?}"),
                }
                checked += 1;
            }
        }
        for (slice, want) in case["disparities"].as_object().unwrap() {
            for (metric, value) in want.as_object().unwrap() {
                let got = disparity(&r, slice, metric)
                    .unwrap_or_else(|| panic!("{name}: {slice} {metric} missing"));
                close(&format!("{name}: {slice} {metric}"), got, value.as_f64().unwrap(), 1e-12);
                checked += 1;
            }
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn signed_metrics_entropy_and_differential_fairness_match_aif360() {
    let data: Value = serde_json::from_str(include_str!("../data/fairness_reference.json")).unwrap();
    for case in &data["cases"].as_array().unwrap()[1..] {
        let name = case["name"].as_str().unwrap();
        let r = run(case, "y_pred");
        let want = &case["aif360"];
        for (label, pair) in want.as_object().unwrap().iter().filter(|(_, v)| v.is_object()) {
            let g = group(&r, label);
            close(
                &format!("{name}: {label} average odds difference"),
                g.average_odds_difference.unwrap(),
                pair["average_odds_difference"].as_f64().unwrap(),
                1e-12,
            );
            let di = g.versus_reference[&Metric::SelectionRate].estimate.value.unwrap();
            close(
                &format!("{name}: {label} disparate impact"),
                di,
                pair["disparate_impact"].as_f64().unwrap(),
                1e-12,
            );
        }
        let ge = r.generalized_entropy_index.as_ref().unwrap().value.unwrap();
        close(&format!("{name}: GE(2)"), ge, want["generalized_entropy_index"].as_f64().unwrap(), 1e-12);
        let theil = r.theil_index.as_ref().unwrap().value.unwrap();
        close(&format!("{name}: Theil"), theil, want["theil_index"].as_f64().unwrap(), 1e-12);
        let full = r.slices.last().unwrap().attributes.join(" & ");
        let edf = disparity(&r, &full, "smoothed_differential_fairness").unwrap();
        close(
            &format!("{name}: smoothed EDF of predictions"),
            edf,
            want["smoothed_edf_predictions"].as_f64().unwrap(),
            1e-12,
        );
        let on_labels = run(case, "y_true");
        let edf = disparity(&on_labels, &full, "smoothed_differential_fairness").unwrap();
        close(
            &format!("{name}: smoothed EDF of labels"),
            edf,
            want["smoothed_edf_labels"].as_f64().unwrap(),
            1e-12,
        );
    }
}

#[test]
fn intervals_tests_and_calibration_match_statsmodels_and_scikit_learn() {
    let data: Value = serde_json::from_str(include_str!("../data/fairness_reference.json")).unwrap();
    let case = &data["cases"][1];
    let r = run(case, "y_pred");
    let f = group(&r, "sex=f");
    let Rate::Estimated { low, high, .. } = f.metrics[&Metric::SelectionRate] else { panic!("estimated") };
    let wilson = case["groups"]["sex=f"]["wilson_selection_rate"].as_array().unwrap();
    close("Wilson low", low, wilson[0].as_f64().unwrap(), 1e-12);
    close("Wilson high", high, wilson[1].as_f64().unwrap(), 1e-12);
    let test = f.tests.iter().find(|t| t.metric == Metric::SelectionRate).unwrap();
    let want = &case["selection_test_f_vs_m"];
    close("z", test.z, want["z"].as_f64().unwrap(), 1e-12);
    close("p", test.p_value, want["p"].as_f64().unwrap(), 1e-9);
    assert_eq!(test.needed_per_group, Some(want["needed_per_group"].as_f64().unwrap().ceil() as u64));

    let bh = &data["benjamini_hochberg"];
    let p: Vec<f64> = bh["p"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    for (i, (got, want)) in benjamini_hochberg(&p).iter().zip(bh["adjusted"].as_array().unwrap()).enumerate()
    {
        close(&format!("BH {i}"), *got, want.as_f64().unwrap(), 1e-12);
    }

    let sex: Vec<&str> =
        case["attributes"]["sex"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let (y, scores) = (bools(&case["y_true"]), case["scores"].as_array().unwrap());
    let all_scores: Vec<f64> = scores.iter().map(|v| v.as_f64().unwrap()).collect();
    let (attrs, p) = (attributes(case), bools(&case["y_pred"]));
    let options = Options { min_group_size: 1, resamples: 0, ..Default::default() };
    let with_scores = audit(
        &Input { attributes: &attrs, y_true: Some(&y), y_pred: &p, scores: Some(&all_scores) },
        &options,
    )
    .unwrap();
    for label in ["f", "m"] {
        let idx: Vec<usize> = (0..sex.len()).filter(|&i| sex[i] == label).collect();
        let s: Vec<f64> = idx.iter().map(|&i| scores[i].as_f64().unwrap()).collect();
        let t: Vec<bool> = idx.iter().map(|&i| y[i]).collect();
        let (ece, brier) = calibration(&s, &t, 10).unwrap();
        let want = &case["groups"][format!("sex={label}")];
        close(&format!("sex={label} ECE"), ece, want["ece"].as_f64().unwrap(), 1e-12);
        close(&format!("sex={label} Brier"), brier, want["brier"].as_f64().unwrap(), 1e-12);
        // The audit's per-group calibration, summed per intersection, gives the same.
        let Some(Calibration::Estimated { ece, brier }) =
            &group(&with_scores, &format!("sex={label}")).calibration
        else {
            panic!("calibration of sex={label}")
        };
        close(&format!("audit sex={label} ECE"), *ece, want["ece"].as_f64().unwrap(), 1e-12);
        close(&format!("audit sex={label} Brier"), *brier, want["brier"].as_f64().unwrap(), 1e-12);
    }

    let codes: Vec<u32> = sex.iter().map(|&s| (s == "m") as u32).collect();
    let weights = reweighing(&codes, &y).unwrap();
    for (i, (got, want)) in weights.iter().zip(case["reweighing"].as_array().unwrap()).enumerate() {
        close(&format!("reweighing row {i}"), *got, want.as_f64().unwrap(), 1e-12);
    }
}
