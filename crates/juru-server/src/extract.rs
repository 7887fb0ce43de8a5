//! Request extractors: the authenticated actor, and JSON bodies whose errors name the problem.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use juru_desks::Actor;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "juru_session";
/// The header that carries the CSRF token on API calls made with a session cookie.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The actor of an API request: a bearer token, or the web session (whose writes must carry
/// the session's CSRF token).
pub(crate) struct Auth(pub(crate) Actor);

pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "Authorization must be: Bearer <token>",
                    )
                })?;
            return Ok(Auth(state.desks.actor_from_token(token.trim()).await.map_err(|_| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "the token is unknown, revoked or expired",
                )
            })?));
        }
        let Some(cookie) = cookie(parts, SESSION_COOKIE) else { return Err(ApiError::unauthenticated()) };
        let (actor, csrf) =
            state.desks.actor_from_session(cookie).await.map_err(|_| ApiError::unauthenticated())?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "requests made with a session cookie must send the X-CSRF-Token header",
                ));
            }
        }
        Ok(Auth(actor))
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON body. Unknown fields, syntax errors, wrong types and oversized bodies become API
/// errors that name the problem.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    // axum prefixes serde's message with its own sentence; keep serde's part.
    let detail = text.split_once(": ").map(|(_, d)| d.to_owned()).unwrap_or_else(|| text.clone());
    match rejection {
        JsonRejection::JsonDataError(_) if detail.contains("unknown field") => {
            ApiError::new(StatusCode::BAD_REQUEST, "unknown_field", detail)
        }
        JsonRejection::JsonDataError(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", detail),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", detail),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(_) if text.contains("length limit") || text.contains("too large") => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body is too large")
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", detail),
    }
}
