//! Review queues: routing rules over traces, the items they send (or that a gated call holds),
//! and the reviewers' decisions on them.
//!
//! As on the Labeling desk, the cap on decisions is enforced in the transaction that stores one:
//! the item's counter is raised by a conditional UPDATE (`submitted < needed AND status =
//! 'pending'`), so an item never takes more decisions than it needs, and a decision never lands
//! on an item that its SLA timer has already settled.

use serde::Serialize;
use sqlx::{FromRow, Row};

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ReviewQueue {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    pub instructions: String,
    /// Decisions each item needs (N of the M reviewers).
    pub reviewers_per_item: i64,
    /// `open` or `closed`.
    pub status: String,
    /// JSON object text: reviewers, reason codes, reservation, SLA and webhook settings.
    pub settings: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ReviewRule {
    pub id: String,
    pub workspace_id: String,
    pub queue_id: String,
    pub name: String,
    /// JSON object text of the rule's conditions.
    pub conditions: String,
    pub enabled: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ReviewItem {
    pub id: String,
    pub workspace_id: String,
    pub queue_id: String,
    pub trace_id: Option<String>,
    /// `rule:<name>`, `gate`, `manual` or `honeypot`.
    pub source: String,
    /// JSON text.
    pub input: String,
    /// JSON text of the output as the model gave it.
    pub output: String,
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt_version_id: Option<String>,
    pub confidence: Option<f64>,
    /// JSON object text.
    pub metadata: String,
    pub needed: i64,
    pub submitted: i64,
    /// `pending`, then `approved`, `edited` or `rejected` by reviewers, or `released`,
    /// `blocked` or `fallback` by the SLA timer.
    pub status: String,
    /// JSON text of the output the caller may use once settled (null: none).
    pub final_output: Option<String>,
    pub outcome_reason: String,
    /// JSON text of a honeypot's expected decision.
    pub expected: Option<String>,
    pub gated: i64,
    pub callback_url: Option<String>,
    pub deadline: Option<i64>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ReviewDecision {
    pub id: String,
    pub item_id: String,
    pub queue_id: String,
    /// User id.
    pub reviewer: String,
    /// `reserved`, `submitted` or `skipped`.
    pub status: String,
    /// `approve`, `edit` or `reject` once submitted.
    pub action: Option<String>,
    /// JSON text of the corrected output of an edit.
    pub output: Option<String>,
    /// JSON text: the edit as a list of word operations against the original.
    pub diff: Option<String>,
    pub reason: String,
    pub comment: String,
    pub seconds: Option<f64>,
    pub reserved_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new item, from a rule, a gated call, or by hand.
#[derive(Debug, Clone, Default)]
pub struct NewReviewItem {
    pub trace_id: Option<String>,
    pub source: String,
    pub input: String,
    pub output: String,
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt_version_id: Option<String>,
    pub confidence: Option<f64>,
    pub metadata: String,
    pub needed: i64,
    pub expected: Option<String>,
    pub gated: bool,
    pub callback_url: Option<String>,
    pub deadline: Option<i64>,
}

/// A decision to store.
#[derive(Debug, Clone)]
pub struct DecisionWrite<'a> {
    pub item: &'a ReviewItem,
    pub reviewer: &'a str,
    /// `submitted` or `skipped`.
    pub status: &'a str,
    pub action: Option<&'a str>,
    pub output: Option<String>,
    pub diff: Option<String>,
    pub reason: &'a str,
    pub comment: &'a str,
    pub seconds: Option<f64>,
}

/// Counts for a queue's page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueCounts {
    pub pending: i64,
    pub approved: i64,
    pub edited: i64,
    pub rejected: i64,
    /// Settled by the SLA timer (released, blocked or fallback).
    pub timed_out: i64,
    pub honeypots: i64,
    pub decisions: i64,
}

impl WriteTx {
    pub async fn insert_review_queue(&mut self, q: &ReviewQueue) -> Result<()> {
        sqlx::query(
            "INSERT INTO review_queues (id, workspace_id, name, description, instructions, reviewers_per_item, status, \
             settings, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&q.id)
        .bind(&q.workspace_id)
        .bind(&q.name)
        .bind(&q.description)
        .bind(&q.instructions)
        .bind(q.reviewers_per_item)
        .bind(&q.status)
        .bind(&q.settings)
        .bind(&q.created_by)
        .bind(q.created_at)
        .bind(q.updated_at)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("review queue", q.name.clone()))?;
        Ok(())
    }

    /// Changes a queue; `None` keeps what is stored.
    pub async fn update_review_queue(
        &mut self,
        id: &str,
        status: Option<&str>,
        instructions: Option<&str>,
        settings: Option<&str>,
    ) -> Result<ReviewQueue> {
        sqlx::query_as(
            "UPDATE review_queues SET status = COALESCE($2, status), instructions = COALESCE($3, instructions), \
             settings = COALESCE($4, settings), updated_at = $5 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(status.map(str::to_owned))
        .bind(instructions.map(str::to_owned))
        .bind(settings.map(str::to_owned))
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("review queue", id))
    }

    pub async fn insert_review_rule(&mut self, r: &ReviewRule) -> Result<()> {
        sqlx::query(
            "INSERT INTO review_rules (id, workspace_id, queue_id, name, conditions, enabled, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(&r.workspace_id)
        .bind(&r.queue_id)
        .bind(&r.name)
        .bind(&r.conditions)
        .bind(r.enabled)
        .bind(&r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("review rule", r.name.clone()))?;
        Ok(())
    }

    pub async fn update_review_rule(
        &mut self,
        id: &str,
        enabled: Option<bool>,
        conditions: Option<&str>,
    ) -> Result<ReviewRule> {
        sqlx::query_as(
            "UPDATE review_rules SET enabled = COALESCE($2, enabled), conditions = COALESCE($3, conditions), \
             updated_at = $4 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(enabled.map(i64::from))
        .bind(conditions.map(str::to_owned))
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("review rule", id))
    }

    /// Adds an item to a queue. An item for a trace the queue already holds is not added again:
    /// `None`.
    pub async fn insert_review_item(
        &mut self,
        workspace_id: &str,
        queue_id: &str,
        n: &NewReviewItem,
    ) -> Result<Option<ReviewItem>> {
        let item: Option<ReviewItem> = sqlx::query_as(
            "INSERT INTO review_items (id, workspace_id, queue_id, trace_id, source, input, output, model, model_version_id, \
             prompt_version_id, confidence, metadata, needed, expected, gated, callback_url, deadline, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (queue_id, trace_id) DO NOTHING RETURNING *",
        )
        .bind(juru_core::ids::new_id())
        .bind(workspace_id)
        .bind(queue_id)
        .bind(n.trace_id.clone())
        .bind(&n.source)
        .bind(&n.input)
        .bind(&n.output)
        .bind(&n.model)
        .bind(n.model_version_id.clone())
        .bind(n.prompt_version_id.clone())
        .bind(n.confidence)
        .bind(&n.metadata)
        .bind(n.needed)
        .bind(n.expected.clone())
        .bind(i64::from(n.gated))
        .bind(n.callback_url.clone())
        .bind(n.deadline)
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?;
        Ok(item)
    }

    /// Holds the next item for a reviewer: their own unfinished reservation first, then the
    /// first pending item they have not decided that still has room (decisions plus other
    /// reviewers' live reservations below what it needs; honeypots go to everyone), gated items
    /// first by deadline, then the oldest. The reservation lapses after `reservation_ms`.
    pub async fn reserve_review_item(
        &mut self,
        queue_id: &str,
        reviewer: &str,
        reservation_ms: i64,
    ) -> Result<Option<ReviewItem>> {
        let now = now_ms();
        let mine: Option<ReviewItem> = sqlx::query_as(
            "SELECT i.* FROM review_items i JOIN review_decisions d ON d.item_id = i.id \
             WHERE d.queue_id = $1 AND d.reviewer = $2 AND d.status = 'reserved' AND i.status = 'pending' \
             ORDER BY d.created_at LIMIT 1",
        )
        .bind(queue_id)
        .bind(reviewer)
        .fetch_optional(&mut **self)
        .await?;
        let item = match mine {
            Some(i) => i,
            None => {
                let next: Option<ReviewItem> = sqlx::query_as(
                    "SELECT i.* FROM review_items i WHERE i.queue_id = $1 AND i.status = 'pending' \
                     AND NOT EXISTS (SELECT 1 FROM review_decisions d WHERE d.item_id = i.id AND d.reviewer = $2) \
                     AND (i.expected IS NOT NULL OR i.submitted + (SELECT COUNT(*) FROM review_decisions r \
                          WHERE r.item_id = i.id AND r.status = 'reserved' AND r.reserved_until > $3) < i.needed) \
                     ORDER BY i.gated DESC, COALESCE(i.deadline, 9223372036854775807), i.created_at, i.id LIMIT 1",
                )
                .bind(queue_id)
                .bind(reviewer)
                .bind(now)
                .fetch_optional(&mut **self)
                .await?;
                match next {
                    Some(i) => i,
                    None => return Ok(None),
                }
            }
        };
        sqlx::query(
            "INSERT INTO review_decisions (id, item_id, queue_id, reviewer, status, reserved_until, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $6) \
             ON CONFLICT (item_id, reviewer) DO UPDATE SET reserved_until = $5, updated_at = $6",
        )
        .bind(juru_core::ids::new_id())
        .bind(&item.id)
        .bind(queue_id)
        .bind(reviewer)
        .bind(now + reservation_ms)
        .bind(now)
        .execute(&mut **self)
        .await?;
        Ok(Some(item))
    }

    /// Stores a reviewer's decision (or skip). A submitted decision raises the item's counter
    /// only while the item is pending and has room; otherwise nothing is written and the
    /// answer is `Refused`, naming why. Returns the decision and the item's count of submitted
    /// decisions after it.
    pub async fn write_review_decision(&mut self, w: &DecisionWrite<'_>) -> Result<(ReviewDecision, i64)> {
        let item = w.item;
        let existing: Option<ReviewDecision> =
            sqlx::query_as("SELECT * FROM review_decisions WHERE item_id = $1 AND reviewer = $2")
                .bind(&item.id)
                .bind(w.reviewer)
                .fetch_optional(&mut **self)
                .await?;
        if let Some(d) = &existing
            && d.status != "reserved"
        {
            return Err(StoreError::Refused(format!("you have already {} this item", past(&d.status))));
        }
        let mut submitted = item.submitted;
        if w.status == "submitted" {
            let counted = sqlx::query(
                "UPDATE review_items SET submitted = submitted + 1 \
                 WHERE id = $1 AND status = 'pending' AND (expected IS NOT NULL OR submitted < needed) RETURNING submitted",
            )
            .bind(&item.id)
            .fetch_optional(&mut **self)
            .await?;
            if let Some(row) = &counted {
                submitted = row.try_get("submitted")?;
            } else {
                let (status, submitted): (String, i64) =
                    sqlx::query_as("SELECT status, submitted FROM review_items WHERE id = $1")
                        .bind(&item.id)
                        .fetch_optional(&mut **self)
                        .await?
                        .ok_or_else(|| StoreError::not_found("review item", &item.id))?;
                return Err(StoreError::Refused(if status != "pending" {
                    format!("the item is already settled: {status}")
                } else {
                    format!("the item already has the {submitted} decision(s) it needs")
                }));
            }
        }
        let now = now_ms();
        let id = existing.map(|d| d.id).unwrap_or_else(juru_core::ids::new_id);
        let decision = sqlx::query_as(
            "INSERT INTO review_decisions (id, item_id, queue_id, reviewer, status, action, output, diff, reason, comment, \
             seconds, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
             ON CONFLICT (item_id, reviewer) DO UPDATE SET status = $5, action = $6, output = $7, diff = $8, reason = $9, \
             comment = $10, seconds = $11, reserved_until = NULL, updated_at = $12 RETURNING *",
        )
        .bind(&id)
        .bind(&item.id)
        .bind(&item.queue_id)
        .bind(w.reviewer)
        .bind(w.status)
        .bind(w.action.map(str::to_owned))
        .bind(w.output.clone())
        .bind(w.diff.clone())
        .bind(w.reason)
        .bind(w.comment)
        .bind(w.seconds)
        .bind(now)
        .fetch_one(&mut **self)
        .await?;
        Ok((decision, submitted))
    }

    /// The submitted decisions on an item, in the order they came, as this transaction sees them.
    pub async fn submitted_review_decisions(&mut self, item_id: &str) -> Result<Vec<ReviewDecision>> {
        Ok(sqlx::query_as(
            "SELECT * FROM review_decisions WHERE item_id = $1 AND status = 'submitted' ORDER BY updated_at, id",
        )
        .bind(item_id)
        .fetch_all(&mut **self)
        .await?)
    }

    /// Settles a pending item. `None` when it was no longer pending (a concurrent decision or
    /// the SLA timer got there first).
    pub async fn settle_review_item(
        &mut self,
        id: &str,
        status: &str,
        final_output: Option<String>,
        reason: &str,
    ) -> Result<Option<ReviewItem>> {
        Ok(sqlx::query_as(
            "UPDATE review_items SET status = $2, final_output = $3, outcome_reason = $4, decided_at = $5 \
             WHERE id = $1 AND status = 'pending' RETURNING *",
        )
        .bind(id)
        .bind(status)
        .bind(final_output)
        .bind(reason)
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?)
    }

    /// Lets go of a reviewer's unfinished reservations in a queue.
    pub async fn release_review_reservations(&mut self, queue_id: &str, reviewer: &str) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM review_decisions WHERE queue_id = $1 AND reviewer = $2 AND status = 'reserved'",
        )
        .bind(queue_id)
        .bind(reviewer)
        .execute(&mut **self)
        .await?
        .rows_affected())
    }
}

fn past(status: &str) -> &'static str {
    match status {
        "skipped" => "skipped",
        _ => "decided",
    }
}

impl Store {
    pub async fn review_queue(&self, workspace_id: &str, id_or_name: &str) -> Result<ReviewQueue> {
        sqlx::query_as("SELECT * FROM review_queues WHERE workspace_id = $1 AND (id = $2 OR name = $2)")
            .bind(workspace_id)
            .bind(id_or_name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("review queue", id_or_name))
    }

    pub async fn review_queues(&self, workspace_id: &str, page: &PageRequest) -> Result<Page<ReviewQueue>> {
        let rows: Vec<ReviewQueue> = sqlx::query_as(
            "SELECT * FROM review_queues WHERE workspace_id = $1 AND name > $2 ORDER BY name LIMIT $3",
        )
        .bind(workspace_id)
        .bind(page.cursor.clone().unwrap_or_default())
        .bind(page.limit() + 1)
        .fetch_all(self.pool())
        .await?;
        Ok(Page::from_rows(rows, page.limit(), |q| q.name.clone()))
    }

    pub async fn review_rule(
        &self,
        workspace_id: &str,
        queue_id: &str,
        id_or_name: &str,
    ) -> Result<ReviewRule> {
        sqlx::query_as(
            "SELECT * FROM review_rules WHERE workspace_id = $1 AND queue_id = $2 AND (id = $3 OR name = $3)",
        )
        .bind(workspace_id)
        .bind(queue_id)
        .bind(id_or_name)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("review rule", id_or_name))
    }

    /// A queue's rules, or (with `queue_id` None) every enabled rule of the workspace.
    pub async fn review_rules(&self, workspace_id: &str, queue_id: Option<&str>) -> Result<Vec<ReviewRule>> {
        let rows = match queue_id {
            Some(q) => {
                sqlx::query_as(
                    "SELECT * FROM review_rules WHERE workspace_id = $1 AND queue_id = $2 ORDER BY name",
                )
                .bind(workspace_id)
                .bind(q)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query_as(
                    "SELECT r.* FROM review_rules r JOIN review_queues q ON q.id = r.queue_id \
                     WHERE r.workspace_id = $1 AND r.enabled = 1 AND q.status = 'open' ORDER BY r.name",
                )
                .bind(workspace_id)
                .fetch_all(self.pool())
                .await?
            }
        };
        Ok(rows)
    }

    /// Ids of the workspace's traces with negative user feedback: a score named `feedback`
    /// with a value of 0 or less, or the label `negative`, `thumbs_down` or `bad`.
    pub async fn negative_feedback_traces(
        &self,
        workspace_id: &str,
    ) -> Result<std::collections::HashSet<String>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT target_id FROM scores WHERE workspace_id = $1 AND target_kind = 'trace' \
             AND name = 'feedback' AND (value <= 0 OR label IN ('negative', 'thumbs_down', 'bad'))",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().collect())
    }

    /// The traces a queue holds items for.
    pub async fn review_trace_ids(&self, queue_id: &str) -> Result<std::collections::HashSet<String>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT trace_id FROM review_items WHERE queue_id = $1 AND trace_id IS NOT NULL",
        )
        .bind(queue_id)
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().collect())
    }

    pub async fn review_item(&self, workspace_id: &str, id: &str) -> Result<ReviewItem> {
        sqlx::query_as("SELECT * FROM review_items WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("review item", id))
    }

    /// A queue's items, newest first, optionally of one status.
    pub async fn review_items(
        &self,
        queue_id: &str,
        status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ReviewItem>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM review_items WHERE ");
        q.push_bind("queue_id = {}", queue_id.to_owned());
        if let Some(s) = status {
            q.push_bind(" AND status = {}", s.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(ReviewItem::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |i| i.id.clone()))
    }

    /// Every settled item of a queue whose id is after `after`, in id order (for exports).
    pub async fn settled_review_items(
        &self,
        queue_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ReviewItem>> {
        Ok(sqlx::query_as(
            "SELECT * FROM review_items WHERE queue_id = $1 AND status <> 'pending' AND expected IS NULL AND id > $2 \
             ORDER BY id LIMIT $3",
        )
        .bind(queue_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Gated items of every workspace whose SLA deadline has passed while still pending.
    pub async fn overdue_review_items(&self, now: i64, limit: i64) -> Result<Vec<ReviewItem>> {
        Ok(sqlx::query_as(
            "SELECT * FROM review_items WHERE status = 'pending' AND gated = 1 AND deadline <= $1 ORDER BY deadline LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn review_decisions_of(&self, item_id: &str) -> Result<Vec<ReviewDecision>> {
        Ok(sqlx::query_as("SELECT * FROM review_decisions WHERE item_id = $1 ORDER BY updated_at, id")
            .bind(item_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Every submitted decision in a queue, with the item's model version, honeypot answer and
    /// settled status alongside.
    pub async fn review_decisions_in(
        &self,
        queue_id: &str,
    ) -> Result<Vec<(ReviewDecision, DecisionContext)>> {
        let rows = sqlx::query(
            "SELECT d.*, i.model_version_id AS i_model_version_id, i.model AS i_model, i.expected AS i_expected, \
             i.status AS i_status FROM review_decisions d JOIN review_items i ON i.id = d.item_id \
             WHERE d.queue_id = $1 AND d.status = 'submitted' ORDER BY d.item_id, d.updated_at",
        )
        .bind(queue_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    ReviewDecision::from_row(r)?,
                    DecisionContext {
                        model: r.try_get("i_model")?,
                        model_version_id: r.try_get("i_model_version_id")?,
                        expected: r.try_get("i_expected")?,
                        item_status: r.try_get("i_status")?,
                    },
                ))
            })
            .collect()
    }

    /// Settled items per model version and status (honeypots left out).
    pub async fn review_outcomes_by_model(
        &self,
        queue_id: &str,
    ) -> Result<Vec<(String, Option<String>, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT model, model_version_id, status, COUNT(*) AS n FROM review_items \
             WHERE queue_id = $1 AND expected IS NULL AND status <> 'pending' \
             GROUP BY model, model_version_id, status ORDER BY model, model_version_id, status",
        )
        .bind(queue_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn review_queue_counts(&self, queue_id: &str) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COUNT(CASE WHEN status = 'pending' AND expected IS NULL THEN 1 END) AS pending, \
             COUNT(CASE WHEN status = 'approved' THEN 1 END) AS approved, \
             COUNT(CASE WHEN status = 'edited' THEN 1 END) AS edited, \
             COUNT(CASE WHEN status = 'rejected' THEN 1 END) AS rejected, \
             COUNT(CASE WHEN status IN ('released', 'blocked', 'fallback') THEN 1 END) AS timed_out, \
             COUNT(CASE WHEN expected IS NOT NULL THEN 1 END) AS honeypots \
             FROM review_items WHERE queue_id = $1",
        )
        .bind(queue_id)
        .fetch_one(self.pool())
        .await?;
        let decisions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM review_decisions WHERE queue_id = $1 AND status = 'submitted'",
        )
        .bind(queue_id)
        .fetch_one(self.pool())
        .await?;
        Ok(QueueCounts {
            pending: row.try_get("pending")?,
            approved: row.try_get("approved")?,
            edited: row.try_get("edited")?,
            rejected: row.try_get("rejected")?,
            timed_out: row.try_get("timed_out")?,
            honeypots: row.try_get("honeypots")?,
            decisions,
        })
    }
}

/// What a decision is judged against on the quality page.
#[derive(Debug, Clone)]
pub struct DecisionContext {
    pub model: String,
    pub model_version_id: Option<String>,
    pub expected: Option<String>,
    pub item_status: String,
}
