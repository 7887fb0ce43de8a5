//! The bias desk over HTTP: audits of a dataset version's decisions and counterfactual probes of
//! a registry model, run as jobs; each stored report pinned to its inputs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juru_desks::bias::{AuditView, StartAudit};
use juru_desks::probes::{ProbeView, StartProbe};
use juru_desks::views::Listing;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audits, start_audit))
        .routes(routes!(get_audit))
        .routes(routes!(list_probes, start_probe))
        .routes(routes!(get_probe))
        .routes(routes!(swap_lists))
}

/// Audits, newest first (without their reports).
#[utoipa::path(get, path = "/bias/audits", tag = "bias", params(ModelVersionFilter),
    responses((status = 200, body = Listing<AuditView>)))]
async fn list_audits(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(f): Query<ModelVersionFilter>,
) -> Result<Json<Listing<AuditView>>, ApiError> {
    let page = juru_desks::PageRequest { limit: f.limit, cursor: f.cursor.clone() };
    Ok(Json(s.desks.bias_audits(&a, f.model_version_id.as_deref(), &page).await?))
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

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct ModelVersionFilter {
    /// Only the reports on this model version (its id): probes of it, audits of its decisions.
    model_version_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Counterfactual probes, newest first (without their reports).
#[utoipa::path(get, path = "/bias/probes", tag = "bias", params(ModelVersionFilter),
    responses((status = 200, body = Listing<ProbeView>)))]
async fn list_probes(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(f): Query<ModelVersionFilter>,
) -> Result<Json<Listing<ProbeView>>, ApiError> {
    let page = juru_desks::PageRequest { limit: f.limit, cursor: f.cursor.clone() };
    Ok(Json(s.desks.bias_probes(&a, f.model_version_id.as_deref(), &page).await?))
}

/// Checks the spec (swap list, templates, the models it names, checks; every problem at once)
/// and queues the probe: every prompt goes to the model, the answers are compared group by
/// group. Follow it with `GET /bias/probes/{id}`.
#[utoipa::path(post, path = "/bias/probes", tag = "bias", request_body = StartProbe,
    responses((status = 202, body = ProbeView), (status = 400, description = "problems with the spec, at once")))]
async fn start_probe(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<StartProbe>,
) -> Result<(StatusCode, Json<ProbeView>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(s.desks.start_bias_probe(&a, &req).await?)))
}

/// A probe: status, pins, and when finished its report (per-group refusal and offensive-term
/// rates with McNemar tests, length, sentiment and similarity with bootstrap intervals and
/// Wilcoxon tests, or a classifier's flip rate) with every prompt and answer.
#[utoipa::path(get, path = "/bias/probes/{id}", tag = "bias", params(("id" = String, Path)),
    responses((status = 200, body = ProbeView)))]
async fn get_probe(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<ProbeView>, ApiError> {
    Ok(Json(s.desks.bias_probe(&a, &id).await?))
}

/// A built-in swap list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct SwapListView {
    name: String,
    language: String,
    dimension: String,
    groups: Vec<String>,
    /// Placeholder → words per group.
    #[schema(value_type = Object)]
    terms: std::collections::BTreeMap<String, Vec<Vec<String>>>,
}

/// The swap lists built into Juru (Indonesian first, English too), with their placeholders.
#[utoipa::path(get, path = "/bias/swap-lists", tag = "bias",
    responses((status = 200, body = Vec<SwapListView>)))]
async fn swap_lists(Auth(_actor): Auth) -> Json<Vec<SwapListView>> {
    Json(
        juru_core::swaps::BUILTIN
            .iter()
            .filter_map(|(name, _)| juru_core::swaps::builtin(name))
            .map(|l| SwapListView {
                name: l.name,
                language: l.language,
                dimension: l.dimension,
                groups: l.groups,
                terms: l.terms,
            })
            .collect(),
    )
}
