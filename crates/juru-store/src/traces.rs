//! Traces: logged model calls, ingested one by one or in batches.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Sql, Store, WriteTx};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Trace {
    pub workspace_id: String,
    pub id: String,
    pub name: String,
    /// JSON text: a string or a list of chat messages.
    pub input: String,
    /// JSON text.
    pub output: String,
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt: String,
    pub prompt_version_id: Option<String>,
    pub latency_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost: Option<f64>,
    pub status: String,
    /// JSON object text.
    pub metadata: String,
    pub created_at: i64,
}

/// Filters for listing traces (newest first).
#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

const COLUMNS: &str = "workspace_id, id, name, input, output, model, model_version_id, prompt, prompt_version_id, \
                       latency_ms, input_tokens, output_tokens, cost, status, metadata, created_at";
const NCOLS: usize = 16;
/// Rows per INSERT statement: 16 columns × 200 rows stays far below both databases' limits on
/// bound parameters.
const ROWS_PER_STATEMENT: usize = 200;

impl WriteTx {
    /// Inserts traces; a trace whose id already exists in the workspace is skipped, so that a
    /// client may retry a batch. Returns how many were new.
    pub async fn insert_traces(&mut self, traces: &[Trace]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in traces.chunks(ROWS_PER_STATEMENT) {
            let mut q = Sql::new(self.backend(), format!("INSERT INTO traces ({COLUMNS}) VALUES "));
            for (i, t) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(",");
                }
                let ps = [
                    q.bind(t.workspace_id.clone()),
                    q.bind(t.id.clone()),
                    q.bind(t.name.clone()),
                    q.bind(t.input.clone()),
                    q.bind(t.output.clone()),
                    q.bind(t.model.clone()),
                    q.bind(t.model_version_id.clone()),
                    q.bind(t.prompt.clone()),
                    q.bind(t.prompt_version_id.clone()),
                    q.bind(t.latency_ms),
                    q.bind(t.input_tokens),
                    q.bind(t.output_tokens),
                    q.bind(t.cost),
                    q.bind(t.status.clone()),
                    q.bind(t.metadata.clone()),
                    q.bind(t.created_at),
                ];
                debug_assert_eq!(ps.len(), NCOLS);
                q.push("(").push(&ps.join(",")).push(")");
            }
            q.push(" ON CONFLICT (workspace_id, id) DO NOTHING");
            inserted += q.execute(&mut **self).await?;
        }
        Ok(inserted)
    }
}

impl Store {
    pub async fn trace(&self, workspace_id: &str, id: &str) -> Result<Trace> {
        sqlx::query_as("SELECT * FROM traces WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("trace", id))
    }

    pub async fn traces(
        &self,
        workspace_id: &str,
        f: &TraceFilter,
        page: &PageRequest,
    ) -> Result<Page<Trace>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM traces WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        for (col, v) in [("model", &f.model), ("prompt", &f.prompt), ("name", &f.name), ("status", &f.status)]
        {
            if let Some(v) = v {
                q.push_bind(&format!(" AND {col} = {{}}"), v.clone());
            }
        }
        if let Some(t) = f.since_ms {
            q.push_bind(" AND created_at >= {}", t);
        }
        if let Some(t) = f.until_ms {
            q.push_bind(" AND created_at < {}", t);
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(Trace::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }

    pub async fn trace_count(&self, workspace_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM traces WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(self.pool())
            .await?)
    }
}
