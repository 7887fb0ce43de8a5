//! Storage tests: each story runs against a real SQLite file and a real PostgreSQL database.

mod audit;
mod datasets;
mod hot;
mod jobs;
mod labeling;
mod review;
mod traces;

use juru_store::audit::NewAudit;
use juru_store::testing::TestDb;
use juru_store::workspaces::Workspace;

/// A workspace made in an audited transaction.
pub(crate) async fn workspace(db: &TestDb, name: &str) -> Workspace {
    let mut tx = db.store.write().await.unwrap();
    let ws = tx.insert_workspace(name, name, "").await.unwrap();
    tx.audit(NewAudit {
        workspace_id: Some(&ws.id),
        actor: "system",
        action: "workspace.create",
        object_kind: "workspace",
        object_id: &ws.id,
        summary: serde_json::json!({"after": {"name": name}}),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    ws
}
