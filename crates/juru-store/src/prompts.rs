//! Prompts: immutable numbered versions, labels that point at them, and the history of every
//! label move.

use serde::Serialize;
use sqlx::FromRow;

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

impl Store {
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
}
