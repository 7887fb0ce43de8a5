//! The audit log: browse, export as JSONL, verify the chain.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use juru_desks::views::AuditEntryView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Auth;
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(export)).routes(routes!(verify))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries after this sequence number (default 0).
    after: Option<i64>,
    /// At most this many (default 100, at most 10,000).
    limit: Option<i64>,
    /// Only actions starting with this, e.g. `dataset.`.
    action: Option<String>,
}

/// Entries of the workspace's audit log, oldest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = Vec<AuditEntryView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntryView>>, ApiError> {
    let entries = s
        .desks
        .audit_entries(
            &a,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(100),
            q.action.as_deref().filter(|s| !s.is_empty()),
        )
        .await?;
    Ok(Json(entries))
}

/// The workspace's whole audit log as JSONL, streamed.
#[utoipa::path(get, path = "/audit/export", tag = "audit", responses((status = 200, description = "JSONL", content_type = "application/x-ndjson")))]
async fn export(State(s): State<AppState>, Auth(a): Auth) -> Result<Response, ApiError> {
    // Check access before the stream starts, so a refusal is a proper error response.
    s.desks.audit_entries(&a, 0, 1, None).await?;
    let stream = futures::stream::unfold((s.desks.clone(), a, Some(0i64)), |(desks, a, after)| async move {
        let after = after?;
        match desks.audit_entries(&a, after, 5000, None).await {
            Ok(entries) if entries.is_empty() => None,
            Ok(entries) => {
                let last = entries.last().map(|e| e.seq);
                let mut out = Vec::new();
                for e in &entries {
                    let _ = serde_json::to_writer(&mut out, e);
                    out.push(b'\n');
                }
                Some((Ok::<_, std::io::Error>(out), (desks, a, last)))
            }
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), (desks, a, None))),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.jsonl\""),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
struct Verification {
    intact: bool,
    /// Entries checked.
    entries: i64,
    /// The first entry that does not match, and why.
    problem: Option<String>,
}

/// Walks the whole hash chain.
#[utoipa::path(get, path = "/audit/verify", tag = "audit", responses((status = 200, body = Verification)))]
async fn verify(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Verification>, ApiError> {
    Ok(Json(match s.desks.audit_verify(&a).await? {
        Ok(n) => Verification { intact: true, entries: n, problem: None },
        Err(brk) => Verification { intact: false, entries: 0, problem: Some(brk.to_string()) },
    }))
}
