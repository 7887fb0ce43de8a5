//! The model registry.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juru_desks::classifiers::{Prediction, TrainOutcome, TrainRequest};
use juru_desks::datasets::Progress;
use juru_desks::views::{
    CreateModel, JobView, Listing, ModelDetail, ModelVersionRequest, ModelVersionView, ModelView,
    RegisterProvider, SetAlias,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one))
        .routes(routes!(create_version))
        .routes(routes!(register_provider))
        .routes(routes!(set_alias, remove_alias))
        .routes(routes!(train))
        .routes(routes!(predict))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TrainQuery {
    /// `true`: answer when training is done (201). `false` (default): answer 202 with a job.
    wait: Option<bool>,
}

/// Trains a built-in text classifier on a labelled dataset version, evaluates it on a held-out
/// split and registers it as a new model version.
#[utoipa::path(post, path = "/models/train", tag = "models", params(TrainQuery), request_body = TrainRequest,
    responses((status = 201, body = TrainOutcome), (status = 202, body = JobView), (status = 400, body = crate::error::ErrorBody)))]
async fn train(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<TrainQuery>,
    ApiJson(req): ApiJson<TrainRequest>,
) -> Result<Response, ApiError> {
    if q.wait.unwrap_or(false) {
        let outcome = s.desks.train_classifier(&a, &req, Arc::new(Progress::default())).await?;
        Ok((StatusCode::CREATED, Json(outcome)).into_response())
    } else {
        Ok((StatusCode::ACCEPTED, Json(s.desks.enqueue_train(&a, &req).await?)).into_response())
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    /// 1 to 10,000 texts.
    texts: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct PredictResponse {
    predictions: Vec<Prediction>,
}

/// Predicts labels with a built-in classifier: `model`, `model@3` or `model@alias` (plain
/// `model`: its `production` alias, else the latest version).
#[utoipa::path(post, path = "/models/{model}/predict", tag = "models", params(("model" = String, Path)),
    request_body = PredictRequest, responses((status = 200, body = PredictResponse)))]
async fn predict(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(model): Path<String>,
    ApiJson(req): ApiJson<PredictRequest>,
) -> Result<Json<PredictResponse>, ApiError> {
    Ok(Json(PredictResponse { predictions: s.desks.predict(&a, &model, &req.texts).await? }))
}

/// Registers an external OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, OpenAI,
/// another Juru) as a new version of `model`, which is created when missing. The API key is
/// stored encrypted and never shown back.
#[utoipa::path(post, path = "/models/{model}/providers", tag = "models", params(("model" = String, Path)),
    request_body = RegisterProvider, responses((status = 201, body = ModelVersionView), (status = 400, body = crate::error::ErrorBody)))]
async fn register_provider(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(model): Path<String>,
    ApiJson(req): ApiJson<RegisterProvider>,
) -> Result<(StatusCode, Json<ModelVersionView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.register_provider(&a, &model, &req).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Filter {
    task: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Registered models.
#[utoipa::path(get, path = "/models", tag = "models", params(Filter), responses((status = 200, body = Listing<ModelView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(f): Query<Filter>,
) -> Result<Json<Listing<ModelView>>, ApiError> {
    let page = PageParams { limit: f.limit, cursor: f.cursor };
    Ok(Json(s.desks.models(&a, f.task.as_deref(), &(&page).into()).await?))
}

/// Registers a model.
#[utoipa::path(post, path = "/models", tag = "models", request_body = CreateModel, responses((status = 201, body = ModelView)))]
async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreateModel>,
) -> Result<(StatusCode, Json<ModelView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_model(&a, &req).await?)))
}

/// A model with its versions and aliases (by id or name).
#[utoipa::path(get, path = "/models/{model}", tag = "models", params(("model" = String, Path)), responses((status = 200, body = ModelDetail)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(model): Path<String>,
) -> Result<Json<ModelDetail>, ApiError> {
    Ok(Json(s.desks.model(&a, &model).await?))
}

/// Adds an immutable version.
#[utoipa::path(post, path = "/models/{model}/versions", tag = "models", params(("model" = String, Path)),
    request_body = ModelVersionRequest, responses((status = 201, body = ModelVersionView)))]
async fn create_version(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(model): Path<String>,
    ApiJson(req): ApiJson<ModelVersionRequest>,
) -> Result<(StatusCode, Json<ModelVersionView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_model_version(&a, &model, &req).await?)))
}

/// Points an alias (`production`, `staging`, …) at a version.
#[utoipa::path(put, path = "/models/{model}/aliases/{alias}", tag = "models",
    params(("model" = String, Path), ("alias" = String, Path)), request_body = SetAlias, responses((status = 200, body = ModelDetail)))]
async fn set_alias(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((model, alias)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetAlias>,
) -> Result<Json<ModelDetail>, ApiError> {
    Ok(Json(s.desks.set_model_alias(&a, &model, &alias, Some(req.version)).await?))
}

/// Removes an alias.
#[utoipa::path(delete, path = "/models/{model}/aliases/{alias}", tag = "models",
    params(("model" = String, Path), ("alias" = String, Path)), responses((status = 200, body = ModelDetail)))]
async fn remove_alias(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((model, alias)): Path<(String, String)>,
) -> Result<Json<ModelDetail>, ApiError> {
    Ok(Json(s.desks.set_model_alias(&a, &model, &alias, None).await?))
}
