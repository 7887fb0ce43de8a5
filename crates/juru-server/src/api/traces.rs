//! Trace ingest and browsing.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juru_desks::views::{IngestResult, Listing, TraceBatch, TraceRequest, TraceView};
use juru_store::traces::TraceFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, ingest_one))
        .routes(routes!(ingest_batch))
        .routes(routes!(get_one))
}

/// Filters of the trace list (newest first).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TraceQuery {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub name: Option<String>,
    /// `ok` or `error`.
    pub status: Option<String>,
    /// RFC 3339: traces at or after this time.
    pub since: Option<String>,
    /// RFC 3339: traces before this time.
    pub until: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl TraceQuery {
    pub(crate) fn filter(&self) -> Result<TraceFilter, ApiError> {
        let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
            match v.as_deref().filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => juru_core::timefmt::parse_rfc3339_ms(s)
                    .map(Some)
                    .ok_or_else(|| ApiError::bad_request(format!("{name} {s:?} is not an RFC 3339 time"))),
            }
        };
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(TraceFilter {
            model: nonempty(&self.model),
            prompt: nonempty(&self.prompt),
            name: nonempty(&self.name),
            status: nonempty(&self.status),
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
        })
    }
}

/// Lists traces with filters.
#[utoipa::path(get, path = "/traces", tag = "traces", params(TraceQuery), responses((status = 200, body = Listing<TraceView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<TraceQuery>,
) -> Result<Json<Listing<TraceView>>, ApiError> {
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone() };
    Ok(Json(s.desks.traces(&a, &q.filter()?, &(&page).into()).await?))
}

/// Logs one model call.
#[utoipa::path(post, path = "/traces", tag = "traces", request_body = TraceRequest, responses((status = 201, body = IngestResult)))]
async fn ingest_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(t): ApiJson<TraceRequest>,
) -> Result<(StatusCode, Json<IngestResult>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.ingest_traces(&a, std::slice::from_ref(&t)).await?)))
}

/// Logs up to 10,000 model calls in one transaction. Ids already stored are skipped.
#[utoipa::path(post, path = "/traces/batch", tag = "traces", request_body = TraceBatch, responses((status = 201, body = IngestResult)))]
async fn ingest_batch(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<TraceBatch>,
) -> Result<(StatusCode, Json<IngestResult>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.ingest_traces(&a, &b.traces).await?)))
}

/// One trace.
#[utoipa::path(get, path = "/traces/{id}", tag = "traces", params(("id" = String, Path)), responses((status = 200, body = TraceView)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<TraceView>, ApiError> {
    Ok(Json(s.desks.trace(&a, &id).await?))
}
