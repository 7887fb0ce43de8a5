//! API behaviour: workspace isolation, error shapes, dataset import and export, traces, audit.

use juru_core::Role::*;
use juru_desks::Actor;
use juru_desks::jobs::Worker;
use juru_desks::views::{CreateToken, CreateUser, CreateWorkspace};
use juru_server::Config;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

const CSV: &str = "id,teks,label,skor\n1,barang bagus,positif,0.9\n2,\"kirim lambat, kecewa\",negatif,0.2\n3,biasa saja,netral,\n";

async fn import_csv(app: &TestApp, token: &str, name: &str, csv: &str) -> (u16, Value) {
    let (s, b) = app
        .call_raw(
            "POST",
            &format!("/api/v1/datasets/import?name={name}&format=csv"),
            Some(token),
            "text/csv",
            csv.as_bytes().to_vec(),
            &[],
        )
        .await;
    (s.as_u16(), serde_json::from_slice(&b).unwrap_or(Value::Null))
}

both_backends!(workspaces_are_isolated, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    // Workspace "other" with its own administrator and objects.
    let system = Actor::system("", "");
    let ws = app
        .desks
        .create_workspace(
            &system,
            &CreateWorkspace { name: "other".into(), display_name: None, description: None },
        )
        .await
        .unwrap();
    let other = Actor::system(&ws.id, &ws.name);
    let req = CreateUser {
        username: "boss".into(),
        display_name: None,
        password: None,
        is_admin: false,
        roles: vec!["admin".into()],
    };
    app.desks.create_user(&other, &req).await.unwrap();
    let b_token = app
        .desks
        .create_token(
            &other,
            &CreateToken {
                name: "b".into(),
                role: "admin".into(),
                username: Some("boss".into()),
                expires_in_days: None,
            },
        )
        .await
        .unwrap()
        .token;
    let (s, b_ds) = import_csv(&app, &b_token, "secret-data", CSV).await;
    assert_eq!(s, 201, "{b_ds}");
    let b_ds_id = b_ds["dataset"]["id"].as_str().unwrap().to_owned();
    let b_version_id = b_ds["version"]["id"].as_str().unwrap().to_owned();
    let (_, b_trace) =
        app.call("POST", "/api/v1/traces", Some(&b_token), Some(json!({"input": "x", "output": "y"}))).await;
    let b_trace_id = b_trace["ids"][0].as_str().unwrap().to_owned();
    let (_, b_sys) =
        app.call("POST", "/api/v1/ai-systems", Some(&b_token), Some(json!({"name": "b-sys"}))).await;
    let b_sys_id = b_sys["id"].as_str().unwrap().to_owned();
    let (_, b_model) =
        app.call("POST", "/api/v1/models", Some(&b_token), Some(json!({"name": "b-model"}))).await;
    let b_model_id = b_model["id"].as_str().unwrap().to_owned();

    let a = app.token(Admin).to_owned();
    // A sees none of B's objects, by id or by name, and cannot change them.
    for path in [
        format!("/api/v1/datasets/{b_ds_id}"),
        "/api/v1/datasets/secret-data".to_string(),
        "/api/v1/datasets/secret-data/items".to_string(),
        "/api/v1/datasets/secret-data/export".to_string(),
        format!("/api/v1/traces/{b_trace_id}"),
        format!("/api/v1/ai-systems/{b_sys_id}"),
        format!("/api/v1/models/{b_model_id}"),
    ] {
        let (s, body) = app.call("GET", &path, Some(&a), None).await;
        assert_eq!(s, 404, "A read {path}: {body}");
    }
    assert_eq!(
        app.call("PATCH", &format!("/api/v1/ai-systems/{b_sys_id}"), Some(&a), Some(json!({"owner": "A"})))
            .await
            .0,
        404
    );
    assert_eq!(app.call("DELETE", &format!("/api/v1/ai-systems/{b_sys_id}"), Some(&a), None).await.0, 404);
    assert_eq!(app.call("DELETE", &format!("/api/v1/datasets/{b_ds_id}"), Some(&a), None).await.0, 404);
    assert_eq!(
        app.call("PATCH", &format!("/api/v1/datasets/{b_ds_id}"), Some(&a), Some(json!({"name": "x"})))
            .await
            .0,
        404
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/models/{b_model_id}/versions"),
            Some(&a),
            Some(json!({"format": "gguf"}))
        )
        .await
        .0,
        404
    );
    let score = json!({"target_kind": "trace", "target_id": b_trace_id, "name": "x", "value": 1});
    assert_eq!(app.call("POST", "/api/v1/scores", Some(&a), Some(score)).await.0, 404);
    let score =
        json!({"target_kind": "item", "target_id": format!("{b_version_id}:0"), "name": "x", "value": 1});
    assert_eq!(app.call("POST", "/api/v1/scores", Some(&a), Some(score)).await.0, 404);
    // Listings and the audit log of A hold nothing of B.
    let (_, list) = app.call("GET", "/api/v1/datasets", Some(&a), None).await;
    assert!(list["items"].as_array().unwrap().iter().all(|d| d["name"] != "secret-data"));
    let (_, list) = app.call("GET", "/api/v1/traces", Some(&a), None).await;
    assert!(list["items"].as_array().unwrap().iter().all(|t| t["id"] != b_trace_id.as_str()));
    let (_, audit) = app.call("GET", "/api/v1/audit?limit=1000", Some(&a), None).await;
    assert!(audit.as_array().unwrap().iter().all(|e| e["object_id"] != b_ds_id.as_str()));
    // The same id written through A's token lands in A, leaving B's trace untouched.
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/traces",
            Some(&a),
            Some(json!({"id": b_trace_id, "input": "A", "output": "A"})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, t) = app.call("GET", &format!("/api/v1/traces/{b_trace_id}"), Some(&b_token), None).await;
    assert_eq!(t["input"], "x");
});

both_backends!(errors_name_the_problem, |db: TestDb| async move {
    let config = Config { max_body_bytes: 2048, max_upload_bytes: 4096, ..Config::default() };
    let app = TestApp::with_config(db, config).await;
    let admin = app.token(Admin).to_owned();
    let mut seen: Vec<Value> = Vec::new();

    let (s, b) = app
        .call("POST", "/api/v1/ai-systems", Some(&admin), Some(json!({"name": "x", "colour": "red"})))
        .await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (400, Some("unknown_field")), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("colour"), "{b}");

    let (s, b) = app
        .call_raw("POST", "/api/v1/ai-systems", Some(&admin), "application/json", b"{\"name\":".to_vec(), &[])
        .await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    let b: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (400, Some("invalid_json")), "{b}");

    let big = json!({"name": "x", "purpose": "p".repeat(5000)});
    let (s, b) = app.call("POST", "/api/v1/ai-systems", Some(&admin), Some(big)).await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (413, Some("payload_too_large")), "{b}");

    let (s, b) = import_csv(&app, &admin, "huge", &"a\n1\n".repeat(3000)).await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!((s, b["error"]["code"].as_str()), (413, Some("payload_too_large")), "{b}");

    assert_eq!(
        app.call("POST", "/api/v1/ai-systems", Some(&admin), Some(json!({"name": "dup"}))).await.0,
        201
    );
    let (s, b) = app.call("POST", "/api/v1/ai-systems", Some(&admin), Some(json!({"name": "dup"}))).await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (409, Some("conflict")), "{b}");

    let (s, b) = app
        .call("POST", "/api/v1/ai-systems", Some(&admin), Some(json!({"name": "t", "risk_tier": "huge"})))
        .await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("risk_tier \"huge\""), "{b}");

    let (s, b) = app.call("GET", "/api/v1/no-such-thing", Some(&admin), None).await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (404, Some("not_found")), "{b}");

    let (s, b) = app
        .call(
            "POST",
            "/api/v1/traces",
            Some(&admin),
            Some(json!({"input": "q", "output": "a", "latency_ms": -3})),
        )
        .await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("latency_ms"), "{b}");
    let batch =
        json!({"traces": [{"input": 1, "output": 2}, {"input": 1, "output": 2, "timestamp": "yesterday"}]});
    let (s, b) = app.call("POST", "/api/v1/traces/batch", Some(&admin), Some(batch)).await;
    seen.push(serde_json::to_value(&b).unwrap_or_default());
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().starts_with("traces[1].timestamp"), "{b}");
    assert_eq!(
        app.desks.store.trace_count(&app.acme.workspace_id).await.unwrap(),
        0,
        "a bad batch writes nothing"
    );

    // Every error body has the same shape and never leaks SQL.
    assert!(seen.len() >= 8);
    for body in &seen {
        let text = body.to_string().to_lowercase();
        assert!(
            !text.contains("select") && !text.contains("sqlx") && !text.contains("insert into"),
            "{text}"
        );
    }
});

both_backends!(bad_rows_are_all_reported_and_nothing_is_written, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let admin = app.token(Admin).to_owned();
    let csv = b"id,teks\n1,ok\n2\n3,ok\n4,ok,extra\n5,\xff\n";
    let (s, b) = app
        .call_raw(
            "POST",
            "/api/v1/datasets/import?name=rusak&format=csv",
            Some(&admin),
            "text/csv",
            csv.to_vec(),
            &[],
        )
        .await;
    let b: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (400, Some("bad_rows")), "{b}");
    let rows: Vec<(u64, String)> = b["error"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (3, "expected 2 fields, found 1".to_string()),
            (5, "expected 2 fields, found 3".to_string()),
            (6, "column \"teks\" is not valid UTF-8".to_string()),
        ]
    );
    assert_eq!(app.call("GET", "/api/v1/datasets/rusak", Some(&admin), None).await.0, 404);
    assert_eq!(app.desks.store.dataset_row_counts(&app.acme.workspace_id).await.unwrap(), (0, 0, 0));

    let jsonl = "{\"a\":1}\nnot json\n[1,2]\n";
    let (s, b) = app
        .call_raw(
            "POST",
            "/api/v1/datasets/import?name=j&format=jsonl",
            Some(&admin),
            "application/x-ndjson",
            jsonl.as_bytes().to_vec(),
            &[],
        )
        .await;
    let b: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(s, 400);
    assert_eq!(b["error"]["rows"].as_array().unwrap().len(), 2, "{b}");
});

both_backends!(datasets_import_browse_export_round_trip, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let annotator = app.token(Annotator).to_owned();
    let (s, out) = import_csv(&app, &annotator, "ulasan", CSV).await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["version"]["version"], 1);
    assert_eq!(out["version"]["row_count"], 3);
    let fields: Vec<(String, String)> = out["version"]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        fields,
        [("id", "integer"), ("teks", "string"), ("label", "string"), ("skor", "number")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(import_csv(&app, &annotator, "ulasan", CSV).await.0, 409);

    let (_, items) =
        app.call("GET", "/api/v1/datasets/ulasan/items?from=1&limit=1", Some(&annotator), None).await;
    assert_eq!(
        items["items"][0]["data"],
        json!({"id": 2, "teks": "kirim lambat, kecewa", "label": "negatif", "skor": 0.2})
    );
    assert_eq!(items["next_from"], 2);

    let (s, csv_out) = app
        .call_raw("GET", "/api/v1/datasets/ulasan/export?format=csv", Some(&annotator), "", vec![], &[])
        .await;
    assert_eq!(s, 200);
    let csv_out = String::from_utf8(csv_out).unwrap();
    assert_eq!(csv_out, CSV, "CSV export gives back the imported file");
    let (_, jsonl) =
        app.call_raw("GET", "/api/v1/datasets/ulasan/export", Some(&annotator), "", vec![], &[]).await;
    let lines: Vec<Value> =
        String::from_utf8(jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["skor"], Value::Null);

    // The exported JSONL imports again as a second version with the same content hash.
    let (_, jsonl) =
        app.call_raw("GET", "/api/v1/datasets/ulasan/export", Some(&annotator), "", vec![], &[]).await;
    let (s, v2) = app
        .call_raw(
            "POST",
            "/api/v1/datasets/import?name=ulasan&format=jsonl&mode=version",
            Some(&annotator),
            "application/x-ndjson",
            jsonl,
            &[],
        )
        .await;
    let v2: Value = serde_json::from_slice(&v2).unwrap();
    assert_eq!(s, 201, "{v2}");
    assert_eq!(v2["version"]["version"], 2);
    assert_eq!(v2["version"]["content_hash"], out["version"]["content_hash"]);
    let (_, detail) = app.call("GET", "/api/v1/datasets/ulasan", Some(&annotator), None).await;
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
    assert_eq!(app.call("GET", "/api/v1/datasets/ulasan/versions/1", Some(&annotator), None).await.0, 200);

    let (s, _) = app
        .call(
            "PATCH",
            "/api/v1/datasets/ulasan",
            Some(&annotator),
            Some(json!({"description": "ulasan toko"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.call("DELETE", "/api/v1/datasets/ulasan", Some(&annotator), None).await.0, 204);
    assert_eq!(app.call("GET", "/api/v1/datasets/ulasan", Some(&annotator), None).await.0, 404);
    assert_eq!(app.desks.store.dataset_row_counts(&app.acme.workspace_id).await.unwrap(), (0, 0, 0));
});

both_backends!(import_as_a_job_reports_progress, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let admin = app.token(Admin).to_owned();
    let rows: String = (0..12_000).map(|i| format!("{i},teks {i}\n")).collect();
    let (s, job) = app
        .call_raw(
            "POST",
            "/api/v1/datasets/import?name=besar&format=csv&wait=false",
            Some(&admin),
            "text/csv",
            format!("n,t\n{rows}").into_bytes(),
            &[],
        )
        .await;
    let job: Value = serde_json::from_slice(&job).unwrap();
    assert_eq!(s, 202, "{job}");
    assert_eq!(job["status"], "queued");
    let worker = Worker::new(app.desks.clone());
    assert!(worker.run_once().await.unwrap(), "the worker ran the job");
    let (_, done) =
        app.call("GET", &format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()), Some(&admin), None).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["result"]["rows"], 12_000);
    let (_, v) = app.call("GET", "/api/v1/datasets/besar/versions/1", Some(&admin), None).await;
    assert_eq!(v["row_count"], 12_000);
    assert!(v["created_by"].as_str().unwrap().starts_with("user:admin (job "), "{v}");
    assert!(!worker.run_once().await.unwrap(), "the queue is empty");
    // The spooled upload is gone.
    let spooled = std::fs::read_dir(app.desks.spool_dir()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(spooled, 0);
});

both_backends!(audit_records_writes_and_compliance_can_read_it, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    assert_eq!(import_csv(&app, app.token(Annotator), "a", CSV).await.0, 201);
    app.call("POST", "/api/v1/ai-systems", Some(app.token(Integrator)), Some(json!({"name": "bot"}))).await;
    let compliance = app.token(ComplianceOfficer).to_owned();
    let (s, entries) = app.call("GET", "/api/v1/audit?action=dataset.", Some(&compliance), None).await;
    assert_eq!(s, 200);
    let e = &entries.as_array().unwrap()[0];
    assert_eq!(e["action"], "dataset.create");
    assert!(e["actor"].as_str().unwrap().starts_with("user:annotator (token "), "{e}");
    assert_eq!(e["summary"]["after"]["rows"], 3);
    let (_, all) = app.call("GET", "/api/v1/audit?limit=1000", Some(&compliance), None).await;
    let actions: Vec<&str> = all.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for want in
        ["workspace.create", "user.create", "grant.add", "token.create", "dataset.create", "ai_system.create"]
    {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let (s, jsonl) = app.call_raw("GET", "/api/v1/audit/export", Some(&compliance), "", vec![], &[]).await;
    assert_eq!(s, 200);
    let seqs: Vec<i64> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs.len(), actions.len());
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let (_, v) = app.call("GET", "/api/v1/audit/verify", Some(&compliance), None).await;
    assert_eq!(v["intact"], true, "{v}");
});

both_backends!(session_writes_need_the_csrf_header, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let session = app.desks.login("integrator", "integrator-secret-pw").await.unwrap();
    let cookie = format!("juru_session={}", session.cookie);
    let body = br#"{"name":"via-browser"}"#.to_vec();
    let (s, b) = app
        .call_raw(
            "POST",
            "/api/v1/ai-systems",
            None,
            "application/json",
            body.clone(),
            &[("cookie", &cookie)],
        )
        .await;
    let b: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (403, Some("csrf_failed")), "{b}");
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", session.csrf_token.as_str())];
    let (s, _) = app.call_raw("POST", "/api/v1/ai-systems", None, "application/json", body, &headers).await;
    assert_eq!(s, 201);
    let (s, _) = app.call_raw("GET", "/api/v1/me", None, "", vec![], &[("cookie", &cookie)]).await;
    assert_eq!(s, 200);
    assert!(app.desks.login("integrator", "wrong password").await.is_err());
});

both_backends!(registry_versions_and_audited_alias_moves, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let ml = app.token(MlEngineer).to_owned();
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/models",
            Some(&ml),
            Some(json!({"name": "sentimen-id", "task": "classification"}))
        )
        .await
        .0,
        201
    );
    for _ in 0..2 {
        let v = json!({"format": "juru-linear", "sha256": "a".repeat(64), "lineage": {"dataset": "ulasan@1"}, "metrics": {"macro_f1": 0.8}});
        assert_eq!(app.call("POST", "/api/v1/models/sentimen-id/versions", Some(&ml), Some(v)).await.0, 201);
    }
    let (s, d) = app
        .call("PUT", "/api/v1/models/sentimen-id/aliases/production", Some(&ml), Some(json!({"version": 1})))
        .await;
    assert_eq!(s, 200, "{d}");
    let (_, d) = app
        .call("PUT", "/api/v1/models/sentimen-id/aliases/production", Some(&ml), Some(json!({"version": 2})))
        .await;
    assert_eq!(d["aliases"]["production"], 2);
    assert_eq!(d["versions"][0]["lineage"]["dataset"], "ulasan@1");
    assert_eq!(
        app.call(
            "PUT",
            "/api/v1/models/sentimen-id/aliases/production",
            Some(&ml),
            Some(json!({"version": 9}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.call(
            "PUT",
            "/api/v1/models/sentimen-id/aliases/staging",
            Some(app.token(PromptEngineer)),
            Some(json!({"version": 1}))
        )
        .await
        .0,
        403
    );
    let (_, entries) =
        app.call("GET", "/api/v1/audit?action=model.alias", Some(app.token(Admin)), None).await;
    let moves: Vec<(Value, Value)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["summary"]["before"].clone(), e["summary"]["after"].clone()))
        .collect();
    assert_eq!(moves, vec![(Value::Null, json!(1)), (json!(1), json!(2))]);
});

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let doc = serde_json::to_value(juru_server::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/health",
        "/api/v1/openapi.json",
        "/api/v1/datasets/import",
        "/api/v1/datasets/{dataset}/export",
        "/api/v1/traces/batch",
        "/api/v1/audit/verify",
        "/api/v1/models/{model}/aliases/{alias}",
        "/api/v1/users/{username}/roles/{role}",
        "/api/v1/models/train",
        "/api/v1/models/{model}/predict",
        "/v1/models",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/api/v1/models/{model}/providers",
        "/api/v1/labeling/projects",
        "/api/v1/labeling/projects/{project}/next",
        "/api/v1/labeling/projects/{project}/items/{index}/answer",
        "/api/v1/labeling/projects/{project}/agreement",
        "/api/v1/labeling/projects/{project}/export",
        "/api/v1/labeling/projects/{project}/import",
        "/api/v1/review/queues",
        "/api/v1/review/queues/{queue}/next",
        "/api/v1/review/items/{item}/decision",
        "/api/v1/review/queues/{queue}/rules/{rule}/backtest",
        "/api/v1/review/queues/{queue}/gate",
        "/api/v1/review/tickets/{ticket}",
        "/api/v1/review/queues/{queue}/quality",
        "/api/v1/review/queues/{queue}/to-dataset",
        "/api/v1/prompts",
        "/api/v1/prompts/{prompt}",
        "/api/v1/prompts/{prompt}/versions",
        "/api/v1/prompts/{prompt}/labels/{label}",
        "/api/v1/prompts/{prompt}/labels/{label}/revert",
        "/api/v1/prompts/{prompt}/render",
        "/api/v1/prompts/{prompt}/diff",
        "/api/v1/prompts/events",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert!(doc["components"]["schemas"]["TraceRequest"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

both_backends!(providers_keep_their_key_sealed_and_fail_clearly, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let ml = app.token(MlEngineer).to_owned();
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let secret = "sk-test-4f1d9c0b7e2a";
    let req = json!({"base_url": format!("http://{nowhere}/v1"), "remote_model": "gpt-x", "api_key": secret,
                     "max_retries": 1, "timeout_ms": 2000, "alias": "production"});
    let (s, v) = app.call("POST", "/api/v1/models/gpt/providers", Some(&ml), Some(req.clone())).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!((v["format"].as_str(), v["version"].as_i64()), (Some("openai-compatible"), Some(1)));
    assert_eq!(v["lineage"]["provider"]["api_key"], true);

    // Bad settings name the problem.
    let mut bad = req.clone();
    bad["base_url"] = json!("ftp://example.org");
    let (s, v) = app.call("POST", "/api/v1/models/gpt/providers", Some(&ml), Some(bad)).await;
    assert_eq!(s, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("http:// or https://"), "{v}");
    let mut bad = req.clone();
    bad["task"] = json!("vision");
    let (s, v) = app.call("POST", "/api/v1/models/gpt/providers", Some(&ml), Some(bad)).await;
    assert_eq!(s, 400, "{v}");

    // The key shows nowhere: not in the model, not in the audit log, not in the database.
    let (_, detail) = app.call("GET", "/api/v1/models/gpt", Some(&ml), None).await;
    let (_, audit) = app.call("GET", "/api/v1/audit?limit=500", Some(app.token(Admin)), None).await;
    for shown in [detail.to_string(), audit.to_string()] {
        assert!(!shown.contains(secret) && !shown.contains("sk-test"), "{shown}");
    }
    let version_id = detail["versions"][0]["id"].as_str().unwrap();
    let sealed = app.desks.store.model_credential(version_id).await.unwrap().expect("a stored credential");
    assert!(sealed.starts_with("xc20p1:") && !sealed.contains(secret));

    // Nobody listens there: 502 naming the provider and the reason, within the time limit.
    let chat = json!({"model": "gpt", "messages": [{"role": "user", "content": "halo"}]});
    let started = std::time::Instant::now();
    let (s, v) = app.call("POST", "/v1/chat/completions", Some(&ml), Some(chat)).await;
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["code"], "upstream_unavailable");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&nowhere.to_string()) && msg.contains("cannot connect") && msg.contains("2 attempts"),
        "{msg}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A chat provider does not embed; an unknown model is 404.
    let (s, v) =
        app.call("POST", "/v1/embeddings", Some(&ml), Some(json!({"model": "gpt", "input": "halo"}))).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("cannot embed text"), "{v}");
    let (s, _) =
        app.call("POST", "/v1/embeddings", Some(&ml), Some(json!({"model": "nope", "input": "halo"}))).await;
    assert_eq!(s, 404);
    // /v1/models lists it as a chat model.
    let (_, models) = app.call("GET", "/v1/models", Some(&ml), None).await;
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "gpt" && m["capabilities"] == json!(["chat"])),
        "{models}"
    );
});

both_backends!(classifier_trains_registers_and_predicts, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let ml = app.token(MlEngineer).to_owned();
    let mut csv = String::from("teks,label,bobot\n");
    for i in 0..40 {
        csv.push_str(&format!("barang bagus pengiriman cepat {i},positif,1\n"));
        csv.push_str(&format!("barang rusak pengiriman lambat {i},negatif,1\n"));
    }
    assert_eq!(import_csv(&app, &ml, "sentimen", &csv).await.0, 201);

    let bad = json!({"dataset": "sentimen", "text_field": "text", "label_field": "label", "name": "m"});
    let (s, b) = app.call("POST", "/api/v1/models/train?wait=true", Some(&ml), Some(bad)).await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("no field \"text\" (fields: teks, label, bobot)"),
        "{b}"
    );

    let req = json!({"dataset": "sentimen", "text_field": "teks", "label_field": "label", "weight_field": "bobot",
                     "name": "sentimen-id", "alias": "staging", "seed": 7});
    let (s, out) = app.call("POST", "/api/v1/models/train?wait=true", Some(&ml), Some(req.clone())).await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(
        (out["version"].as_i64(), out["train_examples"].as_u64(), out["test_examples"].as_u64()),
        (Some(1), Some(64), Some(16))
    );
    assert_eq!(out["metrics"]["accuracy"], 1.0, "{out}");
    assert_eq!(out["metrics"]["confusion"], json!([[8, 0], [0, 8]]));

    let (_, detail) = app.call("GET", "/api/v1/models/sentimen-id", Some(&ml), None).await;
    let v = &detail["versions"][0];
    assert_eq!(v["format"], "juru-classifier/1");
    assert_eq!(v["lineage"]["dataset_version"], 1);
    assert_eq!(v["lineage"]["recipe"]["seed"], 7);
    assert_eq!(v["metrics"]["macro_f1"], 1.0);
    assert_eq!(detail["aliases"]["staging"], 1);
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);

    let texts = json!({"texts": ["pengiriman cepat, barang bagus", "rusak dan lambat"]});
    let (s, p) = app
        .call(
            "POST",
            "/api/v1/models/sentimen-id@staging/predict",
            Some(app.token(Viewer)),
            Some(texts.clone()),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["predictions"][0]["label"], "positif");
    assert_eq!(p["predictions"][1]["label"], "negatif");
    assert!(p["predictions"][1]["probabilities"]["negatif"].as_f64().unwrap() > 0.5);
    assert_eq!(app.call("POST", "/api/v1/models/nope/predict", Some(&ml), Some(texts.clone())).await.0, 404);
    assert_eq!(
        app.call("POST", "/api/v1/models/sentimen-id@9/predict", Some(&ml), Some(texts.clone())).await.0,
        404
    );
    // Annotators may read models but not train them.
    assert_eq!(
        app.call("POST", "/api/v1/models/train?wait=true", Some(app.token(Annotator)), Some(req.clone()))
            .await
            .0,
        403
    );

    // As a job: the worker trains version 2 with the same seed, so the same weights and hash.
    let (s, job) = app.call("POST", "/api/v1/models/train", Some(&ml), Some(req)).await;
    assert_eq!(s, 202, "{job}");
    assert!(juru_desks::jobs::Worker::new(app.desks.clone()).run_once().await.unwrap());
    let (_, job) =
        app.call("GET", &format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()), Some(&ml), None).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["version"], 2);
    let (_, detail) = app.call("GET", "/api/v1/models/sentimen-id", Some(&ml), None).await;
    assert_eq!(detail["versions"][0]["sha256"], detail["versions"][1]["sha256"], "training is reproducible");

    // A damaged model file is refused by name, not a panic.
    let uri =
        detail["versions"][1]["artifact_uri"].as_str().unwrap().strip_prefix("file:").unwrap().to_owned();
    let path = app.desks.data_dir.join(uri);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (s, b) = app.call("POST", "/api/v1/models/sentimen-id@2/predict", Some(&ml), Some(texts)).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("checksum mismatch"), "{b}");
});
