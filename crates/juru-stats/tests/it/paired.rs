//! McNemar's test against statsmodels and the chi-squared tail against scipy
//! (tests/data/make_paired_reference.py).

use juru_stats::paired::{chi2_sf_1df, mcnemar, mcnemar_paired};
use serde_json::Value;

fn close(what: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1e-3);
    assert!((got - want).abs() <= tol, "{what}: got {got}, the reference says {want}");
}

#[test]
fn mcnemar_matches_statsmodels_exact_and_corrected() {
    let data: Value = serde_json::from_str(include_str!("../data/paired_reference.json")).unwrap();
    let cases = data["mcnemar"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let (b, c) = (case["b"].as_u64().unwrap(), case["c"].as_u64().unwrap());
        let m = mcnemar(b, c);
        close(&format!("b={b} c={c} exact p"), m.p_exact, case["p_exact"].as_f64().unwrap());
        close(&format!("b={b} c={c} statistic"), m.statistic, case["statistic"].as_f64().unwrap());
        close(&format!("b={b} c={c} chi2 p"), m.p_chi2, case["p_chi2"].as_f64().unwrap());
    }
    for case in data["chi2_sf"].as_array().unwrap() {
        let x = case["x"].as_f64().unwrap();
        close(&format!("chi2 sf at {x}"), chi2_sf_1df(x), case["sf"].as_f64().unwrap());
    }
}

#[test]
fn paired_outcomes_count_only_discordant_pairs() {
    let baseline = [true, true, false, false, true, false];
    let candidate = [true, false, true, true, true, false];
    let m = mcnemar_paired(&baseline, &candidate).unwrap();
    assert_eq!((m.b, m.c), (1, 2));
    assert_eq!(m, mcnemar(1, 2));
    let same = mcnemar_paired(&baseline, &baseline).unwrap();
    assert_eq!((same.p_exact, same.p_chi2), (1.0, 1.0));
    assert!(mcnemar_paired(&baseline, &candidate[..3]).unwrap_err().to_string().contains("baseline has 6"));
}

#[test]
fn wilcoxon_signed_rank_matches_scipy_exact_and_approximate() {
    let data: Value = serde_json::from_str(include_str!("../data/paired_reference.json")).unwrap();
    let cases = data["wilcoxon"].as_array().unwrap();
    assert!(cases.len() >= 9);
    let floats = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
    for case in cases {
        let (x, y) = (floats(&case["x"]), floats(&case["y"]));
        let w = juru_stats::paired::wilcoxon(&x, &y).unwrap();
        let what = format!("n={} {}", x.len(), case["method"]);
        assert_eq!(w.exact, case["method"] == "exact", "{what}: method");
        close(&format!("{what} statistic"), w.statistic, case["statistic"].as_f64().unwrap());
        close(&format!("{what} p"), w.p_value, case["p"].as_f64().unwrap());
    }
    assert!(juru_stats::paired::wilcoxon(&[1.0], &[1.0, 2.0]).unwrap_err().to_string().contains("x has 1"));
}
