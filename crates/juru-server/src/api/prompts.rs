//! The Prompt desk's prompts: versions, labels and their history, delivery with ETags, strict
//! rendering, and diffs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use juru_desks::prompts::{
    CreatePrompt, LabelChange, LabelMoveView, MoveLabel, NewVersion, PromotionView, PromptDiff, PromptView,
    Reason, RenderRequest, RenderView, VersionView,
};
use juru_desks::views::Listing;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch))
        .routes(routes!(versions, add_version))
        .routes(routes!(move_label, remove_label))
        .routes(routes!(revert_label))
        .routes(routes!(label_history))
        .routes(routes!(render))
        .routes(routes!(webhooks, add_webhook, remove_webhook))
        .routes(routes!(diff))
        .routes(routes!(promotions))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(protected))
        .routes(routes!(protect, unprotect))
        .routes(routes!(events))
}

/// Label moves in the workspace as server-sent events, each `data:` a JSON
/// `{"prompt", "label", "version", "at"}` (`version` null when removed), so that clients
/// refetch at once instead of waiting for a cache to expire. Moves made by another process on
/// the same database (the CLI, a second server) are heard too, within about 200 ms.
#[utoipa::path(get, path = "/prompts/events", tag = "prompts",
    responses((status = 200, description = "an event stream", content_type = "text/event-stream")))]
async fn events(State(s): State<AppState>, Auth(a): Auth) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let rx = s.desks.prompt_events(&a)?;
    let workspace = a.workspace_id.clone();
    let body = futures::stream::unfold((rx, workspace), |(mut rx, workspace)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if e.workspace_id == workspace => {
                    let event =
                        Event::default().event("label").data(serde_json::to_string(&e).unwrap_or_default());
                    return Some((Ok::<_, std::convert::Infallible>(event), (rx, workspace)));
                }
                Ok(_) => continue,
                // A slow client that missed moves is told to refetch everything.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let event = Event::default().event("lagged").data(n.to_string());
                    return Some((Ok(event), (rx, workspace)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(body).keep_alive(KeepAlive::default()).into_response())
}

/// A label change answers 200 when done, 202 when a protected label waits for approval.
fn label_change(c: LabelChange) -> (StatusCode, Json<LabelChange>) {
    (
        if c.request.as_ref().is_some_and(|r| r.status == "pending") {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        },
        Json(c),
    )
}

/// Lists prompts with their labels.
#[utoipa::path(get, path = "/prompts", tag = "prompts", params(PageParams),
    responses((status = 200, body = Listing<PromptView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(p): Query<PageParams>,
) -> Result<Json<Listing<PromptView>>, ApiError> {
    Ok(Json(s.desks.prompts(&a, &(&p).into()).await?))
}

/// Creates a prompt with its first version. Every problem (template syntax with line and
/// column, undeclared variables, settings, unknown includes) is listed at once.
#[utoipa::path(post, path = "/prompts", tag = "prompts", request_body = CreatePrompt,
    responses((status = 201, body = VersionView), (status = 400, description = "the problems, each with its place")))]
async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreatePrompt>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_prompt(&a, &req).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FetchQuery {
    /// A label (`production`, `staging`, `latest`, …).
    label: Option<String>,
    /// A version number.
    version: Option<i64>,
}

/// A prompt version by label or number (neither: `production` when set, else the newest), with
/// an ETag; `If-None-Match` with it answers 304 while the reference resolves to the same
/// version.
#[utoipa::path(get, path = "/prompts/{prompt}", tag = "prompts", params(("prompt" = String, Path), FetchQuery),
    responses((status = 200, body = VersionView), (status = 304, description = "unchanged")))]
async fn fetch(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(prompt): Path<String>,
    Query(q): Query<FetchQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let v = s.desks.fetch_prompt(&a, &prompt, q.label.as_deref(), q.version).await?;
    let etag = v.etag();
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let tag = [(header::ETAG, etag), (header::CACHE_CONTROL, "no-cache".to_string())];
    Ok(if cached { (StatusCode::NOT_MODIFIED, tag).into_response() } else { (tag, Json(v)).into_response() })
}

/// A prompt's versions, newest first.
#[utoipa::path(get, path = "/prompts/{prompt}/versions", tag = "prompts", params(("prompt" = String, Path)),
    responses((status = 200, body = Vec<VersionView>)))]
async fn versions(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(prompt): Path<String>,
) -> Result<Json<Vec<VersionView>>, ApiError> {
    Ok(Json(s.desks.prompt_versions(&a, &prompt).await?))
}

/// Saves a new immutable version (409 when identical to the newest).
#[utoipa::path(post, path = "/prompts/{prompt}/versions", tag = "prompts", params(("prompt" = String, Path)),
    request_body = NewVersion, responses((status = 201, body = VersionView)))]
async fn add_version(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(prompt): Path<String>,
    ApiJson(req): ApiJson<NewVersion>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.add_prompt_version(&a, &prompt, &req).await?)))
}

/// Points a label at a version (audited, kept in the label's history).
#[utoipa::path(put, path = "/prompts/{prompt}/labels/{label}", tag = "prompts",
    params(("prompt" = String, Path), ("label" = String, Path)), request_body = MoveLabel,
    responses((status = 200, body = LabelChange), (status = 202, body = LabelChange, description = "protected: waiting for a second person")))]
async fn move_label(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((prompt, label)): Path<(String, String)>,
    ApiJson(req): ApiJson<MoveLabel>,
) -> Result<(StatusCode, Json<LabelChange>), ApiError> {
    Ok(label_change(s.desks.move_prompt_label(&a, &prompt, &label, &req).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RemoveQuery {
    /// Why, for the label's history and the audit log.
    reason: Option<String>,
}

/// Removes a label (audited; revert puts it back).
#[utoipa::path(delete, path = "/prompts/{prompt}/labels/{label}", tag = "prompts",
    params(("prompt" = String, Path), ("label" = String, Path), RemoveQuery),
    responses((status = 200, body = LabelChange), (status = 202, body = LabelChange, description = "protected: waiting for a second person")))]
async fn remove_label(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((prompt, label)): Path<(String, String)>,
    Query(r): Query<RemoveQuery>,
) -> Result<(StatusCode, Json<LabelChange>), ApiError> {
    Ok(label_change(
        s.desks.remove_prompt_label(&a, &prompt, &label, r.reason.as_deref().unwrap_or_default()).await?,
    ))
}

/// Undoes a label's last move or removal.
#[utoipa::path(post, path = "/prompts/{prompt}/labels/{label}/revert", tag = "prompts",
    params(("prompt" = String, Path), ("label" = String, Path)), request_body = Reason,
    responses((status = 200, body = LabelChange), (status = 202, body = LabelChange, description = "protected: waiting for a second person")))]
async fn revert_label(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((prompt, label)): Path<(String, String)>,
    ApiJson(r): ApiJson<Reason>,
) -> Result<(StatusCode, Json<LabelChange>), ApiError> {
    Ok(label_change(s.desks.revert_prompt_label(&a, &prompt, &label, &r.reason).await?))
}

/// A label's moves, newest first.
#[utoipa::path(get, path = "/prompts/{prompt}/labels/{label}/history", tag = "prompts",
    params(("prompt" = String, Path), ("label" = String, Path)),
    responses((status = 200, body = Vec<LabelMoveView>)))]
async fn label_history(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((prompt, label)): Path<(String, String)>,
) -> Result<Json<Vec<LabelMoveView>>, ApiError> {
    Ok(Json(s.desks.prompt_label_history(&a, &prompt, &label).await?))
}

/// Renders a version strictly: a missing, undeclared or mistyped variable is a 400 naming it.
#[utoipa::path(post, path = "/prompts/{prompt}/render", tag = "prompts", params(("prompt" = String, Path)),
    request_body = RenderRequest, responses((status = 200, body = RenderView), (status = 400, description = "variable problems")))]
async fn render(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(prompt): Path<String>,
    ApiJson(req): ApiJson<RenderRequest>,
) -> Result<Json<RenderView>, ApiError> {
    Ok(Json(s.desks.render_prompt(&a, &prompt, &req).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DiffQuery {
    from: i64,
    to: i64,
}

/// Word differences between two versions, per template part.
#[utoipa::path(get, path = "/prompts/{prompt}/diff", tag = "prompts", params(("prompt" = String, Path), DiffQuery),
    responses((status = 200, body = PromptDiff)))]
async fn diff(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(prompt): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<PromptDiff>, ApiError> {
    Ok(Json(s.desks.diff_prompt_versions(&a, &prompt, q.from, q.to).await?))
}

/// A prompt's requests to move protected labels, newest first.
#[utoipa::path(get, path = "/prompts/{prompt}/promotions", tag = "prompts", params(("prompt" = String, Path)),
    responses((status = 200, body = Vec<PromotionView>)))]
async fn promotions(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(prompt): Path<String>,
) -> Result<Json<Vec<PromotionView>>, ApiError> {
    Ok(Json(s.desks.prompt_promotions(&a, &prompt).await?))
}

/// Approves a request (not the requester's own): the protected label moves.
#[utoipa::path(post, path = "/prompts/{prompt}/promotions/{request}/approve", tag = "prompts",
    params(("prompt" = String, Path), ("request" = String, Path)), request_body = Reason,
    responses((status = 200, body = LabelChange), (status = 403, description = "the requester's own"),
              (status = 409, description = "decided already, or the label moved since")))]
async fn approve(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((prompt, request)): Path<(String, String)>,
    ApiJson(r): ApiJson<Reason>,
) -> Result<Json<LabelChange>, ApiError> {
    Ok(Json(s.desks.decide_prompt_promotion(&a, &prompt, &request, true, &r.reason).await?))
}

/// Rejects (or, for the requester, withdraws) a request.
#[utoipa::path(post, path = "/prompts/{prompt}/promotions/{request}/reject", tag = "prompts",
    params(("prompt" = String, Path), ("request" = String, Path)), request_body = Reason,
    responses((status = 200, body = LabelChange)))]
async fn reject(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((prompt, request)): Path<(String, String)>,
    ApiJson(r): ApiJson<Reason>,
) -> Result<Json<LabelChange>, ApiError> {
    Ok(Json(s.desks.decide_prompt_promotion(&a, &prompt, &request, false, &r.reason).await?))
}

/// The workspace's protected labels.
#[utoipa::path(get, path = "/prompt-labels/protected", tag = "prompts", responses((status = 200, body = Vec<String>)))]
async fn protected(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.desks.protected_prompt_labels(&a).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct WebhookQuery {
    /// The URL that receives `POST {"event": "prompt.label.moved", prompt, label, from_version,
    /// version, at}` on every label move.
    url: String,
}

/// The workspace's prompt webhooks.
#[utoipa::path(get, path = "/prompt-webhooks", tag = "prompts", responses((status = 200, body = Vec<String>)))]
async fn webhooks(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.desks.prompt_webhooks(&a).await?))
}

/// Adds a prompt webhook: every label move (removals and reverts included) is POSTed to it,
/// with retries (administrators).
#[utoipa::path(put, path = "/prompt-webhooks", tag = "prompts", params(WebhookQuery),
    responses((status = 200, body = Vec<String>)))]
async fn add_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<WebhookQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.desks.set_prompt_webhook(&a, &q.url, true).await?))
}

/// Removes a prompt webhook (administrators).
#[utoipa::path(delete, path = "/prompt-webhooks", tag = "prompts", params(WebhookQuery),
    responses((status = 200, body = Vec<String>)))]
async fn remove_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<WebhookQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.desks.set_prompt_webhook(&a, &q.url, false).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct ProtectQuery {
    /// A saved eval suite that must pass on the candidate version before a move is approved.
    suite: Option<String>,
}

/// Protects a label in the workspace: moving it takes a second person's approval, and with
/// `suite`, a passing run of that suite on the candidate version (administrators).
#[utoipa::path(put, path = "/prompt-labels/protected/{label}", tag = "prompts", params(("label" = String, Path), ProtectQuery),
    responses((status = 200, body = Vec<String>)))]
async fn protect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(label): Path<String>,
    Query(q): Query<ProtectQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.desks.protect_prompt_label(&a, &label, true, q.suite.as_deref()).await?))
}

/// Lifts a label's protection (administrators).
#[utoipa::path(delete, path = "/prompt-labels/protected/{label}", tag = "prompts", params(("label" = String, Path)),
    responses((status = 200, body = Vec<String>)))]
async fn unprotect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(label): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.desks.protect_prompt_label(&a, &label, false, None).await?))
}
