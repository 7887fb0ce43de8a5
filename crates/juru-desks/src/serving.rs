//! Running the registry's local LLMs for callers: load a GGUF version once (cached by version
//! id), generate on a blocking thread, stream pieces through a channel, and log every call as a
//! trace. One generation runs at a time per process: llama.cpp already uses every core.

use std::sync::Arc;
use std::time::Instant;

use juru_core::{Action, Area};
use juru_runtime::llm::Llm;
pub use juru_runtime::llm::{Finish, Generation, Message, Sampling};
use juru_store::audit::NewAudit;
use juru_store::now_ms;
use juru_store::traces::Trace;
use serde_json::json;

use crate::{Actor, DeskError, Desks, Result};

/// A model ready to generate.
#[derive(Clone)]
pub struct ServedModel {
    pub name: String,
    pub version_id: String,
    pub llm: Arc<Llm>,
}

impl From<juru_runtime::RuntimeError> for DeskError {
    fn from(e: juru_runtime::RuntimeError) -> Self {
        DeskError::Invalid(e.to_string())
    }
}

impl Desks {
    /// Registry models that can chat (GGUF versions) in the actor's workspace.
    pub async fn chat_models(&self, actor: &Actor) -> Result<Vec<crate::views::ModelView>> {
        actor.require(Area::Models, Action::Read)?;
        let all =
            self.models(actor, None, &crate::PageRequest { limit: Some(1000), cursor: None }).await?.items;
        let mut out = Vec::new();
        for m in all {
            if self.store.model_versions(&m.id).await?.iter().any(|v| v.format == "gguf") {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Resolves `name`, `name@N` or `name@alias` to a loaded GGUF model.
    pub async fn served_llm(&self, actor: &Actor, reference: &str) -> Result<ServedModel> {
        actor.require(Area::Models, Action::Read)?;
        let (detail, version) = self.resolve_version(actor, reference).await?;
        if version.format != "gguf" {
            return Err(DeskError::invalid(format!(
                "{reference} is a {} model; chat needs a GGUF model",
                version.format
            )));
        }
        if let Some(llm) =
            self.llms.lock().map_err(|_| DeskError::invalid("model cache poisoned"))?.get(&version.id)
        {
            return Ok(ServedModel {
                name: detail.model.name.clone(),
                version_id: version.id.clone(),
                llm: llm.clone(),
            });
        }
        let path = self.artifact_path(reference, &version)?;
        let llm = Arc::new(
            tokio::task::spawn_blocking(move || Llm::load(&path)).await.map_err(DeskError::internal)??,
        );
        if let Ok(mut cache) = self.llms.lock() {
            cache.insert(version.id.clone(), llm.clone());
        }
        Ok(ServedModel { name: detail.model.name.clone(), version_id: version.id.clone(), llm })
    }

    /// Generates from a prompt (chat messages are turned into one with the model's template).
    /// Pieces of text go to `pieces` as they come; a closed receiver stops the generation.
    /// The call is logged as a trace.
    pub async fn generate(
        &self,
        actor: &Actor,
        model: &ServedModel,
        input: GenerateInput,
        sampling: Sampling,
        pieces: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<Generation> {
        let prompt = match &input {
            GenerateInput::Chat(messages) => model.llm.chat_prompt(messages)?,
            GenerateInput::Text(t) => t.clone(),
        };
        let started = Instant::now();
        let _turn = self.generation_turn.clone().acquire_owned().await.map_err(DeskError::internal)?;
        let llm = model.llm.clone();
        let generation = tokio::task::spawn_blocking(move || {
            llm.generate(&prompt, &sampling, |piece| match &pieces {
                Some(tx) => tx.send(piece.to_owned()).is_ok(),
                None => true,
            })
        })
        .await
        .map_err(DeskError::internal)??;
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        let input_json = match &input {
            GenerateInput::Chat(m) => serde_json::to_string(m).map_err(DeskError::internal)?,
            GenerateInput::Text(t) => serde_json::Value::String(t.clone()).to_string(),
        };
        self.log_model_call(actor, model, input_json, &generation, latency).await?;
        Ok(generation)
    }

    /// Writes a trace of a model call made through Juru, whatever the caller's role: the log
    /// belongs to the workspace, not to the caller's desk.
    async fn log_model_call(
        &self,
        actor: &Actor,
        model: &ServedModel,
        input: String,
        g: &Generation,
        latency_ms: f64,
    ) -> Result<()> {
        let trace = Trace {
            workspace_id: actor.workspace_id.clone(),
            id: juru_core::ids::new_id(),
            name: "llm.generate".into(),
            input,
            output: serde_json::Value::String(g.text.clone()).to_string(),
            model: model.name.clone(),
            model_version_id: Some(model.version_id.clone()),
            prompt: String::new(),
            prompt_version_id: None,
            latency_ms: Some(latency_ms),
            input_tokens: Some(g.prompt_tokens as i64),
            output_tokens: Some(g.completion_tokens as i64),
            cost: Some(0.0),
            status: "ok".into(),
            metadata: json!({"finish": g.finish, "via": "juru", "caller": actor.audit_name()}).to_string(),
            created_at: now_ms(),
        };
        let mut tx = self.store.write().await?;
        tx.insert_traces(std::slice::from_ref(&trace)).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "trace.ingest",
            object_kind: "trace",
            object_id: &trace.id,
            summary: json!({"received": 1, "inserted": 1, "model": model.name}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What to generate from.
#[derive(Debug, Clone)]
pub enum GenerateInput {
    Chat(Vec<Message>),
    Text(String),
}
