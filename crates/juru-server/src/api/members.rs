//! Workspaces, users, role grants and API tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juru_desks::views::{
    CreateToken, CreateUser, CreateWorkspace, CreatedToken, GrantRequest, MemberView, TokenView, UpdateUser,
    UserView, WorkspaceView,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(list_members))
        .routes(routes!(create_user))
        .routes(routes!(update_user))
        .routes(routes!(add_role, remove_role))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// Workspaces the caller may enter.
#[utoipa::path(get, path = "/workspaces", tag = "workspaces", responses((status = 200, body = Vec<WorkspaceView>)))]
async fn list_workspaces(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Json<Vec<WorkspaceView>>, ApiError> {
    Ok(Json(s.desks.workspaces(&a).await?))
}

/// Creates a workspace (server administrators).
#[utoipa::path(post, path = "/workspaces", tag = "workspaces", request_body = CreateWorkspace,
    responses((status = 201, body = WorkspaceView), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn create_workspace(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreateWorkspace>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_workspace(&a, &req).await?)))
}

/// Members of the caller's workspace with their roles.
#[utoipa::path(get, path = "/members", tag = "members", responses((status = 200, body = Vec<MemberView>)))]
async fn list_members(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Vec<MemberView>>, ApiError> {
    Ok(Json(s.desks.members(&a).await?))
}

/// Creates a user and grants roles in the caller's workspace.
#[utoipa::path(post, path = "/users", tag = "members", request_body = CreateUser,
    responses((status = 201, body = MemberView), (status = 409, body = crate::error::ErrorBody)))]
async fn create_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_user(&a, &req).await?)))
}

/// Changes a user (name, language, password; disabling needs the admin role).
#[utoipa::path(patch, path = "/users/{username}", tag = "members", request_body = UpdateUser,
    params(("username" = String, Path)), responses((status = 200, body = UserView)))]
async fn update_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(username): Path<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(s.desks.update_user(&a, &username, &req).await?))
}

/// Grants a role in the caller's workspace.
#[utoipa::path(put, path = "/users/{username}/roles/{role}", tag = "members",
    params(("username" = String, Path), ("role" = String, Path)), responses((status = 200, body = MemberView)))]
async fn add_role(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((username, role)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(s.desks.grant(&a, &GrantRequest { username, role }).await?))
}

/// Removes a role in the caller's workspace.
#[utoipa::path(delete, path = "/users/{username}/roles/{role}", tag = "members",
    params(("username" = String, Path), ("role" = String, Path)), responses((status = 200, body = MemberView)))]
async fn remove_role(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((username, role)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(s.desks.revoke_grant(&a, &GrantRequest { username, role }).await?))
}

/// API tokens: all of the workspace's for administrators, one's own otherwise.
#[utoipa::path(get, path = "/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>)))]
async fn list_tokens(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(s.desks.tokens(&a).await?))
}

/// Creates a token; the response holds the secret, shown only this once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateToken, responses((status = 201, body = CreatedToken)))]
async fn create_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_token(&a, &req).await?)))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path)), responses((status = 200, body = TokenView)))]
async fn revoke_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(s.desks.revoke_token(&a, &id).await?))
}
