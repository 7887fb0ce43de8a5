//! Prompts over the API: versions with every problem reported at once, labels that move, are
//! removed and reverted with their history, delivery with ETags, strict rendering with
//! includes, and diffs.

use juru_core::Role::*;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

fn chat(system: &str) -> Value {
    json!([{"role": "system", "content": system},
           {"role": "user", "content": "Nama saya {{ nama }}. {{ pertanyaan }}"}])
}

fn variables() -> Value {
    json!({"type": "object", "properties": {"nama": {"type": "string"}, "pertanyaan": {"type": "string", "minLength": 3}},
           "required": ["nama", "pertanyaan"]})
}

both_backends!(prompts_version_label_render_and_diff, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let pe = app.token(PromptEngineer).to_owned();
    let integ = app.token(Integrator).to_owned();
    let base = "/api/v1/prompts";

    // Every problem at once, syntax errors with line and column.
    let bad = json!({"name": "balasan-cs", "template": [
            {"role": "system", "content": "Kamu asisten {{ toko }}"},
            {"role": "user", "content": "Halo\n{% if nama %}{{ nama }}{% endfi %}"}],
        "variables": {"type": "object", "properties": {"nama": {"type": "string"}}},
        "config": {"temperature": 5}});
    let (s, b) = app.call("POST", base, Some(&pe), Some(bad)).await;
    assert_eq!(s, 400, "{b}");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("3 problem(s)"), "{msg}");
    assert!(msg.contains("messages[0].content: uses the variable \"toko\""), "{msg}");
    assert!(msg.contains("messages[1].content line 2, column "), "{msg}");
    assert!(msg.contains("config.temperature"), "{msg}");
    let (s, _) =
        app.call("POST", base, Some(app.token(Viewer)), Some(json!({"name": "x", "template": "hai"}))).await;
    assert_eq!(s, 403);

    // Version 1, labelled staging.
    let create = json!({"name": "balasan-cs", "template": chat("Kamu asisten Toko Nusantara."), "variables": variables(),
                        "config": {"model": "smollm2-135m-instruct", "temperature": 0.3}, "message": "pertama",
                        "labels": ["staging"]});
    let (s, v1) = app.call("POST", base, Some(&pe), Some(create)).await;
    assert_eq!(s, 201, "{v1}");
    assert_eq!((v1["version"].as_i64(), v1["kind"].as_str()), (Some(1), Some("chat")));
    assert_eq!(v1["labels"], json!(["staging", "latest"]));
    assert_eq!(v1["content_hash"].as_str().unwrap().len(), 64);

    // Fetching without a label: no production yet, so the newest; an ETag answers 304.
    let fetch = |path: String, etag: Option<String>| {
        let app = &app;
        let integ = integ.clone();
        async move {
            let headers: Vec<(&str, &str)> = match &etag {
                Some(e) => vec![("if-none-match", e.as_str())],
                None => vec![],
            };
            let (s, b) = app.call_raw("GET", &path, Some(&integ), "", Vec::new(), &headers).await;
            (s.as_u16(), serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null))
        }
    };
    let (s, got) = fetch(format!("{base}/balasan-cs"), None).await;
    assert_eq!((s, got["version"].as_i64()), (200, Some(1)));
    let (_, raw) =
        app.call_raw("GET", &format!("{base}/balasan-cs"), Some(&integ), "", Vec::new(), &[]).await;
    assert!(!raw.is_empty());
    let etag = format!("\"{}-v1\"", &v1["content_hash"].as_str().unwrap()[..16]);
    assert_eq!(fetch(format!("{base}/balasan-cs"), Some(etag.clone())).await.0, 304);

    // Version 2 goes to production: the default fetch follows, the old ETag no longer matches.
    let v2_req = json!({"template": chat("Kamu asisten Toko Nusantara yang ramah dan singkat."), "message": "lebih ramah",
                        "labels": ["production"]});
    let (s, v2) =
        app.call("POST", &format!("{base}/balasan-cs/versions"), Some(&pe), Some(v2_req.clone())).await;
    assert_eq!(s, 201, "{v2}");
    assert_eq!(v2["variables"], variables(), "variables carry over from the latest version");
    let (s, got) = fetch(format!("{base}/balasan-cs"), Some(etag)).await;
    assert_eq!((s, got["version"].as_i64()), (200, Some(2)));
    let (s, b) = app.call("POST", &format!("{base}/balasan-cs/versions"), Some(&pe), Some(v2_req)).await;
    assert_eq!(s, 409, "identical content is not a new version: {b}");
    let (s, b) = app
        .call(
            "POST",
            &format!("{base}/balasan-cs/versions"),
            Some(&pe),
            Some(json!({"template": "teks saja"})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("chat prompt"), "{b}");
    assert_eq!(fetch(format!("{base}/balasan-cs?label=staging"), None).await.1["version"], 1);
    assert_eq!(fetch(format!("{base}/balasan-cs?version=1"), None).await.1["version"], 1);
    assert_eq!(fetch(format!("{base}/balasan-cs?label=canary"), None).await.0, 404);

    // Clients listening on the event stream hear of a label move within a second.
    let req = axum::http::Request::builder()
        .uri(format!("{base}/events"))
        .header("authorization", format!("Bearer {integ}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.router.clone(), req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = res.into_body();

    // Labels move, are removed and come back, every step in the history.
    let labels = format!("{base}/balasan-cs/labels");
    let (s, p) = app
        .call(
            "PUT",
            &format!("{labels}/production"),
            Some(&pe),
            Some(json!({"version": 1, "reason": "v2 terlalu singkat"})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["prompt"]["labels"]["production"], 1);
    let heard = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        loop {
            let frame = http_body_util::BodyExt::frame(&mut stream).await.unwrap().unwrap();
            if let Ok(data) = frame.into_data() {
                let text = String::from_utf8_lossy(&data).to_string();
                if text.contains("event: label") {
                    return text;
                }
            }
        }
    })
    .await
    .expect("the move is pushed within a second");
    assert!(heard.contains(r#""prompt":"balasan-cs","label":"production","version":1"#), "{heard}");
    drop(stream);
    assert_eq!(
        app.call("PUT", &format!("{labels}/production"), Some(&integ), Some(json!({"version": 2}))).await.0,
        403
    );
    assert_eq!(
        app.call("PUT", &format!("{labels}/latest"), Some(&pe), Some(json!({"version": 1}))).await.0,
        400
    );
    assert_eq!(
        app.call("PUT", &format!("{labels}/production"), Some(&pe), Some(json!({"version": 9}))).await.0,
        404
    );
    let (_, p) = app.call("POST", &format!("{labels}/production/revert"), Some(&pe), Some(json!({}))).await;
    assert_eq!(p["prompt"]["labels"]["production"], 2);
    let (s, p) = app.call("DELETE", &format!("{labels}/production?reason=tarik"), Some(&pe), None).await;
    assert_eq!(s, 200, "{p}");
    assert!(p["prompt"]["labels"].get("production").is_none(), "{p}");
    let (_, p) = app
        .call(
            "POST",
            &format!("{labels}/production/revert"),
            Some(&pe),
            Some(json!({"reason": "kembalikan"})),
        )
        .await;
    assert_eq!(p["prompt"]["labels"]["production"], 2);
    let (_, history) = app.call("GET", &format!("{labels}/production/history"), Some(&integ), None).await;
    let steps: Vec<(Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["from_version"].clone(), m["to_version"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (json!(null), json!(2)),
            (json!(2), json!(null)),
            (json!(1), json!(2)),
            (json!(2), json!(1)),
            (json!(null), json!(2))
        ]
    );
    assert_eq!(history[0]["reason"], "kembalikan");

    // Strict rendering.
    let render = format!("{base}/balasan-cs/render");
    let (s, r) = app
        .call(
            "POST",
            &render,
            Some(&integ),
            Some(json!({"variables": {"nama": "Ani", "pertanyaan": "Paket saya di mana?"}})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["version"], 2);
    assert_eq!(r["rendered"][1]["content"], "Nama saya Ani. Paket saya di mana?");
    assert_eq!(r["config"]["model"], "smollm2-135m-instruct");
    for (vars, needle) in [
        (json!({"nama": "Ani"}), "variables.pertanyaan: is missing"),
        (json!({"nama": 7, "pertanyaan": "Di mana?"}), "nama must be a string, got 7"),
        (json!({"nama": "Ani", "pertanyaan": "Di"}), "at least 3 characters"),
        (
            json!({"nama": "Ani", "pertanyaan": "Di mana?", "kota": "Medan"}),
            "variables.kota: is not declared",
        ),
    ] {
        let (s, e) = app.call("POST", &render, Some(&integ), Some(json!({"variables": vars}))).await;
        assert_eq!(s, 400, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(needle), "{needle}: {e}");
    }

    // Includes by reference.
    let salam = json!({"name": "salam", "template": "Selamat {{ waktu }}", "labels": ["production"],
                       "variables": {"properties": {"waktu": {"type": "string", "enum": ["pagi", "siang", "malam"]}}}});
    assert_eq!(app.call("POST", base, Some(&pe), Some(salam)).await.0, 201);
    let (s, e) = app
        .call(
            "POST",
            base,
            Some(&pe),
            Some(json!({"name": "pembuka", "template": "{% include \"tidak-ada@production\" %}"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("include \"tidak-ada@production\""), "{e}");
    let pembuka = json!({"name": "pembuka", "template": "{% include \"salam@production\" %}, {{ nama }}!",
                         "variables": {"properties": {"nama": {"type": "string"}, "waktu": {"type": "string"}}}});
    let (s, b) = app.call("POST", base, Some(&pe), Some(pembuka)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["includes"], json!(["salam@production"]));
    let (s, r) = app
        .call(
            "POST",
            &format!("{base}/pembuka/render"),
            Some(&integ),
            Some(json!({"variables": {"nama": "Budi", "waktu": "pagi"}})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["rendered"], "Selamat pagi, Budi!");

    // A diff between versions, word by word.
    let (s, d) = app.call("GET", &format!("{base}/balasan-cs/diff?from=1&to=2"), Some(&integ), None).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        d["template"]["messages[0].content"],
        json!([{"op": "keep", "text": "Kamu asisten Toko "}, {"op": "remove", "text": "Nusantara."},
               {"op": "add", "text": "Nusantara yang ramah dan singkat."}])
    );
    assert_eq!((d["variables_changed"].as_bool(), d["config_changed"].as_bool()), (Some(false), Some(false)));

    let (_, list) = app.call("GET", base, Some(&integ), None).await;
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["balasan-cs", "pembuka", "salam"]);
    // A protected label moves only when a second person approves.
    let admin = app.token(Admin).to_owned();
    let protect = "/api/v1/prompt-labels/protected/production";
    assert_eq!(app.call("PUT", protect, Some(&pe), None).await.0, 403);
    let (s, b) = app.call("PUT", protect, Some(&admin), None).await;
    assert_eq!((s.as_u16(), b.clone()), (200, json!(["production"])));
    let v3 = json!({"template": chat("Kamu asisten Toko Nusantara."), "message": "kembali", "labels": ["production"]});
    let (s, e) = app.call("POST", &format!("{base}/balasan-cs/versions"), Some(&pe), Some(v3)).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("production is protected"), "{e}");
    let ask = |version: i64| json!({"version": version, "reason": "v1 lebih baik di uji A/B"});
    let (s, asked) = app.call("PUT", &format!("{labels}/production"), Some(&pe), Some(ask(1))).await;
    assert_eq!(s, 202, "{asked}");
    assert_eq!(
        (asked["request"]["status"].as_str(), asked["prompt"]["labels"]["production"].as_i64()),
        (Some("pending"), Some(2))
    );
    let promotions = format!("{base}/balasan-cs/promotions");
    let request = asked["request"]["id"].as_str().unwrap().to_owned();
    let (s, e) =
        app.call("POST", &format!("{promotions}/{request}/approve"), Some(&pe), Some(json!({}))).await;
    assert_eq!(s, 403, "nobody approves their own request: {e}");
    let second = app.more_users("perancang", "prompt_engineer", 1).await.remove(0).1;
    let (s, ok) = app
        .call(
            "POST",
            &format!("{promotions}/{request}/approve"),
            Some(&second),
            Some(json!({"reason": "setuju"})),
        )
        .await;
    assert_eq!(s, 200, "{ok}");
    assert_eq!(
        (ok["request"]["status"].as_str(), ok["prompt"]["labels"]["production"].as_i64()),
        (Some("approved"), Some(1))
    );
    let (_, history) = app.call("GET", &format!("{labels}/production/history"), Some(&integ), None).await;
    assert!(history[0]["reason"].as_str().unwrap().starts_with("approved by user:perancang-0"), "{history}");
    assert_eq!(
        app.call("POST", &format!("{promotions}/{request}/approve"), Some(&second), Some(json!({}))).await.0,
        409
    );
    // Two requests from the same place: once one is approved, the other is stale.
    let (_, a) = app.call("PUT", &format!("{labels}/production"), Some(&pe), Some(ask(2))).await;
    let (_, b) = app.call("PUT", &format!("{labels}/production"), Some(&pe), Some(ask(2))).await;
    let path =
        |r: &Value, verb: &str| format!("{promotions}/{}/{verb}", r["request"]["id"].as_str().unwrap());
    assert_eq!(app.call("POST", &path(&a, "approve"), Some(&second), Some(json!({}))).await.0, 200);
    let (s, e) = app.call("POST", &path(&b, "approve"), Some(&second), Some(json!({}))).await;
    assert_eq!(s, 409, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("has moved since"), "{e}");
    // A removal asked for and rejected leaves the label where it was.
    let (s, c) = app.call("DELETE", &format!("{labels}/production"), Some(&pe), None).await;
    assert_eq!(s, 202, "{c}");
    let (_, r) =
        app.call("POST", &path(&c, "reject"), Some(&second), Some(json!({"reason": "jangan"}))).await;
    assert_eq!(
        (r["request"]["status"].as_str(), r["prompt"]["labels"]["production"].as_i64()),
        (Some("rejected"), Some(2))
    );
    let (_, list) = app.call("GET", &promotions, Some(&integ), None).await;
    assert_eq!(list.as_array().unwrap().len(), 4);

    let (_, v) = app.call("GET", "/api/v1/audit/verify", Some(app.token(Admin)), None).await;
    assert_eq!(v["intact"], true, "{v}");
});
