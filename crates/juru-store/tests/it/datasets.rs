use juru_store::audit::NewAudit;
use juru_store::datasets::ImportSummary;
use juru_store::testing::TestDb;
use juru_store::{PageRequest, StoreError, both_backends};

use crate::workspace;

both_backends!(import_is_invisible_until_finished_and_numbered, |db: TestDb| async move {
    let ws = workspace(&db, "acme").await;
    let mut tx = db.store.write_operational().await.unwrap();
    let slot = tx.begin_import_new(&ws.id, "ulasan", "", "user:admin", 60_000).await.unwrap();
    tx.commit().await.unwrap();

    // A second import under the same name conflicts at once.
    let mut tx = db.store.write_operational().await.unwrap();
    assert!(matches!(
        tx.begin_import_new(&ws.id, "ulasan", "", "user:admin", 60_000).await,
        Err(StoreError::Conflict { .. })
    ));
    tx.rollback().await.unwrap();

    let rows: Vec<String> = (0..1234).map(|i| format!("{{\"n\":{i}}}")).collect();
    for (k, chunk) in rows.chunks(500).enumerate() {
        let mut tx = db.store.write_operational().await.unwrap();
        tx.insert_items(&slot, (k * 500) as i64, chunk, 60_000).await.unwrap();
        tx.commit().await.unwrap();
        assert!(db.store.dataset(&ws.id, "ulasan").await.is_err(), "visible before it finished");
    }
    let mut tx = db.store.write().await.unwrap();
    let summary =
        ImportSummary { schema: "{}", row_count: 1234, content_hash: "h", source: "t.csv", message: "" };
    let v = tx.finish_import(&slot, &summary).await.unwrap();
    tx.audit(NewAudit {
        workspace_id: Some(&ws.id),
        actor: "system",
        action: "dataset.import",
        object_kind: "dataset",
        object_id: &slot.dataset_id,
        summary: serde_json::json!({}),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(v.version, Some(1));

    let ds = db.store.dataset(&ws.id, "ulasan").await.unwrap();
    assert_eq!(ds.latest_version, 1);
    let v = db.store.dataset_version(&ds, None).await.unwrap();
    let items = db.store.items(&v.id, 1230, 100).await.unwrap();
    assert_eq!(items.iter().map(|i| i.idx).collect::<Vec<_>>(), vec![1230, 1231, 1232, 1233]);
    assert_eq!(items[0].data, "{\"n\":1230}");
    let listed = db.store.datasets(&ws.id, Some("ULAS"), &PageRequest::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
});

both_backends!(abandoned_import_is_removed_whole, |db: TestDb| async move {
    let ws = workspace(&db, "acme").await;
    let mut tx = db.store.write_operational().await.unwrap();
    let slot = tx.begin_import_new(&ws.id, "half", "", "user:admin", 60_000).await.unwrap();
    let rows: Vec<String> = (0..100).map(|i| format!("{{\"n\":{i}}}")).collect();
    // The importer dies right after this chunk: its lease is already over.
    tx.insert_items(&slot, 0, &rows, -1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.store.dataset_row_counts(&ws.id).await.unwrap(), (1, 1, 100));
    assert_eq!(db.store.delete_expired_imports().await.unwrap(), 1);
    assert_eq!(db.store.dataset_row_counts(&ws.id).await.unwrap(), (0, 0, 0));
    // A late finish finds nothing to finish.
    let mut tx = db.store.write().await.unwrap();
    let summary = ImportSummary { schema: "{}", row_count: 100, content_hash: "h", source: "", message: "" };
    assert!(tx.finish_import(&slot, &summary).await.is_err());
});
