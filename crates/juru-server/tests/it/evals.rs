//! The evaluation engine over the API: a suite with every problem listed at once, runs as jobs,
//! assertions (an HTTP scorer on loopback among them), errors that are neither pass nor fail,
//! flaky cases over repeats, a baseline comparison with McNemar's test, JUnit XML, a run that
//! resumes without calling again for finished cells, and a suite that gates a protected label.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use juru_core::Role::*;
use juru_desks::datasets::Progress;
use juru_desks::jobs::Worker;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

/// A scorer over HTTP: passes outputs that contain "maaf"; answers 500 for the case whose
/// `nama` is "Galat"; for "Ragu" it alternates pass and fail. Counts its calls.
async fn scorer() -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<Value>>>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let hooks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let got = hooks.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let got = got.clone();
                    async move {
                        let event =
                            headers.get("x-juru-event").and_then(|v| v.to_str().ok()).unwrap_or_default();
                        got.lock().unwrap().push(json!({"header": event, "body": body}));
                        axum::http::StatusCode::NO_CONTENT
                    }
                },
            ),
        )
        .route(
            "/score",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let output = body["output"].as_str().unwrap_or_default().to_lowercase();
                    match body["vars"]["nama"].as_str() {
                        Some("Galat") => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({"error": "down"})),
                        ),
                        Some("Ragu") => (
                            axum::http::StatusCode::OK,
                            axum::Json(json!({"pass": n.is_multiple_of(2), "reason": "ragu-ragu"})),
                        ),
                        _ => {
                            let score = if output.contains("maaf") { 0.9 } else { 0.1 };
                            (
                                axum::http::StatusCode::OK,
                                axum::Json(json!({"score": score, "reason": "kata maaf"})),
                            )
                        }
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/score", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls, hooks)
}

fn suite(name: &str, prompts: &[&str], url: &str, cases: Value) -> String {
    json!({
        "name": name,
        "prompts": prompts,
        "models": ["echo"],
        "threshold": 0.8,
        "max_error_rate": 0.5,
        "defaults": {"assert": [
            {"type": "icontains", "value": "maaf"},
            {"type": "http", "url": url},
        ]},
        "cases": cases,
    })
    .to_string()
}

fn cases(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| json!({"vars": {"nama": n}, "assert": [{"type": "contains", "value": n, "weight": 2}]}))
            .collect(),
    )
}

async fn run_jobs(app: &TestApp) {
    let w = Worker::new(app.desks.clone());
    while w.run_once().await.unwrap() {}
}

both_backends!(eval_suites_run_compare_resume_and_gate_a_label, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let pe = app.token(PromptEngineer).to_owned();
    let (url, calls, hooks) = scorer().await;

    // Three versions: 1 apologises, 2 does not, 3 apologises again.
    let vars = json!({"type": "object", "properties": {"nama": {"type": "string"}}, "required": ["nama"]});
    let create = json!({"name": "balasan", "template": "Mohon maaf, {{ nama }}. Kami cek pesanan Anda.",
                        "variables": vars, "labels": ["production"]});
    assert_eq!(app.call("POST", "/api/v1/prompts", Some(&pe), Some(create)).await.0, 201);
    for text in ["Halo {{ nama }}, pesanan Anda sedang dicek.", "Maaf ya {{ nama }}, kami cek sekarang."] {
        let (s, b) = app
            .call("POST", "/api/v1/prompts/balasan/versions", Some(&pe), Some(json!({"template": text})))
            .await;
        assert_eq!(s, 201, "{b}");
    }

    // Every problem at once, before anything runs.
    let bad = json!({"name": "buruk", "prompts": ["balasan@1", "tidak-ada"], "models": ["echo", "model-hantu"],
        "cases": [{"vars": {"nama": 5}, "assert": [{"type": "regex", "pattern": "("}]},
                  {"vars": {"kota": "Medan"}, "assert": [{"type": "similar", "model": "echo", "value": "x"}]}]});
    let (s, e) =
        app.call("POST", "/api/v1/evals/runs", Some(&pe), Some(json!({"definition": bad.to_string()}))).await;
    assert_eq!(s, 400, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    for needle in [
        "prompts[1]: tidak-ada",
        "models[1]: model-hantu",
        "cases[0].assert[0]: bad pattern",
        "cases[0] with balasan@1: variables.nama: nama must be a string",
        "cases[1] with balasan@1: variables.kota: is not declared",
        "cases[1] with balasan@1: variables.nama: is missing",
        "similar model: echo only generates",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    let (s, e) = app
        .call("POST", "/api/v1/evals/runs", Some(&pe), Some(json!({"definition": "name: x\nprompt: [a]\n"})))
        .await;
    assert_eq!(s, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("unknown field `prompt`"), "{e}");
    assert_eq!(
        app.call("POST", "/api/v1/evals/runs", Some(app.token(Viewer)), Some(json!({"suite": "x"}))).await.0,
        403
    );

    // A saved suite, run as a job on version 1: passes; the scorer's outage on one case is an
    // error, not a fail, and the run goes on.
    let def = suite("cs-dasar", &["balasan@1"], &url, cases(&["Budi", "Sari", "Galat", "Tono", "Wati"]));
    let (s, saved) =
        app.call("PUT", "/api/v1/evals/suites/cs-dasar", Some(&pe), Some(json!({"definition": def}))).await;
    assert_eq!(s, 200, "{saved}");
    assert_eq!(saved["cases"], 5);
    let (s, run1) =
        app.call("POST", "/api/v1/evals/runs", Some(&pe), Some(json!({"suite": "cs-dasar"}))).await;
    assert_eq!(s, 202, "{run1}");
    assert_eq!((run1["status"].as_str(), run1["cells"].as_i64()), (Some("queued"), Some(5)));
    assert_eq!(run1["prompts"], json!(["balasan@1"]));
    run_jobs(&app).await;
    let id1 = run1["id"].as_str().unwrap().to_owned();
    let (_, run1) = app.call("GET", &format!("/api/v1/evals/runs/{id1}"), Some(&pe), None).await;
    assert_eq!(run1["status"], "passed", "{run1}");
    assert_eq!(
        (run1["passed"].as_i64(), run1["failed"].as_i64(), run1["errors"].as_i64()),
        (Some(4), Some(0), Some(1))
    );
    let (_, errors) =
        app.call("GET", &format!("/api/v1/evals/runs/{id1}/results?status=error"), Some(&pe), None).await;
    assert_eq!(errors.as_array().unwrap().len(), 1);
    assert!(errors[0]["error"].as_str().unwrap().contains("answered 500"), "{errors}");
    assert_eq!(errors[0]["vars"]["nama"], "Galat");
    let (_, passes) = app
        .call("GET", &format!("/api/v1/evals/runs/{id1}/results?status=pass&limit=1"), Some(&pe), None)
        .await;
    let graded = passes[0]["graded"].as_array().unwrap();
    assert_eq!(graded.len(), 3);
    assert_eq!(graded[1]["type"], "http");
    assert_eq!(graded[1]["score"], 0.9);
    assert_eq!(passes[0]["output"], "Mohon maaf, Budi. Kami cek pesanan Anda.");

    // Version 2 against version 1 as the baseline: four regressions, McNemar's exact p-value.
    let def2 = suite("cs-dasar", &["balasan@2"], &url, cases(&["Budi", "Sari", "Galat", "Tono", "Wati"]));
    let (s, run2) = app
        .call("POST", "/api/v1/evals/runs", Some(&pe), Some(json!({"definition": def2, "baseline": id1})))
        .await;
    assert_eq!(s, 202, "{run2}");
    run_jobs(&app).await;
    let id2 = run2["id"].as_str().unwrap().to_owned();
    let (_, run2) = app.call("GET", &format!("/api/v1/evals/runs/{id2}"), Some(&pe), None).await;
    assert_eq!(run2["status"], "failed", "{run2}");
    assert!(run2["message"].as_str().unwrap().starts_with("0 of 4 graded results passed"), "{run2}");
    let (s, cmp) = app.call("GET", &format!("/api/v1/evals/runs/{id2}/compare"), Some(&pe), None).await;
    assert_eq!(s, 200, "{cmp}");
    assert_eq!((cmp["paired"].as_u64(), cmp["regressions_total"].as_u64()), (Some(4), Some(4)));
    assert_eq!(cmp["improvements_total"], 0);
    let want = juru_stats::paired::mcnemar(4, 0);
    assert_eq!(cmp["p_value"].as_f64(), Some(want.p_exact));
    assert_eq!(cmp["p_value"].as_f64(), Some(0.125));
    assert_eq!(
        (cmp["baseline_pass_rate"].as_f64(), cmp["candidate_pass_rate"].as_f64()),
        (Some(1.0), Some(0.0))
    );
    assert_eq!(cmp["significant"], false);

    // JUnit XML: one test case per result, fails and errors marked.
    let (s, xml) =
        app.call_raw("GET", &format!("/api/v1/evals/runs/{id2}/junit"), Some(&pe), "", Vec::new(), &[]).await;
    assert_eq!(s, 200);
    let xml = String::from_utf8(xml.to_vec()).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 4, "{xml}");
    assert_eq!(xml.matches("<error ").count(), 1, "{xml}");
    assert!(xml.contains(r#"failures="4" errors="1""#), "{xml}");

    // Repeats: the case the scorer is unsure of passes in some repeats and fails in others.
    let flaky = json!({"name": "cs-ragu", "prompts": ["balasan@1"], "models": ["echo"], "repeat": 4, "threshold": 0.5,
        "cases": [{"vars": {"nama": "Ragu"}, "assert": [{"type": "http", "url": url}]},
                  {"vars": {"nama": "Budi"}, "assert": [{"type": "http", "url": url}]}]});
    let (_, run3) = app
        .call("POST", "/api/v1/evals/runs", Some(&pe), Some(json!({"definition": flaky.to_string()})))
        .await;
    run_jobs(&app).await;
    let id3 = run3["id"].as_str().unwrap();
    let (_, summary) = app.call("GET", &format!("/api/v1/evals/runs/{id3}/summary"), Some(&pe), None).await;
    assert_eq!(summary["flaky"], 1, "{summary}");
    let c = &summary["cases"];
    assert_eq!(
        (c[0]["runs"].as_i64(), c[0]["passed"].as_i64(), c[0]["flaky"].as_bool()),
        (Some(4), Some(2), Some(true))
    );
    assert_eq!((c[1]["pass_rate"].as_f64(), c[1]["flaky"].as_bool()), (Some(1.0), Some(false)));
    // A page at a time: the cursor leads to the second group, the last page has no cursor.
    let (_, first) =
        app.call("GET", &format!("/api/v1/evals/runs/{id3}/summary?limit=1"), Some(&pe), None).await;
    assert_eq!((first["cases"].as_array().map(Vec::len), first["flaky"].as_i64()), (Some(1), Some(1)));
    let next = first["next"].as_str().expect("a cursor after a full page");
    let (_, second) = app
        .call("GET", &format!("/api/v1/evals/runs/{id3}/summary?limit=1&after={next}"), Some(&pe), None)
        .await;
    assert_eq!(second["cases"][0]["case"], c[1]["case"], "{second}");
    let (_, last) = app
        .call("GET", &format!("/api/v1/evals/runs/{id3}/summary?limit=5&after={next}"), Some(&pe), None)
        .await;
    assert!(last["next"].is_null() && last["cases"].as_array().map(Vec::len) == Some(1), "{last}");
    let (status, bad) =
        app.call("GET", &format!("/api/v1/evals/runs/{id3}/summary?after=x.1"), Some(&pe), None).await;
    assert_eq!(status, 400, "{bad}");

    // 600 cells; the run stops after its first batch (as if the worker died); resuming it
    // grades only the rest: the scorer is called 600 times in all, not 856.
    let names: Vec<String> = (0..600).map(|i| format!("Pelanggan{i}")).collect();
    let many =
        suite("cs-besar", &["balasan@1"], &url, cases(&names.iter().map(String::as_str).collect::<Vec<_>>()));
    let run = app
        .desks
        .prepare_eval(
            &app.acme,
            &juru_desks::eval::StartEval { definition: Some(many), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(run.job_id, None);
    let before = calls.load(Ordering::SeqCst);
    let stop = Arc::new(Progress::default());
    stop.cancel();
    assert!(app.desks.run_eval(&app.acme, &run.id, stop).await.is_err());
    let partial = app.desks.eval_run(&app.acme, &run.id).await.unwrap();
    assert_eq!((partial.status.as_str(), partial.done), ("running", 256));
    let done = app.desks.run_eval(&app.acme, &run.id, Arc::new(Progress::default())).await.unwrap();
    assert_eq!((done.status.as_str(), done.done, done.passed), ("passed", 600, 600));
    assert_eq!(calls.load(Ordering::SeqCst) - before, 600);

    // A protected label that names the suite: a move needs the suite to pass on the candidate
    // version, and a second person.
    let admin = app.token(Admin).to_owned();
    let (s, b) = app
        .call("PUT", "/api/v1/prompt-labels/protected/production?suite=cs-dasar", Some(&admin), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let hook = url.replace("/score", "/hook");
    let (s, b) = app.call("PUT", &format!("/api/v1/prompt-webhooks?url={hook}"), Some(&admin), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!([hook]));
    assert_eq!(app.call("PUT", "/api/v1/prompt-webhooks?url=ftp://x", Some(&admin), None).await.0, 400);
    assert_eq!(app.call("PUT", &format!("/api/v1/prompt-webhooks?url={hook}"), Some(&pe), None).await.0, 403);
    let second = app.more_users("penguji", "prompt_engineer", 1).await.remove(0).1;
    let ask = |version: i64| {
        let (app, pe) = (&app, pe.clone());
        async move {
            let (s, b) = app
                .call(
                    "PUT",
                    "/api/v1/prompts/balasan/labels/production",
                    Some(&pe),
                    Some(json!({"version": version, "reason": "rilis"})),
                )
                .await;
            assert_eq!(s, 202, "{b}");
            assert!(b["request"]["eval_run_id"].is_string(), "the request starts a run: {b}");
            b["request"]["id"].as_str().unwrap().to_owned()
        }
    };
    let approve = |request: String| {
        let (app, second) = (&app, second.clone());
        async move {
            app.call(
                "POST",
                &format!("/api/v1/prompts/balasan/promotions/{request}/approve"),
                Some(&second),
                Some(json!({})),
            )
            .await
        }
    };
    let r2 = ask(2).await;
    let (s, e) = approve(r2.clone()).await;
    assert_eq!(s, 409, "not before the suite has run: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("is still running on balasan@v2"), "{e}");
    run_jobs(&app).await;
    let (s, e) = approve(r2).await;
    assert_eq!(s, 409, "version 2 fails the suite: {e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("suite \"cs-dasar\" failed on balasan@v2"),
        "{e}"
    );
    let r3 = ask(3).await;
    run_jobs(&app).await;
    let (s, b) = approve(r3).await;
    assert_eq!(s, 200, "version 3 passes the suite: {b}");
    assert_eq!(b["prompt"]["labels"]["production"], 3);
    // The move reached the webhook, from the job queued with it.
    run_jobs(&app).await;
    let delivered = hooks.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["header"], "prompt.label.moved");
    let body = &delivered[0]["body"];
    assert_eq!((body["prompt"].as_str(), body["label"].as_str()), (Some("balasan"), Some("production")));
    assert_eq!((body["from_version"].as_i64(), body["version"].as_i64()), (Some(1), Some(3)));
    let (_, runs) = app.call("GET", "/api/v1/evals/runs?suite=cs-dasar", Some(&pe), None).await;
    let statuses: Vec<&str> =
        runs["items"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["passed", "failed", "failed", "passed"], "{runs}");
    let (_, v) = app.call("GET", "/api/v1/audit/verify", Some(&admin), None).await;
    assert_eq!(v["intact"], true, "{v}");
});
