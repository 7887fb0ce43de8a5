//! External providers in the registry: an OpenAI-compatible endpoint registered as a model
//! version of format `openai-compatible`. The version records where and how to call it (base
//! URL, the provider's model name, timeout, retries, concurrency); its API key is sealed
//! (see [`crate::secrets`]) in a table of its own, so that no listing, export or audit entry
//! ever carries it.

use std::sync::Arc;
use std::time::Duration;

use juru_core::{Action, Area};
use juru_runtime::provider::{Provider, ProviderConfig};
use juru_store::audit::NewAudit;
use juru_store::models::NewModelVersion;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::secrets::Sealer;
use crate::serving::{Engine, format};
use crate::views::{CreateModel, ModelVersionView, RegisterProvider};
use crate::{Actor, DeskError, Desks, Result};

/// How a provider version is called, as kept in its lineage (`{"provider": …}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    base_url: String,
    model: String,
    task: String,
    timeout_ms: u64,
    max_retries: u32,
    concurrency: usize,
    api_key: bool,
}

impl Desks {
    /// The data directory's sealer, made on first use.
    fn sealer(&self) -> Result<&Sealer> {
        if let Some(s) = self.sealer.get() {
            return Ok(s);
        }
        let made = Sealer::for_data_dir(&self.data_dir)?;
        Ok(self.sealer.get_or_init(|| made))
    }

    /// Registers an external endpoint as a new version of model `name` (made when missing).
    pub async fn register_provider(
        &self,
        actor: &Actor,
        name: &str,
        req: &RegisterProvider,
    ) -> Result<ModelVersionView> {
        actor.require(Area::Models, Action::Write)?;
        let task = match req.task.as_deref().unwrap_or("chat") {
            "chat" => "chat",
            "embedding" => "embedding",
            other => return Err(DeskError::invalid(format!("task {other:?}: use chat or embedding"))),
        };
        let settings = Settings {
            base_url: req.base_url.trim().trim_end_matches('/').to_owned(),
            model: req.remote_model.trim().to_owned(),
            task: task.into(),
            timeout_ms: req.timeout_ms.unwrap_or(60_000),
            max_retries: req.max_retries.unwrap_or(3),
            concurrency: req.concurrency.unwrap_or(4),
            api_key: req.api_key.as_deref().is_some_and(|k| !k.is_empty()),
        };
        if settings.model.is_empty() {
            return Err(DeskError::invalid("remote_model must not be empty"));
        }
        if !(100..=600_000).contains(&settings.timeout_ms) || settings.max_retries > 10 {
            return Err(DeskError::invalid("timeout_ms must be 100 to 600,000 and max_retries at most 10"));
        }
        if !(1..=256).contains(&settings.concurrency) {
            return Err(DeskError::invalid("concurrency must be 1 to 256"));
        }
        // Checks the URL the way calls will use it.
        Provider::new(config(&settings, None)).map_err(|e| DeskError::invalid(e.to_string()))?;
        match self
            .create_model(
                actor,
                &CreateModel {
                    name: name.into(),
                    task: Some(task.into()),
                    description: Some(format!("external: {} at {}", settings.model, settings.base_url)),
                },
            )
            .await
        {
            Ok(_) | Err(DeskError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let m = self.store.model(&actor.workspace_id, name).await?;
        let new = NewModelVersion {
            format: format::PROVIDER.into(),
            artifact_uri: settings.base_url.clone(),
            source: format!("provider:{}", settings.base_url),
            lineage: json!({"provider": settings}).to_string(),
            metrics: "{}".into(),
            ..NewModelVersion::default()
        };
        let sealer = match settings.api_key {
            true => Some(self.sealer()?),
            false => None,
        };
        let mut tx = self.store.write().await?;
        let v = tx.insert_model_version(&m, &new, &actor.audit_name()).await?;
        if let (Some(sealer), Some(key)) = (sealer, &req.api_key) {
            tx.insert_model_credential(&v, &sealer.seal(key, &v.id)?).await?;
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "model.version.create",
            object_kind: "model",
            object_id: &m.id,
            summary: json!({"after": {"model": m.name, "version": v.version, "format": v.format,
                                      "provider": settings.base_url, "remote_model": settings.model,
                                      "api_key": if settings.api_key { "set" } else { "none" }}}),
        })
        .await?;
        tx.commit().await?;
        if let Some(alias) = &req.alias {
            self.set_model_alias(actor, name, alias, Some(v.version)).await?;
        }
        Ok(v.into())
    }

    /// The provider client of a version, with its key opened.
    pub(crate) async fn provider_engine(&self, version: &ModelVersionView) -> Result<Engine> {
        let settings: Settings =
            serde_json::from_value(version.lineage["provider"].clone()).map_err(|e| {
                DeskError::invalid(format!(
                    "version {} has no usable provider settings: {e}",
                    version.version
                ))
            })?;
        let key = match self.store.model_credential(&version.id).await? {
            Some(sealed) => Some(self.sealer()?.open(&sealed, &version.id)?),
            None => None,
        };
        let task = crate::serving::provider_task(&version.lineage);
        Ok(Engine::Provider(Arc::new(Provider::new(config(&settings, key))?), task))
    }
}

fn config(s: &Settings, api_key: Option<String>) -> ProviderConfig {
    ProviderConfig {
        base_url: s.base_url.clone(),
        model: s.model.clone(),
        api_key,
        timeout: Duration::from_millis(s.timeout_ms),
        max_retries: s.max_retries,
        concurrency: s.concurrency,
    }
}
