//! Health, the OpenAPI document, and who the caller is.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Auth;
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(openapi_json)).routes(routes!(me))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` when the database answers.
    status: &'static str,
    version: &'static str,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/health", tag = "system", security(()), responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.desks.store.workspace_count().await.map_err(juru_desks::DeskError::from)?;
    Ok(Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") }))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "system", security(()), responses((status = 200, description = "OpenAPI 3 document")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi())
}

#[derive(Serialize, ToSchema)]
struct Me {
    username: String,
    workspace: String,
    workspace_id: String,
    roles: Vec<String>,
    is_admin: bool,
    locale: String,
}

/// The caller: user, workspace and roles.
#[utoipa::path(get, path = "/me", tag = "system", responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
async fn me(Auth(actor): Auth) -> Json<Me> {
    Json(Me {
        username: actor.username,
        workspace: actor.workspace_name,
        workspace_id: actor.workspace_id,
        roles: actor.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        is_admin: actor.is_admin,
        locale: actor.locale,
    })
}
