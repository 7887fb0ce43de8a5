//! Scores: numbers or labels that people, models or rules attach to traces and items.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Sql, Store, WriteTx};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Score {
    pub id: String,
    pub workspace_id: String,
    /// `trace` or `item`.
    pub target_kind: String,
    /// A trace id, or `<dataset version id>:<item index>`.
    pub target_id: String,
    pub name: String,
    pub value: Option<f64>,
    pub label: Option<String>,
    pub comment: String,
    /// `human`, `model` or `rule`.
    pub source: String,
    pub author: String,
    pub created_at: i64,
}

impl WriteTx {
    pub async fn insert_score(&mut self, s: &Score) -> Result<()> {
        sqlx::query(
            "INSERT INTO scores (id, workspace_id, target_kind, target_id, name, value, label, comment, source, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&s.id)
        .bind(&s.workspace_id)
        .bind(&s.target_kind)
        .bind(&s.target_id)
        .bind(&s.name)
        .bind(s.value)
        .bind(s.label.clone())
        .bind(&s.comment)
        .bind(&s.source)
        .bind(&s.author)
        .bind(s.created_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    pub async fn delete_score(&mut self, workspace_id: &str, id: &str) -> Result<Score> {
        sqlx::query_as("DELETE FROM scores WHERE workspace_id = $1 AND id = $2 RETURNING *")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut **self)
            .await?
            .ok_or_else(|| StoreError::not_found("score", id))
    }
}

/// Filters for listing scores.
#[derive(Debug, Clone, Default)]
pub struct ScoreFilter {
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub name: Option<String>,
    pub source: Option<String>,
}

impl Store {
    pub async fn score(&self, workspace_id: &str, id: &str) -> Result<Score> {
        sqlx::query_as("SELECT * FROM scores WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("score", id))
    }

    pub async fn scores(
        &self,
        workspace_id: &str,
        f: &ScoreFilter,
        page: &PageRequest,
    ) -> Result<Page<Score>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM scores WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        for (col, v) in [
            ("target_kind", &f.target_kind),
            ("target_id", &f.target_id),
            ("name", &f.name),
            ("source", &f.source),
        ] {
            if let Some(v) = v {
                q.push_bind(&format!(" AND {col} = {{}}"), v.clone());
            }
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id > {}", c.clone());
        }
        q.push_bind(" ORDER BY id LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(Score::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }
}
