//! AI systems: the inventory of AI use cases that governance work starts from.

use juru_core::{Action, Area};
use juru_store::ai_systems::AiSystemFields;
use juru_store::audit::NewAudit;
use serde_json::json;

use crate::views::{AiSystemRequest, AiSystemView, Listing};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

/// Risk tiers after the EU AI Act, plus `unassessed`.
pub const RISK_TIERS: [&str; 5] = ["unassessed", "minimal", "limited", "high", "prohibited"];

fn fields(req: &AiSystemRequest) -> Result<AiSystemFields> {
    if let Some(name) = &req.name {
        juru_core::names::validate_name("AI system name", name)?;
    }
    if let Some(tier) = &req.risk_tier
        && !RISK_TIERS.contains(&tier.as_str())
    {
        return Err(DeskError::invalid(format!(
            "risk_tier {tier:?} is not one of: {}",
            RISK_TIERS.join(", ")
        )));
    }
    Ok(AiSystemFields {
        name: req.name.clone(),
        purpose: req.purpose.clone(),
        owner: req.owner.clone(),
        risk_tier: req.risk_tier.clone(),
        deployment: req.deployment.clone(),
        metadata: req.metadata.as_ref().map(|m| serde_json::Value::Object(m.clone()).to_string()),
    })
}

impl Desks {
    pub async fn create_ai_system(&self, actor: &Actor, req: &AiSystemRequest) -> Result<AiSystemView> {
        actor.require(Area::AiSystems, Action::Write)?;
        if req.name.is_none() {
            return Err(DeskError::invalid("name is required"));
        }
        let f = fields(req)?;
        let mut tx = self.store.write().await?;
        let row = tx.insert_ai_system(&actor.workspace_id, &f).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "ai_system.create",
            object_kind: "ai_system",
            object_id: &row.id,
            summary: json!({"after": {"name": row.name, "risk_tier": row.risk_tier, "owner": row.owner}}),
        })
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    pub async fn update_ai_system(
        &self,
        actor: &Actor,
        id: &str,
        req: &AiSystemRequest,
    ) -> Result<AiSystemView> {
        actor.require(Area::AiSystems, Action::Write)?;
        let f = fields(req)?;
        let before = self.store.ai_system(&actor.workspace_id, id).await?;
        let mut tx = self.store.write().await?;
        let after = tx.update_ai_system(&actor.workspace_id, id, &f).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "ai_system.update",
            object_kind: "ai_system",
            object_id: id,
            summary: json!({
                "before": {"name": before.name, "risk_tier": before.risk_tier, "owner": before.owner, "purpose": before.purpose},
                "after": {"name": after.name, "risk_tier": after.risk_tier, "owner": after.owner, "purpose": after.purpose},
            }),
        })
        .await?;
        tx.commit().await?;
        Ok(after.into())
    }

    pub async fn delete_ai_system(&self, actor: &Actor, id: &str) -> Result<()> {
        actor.require(Area::AiSystems, Action::Write)?;
        let mut tx = self.store.write().await?;
        let before = tx.delete_ai_system(&actor.workspace_id, id).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "ai_system.delete",
            object_kind: "ai_system",
            object_id: id,
            summary: json!({"before": {"name": before.name, "risk_tier": before.risk_tier}}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn ai_system(&self, actor: &Actor, id: &str) -> Result<AiSystemView> {
        actor.require(Area::AiSystems, Action::Read)?;
        Ok(self.store.ai_system(&actor.workspace_id, id).await?.into())
    }

    pub async fn ai_systems(
        &self,
        actor: &Actor,
        risk_tier: Option<&str>,
        page: &PageRequest,
    ) -> Result<Listing<AiSystemView>> {
        actor.require(Area::AiSystems, Action::Read)?;
        Ok(Listing::from_page(self.store.ai_systems(&actor.workspace_id, risk_tier, page).await?, Into::into))
    }
}
