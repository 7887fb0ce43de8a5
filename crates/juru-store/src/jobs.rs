//! The job queue: long work with status and progress. Workers claim jobs with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that worker processes on several machines never
//! take the same job); a job whose lease ran out is put back in the queue, which is how work
//! resumes after a crash.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Backend, Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Job {
    pub id: String,
    pub workspace_id: String,
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// From 0 to 1.
    pub progress: f64,
    pub message: String,
    /// JSON object text.
    pub params: String,
    /// JSON text, when succeeded.
    pub result: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub locked_by: Option<String>,
    pub lease_until: Option<i64>,
}

/// A job ends with one of these.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    Succeeded { result: String },
    Failed { error: String },
}

impl WriteTx {
    pub async fn insert_job(
        &mut self,
        workspace_id: &str,
        kind: &str,
        params: &str,
        created_by: &str,
    ) -> Result<Job> {
        let now = now_ms();
        Ok(sqlx::query_as(
            "INSERT INTO jobs (id, workspace_id, kind, status, params, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6) RETURNING *",
        )
        .bind(juru_core::ids::new_id())
        .bind(workspace_id)
        .bind(kind)
        .bind(params)
        .bind(created_by)
        .bind(now)
        .fetch_one(&mut **self)
        .await?)
    }

    /// Cancels a queued or running job; a running job's worker notices at its next progress
    /// report.
    pub async fn cancel_job(&mut self, workspace_id: &str, id: &str) -> Result<Job> {
        let now = now_ms();
        sqlx::query_as(
            "UPDATE jobs SET status = 'cancelled', finished_at = $3, updated_at = $3, locked_by = NULL \
             WHERE workspace_id = $1 AND id = $2 AND status IN ('queued', 'running') RETURNING *",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("job {id} is not queued or running")))
    }
}

impl Store {
    /// Takes the oldest queued job of one of `kinds` for `worker`, holding it for `lease_ms`.
    pub async fn claim_job(&self, worker: &str, kinds: &[&str], lease_ms: i64) -> Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let mut tx = self.write_operational().await?;
        let now = now_ms();
        let mut q = Sql::new(self.backend(), "UPDATE jobs SET status = 'running', attempts = attempts + 1, ");
        q.push_bind("locked_by = {}, ", worker.to_owned());
        q.push_bind("lease_until = {}, ", now + lease_ms);
        q.push_bind("started_at = COALESCE(started_at, {}), ", now);
        q.push_bind("updated_at = {} ", now);
        q.push("WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND kind IN (");
        let ps: Vec<String> = kinds.iter().map(|k| q.bind((*k).to_owned())).collect();
        q.push(&ps.join(","));
        q.push(") ORDER BY created_at, id LIMIT 1");
        if tx.backend() == Backend::Postgres {
            q.push(" FOR UPDATE SKIP LOCKED");
        }
        q.push(") RETURNING *");
        let job = q.fetch_optional(&mut *tx).await?.map(|r| Job::from_row(&r)).transpose()?;
        tx.commit().await?;
        Ok(job)
    }

    /// Records progress and renews the lease. `Ok(false)` when the job is no longer this
    /// worker's (cancelled, or taken over after the lease ran out): the worker should stop.
    pub async fn job_progress(
        &self,
        id: &str,
        worker: &str,
        progress: f64,
        message: &str,
        lease_ms: i64,
    ) -> Result<bool> {
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE jobs SET progress = $3, message = $4, lease_until = $5, updated_at = $6 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(progress.clamp(0.0, 1.0))
        .bind(message)
        .bind(now + lease_ms)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Ends a job that this worker holds.
    pub async fn finish_job(&self, id: &str, worker: &str, outcome: &JobOutcome) -> Result<bool> {
        let now = now_ms();
        let (status, result, error, progress) = match outcome {
            JobOutcome::Succeeded { result } => ("succeeded", Some(result.clone()), None, Some(1.0)),
            JobOutcome::Failed { error } => ("failed", None, Some(error.clone()), None),
        };
        let n = sqlx::query(
            "UPDATE jobs SET status = $3, result = $4, error = $5, finished_at = $6, updated_at = $6, locked_by = NULL, \
             lease_until = NULL, progress = COALESCE($7, progress) \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(now)
        .bind(progress)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Puts jobs whose worker stopped renewing its lease back in the queue, or fails them after
    /// `max_attempts`. Returns how many were requeued.
    pub async fn requeue_stale_jobs(&self, max_attempts: i64) -> Result<u64> {
        let now = now_ms();
        sqlx::query(
            "UPDATE jobs SET status = 'failed', error = 'the worker stopped and the job ran out of attempts', \
             finished_at = $1, updated_at = $1, locked_by = NULL \
             WHERE status = 'running' AND lease_until < $1 AND attempts >= $2",
        )
        .bind(now)
        .bind(max_attempts)
        .execute(self.pool())
        .await?;
        let n = sqlx::query(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, lease_until = NULL, updated_at = $1, \
             message = 'resumed after its worker stopped' WHERE status = 'running' AND lease_until < $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n)
    }

    pub async fn job(&self, workspace_id: &str, id: &str) -> Result<Job> {
        sqlx::query_as("SELECT * FROM jobs WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("job", id))
    }

    pub async fn jobs(
        &self,
        workspace_id: &str,
        status: Option<&str>,
        kind: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Job>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM jobs WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(s) = status {
            q.push_bind(" AND status = {}", s.to_owned());
        }
        if let Some(k) = kind {
            q.push_bind(" AND kind = {}", k.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(Job::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }
}
