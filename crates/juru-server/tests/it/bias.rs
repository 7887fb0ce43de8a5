//! The bias desk over the API: an audit of a dataset version's decisions, checked against the
//! version's columns before it runs, run as a job, stored with its pins and report.

use juru_core::Role::*;
use juru_desks::jobs::Worker;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

/// 400 loan decisions: women are approved less often; 10 Papuan applicants (too few to judge).
pub(crate) fn decisions_csv() -> String {
    let mut csv = String::from("id,jenis_kelamin,suku,layak,keputusan,skor\n");
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    for i in 0..400 {
        let sex = if i % 2 == 0 { "L" } else { "P" };
        let suku = if i < 10 { "Papua" } else { ["Jawa", "Sunda", "Batak"][i % 3] };
        let layak = next() < 0.5;
        let bar = if sex == "L" { 0.35 } else { 0.6 };
        let skor = (next() * 0.6 + if layak { 0.3 } else { 0.1 }).min(1.0);
        let approve = skor > bar;
        csv.push_str(&format!(
            "{i},{sex},{suku},{},{},{skor:.4}\n",
            layak as u8,
            if approve { "ya" } else { "tidak" }
        ));
    }
    csv
}

async fn run_jobs(app: &TestApp) {
    let w = Worker::new(app.desks.clone());
    while w.run_once().await.unwrap() {}
}

both_backends!(bias_audit_of_a_dataset_version_runs_as_a_job, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let (admin, reviewer) = (app.token(Admin).to_owned(), app.token(BiasReviewer).to_owned());
    let (s, b) = app
        .call_raw(
            "POST",
            "/api/v1/datasets/import?name=pinjaman&format=csv",
            Some(&admin),
            "text/csv",
            decisions_csv().into_bytes(),
            &[],
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{}", String::from_utf8_lossy(&b));

    // Unknown columns and a score without a threshold: every problem at once, nothing queued.
    let bad = json!({"dataset": "pinjaman", "spec": {"label": {"column": "lolos"}, "score": "skor",
        "attributes": [{"column": "agama"}, {"column": "suku"}]}});
    let (s, e) = app.call("POST", "/api/v1/bias/audits", Some(&reviewer), Some(bad)).await;
    assert_eq!(s, 400, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    for needle in [
        "label column \"lolos\"",
        "attribute column \"agama\"",
        "needs a threshold",
        "the table has: id, jenis_kelamin",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    // Only the bias desk (and administrators) may start one.
    let pe = app.token(PromptEngineer).to_owned();
    let ok = json!({"dataset": "pinjaman", "name": "Kelayakan pinjaman",
        "spec": {"label": {"column": "layak"}, "prediction": {"column": "keputusan"},
                 "attributes": [{"column": "jenis_kelamin"}, {"column": "suku"}],
                 "reference": {"jenis_kelamin": "L"}, "resamples": 200, "seed": 11,
                 "checks": [{"disparity": "disparate_impact", "op": ">=", "bound": 0.8}]}});
    assert_eq!(app.call("POST", "/api/v1/bias/audits", Some(&pe), Some(ok.clone())).await.0, 403);

    let (s, started) = app.call("POST", "/api/v1/bias/audits", Some(&reviewer), Some(ok.clone())).await;
    assert_eq!(s, 202, "{started}");
    assert_eq!(started["status"], "queued");
    assert_eq!(started["dataset_version"], 1);
    let id = started["id"].as_str().unwrap().to_owned();
    run_jobs(&app).await;

    let (s, audit) = app.call("GET", &format!("/api/v1/bias/audits/{id}"), Some(&reviewer), None).await;
    assert_eq!(s, 200, "{audit}");
    // Women are approved less often than men: disparate impact below 0.8, the check fails.
    assert_eq!(
        (audit["status"].as_str(), audit["passed"].as_bool()),
        (Some("failed"), Some(false)),
        "{audit}"
    );
    assert_eq!(audit["rows_read"], 400);
    assert_eq!(audit["spec"]["seed"], 11);
    assert!(audit["juru_version"].as_str().is_some_and(|v| !v.is_empty()));
    let report = &audit["outcome"]["report"];
    let slices = report["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 3, "jenis_kelamin, suku, and their intersection");
    let sex = &slices[0];
    assert_eq!(sex["reference"], "jenis_kelamin=L");
    let di = sex["disparities"].as_array().unwrap().iter().find(|d| d["name"] == "disparate_impact").unwrap();
    let (v, lo, hi) =
        (di["value"].as_f64().unwrap(), di["low"].as_f64().unwrap(), di["high"].as_f64().unwrap());
    assert!(v < 0.8 && lo < v && v < hi, "{di}");
    // The ratio is the two groups' selection rates.
    let rate = |label: &str| {
        sex["groups"].as_array().unwrap().iter().find(|g| g["label"] == label).unwrap()["metrics"]["selection_rate"]["value"]
            .as_f64()
            .unwrap()
    };
    assert!((v - rate("jenis_kelamin=P") / rate("jenis_kelamin=L")).abs() < 1e-12);
    // Ten Papuan applicants: insufficient, with the reason, never a rate of 0.
    let papua = slices[1]["groups"].as_array().unwrap().iter().find(|g| g["label"] == "suku=Papua").unwrap();
    assert_eq!(papua["metrics"]["selection_rate"]["state"], "insufficient", "{papua}");
    assert!(papua["metrics"]["selection_rate"]["reason"].as_str().unwrap().contains("10 rows"));
    let failed: Vec<&Value> =
        audit["outcome"]["checks"].as_array().unwrap().iter().filter(|c| c["passed"] == false).collect();
    assert!(failed.iter().any(|c| c["slice"] == "jenis_kelamin"), "{failed:?}");

    // The same spec and seed give the same numbers.
    let (_, again) = app.call("POST", "/api/v1/bias/audits", Some(&reviewer), Some(ok)).await;
    run_jobs(&app).await;
    let (_, again) = app
        .call("GET", &format!("/api/v1/bias/audits/{}", again["id"].as_str().unwrap()), Some(&reviewer), None)
        .await;
    assert_eq!(again["outcome"]["report"], *report);

    // Listed newest first, without the report.
    let (_, list) = app.call("GET", "/api/v1/bias/audits", Some(&reviewer), None).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[1]["outcome"].is_null() && items[1]["name"] == "Kelayakan pinjaman", "{list}");
});
