//! Scores on traces and items.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juru_desks::views::{Listing, ScoreRequest, ScoreView};
use juru_store::scores::ScoreFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, delete))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Filter {
    target_kind: Option<String>,
    target_id: Option<String>,
    name: Option<String>,
    source: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Lists scores.
#[utoipa::path(get, path = "/scores", tag = "scores", params(Filter), responses((status = 200, body = Listing<ScoreView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(f): Query<Filter>,
) -> Result<Json<Listing<ScoreView>>, ApiError> {
    let filter =
        ScoreFilter { target_kind: f.target_kind, target_id: f.target_id, name: f.name, source: f.source };
    let page = PageParams { limit: f.limit, cursor: f.cursor };
    Ok(Json(s.desks.scores(&a, &filter, &(&page).into()).await?))
}

/// Scores a trace or an item.
#[utoipa::path(post, path = "/scores", tag = "scores", request_body = ScoreRequest, responses((status = 201, body = ScoreView)))]
async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<ScoreRequest>,
) -> Result<(StatusCode, Json<ScoreView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_score(&a, &req).await?)))
}

/// One score.
#[utoipa::path(get, path = "/scores/{id}", tag = "scores", params(("id" = String, Path)), responses((status = 200, body = ScoreView)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<ScoreView>, ApiError> {
    Ok(Json(s.desks.score(&a, &id).await?))
}

/// Deletes a score.
#[utoipa::path(delete, path = "/scores/{id}", tag = "scores", params(("id" = String, Path)), responses((status = 204)))]
async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.desks.delete_score(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
