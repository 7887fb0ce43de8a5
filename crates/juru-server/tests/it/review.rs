//! The Review desk over the API: routing rules and their backtests, N-of-M decisions that settle
//! items (also under parallel submits), reviewer quality, corrections into a dataset, and gated
//! outputs that wait for a person or for the SLA, with webhooks to a real socket.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use juru_core::Role::*;
use juru_desks::jobs::Worker;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

/// Twenty traces `{prefix}00` … with confidence 0.00, 0.05, … 0.95, tiers alternating.
fn traces(prefix: &str) -> Value {
    let ts: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("{prefix}{i:02}"), "input": format!("pertanyaan {i}"), "output": format!("jawaban {i}"),
                   "model": "bot", "model_version_id": "mv1", "prompt_version_id": "pv1",
                   "metadata": {"confidence": i as f64 / 20.0, "tier": if i % 2 == 0 { "gold" } else { "reguler" }}})
        })
        .collect();
    json!({ "traces": ts })
}

async fn pending(app: &TestApp, queue: &str) -> i64 {
    let (s, b) =
        app.call("GET", &format!("/api/v1/review/queues/{queue}"), Some(app.token(Viewer)), None).await;
    assert_eq!(s, 200, "{b}");
    b["counts"]["pending"].as_i64().unwrap()
}

async fn next(app: &TestApp, token: &str, queue: &str) -> Value {
    let (s, b) = app.call("POST", &format!("/api/v1/review/queues/{queue}/next"), Some(token), None).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn decide(app: &TestApp, token: &str, item: &Value, body: Value) -> (u16, Value) {
    let id = item["id"].as_str().unwrap();
    let (s, b) =
        app.call("PUT", &format!("/api/v1/review/items/{id}/decision"), Some(token), Some(body)).await;
    (s.as_u16(), b)
}

both_backends!(review_rules_route_traces_and_decisions_settle_items, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let rev = app.token(Reviewer).to_owned();
    let admin = app.token(Admin).to_owned();
    let integ = app.token(Integrator).to_owned();
    let queues = "/api/v1/review/queues";

    // Bad settings are refused, naming the reason.
    for (body, status, needle) in [
        (
            json!({"name": "q", "reviewers_per_item": 3, "reviewers": ["reviewer", "admin"]}),
            400,
            "cannot exceed",
        ),
        (json!({"name": "q", "reviewers": ["reviewer", "nobody"]}), 404, "nobody"),
        (json!({"name": "q", "sla_seconds": 60, "sla_action": "fallback"}), 400, "fallback_text"),
        (json!({"name": "q", "webhook_url": "ftp://x"}), 400, "webhook_url"),
        (json!({"name": "q", "reason_codes": []}), 400, "reason codes"),
    ] {
        let (s, b) = app.call("POST", queues, Some(&rev), Some(body.clone())).await;
        assert_eq!(s, status, "{body}: {b}");
        assert!(b["error"]["message"].as_str().unwrap().contains(needle), "{b}");
    }
    let (s, _) = app.call("POST", queues, Some(app.token(Annotator)), Some(json!({"name": "q"}))).await;
    assert_eq!(s, 403);

    // Two of {reviewer, admin} decide every item.
    let (s, b) = app
        .call(
            "POST",
            queues,
            Some(&rev),
            Some(json!({"name": "jawaban", "reviewers_per_item": 2, "reviewers": ["reviewer", "admin"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["reason_codes"][0], "factual_error");

    // Traces logged before any rule go nowhere; a backtest says what a rule would have sent.
    let (s, b) = app.call("POST", "/api/v1/traces/batch", Some(&integ), Some(traces("t"))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(pending(&app, "jawaban").await, 0);
    let bt = format!("{queues}/jawaban/backtest");
    let (s, b) =
        app.call("POST", &bt, Some(&rev), Some(json!({"conditions": {"confidence_below": 0.3}}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["scanned"].as_u64(), b["would_send"].as_u64()), (Some(20), Some(6)), "{b}");
    assert_eq!(b["examples"].as_array().unwrap().len(), 6);
    let (_, b) = app
        .call(
            "POST",
            &bt,
            Some(&rev),
            Some(json!({"conditions": {"confidence_below": 0.3, "metadata": {"tier": ["gold"]}}})),
        )
        .await;
    assert_eq!(b["would_send"], 3, "{b}");
    let (s, b) =
        app.call("POST", &bt, Some(&rev), Some(json!({"conditions": {"sample_percent": 150}}))).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("sample_percent"), "{b}");

    // A saved rule starts switched off: its backtest agrees, and it sends nothing until on.
    let rules = format!("{queues}/jawaban/rules");
    let (s, b) = app
        .call(
            "POST",
            &rules,
            Some(&rev),
            Some(json!({"name": "ragu", "conditions": {"confidence_below": 0.3}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["enabled"], false);
    let (_, b) = app.call("POST", &format!("{rules}/ragu/backtest"), Some(&rev), Some(json!({}))).await;
    assert_eq!(b["would_send"], 6, "{b}");
    let (s, b) =
        app.call("PATCH", &format!("{rules}/ragu"), Some(&rev), Some(json!({"enabled": true}))).await;
    assert_eq!(s, 200, "{b}");
    app.call("POST", "/api/v1/traces/batch", Some(&integ), Some(traces("u"))).await;
    assert_eq!(pending(&app, "jawaban").await, 6);
    // A batch sent again (a client's retry) adds nothing.
    app.call("POST", "/api/v1/traces/batch", Some(&integ), Some(traces("u"))).await;
    assert_eq!(pending(&app, "jawaban").await, 6);
    let (_, b) = app.call("POST", &format!("{rules}/ragu/backtest"), Some(&rev), Some(json!({}))).await;
    assert_eq!((b["scanned"].as_u64(), b["would_send"].as_u64()), (Some(40), Some(12)), "{b}");
    assert_eq!(b["already_queued"], 6, "{b}");

    // Negative user feedback sends a confident trace too.
    let (s, b) = app
        .call(
            "POST",
            &rules,
            Some(&rev),
            Some(json!({"name": "keluhan", "conditions": {"negative_feedback": true}, "enabled": true})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let feedback = |id: &str, value: f64| json!({"target_kind": "trace", "target_id": id, "name": "feedback", "value": value});
    app.call("POST", "/api/v1/scores", Some(&integ), Some(feedback("u18", 1.0))).await;
    assert_eq!(pending(&app, "jawaban").await, 6);
    let (s, b) = app.call("POST", "/api/v1/scores", Some(&integ), Some(feedback("u19", 0.0))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(pending(&app, "jawaban").await, 7);

    // N of M: the reviewer approves A, rejects B; the administrator rejects both: a tie goes to
    // the more cautious action.
    let a = next(&app, &rev, "jawaban").await;
    assert_eq!(a["trace_id"], "u00");
    assert_eq!(a["model_version_id"], "mv1");
    let (s, b) = decide(&app, &rev, &a, json!({"action": "approve", "seconds": 2.0})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["item"]["status"].as_str(), b["item"]["submitted"].as_i64()), (Some("pending"), Some(1)));
    let b_item = next(&app, &rev, "jawaban").await;
    assert_eq!(b_item["trace_id"], "u01", "a decided item is not served again");
    let (s, e) = decide(&app, &rev, &b_item, json!({"action": "reject"})).await;
    assert_eq!(s, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("factual_error, wrong_label"), "{e}");
    let (s, _) =
        decide(&app, &rev, &b_item, json!({"action": "reject", "reason": "policy", "seconds": 2.0})).await;
    assert_eq!(s, 200);
    let seen = next(&app, &admin, "jawaban").await;
    assert_eq!(seen["id"], a["id"]);
    assert_eq!(seen["decisions"], json!([]), "reviewers work blind");
    let (_, b) =
        decide(&app, &admin, &a, json!({"action": "reject", "reason": "policy", "seconds": 2.0})).await;
    assert_eq!(b["item"]["status"], "rejected", "{b}");
    assert_eq!(b["item"]["final_output"], Value::Null);
    let (_, b) =
        decide(&app, &admin, &b_item, json!({"action": "reject", "reason": "tone", "seconds": 2.0})).await;
    assert_eq!(
        (b["item"]["status"].as_str(), b["item"]["outcome_reason"].as_str()),
        (Some("rejected"), Some("policy, tone"))
    );

    // An edit is stored as a word diff with its reason; edit against approve settles as edited.
    let c = next(&app, &rev, "jawaban").await;
    assert_eq!(c["output"], "jawaban 2");
    for (body, needle) in [
        (json!({"action": "edit", "output": "jawaban 2", "reason": "tone"}), "same as the original"),
        (json!({"action": "edit", "reason": "tone"}), "corrected output"),
        (json!({"action": "approve", "output": "x"}), "edit"),
        (json!({"action": "maybe"}), "approve, edit, reject or skip"),
    ] {
        let (s, e) = decide(&app, &rev, &c, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(e["error"]["message"].as_str().unwrap().contains(needle), "{e}");
    }
    let (s, b) = decide(
        &app,
        &rev,
        &c,
        json!({"action": "edit", "output": "jawaban yang benar 2", "reason": "factual_error", "seconds": 2.0}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["decision"]["diff"],
        json!([{"op": "keep", "text": "jawaban "}, {"op": "add", "text": "yang benar "}, {"op": "keep", "text": "2"}])
    );
    next(&app, &admin, "jawaban").await;
    let (_, b) = decide(&app, &admin, &c, json!({"action": "approve", "seconds": 2.0})).await;
    assert_eq!(
        (b["item"]["status"].as_str(), b["item"]["final_output"].as_str()),
        (Some("edited"), Some("jawaban yang benar 2"))
    );
    assert_eq!(b["item"]["decisions"].as_array().unwrap().len(), 2, "settled items show every decision");
    let d = next(&app, &rev, "jawaban").await;
    decide(&app, &rev, &d, json!({"action": "approve", "seconds": 2.0})).await;
    next(&app, &admin, "jawaban").await;
    let (_, b) = decide(&app, &admin, &d, json!({"action": "approve", "seconds": 2.0})).await;
    assert_eq!(
        (b["item"]["status"].as_str(), b["item"]["final_output"].as_str()),
        (Some("approved"), Some("jawaban 3"))
    );
    let (s, e) = decide(&app, &rev, &d, json!({"action": "approve"})).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["code"], "refused");
    let e_item = next(&app, &rev, "jawaban").await;
    let (s, _) = decide(&app, app.token(Annotator), &e_item, json!({"action": "approve"})).await;
    assert_eq!(s, 403);
    let (s, e) = app.call("POST", &format!("{queues}/jawaban/next"), Some(app.token(MlEngineer)), None).await;
    assert_eq!(s, 403, "{e}");

    // A honeypot: the reviewer approves as expected, the administrator does not.
    let (s, b) = app
        .call(
            "POST",
            &format!("{queues}/jawaban/items"),
            Some(&admin),
            Some(json!({"items": [{"input": "tes", "output": "jawaban baku", "model": "bot", "model_version_id": "mv1",
                                   "expected": {"action": "approve"}}]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let h = json!({"id": b["ids"][0]});
    assert_eq!(decide(&app, &rev, &h, json!({"action": "approve", "seconds": 2.0})).await.0, 200);
    assert_eq!(
        decide(&app, &admin, &h, json!({"action": "reject", "reason": "policy", "seconds": 2.0})).await.0,
        200
    );
    let (s, e) = app
        .call(
            "POST",
            &format!("{queues}/jawaban/items"),
            Some(&admin),
            Some(json!({"items": [{"input": "x", "output": "y", "expected": {"action": "maybe"}}]})),
        )
        .await;
    assert_eq!(s, 400, "{e}");

    // Quality: A (approve, reject), B (reject, reject), C (edit, approve), D (approve, approve).
    let (s, q) = app.call("GET", &format!("{queues}/jawaban/quality"), Some(app.token(Viewer)), None).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["items_with_several"], 4);
    assert_eq!(q["percent_agreement"], 0.5);
    // Krippendorff's alpha by hand: n = 8 values, Do = 4/8, De = (2·4·3 + 2·4·1 + 2·3·1)/(8·7).
    assert!((q["alpha"].as_f64().unwrap() - 10.0 / 38.0).abs() < 1e-12, "{q}");
    let reviewer =
        &q["reviewers"].as_array().unwrap().iter().find(|r| r["reviewer"] == "reviewer").unwrap().clone();
    assert_eq!(
        (
            reviewer["decisions"].as_u64(),
            reviewer["approved"].as_u64(),
            reviewer["edited"].as_u64(),
            reviewer["rejected"].as_u64()
        ),
        (Some(5), Some(3), Some(1), Some(1)),
        "{reviewer}"
    );
    assert_eq!((reviewer["with_others"].as_u64(), reviewer["agreement"].as_f64()), (Some(4), Some(0.5)));
    assert_eq!(
        (reviewer["honeypots"].as_u64(), reviewer["honeypot_accuracy"].as_f64()),
        (Some(1), Some(1.0))
    );
    assert_eq!(
        (reviewer["median_seconds"].as_f64(), reviewer["items_per_hour"].as_f64()),
        (Some(2.0), Some(1800.0))
    );
    let boss = q["reviewers"].as_array().unwrap().iter().find(|r| r["reviewer"] == "admin").unwrap().clone();
    assert_eq!(boss["honeypot_accuracy"], 0.0);
    assert_eq!(
        q["models"],
        json!([{"model": "bot", "model_version_id": "mv1", "settled": 4, "approved": 1, "edited": 1, "rejected": 2,
                "agreement": 0.25}])
    );

    // The feedback loop: corrections into a dataset version, with where they came from.
    let to = format!("{queues}/jawaban/to-dataset");
    let (s, b) = app.call("POST", &to, Some(&rev), Some(json!({"name": "koreksi"}))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["version"]["row_count"], 1);
    let (_, items) = app.call("GET", "/api/v1/datasets/koreksi/items", Some(&rev), None).await;
    let row = &items["items"][0]["data"];
    assert_eq!(
        (
            row["output"].as_str(),
            row["original_output"].as_str(),
            row["outcome"].as_str(),
            row["reason"].as_str()
        ),
        (Some("jawaban yang benar 2"), Some("jawaban 2"), Some("edited"), Some("factual_error"))
    );
    assert_eq!(
        (row["trace_id"].as_str(), row["model_version_id"].as_str(), row["prompt_version_id"].as_str()),
        (Some("u02"), Some("mv1"), Some("pv1"))
    );
    let (s, b) =
        app.call("POST", &to, Some(&rev), Some(json!({"name": "koreksi", "include": "decided"}))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!((b["version"]["version"].as_i64(), b["version"]["row_count"].as_i64()), (Some(2), Some(2)));
    let (s, _) = app.call("POST", &to, Some(&rev), Some(json!({"name": "koreksi", "include": "some"}))).await;
    assert_eq!(s, 400);

    // Parallel decisions on an item that takes two: exactly two land.
    app.call("POST", queues, Some(&rev), Some(json!({"name": "paralel", "reviewers_per_item": 2}))).await;
    let (_, b) = app
        .call(
            "POST",
            &format!("{queues}/paralel/items"),
            Some(&rev),
            Some(json!({"items": [{"input": "q", "output": "a"}]})),
        )
        .await;
    let item = json!({"id": b["ids"][0]});
    let people = app.more_users("peninjau", "reviewer", 6).await;
    let calls = people.iter().map(|(_, t)| decide(&app, t, &item, json!({"action": "approve"})));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 2, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!((*s, b["error"]["code"].as_str()), (409, Some("refused")), "{b}");
    }
    let (_, b) = app
        .call("GET", &format!("/api/v1/review/items/{}", item["id"].as_str().unwrap()), Some(&admin), None)
        .await;
    assert_eq!((b["status"].as_str(), b["submitted"].as_i64()), (Some("approved"), Some(2)));

    let (_, v) = app.call("GET", "/api/v1/audit/verify", Some(&admin), None).await;
    assert_eq!(v["intact"], true, "{v}");
});

/// A webhook receiver on a real loopback socket; returns its URL and what it received.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

both_backends!(gated_outputs_wait_for_reviewers_or_the_sla, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let rev = app.token(Reviewer).to_owned();
    let integ = app.token(Integrator).to_owned();
    let (hook, got) = receiver().await;
    let queues = "/api/v1/review/queues";
    let fallback = "Mohon tunggu, agen kami akan membalas.";
    let (s, b) = app
        .call(
            "POST",
            queues,
            Some(&rev),
            Some(json!({"name": "gerbang", "sla_seconds": 3, "sla_action": "fallback", "fallback_text": fallback,
                        "webhook_url": hook})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let gate = format!("{queues}/gerbang/gate");
    let held = |confidence: f64| {
        json!({"input": "Berapa ongkir ke Medan?", "output": "Ongkir gratis selamanya.",
                                        "model": "bot", "confidence": confidence})
    };

    // A reviewer does not log model calls, so may not hold one.
    assert_eq!(app.call("POST", &gate, Some(&rev), Some(held(0.4))).await.0, 403);
    let (s, t) = app.call("POST", &gate, Some(&integ), Some(held(0.4))).await;
    assert_eq!(s, 202, "{t}");
    assert_eq!((t["status"].as_str(), t["deliver"].as_bool()), (Some("pending"), Some(false)));
    assert!(t["deadline"].is_string(), "{t}");
    let (s, trace) = app
        .call("GET", &format!("/api/v1/traces/{}", t["trace_id"].as_str().unwrap()), Some(&integ), None)
        .await;
    assert_eq!((s.as_u16(), trace["name"].as_str()), (200, Some("review.gate")), "the held call is logged");
    let ticket = format!("/api/v1/review/tickets/{}", t["ticket"].as_str().unwrap());

    // A poll that waits is woken by the reviewer's edit.
    let started = Instant::now();
    let wait_url = format!("{ticket}?wait=20");
    let waiting = app.call("GET", &wait_url, Some(&integ), None);
    let reviewing = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let item = next(&app, &rev, "gerbang").await;
        assert_eq!(item["gated"], true);
        let (s, b) = decide(
            &app,
            &rev,
            &item,
            json!({"action": "edit", "output": "Ongkir gratis untuk belanja di atas Rp100.000.", "reason": "factual_error"}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    };
    let ((s, t), ()) = tokio::join!(waiting, reviewing);
    assert_eq!(s, 200, "{t}");
    assert!(started.elapsed() < Duration::from_secs(3), "woken by the decision, not the deadline");
    assert_eq!(
        (t["status"].as_str(), t["deliver"].as_bool(), t["settled_by"].as_str()),
        (Some("edited"), Some(true), Some("reviewers"))
    );
    assert_eq!(t["output"], "Ongkir gratis untuk belanja di atas Rp100.000.");
    // The webhook is a job; a worker delivers it to the socket.
    assert!(Worker::new(app.desks.clone()).run_once().await.unwrap());
    let first = got.lock().unwrap().clone();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0]["status"].as_str(), first[0]["event"].as_str()),
        (Some("edited"), Some("review.settled"))
    );
    assert_eq!(first[0]["ticket"], t["ticket"]);

    // Nobody decides: the SLA sends the fallback text, and a late decision is refused.
    let (_, t2) = app.call("POST", &gate, Some(&integ), Some(held(0.3))).await;
    let ticket2 = format!("/api/v1/review/tickets/{}", t2["ticket"].as_str().unwrap());
    let (s, t2) = app.call("GET", &format!("{ticket2}?wait=10"), Some(&integ), None).await;
    assert_eq!(s, 200, "{t2}");
    assert_eq!(
        (t2["status"].as_str(), t2["output"].as_str(), t2["deliver"].as_bool(), t2["settled_by"].as_str()),
        (Some("fallback"), Some(fallback), Some(true), Some("sla"))
    );
    let (s, e) = decide(&app, &rev, &json!({"id": t2["ticket"]}), json!({"action": "approve"})).await;
    assert_eq!(s, 409, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("settled"), "{e}");
    assert!(Worker::new(app.desks.clone()).run_once().await.unwrap());
    assert_eq!(got.lock().unwrap().last().unwrap()["settled_by"], "sla");

    // With nobody polling, a worker's housekeeping applies the SLA (here: block).
    app.call("POST", queues, Some(&rev), Some(json!({"name": "blokir", "sla_seconds": 1}))).await;
    let (_, t3) = app.call("POST", &format!("{queues}/blokir/gate"), Some(&integ), Some(held(0.3))).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    Worker::new(app.desks.clone()).run_once().await.unwrap();
    let (_, b) = app
        .call("GET", &format!("/api/v1/review/items/{}", t3["ticket"].as_str().unwrap()), Some(&rev), None)
        .await;
    assert_eq!((b["status"].as_str(), b["final_output"].clone()), (Some("blocked"), Value::Null), "{b}");

    // `hold: rules` holds only what a switched-on rule of the queue would send.
    app.call(
        "POST",
        &format!("{queues}/gerbang/rules"),
        Some(&rev),
        Some(json!({"name": "ragu", "conditions": {"confidence_below": 0.5}, "enabled": true})),
    )
    .await;
    let mut sure = held(0.9);
    sure["hold"] = json!("rules");
    let (s, t) = app.call("POST", &gate, Some(&integ), Some(sure)).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        (t["status"].as_str(), t["output"].as_str()),
        (Some("released"), Some("Ongkir gratis selamanya."))
    );
    let mut unsure = held(0.2);
    unsure["hold"] = json!("rules");
    assert_eq!(app.call("POST", &gate, Some(&integ), Some(unsure)).await.0, 202);

    // Bad input names the field.
    for (body, needle) in [
        (json!({"input": "q", "output": "a", "hold": "maybe"}), "hold"),
        (json!({"input": "q", "output": "a", "callback_url": "ftp://x"}), "callback_url"),
        (json!({"input": "q", "output": "a", "confidence": 2.0}), "confidence"),
    ] {
        let (s, e) = app.call("POST", &gate, Some(&integ), Some(body)).await;
        assert_eq!(s, 400, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(needle), "{e}");
    }
    let (s, _) = app.call("GET", &format!("{ticket}?wait=61"), Some(&integ), None).await;
    assert_eq!(s, 400);

    // A webhook nobody answers: the job fails and says where it tried.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    app.call(
        "POST",
        queues,
        Some(&rev),
        Some(json!({"name": "mati", "webhook_url": format!("http://{dead}/hook")})),
    )
    .await;
    app.call("POST", &format!("{queues}/mati/gate"), Some(&integ), Some(held(0.3))).await;
    let item = next(&app, &rev, "mati").await;
    decide(&app, &rev, &item, json!({"action": "approve"})).await;
    assert!(Worker::new(app.desks.clone()).run_once().await.unwrap());
    let (_, jobs) = app.call("GET", "/api/v1/jobs?kind=review.webhook&status=failed", Some(&rev), None).await;
    let error = jobs["items"][0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains(&dead.to_string()) && error.contains("4 attempts"), "{jobs}");
});
