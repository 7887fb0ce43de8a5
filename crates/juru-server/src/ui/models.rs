//! Model pages: the registry list with forms to train a classifier and to connect an external
//! OpenAI-compatible model, and a model's card per version (lineage, provider settings,
//! evaluation, confusion matrix) with a box to try it: classify, compare two texts' embeddings,
//! or chat.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::{Action, Area};
use juru_desks::classifiers::{FORMAT, TrainRequest};
use juru_desks::serving::Task;
use juru_desks::views::{ModelDetail, ModelVersionView, RegisterProvider};
use juru_desks::{DeskError, PageRequest};
use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Session, UiError, render};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/models", get(list))
        .route("/models/train", post(train))
        .route("/models/connect", post(connect))
        .route("/models/{name}", get(card))
        .route("/models/{name}/try", post(try_it))
        .route("/models/{name}/similarity", post(similarity))
}

struct ModelRow {
    name: String,
    task: String,
    versions: usize,
    aliases: String,
}

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    ctx: Ctx,
    models: Vec<ModelRow>,
    datasets: Vec<String>,
    can_train: bool,
    message: Option<String>,
}

async fn list_page(state: &AppState, s: &Session, message: Option<String>) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let all = PageRequest { limit: Some(1000), cursor: None };
    let mut models = Vec::new();
    for m in d.models(&s.actor, None, &all).await?.items {
        let detail = d.model(&s.actor, &m.id).await?;
        let aliases =
            detail.aliases.iter().map(|(a, v)| format!("{a} → v{v}")).collect::<Vec<_>>().join(", ");
        models.push(ModelRow { name: m.name, task: m.task, versions: detail.versions.len(), aliases });
    }
    let datasets = d.datasets(&s.actor, None, &all).await?.items.into_iter().map(|d| d.name).collect();
    let can_train = s.actor.can(Area::Models, Action::Write);
    render(ModelsPage { ctx: Ctx::new(state, s, "models").await, models, datasets, can_train, message })
}

async fn list(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    list_page(&state, &s, None).await
}

#[derive(Deserialize)]
struct ConnectForm {
    csrf: String,
    name: String,
    base_url: String,
    remote_model: String,
    api_key: String,
    task: String,
}

async fn connect(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<ConnectForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let name = f.name.trim().to_owned();
    let req = RegisterProvider {
        base_url: f.base_url.trim().to_owned(),
        remote_model: f.remote_model.trim().to_owned(),
        api_key: Some(f.api_key).filter(|k| !k.is_empty()),
        task: Some(f.task),
        timeout_ms: None,
        max_retries: None,
        concurrency: None,
        alias: Some("production".into()),
    };
    match state.desks.register_provider(&s.actor, &name, &req).await {
        Ok(_) => Ok(Redirect::to(&format!("/models/{}", super::urlencode(&name))).into_response()),
        Err(e @ (DeskError::Invalid(_) | DeskError::Conflict { .. })) => {
            Ok(list_page(&state, &s, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct TrainForm {
    csrf: String,
    dataset: String,
    text_field: String,
    label_field: String,
    name: String,
    balanced: Option<String>,
}

async fn train(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<TrainForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = TrainRequest {
        dataset: f.dataset,
        version: None,
        text_field: f.text_field.trim().to_owned(),
        label_field: f.label_field.trim().to_owned(),
        weight_field: None,
        name: f.name.trim().to_owned(),
        epochs: None,
        seed: None,
        balanced: f.balanced.is_some(),
        test_fraction: None,
        hash_bits: None,
        alias: None,
    };
    match state.desks.enqueue_train(&s.actor, &req).await {
        Ok(_) => Ok(Redirect::to("/jobs").into_response()),
        Err(e @ DeskError::Invalid(_)) => {
            Ok(list_page(&state, &s, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// What a version's card shows of its metrics.
struct Metrics {
    accuracy: String,
    macro_f1: String,
    ece: String,
    /// label, precision, recall, F1, support
    classes: Vec<(String, String, String, String, u64)>,
    confusion: Vec<(String, Vec<u64>)>,
}

struct Card {
    version: i64,
    format: String,
    created: String,
    source: String,
    size: String,
    sha256: String,
    dataset: Option<(String, i64)>,
    fields: String,
    recipe: String,
    /// An external provider's settings, in words.
    provider: Option<String>,
    metrics: Option<Metrics>,
    /// Bias reports on this version (kind, name, status, link).
    bias: Vec<(String, String, String, String)>,
}

fn num(v: &Value) -> String {
    v.as_f64().map(|x| format!("{x:.4}")).unwrap_or_default()
}

fn card_of(v: &ModelVersionView) -> Card {
    let m = &v.metrics;
    let metrics = m.get("per_class").and_then(Value::as_array).map(|classes| Metrics {
        accuracy: num(&m["accuracy"]),
        macro_f1: num(&m["macro_f1"]),
        ece: num(&m["ece"]),
        classes: classes
            .iter()
            .map(|c| {
                let label = c["label"].as_str().unwrap_or_default().to_owned();
                (
                    label,
                    num(&c["precision"]),
                    num(&c["recall"]),
                    num(&c["f1"]),
                    c["support"].as_u64().unwrap_or_default(),
                )
            })
            .collect(),
        confusion: classes
            .iter()
            .zip(m["confusion"].as_array().into_iter().flatten())
            .map(|(c, row)| {
                let counts =
                    row.as_array().map(|r| r.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
                (c["label"].as_str().unwrap_or_default().to_owned(), counts)
            })
            .collect(),
    });
    let l = &v.lineage;
    let dataset =
        l["dataset"].as_str().map(|d| (d.to_owned(), l["dataset_version"].as_i64().unwrap_or_default()));
    let fields = format!(
        "{} / {}",
        l["text_field"].as_str().unwrap_or_default(),
        l["label_field"].as_str().unwrap_or_default()
    );
    let size = if v.size_bytes >= 1 << 20 {
        format!("{:.1} MiB", v.size_bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", v.size_bytes as f64 / 1024.0)
    };
    Card {
        version: v.version,
        format: v.format.clone(),
        created: format!(
            "{} · {}",
            v.created_at.replace('T', " ").chars().take(19).collect::<String>(),
            v.created_by
        ),
        source: v.source.clone(),
        size,
        sha256: v.sha256.chars().take(16).collect(),
        dataset,
        fields,
        recipe: l.get("recipe").map(|r| r.to_string()).unwrap_or_default(),
        provider: l.get("provider").map(|p| {
            format!(
                "{} · model {} · {} · timeout {} ms · {} retries · {} at once · API key {}",
                p["base_url"].as_str().unwrap_or_default(),
                p["model"].as_str().unwrap_or_default(),
                p["task"].as_str().unwrap_or_default(),
                p["timeout_ms"],
                p["max_retries"],
                p["concurrency"],
                if p["api_key"].as_bool() == Some(true) { "set (stored encrypted)" } else { "none" },
            )
        }),
        metrics,
        bias: Vec::new(),
    }
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage {
    ctx: Ctx,
    detail: ModelDetail,
    cards: Vec<Card>,
    classifier: bool,
    /// A model that can generate: the page offers a chat.
    chat: bool,
    /// An embedding model: the page offers to compare two texts.
    embeds: bool,
    tried: String,
    prediction: Option<(String, Vec<(String, String)>)>,
    /// The two texts last compared, and their cosine similarity.
    compared: Option<(String, String, String)>,
}

async fn card_page(
    state: &AppState,
    s: &Session,
    name: &str,
    tried: String,
    prediction: Option<(String, Vec<(String, String)>)>,
    compared: Option<(String, String, String)>,
) -> Result<Html<String>, UiError> {
    let detail = state.desks.model(&s.actor, name).await?;
    let mut cards: Vec<Card> = detail.versions.iter().map(card_of).collect();
    for (card, v) in cards.iter_mut().zip(&detail.versions) {
        card.bias = state
            .desks
            .bias_evidence(&s.actor, &v.id)
            .await?
            .into_iter()
            .map(|e| (e.kind, e.name, e.status, e.url))
            .collect();
    }
    let tasks = state
        .desks
        .servable_models(&s.actor)
        .await?
        .into_iter()
        .find(|(m, _)| m.id == detail.model.id)
        .map(|(_, t)| t)
        .unwrap_or_default();
    let classifier = detail.versions.iter().any(|v| v.format == FORMAT);
    render(ModelPage {
        ctx: Ctx::new(state, s, "models").await,
        detail,
        cards,
        classifier,
        chat: tasks.contains(&Task::Generate),
        embeds: tasks.contains(&Task::Embed),
        tried,
        prediction,
        compared,
    })
}

async fn card(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
) -> Result<Html<String>, UiError> {
    card_page(&state, &s, &name, String::new(), None, None).await
}

#[derive(Deserialize)]
struct TryForm {
    csrf: String,
    text: String,
}

async fn try_it(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Form(f): Form<TryForm>,
) -> Result<Html<String>, UiError> {
    s.check_csrf(&f.csrf)?;
    let p = state.desks.predict(&s.actor, &name, std::slice::from_ref(&f.text)).await?;
    let prediction = p.into_iter().next().map(|p| {
        let mut probs: Vec<(String, f32)> = p.probabilities.into_iter().collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        (p.label, probs.into_iter().map(|(l, v)| (l, format!("{v:.3}"))).collect())
    });
    card_page(&state, &s, &name, f.text, prediction, None).await
}

#[derive(Deserialize)]
struct SimilarityForm {
    csrf: String,
    a: String,
    b: String,
}

async fn similarity(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Form(f): Form<SimilarityForm>,
) -> Result<Html<String>, UiError> {
    s.check_csrf(&f.csrf)?;
    let model = state.desks.serve_for(&s.actor, &name, Task::Embed).await?;
    let e = state.desks.embed(&s.actor, &model, vec![f.a.clone(), f.b.clone()]).await?;
    let cos = juru_desks::serving::cosine(&e.vectors[0], &e.vectors[1]);
    card_page(&state, &s, &name, String::new(), None, Some((f.a, f.b, format!("{cos:.3}")))).await
}
