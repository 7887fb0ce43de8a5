//! The Labeling desk over the API: projects, the server-enforced queue under parallel submits,
//! schema checks and changes, agreement, adjudication, and formats that round-trip.

use juru_core::Role::*;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

const TWEETS: &str = "id,text\n1,Joko pergi ke Bandung\n2,dasar kamu bodoh sekali\n3,kebun raya Bogor indah\n4,kalian semua sampah\n5,selamat pagi Jakarta\n6,pergi sana dasar kafir\n";

async fn import_tweets(app: &TestApp, name: &str) {
    let (s, b) = app
        .call_raw(
            "POST",
            &format!("/api/v1/datasets/import?name={name}&format=csv"),
            Some(app.token(Annotator)),
            "text/csv",
            TWEETS.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
}

/// More annotators, each with a token.
async fn annotators(app: &TestApp, n: usize) -> Vec<(String, String)> {
    app.more_users("anotator", "annotator", n).await
}

async fn answer(app: &TestApp, token: &str, project: &str, idx: i64, value: Value) -> (u16, Value) {
    let (s, b) = app
        .call(
            "PUT",
            &format!("/api/v1/labeling/projects/{project}/items/{idx}/answer"),
            Some(token),
            Some(json!({"value": value, "seconds": 3.5})),
        )
        .await;
    (s.as_u16(), b)
}

both_backends!(labeling_project_queue_agreement_and_adjudication, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    import_tweets(&app, "tweets").await;
    let ann = app.token(Annotator).to_owned();
    let base = "/api/v1/labeling/projects";

    // Bad projects are refused with the reason.
    let bad = json!({"name": "x", "dataset": "tweets", "text_field": "text", "schema": {"kind": "single", "labels": []}});
    let (s, b) = app.call("POST", base, Some(&ann), Some(bad)).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("needs at least one label"), "{b}");
    let bad = json!({"name": "x", "dataset": "tweets", "text_field": "teks", "schema": {"kind": "single", "labels": ["HS"]}});
    let (s, b) = app.call("POST", base, Some(&ann), Some(bad)).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("no field \"teks\""), "{b}");
    let (s, _) = app
        .call(
            "POST",
            base,
            Some(app.token(Viewer)),
            Some(json!({"name": "v", "dataset": "tweets", "text_field": "text",
            "schema": {"kind": "single", "labels": ["HS"]}})),
        )
        .await;
    assert_eq!(s, 403);

    let create = json!({"name": "ujaran", "dataset": "tweets", "text_field": "text", "overlap": 2,
        "schema": {"kind": "single", "labels": ["HS", "Abusive", "Neither"]},
        "guidelines": "# Pedoman\nHS = ujaran kebencian", "honeypots": [{"index": 5, "answer": "HS"}]});
    let (s, p) = app.call("POST", base, Some(&ann), Some(create)).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["item_count"], 6);
    assert_eq!(p["counts"]["honeypots"], 1);

    // Parallel submits to one item: exactly `overlap` land, the rest are told why.
    let people = annotators(&app, 6).await;
    let calls = people.iter().map(|(_, t)| answer(&app, t, "ujaran", 0, json!("Neither")));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 2, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*s, 409);
        assert!(b["error"]["message"].as_str().unwrap().contains("already has the 2 answer(s)"), "{b}");
    }

    // Answers that do not fit the schema.
    let (a1, a2) = (&people[0].1, &people[1].1);
    let (s, b) = answer(&app, a1, "ujaran", 1, json!("Spam")).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("label \"Spam\" is not in the schema"), "{b}");
    let (s, _) = answer(&app, a1, "ujaran", 1, json!(["HS"])).await;
    assert_eq!(s, 400);
    let (s, _) = answer(&app, app.token(Viewer), "ujaran", 1, json!("HS")).await;
    assert_eq!(s, 403);

    // The queue: each annotator gets items they have not answered, the honeypot included.
    let (s, t) = app.call("POST", &format!("{base}/ujaran/next"), Some(a1), None).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["index"], 1);
    assert_eq!(t["text"], "dasar kamu bodoh sekali");
    assert!(t["others"].as_array().unwrap().is_empty(), "blind mode hides others' answers");
    for (idx, v1, v2) in [
        (1, "Abusive", "Abusive"),
        (2, "Neither", "Neither"),
        (3, "HS", "Abusive"),
        (4, "Neither", "Neither"),
        (5, "HS", "Abusive"),
    ] {
        assert_eq!(answer(&app, a1, "ujaran", idx, json!(v1)).await.0, 200);
        assert_eq!(answer(&app, a2, "ujaran", idx, json!(v2)).await.0, 200);
    }
    let (s, _) = app.call("POST", &format!("{base}/ujaran/next"), Some(a1), None).await;
    assert_eq!(s, 204, "nothing is left for this annotator");

    // Agreement: 6 items with two answers, 4 agree (items 0, 1, 2, 4).
    let (s, ag) = app.call("GET", &format!("{base}/ujaran/agreement"), Some(&ann), None).await;
    assert_eq!(s, 200, "{ag}");
    assert_eq!(ag["items_multiply_answered"], 6);
    assert!((ag["percent_agreement"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-12, "{ag}");
    // Same data straight through juru-stats: two coders, codes HS=0, Abusive=1, Neither=2.
    let m = vec![
        vec![Some(2.0), Some(1.0), Some(2.0), Some(0.0), Some(2.0), Some(0.0)],
        vec![Some(2.0), Some(1.0), Some(2.0), Some(1.0), Some(2.0), Some(1.0)],
    ];
    let alpha = juru_stats::agreement::krippendorff_alpha(&m, juru_stats::agreement::Level::Nominal).unwrap();
    assert!((ag["alpha"]["value"].as_f64().unwrap() - alpha).abs() < 1e-12, "{ag}");
    assert!(ag["fleiss_kappa"].is_number());
    // Which two of the six got item 0 in is a race, so there is one pair of coders or more.
    assert!(!ag["cohen_kappa"].as_array().unwrap().is_empty(), "{ag}");
    let honeypot: Vec<f64> =
        ag["annotators"].as_array().unwrap().iter().filter_map(|a| a["honeypot_accuracy"].as_f64()).collect();
    assert_eq!(honeypot.len(), 2, "{ag}");
    assert_eq!(honeypot.iter().filter(|&&x| x == 1.0).count(), 1, "{ag}");

    // Adjudication: items 3 and 5 disagree.
    let (_, d) = app.call("GET", &format!("{base}/ujaran/disagreements"), Some(&ann), None).await;
    let idxs: Vec<i64> = d.as_array().unwrap().iter().map(|x| x["index"].as_i64().unwrap()).collect();
    assert_eq!(idxs, vec![3, 5]);
    let (s, b) = app
        .call(
            "PUT",
            &format!("{base}/ujaran/items/3/resolution"),
            Some(&ann),
            Some(json!({"value": "HS", "reason": ""})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, r) = app
        .call(
            "PUT",
            &format!("{base}/ujaran/items/3/resolution"),
            Some(&ann),
            Some(json!({"value": "HS", "reason": "menyerang kelompok: pedoman bagian 2"})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["method"], "adjudicated");
    let (s, agg) = app
        .call("POST", &format!("{base}/ujaran/aggregate"), Some(&ann), Some(json!({"method": "dawid_skene"})))
        .await;
    assert_eq!(s, 200, "{agg}");
    assert_eq!(
        (agg["items"].as_u64(), agg["written"].as_u64(), agg["kept_adjudicated"].as_u64()),
        (Some(6), Some(5), Some(1))
    );
    let (_, res) = app.call("GET", &format!("{base}/ujaran/resolutions?limit=10"), Some(&ann), None).await;
    let by: Vec<(i64, String)> = res
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_i64().unwrap(), r["method"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(by[3], (3, "adjudicated".into()));
    assert_eq!(by[0], (0, "dawid_skene".into()));

    // Schema change: rename carries the answers along, and the old value is kept.
    let (s, out) = app
        .call(
            "POST",
            &format!("{base}/ujaran/schema"),
            Some(&ann),
            Some(json!({"op": "rename", "from": "Abusive", "to": "Kasar"})),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["migrated"], 4);
    assert_eq!(out["project"]["schema_version"], 2);
    let (_, item) = app.call("GET", &format!("{base}/ujaran/items/1"), Some(a1), None).await;
    assert_eq!(item["mine"]["value"], "Kasar");
    assert_eq!(item["mine"]["original"], "Abusive");
    assert_eq!(item["mine"]["schema_version"], 1);
    // An answer made under the old schema version is refused.
    let (s, _) = app
        .call(
            "PUT",
            &format!("{base}/ujaran/items/1/answer"),
            Some(a1),
            Some(json!({"value": "Kasar", "schema_version": 1})),
        )
        .await;
    assert_eq!(s, 409);
    let (_, hist) = app.call("GET", &format!("{base}/ujaran/schema"), Some(&ann), None).await;
    assert_eq!(hist.as_array().unwrap().len(), 2);
    assert_eq!(hist[1]["change"]["op"], "rename");
    let (_, audit) =
        app.call("GET", "/api/v1/audit?action=labeling.schema", Some(app.token(Admin)), None).await;
    assert!(audit.to_string().contains("labeling.schema.change"), "{audit}");

    // Closed projects refuse answers.
    let (s, _) =
        app.call("PATCH", &format!("{base}/ujaran"), Some(&ann), Some(json!({"status": "closed"}))).await;
    assert_eq!(s, 200);
    let (s, b) = answer(&app, a1, "ujaran", 2, json!("HS")).await;
    assert_eq!(s, 409, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("closed"));
    // A project limited to named annotators refuses others.
    app.call(
        "PATCH",
        &format!("{base}/ujaran"),
        Some(&ann),
        Some(json!({"status": "open", "annotators": ["anotator-0"]})),
    )
    .await;
    let (s, _) = app.call("POST", &format!("{base}/ujaran/next"), Some(&people[2].1), None).await;
    assert_eq!(s, 403);

    // Labels into a dataset in one step.
    let (s, out) = app
        .call(
            "POST",
            &format!("{base}/ujaran/to-dataset"),
            Some(&ann),
            Some(json!({"name": "tweets-berlabel"})),
        )
        .await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["version"]["row_count"], 6);
    let (_, items) =
        app.call("GET", "/api/v1/datasets/tweets-berlabel/items?limit=10", Some(&ann), None).await;
    assert_eq!(items["items"][3]["data"]["label"], "HS");
    assert_eq!(items["items"][1]["data"]["label"], "Kasar");
});

both_backends!(label_formats_round_trip_and_bad_files_import_nothing, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    import_tweets(&app, "tweets").await;
    let ann = app.token(Annotator).to_owned();
    let base = "/api/v1/labeling/projects";
    let people = annotators(&app, 2).await;
    for name in ["asal", "salinan", "asli"] {
        let create = json!({"name": name, "dataset": "tweets", "text_field": "text", "overlap": 2,
            "schema": {"kind": "single", "labels": ["HS", "Abusive", "Neither"]}});
        assert_eq!(app.call("POST", base, Some(&ann), Some(create)).await.0, 201);
    }
    for (idx, v) in [(0, "Neither"), (1, "Abusive"), (3, "HS")] {
        assert_eq!(answer(&app, &people[0].1, "asal", idx, json!(v)).await.0, 200);
        assert_eq!(
            answer(&app, &people[1].1, "asal", idx, json!(if idx == 3 { "Abusive" } else { v })).await.0,
            200
        );
    }
    let get = |path: String| {
        let app = &app;
        let ann = ann.clone();
        async move {
            let (s, b) = app.call_raw("GET", &path, Some(&ann), "", Vec::new(), &[]).await;
            assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
            String::from_utf8(b).unwrap()
        }
    };
    let ls = get(format!("{base}/asal/export?format=label_studio")).await;
    let tasks: Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 6);
    assert_eq!(tasks[1]["annotations"][0]["result"][0]["value"]["choices"][0], "Abusive");
    let (s, b) = app
        .call_raw(
            "POST",
            &format!("{base}/salinan/import?format=label_studio"),
            Some(&ann),
            "application/json",
            ls.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let original = get(format!("{base}/asal/export?format=jsonl")).await;
    let copy = get(format!("{base}/salinan/export?format=jsonl")).await;
    let strip = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                json!([
                    v["index"],
                    v["answers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| json!([a["annotator"], a["value"]]))
                        .collect::<Vec<_>>()
                ])
            })
            .collect()
    };
    assert_eq!(strip(&original), strip(&copy), "Label Studio export → import keeps every answer");
    // Label Studio's own export names people by id, with created_username beside it.
    let native = |who: Value| {
        json!([{"id": 7, "data": {"text": "kalian semua sampah"}, "annotations": [{"id": 1, "completed_by": 3,
            "created_username": who, "lead_time": 4.2,
            "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["HS"]}}]}]}])
        .to_string()
        .into_bytes()
    };
    let import_native = |body: Vec<u8>| {
        let app = &app;
        let ann = ann.clone();
        async move {
            let path = format!("{base}/asli/import?format=label_studio");
            let (s, b) = app.call_raw("POST", &path, Some(&ann), "application/json", body, &[]).await;
            (s.as_u16(), serde_json::from_slice::<Value>(&b).unwrap())
        }
    };
    let (s, b) = import_native(native(Value::Null)).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("Label Studio user id 3"), "{b}");
    let (s, b) = import_native(native(json!("anotator-1@example.com, 3"))).await;
    assert_eq!(s, 201, "{b}");
    let asli = get(format!("{base}/asli/export?format=jsonl")).await;
    let item3: Value = serde_json::from_str(asli.lines().nth(3).unwrap()).unwrap();
    assert_eq!(item3["answers"][0]["annotator"], "anotator-1", "{item3}");
    assert_eq!(item3["answers"][0]["value"], "HS");
    let csv = get(format!("{base}/asal/export?format=csv")).await;
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
    let hf = get(format!("{base}/asal/export?format=hf")).await;
    let rows: Vec<Value> = hf.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows[1]["label"], "Abusive");
    assert_eq!(rows[2]["label"], Value::Null);
    assert_eq!(rows[0]["text"], "Joko pergi ke Bandung");

    // A file with bad lines imports nothing and names each line.
    let bad = "{\"index\": 2, \"annotator\": \"anotator-0\", \"value\": \"HS\"}\n{\"index\": 2, \"annotator\": \"nobody\", \"value\": \"HS\"}\nnot json\n{\"index\": 4, \"annotator\": \"anotator-1\", \"value\": \"Spam\"}\n";
    let (s, b) = app
        .call_raw(
            "POST",
            &format!("{base}/salinan/import?format=jsonl"),
            Some(&ann),
            "application/x-ndjson",
            bad.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(s, 400);
    let err: Value = serde_json::from_slice(&b).unwrap();
    let lines: Vec<u64> =
        err["error"]["rows"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3], "syntax errors are reported before anything else is checked: {err}");
    let bad = bad.replace("not json\n", "");
    let (s, b) = app
        .call_raw(
            "POST",
            &format!("{base}/salinan/import?format=jsonl"),
            Some(&ann),
            "application/x-ndjson",
            bad.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(s, 400);
    let err: Value = serde_json::from_slice(&b).unwrap();
    let lines: Vec<u64> =
        err["error"]["rows"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 3], "{err}");
    assert!(
        err.to_string().contains("\\\"nobody\\\" is not a user") || err.to_string().contains("nobody"),
        "{err}"
    );
    let (_, item) = app.call("GET", &format!("{base}/salinan/items/2"), Some(&people[0].1), None).await;
    assert!(item["mine"].is_null(), "nothing of the bad file was written");

    // Spans: CoNLL export and import give the same spans back.
    let create = json!({"name": "ner", "dataset": "tweets", "text_field": "text",
        "schema": {"kind": "spans", "labels": ["PER", "LOC"]}});
    assert_eq!(app.call("POST", base, Some(&ann), Some(create.clone())).await.0, 201);
    let spans = json!([{"start": 0, "end": 4, "label": "PER"}, {"start": 14, "end": 21, "label": "LOC"}]);
    let (s, b) = answer(&app, &people[0].1, "ner", 0, spans.clone()).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = answer(&app, &people[0].1, "ner", 0, json!([{"start": 0, "end": 40, "label": "PER"}])).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("past the text"), "{b}");
    let conll = get(format!("{base}/ner/export?format=conll")).await;
    assert_eq!(conll, "# index = 0\nJoko\tB-PER\npergi\tO\nke\tO\nBandung\tB-LOC\n\n");
    let mut create2 = create;
    create2["name"] = json!("ner2");
    assert_eq!(app.call("POST", base, Some(&ann), Some(create2)).await.0, 201);
    let (s, b) = app
        .call_raw(
            "POST",
            &format!("{base}/ner2/import?format=conll"),
            Some(&ann),
            "text/plain",
            conll.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let (_, item) = app.call("GET", &format!("{base}/ner2/items/0"), Some(&ann), None).await;
    assert_eq!(item["mine"]["value"], spans);
    let (s, ag) = app.call("GET", &format!("{base}/ner/agreement"), Some(&ann), None).await;
    assert_eq!(s, 200);
    assert!(ag["notes"][0].as_str().unwrap().contains("no item has two answers"), "{ag}");
});

both_backends!(
    active_learning_retrains_every_k_answers_and_serves_the_most_uncertain,
    |db: TestDb| async move {
        let app = TestApp::new(db).await;
        let ann = app.token(Annotator).to_owned();
        let base = "/api/v1/labeling/projects";
        let mut csv = String::from("id,text\n");
        for i in 0..30 {
            csv.push_str(&format!("{i},produk bagus sekali mantap nomor {i}\n"));
            csv.push_str(&format!("{},barang rusak parah kecewa nomor {i}\n", 100 + i));
        }
        let (s, _) = app
            .call_raw(
                "POST",
                "/api/v1/datasets/import?name=ulasan&format=csv",
                Some(&ann),
                "text/csv",
                csv.into_bytes(),
                &[],
            )
            .await;
        assert_eq!(s, 201);
        let create = json!({"name": "aktif", "dataset": "ulasan", "text_field": "text", "ordering": "uncertainty",
        "retrain_every": 10, "schema": {"kind": "single", "labels": ["positif", "negatif"]}});
        assert_eq!(app.call("POST", base, Some(&ann), Some(create)).await.0, 201);
        // Retraining without two labels yet is refused with the reason.
        let (s, b) = app.call("POST", &format!("{base}/aktif/retrain"), Some(&ann), None).await;
        assert_eq!(s, 400);
        assert!(b["error"]["message"].as_str().unwrap().contains("two or more labels"), "{b}");

        // Pre-annotation with a registry classifier trained elsewhere.
        let mut train = String::from("text,label\n");
        for i in 0..20 {
            train.push_str(&format!("bagus mantap suka {i},positif\nrusak kecewa buruk {i},negatif\n"));
        }
        let ml = app.token(MlEngineer).to_owned();
        let (s, _) = app
            .call_raw(
                "POST",
                "/api/v1/datasets/import?name=latih&format=csv",
                Some(&ml),
                "text/csv",
                train.into_bytes(),
                &[],
            )
            .await;
        assert_eq!(s, 201);
        let body = json!({"dataset": "latih", "text_field": "text", "label_field": "label", "name": "sentimen", "epochs": 5});
        let (s, b) = app.call("POST", "/api/v1/models/train?wait=true", Some(&ml), Some(body)).await;
        assert!(s.is_success(), "{b}");
        let (s, out) = app
            .call("POST", &format!("{base}/aktif/suggest"), Some(&ann), Some(json!({"model": "sentimen"})))
            .await;
        assert_eq!(s, 200, "{out}");
        assert_eq!(out["items"], 60);
        let (_, t) = app.call("GET", &format!("{base}/aktif/items/0"), Some(&ann), None).await;
        assert_eq!(t["suggestion"]["model"], "sentimen");
        assert_eq!(t["suggestion"]["value"], "positif", "{t}");

        let worker = juru_desks::jobs::Worker::new(app.desks.clone());
        for n in 0..30 {
            let (s, t) = app.call("POST", &format!("{base}/aktif/next"), Some(&ann), None).await;
            assert_eq!(s, 200, "{t}");
            if n >= 10 {
                // After the first retraining every served item carries the model's suggestion.
                assert!(t["suggestion"]["score"].is_number(), "{t}");
            }
            let label = if t["text"].as_str().unwrap().contains("bagus") { "positif" } else { "negatif" };
            let idx = t["index"].as_i64().unwrap();
            assert_eq!(answer(&app, &ann, "aktif", idx, json!(label)).await.0, 200);
            while worker.run_once().await.unwrap() {}
        }
        let (_, jobs) = app.call("GET", "/api/v1/jobs?kind=labeling.retrain", Some(&ann), None).await;
        let done = jobs["items"].as_array().unwrap().iter().filter(|j| j["status"] == "succeeded").count();
        assert_eq!(done, 3, "{jobs}");
        let (_, p) = app.call("GET", &format!("{base}/aktif"), Some(&ann), None).await;
        let curve = p["learning_curve"].as_array().unwrap();
        assert_eq!(curve.iter().map(|c| c[0].as_i64().unwrap()).collect::<Vec<_>>(), vec![10, 20, 30], "{p}");
        assert!(curve.iter().all(|c| (0.0..=1.0).contains(&c[1].as_f64().unwrap())));
        // The queue serves the item the model is least sure of.
        let (_, t) = app.call("POST", &format!("{base}/aktif/next"), Some(&ann), None).await;
        let served = t["index"].as_i64().unwrap();
        let project = app.desks.store.label_project(&app.acme.workspace_id, "aktif").await.unwrap();
        let tasks = app.desks.store.label_tasks(&project.id, 0, 1000).await.unwrap();
        let answered: std::collections::HashSet<i64> = app
            .desks
            .store
            .label_answers_all(&project.id, "submitted")
            .await
            .unwrap()
            .iter()
            .map(|a| a.idx)
            .collect();
        let most = tasks
            .iter()
            .filter(|t| !answered.contains(&t.idx))
            .map(|t| t.uncertainty.unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(tasks[served as usize].uncertainty.unwrap(), most);
    }
);
