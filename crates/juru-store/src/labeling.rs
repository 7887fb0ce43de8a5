//! Annotation projects: their versioned label schemas, one task row per item (how many answers it
//! has, a gold answer when it is a honeypot, a model's suggestion), the answers, and the resolved
//! layer that adjudication and aggregation write.
//!
//! The overlap cap is enforced here, in the transaction that stores a submitted answer: the
//! task's counter is raised by a conditional UPDATE (`submitted < overlap`). On PostgreSQL the
//! UPDATE takes the row's lock and re-reads the counter after a concurrent submit commits; on
//! SQLite writers are serialised. Either way an item never gets more than `overlap` answers.

use serde::Serialize;
use sqlx::{FromRow, Row};

use crate::db::{Sql, Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};

/// How long an unsaved reservation (an item shown to an annotator) keeps others from being
/// given the same item when it already has as many answers and reservations as it takes.
pub const RESERVATION_MS: i64 = 10 * 60 * 1000;
const TASKS_PER_STATEMENT: usize = 400;

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LabelProject {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    pub dataset_version_id: String,
    pub text_field: String,
    pub guidelines: String,
    pub schema_version: i64,
    pub overlap: i64,
    pub blind: i64,
    /// `sequential` (finish items that have answers first) or `uncertainty` (active learning).
    pub ordering: String,
    /// `open` or `closed`.
    pub status: String,
    pub item_count: i64,
    /// JSON object text: honeypot share, annotator list, retraining interval.
    pub settings: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LabelSchemaRow {
    pub project_id: String,
    pub version: i64,
    /// JSON text of a `juru_core::labels::LabelSchema`.
    pub spec: String,
    /// JSON text of the `SchemaChange` that made this version; empty for the first.
    pub change: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LabelTask {
    pub project_id: String,
    pub idx: i64,
    pub submitted: i64,
    /// JSON text of the known answer of a honeypot item.
    pub gold: Option<String>,
    pub assigned_to: Option<String>,
    pub uncertainty: Option<f64>,
    /// JSON text: `{"value": …, "score": …, "model": …}`.
    pub suggestion: Option<String>,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LabelAnswer {
    pub id: String,
    pub project_id: String,
    pub idx: i64,
    /// User id.
    pub annotator: String,
    /// `draft` (also a reservation when `value` is null), `submitted`, `skipped` or `reopened`.
    pub status: String,
    /// JSON text, in the project's current schema.
    pub value: Option<String>,
    /// JSON text of the value as given, when a schema change has rewritten `value` since.
    pub original: Option<String>,
    /// The schema version the answer was given under.
    pub schema_version: i64,
    pub seconds: Option<f64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LabelResolution {
    pub project_id: String,
    pub idx: i64,
    pub value: String,
    /// `adjudicated`, `majority` or `dawid_skene`.
    pub method: String,
    pub reason: String,
    /// JSON list of the answer ids it was resolved from.
    pub sources: String,
    pub schema_version: i64,
    pub resolved_by: String,
    pub created_at: i64,
}

/// A new project's fields.
#[derive(Debug, Clone)]
pub struct NewLabelProject {
    pub name: String,
    pub description: String,
    pub dataset_version_id: String,
    pub text_field: String,
    pub guidelines: String,
    pub overlap: i64,
    pub blind: bool,
    pub ordering: String,
    pub item_count: i64,
    pub settings: String,
    /// JSON text of the first schema.
    pub schema: String,
}

/// An answer to store.
#[derive(Debug, Clone)]
pub struct AnswerWrite<'a> {
    pub project: &'a LabelProject,
    pub idx: i64,
    pub annotator: &'a str,
    /// `draft`, `submitted` or `skipped`.
    pub status: &'a str,
    pub value: Option<String>,
    pub seconds: Option<f64>,
}

/// Counts for a project's dashboard.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectCounts {
    /// Items with as many submitted answers as the overlap asks.
    pub complete: i64,
    /// Items with at least one submitted answer.
    pub started: i64,
    pub answers: i64,
    pub drafts: i64,
    pub skipped: i64,
    pub honeypots: i64,
    pub resolved: i64,
}

fn answer_id() -> String {
    juru_core::ids::new_id()
}

impl WriteTx {
    /// Creates a project with its first schema and one task per item.
    pub async fn insert_label_project(
        &mut self,
        workspace_id: &str,
        created_by: &str,
        p: &NewLabelProject,
    ) -> Result<LabelProject> {
        let now = now_ms();
        let project = LabelProject {
            id: juru_core::ids::new_id(),
            workspace_id: workspace_id.to_owned(),
            name: p.name.clone(),
            description: p.description.clone(),
            dataset_version_id: p.dataset_version_id.clone(),
            text_field: p.text_field.clone(),
            guidelines: p.guidelines.clone(),
            schema_version: 1,
            overlap: p.overlap,
            blind: i64::from(p.blind),
            ordering: p.ordering.clone(),
            status: "open".into(),
            item_count: p.item_count,
            settings: p.settings.clone(),
            created_by: created_by.to_owned(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO label_projects (id, workspace_id, name, description, dataset_version_id, text_field, guidelines, \
             schema_version, overlap, blind, ordering, status, item_count, settings, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(&project.id)
        .bind(&project.workspace_id)
        .bind(&project.name)
        .bind(&project.description)
        .bind(&project.dataset_version_id)
        .bind(&project.text_field)
        .bind(&project.guidelines)
        .bind(project.schema_version)
        .bind(project.overlap)
        .bind(project.blind)
        .bind(&project.ordering)
        .bind(&project.status)
        .bind(project.item_count)
        .bind(&project.settings)
        .bind(&project.created_by)
        .bind(now)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("labeling project", p.name.clone()))?;
        self.insert_label_schema(&project.id, 1, &p.schema, "", created_by).await?;
        let mut from = 0;
        while from < p.item_count {
            let to = (from + TASKS_PER_STATEMENT as i64).min(p.item_count);
            let mut q = Sql::new(self.backend, "INSERT INTO label_tasks (project_id, idx) VALUES ");
            for idx in from..to {
                if idx > from {
                    q.push(", ");
                }
                let (a, b) = (q.bind(project.id.clone()), q.bind(idx));
                q.push(&format!("({a}, {b})"));
            }
            q.execute(&mut **self).await?;
            from = to;
        }
        Ok(project)
    }

    pub async fn insert_label_schema(
        &mut self,
        project_id: &str,
        version: i64,
        spec: &str,
        change: &str,
        created_by: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO label_schemas (project_id, version, spec, change, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(project_id)
        .bind(version)
        .bind(spec)
        .bind(change)
        .bind(created_by)
        .bind(now_ms())
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    /// Changes a project's settings; `None` keeps what is stored.
    pub async fn update_label_project(
        &mut self,
        id: &str,
        status: Option<&str>,
        guidelines: Option<&str>,
        schema_version: Option<i64>,
        settings: Option<&str>,
    ) -> Result<LabelProject> {
        sqlx::query_as(
            "UPDATE label_projects SET status = COALESCE($2, status), guidelines = COALESCE($3, guidelines), \
             schema_version = COALESCE($4, schema_version), settings = COALESCE($5, settings), updated_at = $6 \
             WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(status.map(str::to_owned))
        .bind(guidelines.map(str::to_owned))
        .bind(schema_version)
        .bind(settings.map(str::to_owned))
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("labeling project", id))
    }

    /// Marks items as honeypots with their known answers.
    pub async fn set_label_gold(&mut self, project_id: &str, gold: &[(i64, String)]) -> Result<()> {
        for (idx, value) in gold {
            let n = sqlx::query("UPDATE label_tasks SET gold = $3 WHERE project_id = $1 AND idx = $2")
                .bind(project_id)
                .bind(*idx)
                .bind(value)
                .execute(&mut **self)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Invalid(format!("item {idx} is not in the project")));
            }
        }
        Ok(())
    }

    /// Assigns items to one annotator (`None` opens them to everyone).
    pub async fn assign_label_tasks(
        &mut self,
        project_id: &str,
        idxs: &[i64],
        user_id: Option<&str>,
    ) -> Result<u64> {
        let mut changed = 0;
        for chunk in idxs.chunks(TASKS_PER_STATEMENT) {
            let mut q = Sql::new(self.backend, "UPDATE label_tasks SET ");
            q.push_bind("assigned_to = {}", user_id.map(str::to_owned));
            q.push_bind(" WHERE project_id = {} AND idx IN (", project_id.to_owned());
            for (i, idx) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                let p = q.bind(*idx);
                q.push(&p);
            }
            q.push(")");
            changed += q.execute(&mut **self).await?;
        }
        Ok(changed)
    }

    /// Stores a model's suggestion and uncertainty for items (pre-annotation, active learning).
    pub async fn set_label_suggestions(
        &mut self,
        project_id: &str,
        suggestions: &[(i64, String, f64)],
    ) -> Result<()> {
        for (idx, suggestion, uncertainty) in suggestions {
            sqlx::query(
                "UPDATE label_tasks SET suggestion = $3, uncertainty = $4 WHERE project_id = $1 AND idx = $2",
            )
            .bind(project_id)
            .bind(*idx)
            .bind(suggestion)
            .bind(*uncertainty)
            .execute(&mut **self)
            .await?;
        }
        Ok(())
    }

    /// Holds an item for an annotator while they look at it: an empty draft that others' queues
    /// count until it is saved, or until [`RESERVATION_MS`] passes.
    pub async fn reserve_label_task(
        &mut self,
        project: &LabelProject,
        idx: i64,
        annotator: &str,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO label_answers (id, project_id, idx, annotator, status, value, schema_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'draft', NULL, $5, $6, $7) \
             ON CONFLICT (project_id, idx, annotator) DO UPDATE SET updated_at = excluded.updated_at \
             WHERE label_answers.status = 'draft'",
        )
        .bind(answer_id())
        .bind(&project.id)
        .bind(idx)
        .bind(annotator)
        .bind(project.schema_version)
        .bind(now)
        .bind(now)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    /// Stores an answer. A submit counts against the item's overlap unless the annotator had
    /// already submitted it (then it is an edit) or the item is a honeypot; an item that has all
    /// its answers refuses further submits.
    pub async fn write_label_answer(&mut self, w: &AnswerWrite<'_>) -> Result<LabelAnswer> {
        let project = w.project;
        let existing: Option<LabelAnswer> = sqlx::query_as(
            "SELECT * FROM label_answers WHERE project_id = $1 AND idx = $2 AND annotator = $3",
        )
        .bind(&project.id)
        .bind(w.idx)
        .bind(w.annotator)
        .fetch_optional(&mut **self)
        .await?;
        let was_submitted = existing.as_ref().is_some_and(|a| a.status == "submitted");
        if w.status == "submitted" && !was_submitted {
            let counted = sqlx::query(
                "UPDATE label_tasks SET submitted = submitted + 1 \
                 WHERE project_id = $1 AND idx = $2 AND (gold IS NOT NULL OR submitted < $3) RETURNING submitted",
            )
            .bind(&project.id)
            .bind(w.idx)
            .bind(project.overlap)
            .fetch_optional(&mut **self)
            .await?;
            if counted.is_none() {
                let exists =
                    sqlx::query("SELECT 1 AS one FROM label_tasks WHERE project_id = $1 AND idx = $2")
                        .bind(&project.id)
                        .bind(w.idx)
                        .fetch_optional(&mut **self)
                        .await?;
                return Err(match exists {
                    None => StoreError::not_found("item", w.idx.to_string()),
                    Some(_) => StoreError::Refused(format!(
                        "item {} already has the {} answer(s) the project takes",
                        w.idx, project.overlap
                    )),
                });
            }
        } else if was_submitted && w.status != "submitted" {
            // Withdrawing a submitted answer (back to draft, or skipped) frees its place.
            sqlx::query(
                "UPDATE label_tasks SET submitted = submitted - 1 WHERE project_id = $1 AND idx = $2",
            )
            .bind(&project.id)
            .bind(w.idx)
            .execute(&mut **self)
            .await?;
        }
        let now = now_ms();
        let answer = match existing {
            Some(a) => sqlx::query_as(
                "UPDATE label_answers SET status = $2, value = $3, original = NULL, schema_version = $4, seconds = $5, updated_at = $6 \
                 WHERE id = $1 RETURNING *",
            )
            .bind(&a.id)
            .bind(w.status)
            .bind(w.value.clone())
            .bind(project.schema_version)
            .bind(w.seconds)
            .bind(now)
            .fetch_one(&mut **self)
            .await?,
            None => sqlx::query_as(
                "INSERT INTO label_answers (id, project_id, idx, annotator, status, value, schema_version, seconds, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
            )
            .bind(answer_id())
            .bind(&project.id)
            .bind(w.idx)
            .bind(w.annotator)
            .bind(w.status)
            .bind(w.value.clone())
            .bind(project.schema_version)
            .bind(w.seconds)
            .bind(now)
            .bind(now)
            .fetch_one(&mut **self)
            .await
            .map_err(StoreError::conflict_on_unique("answer", format!("item {} by this annotator", w.idx)))?,
        };
        Ok(answer)
    }

    /// Rewrites an answer's value after a schema change, keeping what was first given.
    pub async fn migrate_label_answer(&mut self, answer: &LabelAnswer, value: &str) -> Result<()> {
        sqlx::query(
            "UPDATE label_answers SET value = $2, original = COALESCE(original, value) WHERE id = $1",
        )
        .bind(&answer.id)
        .bind(value)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    /// Sends a submitted answer back to its annotator (its label was split): it stops counting.
    pub async fn reopen_label_answer(&mut self, answer: &LabelAnswer) -> Result<()> {
        sqlx::query("UPDATE label_answers SET status = 'reopened', original = COALESCE(original, value) WHERE id = $1")
            .bind(&answer.id)
            .execute(&mut **self)
            .await?;
        if answer.status == "submitted" {
            sqlx::query(
                "UPDATE label_tasks SET submitted = submitted - 1 WHERE project_id = $1 AND idx = $2",
            )
            .bind(&answer.project_id)
            .bind(answer.idx)
            .execute(&mut **self)
            .await?;
        }
        Ok(())
    }

    /// Rewrites a resolved label after a schema change (`None`: the label was split, so the item
    /// must be resolved again and its resolution goes).
    pub async fn migrate_label_resolution(
        &mut self,
        project_id: &str,
        idx: i64,
        value: Option<&str>,
    ) -> Result<()> {
        let q = match value {
            Some(v) => {
                sqlx::query("UPDATE label_resolutions SET value = $3 WHERE project_id = $1 AND idx = $2")
                    .bind(project_id)
                    .bind(idx)
                    .bind(v.to_owned())
            }
            None => sqlx::query("DELETE FROM label_resolutions WHERE project_id = $1 AND idx = $2")
                .bind(project_id)
                .bind(idx),
        };
        q.execute(&mut **self).await?;
        Ok(())
    }

    /// Rewrites a honeypot's known answer after a schema change (`None`: no longer a honeypot).
    pub async fn migrate_label_gold(
        &mut self,
        project_id: &str,
        idx: i64,
        value: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE label_tasks SET gold = $3 WHERE project_id = $1 AND idx = $2")
            .bind(project_id)
            .bind(idx)
            .bind(value.map(str::to_owned))
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    /// Writes (or replaces) the resolved label of an item.
    pub async fn put_label_resolution(&mut self, r: &LabelResolution) -> Result<()> {
        sqlx::query(
            "INSERT INTO label_resolutions (project_id, idx, value, method, reason, sources, schema_version, resolved_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (project_id, idx) DO UPDATE SET value = excluded.value, method = excluded.method, \
             reason = excluded.reason, sources = excluded.sources, schema_version = excluded.schema_version, \
             resolved_by = excluded.resolved_by, created_at = excluded.created_at",
        )
        .bind(&r.project_id)
        .bind(r.idx)
        .bind(&r.value)
        .bind(&r.method)
        .bind(&r.reason)
        .bind(&r.sources)
        .bind(r.schema_version)
        .bind(&r.resolved_by)
        .bind(r.created_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
}

impl Store {
    /// A project by id or name.
    pub async fn label_project(&self, workspace_id: &str, id_or_name: &str) -> Result<LabelProject> {
        sqlx::query_as("SELECT * FROM label_projects WHERE workspace_id = $1 AND (id = $2 OR name = $2)")
            .bind(workspace_id)
            .bind(id_or_name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("labeling project", id_or_name))
    }

    pub async fn label_projects(&self, workspace_id: &str, page: &PageRequest) -> Result<Page<LabelProject>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM label_projects WHERE ");
        q.push_bind("workspace_id = {}", workspace_id.to_owned());
        if let Some(c) = &page.cursor {
            q.push_bind(" AND id > {}", c.clone());
        }
        q.push_bind(" ORDER BY id LIMIT {}", page.limit() + 1);
        let rows = q.fetch_all(self.pool()).await?;
        let rows = rows.iter().map(LabelProject::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit(), |r| r.id.clone()))
    }

    pub async fn label_schemas(&self, project_id: &str) -> Result<Vec<LabelSchemaRow>> {
        Ok(sqlx::query_as("SELECT * FROM label_schemas WHERE project_id = $1 ORDER BY version")
            .bind(project_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn label_task(&self, project_id: &str, idx: i64) -> Result<LabelTask> {
        sqlx::query_as("SELECT * FROM label_tasks WHERE project_id = $1 AND idx = $2")
            .bind(project_id)
            .bind(idx)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("item", idx.to_string()))
    }

    /// The honeypots' known answers: (item, JSON text).
    pub async fn label_gold(&self, project_id: &str) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT idx, gold FROM label_tasks WHERE project_id = $1 AND gold IS NOT NULL ORDER BY idx",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("idx")?, r.try_get("gold")?))).collect()
    }

    /// Tasks from `from` on, in item order (for exports and statistics).
    pub async fn label_tasks(&self, project_id: &str, from: i64, limit: i64) -> Result<Vec<LabelTask>> {
        Ok(sqlx::query_as(
            "SELECT * FROM label_tasks WHERE project_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
        )
        .bind(project_id)
        .bind(from)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The item an annotator should see next: their own saved draft or reopened answer first;
    /// then an item open to them that they have not answered, skipped or just been given, and
    /// that is short of answers counting others' live reservations. Honeypots are open to
    /// everyone once. `after` moves past items up to an index. In sequential order, items that
    /// already have answers come first (so items get finished), then the rest by index; each of
    /// the two is a walk along the `(project_id, submitted, idx)` index, so the wait does not grow
    /// with the project.
    pub async fn next_label_task(
        &self,
        project: &LabelProject,
        annotator: &str,
        after: Option<i64>,
    ) -> Result<Option<i64>> {
        if after.is_none() {
            let draft = sqlx::query(
                "SELECT idx FROM label_answers WHERE project_id = $1 AND annotator = $2 \
                 AND (status = 'reopened' OR (status = 'draft' AND value IS NOT NULL)) ORDER BY updated_at DESC LIMIT 1",
            )
            .bind(&project.id)
            .bind(annotator)
            .fetch_optional(self.pool())
            .await?;
            if let Some(row) = draft {
                return Ok(Some(row.try_get("idx")?));
            }
        }
        let passes: &[(&str, &str)] = if project.ordering == "uncertainty" {
            &[("", "CASE WHEN t.uncertainty IS NULL THEN 1 ELSE 0 END, t.uncertainty DESC, t.idx")]
        } else {
            &[(" AND t.submitted > 0", "t.submitted DESC, t.idx"), (" AND t.submitted = 0", "t.idx")]
        };
        let live = now_ms() - RESERVATION_MS;
        // SQLite, without statistics, may walk the whole project in index order to avoid a sort
        // of the few started items (seen: 390 ms at 1,000,000 items); name the queue's index.
        let from = match self.backend() {
            crate::Backend::Sqlite => "SELECT t.idx FROM label_tasks t INDEXED BY label_tasks_queue WHERE ",
            crate::Backend::Postgres => "SELECT t.idx FROM label_tasks t WHERE ",
        };
        for (filter, order) in passes {
            let mut q = Sql::new(self.backend(), from);
            q.push_bind("t.project_id = {}", project.id.clone());
            q.push(filter);
            q.push_bind(" AND (t.assigned_to IS NULL OR t.assigned_to = {})", annotator.to_owned());
            q.push_bind(" AND t.idx > {}", after.unwrap_or(-1));
            // Their own answers, skips and saved drafts, and the items they were just given.
            q.push_bind(
                " AND NOT EXISTS (SELECT 1 FROM label_answers m WHERE m.project_id = t.project_id AND m.idx = t.idx AND m.annotator = {}",
                annotator.to_owned(),
            );
            q.push_bind(" AND (m.status <> 'draft' OR m.value IS NOT NULL OR m.updated_at > {}))", live);
            q.push(" AND (t.gold IS NOT NULL OR t.submitted + (SELECT COUNT(*) FROM label_answers r WHERE r.project_id = t.project_id AND r.idx = t.idx AND r.status = 'draft'");
            q.push_bind(" AND r.updated_at > {})", live);
            q.push_bind(" < {})", project.overlap);
            q.push(&format!(" ORDER BY {order} LIMIT 1"));
            if let Some(row) = q.fetch_optional(self.pool()).await? {
                return Ok(Some(row.try_get("idx")?));
            }
        }
        Ok(None)
    }

    /// How many items an annotator has submitted in a project.
    pub async fn label_answers_done_by(&self, project_id: &str, annotator: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM label_answers WHERE project_id = $1 AND annotator = $2 AND status = 'submitted'",
        )
        .bind(project_id)
        .bind(annotator)
        .fetch_one(self.pool())
        .await?)
    }

    /// The answers to one item, oldest first.
    pub async fn label_answers_of(&self, project_id: &str, idx: i64) -> Result<Vec<LabelAnswer>> {
        Ok(sqlx::query_as(
            "SELECT * FROM label_answers WHERE project_id = $1 AND idx = $2 ORDER BY created_at, id",
        )
        .bind(project_id)
        .bind(idx)
        .fetch_all(self.pool())
        .await?)
    }

    /// Answers with a status, in (item, annotator) order from `(from_idx, after_annotator)`,
    /// for exports and statistics that read a project page by page.
    pub async fn label_answers_page(
        &self,
        project_id: &str,
        status: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<LabelAnswer>> {
        let mut q = Sql::new(self.backend(), "SELECT * FROM label_answers WHERE ");
        q.push_bind("project_id = {}", project_id.to_owned());
        q.push_bind(" AND status = {}", status.to_owned());
        if let Some((idx, annotator)) = after {
            q.push_bind(" AND (idx > {}", idx);
            q.push_bind(" OR (idx = {}", idx);
            q.push_bind(" AND annotator > {}))", annotator.to_owned());
        }
        q.push_bind(" ORDER BY idx, annotator LIMIT {}", limit);
        let rows = q.fetch_all(self.pool()).await?;
        Ok(rows.iter().map(LabelAnswer::from_row).collect::<Result<Vec<_>, _>>()?)
    }

    /// Submitted answers of items `from..to`, in (item, annotator) order.
    pub async fn label_answers_between(
        &self,
        project_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<LabelAnswer>> {
        Ok(sqlx::query_as(
            "SELECT * FROM label_answers WHERE project_id = $1 AND status = 'submitted' AND idx >= $2 AND idx < $3 ORDER BY idx, created_at",
        )
        .bind(project_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every answer with a status (statistics over a whole project).
    pub async fn label_answers_all(&self, project_id: &str, status: &str) -> Result<Vec<LabelAnswer>> {
        Ok(sqlx::query_as(
            "SELECT * FROM label_answers WHERE project_id = $1 AND status = $2 ORDER BY idx, annotator",
        )
        .bind(project_id)
        .bind(status)
        .fetch_all(self.pool())
        .await?)
    }

    /// Answers whose value a schema change must look at.
    pub async fn label_answers_with_values(&self, project_id: &str) -> Result<Vec<LabelAnswer>> {
        Ok(sqlx::query_as(
            "SELECT * FROM label_answers WHERE project_id = $1 AND value IS NOT NULL AND status IN ('submitted', 'draft') ORDER BY idx",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn label_resolutions(
        &self,
        project_id: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<LabelResolution>> {
        Ok(sqlx::query_as(
            "SELECT * FROM label_resolutions WHERE project_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
        )
        .bind(project_id)
        .bind(from)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn label_project_counts(&self, project: &LabelProject) -> Result<ProjectCounts> {
        let tasks = sqlx::query(
            "SELECT COUNT(CASE WHEN submitted >= $2 THEN 1 END) AS complete, \
             COUNT(CASE WHEN submitted > 0 THEN 1 END) AS started, \
             COUNT(CASE WHEN gold IS NOT NULL THEN 1 END) AS honeypots \
             FROM label_tasks WHERE project_id = $1",
        )
        .bind(&project.id)
        .bind(project.overlap)
        .fetch_one(self.pool())
        .await?;
        let answers = sqlx::query(
            "SELECT COUNT(CASE WHEN status = 'submitted' THEN 1 END) AS answers, \
             COUNT(CASE WHEN status = 'draft' AND value IS NOT NULL THEN 1 END) AS drafts, \
             COUNT(CASE WHEN status = 'skipped' THEN 1 END) AS skipped \
             FROM label_answers WHERE project_id = $1",
        )
        .bind(&project.id)
        .fetch_one(self.pool())
        .await?;
        let resolved: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM label_resolutions WHERE project_id = $1")
                .bind(&project.id)
                .fetch_one(self.pool())
                .await?;
        Ok(ProjectCounts {
            complete: tasks.try_get("complete")?,
            started: tasks.try_get("started")?,
            honeypots: tasks.try_get("honeypots")?,
            answers: answers.try_get("answers")?,
            drafts: answers.try_get("drafts")?,
            skipped: answers.try_get("skipped")?,
            resolved,
        })
    }
}
