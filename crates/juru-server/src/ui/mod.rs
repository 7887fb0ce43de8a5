//! The web UI: server-rendered pages (askama templates in `templates/`), translated through
//! `i18n/*.toml`, with small scripts in `static/` where a page needs interaction. Every form
//! carries the session's CSRF token.

mod bias;
pub(crate) mod i18n;
mod labeling;
mod models;
mod pages;
mod probes;
mod prompts;
mod review;
mod settings;

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::roles::Desk;
use juru_core::{Action, Area};
use juru_desks::Actor;
use juru_desks::views::{UpdateUser, WorkspaceView};
use serde::Deserialize;

use self::i18n::{LANGUAGES, Tr};
use crate::AppState;
use crate::extract::{SESSION_COOKIE, constant_time_eq, cookie};

const LOGIN_CSRF_COOKIE: &str = "juru_login_csrf";

pub(crate) fn router(_state: AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/ui/locale", post(set_locale))
        .route("/ui/workspace", post(set_workspace))
        .route(
            "/static/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], include_str!("../../static/app.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript")], include_str!("../../static/app.js"))
            }),
        )
        .merge(labeling::routes())
        .merge(review::routes())
        .merge(prompts::routes())
        .merge(bias::routes())
        .merge(probes::routes())
        .merge(pages::routes())
        .merge(models::routes())
        .merge(settings::routes())
}

/// A logged-in browser session.
pub(crate) struct Session {
    pub(crate) actor: Actor,
    pub(crate) csrf: String,
    pub(crate) cookie: String,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            Redirect::to(&format!("/login?next={}", urlencode(next))).into_response()
        };
        let Some(cookie) = cookie(parts, SESSION_COOKIE).map(str::to_owned) else { return Err(to_login()) };
        match state.desks.actor_from_session(&cookie).await {
            Ok((actor, csrf)) => Ok(Session { actor, csrf, cookie }),
            Err(juru_desks::DeskError::Invalid(msg)) => Err((StatusCode::FORBIDDEN, msg).into_response()),
            Err(_) => Err(to_login()),
        }
    }
}

impl Session {
    /// Refuses a form whose CSRF token is not this session's.
    pub(crate) fn check_csrf(&self, sent: &str) -> Result<(), UiError> {
        if constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) { Ok(()) } else { Err(UiError::Csrf) }
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One entry of the desk navigation.
pub(crate) struct DeskLink {
    pub(crate) slug: &'static str,
    pub(crate) title_key: String,
    pub(crate) about_key: String,
    pub(crate) role_key: String,
}

/// What every page's frame needs: translations, the user, the workspace, the navigation.
pub(crate) struct Ctx {
    pub(crate) tr: Tr,
    pub(crate) username: String,
    pub(crate) workspace: String,
    pub(crate) workspaces: Vec<WorkspaceView>,
    pub(crate) csrf: String,
    pub(crate) active: String,
    pub(crate) desks: Vec<DeskLink>,
    pub(crate) languages: Vec<(&'static str, &'static str)>,
    pub(crate) can_members: bool,
    pub(crate) can_audit: bool,
    pub(crate) notice: Option<String>,
}

impl Ctx {
    pub(crate) async fn new(state: &AppState, s: &Session, active: &str) -> Ctx {
        let workspaces = state.desks.workspaces(&s.actor).await.unwrap_or_default();
        Ctx {
            tr: Tr::new(state.i18n.clone(), &s.actor.locale),
            username: s.actor.username.clone(),
            workspace: s.actor.workspace_name.clone(),
            workspaces,
            csrf: s.csrf.clone(),
            active: active.to_owned(),
            desks: desk_links(),
            languages: LANGUAGES.to_vec(),
            can_members: s.actor.can(Area::Members, Action::Write),
            can_audit: s.actor.can(Area::Audit, Action::Read),
            notice: state.config.notice.clone(),
        }
    }

    pub(crate) fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.tr.t(key)
    }

    pub(crate) fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.tr.tf(key, args)
    }

    pub(crate) fn locale(&self) -> &str {
        &self.tr.locale
    }

    pub(crate) fn is(&self, page: &str) -> bool {
        self.active == page
    }

    pub(crate) fn is_desk(&self, slug: &str) -> bool {
        self.active.strip_prefix("desk:") == Some(slug)
    }

    pub(crate) fn is_locale(&self, code: &str) -> bool {
        self.tr.locale == code
    }
}

pub(crate) fn desk_links() -> Vec<DeskLink> {
    Desk::ALL
        .iter()
        .map(|d| DeskLink {
            slug: d.as_str(),
            title_key: format!("desk.{}.title", d.as_str()),
            about_key: format!("desk.{}.about", d.as_str()),
            role_key: format!("desk.{}.role", d.as_str()),
        })
        .collect()
}

/// What can go wrong on a page.
pub(crate) enum UiError {
    Desk(juru_desks::DeskError),
    Csrf,
    Render(askama::Error),
}

impl From<juru_desks::DeskError> for UiError {
    fn from(e: juru_desks::DeskError) -> Self {
        UiError::Desk(e)
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Render(e)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        use juru_desks::DeskError as D;
        let (status, message) = match self {
            UiError::Csrf => (StatusCode::FORBIDDEN, "csrf".to_string()),
            UiError::Desk(D::Forbidden { .. }) => (StatusCode::FORBIDDEN, "forbidden".into()),
            UiError::Desk(D::NotFound { kind, key }) => {
                (StatusCode::NOT_FOUND, format!("{kind} {key:?} not found"))
            }
            UiError::Desk(D::Unauthenticated) => return Redirect::to("/login").into_response(),
            UiError::Desk(D::Internal(e)) => {
                tracing::error!(error = %e, "internal error on a page");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
            UiError::Desk(other) => (StatusCode::BAD_REQUEST, other.to_string()),
            UiError::Render(e) => {
                tracing::error!(error = %e, "template error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        };
        (status, Html(format!("<!doctype html><meta charset=utf-8><title>{status}</title><p>{}</p><p><a href=\"/\">Juru</a></p>", escape(&message))))
            .into_response()
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn render(t: impl Template) -> Result<Html<String>, UiError> {
    Ok(Html(t.render()?))
}

/// A page sent as a file to save (a report exported as one self-contained HTML file).
pub(crate) fn download(t: impl Template, filename: &str) -> Result<Response, UiError> {
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], render(t)?).into_response())
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    csrf: String,
    next: String,
    failed: bool,
    languages: Vec<(&'static str, &'static str)>,
}

impl LoginPage {
    fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.tr.t(key)
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    failed: Option<u8>,
    lang: Option<String>,
}

fn browser_locale(headers: &HeaderMap, asked: Option<&str>) -> String {
    if let Some(l) = asked {
        return l.to_owned();
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.trim_start().starts_with("id") { "id".into() } else { "en".into() }
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, UiError> {
    let csrf = juru_desks::auth::random_secret(16);
    let page = LoginPage {
        tr: Tr::new(state.i18n.clone(), &browser_locale(&headers, q.lang.as_deref())),
        csrf: csrf.clone(),
        next: q.next.unwrap_or_else(|| "/".into()),
        failed: q.failed.is_some(),
        languages: LANGUAGES.to_vec(),
    };
    let html = render(page)?;
    Ok(([(header::SET_COOKIE, cookie_header(&state, LOGIN_CSRF_COOKIE, &csrf, 3600))], html).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// Only paths on this site, so that `next` cannot send people elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".into(),
    }
}

async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let sent_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_CSRF_COOKIE)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    if sent_cookie.is_empty() || !constant_time_eq(sent_cookie.as_bytes(), form.csrf.as_bytes()) {
        return UiError::Csrf.into_response();
    }
    let next = safe_next(form.next.as_deref());
    match state.desks.login(form.username.trim(), &form.password).await {
        Ok(session) => (
            axum::response::AppendHeaders([
                (
                    header::SET_COOKIE,
                    cookie_header(
                        &state,
                        SESSION_COOKIE,
                        &session.cookie,
                        juru_desks::auth::SESSION_MS / 1000,
                    ),
                ),
                (header::SET_COOKIE, cookie_header(&state, LOGIN_CSRF_COOKIE, "", 0)),
            ]),
            Redirect::to(&next),
        )
            .into_response(),
        Err(juru_desks::DeskError::Unauthenticated) => {
            Redirect::to(&format!("/login?failed=1&next={}", urlencode(&next))).into_response()
        }
        Err(e) => UiError::Desk(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    state.desks.logout(&session.actor, &session.cookie).await?;
    Ok(([(header::SET_COOKIE, cookie_header(&state, SESSION_COOKIE, "", 0))], Redirect::to("/login"))
        .into_response())
}

#[derive(Deserialize)]
struct LocaleForm {
    csrf: String,
    locale: String,
    back: Option<String>,
}

/// Switches the user's language; it is stored on the user, so it follows them.
async fn set_locale(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<LocaleForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let req = UpdateUser { locale: Some(form.locale), ..Default::default() };
    state.desks.update_user(&session.actor, &session.actor.username, &req).await?;
    Ok(Redirect::to(&safe_next(form.back.as_deref())).into_response())
}

#[derive(Deserialize)]
struct WorkspaceForm {
    csrf: String,
    workspace: String,
}

async fn set_workspace(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<WorkspaceForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    state.desks.switch_workspace(&session.actor, &session.cookie, &form.workspace).await?;
    Ok(Redirect::to("/").into_response())
}
