//! The OpenAI-compatible endpoint under `/v1`, for the registry's models (local ones and
//! external providers alike): list models, chat completions and text completions (with
//! `stream: true` as server-sent events), and embeddings. Clients
//! authenticate with a Juru API token (the `api_key` of OpenAI's clients). Every call is logged
//! as a trace. Unknown request fields are ignored here, as OpenAI's clients send extras.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use juru_desks::serving::{Finish, GenerateInput, Generation, Message, Sampling, ServedModel, Task};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(chat_completions))
        .routes(routes!(completions))
        .routes(routes!(embeddings))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The models that can generate text or embeddings, as OpenAI lists them (Juru adds what each
/// can do under `capabilities`).
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, description = "{object: list, data: [model]}")))]
async fn models(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Value>, ApiError> {
    let data: Vec<Value> = s
        .desks
        .servable_models(&a)
        .await?
        .into_iter()
        .filter_map(|(m, tasks)| {
            let caps: Vec<&str> = tasks
                .iter()
                .filter_map(|t| match t {
                    Task::Generate => Some("chat"),
                    Task::Embed => Some("embeddings"),
                    Task::Classify => None,
                })
                .collect();
            (!caps.is_empty()).then(|| {
                json!({"id": m.name, "object": "model", "created": unix_now(), "owned_by": "juru", "capabilities": caps})
            })
        })
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Message content: a string, or a list of parts of which the text parts count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Value>),
}

#[derive(Debug, Deserialize, ToSchema)]
struct ChatMessage {
    role: String,
    content: Content,
}

/// A string or a list of strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
struct ChatRequest {
    /// A registry model: `name`, `name@3` or `name@alias`.
    model: String,
    messages: Vec<ChatMessage>,
    /// OpenAI's newer name for `max_tokens`; wins when both are sent.
    max_completion_tokens: Option<usize>,
    #[serde(flatten)]
    sampling: SamplingFields,
    #[serde(default)]
    stream: bool,
    n: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
struct CompletionRequest {
    model: String,
    prompt: OneOrMany,
    #[serde(flatten)]
    sampling: SamplingFields,
    #[serde(default)]
    stream: bool,
}

/// The sampling fields chat and text completions share.
#[derive(Debug, Deserialize, ToSchema)]
struct SamplingFields {
    temperature: Option<f32>,
    top_p: Option<f32>,
    /// Juru's extension; OpenAI has no top-k.
    top_k: Option<i32>,
    max_tokens: Option<usize>,
    seed: Option<u32>,
    stop: Option<OneOrMany>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    /// Juru's extension (llama.cpp's repeat penalty; 1 is off, default 1.1).
    repeat_penalty: Option<f32>,
}

fn sampling(f: SamplingFields) -> Result<Sampling, ApiError> {
    let d = Sampling::default();
    let s = Sampling {
        temperature: f.temperature.unwrap_or(d.temperature),
        top_p: f.top_p.unwrap_or(d.top_p),
        top_k: f.top_k.unwrap_or(d.top_k),
        seed: f.seed.unwrap_or(d.seed),
        max_tokens: f.max_tokens.unwrap_or(d.max_tokens),
        stop: f.stop.map(OneOrMany::into_vec).unwrap_or_default(),
        repeat_penalty: f.repeat_penalty.unwrap_or(d.repeat_penalty),
        frequency_penalty: f.frequency_penalty.unwrap_or(d.frequency_penalty),
        presence_penalty: f.presence_penalty.unwrap_or(d.presence_penalty),
    };
    let penalties = [s.frequency_penalty, s.presence_penalty];
    if penalties.iter().any(|p| !(-2.0..=2.0).contains(p)) || !(0.5..=2.0).contains(&s.repeat_penalty) {
        return Err(ApiError::bad_request(
            "frequency and presence penalties must be in [-2, 2], repeat_penalty in [0.5, 2]",
        ));
    }
    if !(0.0..=2.0).contains(&s.temperature) || !(0.0..=1.0).contains(&s.top_p) {
        return Err(ApiError::bad_request("temperature must be in [0, 2] and top_p in [0, 1]"));
    }
    if s.max_tokens == 0 || s.max_tokens > 8192 {
        return Err(ApiError::bad_request("max_tokens must be 1 to 8192"));
    }
    if s.stop.len() > 4 {
        return Err(ApiError::bad_request("at most 4 stop sequences"));
    }
    Ok(s)
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Length => "length",
        Finish::Stop | Finish::Cancelled => "stop",
    }
}

fn usage(g: &Generation) -> Value {
    json!({"prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens, "total_tokens": g.prompt_tokens + g.completion_tokens})
}

/// Turns a generation error into the status OpenAI's clients expect.
fn generation_error(e: juru_desks::DeskError) -> ApiError {
    let msg = e.to_string();
    if msg.contains("context holds") {
        ApiError::new(StatusCode::BAD_REQUEST, "context_length_exceeded", msg)
    } else {
        e.into()
    }
}

/// Chat completions (OpenAI-compatible), streamed as server-sent events with `stream: true`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatRequest,
    responses((status = 200, description = "chat.completion, or chat.completion.chunk events"), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn chat_completions(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    if req.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("only n = 1 is supported"));
    }
    if req.messages.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty"));
    }
    let messages: Vec<Message> = req
        .messages
        .into_iter()
        .map(|m| Message {
            role: m.role,
            content: match m.content {
                Content::Text(t) => t,
                Content::Parts(parts) => {
                    parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("")
                }
            },
        })
        .collect();
    let mut fields = req.sampling;
    fields.max_tokens = req.max_completion_tokens.or(fields.max_tokens);
    let sampling = sampling(fields)?;
    let model = s.desks.serve_for(&a, &req.model, Task::Generate).await?;
    let id = format!("chatcmpl-{}", juru_core::ids::new_id().replace('-', ""));
    let input = GenerateInput::Chat(messages);
    if !req.stream {
        let g = s.desks.generate(&a, &model, input, sampling, None).await.map_err(generation_error)?;
        return Ok(Json(json!({
            "id": id, "object": "chat.completion", "created": unix_now(), "model": model.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": g.text}, "finish_reason": finish_reason(g.finish)}],
            "usage": usage(&g),
        }))
        .into_response());
    }
    let chunk = move |model: &str, delta: Value, finish: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": unix_now(), "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    Ok(stream(s, a, model, input, sampling, move |m, piece| match piece {
        Piece::Start => chunk(m, json!({"role": "assistant", "content": ""}), None),
        Piece::Text(t) => chunk(m, json!({"content": t}), None),
        Piece::End(g) => chunk(m, json!({}), Some(finish_reason(g.finish))),
    }))
}

/// Text completions (OpenAI-compatible).
#[utoipa::path(post, path = "/v1/completions", tag = "openai", request_body = CompletionRequest,
    responses((status = 200, description = "text_completion, or its chunks as events"), (status = 400, body = crate::error::ErrorBody)))]
async fn completions(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let prompts = req.prompt.into_vec();
    let [prompt] =
        <[String; 1]>::try_from(prompts).map_err(|_| ApiError::bad_request("send exactly one prompt"))?;
    let sampling = sampling(req.sampling)?;
    let model = s.desks.serve_for(&a, &req.model, Task::Generate).await?;
    let id = format!("cmpl-{}", juru_core::ids::new_id().replace('-', ""));
    let input = GenerateInput::Text(prompt);
    if !req.stream {
        let g = s.desks.generate(&a, &model, input, sampling, None).await.map_err(generation_error)?;
        return Ok(Json(json!({
            "id": id, "object": "text_completion", "created": unix_now(), "model": model.name,
            "choices": [{"index": 0, "text": g.text, "finish_reason": finish_reason(g.finish), "logprobs": null}],
            "usage": usage(&g),
        }))
        .into_response());
    }
    let chunk = move |model: &str, text: &str, finish: Option<&str>| {
        json!({"id": id, "object": "text_completion", "created": unix_now(), "model": model,
               "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": null}]})
    };
    Ok(stream(s, a, model, input, sampling, move |m, piece| match piece {
        Piece::Start => chunk(m, "", None),
        Piece::Text(t) => chunk(m, t, None),
        Piece::End(g) => chunk(m, "", Some(finish_reason(g.finish))),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
struct EmbeddingRequest {
    model: String,
    /// A text or a list of texts (1 to 10,000). Token ids are not taken.
    input: OneOrMany,
    /// `float` (default) or `base64` (little-endian float32, as OpenAI sends it).
    encoding_format: Option<String>,
    /// Must equal the model's size when given: Juru does not shorten embeddings.
    dimensions: Option<usize>,
}

/// Embeddings (OpenAI-compatible): unit-length vectors for local models, mean-pooled over real
/// tokens.
#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", request_body = EmbeddingRequest,
    responses((status = 200, description = "{object: list, data: [embedding], usage}"), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn embeddings(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<EmbeddingRequest>,
) -> Result<Json<Value>, ApiError> {
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("encoding_format {other:?}: use float or base64")));
        }
    };
    let texts = req.input.into_vec();
    let model = s.desks.serve_for(&a, &req.model, Task::Embed).await?;
    let e = s.desks.embed(&a, &model, texts).await?;
    let dims = e.vectors.first().map_or(0, Vec::len);
    if let Some(d) = req.dimensions.filter(|&d| d != dims) {
        return Err(ApiError::bad_request(format!("{} gives {dims} dimensions, not {d}", model.name)));
    }
    let data: Vec<Value> = e
        .vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                use base64::Engine as _;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list", "data": data, "model": model.name,
        "usage": {"prompt_tokens": e.tokens, "total_tokens": e.tokens},
    })))
}

/// What a stream reports, in order: a start, pieces of text, and the end.
enum Piece<'a> {
    Start,
    Text(&'a str),
    End(&'a Generation),
}

#[derive(Serialize)]
struct StreamError<'a> {
    error: StreamErrorBody<'a>,
}

#[derive(Serialize)]
struct StreamErrorBody<'a> {
    code: &'a str,
    message: String,
}

/// Runs a generation and answers with its pieces as server-sent events, ending with
/// `data: [DONE]`. A client that goes away stops the generation.
fn stream(
    s: AppState,
    actor: juru_desks::Actor,
    model: ServedModel,
    input: GenerateInput,
    sampling: Sampling,
    render: impl Fn(&str, Piece<'_>) -> Value + Send + 'static,
) -> Response {
    let (events, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let (pieces, mut piece_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let name = model.name.clone();
        let desks = s.desks.clone();
        let work =
            tokio::spawn(async move { desks.generate(&actor, &model, input, sampling, Some(pieces)).await });
        let send = |v: Value| events.send(Event::default().data(v.to_string())).is_ok();
        if send(render(&name, Piece::Start)) {
            while let Some(p) = piece_rx.recv().await {
                if !send(render(&name, Piece::Text(&p))) {
                    break;
                }
            }
        }
        drop(piece_rx);
        match work.await {
            Ok(Ok(g)) => {
                let mut end = render(&name, Piece::End(&g));
                end["usage"] = usage(&g);
                send(end);
            }
            Ok(Err(e)) => {
                let e = generation_error(e);
                let body = StreamError { error: StreamErrorBody { code: e.code, message: e.message } };
                let _ = events.send(Event::default().data(serde_json::to_string(&body).unwrap_or_default()));
            }
            Err(e) => tracing::error!(error = %e, "generation task failed"),
        }
        let _ = events.send(Event::default().data("[DONE]"));
    });
    let body =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx)) },
        );
    Sse::new(body).keep_alive(KeepAlive::default()).into_response()
}
