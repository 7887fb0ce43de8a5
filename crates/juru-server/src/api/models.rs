//! The model registry.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juru_desks::views::{
    CreateModel, Listing, ModelDetail, ModelVersionRequest, ModelVersionView, ModelView, SetAlias,
};
use serde::Deserialize;
use utoipa::IntoParams;
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
        .routes(routes!(set_alias, remove_alias))
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
