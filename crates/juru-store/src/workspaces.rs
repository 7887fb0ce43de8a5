//! Workspaces: the tenants every other object belongs to.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WriteTx {
    pub async fn insert_workspace(
        &mut self,
        name: &str,
        display_name: &str,
        description: &str,
    ) -> Result<Workspace> {
        let now = now_ms();
        let ws = Workspace {
            id: juru_core::ids::new_id(),
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            description: description.to_owned(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO workspaces (id, name, display_name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&ws.id)
        .bind(&ws.name)
        .bind(&ws.display_name)
        .bind(&ws.description)
        .bind(now)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("workspace", name))?;
        Ok(ws)
    }
}

impl Store {
    pub async fn workspace_by_name(&self, name: &str) -> Result<Workspace> {
        sqlx::query_as("SELECT * FROM workspaces WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("workspace", name))
    }

    pub async fn workspace(&self, id: &str) -> Result<Workspace> {
        sqlx::query_as("SELECT * FROM workspaces WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("workspace", id))
    }

    /// Workspaces where the user holds a role; all of them for a server administrator.
    pub async fn workspaces_of(&self, user_id: &str, is_admin: bool) -> Result<Vec<Workspace>> {
        let rows = if is_admin {
            sqlx::query_as("SELECT * FROM workspaces ORDER BY name").fetch_all(self.pool()).await?
        } else {
            sqlx::query_as(
                "SELECT * FROM workspaces WHERE id IN (SELECT workspace_id FROM role_grants WHERE user_id = $1) ORDER BY name",
            )
            .bind(user_id)
            .fetch_all(self.pool())
            .await?
        };
        Ok(rows)
    }

    pub async fn workspace_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM workspaces").fetch_one(self.pool()).await?)
    }
}
