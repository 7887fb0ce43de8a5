//! Scores on traces and dataset items, from people, models or rules.

use juru_core::{Action, Area};
use juru_store::audit::NewAudit;
use juru_store::now_ms;
use juru_store::scores::{Score, ScoreFilter};
use serde_json::json;

use crate::views::{Listing, ScoreRequest, ScoreView};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

impl Desks {
    /// Attaches a score to a trace or an item of the actor's workspace.
    pub async fn create_score(&self, actor: &Actor, req: &ScoreRequest) -> Result<ScoreView> {
        actor.require(Area::Scores, Action::Write)?;
        juru_core::names::validate_name("score name", &req.name)?;
        if req.value.is_none() && req.label.is_none() {
            return Err(DeskError::invalid("a score needs a value, a label, or both"));
        }
        if req.value.is_some_and(|v| !v.is_finite()) {
            return Err(DeskError::invalid("value must be a finite number"));
        }
        let source = req.source.clone().unwrap_or_else(|| "human".into());
        if !["human", "model", "rule"].contains(&source.as_str()) {
            return Err(DeskError::invalid(format!("source must be human, model or rule, got {source:?}")));
        }
        match req.target_kind.as_str() {
            "trace" => {
                self.store.trace(&actor.workspace_id, &req.target_id).await?;
            }
            "item" => self.check_item(actor, &req.target_id).await?,
            other => {
                return Err(DeskError::invalid(format!("target_kind must be trace or item, got {other:?}")));
            }
        }
        let score = Score {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            target_kind: req.target_kind.clone(),
            target_id: req.target_id.clone(),
            name: req.name.clone(),
            value: req.value,
            label: req.label.clone(),
            comment: req.comment.clone().unwrap_or_default(),
            source,
            author: actor.audit_name(),
            created_at: now_ms(),
        };
        // Negative feedback on a trace may send it to review; that happens in this transaction.
        let reroute = match score.target_kind.as_str() {
            "trace" if score.name == "feedback" => self.feedback_routing(actor, &score).await?,
            _ => None,
        };
        let mut tx = self.store.write().await?;
        tx.insert_score(&score).await?;
        let routed = match &reroute {
            Some((rules, trace, negative)) => {
                self.route_traces(&mut tx, rules, std::slice::from_ref(trace), negative).await?
            }
            None => 0,
        };
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "score.create",
            object_kind: "score",
            object_id: &score.id,
            summary: json!({"after": {"target": format!("{}:{}", score.target_kind, score.target_id),
                                      "name": score.name, "value": score.value, "label": score.label},
                            "routed_for_review": routed}),
        })
        .await?;
        tx.commit().await?;
        Ok(score.into())
    }

    /// An item target is `<dataset version id>:<index>` of a ready version in the workspace.
    async fn check_item(&self, actor: &Actor, target: &str) -> Result<()> {
        let bad =
            || DeskError::invalid(format!("item target {target:?} must be <dataset version id>:<index>"));
        let (version_id, idx) = target.rsplit_once(':').ok_or_else(bad)?;
        let idx: i64 = idx.parse().map_err(|_| bad())?;
        let version = self.store.dataset_version_by_id(&actor.workspace_id, version_id).await;
        let found = match version {
            Ok(v) => self.store.items(&v.id, idx, 1).await?.first().is_some_and(|i| i.idx == idx),
            Err(_) => false,
        };
        if !found {
            return Err(DeskError::NotFound { kind: "item", key: target.to_owned() });
        }
        Ok(())
    }

    pub async fn scores(
        &self,
        actor: &Actor,
        filter: &ScoreFilter,
        page: &PageRequest,
    ) -> Result<Listing<ScoreView>> {
        actor.require(Area::Scores, Action::Read)?;
        Ok(Listing::from_page(self.store.scores(&actor.workspace_id, filter, page).await?, Into::into))
    }

    pub async fn score(&self, actor: &Actor, id: &str) -> Result<ScoreView> {
        actor.require(Area::Scores, Action::Read)?;
        Ok(self.store.score(&actor.workspace_id, id).await?.into())
    }

    pub async fn delete_score(&self, actor: &Actor, id: &str) -> Result<()> {
        actor.require(Area::Scores, Action::Write)?;
        let mut tx = self.store.write().await?;
        let before = tx.delete_score(&actor.workspace_id, id).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "score.delete",
            object_kind: "score",
            object_id: id,
            summary: json!({"before": {"name": before.name, "value": before.value, "label": before.label}}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
