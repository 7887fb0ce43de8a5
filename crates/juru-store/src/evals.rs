//! Evaluation suites (saved definitions), runs, and one result row per model call.
//!
//! Results are keyed by `(run_id, cell)`, the flattened case × prompt × model × repeat index,
//! and inserted with `ON CONFLICT DO NOTHING … RETURNING`: a resumed run that writes a cell
//! again changes nothing, and the run's counters are raised only by the rows that were new, in
//! the same transaction.

use serde::Serialize;
use sqlx::{FromRow, Row};

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct EvalSuite {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// The suite as written (YAML).
    pub definition: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct EvalRun {
    pub id: String,
    pub workspace_id: String,
    pub suite_name: String,
    /// JSON of the suite as it ran.
    pub suite: String,
    /// JSON list of the prompt versions it ran (`name@3`), in suite order.
    pub prompts: String,
    /// JSON list of the model versions it ran (`name@2`, `echo`), in suite order.
    pub models: String,
    pub cases: i64,
    pub cells: i64,
    /// `queued`, `running`, `passed`, `failed` (below its threshold), `error` (could not run),
    /// `cancelled`.
    pub status: String,
    pub done: i64,
    pub passed: i64,
    pub failed: i64,
    pub errors: i64,
    pub threshold: f64,
    pub baseline_run_id: Option<String>,
    pub job_id: Option<String>,
    /// The protected-label request this run gates, if any.
    pub promotion_id: Option<String>,
    pub message: String,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct EvalResult {
    pub run_id: String,
    pub cell: i64,
    pub case_index: i64,
    pub prompt_index: i64,
    pub model_index: i64,
    pub repeat_index: i64,
    /// `pass`, `fail` or `error`.
    pub status: String,
    pub score: Option<f64>,
    pub output: String,
    /// JSON list of the graded assertions.
    pub graded: String,
    /// JSON object of the case's variables.
    pub vars: String,
    pub expected: Option<String>,
    pub latency_ms: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost: f64,
    pub error: String,
    pub created_at: i64,
}

/// Pass counts of one case × prompt × model over its repeats.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct CaseTally {
    pub case_index: i64,
    pub prompt_index: i64,
    pub model_index: i64,
    pub runs: i64,
    pub passed: i64,
    pub errors: i64,
}

/// The same cell in two runs.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct PairedCell {
    pub cell: i64,
    pub case_index: i64,
    pub baseline: String,
    pub candidate: String,
}

/// What a batch of results added to its run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    pub new: i64,
    pub passed: i64,
    pub failed: i64,
    pub errors: i64,
}

/// Results inserted by one statement.
const INSERT_CHUNK: usize = 64;

const RESULT_COLUMNS: [&str; 18] = [
    "run_id",
    "cell",
    "case_index",
    "prompt_index",
    "model_index",
    "repeat_index",
    "status",
    "score",
    "output",
    "graded",
    "vars",
    "expected",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "error",
    "created_at",
];

impl WriteTx {
    /// Creates or replaces a saved suite; returns it.
    pub async fn save_eval_suite(
        &mut self,
        workspace_id: &str,
        name: &str,
        definition: &str,
        by: &str,
    ) -> Result<EvalSuite> {
        let now = now_ms();
        Ok(sqlx::query_as(
            "INSERT INTO eval_suites (id, workspace_id, name, definition, created_by, created_at, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $5, $6) \
             ON CONFLICT (workspace_id, name) DO UPDATE SET definition = $4, updated_by = $5, updated_at = $6 RETURNING *",
        )
        .bind(juru_core::ids::new_id())
        .bind(workspace_id)
        .bind(name)
        .bind(definition)
        .bind(by)
        .bind(now)
        .fetch_one(&mut **self)
        .await?)
    }

    pub async fn insert_eval_run(&mut self, r: &EvalRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO eval_runs (id, workspace_id, suite_name, suite, prompts, models, cases, cells, status, done, passed, \
             failed, errors, threshold, baseline_run_id, job_id, promotion_id, message, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, 0, 0, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&r.id)
        .bind(&r.workspace_id)
        .bind(&r.suite_name)
        .bind(&r.suite)
        .bind(&r.prompts)
        .bind(&r.models)
        .bind(r.cases)
        .bind(r.cells)
        .bind(&r.status)
        .bind(r.threshold)
        .bind(&r.baseline_run_id)
        .bind(&r.job_id)
        .bind(&r.promotion_id)
        .bind(&r.message)
        .bind(&r.created_by)
        .bind(r.created_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    /// Writes results that are not there yet and raises the run's counters by what was new.
    pub async fn add_eval_results(&mut self, rows: &[EvalResult]) -> Result<Added> {
        let mut added = Added::default();
        let Some(first) = rows.first() else { return Ok(added) };
        // Full chunks share one statement text and the rest go one row at a time, so that the
        // connection's statement cache holds two statements, not one per batch size (a
        // prepared 64-row insert is large). 18 values a row: well under either database's
        // limit on bound values.
        let full = rows.len() / INSERT_CHUNK * INSERT_CHUNK;
        let (bulk, tail) = rows.split_at(full);
        for chunk in bulk.chunks(INSERT_CHUNK).chain(tail.chunks(1)) {
            let mut q = Sql::new(
                self.backend(),
                format!("INSERT INTO eval_results ({}) VALUES ", RESULT_COLUMNS.join(", ")),
            );
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                let ps = [
                    q.bind(r.run_id.clone()),
                    q.bind(r.cell),
                    q.bind(r.case_index),
                    q.bind(r.prompt_index),
                    q.bind(r.model_index),
                    q.bind(r.repeat_index),
                    q.bind(r.status.clone()),
                    q.bind(r.score),
                    q.bind(r.output.clone()),
                    q.bind(r.graded.clone()),
                    q.bind(r.vars.clone()),
                    q.bind(r.expected.clone()),
                    q.bind(r.latency_ms),
                    q.bind(r.input_tokens),
                    q.bind(r.output_tokens),
                    q.bind(r.cost),
                    q.bind(r.error.clone()),
                    q.bind(r.created_at),
                ];
                q.push("(").push(&ps.join(", ")).push(")");
            }
            q.push(" ON CONFLICT (run_id, cell) DO NOTHING RETURNING status");
            for row in q.fetch_all(&mut **self).await? {
                let status: String = row.try_get("status")?;
                added.new += 1;
                match status.as_str() {
                    "pass" => added.passed += 1,
                    "fail" => added.failed += 1,
                    _ => added.errors += 1,
                }
            }
        }
        sqlx::query(
            "UPDATE eval_runs SET done = done + $2, passed = passed + $3, failed = failed + $4, errors = errors + $5, \
             status = CASE WHEN status = 'queued' THEN 'running' ELSE status END WHERE id = $1",
        )
        .bind(&first.run_id)
        .bind(added.new)
        .bind(added.passed)
        .bind(added.failed)
        .bind(added.errors)
        .execute(&mut **self)
        .await?;
        Ok(added)
    }

    pub async fn set_eval_run_status(
        &mut self,
        id: &str,
        status: &str,
        message: &str,
        finished: bool,
    ) -> Result<EvalRun> {
        sqlx::query_as(
            "UPDATE eval_runs SET status = $2, message = $3, finished_at = $4 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(status)
        .bind(message)
        .bind(finished.then(now_ms))
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("eval run", id))
    }

    pub async fn set_eval_run_job(&mut self, id: &str, job_id: &str) -> Result<()> {
        sqlx::query("UPDATE eval_runs SET job_id = $2 WHERE id = $1")
            .bind(id)
            .bind(job_id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    /// Links a protected-label request to the run that gates it.
    pub async fn set_promotion_eval_run(&mut self, promotion_id: &str, run_id: &str) -> Result<()> {
        sqlx::query("UPDATE prompt_promotions SET eval_run_id = $2 WHERE id = $1")
            .bind(promotion_id)
            .bind(run_id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn eval_suite(&self, workspace_id: &str, name: &str) -> Result<EvalSuite> {
        sqlx::query_as("SELECT * FROM eval_suites WHERE workspace_id = $1 AND (name = $2 OR id = $2)")
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("eval suite", name))
    }

    pub async fn eval_suites(&self, workspace_id: &str) -> Result<Vec<EvalSuite>> {
        Ok(sqlx::query_as("SELECT * FROM eval_suites WHERE workspace_id = $1 ORDER BY name")
            .bind(workspace_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn eval_run(&self, workspace_id: &str, id: &str) -> Result<EvalRun> {
        sqlx::query_as("SELECT * FROM eval_runs WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("eval run", id))
    }

    /// Runs, newest first; of one suite when named.
    pub async fn eval_runs(
        &self,
        workspace_id: &str,
        suite: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<EvalRun>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM eval_runs WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(s) = suite {
            q.push_bind(" AND suite_name = {}", s.to_owned());
        }
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id < {}", c.clone());
        }
        q.push_bind(" ORDER BY id DESC LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let runs = rows.iter().map(EvalRun::from_row).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(runs, page.limit(), |r| r.id.clone()))
    }

    /// The cells of a run that have a result, in order.
    pub async fn eval_done_cells(&self, run_id: &str) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT cell FROM eval_results WHERE run_id = $1 ORDER BY cell")
            .bind(run_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// A page of a run's results in cell order; only of one status when given.
    pub async fn eval_results(
        &self,
        run_id: &str,
        status: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EvalResult>> {
        let mut q = Sql::new(
            self.backend(),
            format!("SELECT {} FROM eval_results WHERE ", RESULT_COLUMNS.join(", ")),
        );
        q.push_bind("run_id = {}", run_id.to_owned());
        q.push_bind(" AND cell > {}", after);
        if let Some(s) = status {
            q.push_bind(" AND status = {}", s.to_owned());
        }
        q.push_bind(" ORDER BY cell LIMIT {}", limit);
        let rows = q.fetch_all(self.pool()).await?;
        Ok(rows.iter().map(EvalResult::from_row).collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// Pass counts per case × prompt × model, over the repeats.
    /// Up to `limit` tallies after the key `after` (case, prompt, model), in key order.
    pub async fn eval_case_tallies(
        &self,
        run_id: &str,
        after: (i64, i64, i64),
        limit: i64,
    ) -> Result<Vec<CaseTally>> {
        Ok(sqlx::query_as(
            "SELECT case_index, prompt_index, model_index, COUNT(*) AS runs, \
             SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END) AS passed, \
             SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors \
             FROM eval_results WHERE run_id = $1 AND (case_index, prompt_index, model_index) > ($2, $3, $4) \
             GROUP BY case_index, prompt_index, model_index \
             ORDER BY case_index, prompt_index, model_index LIMIT $5",
        )
        .bind(run_id)
        .bind(after.0)
        .bind(after.1)
        .bind(after.2)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Case × prompt × model groups that passed in some repeats and failed in others.
    pub async fn eval_flaky_count(&self, run_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END) AS passed, \
             SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END) AS failed \
             FROM eval_results WHERE run_id = $1 GROUP BY case_index, prompt_index, model_index) t \
             WHERE t.passed > 0 AND t.failed > 0",
        )
        .bind(run_id)
        .fetch_one(self.pool())
        .await?)
    }

    /// Cells graded (pass or fail) in both runs, with each run's status.
    pub async fn eval_paired_cells(&self, baseline: &str, candidate: &str) -> Result<Vec<PairedCell>> {
        Ok(sqlx::query_as(
            "SELECT b.cell AS cell, b.case_index AS case_index, a.status AS baseline, b.status AS candidate \
             FROM eval_results b JOIN eval_results a ON a.run_id = $1 AND a.cell = b.cell \
             WHERE b.run_id = $2 AND a.status <> 'error' AND b.status <> 'error' ORDER BY b.cell",
        )
        .bind(baseline)
        .bind(candidate)
        .fetch_all(self.pool())
        .await?)
    }
}
