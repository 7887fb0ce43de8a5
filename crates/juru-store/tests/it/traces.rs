use juru_store::audit::NewAudit;
use juru_store::testing::TestDb;
use juru_store::traces::{Trace, TraceFilter};
use juru_store::{PageRequest, both_backends};

use crate::workspace;

fn trace(ws: &str, id: &str, model: &str, at: i64) -> Trace {
    Trace {
        workspace_id: ws.into(),
        id: id.into(),
        name: "reply".into(),
        input: r#""di mana paket saya?""#.into(),
        output: r#""sedang dikirim""#.into(),
        model: model.into(),
        model_version_id: None,
        prompt: "cs-reply".into(),
        prompt_version_id: None,
        latency_ms: Some(12.5),
        input_tokens: Some(5),
        output_tokens: Some(3),
        cost: None,
        status: "ok".into(),
        metadata: "{}".into(),
        created_at: at,
    }
}

both_backends!(batch_ingest_pages_filters_and_isolates, |db: TestDb| async move {
    let a = workspace(&db, "a").await;
    let b = workspace(&db, "b").await;
    let batch: Vec<Trace> = (0..450)
        .map(|i| trace(&a.id, &format!("t{i:04}"), if i % 3 == 0 { "smollm2" } else { "minilm" }, 1000 + i))
        .collect();
    let mut tx = db.store.write().await.unwrap();
    assert_eq!(tx.insert_traces(&batch).await.unwrap(), 450);
    // The same ids again are skipped, so a client may retry a batch.
    assert_eq!(tx.insert_traces(&batch[..10]).await.unwrap(), 0);
    tx.audit(NewAudit {
        workspace_id: Some(&a.id),
        actor: "system",
        action: "trace.ingest",
        object_kind: "trace",
        object_id: "batch",
        summary: serde_json::json!({"count": 450}),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(db.store.trace_count(&a.id).await.unwrap(), 450);
    assert_eq!(db.store.trace_count(&b.id).await.unwrap(), 0);
    let one = db.store.trace(&a.id, "t0007").await.unwrap();
    assert_eq!((one.latency_ms, one.input_tokens), (Some(12.5), Some(5)));
    assert!(db.store.trace(&b.id, "t0007").await.is_err(), "workspace b must not see a's trace");

    let f = TraceFilter { model: Some("smollm2".into()), ..Default::default() };
    let mut seen = Vec::new();
    let mut page = PageRequest { limit: Some(40), cursor: None };
    loop {
        let p = db.store.traces(&a.id, &f, &page).await.unwrap();
        seen.extend(p.items.iter().map(|t| t.id.clone()));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 150);
    assert_eq!(seen[0], "t0447", "newest first");
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(seen, sorted);
    let f = TraceFilter { since_ms: Some(1400), until_ms: Some(1410), ..Default::default() };
    assert_eq!(db.store.traces(&a.id, &f, &PageRequest::default()).await.unwrap().items.len(), 10);
});
