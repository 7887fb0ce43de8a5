use juru_store::audit::NewAudit;
use juru_store::datasets::ImportSummary;
use juru_store::labeling::{AnswerWrite, LabelProject, NewLabelProject};
use juru_store::testing::TestDb;
use juru_store::{StoreError, both_backends};

use crate::workspace;

async fn audit(tx: &mut juru_store::WriteTx, workspace_id: &str, action: &str) {
    let entry = NewAudit {
        workspace_id: Some(workspace_id),
        actor: "system",
        action,
        object_kind: "label_project",
        object_id: "p",
        summary: serde_json::json!({}),
    };
    tx.audit(entry).await.unwrap();
}

/// A workspace with a 10-item dataset and a project over it taking `overlap` answers per item.
async fn project(db: &TestDb, overlap: i64) -> LabelProject {
    let ws = workspace(db, "acme").await;
    let mut tx = db.store.write_operational().await.unwrap();
    let slot = tx.begin_import_new(&ws.id, "tweets", "", "user:admin", 60_000).await.unwrap();
    let rows: Vec<String> = (0..10).map(|i| format!("{{\"text\":\"tweet {i}\"}}")).collect();
    tx.insert_items(&slot, 0, &rows, 60_000).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.write().await.unwrap();
    let summary = ImportSummary { schema: "{}", row_count: 10, content_hash: "h", source: "t", message: "" };
    let v = tx.finish_import(&slot, &summary).await.unwrap();
    let new = NewLabelProject {
        name: "hate".into(),
        description: String::new(),
        dataset_version_id: v.id.clone(),
        text_field: "text".into(),
        guidelines: String::new(),
        overlap,
        blind: true,
        ordering: "sequential".into(),
        item_count: 10,
        settings: "{}".into(),
        schema: r#"{"kind":"single","labels":["HS","Non_HS"]}"#.into(),
    };
    let p = tx.insert_label_project(&ws.id, "u-admin", &new).await.unwrap();
    audit(&mut tx, &ws.id, "labeling.project.create").await;
    tx.commit().await.unwrap();
    p
}

async fn submit(
    store: &juru_store::Store,
    p: &LabelProject,
    idx: i64,
    who: &str,
    status: &str,
) -> Result<(), StoreError> {
    let mut tx = store.write().await?;
    let w = AnswerWrite {
        project: p,
        idx,
        annotator: who,
        status,
        value: Some("\"HS\"".into()),
        seconds: Some(2.0),
    };
    tx.write_label_answer(&w).await?;
    tx.audit(NewAudit {
        workspace_id: Some(&p.workspace_id),
        actor: who,
        action: "labeling.answer.submit",
        object_kind: "label_answer",
        object_id: "x",
        summary: serde_json::json!({}),
    })
    .await?;
    tx.commit().await
}

both_backends!(an_item_never_takes_more_answers_than_its_overlap, |db: TestDb| async move {
    let p = project(&db, 3).await;
    // Twelve annotators submit to the same item at once.
    let mut tasks = Vec::new();
    for n in 0..12 {
        let (store_db, p) = (db.store.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            submit(&store_db, &p, 4, &format!("annotator-{n}"), "submitted").await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => accepted += 1,
            Err(StoreError::Refused(msg)) => assert!(msg.contains("already has the 3 answer(s)"), "{msg}"),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(accepted, 3);
    assert_eq!(db.store.label_task(&p.id, 4).await.unwrap().submitted, 3);
    assert_eq!(db.store.label_answers_of(&p.id, 4).await.unwrap().len(), 3);
    db.cleanup().await;
});

both_backends!(the_queue_skips_full_reserved_and_own_items, |db: TestDb| async move {
    let p = project(&db, 1).await;
    // Sequential order: item 0 first.
    assert_eq!(db.store.next_label_task(&p, "ani", None).await.unwrap(), Some(0));
    let mut tx = db.store.write_operational().await.unwrap();
    tx.reserve_label_task(&p, 0, "ani").await.unwrap();
    tx.commit().await.unwrap();
    // Item 0 is held for Ani (overlap 1): Budi is given the next free item, and so is Ani if
    // she asks again without answering (she moved on; the hold lapses after a while).
    assert_eq!(db.store.next_label_task(&p, "budi", None).await.unwrap(), Some(1));
    assert_eq!(db.store.next_label_task(&p, "ani", None).await.unwrap(), Some(1));
    // A saved draft does come back to its annotator first.
    submit(&db.store, &p, 3, "ani", "draft").await.unwrap();
    assert_eq!(db.store.next_label_task(&p, "ani", None).await.unwrap(), Some(3));
    submit(&db.store, &p, 3, "ani", "skipped").await.unwrap();
    submit(&db.store, &p, 0, "ani", "submitted").await.unwrap();
    // Item 0 is full: Budi cannot submit to it.
    assert!(matches!(submit(&db.store, &p, 0, "budi", "submitted").await, Err(StoreError::Refused(_))));
    assert_eq!(db.store.next_label_task(&p, "ani", None).await.unwrap(), Some(1));
    // Moving past an item without answering.
    assert_eq!(db.store.next_label_task(&p, "ani", Some(5)).await.unwrap(), Some(6));
    // Skipping frees nothing and is not served again to the one who skipped.
    submit(&db.store, &p, 1, "ani", "skipped").await.unwrap();
    assert_eq!(db.store.next_label_task(&p, "ani", None).await.unwrap(), Some(2));
    // Editing one's own submitted answer is not a second answer.
    submit(&db.store, &p, 0, "ani", "submitted").await.unwrap();
    assert_eq!(db.store.label_task(&p.id, 0).await.unwrap().submitted, 1);
    // A honeypot is served to everyone once, whatever the overlap.
    let mut tx = db.store.write().await.unwrap();
    tx.set_label_gold(&p.id, &[(0, "\"HS\"".into())]).await.unwrap();
    audit(&mut tx, &p.workspace_id, "labeling.gold").await;
    tx.commit().await.unwrap();
    assert_eq!(db.store.next_label_task(&p, "citra", None).await.unwrap(), Some(0));
    submit(&db.store, &p, 0, "budi", "submitted").await.unwrap();
    let counts = db.store.label_project_counts(&p).await.unwrap();
    assert_eq!((counts.answers, counts.skipped, counts.honeypots), (2, 2, 1));
    db.cleanup().await;
});

both_backends!(items_with_answers_are_finished_first, |db: TestDb| async move {
    let p = project(&db, 2).await;
    submit(&db.store, &p, 7, "budi", "submitted").await.unwrap();
    assert_eq!(db.store.next_label_task(&p, "ani", None).await.unwrap(), Some(7));
    assert_eq!(db.store.next_label_task(&p, "budi", None).await.unwrap(), Some(0));
    submit(&db.store, &p, 7, "ani", "submitted").await.unwrap();
    assert_eq!(db.store.next_label_task(&p, "citra", None).await.unwrap(), Some(0), "item 7 is full");
    db.cleanup().await;
});
