use juru_store::audit::NewAudit;
use juru_store::review::{DecisionWrite, NewReviewItem, ReviewItem, ReviewQueue};
use juru_store::testing::TestDb;
use juru_store::{StoreError, both_backends, now_ms};

use crate::workspace;

/// A queue whose items take `needed` decisions, with `n` items in it.
async fn queue(db: &TestDb, needed: i64, n: usize) -> (ReviewQueue, Vec<ReviewItem>) {
    let ws = workspace(db, "acme").await;
    let q = ReviewQueue {
        id: juru_core::ids::new_id(),
        workspace_id: ws.id.clone(),
        name: "jawaban".into(),
        description: String::new(),
        instructions: String::new(),
        reviewers_per_item: needed,
        status: "open".into(),
        settings: "{}".into(),
        created_by: "system".into(),
        created_at: now_ms(),
        updated_at: now_ms(),
    };
    let mut tx = db.store.write().await.unwrap();
    tx.insert_review_queue(&q).await.unwrap();
    let mut items = Vec::new();
    for i in 0..n {
        let new = NewReviewItem {
            trace_id: Some(format!("t{i}")),
            source: "manual".into(),
            input: "\"q\"".into(),
            output: format!("\"a{i}\""),
            metadata: "{}".into(),
            needed,
            ..Default::default()
        };
        items.push(tx.insert_review_item(&ws.id, &q.id, &new).await.unwrap().unwrap());
    }
    // The same trace is not queued twice.
    let again = NewReviewItem { trace_id: Some("t0".into()), needed, ..Default::default() };
    assert!(tx.insert_review_item(&ws.id, &q.id, &again).await.unwrap().is_none());
    audit(&mut tx, &ws.id).await;
    tx.commit().await.unwrap();
    (q, items)
}

async fn audit(tx: &mut juru_store::WriteTx, workspace_id: &str) {
    tx.audit(NewAudit {
        workspace_id: Some(workspace_id),
        actor: "system",
        action: "review.test",
        object_kind: "review_item",
        object_id: "x",
        summary: serde_json::json!({}),
    })
    .await
    .unwrap();
}

async fn reserve(db: &TestDb, q: &ReviewQueue, who: &str, ms: i64) -> Option<String> {
    let mut tx = db.store.write_operational().await.unwrap();
    let item = tx.reserve_review_item(&q.id, who, ms).await.unwrap();
    tx.commit().await.unwrap();
    item.map(|i| i.id)
}

async fn decide(store: &juru_store::Store, item: &ReviewItem, who: &str) -> Result<i64, StoreError> {
    let mut tx = store.write().await?;
    let w = DecisionWrite {
        item,
        reviewer: who,
        status: "submitted",
        action: Some("approve"),
        output: None,
        diff: None,
        reason: "",
        comment: "",
        seconds: None,
    };
    let (_, submitted) = tx.write_review_decision(&w).await?;
    audit(&mut tx, &item.workspace_id).await;
    tx.commit().await?;
    Ok(submitted)
}

both_backends!(reservations_hold_an_item_until_they_lapse, |db: TestDb| async move {
    let (q, items) = queue(&db, 1, 2).await;
    // Ani holds item 0 (it takes one decision): Budi is given item 1, Citra nothing.
    assert_eq!(reserve(&db, &q, "ani", 60_000).await, Some(items[0].id.clone()));
    assert_eq!(reserve(&db, &q, "budi", 150).await, Some(items[1].id.clone()));
    assert_eq!(reserve(&db, &q, "citra", 60_000).await, None);
    // Asking again gives Ani the item she holds, not another.
    assert_eq!(reserve(&db, &q, "ani", 60_000).await, Some(items[0].id.clone()));
    // Budi's hold lapses: Citra gets item 1.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(reserve(&db, &q, "citra", 60_000).await, Some(items[1].id.clone()));
    // Released holds free their items at once.
    let mut tx = db.store.write_operational().await.unwrap();
    assert_eq!(tx.release_review_reservations(&q.id, "ani").await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(reserve(&db, &q, "dewi", 60_000).await, Some(items[0].id.clone()));
    db.cleanup().await;
});

both_backends!(an_item_never_takes_more_decisions_than_it_needs, |db: TestDb| async move {
    let (q, items) = queue(&db, 3, 1).await;
    let mut tasks = Vec::new();
    for n in 0..12 {
        let (db2, item) = (db.store.clone(), items[0].clone());
        tasks.push(tokio::spawn(async move { decide(&db2, &item, &format!("reviewer-{n}")).await }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(StoreError::Refused(msg)) => assert!(msg.contains("already has the 3 decision(s)"), "{msg}"),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(accepted, 3);
    assert_eq!(db.store.review_decisions_of(&items[0].id).await.unwrap().len(), 3);
    // Settling happens once; a second settle finds nothing pending, and so does a decision.
    let mut tx = db.store.write().await.unwrap();
    assert!(tx.settle_review_item(&items[0].id, "approved", None, "").await.unwrap().is_some());
    assert!(tx.settle_review_item(&items[0].id, "blocked", None, "sla").await.unwrap().is_none());
    audit(&mut tx, &q.workspace_id).await;
    tx.commit().await.unwrap();
    let err = decide(&db.store, &items[0], "late").await.unwrap_err();
    assert!(err.to_string().contains("already settled: approved"), "{err}");
    assert_eq!(db.store.review_item(&q.workspace_id, &items[0].id).await.unwrap().status, "approved");
    db.cleanup().await;
});
