//! The bias desk over HTTP: audits of a dataset version's decisions, run as jobs; each stored
//! report pinned to its inputs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juru_desks::bias::{AuditView, StartAudit};
use juru_desks::views::Listing;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audits, start_audit)).routes(routes!(get_audit))
}

/// Audits, newest first (without their reports).
#[utoipa::path(get, path = "/bias/audits", tag = "bias", params(PageParams),
    responses((status = 200, body = Listing<AuditView>)))]
async fn list_audits(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(page): Query<PageParams>,
) -> Result<Json<Listing<AuditView>>, ApiError> {
    Ok(Json(s.desks.bias_audits(&a, &(&page).into()).await?))
}

/// Checks the spec against the dataset version's columns (every problem at once) and queues
/// the audit; follow it with `GET /bias/audits/{id}` or the job it names.
#[utoipa::path(post, path = "/bias/audits", tag = "bias", request_body = StartAudit,
    responses((status = 202, body = AuditView), (status = 400, description = "unknown columns and other problems, at once")))]
async fn start_audit(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<StartAudit>,
) -> Result<(StatusCode, Json<AuditView>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(s.desks.start_bias_audit(&a, &req).await?)))
}

/// An audit: status, pins, and when finished its report (per-group rates with Wilson
/// intervals, disparities with bootstrap intervals, tests, checks).
#[utoipa::path(get, path = "/bias/audits/{id}", tag = "bias", params(("id" = String, Path)),
    responses((status = 200, body = AuditView)))]
async fn get_audit(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<AuditView>, ApiError> {
    Ok(Json(s.desks.bias_audit(&a, &id).await?))
}
