//! Settings pages: users and role grants, API tokens.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::Role;
use juru_desks::views::{CreateToken, CreateUser, GrantRequest, MemberView, TokenView};
use serde::Deserialize;

use super::{CsrfForm, Ctx, Session, UiError, render};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/settings/users", get(users).post(create_user))
        .route("/settings/users/grant", post(grant))
        .route("/settings/tokens", get(tokens).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke_token))
}

fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    ctx: Ctx,
    members: Vec<MemberView>,
    roles: Vec<&'static str>,
    message: Option<String>,
}

async fn users_page(state: &AppState, s: &Session, message: Option<String>) -> Result<Html<String>, UiError> {
    let members = state.desks.members(&s.actor).await?;
    render(UsersPage { ctx: Ctx::new(state, s, "users").await, members, roles: role_names(), message })
}

async fn users(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    users_page(&state, &s, None).await
}

#[derive(Deserialize)]
struct NewUserForm {
    csrf: String,
    username: String,
    display_name: String,
    password: String,
    role: String,
}

async fn create_user(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<NewUserForm>,
) -> Result<Html<String>, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = CreateUser {
        username: f.username.trim().to_owned(),
        display_name: Some(f.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
        password: Some(f.password),
        is_admin: false,
        roles: vec![f.role],
    };
    let message = match state.desks.create_user(&s.actor, &req).await {
        Ok(_) => Ctx::new(&state, &s, "users").await.t("users.created").to_owned(),
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::Conflict { .. })) => {
            e.to_string()
        }
        Err(e) => return Err(e.into()),
    };
    users_page(&state, &s, Some(message)).await
}

#[derive(Deserialize)]
struct GrantForm {
    csrf: String,
    username: String,
    role: String,
    /// `add` or `remove`.
    op: String,
}

async fn grant(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<GrantForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = GrantRequest { username: f.username, role: f.role };
    let result = if f.op == "remove" {
        state.desks.revoke_grant(&s.actor, &req).await
    } else {
        state.desks.grant(&s.actor, &req).await
    };
    match result {
        Ok(_) => Ok(Redirect::to("/settings/users").into_response()),
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::Conflict { .. })) => {
            Ok(users_page(&state, &s, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    ctx: Ctx,
    tokens: Vec<TokenView>,
    roles: Vec<&'static str>,
    new_token: Option<String>,
    message: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    s: &Session,
    new_token: Option<String>,
    message: Option<String>,
) -> Result<Html<String>, UiError> {
    let tokens = state.desks.tokens(&s.actor).await?;
    let roles =
        if s.actor.is_admin { role_names() } else { s.actor.roles.iter().map(|r| r.as_str()).collect() };
    render(TokensPage { ctx: Ctx::new(state, s, "tokens").await, tokens, roles, new_token, message })
}

async fn tokens(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    tokens_page(&state, &s, None, None).await
}

#[derive(Deserialize)]
struct NewTokenForm {
    csrf: String,
    name: String,
    role: String,
    days: String,
}

async fn create_token(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<NewTokenForm>,
) -> Result<Html<String>, UiError> {
    s.check_csrf(&f.csrf)?;
    let days = match f.days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return tokens_page(&state, &s, None, Some(format!("{d:?} is not a number of days"))).await,
        },
    };
    let req =
        CreateToken { name: f.name.trim().to_owned(), role: f.role, username: None, expires_in_days: days };
    match state.desks.create_token(&s.actor, &req).await {
        Ok(created) => tokens_page(&state, &s, Some(created.token), None).await,
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::Forbidden { .. })) => {
            tokens_page(&state, &s, None, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    state.desks.revoke_token(&s.actor, &id).await?;
    Ok(Redirect::to("/settings/tokens").into_response())
}
