//! Jobs: status and progress of long work.

use axum::Json;
use axum::extract::{Path, Query, State};
use juru_desks::views::{JobView, Listing};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::Auth;
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get_one)).routes(routes!(cancel))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    status: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Jobs of the workspace, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(Filter), responses((status = 200, body = Listing<JobView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(f): Query<Filter>,
) -> Result<Json<Listing<JobView>>, ApiError> {
    let page = PageParams { limit: f.limit, cursor: f.cursor };
    Ok(Json(s.desks.jobs(&a, f.status.as_deref(), f.kind.as_deref(), &(&page).into()).await?))
}

/// One job with its progress.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", params(("id" = String, Path)), responses((status = 200, body = JobView)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(s.desks.job(&a, &id).await?))
}

/// Cancels a queued or running job.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path)), responses((status = 200, body = JobView)))]
async fn cancel(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(s.desks.cancel_job(&a, &id).await?))
}
