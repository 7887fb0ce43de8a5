//! Reading the audit log: browse, export and verify (administrators and compliance officers).

use juru_core::audit::ChainBreak;
use juru_core::{Action, Area};
use juru_store::audit::AuditFilter;

use crate::views::AuditEntryView;
use crate::{Actor, Desks, Result};

impl Desks {
    /// Entries of the actor's workspace after `after_seq`, oldest first.
    pub async fn audit_entries(
        &self,
        actor: &Actor,
        after_seq: i64,
        limit: i64,
        action_prefix: Option<&str>,
    ) -> Result<Vec<AuditEntryView>> {
        actor.require(Area::Audit, Action::Read)?;
        let filter = AuditFilter {
            workspace_id: Some(actor.workspace_id.clone()),
            action_prefix: action_prefix.map(str::to_owned),
            actor: None,
            after_seq,
            limit,
        };
        Ok(self.store.audit_entries(&filter).await?.into_iter().map(Into::into).collect())
    }

    /// Walks the whole chain: `Ok(Ok(n))` when its `n` entries are intact.
    pub async fn audit_verify(&self, actor: &Actor) -> Result<Result<i64, ChainBreak>> {
        actor.require(Area::Audit, Action::Read)?;
        Ok(self.store.audit_verify().await?)
    }
}
