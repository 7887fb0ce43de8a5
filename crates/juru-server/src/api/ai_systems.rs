//! AI systems inventory.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juru_desks::views::{AiSystemRequest, AiSystemView, Listing};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, update, delete))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Filter {
    risk_tier: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// AI systems of the workspace.
#[utoipa::path(get, path = "/ai-systems", tag = "ai_systems", params(Filter), responses((status = 200, body = Listing<AiSystemView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(f): Query<Filter>,
) -> Result<Json<Listing<AiSystemView>>, ApiError> {
    let page = PageParams { limit: f.limit, cursor: f.cursor };
    Ok(Json(s.desks.ai_systems(&a, f.risk_tier.as_deref(), &(&page).into()).await?))
}

/// Registers an AI system.
#[utoipa::path(post, path = "/ai-systems", tag = "ai_systems", request_body = AiSystemRequest,
    responses((status = 201, body = AiSystemView), (status = 409, body = crate::error::ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<AiSystemRequest>,
) -> Result<(StatusCode, Json<AiSystemView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_ai_system(&a, &req).await?)))
}

/// One AI system.
#[utoipa::path(get, path = "/ai-systems/{id}", tag = "ai_systems", params(("id" = String, Path)), responses((status = 200, body = AiSystemView)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<AiSystemView>, ApiError> {
    Ok(Json(s.desks.ai_system(&a, &id).await?))
}

/// Changes an AI system; absent fields keep their value.
#[utoipa::path(patch, path = "/ai-systems/{id}", tag = "ai_systems", params(("id" = String, Path)), request_body = AiSystemRequest,
    responses((status = 200, body = AiSystemView)))]
async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AiSystemRequest>,
) -> Result<Json<AiSystemView>, ApiError> {
    Ok(Json(s.desks.update_ai_system(&a, &id, &req).await?))
}

/// Deletes an AI system.
#[utoipa::path(delete, path = "/ai-systems/{id}", tag = "ai_systems", params(("id" = String, Path)), responses((status = 204)))]
async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.desks.delete_ai_system(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
