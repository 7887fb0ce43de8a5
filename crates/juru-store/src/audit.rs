//! The audit log: appended inside the write transaction it records, read in pages for browsing,
//! export and verification.

use juru_core::audit::{AuditEntry, AuditFields, ChainBreak, entry_hash, verify_entries};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};

pub(crate) const GENESIS: &str = juru_core::audit::GENESIS_HASH;

/// What a write records about itself.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub workspace_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub object_kind: &'a str,
    pub object_id: &'a str,
    pub summary: Value,
}

impl WriteTx {
    /// Appends an audit entry in this transaction. The head row is updated first, which takes
    /// its row lock on PostgreSQL, so concurrent writers chain one after another.
    pub async fn audit(&mut self, entry: NewAudit<'_>) -> Result<i64> {
        let row = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut **self)
            .await?;
        let seq: i64 = row.try_get("seq")?;
        let prev: String = row.try_get("hash")?;
        let at_ms = now_ms();
        let fields = AuditFields {
            seq,
            workspace_id: entry.workspace_id,
            actor: entry.actor,
            action: entry.action,
            object_kind: entry.object_kind,
            object_id: entry.object_id,
            summary: &entry.summary,
            at_ms,
        };
        let hash = entry_hash(&prev, &fields);
        sqlx::query(
            "INSERT INTO audit_log (seq, workspace_id, actor, action, object_kind, object_id, summary, at_ms, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(entry.workspace_id.map(str::to_owned))
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.object_kind)
        .bind(entry.object_id)
        .bind(entry.summary.to_string())
        .bind(at_ms)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut **self)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut **self).await?;
        self.audited = true;
        Ok(seq)
    }
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub workspace_id: Option<String>,
    pub action_prefix: Option<String>,
    pub actor: Option<String>,
    pub after_seq: i64,
    pub limit: i64,
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
    let summary: String = row.try_get("summary")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        workspace_id: row.try_get("workspace_id")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object_kind: row.try_get("object_kind")?,
        object_id: row.try_get("object_id")?,
        summary: serde_json::from_str(&summary)
            .map_err(|e| StoreError::Corrupt(format!("audit summary is not JSON: {e}")))?,
        at_ms: row.try_get("at_ms")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    /// Entries in sequence order after `filter.after_seq`.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM audit_log WHERE ");
        let p = q.bind(filter.after_seq);
        q.push(&format!("seq > {p}"));
        if let Some(ws) = &filter.workspace_id {
            q.push_bind(" AND workspace_id = {}", ws.clone());
        }
        if let Some(prefix) = &filter.action_prefix {
            q.push_bind(" AND action LIKE {}", format!("{}%", prefix.replace('%', "")));
        }
        if let Some(actor) = &filter.actor {
            q.push_bind(" AND actor = {}", actor.clone());
        }
        q.push_bind(" ORDER BY seq LIMIT {}", filter.limit.clamp(1, 10_000));
        q.fetch_all(self.pool()).await?.iter().map(entry_from_row).collect()
    }

    /// Walks the whole chain. `Ok(n)` with the number of entries when intact.
    pub async fn audit_verify(&self) -> Result<Result<i64, ChainBreak>> {
        let mut prev: Option<(i64, String)> = None;
        let mut count = 0;
        loop {
            let after = prev.as_ref().map(|p| p.0).unwrap_or(0);
            let page = self
                .audit_entries(&AuditFilter { after_seq: after, limit: 5000, ..Default::default() })
                .await?;
            if page.is_empty() {
                break;
            }
            count += page.len() as i64;
            match verify_entries(prev, &page) {
                Ok(p) => prev = p,
                Err(brk) => return Ok(Err(brk)),
            }
        }
        // The head must agree with the last entry: otherwise entries were cut off the end.
        let head =
            sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(self.pool()).await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let (last_seq, last_hash) = prev.unwrap_or((0, GENESIS.to_owned()));
        if head_seq != last_seq || head_hash != last_hash {
            return Ok(Err(ChainBreak::Truncated { last: last_seq, head: head_seq }));
        }
        Ok(Ok(count))
    }
}
