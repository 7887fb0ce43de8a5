//! The model registry: models, immutable versions with lineage and metrics, movable aliases.
//! The model runtime fills versions with real artifacts; this is the ledger they go in.

use juru_core::{Action, Area};
use juru_store::audit::NewAudit;
use juru_store::models::NewModelVersion;
use serde_json::json;

use crate::views::{CreateModel, Listing, ModelDetail, ModelVersionRequest, ModelVersionView, ModelView};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

impl Desks {
    /// Resolves `name`, `name@N` or `name@alias` to a model and one of its versions. A plain
    /// `name` means its `production` alias when set, else its latest version.
    pub async fn resolve_version(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> Result<(ModelDetail, ModelVersionView)> {
        let (name, pick) = reference.split_once('@').map_or((reference, None), |(n, p)| (n, Some(p)));
        let detail = self.model(actor, name).await?;
        let number = match pick {
            Some(p) if p.chars().all(|c| c.is_ascii_digit()) => p.parse::<i64>().ok(),
            Some(alias) => Some(
                *detail
                    .aliases
                    .get(alias)
                    .ok_or_else(|| DeskError::NotFound { kind: "model alias", key: alias.to_owned() })?,
            ),
            None => detail.aliases.get("production").copied().or(detail.versions.last().map(|v| v.version)),
        };
        let version = detail
            .versions
            .iter()
            .find(|v| Some(v.version) == number)
            .cloned()
            .ok_or_else(|| DeskError::NotFound { kind: "model version", key: reference.to_owned() })?;
        Ok((detail, version))
    }

    /// The local file of a version's artifact (`file:` URIs are relative to the data directory).
    pub fn artifact_path(&self, reference: &str, version: &ModelVersionView) -> Result<std::path::PathBuf> {
        match version.artifact_uri.strip_prefix("file:") {
            Some(rel) => Ok(self.data_dir.join(rel)),
            None => Err(DeskError::invalid(format!(
                "{reference}: artifact {} is not a local file",
                version.artifact_uri
            ))),
        }
    }

    pub async fn create_model(&self, actor: &Actor, req: &CreateModel) -> Result<ModelView> {
        actor.require(Area::Models, Action::Write)?;
        juru_core::names::validate_name("model name", &req.name)?;
        let mut tx = self.store.write().await?;
        let m = tx
            .insert_model(
                &actor.workspace_id,
                &req.name,
                req.task.as_deref().unwrap_or_default(),
                req.description.as_deref().unwrap_or_default(),
                &actor.audit_name(),
            )
            .await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "model.create",
            object_kind: "model",
            object_id: &m.id,
            summary: json!({"after": {"name": m.name, "task": m.task}}),
        })
        .await?;
        tx.commit().await?;
        Ok(m.into())
    }

    pub async fn models(
        &self,
        actor: &Actor,
        task: Option<&str>,
        page: &PageRequest,
    ) -> Result<Listing<ModelView>> {
        actor.require(Area::Models, Action::Read)?;
        Ok(Listing::from_page(self.store.models(&actor.workspace_id, task, page).await?, Into::into))
    }

    pub async fn model(&self, actor: &Actor, id_or_name: &str) -> Result<ModelDetail> {
        actor.require(Area::Models, Action::Read)?;
        let m = self.store.model(&actor.workspace_id, id_or_name).await?;
        let versions = self.store.model_versions(&m.id).await?;
        let aliases = self
            .store
            .model_aliases(&m.id)
            .await?
            .into_iter()
            .filter_map(|a| versions.iter().find(|v| v.id == a.version_id).map(|v| (a.alias, v.version)))
            .collect();
        Ok(ModelDetail { model: m.into(), versions: versions.into_iter().map(Into::into).collect(), aliases })
    }

    pub async fn create_model_version(
        &self,
        actor: &Actor,
        model: &str,
        req: &ModelVersionRequest,
    ) -> Result<ModelVersionView> {
        actor.require(Area::Models, Action::Write)?;
        juru_core::names::validate_name("model format", &req.format)?;
        if let Some(h) = &req.sha256
            && !(h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(DeskError::invalid("sha256 must be 64 hexadecimal characters"));
        }
        let m = self.store.model(&actor.workspace_id, model).await?;
        let obj = |m: &Option<serde_json::Map<String, serde_json::Value>>| {
            m.as_ref()
                .map(|m| serde_json::Value::Object(m.clone()).to_string())
                .unwrap_or_else(|| "{}".into())
        };
        let new = NewModelVersion {
            format: req.format.clone(),
            artifact_uri: req.artifact_uri.clone().unwrap_or_default(),
            sha256: req.sha256.clone().unwrap_or_default(),
            size_bytes: req.size_bytes.unwrap_or_default().max(0),
            source: req.source.clone().unwrap_or_default(),
            lineage: obj(&req.lineage),
            metrics: obj(&req.metrics),
        };
        let mut tx = self.store.write().await?;
        let v = tx.insert_model_version(&m, &new, &actor.audit_name()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "model.version.create",
            object_kind: "model",
            object_id: &m.id,
            summary: json!({"after": {"model": m.name, "version": v.version, "format": v.format, "sha256": v.sha256}}),
        })
        .await?;
        tx.commit().await?;
        Ok(v.into())
    }

    /// Points an alias at a version (`None` removes the alias). Every move is audited with the
    /// version it pointed at before.
    pub async fn set_model_alias(
        &self,
        actor: &Actor,
        model: &str,
        alias: &str,
        version: Option<i64>,
    ) -> Result<ModelDetail> {
        actor.require(Area::Models, Action::Write)?;
        juru_core::names::validate_slug("alias", alias)?;
        let m = self.store.model(&actor.workspace_id, model).await?;
        let versions = self.store.model_versions(&m.id).await?;
        let number_of = |id: &str| versions.iter().find(|v| v.id == id).map(|v| v.version);
        let mut tx = self.store.write().await?;
        let (before, after) = match version {
            Some(n) => {
                let target = versions
                    .iter()
                    .find(|v| v.version == n)
                    .ok_or_else(|| DeskError::NotFound { kind: "model version", key: n.to_string() })?;
                let before = tx.set_model_alias(&m, alias, &target.id, &actor.audit_name()).await?;
                (before.and_then(|b| number_of(&b)), Some(n))
            }
            None => (number_of(&tx.delete_model_alias(&m, alias).await?), None),
        };
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: if version.is_some() { "model.alias.set" } else { "model.alias.remove" },
            object_kind: "model",
            object_id: &m.id,
            summary: json!({"alias": alias, "before": before, "after": after}),
        })
        .await?;
        tx.commit().await?;
        self.model(actor, &m.id).await
    }
}
