//! The model registry: models, their immutable versions, and movable aliases.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Model {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub task: String,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ModelVersion {
    pub id: String,
    pub model_id: String,
    pub workspace_id: String,
    pub version: i64,
    pub format: String,
    pub artifact_uri: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub source: String,
    /// JSON: training dataset version, parent version, recipe.
    pub lineage: String,
    /// JSON: evaluation results.
    pub metrics: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ModelAlias {
    pub model_id: String,
    pub alias: String,
    pub version_id: String,
    pub workspace_id: String,
    pub updated_by: String,
    pub updated_at: i64,
}

/// A new version's fields; the number is assigned by the store.
#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    pub format: String,
    pub artifact_uri: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub source: String,
    pub lineage: String,
    pub metrics: String,
}

impl WriteTx {
    pub async fn insert_model(
        &mut self,
        workspace_id: &str,
        name: &str,
        task: &str,
        description: &str,
        created_by: &str,
    ) -> Result<Model> {
        let now = now_ms();
        let m = Model {
            id: juru_core::ids::new_id(),
            workspace_id: workspace_id.to_owned(),
            name: name.to_owned(),
            task: task.to_owned(),
            description: description.to_owned(),
            created_by: created_by.to_owned(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO models (id, workspace_id, name, task, description, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&m.id)
        .bind(&m.workspace_id)
        .bind(&m.name)
        .bind(&m.task)
        .bind(&m.description)
        .bind(&m.created_by)
        .bind(now)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("model", name))?;
        Ok(m)
    }

    pub async fn update_model(
        &mut self,
        workspace_id: &str,
        id: &str,
        task: Option<&str>,
        description: Option<&str>,
    ) -> Result<Model> {
        sqlx::query_as(
            "UPDATE models SET task = COALESCE($3, task), description = COALESCE($4, description), updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2 RETURNING *",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(task.map(str::to_owned))
        .bind(description.map(str::to_owned))
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("model", id))
    }

    pub async fn insert_model_version(
        &mut self,
        model: &Model,
        v: &NewModelVersion,
        created_by: &str,
    ) -> Result<ModelVersion> {
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model_id = $1",
        )
        .bind(&model.id)
        .fetch_one(&mut **self)
        .await?;
        let row = ModelVersion {
            id: juru_core::ids::new_id(),
            model_id: model.id.clone(),
            workspace_id: model.workspace_id.clone(),
            version: next,
            format: v.format.clone(),
            artifact_uri: v.artifact_uri.clone(),
            sha256: v.sha256.clone(),
            size_bytes: v.size_bytes,
            source: v.source.clone(),
            lineage: v.lineage.clone(),
            metrics: v.metrics.clone(),
            created_by: created_by.to_owned(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO model_versions (id, model_id, workspace_id, version, format, artifact_uri, sha256, size_bytes, source, \
             lineage, metrics, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&row.id)
        .bind(&row.model_id)
        .bind(&row.workspace_id)
        .bind(row.version)
        .bind(&row.format)
        .bind(&row.artifact_uri)
        .bind(&row.sha256)
        .bind(row.size_bytes)
        .bind(&row.source)
        .bind(&row.lineage)
        .bind(&row.metrics)
        .bind(&row.created_by)
        .bind(row.created_at)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("model version", next.to_string()))?;
        Ok(row)
    }

    /// Stores the sealed credential of a version (an external provider's API key).
    pub async fn insert_model_credential(&mut self, version: &ModelVersion, sealed: &str) -> Result<()> {
        sqlx::query("INSERT INTO model_credentials (version_id, workspace_id, sealed, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&version.id)
            .bind(&version.workspace_id)
            .bind(sealed)
            .bind(now_ms())
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    /// Points `alias` at a version; returns the version it pointed at before, if any.
    pub async fn set_model_alias(
        &mut self,
        model: &Model,
        alias: &str,
        version_id: &str,
        updated_by: &str,
    ) -> Result<Option<String>> {
        let before: Option<String> =
            sqlx::query_scalar("SELECT version_id FROM model_aliases WHERE model_id = $1 AND alias = $2")
                .bind(&model.id)
                .bind(alias)
                .fetch_optional(&mut **self)
                .await?;
        let now = now_ms();
        if before.is_some() {
            sqlx::query(
                "UPDATE model_aliases SET version_id = $3, updated_by = $4, updated_at = $5 WHERE model_id = $1 AND alias = $2",
            )
            .bind(&model.id)
            .bind(alias)
            .bind(version_id)
            .bind(updated_by)
            .bind(now)
            .execute(&mut **self)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO model_aliases (model_id, alias, version_id, workspace_id, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&model.id)
            .bind(alias)
            .bind(version_id)
            .bind(&model.workspace_id)
            .bind(updated_by)
            .bind(now)
            .execute(&mut **self)
            .await?;
        }
        Ok(before)
    }

    pub async fn delete_model_alias(&mut self, model: &Model, alias: &str) -> Result<String> {
        let before: String = sqlx::query_scalar(
            "DELETE FROM model_aliases WHERE model_id = $1 AND alias = $2 RETURNING version_id",
        )
        .bind(&model.id)
        .bind(alias)
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("model alias", alias))?;
        Ok(before)
    }
}

impl Store {
    pub async fn model(&self, workspace_id: &str, id_or_name: &str) -> Result<Model> {
        sqlx::query_as("SELECT * FROM models WHERE workspace_id = $1 AND (id = $2 OR name = $2)")
            .bind(workspace_id)
            .bind(id_or_name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("model", id_or_name))
    }

    pub async fn models(
        &self,
        workspace_id: &str,
        task: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Model>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM models WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(t) = task {
            q.push_bind(" AND task = {}", t.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id > {}", c.clone());
        }
        q.push_bind(" ORDER BY id LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(Model::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }

    /// The sealed credential of a version, if it has one.
    pub async fn model_credential(&self, version_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT sealed FROM model_credentials WHERE version_id = $1")
            .bind(version_id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn model_versions(&self, model_id: &str) -> Result<Vec<ModelVersion>> {
        Ok(sqlx::query_as("SELECT * FROM model_versions WHERE model_id = $1 ORDER BY version")
            .bind(model_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn model_version(&self, model_id: &str, version: i64) -> Result<ModelVersion> {
        sqlx::query_as("SELECT * FROM model_versions WHERE model_id = $1 AND version = $2")
            .bind(model_id)
            .bind(version)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("model version", version.to_string()))
    }

    pub async fn model_aliases(&self, model_id: &str) -> Result<Vec<ModelAlias>> {
        Ok(sqlx::query_as("SELECT * FROM model_aliases WHERE model_id = $1 ORDER BY alias")
            .bind(model_id)
            .fetch_all(self.pool())
            .await?)
    }
}
