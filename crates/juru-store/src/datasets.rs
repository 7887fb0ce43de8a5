//! Datasets, their immutable versions, and items.
//!
//! An import writes in chunks so that progress can be shown and other writers are not held up,
//! yet it stays all-or-nothing: the dataset and version rows carry `status = 'importing'` and a
//! lease until the last chunk is in, and only [`WriteTx::finish_import`] (in the same
//! transaction as its audit entry) makes them `ready`. Readers see `ready` rows only; an import
//! that died (its lease ran out) is deleted by [`Store::delete_expired_imports`].

use serde::Serialize;
use sqlx::{FromRow, Row};

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Dataset {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    pub status: String,
    #[serde(skip)]
    pub lease_until: Option<i64>,
    pub latest_version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct DatasetVersion {
    pub id: String,
    pub dataset_id: String,
    pub workspace_id: String,
    pub version: Option<i64>,
    pub status: String,
    /// JSON text of a `juru_core::dataset::Schema`.
    pub schema: String,
    pub row_count: i64,
    pub content_hash: String,
    pub source: String,
    pub message: String,
    pub created_by: String,
    pub created_at: i64,
    #[serde(skip)]
    pub lease_until: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub idx: i64,
    /// JSON object text.
    pub data: String,
}

/// An import in progress.
#[derive(Debug, Clone)]
pub struct ImportSlot {
    pub dataset_id: String,
    pub version_id: String,
    /// Whether the import created the dataset (and so deletes it when it fails).
    pub new_dataset: bool,
}

/// What a finished import records on its version.
#[derive(Debug, Clone)]
pub struct ImportSummary<'a> {
    pub schema: &'a str,
    pub row_count: i64,
    pub content_hash: &'a str,
    pub source: &'a str,
    pub message: &'a str,
}

const ITEMS_PER_STATEMENT: usize = 500;

impl WriteTx {
    /// Reserves a new dataset (409 when the name is taken) and its first version.
    pub async fn begin_import_new(
        &mut self,
        workspace_id: &str,
        name: &str,
        description: &str,
        created_by: &str,
        lease_ms: i64,
    ) -> Result<ImportSlot> {
        let now = now_ms();
        let dataset_id = juru_core::ids::new_id();
        sqlx::query(
            "INSERT INTO datasets (id, workspace_id, name, description, status, lease_until, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'importing', $5, $6, $7, $7)",
        )
        .bind(&dataset_id)
        .bind(workspace_id)
        .bind(name)
        .bind(description)
        .bind(now + lease_ms)
        .bind(created_by)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("dataset", name))?;
        let version_id =
            self.insert_importing_version(workspace_id, &dataset_id, created_by, lease_ms).await?;
        Ok(ImportSlot { dataset_id, version_id, new_dataset: true })
    }

    /// Reserves a new version of an existing, ready dataset.
    pub async fn begin_import_version(
        &mut self,
        dataset: &Dataset,
        created_by: &str,
        lease_ms: i64,
    ) -> Result<ImportSlot> {
        let version_id =
            self.insert_importing_version(&dataset.workspace_id, &dataset.id, created_by, lease_ms).await?;
        Ok(ImportSlot { dataset_id: dataset.id.clone(), version_id, new_dataset: false })
    }

    async fn insert_importing_version(
        &mut self,
        workspace_id: &str,
        dataset_id: &str,
        created_by: &str,
        lease_ms: i64,
    ) -> Result<String> {
        let now = now_ms();
        let id = juru_core::ids::new_id();
        sqlx::query(
            "INSERT INTO dataset_versions (id, dataset_id, workspace_id, status, created_by, created_at, lease_until) \
             VALUES ($1, $2, $3, 'importing', $4, $5, $6)",
        )
        .bind(&id)
        .bind(dataset_id)
        .bind(workspace_id)
        .bind(created_by)
        .bind(now)
        .bind(now + lease_ms)
        .execute(&mut **self)
        .await?;
        Ok(id)
    }

    /// Appends items `first_idx..` to an importing version, and renews the import's lease.
    pub async fn insert_items(
        &mut self,
        slot: &ImportSlot,
        first_idx: i64,
        rows: &[String],
        lease_ms: i64,
    ) -> Result<()> {
        let mut idx = first_idx;
        for chunk in rows.chunks(ITEMS_PER_STATEMENT) {
            let mut q = Sql::new(self.backend(), "INSERT INTO items (version_id, idx, data) VALUES ");
            for (i, data) in chunk.iter().enumerate() {
                let (a, b, c) = (q.bind(slot.version_id.clone()), q.bind(idx), q.bind(data.clone()));
                q.push(if i > 0 { ",(" } else { "(" }).push(&format!("{a},{b},{c})"));
                idx += 1;
            }
            q.execute(&mut **self).await?;
        }
        let until = now_ms() + lease_ms;
        sqlx::query("UPDATE dataset_versions SET lease_until = $2 WHERE id = $1 AND status = 'importing'")
            .bind(&slot.version_id)
            .bind(until)
            .execute(&mut **self)
            .await?;
        if slot.new_dataset {
            sqlx::query("UPDATE datasets SET lease_until = $2 WHERE id = $1 AND status = 'importing'")
                .bind(&slot.dataset_id)
                .bind(until)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }

    /// Makes an import visible: numbers the version and marks it and its dataset ready.
    pub async fn finish_import(
        &mut self,
        slot: &ImportSlot,
        s: &ImportSummary<'_>,
    ) -> Result<DatasetVersion> {
        let now = now_ms();
        let number: i64 = sqlx::query_scalar("SELECT latest_version + 1 FROM datasets WHERE id = $1")
            .bind(&slot.dataset_id)
            .fetch_optional(&mut **self)
            .await?
            .ok_or_else(|| StoreError::not_found("dataset", &slot.dataset_id))?;
        let version: Option<DatasetVersion> = sqlx::query_as(
            "UPDATE dataset_versions SET status = 'ready', version = $2, schema = $3, row_count = $4, content_hash = $5, \
             source = $6, message = $7, lease_until = NULL WHERE id = $1 AND status = 'importing' RETURNING *",
        )
        .bind(&slot.version_id)
        .bind(number)
        .bind(s.schema)
        .bind(s.row_count)
        .bind(s.content_hash)
        .bind(s.source)
        .bind(s.message)
        .fetch_optional(&mut **self)
        .await?;
        let version = version.ok_or_else(|| {
            StoreError::Invalid("the import was abandoned (its lease ran out) before it finished".into())
        })?;
        sqlx::query(
            "UPDATE datasets SET status = 'ready', lease_until = NULL, latest_version = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(&slot.dataset_id)
        .bind(number)
        .bind(now)
        .execute(&mut **self)
        .await?;
        Ok(version)
    }

    /// Removes what an import wrote, when it fails.
    pub async fn abort_import(&mut self, slot: &ImportSlot) -> Result<()> {
        sqlx::query("DELETE FROM dataset_versions WHERE id = $1 AND status = 'importing'")
            .bind(&slot.version_id)
            .execute(&mut **self)
            .await?;
        if slot.new_dataset {
            sqlx::query("DELETE FROM datasets WHERE id = $1 AND status = 'importing'")
                .bind(&slot.dataset_id)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }

    pub async fn update_dataset(
        &mut self,
        workspace_id: &str,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Dataset> {
        sqlx::query_as(
            "UPDATE datasets SET name = COALESCE($3, name), description = COALESCE($4, description), updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2 AND status = 'ready' RETURNING *",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(name.map(str::to_owned))
        .bind(description.map(str::to_owned))
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("dataset", name.unwrap_or_default()))?
        .ok_or_else(|| StoreError::not_found("dataset", id))
    }

    /// Deletes a dataset with all its versions and items.
    pub async fn delete_dataset(&mut self, workspace_id: &str, id: &str) -> Result<Dataset> {
        sqlx::query_as(
            "DELETE FROM datasets WHERE workspace_id = $1 AND id = $2 AND status = 'ready' RETURNING *",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("dataset", id))
    }
}

impl Store {
    /// A ready dataset by id or name.
    pub async fn dataset(&self, workspace_id: &str, id_or_name: &str) -> Result<Dataset> {
        sqlx::query_as(
            "SELECT * FROM datasets WHERE workspace_id = $1 AND (id = $2 OR name = $2) AND status = 'ready'",
        )
        .bind(workspace_id)
        .bind(id_or_name)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("dataset", id_or_name))
    }

    /// Ready datasets, optionally those whose name contains `query`.
    pub async fn datasets(
        &self,
        workspace_id: &str,
        query: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Dataset>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM datasets WHERE status = 'ready' AND ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(s) = query.filter(|s| !s.is_empty()) {
            q.push_bind(" AND LOWER(name) LIKE {}", format!("%{}%", s.to_lowercase().replace('%', "")));
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(Dataset::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }

    pub async fn dataset_versions(&self, dataset_id: &str) -> Result<Vec<DatasetVersion>> {
        Ok(sqlx::query_as(
            "SELECT * FROM dataset_versions WHERE dataset_id = $1 AND status = 'ready' ORDER BY version",
        )
        .bind(dataset_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// A ready version by number; `None` means the latest.
    pub async fn dataset_version(&self, dataset: &Dataset, version: Option<i64>) -> Result<DatasetVersion> {
        let number = version.unwrap_or(dataset.latest_version);
        sqlx::query_as(
            "SELECT * FROM dataset_versions WHERE dataset_id = $1 AND version = $2 AND status = 'ready'",
        )
        .bind(&dataset.id)
        .bind(number)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("dataset version", number.to_string()))
    }

    /// A ready version by its id, within a workspace.
    pub async fn dataset_version_by_id(
        &self,
        workspace_id: &str,
        version_id: &str,
    ) -> Result<DatasetVersion> {
        sqlx::query_as(
            "SELECT * FROM dataset_versions WHERE workspace_id = $1 AND id = $2 AND status = 'ready'",
        )
        .bind(workspace_id)
        .bind(version_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("dataset version", version_id))
    }

    /// Items of a version from index `from`, at most `limit`.
    pub async fn items(&self, version_id: &str, from: i64, limit: i64) -> Result<Vec<Item>> {
        let rows = sqlx::query(
            "SELECT idx, data FROM items WHERE version_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
        )
        .bind(version_id)
        .bind(from)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(Item { idx: r.try_get("idx")?, data: r.try_get("data")? })).collect()
    }

    /// Deletes imports whose lease ran out (their importer died). Returns how many versions.
    pub async fn delete_expired_imports(&self) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.write_operational().await?;
        let n = sqlx::query("DELETE FROM dataset_versions WHERE status = 'importing' AND lease_until < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM datasets WHERE status = 'importing' AND lease_until < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Deletes unfinished imports made by `created_by` (a job's earlier attempt).
    pub async fn delete_imports_by(&self, created_by: &str) -> Result<u64> {
        let mut tx = self.write_operational().await?;
        let n = sqlx::query("DELETE FROM dataset_versions WHERE status = 'importing' AND created_by = $1")
            .bind(created_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM datasets WHERE status = 'importing' AND created_by = $1")
            .bind(created_by)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Every dataset row and item count, whatever its status (for tests and diagnostics).
    pub async fn dataset_row_counts(&self, workspace_id: &str) -> Result<(i64, i64, i64)> {
        let datasets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM datasets WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(self.pool())
            .await?;
        let versions: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM dataset_versions WHERE workspace_id = $1")
                .bind(workspace_id)
                .fetch_one(self.pool())
                .await?;
        let items: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM items WHERE version_id IN (SELECT id FROM dataset_versions WHERE workspace_id = $1)",
        )
        .bind(workspace_id)
        .fetch_one(self.pool())
        .await?;
        Ok((datasets, versions, items))
    }
}
