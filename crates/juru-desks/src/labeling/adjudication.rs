//! Adjudication: the items whose answers disagree, side by side; a person picks or edits the
//! label with a reason; aggregation (majority vote, Dawid–Skene) fills the rest. Resolved labels
//! are their own layer (`label_resolutions`) with the answers they came from, so the answers
//! themselves are never overwritten.

use std::collections::{BTreeMap, HashMap};

use juru_core::labels::LabelKind;
use juru_core::timefmt::format_ms;
use juru_core::{Action, Area, roles::Desk};
use juru_stats::aggregation::{self, Votes};
use juru_store::audit::NewAudit;
use juru_store::labeling::{LabelAnswer, LabelResolution};
use juru_store::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{AnswerView, answer_view, parse_json};
use crate::{Actor, DeskError, Desks, Result};

const LABELING: Area = Area::Desk(Desk::Labeling);

/// An item whose answers differ.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disagreement {
    pub index: i64,
    pub text: String,
    pub answers: Vec<AnswerView>,
    pub resolution: Option<ResolutionView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResolutionView {
    pub index: i64,
    pub value: Value,
    /// `adjudicated`, `majority` or `dawid_skene`.
    pub method: String,
    pub reason: String,
    /// Ids of the answers it was resolved from.
    pub sources: Value,
    pub schema_version: i64,
    pub resolved_by: String,
    pub created_at: String,
}

/// A person's decision on an item.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// The resolved label; absent to take the answer named by `answer_id` as it is.
    pub value: Option<Value>,
    pub answer_id: Option<String>,
    /// Why (required): what the guidelines say, what the annotators missed.
    pub reason: String,
}

/// How to aggregate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateRequest {
    /// `majority` or `dawid_skene`.
    pub method: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateOutcome {
    pub method: String,
    /// Items with answers.
    pub items: usize,
    /// Resolutions written.
    pub written: usize,
    /// Items left alone because a person adjudicated them.
    pub kept_adjudicated: usize,
    pub iterations: usize,
}

fn resolution_view(r: LabelResolution, names: &HashMap<String, String>) -> ResolutionView {
    ResolutionView {
        index: r.idx,
        value: parse_json(&r.value),
        method: r.method,
        reason: r.reason,
        sources: parse_json(&r.sources),
        schema_version: r.schema_version,
        resolved_by: names.get(&r.resolved_by).cloned().unwrap_or(r.resolved_by),
        created_at: format_ms(r.created_at),
    }
}

fn by_item(answers: Vec<LabelAnswer>) -> BTreeMap<i64, Vec<LabelAnswer>> {
    let mut items: BTreeMap<i64, Vec<LabelAnswer>> = BTreeMap::new();
    for a in answers {
        items.entry(a.idx).or_default().push(a);
    }
    items
}

impl Desks {
    /// Items with two or more submitted answers that are not all the same, from item `from`.
    pub async fn label_disagreements(
        &self,
        actor: &Actor,
        project: &str,
        from: i64,
        limit: usize,
    ) -> Result<Vec<Disagreement>> {
        actor.require(LABELING, Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let items = by_item(self.store.label_answers_all(&p.id, "submitted").await?);
        let resolutions: HashMap<i64, LabelResolution> =
            self.store.label_resolutions(&p.id, 0, i64::MAX).await?.into_iter().map(|r| (r.idx, r)).collect();
        let mut out = Vec::new();
        for (idx, answers) in items.into_iter().filter(|(idx, _)| *idx >= from) {
            if answers.len() < 2 || answers.iter().all(|a| a.value == answers[0].value) {
                continue;
            }
            let mut ids: Vec<String> = answers.iter().map(|a| a.annotator.clone()).collect();
            let resolution = resolutions.get(&idx).cloned();
            if let Some(r) = &resolution {
                ids.push(r.resolved_by.clone());
            }
            let names = self.usernames(ids).await?;
            let text = self.item_text(&p, idx).await?;
            out.push(Disagreement {
                index: idx,
                text,
                answers: answers.into_iter().map(|a| answer_view(a, &names)).collect(),
                resolution: resolution.map(|r| resolution_view(r, &names)),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Records a person's resolved label for an item, with the reason.
    pub async fn resolve_label(
        &self,
        actor: &Actor,
        project: &str,
        idx: i64,
        req: &ResolveRequest,
    ) -> Result<ResolutionView> {
        actor.require(LABELING, Action::Write)?;
        if req.reason.trim().is_empty() {
            return Err(DeskError::invalid("a resolution needs a reason"));
        }
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        let answers = self.store.label_answers_of(&p.id, idx).await?;
        let value = match (&req.value, &req.answer_id) {
            (Some(v), _) => v.clone(),
            (None, Some(id)) => answers
                .iter()
                .find(|a| &a.id == id && a.status == "submitted")
                .and_then(|a| a.value.as_deref().map(parse_json))
                .ok_or_else(|| DeskError::invalid(format!("item {idx} has no submitted answer {id:?}")))?,
            (None, None) => {
                return Err(DeskError::invalid("give the resolved value or the answer_id to take"));
            }
        };
        let text = self.item_text(&p, idx).await?;
        let value = schema.check_answer(&value, Some(&text)).map_err(|e| {
            DeskError::invalid(format!("resolution of item {idx} does not fit the schema: {e}"))
        })?;
        let before = self.store.label_resolutions(&p.id, idx, 1).await?.into_iter().find(|r| r.idx == idx);
        let sources: Vec<&String> =
            answers.iter().filter(|a| a.status == "submitted").map(|a| &a.id).collect();
        let r = LabelResolution {
            project_id: p.id.clone(),
            idx,
            value: value.to_string(),
            method: "adjudicated".into(),
            reason: req.reason.trim().to_owned(),
            sources: json!(sources).to_string(),
            schema_version: p.schema_version,
            resolved_by: actor.user_id.clone(),
            created_at: now_ms(),
        };
        let mut tx = self.store.write().await?;
        tx.put_label_resolution(&r).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.resolve",
            object_kind: "label_project",
            object_id: &p.id,
            summary: json!({"project": p.name, "item": idx, "value": value, "reason": r.reason,
                            "before": before.map(|b| json!({"value": parse_json(&b.value), "method": b.method}))}),
        })
        .await?;
        tx.commit().await?;
        let names = std::collections::HashMap::from([(actor.user_id.clone(), actor.username.clone())]);
        Ok(resolution_view(r, &names))
    }

    /// Aggregates every answered item that no person adjudicated, by majority vote or
    /// Dawid–Skene, into the resolved layer.
    pub async fn aggregate_labels(
        &self,
        actor: &Actor,
        project: &str,
        req: &AggregateRequest,
    ) -> Result<AggregateOutcome> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        if !matches!(schema.kind, LabelKind::Single | LabelKind::Pairwise | LabelKind::Rating) {
            return Err(DeskError::invalid(format!(
                "aggregation takes one category per answer; a {} project is resolved by adjudication",
                schema.kind_name()
            )));
        }
        let choices = schema.choices();
        let lo = if schema.kind == LabelKind::Rating { schema.min.unwrap_or(1) as f64 } else { 0.0 };
        let items = by_item(self.store.label_answers_all(&p.id, "submitted").await?);
        let adjudicated: std::collections::HashSet<i64> = self
            .store
            .label_resolutions(&p.id, 0, i64::MAX)
            .await?
            .into_iter()
            .filter(|r| r.method == "adjudicated")
            .map(|r| r.idx)
            .collect();
        let mut annotators: HashMap<String, usize> = HashMap::new();
        let mut votes: Vec<Votes> = Vec::with_capacity(items.len());
        let mut idxs = Vec::with_capacity(items.len());
        let mut sources = Vec::with_capacity(items.len());
        for (idx, answers) in &items {
            let mut v = Votes::new();
            for a in answers {
                let Some(code) = a.value.as_deref().and_then(|t| schema.code(&parse_json(t))) else {
                    continue;
                };
                let next = annotators.len();
                let who = *annotators.entry(a.annotator.clone()).or_insert(next);
                v.push((who, (code - lo) as usize));
            }
            if !v.is_empty() {
                votes.push(v);
                idxs.push(*idx);
                sources.push(answers.iter().map(|a| a.id.clone()).collect::<Vec<_>>());
            }
        }
        if votes.is_empty() {
            return Err(DeskError::invalid(format!(
                "project {} has no submitted answers to aggregate",
                p.name
            )));
        }
        let result = match req.method.as_str() {
            "majority" => aggregation::majority_vote(&votes, choices.len()),
            "dawid_skene" => aggregation::dawid_skene(&votes, choices.len(), 100, 1e-6),
            other => {
                return Err(DeskError::invalid(format!(
                    "method must be majority or dawid_skene, got {other:?}"
                )));
            }
        }
        .map_err(|e| DeskError::invalid(e.to_string()))?;
        let now = now_ms();
        let mut tx = self.store.write().await?;
        let mut written = 0;
        for (k, idx) in idxs.iter().enumerate() {
            if adjudicated.contains(idx) {
                continue;
            }
            let label = result.labels[k];
            let value = match schema.kind {
                LabelKind::Rating => json!(label as i64 + lo as i64),
                _ => json!(choices[label]),
            };
            tx.put_label_resolution(&LabelResolution {
                project_id: p.id.clone(),
                idx: *idx,
                value: value.to_string(),
                method: req.method.clone(),
                reason: format!("p = {:.3}", result.posteriors[k][label]),
                sources: json!(sources[k]).to_string(),
                schema_version: p.schema_version,
                resolved_by: actor.user_id.clone(),
                created_at: now,
            })
            .await?;
            written += 1;
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.aggregate",
            object_kind: "label_project",
            object_id: &p.id,
            summary: json!({"project": p.name, "method": req.method, "items": idxs.len(), "written": written,
                            "kept_adjudicated": adjudicated.len()}),
        })
        .await?;
        tx.commit().await?;
        Ok(AggregateOutcome {
            method: req.method.clone(),
            items: idxs.len(),
            written,
            kept_adjudicated: idxs.iter().filter(|i| adjudicated.contains(i)).count(),
            iterations: result.iterations,
        })
    }

    /// The resolved layer, from item `from`.
    pub async fn label_resolutions(
        &self,
        actor: &Actor,
        project: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<ResolutionView>> {
        actor.require(LABELING, Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let rows = self.store.label_resolutions(&p.id, from, limit.clamp(1, 1000)).await?;
        let names = self.usernames(rows.iter().map(|r| r.resolved_by.clone()).collect()).await?;
        Ok(rows.into_iter().map(|r| resolution_view(r, &names)).collect())
    }
}
