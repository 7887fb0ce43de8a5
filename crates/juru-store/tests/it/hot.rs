use std::time::Duration;

use juru_store::hot::CROSS_PROCESS_TTL;
use juru_store::prompts::{NewPromptVersion, Prompt};
use juru_store::testing::TestDb;
use juru_store::users::ApiToken;
use juru_store::{Store, both_backends, now_ms};

use crate::workspace;

fn version(text: &str) -> NewPromptVersion {
    NewPromptVersion {
        content_hash: text.into(),
        template: serde_json::to_string(text).unwrap(),
        variables: "{}".into(),
        config: "{}".into(),
        includes: "[]".into(),
        author: "user:admin".into(),
        message: String::new(),
    }
}

both_backends!(kept_answers_follow_commits_here_and_expire_for_other_processes, |db: TestDb| async move {
    let ws = workspace(&db, "acme").await;
    // A second handle on the same database stands for another process (the CLI, a second server).
    let other = Store::open(&db.url).await.unwrap();

    let mut tx = db.store.write_operational().await.unwrap();
    let user = tx.insert_user("ani", "Ani", None, false).await.unwrap();
    tx.insert_grant(&ws.id, &user.id, "viewer").await.unwrap();
    let token = ApiToken {
        id: "t1".into(),
        workspace_id: ws.id.clone(),
        user_id: user.id.clone(),
        name: "ci".into(),
        role: "viewer".into(),
        token_hash: "hash-1".into(),
        prefix: "juru_".into(),
        created_at: now_ms(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    tx.insert_token(&token).await.unwrap();
    let prompt = Prompt {
        id: "p1".into(),
        workspace_id: ws.id.clone(),
        name: "balasan".into(),
        kind: "text".into(),
        description: String::new(),
        latest: 0,
        created_by: "user:admin".into(),
        created_at: now_ms(),
    };
    tx.insert_prompt(&prompt).await.unwrap();
    tx.insert_prompt_version("p1", &version("v1")).await.unwrap();
    tx.insert_prompt_version("p1", &version("v2")).await.unwrap();
    tx.move_prompt_label("p1", "production", Some(1), "user:admin", "").await.unwrap();
    tx.commit().await.unwrap();

    let production = |(_, labels): (Prompt, Vec<juru_store::prompts::PromptLabel>)| {
        labels.iter().find(|l| l.label == "production").map(|l| l.version)
    };
    for store in [&db.store, &other] {
        assert!(store.token_auth("hash-1").await.unwrap().is_some());
        assert_eq!(production(store.prompt_with_labels(&ws.id, "balasan").await.unwrap()), Some(1));
    }

    // A revocation and a label move committed here are seen here at once ...
    let mut tx = db.store.write_operational().await.unwrap();
    tx.revoke_token(&ws.id, "t1").await.unwrap();
    tx.move_prompt_label("p1", "production", Some(2), "user:admin", "").await.unwrap();
    // ... but not before they commit.
    assert!(db.store.token_auth("hash-1").await.unwrap().is_some());
    tx.commit().await.unwrap();
    assert!(db.store.token_auth("hash-1").await.unwrap().is_none());
    assert_eq!(production(db.store.prompt_with_labels(&ws.id, "balasan").await.unwrap()), Some(2));

    // The other process keeps its answers for at most the TTL.
    tokio::time::sleep(CROSS_PROCESS_TTL + Duration::from_millis(50)).await;
    assert!(other.token_auth("hash-1").await.unwrap().is_none());
    assert_eq!(production(other.prompt_with_labels(&ws.id, "balasan").await.unwrap()), Some(2));

    // A rolled-back change leaves the answers as they were.
    let mut tx = db.store.write_operational().await.unwrap();
    tx.move_prompt_label("p1", "production", None, "user:admin", "").await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(production(db.store.prompt_with_labels(&ws.id, "balasan").await.unwrap()), Some(2));

    // A kept token stops working when it expires, however fresh the answer.
    let mut tx = db.store.write_operational().await.unwrap();
    let soon =
        ApiToken { id: "t2".into(), token_hash: "hash-2".into(), expires_at: Some(now_ms() + 150), ..token };
    tx.insert_token(&soon).await.unwrap();
    tx.commit().await.unwrap();
    assert!(db.store.token_auth("hash-2").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(db.store.token_auth("hash-2").await.unwrap().is_none());
    other.close().await;
    db.cleanup().await;
});
