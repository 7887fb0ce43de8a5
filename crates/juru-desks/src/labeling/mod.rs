//! The Labeling desk: annotation projects over a dataset version, a queue that the server
//! distributes (overlap, blind mode, assignment, skips, drafts, honeypots), answers checked
//! against the project's versioned label schema, and schema changes that carry answers along.
//! Agreement, adjudication and the import/export formats live in the submodules.

pub mod active;
pub mod adjudication;
pub mod agreement;
pub mod exchange;

use std::collections::HashMap;

use juru_core::labels::{AnswerChange, LabelSchema, SchemaChange};
use juru_core::timefmt::format_ms;
use juru_core::{Action, Area, roles::Desk};
use juru_store::audit::NewAudit;
use juru_store::labeling::{AnswerWrite, LabelAnswer, LabelProject, NewLabelProject, ProjectCounts};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::views::Listing;
use crate::{Actor, DeskError, Desks, PageRequest, Result};

const LABELING: Area = Area::Desk(Desk::Labeling);
/// The most annotators one item may take.
pub const MAX_OVERLAP: i64 = 20;

/// A new project.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The dataset whose items are labelled.
    pub dataset: String,
    /// Its version (default: the latest).
    pub version: Option<i64>,
    /// The item field shown as the text to label (spans are offsets into it).
    pub text_field: String,
    pub schema: LabelSchema,
    /// Markdown shown beside every item.
    #[serde(default)]
    pub guidelines: String,
    /// Annotators per item (default 1).
    pub overlap: Option<i64>,
    /// Whether annotators are kept from seeing each other's answers (default true).
    pub blind: Option<bool>,
    /// `sequential` (default) or `uncertainty` (active learning: most uncertain first).
    pub ordering: Option<String>,
    /// Items with known answers, served to everyone to measure annotator accuracy.
    #[serde(default)]
    pub honeypots: Vec<Honeypot>,
    /// Usernames who may answer; empty: every annotator of the workspace.
    #[serde(default)]
    pub annotators: Vec<String>,
    /// Retrain the uncertainty model every this many answers (active learning; 0: never).
    pub retrain_every: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Honeypot {
    pub index: i64,
    pub answer: Value,
}

/// Changes to a project; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    /// `open` or `closed`.
    pub status: Option<String>,
    pub guidelines: Option<String>,
    pub annotators: Option<Vec<String>>,
}

/// Settings kept as JSON on the project.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Settings {
    #[serde(default)]
    pub annotators: Vec<String>,
    #[serde(default)]
    pub retrain_every: i64,
    /// (answers, held-out accuracy) after each retraining.
    #[serde(default)]
    pub learning_curve: Vec<(i64, f64)>,
    /// The classifier used for suggestions, if any.
    #[serde(default)]
    pub suggestion_model: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub dataset_version_id: String,
    pub text_field: String,
    pub guidelines: String,
    pub schema: LabelSchema,
    pub schema_version: i64,
    pub overlap: i64,
    pub blind: bool,
    pub ordering: String,
    pub status: String,
    pub item_count: i64,
    pub annotators: Vec<String>,
    pub retrain_every: i64,
    #[schema(value_type = Vec<Vec<f64>>)]
    pub learning_curve: Vec<(i64, f64)>,
    #[schema(value_type = Object)]
    pub counts: ProjectCounts,
    pub created_by: String,
    pub created_at: String,
}

/// An answer as shown to people.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnswerView {
    pub id: String,
    pub index: i64,
    pub annotator: String,
    pub status: String,
    pub value: Option<Value>,
    /// The value as first given, when a schema change has rewritten it.
    pub original: Option<Value>,
    pub schema_version: i64,
    pub seconds: Option<f64>,
    pub updated_at: String,
}

/// One item to label.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub project: String,
    pub index: i64,
    pub text: String,
    /// The whole item.
    pub data: Value,
    pub schema: LabelSchema,
    pub schema_version: i64,
    /// This annotator's own answer or draft.
    pub mine: Option<AnswerView>,
    /// Others' submitted answers (empty in blind mode).
    pub others: Vec<AnswerView>,
    /// A model's suggestion: `{"value", "score", "model"}`.
    pub suggestion: Option<Value>,
    /// Items this annotator has submitted in the project.
    pub done_by_me: i64,
}

/// What an annotator sends.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The answer, in the form the schema's kind takes; absent to skip.
    pub value: Option<Value>,
    /// `submitted` (default), `draft` or `skipped`.
    pub status: Option<String>,
    /// Time spent on the item.
    pub seconds: Option<f64>,
    /// The schema version the answer was made under; refused (409) if the schema changed since.
    pub schema_version: Option<i64>,
}

/// The outcome of a schema change.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaChangeOutcome {
    pub project: ProjectView,
    /// Answers rewritten to the new labels.
    pub migrated: u64,
    /// Answers sent back to their annotators (their label was split).
    pub reopened: u64,
}

pub(crate) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()))
}

pub(crate) fn settings_of(p: &LabelProject) -> Settings {
    serde_json::from_str(&p.settings).unwrap_or_default()
}

impl Desks {
    /// Creates a project over a dataset version: checks the schema, the text field and the
    /// honeypots' answers, and makes one task per item.
    pub async fn create_label_project(&self, actor: &Actor, req: &CreateProject) -> Result<ProjectView> {
        actor.require(LABELING, Action::Write)?;
        actor.require(Area::Datasets, Action::Read)?;
        juru_core::names::validate_name("project name", &req.name)?;
        req.schema.validate()?;
        let overlap = req.overlap.unwrap_or(1);
        if !(1..=MAX_OVERLAP).contains(&overlap) {
            return Err(DeskError::invalid(format!("overlap must be 1 to {MAX_OVERLAP}, got {overlap}")));
        }
        let ordering = req.ordering.clone().unwrap_or_else(|| "sequential".into());
        if !matches!(ordering.as_str(), "sequential" | "uncertainty") {
            return Err(DeskError::invalid(format!(
                "ordering must be sequential or uncertainty, got {ordering:?}"
            )));
        }
        let ds = self.store.dataset(&actor.workspace_id, &req.dataset).await?;
        let version = self.store.dataset_version(&ds, req.version).await?;
        let fields: juru_core::dataset::Schema = serde_json::from_str(&version.schema).unwrap_or_default();
        if !fields.fields.iter().any(|f| f.name == req.text_field) {
            return Err(DeskError::invalid(format!(
                "dataset {} has no field {:?} (fields: {})",
                ds.name,
                req.text_field,
                fields.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        for field in &req.schema.fields {
            if !fields.fields.iter().any(|f| &f.name == field) {
                return Err(DeskError::invalid(format!(
                    "dataset {} has no field {field:?} to compare",
                    ds.name
                )));
            }
        }
        for name in &req.annotators {
            self.store.user_by_name(name).await?;
        }
        let mut gold = Vec::with_capacity(req.honeypots.len());
        for h in &req.honeypots {
            if !(0..version.row_count).contains(&h.index) {
                return Err(DeskError::invalid(format!(
                    "honeypot item {} is not in the dataset ({} items)",
                    h.index, version.row_count
                )));
            }
            let item = self.store.items(&version.id, h.index, 1).await?;
            let text =
                item.first().map(|i| text_of(&parse_json(&i.data), &req.text_field)).unwrap_or_default();
            let value = req
                .schema
                .check_answer(&h.answer, Some(&text))
                .map_err(|e| DeskError::invalid(format!("honeypot item {}: {e}", h.index)))?;
            gold.push((h.index, value.to_string()));
        }
        let settings = Settings {
            annotators: req.annotators.clone(),
            retrain_every: req.retrain_every.unwrap_or(0).max(0),
            ..Settings::default()
        };
        let new = NewLabelProject {
            name: req.name.clone(),
            description: req.description.clone(),
            dataset_version_id: version.id.clone(),
            text_field: req.text_field.clone(),
            guidelines: req.guidelines.clone(),
            overlap,
            blind: req.blind.unwrap_or(true),
            ordering,
            item_count: version.row_count,
            settings: serde_json::to_string(&settings).map_err(DeskError::internal)?,
            schema: serde_json::to_string(&req.schema).map_err(DeskError::internal)?,
        };
        let mut tx = self.store.write().await?;
        let project = tx.insert_label_project(&actor.workspace_id, &actor.user_id, &new).await?;
        tx.set_label_gold(&project.id, &gold).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.project.create",
            object_kind: "label_project",
            object_id: &project.id,
            summary: json!({"name": project.name, "dataset": ds.name, "version": version.version,
                            "schema": req.schema, "overlap": overlap, "honeypots": gold.len()}),
        })
        .await?;
        tx.commit().await?;
        self.project_view(project).await
    }

    pub async fn label_projects(&self, actor: &Actor, page: &PageRequest) -> Result<Listing<ProjectView>> {
        actor.require(LABELING, Action::Read)?;
        let page = self.store.label_projects(&actor.workspace_id, page).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for p in page.items {
            items.push(self.project_view(p).await?);
        }
        Ok(Listing { items, next_cursor: page.next_cursor })
    }

    pub async fn label_project(&self, actor: &Actor, project: &str) -> Result<ProjectView> {
        actor.require(LABELING, Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        self.project_view(p).await
    }

    /// Closes or reopens a project, or changes its guidelines or annotator list.
    pub async fn update_label_project(
        &self,
        actor: &Actor,
        project: &str,
        req: &UpdateProject,
    ) -> Result<ProjectView> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        if let Some(s) = &req.status
            && !matches!(s.as_str(), "open" | "closed")
        {
            return Err(DeskError::invalid(format!("status must be open or closed, got {s:?}")));
        }
        let mut settings = settings_of(&p);
        if let Some(names) = &req.annotators {
            for name in names {
                self.store.user_by_name(name).await?;
            }
            settings.annotators = names.clone();
        }
        let settings_text = serde_json::to_string(&settings).map_err(DeskError::internal)?;
        let mut tx = self.store.write().await?;
        let after = tx
            .update_label_project(
                &p.id,
                req.status.as_deref(),
                req.guidelines.as_deref(),
                None,
                Some(&settings_text),
            )
            .await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.project.update",
            object_kind: "label_project",
            object_id: &p.id,
            summary: json!({"before": {"status": p.status, "annotators": settings_of(&p).annotators},
                            "after": {"status": after.status, "annotators": settings.annotators,
                                      "guidelines_changed": req.guidelines.is_some()}}),
        })
        .await?;
        tx.commit().await?;
        self.project_view(after).await
    }

    /// The project as an annotator may work on it: open, and naming them if it names anyone.
    async fn workable_project(&self, actor: &Actor, project: &str) -> Result<LabelProject> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let settings = settings_of(&p);
        if !settings.annotators.is_empty()
            && !settings.annotators.contains(&actor.username)
            && !actor.is_admin
        {
            let roles = actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
            return Err(DeskError::Forbidden {
                roles,
                action: "answer in",
                area: format!("project {}, which is open to {} only", p.name, settings.annotators.join(", ")),
            });
        }
        if p.status != "open" {
            return Err(DeskError::Refused(format!("project {} is closed", p.name)));
        }
        Ok(p)
    }

    /// The next item for this annotator, held for them while they work on it; `None` when
    /// nothing is left. `after` moves past an item without answering it.
    pub async fn next_label_task(
        &self,
        actor: &Actor,
        project: &str,
        after: Option<i64>,
    ) -> Result<Option<TaskView>> {
        let p = self.workable_project(actor, project).await?;
        let Some(idx) = self.store.next_label_task(&p, &actor.user_id, after).await? else { return Ok(None) };
        let mut tx = self.store.write_operational().await?;
        tx.reserve_label_task(&p, idx, &actor.user_id).await?;
        tx.commit().await?;
        Ok(Some(self.task_view(actor, &p, idx).await?))
    }

    /// One item of the project, with this annotator's answer (to go back and change it).
    pub async fn label_task(&self, actor: &Actor, project: &str, idx: i64) -> Result<TaskView> {
        actor.require(LABELING, Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        self.task_view(actor, &p, idx).await
    }

    /// Stores an answer after checking it against the schema. Submits are audited; drafts are
    /// saved as work in progress.
    pub async fn answer_label_task(
        &self,
        actor: &Actor,
        project: &str,
        idx: i64,
        req: &AnswerRequest,
    ) -> Result<AnswerView> {
        let p = self.workable_project(actor, project).await?;
        let status =
            req.status.as_deref().unwrap_or(if req.value.is_some() { "submitted" } else { "skipped" });
        if !matches!(status, "submitted" | "draft" | "skipped") {
            return Err(DeskError::invalid(format!(
                "status must be submitted, draft or skipped, got {status:?}"
            )));
        }
        if let Some(v) = req.schema_version
            && v != p.schema_version
        {
            return Err(DeskError::Refused(format!(
                "the answer was made under schema version {v}, but the project is at version {}: reload the item",
                p.schema_version
            )));
        }
        if let Some(s) = req.seconds
            && !(s.is_finite() && s >= 0.0)
        {
            return Err(DeskError::invalid(format!("seconds must be a non-negative number, got {s}")));
        }
        let schema = self.current_schema(&p).await?;
        let task = self.store.label_task(&p.id, idx).await?;
        let value = match (&req.value, status) {
            (None, "submitted") => return Err(DeskError::invalid("a submitted answer needs a value")),
            (None, _) => None,
            (Some(v), _) => {
                let text = self.item_text(&p, idx).await?;
                let checked = schema.check_answer(v, Some(&text)).map_err(|e| {
                    DeskError::invalid(format!("answer to item {idx} does not fit the schema: {e}"))
                })?;
                Some(checked.to_string())
            }
        };
        let write = AnswerWrite {
            project: &p,
            idx,
            annotator: &actor.user_id,
            status,
            value: if status == "skipped" { None } else { value },
            seconds: req.seconds,
        };
        let answer = if status == "draft" {
            let mut tx = self.store.write_operational().await?;
            let a = tx.write_label_answer(&write).await?;
            tx.commit().await?;
            a
        } else {
            let mut tx = self.store.write().await?;
            let a = tx.write_label_answer(&write).await?;
            tx.audit(NewAudit {
                workspace_id: Some(&actor.workspace_id),
                actor: &actor.audit_name(),
                action: if status == "skipped" { "labeling.answer.skip" } else { "labeling.answer.submit" },
                object_kind: "label_answer",
                object_id: &a.id,
                summary: json!({"project": p.name, "item": idx, "value": a.value.as_deref().map(parse_json),
                                "schema_version": a.schema_version, "honeypot": task.gold.is_some()}),
            })
            .await?;
            tx.commit().await?;
            a
        };
        if status == "submitted" {
            self.maybe_retrain(actor, &p).await?;
        }
        let names = HashMap::from([(actor.user_id.clone(), actor.username.clone())]);
        Ok(answer_view(answer, &names))
    }

    /// Changes the schema's labels and carries every answer along, in one transaction.
    pub async fn change_label_schema(
        &self,
        actor: &Actor,
        project: &str,
        change: &SchemaChange,
    ) -> Result<SchemaChangeOutcome> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        let next = change.apply(&schema)?;
        let answers = self.store.label_answers_with_values(&p.id).await?;
        let resolutions = self.store.label_resolutions(&p.id, 0, i64::MAX).await?;
        let gold = self.store.label_gold(&p.id).await?;
        let version = p.schema_version + 1;
        let mut tx = self.store.write().await?;
        tx.insert_label_schema(
            &p.id,
            version,
            &serde_json::to_string(&next).map_err(DeskError::internal)?,
            &serde_json::to_string(change).map_err(DeskError::internal)?,
            &actor.user_id,
        )
        .await?;
        let (mut migrated, mut reopened) = (0u64, 0u64);
        for a in &answers {
            let Some(value) = a.value.as_deref() else { continue };
            match change.migrate(&parse_json(value)) {
                AnswerChange::Unchanged => {}
                AnswerChange::Changed(v) => {
                    tx.migrate_label_answer(a, &v.to_string()).await?;
                    migrated += 1;
                }
                AnswerChange::Reopen => {
                    tx.reopen_label_answer(a).await?;
                    reopened += 1;
                }
            }
        }
        // The resolved layer and the honeypots' answers follow the same change.
        for r in &resolutions {
            match change.migrate(&parse_json(&r.value)) {
                AnswerChange::Unchanged => {}
                AnswerChange::Changed(v) => {
                    tx.migrate_label_resolution(&p.id, r.idx, Some(&v.to_string())).await?
                }
                AnswerChange::Reopen => tx.migrate_label_resolution(&p.id, r.idx, None).await?,
            }
        }
        for (idx, g) in &gold {
            match change.migrate(&parse_json(g)) {
                AnswerChange::Unchanged => {}
                AnswerChange::Changed(v) => tx.migrate_label_gold(&p.id, *idx, Some(&v.to_string())).await?,
                AnswerChange::Reopen => tx.migrate_label_gold(&p.id, *idx, None).await?,
            }
        }
        let after = tx.update_label_project(&p.id, None, None, Some(version), None).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.schema.change",
            object_kind: "label_project",
            object_id: &p.id,
            summary: json!({"project": p.name, "change": change, "from_version": p.schema_version,
                            "to_version": version, "labels_before": schema.labels, "labels_after": next.labels,
                            "migrated": migrated, "reopened": reopened}),
        })
        .await?;
        tx.commit().await?;
        Ok(SchemaChangeOutcome { project: self.project_view(after).await?, migrated, reopened })
    }

    /// Every version of a project's schema with the change that made it.
    pub async fn label_schema_history(&self, actor: &Actor, project: &str) -> Result<Vec<Value>> {
        actor.require(LABELING, Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        Ok(self
            .store
            .label_schemas(&p.id)
            .await?
            .into_iter()
            .map(|s| {
                json!({"version": s.version, "schema": parse_json(&s.spec),
                       "change": if s.change.is_empty() { Value::Null } else { parse_json(&s.change) },
                       "created_at": format_ms(s.created_at)})
            })
            .collect())
    }

    /// Stores a project's settings (suggestion model, learning curve): operational state that
    /// the audited actions around it already record.
    pub(crate) async fn save_settings(&self, project_id: &str, settings: &Settings) -> Result<()> {
        let text = serde_json::to_string(settings).map_err(DeskError::internal)?;
        let mut tx = self.store.write_operational().await?;
        tx.update_label_project(project_id, None, None, None, Some(&text)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn current_schema(&self, p: &LabelProject) -> Result<LabelSchema> {
        let rows = self.store.label_schemas(&p.id).await?;
        let row = rows.iter().find(|s| s.version == p.schema_version).ok_or_else(|| {
            DeskError::internal(juru_store::StoreError::Corrupt(format!("project {} has no schema", p.name)))
        })?;
        serde_json::from_str(&row.spec).map_err(DeskError::internal)
    }

    pub(crate) async fn item_text(&self, p: &LabelProject, idx: i64) -> Result<String> {
        let item = self.store.items(&p.dataset_version_id, idx, 1).await?;
        match item.first() {
            Some(i) if i.idx == idx => Ok(text_of(&parse_json(&i.data), &p.text_field)),
            _ => Err(DeskError::NotFound { kind: "item", key: idx.to_string() }),
        }
    }

    /// User ids to usernames, for the people who answered in a project.
    pub(crate) async fn usernames(&self, ids: Vec<String>) -> Result<HashMap<String, String>> {
        let mut names = HashMap::new();
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                let id = slot.key();
                let name = self.store.user(id).await.map(|u| u.username).unwrap_or_else(|_| id.clone());
                slot.insert(name);
            }
        }
        Ok(names)
    }

    async fn task_view(&self, actor: &Actor, p: &LabelProject, idx: i64) -> Result<TaskView> {
        let task = self.store.label_task(&p.id, idx).await?;
        let item = self.store.items(&p.dataset_version_id, idx, 1).await?;
        let data = item.first().filter(|i| i.idx == idx).map(|i| parse_json(&i.data)).unwrap_or(Value::Null);
        let answers = self.store.label_answers_of(&p.id, idx).await?;
        let names = self.usernames(answers.iter().map(|a| a.annotator.clone()).collect()).await?;
        let mut mine = None;
        let mut others = Vec::new();
        for a in answers {
            if a.annotator == actor.user_id {
                mine = Some(answer_view(a, &names));
            } else if p.blind == 0 && a.status == "submitted" {
                others.push(answer_view(a, &names));
            }
        }
        let done_by_me = self.store.label_answers_done_by(&p.id, &actor.user_id).await?;
        Ok(TaskView {
            project: p.name.clone(),
            index: idx,
            text: text_of(&data, &p.text_field),
            data,
            schema: self.current_schema(p).await?,
            schema_version: p.schema_version,
            mine,
            others,
            suggestion: task.suggestion.as_deref().map(parse_json),
            done_by_me,
        })
    }

    pub(crate) async fn project_view(&self, p: LabelProject) -> Result<ProjectView> {
        let counts = self.store.label_project_counts(&p).await?;
        let schema = self.current_schema(&p).await?;
        let settings = settings_of(&p);
        let created_by =
            self.usernames(vec![p.created_by.clone()]).await?.remove(&p.created_by).unwrap_or_default();
        Ok(ProjectView {
            id: p.id,
            name: p.name,
            description: p.description,
            dataset_version_id: p.dataset_version_id,
            text_field: p.text_field,
            guidelines: p.guidelines,
            schema,
            schema_version: p.schema_version,
            overlap: p.overlap,
            blind: p.blind != 0,
            ordering: p.ordering,
            status: p.status,
            item_count: p.item_count,
            annotators: settings.annotators,
            retrain_every: settings.retrain_every,
            learning_curve: settings.learning_curve,
            counts,
            created_by,
            created_at: format_ms(p.created_at),
        })
    }
}

/// The text of an item's field, as shown (non-strings as JSON).
pub(crate) fn text_of(data: &Value, field: &str) -> String {
    match data.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn answer_view(a: LabelAnswer, names: &HashMap<String, String>) -> AnswerView {
    AnswerView {
        annotator: names.get(&a.annotator).cloned().unwrap_or_else(|| a.annotator.clone()),
        id: a.id,
        index: a.idx,
        status: a.status,
        value: a.value.as_deref().map(parse_json),
        original: a.original.as_deref().map(parse_json),
        schema_version: a.schema_version,
        seconds: a.seconds,
        updated_at: format_ms(a.updated_at),
    }
}
