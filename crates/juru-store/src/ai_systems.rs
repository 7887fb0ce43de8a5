//! AI systems: the inventory of use cases (purpose, owner, risk tier, where deployed).

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct AiSystem {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub purpose: String,
    pub owner: String,
    pub risk_tier: String,
    pub deployment: String,
    /// JSON object text.
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields a caller sets; `None` keeps the stored value on update.
#[derive(Debug, Clone, Default)]
pub struct AiSystemFields {
    pub name: Option<String>,
    pub purpose: Option<String>,
    pub owner: Option<String>,
    pub risk_tier: Option<String>,
    pub deployment: Option<String>,
    pub metadata: Option<String>,
}

impl WriteTx {
    pub async fn insert_ai_system(&mut self, workspace_id: &str, f: &AiSystemFields) -> Result<AiSystem> {
        let now = now_ms();
        let name = f.name.clone().unwrap_or_default();
        let row = AiSystem {
            id: juru_core::ids::new_id(),
            workspace_id: workspace_id.to_owned(),
            name: name.clone(),
            purpose: f.purpose.clone().unwrap_or_default(),
            owner: f.owner.clone().unwrap_or_default(),
            risk_tier: f.risk_tier.clone().unwrap_or_else(|| "unassessed".into()),
            deployment: f.deployment.clone().unwrap_or_default(),
            metadata: f.metadata.clone().unwrap_or_else(|| "{}".into()),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO ai_systems (id, workspace_id, name, purpose, owner, risk_tier, deployment, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(&row.name)
        .bind(&row.purpose)
        .bind(&row.owner)
        .bind(&row.risk_tier)
        .bind(&row.deployment)
        .bind(&row.metadata)
        .bind(now)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("AI system", name))?;
        Ok(row)
    }

    pub async fn update_ai_system(
        &mut self,
        workspace_id: &str,
        id: &str,
        f: &AiSystemFields,
    ) -> Result<AiSystem> {
        sqlx::query_as(
            "UPDATE ai_systems SET name = COALESCE($3, name), purpose = COALESCE($4, purpose), owner = COALESCE($5, owner), \
             risk_tier = COALESCE($6, risk_tier), deployment = COALESCE($7, deployment), metadata = COALESCE($8, metadata), \
             updated_at = $9 WHERE workspace_id = $1 AND id = $2 RETURNING *",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(f.name.clone())
        .bind(f.purpose.clone())
        .bind(f.owner.clone())
        .bind(f.risk_tier.clone())
        .bind(f.deployment.clone())
        .bind(f.metadata.clone())
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("AI system", f.name.clone().unwrap_or_default()))?
        .ok_or_else(|| StoreError::not_found("AI system", id))
    }

    pub async fn delete_ai_system(&mut self, workspace_id: &str, id: &str) -> Result<AiSystem> {
        sqlx::query_as("DELETE FROM ai_systems WHERE workspace_id = $1 AND id = $2 RETURNING *")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut **self)
            .await?
            .ok_or_else(|| StoreError::not_found("AI system", id))
    }
}

impl Store {
    pub async fn ai_system(&self, workspace_id: &str, id: &str) -> Result<AiSystem> {
        sqlx::query_as("SELECT * FROM ai_systems WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("AI system", id))
    }

    pub async fn ai_systems(
        &self,
        workspace_id: &str,
        risk_tier: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AiSystem>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM ai_systems WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(tier) = risk_tier {
            q.push_bind(" AND risk_tier = {}", tier.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id > {}", c.clone());
        }
        q.push_bind(" ORDER BY id LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(AiSystem::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }
}
