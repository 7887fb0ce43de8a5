//! API errors: each kind has a stable code and HTTP status. Internal errors are logged with
//! their detail and shown to clients only as `internal`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juru_core::dataset::RowError;
use juru_desks::DeskError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable: `unauthenticated`, `forbidden`, `not_found`, `conflict`, `invalid_request`,
    /// `unknown_field`, `invalid_json`, `bad_rows`, `payload_too_large`, `csrf_failed`,
    /// `method_not_allowed`, `internal`.
    pub code: &'static str,
    pub message: String,
    /// For `bad_rows`: every bad row (up to 1,000) with its line and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rows: Option<Vec<BadRow>>,
}

/// A row of an uploaded file that could not be read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BadRow {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub(crate) rows: Option<Vec<BadRow>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), rows: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "authentication required: send Authorization: Bearer <token>",
        )
    }
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        use StatusCode as S;
        match e {
            DeskError::Unauthenticated => ApiError::unauthenticated(),
            DeskError::Forbidden { .. } => ApiError::new(S::FORBIDDEN, "forbidden", e.to_string()),
            DeskError::NotFound { .. } => ApiError::new(S::NOT_FOUND, "not_found", e.to_string()),
            DeskError::Conflict { .. } => ApiError::new(S::CONFLICT, "conflict", e.to_string()),
            DeskError::Invalid(msg) => ApiError::bad_request(msg),
            DeskError::Refused(msg) => ApiError::new(S::CONFLICT, "refused", msg),
            DeskError::Unavailable(msg) => ApiError::new(S::BAD_GATEWAY, "upstream_unavailable", msg),
            DeskError::BadRows { ref errors, .. } => {
                let rows = Some(
                    errors
                        .iter()
                        .map(|r: &RowError| BadRow { line: r.line, reason: r.reason.clone() })
                        .collect(),
                );
                ApiError { status: S::BAD_REQUEST, code: "bad_rows", message: e.to_string(), rows }
            }
            DeskError::Internal(inner) => {
                tracing::error!(error = %inner, source = ?inner.source(), "internal error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the server log has the details",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code, message: self.message, rows: self.rows } };
        (self.status, Json(body)).into_response()
    }
}

/// Turns responses that axum or tower made without our body (404 of an unknown route, 405,
/// 413 of the body limit) into JSON errors, for paths under `/api` only.
pub(crate) async fn json_fallback_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || res.status().is_success() || res.status().is_redirection() {
        return res;
    }
    let (code, message) = match res.status() {
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this endpoint".to_string())
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body is too large".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "send the body as application/json".to_string())
        }
        s => ("invalid_request", s.canonical_reason().unwrap_or("error").to_lowercase()),
    };
    ApiError::new(res.status(), code, message).into_response()
}
