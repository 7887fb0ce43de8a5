//! Prompts: immutable numbered versions, labels that point at them, and the history of every
//! label move.

use serde::Serialize;
use sqlx::{FromRow, Row};

use crate::db::{Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Prompt {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// `text` or `chat`.
    pub kind: String,
    pub description: String,
    pub latest: i64,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct PromptVersion {
    pub prompt_id: String,
    pub version: i64,
    pub content_hash: String,
    /// JSON text: a string, or a list of chat messages.
    pub template: String,
    /// JSON text of the variables' JSON Schema.
    pub variables: String,
    /// JSON text of the model settings.
    pub config: String,
    /// JSON list of the references the template includes.
    pub includes: String,
    pub author: String,
    pub message: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct PromptLabel {
    pub prompt_id: String,
    pub label: String,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LabelMove {
    pub id: String,
    pub prompt_id: String,
    pub label: String,
    /// None: the label was new.
    pub from_version: Option<i64>,
    /// None: the label was removed.
    pub to_version: Option<i64>,
    pub moved_by: String,
    pub reason: String,
    pub created_at: i64,
}

/// A request to move (or remove) a protected label, waiting for a second person.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Promotion {
    pub id: String,
    pub prompt_id: String,
    pub label: String,
    /// Where the label pointed when the request was made.
    pub from_version: Option<i64>,
    /// None: remove the label.
    pub to_version: Option<i64>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// User id of who asked.
    pub requested_by: String,
    /// Their name as the audit log writes it.
    pub requester: String,
    pub reason: String,
    pub decided_by: Option<String>,
    pub decision_note: String,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    /// The eval run that must pass before approval, when the label names a suite.
    pub eval_run_id: Option<String>,
}

/// A protected label, and the suite a version must pass before it moves there.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ProtectedLabel {
    pub label: String,
    pub suite: Option<String>,
}

/// A version's content, as the desk checked it.
#[derive(Debug, Clone)]
pub struct NewPromptVersion {
    pub content_hash: String,
    pub template: String,
    pub variables: String,
    pub config: String,
    pub includes: String,
    pub author: String,
    pub message: String,
}

impl WriteTx {
    pub async fn insert_prompt(&mut self, p: &Prompt) -> Result<()> {
        self.touched.prompts = true;
        sqlx::query(
            "INSERT INTO prompts (id, workspace_id, name, kind, description, latest, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.workspace_id)
        .bind(&p.name)
        .bind(&p.kind)
        .bind(&p.description)
        .bind(&p.created_by)
        .bind(p.created_at)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("prompt", p.name.clone()))?;
        Ok(())
    }

    /// Adds the next version of a prompt. The number comes from raising `prompts.latest` in
    /// this transaction, so two concurrent saves never get the same one.
    pub async fn insert_prompt_version(
        &mut self,
        prompt_id: &str,
        v: &NewPromptVersion,
    ) -> Result<PromptVersion> {
        self.touched.prompts = true;
        let (version,): (i64,) =
            sqlx::query_as("UPDATE prompts SET latest = latest + 1 WHERE id = $1 RETURNING latest")
                .bind(prompt_id)
                .fetch_optional(&mut **self)
                .await?
                .ok_or_else(|| StoreError::not_found("prompt", prompt_id))?;
        Ok(sqlx::query_as(
            "INSERT INTO prompt_versions (prompt_id, version, content_hash, template, variables, config, includes, author, \
             message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        )
        .bind(prompt_id)
        .bind(version)
        .bind(&v.content_hash)
        .bind(&v.template)
        .bind(&v.variables)
        .bind(&v.config)
        .bind(&v.includes)
        .bind(&v.author)
        .bind(&v.message)
        .bind(now_ms())
        .fetch_one(&mut **self)
        .await?)
    }

    /// Points `label` at `version` (None removes it) and records the move. Returns the version
    /// it pointed at before.
    pub async fn move_prompt_label(
        &mut self,
        prompt_id: &str,
        label: &str,
        version: Option<i64>,
        moved_by: &str,
        reason: &str,
    ) -> Result<Option<i64>> {
        self.touched.prompts = true;
        let before: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM prompt_labels WHERE prompt_id = $1 AND label = $2")
                .bind(prompt_id)
                .bind(label)
                .fetch_optional(&mut **self)
                .await?;
        let before = before.map(|(v,)| v);
        let now = now_ms();
        match version {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO prompt_labels (prompt_id, label, version, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (prompt_id, label) DO UPDATE SET version = $3, updated_by = $4, updated_at = $5",
                )
                .bind(prompt_id)
                .bind(label)
                .bind(v)
                .bind(moved_by)
                .bind(now)
                .execute(&mut **self)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM prompt_labels WHERE prompt_id = $1 AND label = $2")
                    .bind(prompt_id)
                    .bind(label)
                    .execute(&mut **self)
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO prompt_label_moves (id, prompt_id, label, from_version, to_version, moved_by, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(juru_core::ids::new_id())
        .bind(prompt_id)
        .bind(label)
        .bind(before)
        .bind(version)
        .bind(moved_by)
        .bind(reason)
        .bind(now)
        .execute(&mut **self)
        .await?;
        Ok(before)
    }
}

impl WriteTx {
    pub async fn set_protected_label(
        &mut self,
        workspace_id: &str,
        label: &str,
        protect: bool,
        suite: Option<&str>,
        by: &str,
    ) -> Result<bool> {
        let n = if protect {
            sqlx::query(
                "INSERT INTO prompt_protected_labels (workspace_id, label, created_by, created_at, suite) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (workspace_id, label) DO UPDATE SET suite = $5",
            )
            .bind(workspace_id)
            .bind(label)
            .bind(by)
            .bind(now_ms())
            .bind(suite)
            .execute(&mut **self)
            .await?
        } else {
            sqlx::query("DELETE FROM prompt_protected_labels WHERE workspace_id = $1 AND label = $2")
                .bind(workspace_id)
                .bind(label)
                .execute(&mut **self)
                .await?
        };
        Ok(n.rows_affected() > 0)
    }

    pub async fn insert_promotion(&mut self, p: &Promotion) -> Result<()> {
        sqlx::query(
            "INSERT INTO prompt_promotions (id, prompt_id, label, from_version, to_version, status, requested_by, requester, \
             reason, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)",
        )
        .bind(&p.id)
        .bind(&p.prompt_id)
        .bind(&p.label)
        .bind(p.from_version)
        .bind(p.to_version)
        .bind(&p.requested_by)
        .bind(&p.requester)
        .bind(&p.reason)
        .bind(p.created_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    /// Decides a pending request; `None` when it was no longer pending.
    pub async fn decide_promotion(
        &mut self,
        id: &str,
        status: &str,
        by: &str,
        note: &str,
    ) -> Result<Option<Promotion>> {
        Ok(sqlx::query_as(
            "UPDATE prompt_promotions SET status = $2, decided_by = $3, decision_note = $4, decided_at = $5 \
             WHERE id = $1 AND status = 'pending' RETURNING *",
        )
        .bind(id)
        .bind(status)
        .bind(by)
        .bind(note)
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?)
    }
}

impl WriteTx {
    pub async fn set_prompt_webhook(
        &mut self,
        workspace_id: &str,
        url: &str,
        on: bool,
        by: &str,
    ) -> Result<bool> {
        let n = if on {
            sqlx::query(
                "INSERT INTO prompt_webhooks (workspace_id, url, created_by, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace_id, url) DO NOTHING",
            )
            .bind(workspace_id)
            .bind(url)
            .bind(by)
            .bind(now_ms())
            .execute(&mut **self)
            .await?
        } else {
            sqlx::query("DELETE FROM prompt_webhooks WHERE workspace_id = $1 AND url = $2")
                .bind(workspace_id)
                .bind(url)
                .execute(&mut **self)
                .await?
        };
        Ok(n.rows_affected() > 0)
    }

    /// The workspace's prompt webhooks, read inside the transaction that moves a label.
    pub async fn prompt_webhook_urls(&mut self, workspace_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT url FROM prompt_webhooks WHERE workspace_id = $1 ORDER BY url")
            .bind(workspace_id)
            .fetch_all(&mut **self)
            .await?)
    }
}

impl Store {
    pub async fn prompt_webhooks(&self, workspace_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT url FROM prompt_webhooks WHERE workspace_id = $1 ORDER BY url")
            .bind(workspace_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Protected labels with the suite each requires.
    pub async fn protected_label_suites(&self, workspace_id: &str) -> Result<Vec<ProtectedLabel>> {
        Ok(sqlx::query_as(
            "SELECT label, suite FROM prompt_protected_labels WHERE workspace_id = $1 ORDER BY label",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn protected_labels(&self, workspace_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT label FROM prompt_protected_labels WHERE workspace_id = $1 ORDER BY label",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn promotion(&self, prompt_id: &str, id: &str) -> Result<Promotion> {
        sqlx::query_as("SELECT * FROM prompt_promotions WHERE prompt_id = $1 AND id = $2")
            .bind(prompt_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("promotion request", id))
    }

    /// A prompt's promotion requests, newest first.
    pub async fn promotions(&self, prompt_id: &str) -> Result<Vec<Promotion>> {
        Ok(sqlx::query_as(
            "SELECT * FROM prompt_promotions WHERE prompt_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(prompt_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// A prompt and its labels in one query (the delivery path), kept in memory (see
    /// [`crate::hot`]).
    pub async fn prompt_with_labels(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<(Prompt, Vec<PromptLabel>)> {
        let kept = &self.hot.prompts;
        let key = (workspace_id.to_owned(), name.to_owned());
        if let Some(answer) = kept.get(&key) {
            return Ok(answer);
        }
        let generation = kept.generation();
        let rows = sqlx::query(
            "SELECT p.id, p.workspace_id, p.name, p.kind, p.description, p.latest, p.created_by, p.created_at, \
             l.label, l.version, l.updated_by, l.updated_at \
             FROM prompts p LEFT JOIN prompt_labels l ON l.prompt_id = p.id \
             WHERE p.workspace_id = $1 AND (p.name = $2 OR p.id = $2) ORDER BY l.label",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_all(self.pool())
        .await?;
        let first = rows.first().ok_or_else(|| StoreError::not_found("prompt", name))?;
        let prompt = Prompt::from_row(first)?;
        let mut labels = Vec::new();
        for r in &rows {
            if let Some(label) = r.try_get::<Option<String>, _>("label")? {
                labels.push(PromptLabel {
                    prompt_id: prompt.id.clone(),
                    label,
                    version: r.try_get("version")?,
                    updated_by: r.try_get("updated_by")?,
                    updated_at: r.try_get("updated_at")?,
                });
            }
        }
        kept.put(key, (prompt.clone(), labels.clone()), generation);
        Ok((prompt, labels))
    }

    pub async fn prompt(&self, workspace_id: &str, name: &str) -> Result<Prompt> {
        sqlx::query_as("SELECT * FROM prompts WHERE workspace_id = $1 AND (name = $2 OR id = $2)")
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("prompt", name))
    }

    pub async fn prompts(&self, workspace_id: &str, page: &PageRequest) -> Result<Page<Prompt>> {
        let rows: Vec<Prompt> = sqlx::query_as(
            "SELECT * FROM prompts WHERE workspace_id = $1 AND name > $2 ORDER BY name LIMIT $3",
        )
        .bind(workspace_id)
        .bind(page.cursor.clone().unwrap_or_default())
        .bind(page.limit() + 1)
        .fetch_all(self.pool())
        .await?;
        Ok(Page::from_rows(rows, page.limit(), |p| p.name.clone()))
    }

    pub async fn prompt_version(&self, prompt_id: &str, version: i64) -> Result<PromptVersion> {
        sqlx::query_as("SELECT * FROM prompt_versions WHERE prompt_id = $1 AND version = $2")
            .bind(prompt_id)
            .bind(version)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("prompt version", version.to_string()))
    }

    /// Versions, newest first.
    pub async fn prompt_versions(&self, prompt_id: &str) -> Result<Vec<PromptVersion>> {
        Ok(sqlx::query_as("SELECT * FROM prompt_versions WHERE prompt_id = $1 ORDER BY version DESC")
            .bind(prompt_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn prompt_labels(&self, prompt_id: &str) -> Result<Vec<PromptLabel>> {
        Ok(sqlx::query_as("SELECT * FROM prompt_labels WHERE prompt_id = $1 ORDER BY label")
            .bind(prompt_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// A label's moves, newest first.
    pub async fn prompt_label_moves(&self, prompt_id: &str, label: &str) -> Result<Vec<LabelMove>> {
        Ok(sqlx::query_as(
            "SELECT * FROM prompt_label_moves WHERE prompt_id = $1 AND label = $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(prompt_id)
        .bind(label)
        .fetch_all(self.pool())
        .await?)
    }

    /// Label moves of every workspace written at or after `since_ms`, oldest first (for relaying
    /// them to listeners, whichever process made them).
    pub async fn label_moves_since(&self, since_ms: i64) -> Result<Vec<RecentMove>> {
        Ok(sqlx::query_as(
            "SELECT m.id, p.workspace_id, p.name AS prompt, m.label, m.to_version, m.created_at \
             FROM prompt_label_moves m JOIN prompts p ON p.id = m.prompt_id \
             WHERE m.created_at >= $1 ORDER BY m.created_at, m.id",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?)
    }
}

/// A label move with the prompt it moved on.
#[derive(Debug, Clone, FromRow)]
pub struct RecentMove {
    pub id: String,
    pub workspace_id: String,
    pub prompt: String,
    pub label: String,
    pub to_version: Option<i64>,
    pub created_at: i64,
}
