use juru_core::audit::ChainBreak;
use juru_store::audit::{AuditFilter, NewAudit};
use juru_store::testing::TestDb;
use juru_store::{Backend, StoreError, both_backends};
use sqlx::Executor;

use crate::workspace;

both_backends!(chain_verifies_then_names_the_edited_entry, |db: TestDb| async move {
    let ws = workspace(&db, "acme").await;
    for i in 0..4 {
        workspace(&db, &format!("ws{i}")).await;
    }
    assert_eq!(db.store.audit_verify().await.unwrap(), Ok(5));
    let entries = db
        .store
        .audit_entries(&AuditFilter { workspace_id: Some(ws.id.clone()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "workspace.create");

    // The log refuses changes through SQL...
    let err =
        db.store.pool().execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    // ...so a tamperer removes the guard first, then edits entry 3.
    let drop_guard = match db.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
    };
    db.store.pool().execute(drop_guard).await.unwrap();
    db.store.pool().execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").await.unwrap();
    assert_eq!(db.store.audit_verify().await.unwrap(), Err(ChainBreak::HashMismatch { seq: 3 }));
});

both_backends!(removed_tail_entry_is_detected, |db: TestDb| async move {
    for i in 0..3 {
        workspace(&db, &format!("ws{i}")).await;
    }
    let drop_guard = match db.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_delete",
        Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
    };
    db.store.pool().execute(drop_guard).await.unwrap();
    db.store.pool().execute("DELETE FROM audit_log WHERE seq = 3").await.unwrap();
    assert_eq!(db.store.audit_verify().await.unwrap(), Err(ChainBreak::Truncated { last: 2, head: 3 }));
});

both_backends!(write_without_audit_entry_is_refused, |db: TestDb| async move {
    let mut tx = db.store.write().await.unwrap();
    tx.insert_workspace("ghost", "ghost", "").await.unwrap();
    assert!(matches!(tx.commit().await, Err(StoreError::Unaudited)));
    assert!(matches!(db.store.workspace_by_name("ghost").await, Err(StoreError::NotFound { .. })));
});

both_backends!(concurrent_writers_keep_one_chain, |db: TestDb| async move {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.write().await.unwrap();
            tx.audit(NewAudit {
                workspace_id: None,
                actor: "system",
                action: "test.write",
                object_kind: "test",
                object_id: &i.to_string(),
                summary: serde_json::json!({}),
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(db.store.audit_verify().await.unwrap(), Ok(16));
});

both_backends!(migrations_run_again_without_effect, |db: TestDb| async move {
    workspace(&db, "acme").await;
    let again = juru_store::Store::open(&db.url).await.unwrap();
    assert_eq!(again.workspace_by_name("acme").await.unwrap().name, "acme");
    again.close().await;
});
