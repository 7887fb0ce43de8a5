//! Bias audits: one row per audit, pinned to its inputs, with the report as JSON when done.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct BiasAudit {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub dataset_id: String,
    pub dataset_name: String,
    pub dataset_version: i64,
    /// The registry model version that made the decisions, when one did.
    pub model_version_id: Option<String>,
    /// JSON of the audit spec (columns, attributes, reference, seed, checks).
    pub spec: String,
    pub juru_version: String,
    /// `queued`, `running`, `passed`, `failed` (a check failed), `error`.
    pub status: String,
    pub rows_read: i64,
    /// 1 when every check held, 0 when one failed; absent until done.
    pub passed: Option<i64>,
    /// JSON of the outcome (report and checks).
    pub report: Option<String>,
    pub message: String,
    pub job_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl WriteTx {
    pub async fn insert_bias_audit(&mut self, a: &BiasAudit) -> Result<()> {
        sqlx::query(
            "INSERT INTO bias_audits (id, workspace_id, name, dataset_id, dataset_name, dataset_version, \
             model_version_id, spec, juru_version, status, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&a.id)
        .bind(&a.workspace_id)
        .bind(&a.name)
        .bind(&a.dataset_id)
        .bind(&a.dataset_name)
        .bind(a.dataset_version)
        .bind(&a.model_version_id)
        .bind(&a.spec)
        .bind(&a.juru_version)
        .bind(&a.status)
        .bind(&a.created_by)
        .bind(a.created_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    pub async fn set_bias_audit_job(&mut self, id: &str, job_id: &str) -> Result<()> {
        sqlx::query("UPDATE bias_audits SET job_id = $1 WHERE id = $2")
            .bind(job_id)
            .bind(id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    /// Records the end of an audit: its status, the report (absent on error) and a message.
    pub async fn finish_bias_audit(
        &mut self,
        id: &str,
        status: &str,
        rows_read: i64,
        passed: Option<bool>,
        report: Option<&str>,
        message: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE bias_audits SET status = $1, rows_read = $2, passed = $3, report = $4, message = $5, \
             finished_at = $6 WHERE id = $7",
        )
        .bind(status)
        .bind(rows_read)
        .bind(passed.map(i64::from))
        .bind(report)
        .bind(message)
        .bind(now_ms())
        .bind(id)
        .execute(&mut **self)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("bias audit", id));
        }
        Ok(())
    }
}

impl Store {
    pub async fn bias_audit(&self, workspace_id: &str, id: &str) -> Result<BiasAudit> {
        sqlx::query_as("SELECT * FROM bias_audits WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("bias audit", id))
    }

    /// An audit by id in any workspace (for the job that runs it).
    pub async fn bias_audit_any(&self, id: &str) -> Result<BiasAudit> {
        sqlx::query_as("SELECT * FROM bias_audits WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("bias audit", id))
    }

    pub async fn set_bias_audit_running(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE bias_audits SET status = 'running' WHERE id = $1 AND status = 'queued'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Audits, newest first, without their reports.
    /// Audits, newest first, without their reports; only those whose decisions a model version
    /// made when it is given.
    pub async fn bias_audits(
        &self,
        workspace_id: &str,
        model_version_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<BiasAudit>> {
        let mut q = Sql::new(
            self.backend(),
            "SELECT id, workspace_id, name, dataset_id, dataset_name, dataset_version, model_version_id, spec, \
             juru_version, status, rows_read, passed, CAST(NULL AS TEXT) AS report, message, job_id, created_by, created_at, \
             finished_at FROM bias_audits WHERE ",
        );
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(v) = model_version_id {
            q.push_bind(" AND model_version_id = {}", v.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let audits = rows.iter().map(BiasAudit::from_row).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(audits, page.limit(), |a| a.id.clone()))
    }
}

/// A counterfactual probe of a registry model.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct BiasProbe {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub model_name: String,
    pub model_version_id: String,
    pub model_version: i64,
    /// JSON of the probe spec (templates, swap list, settings, seed, checks).
    pub spec: String,
    pub juru_version: String,
    /// `queued`, `running`, `passed`, `failed` (a check failed), `error`.
    pub status: String,
    /// Model calls made (texts generated or classified).
    pub calls: i64,
    pub passed: Option<i64>,
    /// JSON of the outcome (report, every prompt and answer, checks).
    pub report: Option<String>,
    pub message: String,
    pub job_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl WriteTx {
    pub async fn insert_bias_probe(&mut self, p: &BiasProbe) -> Result<()> {
        sqlx::query(
            "INSERT INTO bias_probes (id, workspace_id, name, model_name, model_version_id, model_version, \
             spec, juru_version, status, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&p.id)
        .bind(&p.workspace_id)
        .bind(&p.name)
        .bind(&p.model_name)
        .bind(&p.model_version_id)
        .bind(p.model_version)
        .bind(&p.spec)
        .bind(&p.juru_version)
        .bind(&p.status)
        .bind(&p.created_by)
        .bind(p.created_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    pub async fn set_bias_probe_job(&mut self, id: &str, job_id: &str) -> Result<()> {
        sqlx::query("UPDATE bias_probes SET job_id = $1 WHERE id = $2")
            .bind(job_id)
            .bind(id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    /// Records the end of a probe: its status, the report (absent on error) and a message.
    pub async fn finish_bias_probe(
        &mut self,
        id: &str,
        status: &str,
        calls: i64,
        passed: Option<bool>,
        report: Option<&str>,
        message: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE bias_probes SET status = $1, calls = $2, passed = $3, report = $4, message = $5, \
             finished_at = $6 WHERE id = $7",
        )
        .bind(status)
        .bind(calls)
        .bind(passed.map(i64::from))
        .bind(report)
        .bind(message)
        .bind(now_ms())
        .bind(id)
        .execute(&mut **self)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("bias probe", id));
        }
        Ok(())
    }
}

const PROBE_COLUMNS: &str = "id, workspace_id, name, model_name, model_version_id, model_version, spec, \
     juru_version, status, calls, passed, CAST(NULL AS TEXT) AS report, message, job_id, created_by, \
     created_at, finished_at FROM bias_probes WHERE ";

impl Store {
    pub async fn bias_probe(&self, workspace_id: &str, id: &str) -> Result<BiasProbe> {
        sqlx::query_as("SELECT * FROM bias_probes WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("bias probe", id))
    }

    /// A probe by id in any workspace (for the job that runs it).
    pub async fn bias_probe_any(&self, id: &str) -> Result<BiasProbe> {
        sqlx::query_as("SELECT * FROM bias_probes WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("bias probe", id))
    }

    pub async fn set_bias_probe_running(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE bias_probes SET status = 'running' WHERE id = $1 AND status = 'queued'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Probes, newest first, without their reports; only those of one model version when given.
    pub async fn bias_probes(
        &self,
        workspace_id: &str,
        model_version_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<BiasProbe>> {
        let mut q = Sql::new(self.backend(), format!("SELECT {PROBE_COLUMNS}"));
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(v) = model_version_id {
            q.push_bind(" AND model_version_id = {}", v.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let probes = rows.iter().map(BiasProbe::from_row).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(probes, page.limit(), |p| p.id.clone()))
    }
}
