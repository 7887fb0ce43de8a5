use juru_store::audit::NewAudit;
use juru_store::jobs::JobOutcome;
use juru_store::testing::TestDb;
use juru_store::{PageRequest, both_backends};

use crate::workspace;

async fn enqueue(db: &TestDb, ws: &str, kind: &str) -> String {
    let mut tx = db.store.write().await.unwrap();
    let job = tx.insert_job(ws, kind, "{}", "user:admin").await.unwrap();
    tx.audit(NewAudit {
        workspace_id: Some(ws),
        actor: "user:admin",
        action: "job.create",
        object_kind: "job",
        object_id: &job.id,
        summary: serde_json::json!({"kind": kind}),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    job.id
}

both_backends!(jobs_are_claimed_once_and_resume_after_a_dead_worker, |db: TestDb| async move {
    let ws = workspace(&db, "acme").await;
    let first = enqueue(&db, &ws.id, "export").await;
    let second = enqueue(&db, &ws.id, "export").await;
    enqueue(&db, &ws.id, "other").await;

    // Concurrent workers never take the same job.
    let (a, b) = tokio::join!(
        db.store.claim_job("w1", &["export"], 60_000),
        db.store.claim_job("w2", &["export"], 60_000)
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_ne!(a.id, b.id);
    let mut ids = [a.id.clone(), b.id.clone()];
    ids.sort();
    let mut want = [first.clone(), second.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(db.store.claim_job("w3", &["export"], 60_000).await.unwrap().is_none());

    assert!(db.store.job_progress(&a.id, &a.locked_by.clone().unwrap(), 0.5, "half", 60_000).await.unwrap());
    assert!(!db.store.job_progress(&a.id, "intruder", 0.9, "x", 60_000).await.unwrap());
    let worker_a = a.locked_by.clone().unwrap();
    assert!(
        db.store
            .finish_job(&a.id, &worker_a, &JobOutcome::Succeeded { result: "{\"n\":1}".into() })
            .await
            .unwrap()
    );
    let done = db.store.job(&ws.id, &a.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.progress), ("succeeded", 1.0));

    // b's worker dies: with a lease of 0 ms its job goes back to the queue and is resumed.
    let worker_b = b.locked_by.clone().unwrap();
    assert!(db.store.job_progress(&b.id, &worker_b, 0.3, "working", -1).await.unwrap());
    assert_eq!(db.store.requeue_stale_jobs(3).await.unwrap(), 1);
    let again = db.store.claim_job("w4", &["export"], 60_000).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (b.id.as_str(), 2));
    assert!(
        !db.store.finish_job(&b.id, &worker_b, &JobOutcome::Failed { error: "late".into() }).await.unwrap()
    );

    let listed = db.store.jobs(&ws.id, Some("running"), None, &PageRequest::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
});
