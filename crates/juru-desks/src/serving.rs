//! One model interface for every desk: a registry reference (`name`, `name@N`, `name@alias`)
//! becomes a [`ServedModel`] whatever runs it — a local GGUF LLM (llama.cpp), a local BERT
//! embedder (candle), a built-in classifier, or an external OpenAI-compatible provider — and the
//! same calls work on all of them: [`Desks::generate`] and [`Desks::generate_batch`],
//! [`Desks::embed`], [`Desks::classify`]. A model that cannot do what is asked says so.
//!
//! Loaded models are cached by version id (versions are immutable). Local generation runs one
//! at a time per process, as llama.cpp already uses every core; several prompts at once go
//! through one llama.cpp context as parallel sequences. Every generation and embedding call is
//! logged as a trace.

use std::sync::Arc;
use std::time::Instant;

use juru_core::{Action, Area};
use juru_runtime::classifier::Classifier;
use juru_runtime::embed::Embedder;
pub use juru_runtime::embed::cosine;
use juru_runtime::llm::Llm;
pub use juru_runtime::llm::{Finish, Generation, Message, Sampling};
use juru_runtime::provider::Provider;
use juru_store::audit::NewAudit;
use juru_store::now_ms;
use juru_store::traces::Trace;
use serde_json::json;

use crate::classifiers::Prediction;
use crate::views::ModelVersionView;
use crate::{Actor, DeskError, Desks, Result};

/// Registry formats and what runs them.
pub mod format {
    pub const GGUF: &str = "gguf";
    pub const SAFETENSORS: &str = "safetensors";
    pub const CLASSIFIER: &str = crate::classifiers::FORMAT;
    pub const PROVIDER: &str = "openai-compatible";
}

/// What a model can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Generate,
    Embed,
    Classify,
}

impl Task {
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Task::Generate => "generate text",
            Task::Embed => "embed text",
            Task::Classify => "classify text",
        }
    }
}

/// What runs a version.
#[derive(Clone)]
pub enum Engine {
    Llm(Arc<Llm>),
    Embedder(Arc<Embedder>),
    Classifier(Arc<Classifier>),
    /// An external provider, with the task it was registered for (`chat` or `embedding`).
    Provider(Arc<Provider>, ProviderTask),
}

/// What an external provider's model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderTask {
    Chat,
    Embedding,
}

impl Engine {
    pub fn can(&self, task: Task) -> bool {
        matches!(
            (self, task),
            (Engine::Llm(_), Task::Generate)
                | (Engine::Embedder(_), Task::Embed)
                | (Engine::Classifier(_), Task::Classify)
                | (Engine::Provider(_, ProviderTask::Chat), Task::Generate)
                | (Engine::Provider(_, ProviderTask::Embedding), Task::Embed)
        )
    }
}

/// A registry version, loaded and ready.
#[derive(Clone)]
pub struct ServedModel {
    pub name: String,
    pub version: i64,
    pub version_id: String,
    pub format: String,
    pub engine: Engine,
}

impl From<juru_runtime::RuntimeError> for DeskError {
    fn from(e: juru_runtime::RuntimeError) -> Self {
        match e {
            juru_runtime::RuntimeError::Provider { .. } => DeskError::Unavailable(e.to_string()),
            e => DeskError::Invalid(e.to_string()),
        }
    }
}

/// Embeddings, in the order of the texts.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: usize,
}

/// What to generate from.
#[derive(Debug, Clone)]
pub enum GenerateInput {
    Chat(Vec<Message>),
    Text(String),
}

impl GenerateInput {
    fn trace_input(&self) -> String {
        match self {
            GenerateInput::Chat(m) => serde_json::to_string(m).unwrap_or_default(),
            GenerateInput::Text(t) => serde_json::Value::String(t.clone()).to_string(),
        }
    }
}

/// What a version of this format (and lineage, for providers) can do, if anything.
pub fn version_task(format: &str, lineage: &serde_json::Value) -> Option<Task> {
    Some(match format {
        format::GGUF => Task::Generate,
        format::SAFETENSORS => Task::Embed,
        format::CLASSIFIER => Task::Classify,
        format::PROVIDER => match provider_task(lineage) {
            ProviderTask::Embedding => Task::Embed,
            ProviderTask::Chat => Task::Generate,
        },
        _ => return None,
    })
}

/// The most texts one embedding or classification call takes.
pub const MAX_BATCH: usize = 10_000;

impl Desks {
    /// Registry models that something can be served from, with what they can do, in the
    /// actor's workspace (what `/v1/models` lists).
    pub async fn servable_models(&self, actor: &Actor) -> Result<Vec<(crate::views::ModelView, Vec<Task>)>> {
        actor.require(Area::Models, Action::Read)?;
        let all =
            self.models(actor, None, &crate::PageRequest { limit: Some(1000), cursor: None }).await?.items;
        let mut out = Vec::new();
        for m in all {
            let versions = self.store.model_versions(&m.id).await?;
            let mut tasks = Vec::new();
            for v in &versions {
                let lineage = serde_json::from_str(&v.lineage).unwrap_or_default();
                let Some(t) = version_task(&v.format, &lineage) else { continue };
                if !tasks.contains(&t) {
                    tasks.push(t);
                }
            }
            if !tasks.is_empty() {
                out.push((m, tasks));
            }
        }
        Ok(out)
    }

    /// Resolves a reference and loads what runs it (cached by version).
    pub async fn serve(&self, actor: &Actor, reference: &str) -> Result<ServedModel> {
        actor.require(Area::Models, Action::Read)?;
        let (detail, version) = self.resolve_version(actor, reference).await?;
        let cached = self
            .engines
            .lock()
            .map_err(|_| DeskError::invalid("model cache poisoned"))?
            .get(&version.id)
            .cloned();
        let engine = match cached {
            Some(e) => e,
            None => {
                let engine = self.load_engine(reference, &version).await?;
                if let Ok(mut cache) = self.engines.lock() {
                    cache.insert(version.id.clone(), engine.clone());
                }
                engine
            }
        };
        Ok(ServedModel {
            name: detail.model.name,
            version: version.version,
            version_id: version.id,
            format: version.format,
            engine,
        })
    }

    /// Like [`Desks::serve`], and an error unless the model can do `task`.
    pub async fn serve_for(&self, actor: &Actor, reference: &str, task: Task) -> Result<ServedModel> {
        let m = self.serve(actor, reference).await?;
        if !m.engine.can(task) {
            return Err(DeskError::invalid(format!(
                "{reference} is a {} model and cannot {}",
                m.format,
                task.verb()
            )));
        }
        Ok(m)
    }

    async fn load_engine(&self, reference: &str, version: &ModelVersionView) -> Result<Engine> {
        let blocking = |f: Box<dyn FnOnce() -> Result<Engine> + Send>| async move {
            tokio::task::spawn_blocking(f).await.map_err(DeskError::internal)?
        };
        Ok(match version.format.as_str() {
            format::GGUF => {
                let path = self.artifact_path(reference, version)?;
                blocking(Box::new(move || Ok(Engine::Llm(Arc::new(Llm::load(&path)?))))).await?
            }
            format::SAFETENSORS => {
                let path = self.artifact_path(reference, version)?;
                blocking(Box::new(move || Ok(Engine::Embedder(Arc::new(Embedder::load(&path)?))))).await?
            }
            format::CLASSIFIER => {
                let path = self.artifact_path(reference, version)?;
                blocking(Box::new(move || Ok(Engine::Classifier(Arc::new(Classifier::load(&path)?))))).await?
            }
            format::PROVIDER => self.provider_engine(version).await?,
            other => {
                return Err(DeskError::invalid(format!("{reference}: Juru cannot run {other} models")));
            }
        })
    }

    /// Generates from a prompt (chat messages are turned into one with the model's template,
    /// or sent as they are to a provider). Pieces of text go to `pieces` as they come; a closed
    /// receiver stops the generation. The call is logged as a trace.
    pub async fn generate(
        &self,
        actor: &Actor,
        model: &ServedModel,
        input: GenerateInput,
        sampling: Sampling,
        pieces: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<Generation> {
        let started = Instant::now();
        let generation = match &model.engine {
            Engine::Llm(llm) => {
                let prompt = match &input {
                    GenerateInput::Chat(messages) => llm.chat_prompt(messages)?,
                    GenerateInput::Text(t) => t.clone(),
                };
                let _turn =
                    self.generation_turn.clone().acquire_owned().await.map_err(DeskError::internal)?;
                let llm = llm.clone();
                tokio::task::spawn_blocking(move || {
                    llm.generate(&prompt, &sampling, |piece| match &pieces {
                        Some(tx) => tx.send(piece.to_owned()).is_ok(),
                        None => true,
                    })
                })
                .await
                .map_err(DeskError::internal)??
            }
            Engine::Provider(p, ProviderTask::Chat) => {
                let stream = pieces.is_some();
                let on_text = |piece: &str| match &pieces {
                    Some(tx) => tx.send(piece.to_owned()).is_ok(),
                    None => true,
                };
                let result = match &input {
                    GenerateInput::Chat(messages) => p.chat(messages, &sampling, stream, on_text).await,
                    GenerateInput::Text(t) => p.complete(t, &sampling, stream, on_text).await,
                };
                match result {
                    Ok(g) => g,
                    Err(e) => {
                        let latency = started.elapsed().as_secs_f64() * 1000.0;
                        self.log_failed_call(actor, model, input.trace_input(), &e.to_string(), latency)
                            .await?;
                        return Err(e.into());
                    }
                }
            }
            _ => return Err(cannot(model, Task::Generate)),
        };
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        self.log_generation(actor, model, input.trace_input(), &generation, latency).await?;
        Ok(generation)
    }

    /// Generates from several inputs at once: one llama.cpp context with a sequence per prompt
    /// for a local model, concurrent calls (within the provider's limit) for a provider.
    pub async fn generate_batch(
        &self,
        actor: &Actor,
        model: &ServedModel,
        inputs: Vec<GenerateInput>,
        sampling: Sampling,
    ) -> Result<Vec<Generation>> {
        if inputs.is_empty() || inputs.len() > 64 {
            return Err(DeskError::invalid("send 1 to 64 inputs at once"));
        }
        let started = Instant::now();
        let generations = match &model.engine {
            Engine::Llm(llm) => {
                let prompts = inputs
                    .iter()
                    .map(|i| match i {
                        GenerateInput::Chat(m) => llm.chat_prompt(m),
                        GenerateInput::Text(t) => Ok(t.clone()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let _turn =
                    self.generation_turn.clone().acquire_owned().await.map_err(DeskError::internal)?;
                let llm = llm.clone();
                tokio::task::spawn_blocking(move || llm.generate_many(&prompts, &sampling))
                    .await
                    .map_err(DeskError::internal)??
            }
            Engine::Provider(_, ProviderTask::Chat) => {
                let calls =
                    inputs.iter().map(|i| self.generate(actor, model, i.clone(), sampling.clone(), None));
                return futures::future::try_join_all(calls).await;
            }
            _ => return Err(cannot(model, Task::Generate)),
        };
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        for (input, g) in inputs.iter().zip(&generations) {
            self.log_generation(actor, model, input.trace_input(), g, latency).await?;
        }
        Ok(generations)
    }

    /// The log-likelihood a local LLM gives each text (see `Llm::log_likelihood`), with the
    /// tokens scored; providers do not expose it. Logged as one trace per call.
    pub async fn log_likelihoods(
        &self,
        actor: &Actor,
        model: &ServedModel,
        texts: Vec<String>,
    ) -> Result<Vec<(f64, usize)>> {
        let Engine::Llm(llm) = &model.engine else {
            return Err(DeskError::invalid(format!(
                "{} is a {} model: likelihoods need a local LLM",
                model.name, model.format
            )));
        };
        let started = Instant::now();
        let _turn = self.generation_turn.clone().acquire_owned().await.map_err(DeskError::internal)?;
        let (llm, inputs) = (llm.clone(), texts.clone());
        let scored = tokio::task::spawn_blocking(move || {
            inputs.iter().map(|t| llm.log_likelihood(t)).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(DeskError::internal)??;
        let tokens: usize = scored.iter().map(|s| s.1).sum();
        let trace = Trace {
            name: "model.score".into(),
            input: serde_json::to_string(&texts).map_err(DeskError::internal)?,
            output: json!({"log_likelihoods": scored.iter().map(|s| s.0).collect::<Vec<_>>()}).to_string(),
            input_tokens: Some(tokens as i64),
            output_tokens: Some(0),
            metadata: json!({"via": "juru", "caller": actor.audit_name()}).to_string(),
            ..self.trace_of(actor, model, started)
        };
        self.write_trace(actor, model, trace).await?;
        Ok(scored)
    }

    /// Embeds texts (unit-length vectors for local models), in their order.    /// Embeds texts (unit-length vectors for local models), in their order.
    pub async fn embed(&self, actor: &Actor, model: &ServedModel, texts: Vec<String>) -> Result<Embedded> {
        if texts.is_empty() || texts.len() > MAX_BATCH {
            return Err(DeskError::invalid(format!("send 1 to {MAX_BATCH} texts")));
        }
        let started = Instant::now();
        let embedded = match &model.engine {
            Engine::Embedder(e) => {
                let e = e.clone();
                let texts = texts.clone();
                tokio::task::spawn_blocking(move || {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    e.embed(&refs)
                })
                .await
                .map_err(DeskError::internal)?
                .map(|e| Embedded { vectors: e.vectors, tokens: e.tokens })?
            }
            Engine::Provider(p, ProviderTask::Embedding) => {
                let (vectors, tokens) = p.embed(&texts).await?;
                Embedded { vectors, tokens }
            }
            _ => return Err(cannot(model, Task::Embed)),
        };
        let dims = embedded.vectors.first().map_or(0, Vec::len);
        let trace = Trace {
            name: "model.embed".into(),
            input: serde_json::to_string(&texts).map_err(DeskError::internal)?,
            output: json!({"vectors": embedded.vectors.len(), "dims": dims}).to_string(),
            input_tokens: Some(embedded.tokens as i64),
            output_tokens: Some(0),
            metadata: json!({"via": "juru", "caller": actor.audit_name()}).to_string(),
            ..self.trace_of(actor, model, started)
        };
        self.write_trace(actor, model, trace).await?;
        Ok(embedded)
    }

    /// Classifies texts with a classifier model.
    pub async fn classify(
        &self,
        actor: &Actor,
        model: &ServedModel,
        texts: &[String],
    ) -> Result<Vec<Prediction>> {
        if texts.is_empty() || texts.len() > MAX_BATCH {
            return Err(DeskError::invalid(format!("send 1 to {MAX_BATCH} texts")));
        }
        actor.require(Area::Models, Action::Read)?;
        let Engine::Classifier(c) = &model.engine else { return Err(cannot(model, Task::Classify)) };
        let started = Instant::now();
        let predictions: Vec<Prediction> =
            texts.iter().map(|t| crate::classifiers::predict_one(c, t)).collect();
        // One trace per text, with the model's confidence, so review rules can route by it.
        let each_ms = started.elapsed().as_secs_f64() * 1000.0 / texts.len() as f64;
        let traces: Vec<Trace> = texts
            .iter()
            .zip(&predictions)
            .map(|(text, p)| Trace {
                name: "classifier.predict".into(),
                input: serde_json::Value::String(text.clone()).to_string(),
                output: json!({"label": p.label, "probability": p.probability}).to_string(),
                latency_ms: Some(each_ms),
                metadata: json!({"confidence": p.probability, "via": "juru", "caller": actor.audit_name()})
                    .to_string(),
                ..self.trace_of(actor, model, Instant::now())
            })
            .collect();
        self.write_traces(actor, model, &traces).await?;
        Ok(predictions)
    }

    /// A trace of a call to `model` that started at `started`, to be filled in.
    fn trace_of(&self, actor: &Actor, model: &ServedModel, started: Instant) -> Trace {
        Trace {
            workspace_id: actor.workspace_id.clone(),
            id: juru_core::ids::new_id(),
            name: String::new(),
            input: String::new(),
            output: String::new(),
            model: model.name.clone(),
            model_version_id: Some(model.version_id.clone()),
            prompt: String::new(),
            prompt_version_id: None,
            latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            input_tokens: None,
            output_tokens: None,
            cost: Some(0.0),
            status: "ok".into(),
            metadata: "{}".into(),
            created_at: now_ms(),
        }
    }

    async fn log_generation(
        &self,
        actor: &Actor,
        model: &ServedModel,
        input: String,
        g: &Generation,
        latency_ms: f64,
    ) -> Result<()> {
        let trace = Trace {
            name: "llm.generate".into(),
            input,
            output: serde_json::Value::String(g.text.clone()).to_string(),
            latency_ms: Some(latency_ms),
            input_tokens: Some(g.prompt_tokens as i64),
            output_tokens: Some(g.completion_tokens as i64),
            metadata: json!({"finish": g.finish, "via": "juru", "caller": actor.audit_name()}).to_string(),
            ..self.trace_of(actor, model, Instant::now())
        };
        self.write_trace(actor, model, trace).await
    }

    async fn log_failed_call(
        &self,
        actor: &Actor,
        model: &ServedModel,
        input: String,
        error: &str,
        latency_ms: f64,
    ) -> Result<()> {
        let trace = Trace {
            name: "llm.generate".into(),
            input,
            output: "null".into(),
            latency_ms: Some(latency_ms),
            status: "error".into(),
            metadata: json!({"error": error, "via": "juru", "caller": actor.audit_name()}).to_string(),
            ..self.trace_of(actor, model, Instant::now())
        };
        self.write_trace(actor, model, trace).await
    }

    /// Writes a trace of a model call made through Juru, whatever the caller's role: the log
    /// belongs to the workspace, not to the caller's desk.
    async fn write_trace(&self, actor: &Actor, model: &ServedModel, trace: Trace) -> Result<()> {
        self.write_traces(actor, model, std::slice::from_ref(&trace)).await
    }

    /// Writes traces of calls made through Juru in one transaction, sending those that review
    /// rules match to their queues.
    async fn write_traces(&self, actor: &Actor, model: &ServedModel, traces: &[Trace]) -> Result<()> {
        let rules = self.routing_rules(&actor.workspace_id).await?;
        let mut tx = self.store.write().await?;
        let inserted = tx.insert_traces(traces).await?;
        let routed = self.route_traces(&mut tx, &rules, traces, &Default::default()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "trace.ingest",
            object_kind: "trace",
            object_id: traces.first().map(|t| t.id.as_str()).unwrap_or_default(),
            summary: json!({"received": traces.len(), "inserted": inserted, "model": model.name,
                            "routed_for_review": routed}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a provider version was registered for, from its lineage (`{"provider": {"task": …}}`).
pub(crate) fn provider_task(lineage: &serde_json::Value) -> ProviderTask {
    match lineage["provider"]["task"].as_str() {
        Some("embedding") => ProviderTask::Embedding,
        _ => ProviderTask::Chat,
    }
}

fn cannot(model: &ServedModel, task: Task) -> DeskError {
    DeskError::invalid(format!(
        "{}@{} is a {} model and cannot {}",
        model.name,
        model.version,
        model.format,
        task.verb()
    ))
}
