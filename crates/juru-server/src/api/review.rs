//! The Review desk: queues, routing rules with backtests, the reviewer's queue and decisions,
//! gated outputs and their tickets, reviewer quality, and feedback into datasets.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juru_desks::datasets::ImportOutcome;
use juru_desks::review::gate::{GateRequest, TicketView};
use juru_desks::review::quality::{FeedbackToDataset, QualityReport};
use juru_desks::review::rules::{BacktestReport, BacktestRequest, CreateRule, RuleView, UpdateRule};
use juru_desks::review::{
    AddItems, AddedItems, CreateQueue, DecisionOutcome, DecisionRequest, ItemView, QueueView, UpdateQueue,
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
        .routes(routes!(list_queues, create_queue))
        .routes(routes!(get_queue, update_queue))
        .routes(routes!(list_items, add_items))
        .routes(routes!(next))
        .routes(routes!(release))
        .routes(routes!(get_item))
        .routes(routes!(decide))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(update_rule))
        .routes(routes!(backtest_rule))
        .routes(routes!(backtest))
        .routes(routes!(gate))
        .routes(routes!(ticket))
        .routes(routes!(quality))
        .routes(routes!(to_dataset))
}

/// Lists review queues.
#[utoipa::path(get, path = "/review/queues", tag = "review", params(PageParams),
    responses((status = 200, body = Listing<QueueView>)))]
async fn list_queues(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(p): Query<PageParams>,
) -> Result<Json<Listing<QueueView>>, ApiError> {
    Ok(Json(s.desks.review_queues(&a, &(&p).into()).await?))
}

/// Creates a review queue: reviewers per item (N of M), reason codes, reservations, SLA.
#[utoipa::path(post, path = "/review/queues", tag = "review", request_body = CreateQueue,
    responses((status = 201, body = QueueView), (status = 400, description = "bad setting")))]
async fn create_queue(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreateQueue>,
) -> Result<(StatusCode, Json<QueueView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_review_queue(&a, &req).await?)))
}

/// A queue with its counts and rules.
#[utoipa::path(get, path = "/review/queues/{queue}", tag = "review", params(("queue" = String, Path)),
    responses((status = 200, body = QueueView)))]
async fn get_queue(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    Ok(Json(s.desks.review_queue(&a, &queue).await?))
}

/// Closes or reopens a queue, or changes its reviewers, SLA or webhook.
#[utoipa::path(patch, path = "/review/queues/{queue}", tag = "review", params(("queue" = String, Path)),
    request_body = UpdateQueue, responses((status = 200, body = QueueView)))]
async fn update_queue(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<UpdateQueue>,
) -> Result<Json<QueueView>, ApiError> {
    Ok(Json(s.desks.update_review_queue(&a, &queue, &req).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ItemQuery {
    /// Only items of this status (`pending`, `approved`, `edited`, `rejected`, `released`,
    /// `blocked`, `fallback`).
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A queue's items, newest first.
#[utoipa::path(get, path = "/review/queues/{queue}/items", tag = "review",
    params(("queue" = String, Path), ItemQuery), responses((status = 200, body = Listing<ItemView>)))]
async fn list_items(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    Query(q): Query<ItemQuery>,
) -> Result<Json<Listing<ItemView>>, ApiError> {
    let page = juru_desks::PageRequest { limit: q.limit, cursor: q.cursor };
    Ok(Json(s.desks.review_items(&a, &queue, q.status.as_deref(), &page).await?))
}

/// Adds items by hand (all or none), such as honeypots with an `expected` decision.
#[utoipa::path(post, path = "/review/queues/{queue}/items", tag = "review", params(("queue" = String, Path)),
    request_body = AddItems, responses((status = 201, body = AddedItems)))]
async fn add_items(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<AddItems>,
) -> Result<(StatusCode, Json<AddedItems>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.add_review_items(&a, &queue, &req).await?)))
}

/// The next item for the caller, held for them for the queue's reservation time; 204 when
/// nothing is left.
#[utoipa::path(post, path = "/review/queues/{queue}/next", tag = "review", params(("queue" = String, Path)),
    responses((status = 200, body = ItemView), (status = 204, description = "nothing left"),
              (status = 403, description = "not a reviewer of the queue"), (status = 409, description = "closed")))]
async fn next(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
) -> Result<Response, ApiError> {
    Ok(match s.desks.next_review_item(&a, &queue).await? {
        Some(item) => Json(item).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Lets go of the items the caller holds in a queue.
#[utoipa::path(post, path = "/review/queues/{queue}/release", tag = "review", params(("queue" = String, Path)),
    responses((status = 200, description = "`{\"released\": n}`")))]
async fn release(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let n = s.desks.release_review_items(&a, &queue).await?;
    Ok(Json(serde_json::json!({"released": n})))
}

/// One item with the decisions the caller may see.
#[utoipa::path(get, path = "/review/items/{item}", tag = "review", params(("item" = String, Path)),
    responses((status = 200, body = ItemView)))]
async fn get_item(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(item): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    Ok(Json(s.desks.review_item(&a, &item).await?))
}

/// Approves, edits (with the corrected output and a reason code), rejects (with a reason code)
/// or skips an item. 409 when the item already has the decisions it needs or is settled.
#[utoipa::path(put, path = "/review/items/{item}/decision", tag = "review", params(("item" = String, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = DecisionOutcome), (status = 400, description = "missing reason or output"),
              (status = 409, description = "already decided, full or settled")))]
async fn decide(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(item): Path<String>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<Json<DecisionOutcome>, ApiError> {
    Ok(Json(s.desks.decide_review_item(&a, &item, &req).await?))
}

/// A queue's routing rules.
#[utoipa::path(get, path = "/review/queues/{queue}/rules", tag = "review", params(("queue" = String, Path)),
    responses((status = 200, body = Vec<RuleView>)))]
async fn list_rules(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    Ok(Json(s.desks.review_queue(&a, &queue).await?.rules))
}

/// Adds a routing rule (switched off unless `enabled`, so it can be backtested first).
#[utoipa::path(post, path = "/review/queues/{queue}/rules", tag = "review", params(("queue" = String, Path)),
    request_body = CreateRule, responses((status = 201, body = RuleView)))]
async fn create_rule(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<CreateRule>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_review_rule(&a, &queue, &req).await?)))
}

/// Switches a rule on or off, or changes its conditions.
#[utoipa::path(patch, path = "/review/queues/{queue}/rules/{rule}", tag = "review",
    params(("queue" = String, Path), ("rule" = String, Path)), request_body = UpdateRule,
    responses((status = 200, body = RuleView)))]
async fn update_rule(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((queue, rule)): Path<(String, String)>,
    ApiJson(req): ApiJson<UpdateRule>,
) -> Result<Json<RuleView>, ApiError> {
    Ok(Json(s.desks.update_review_rule(&a, &queue, &rule, &req).await?))
}

/// What a saved rule would have sent from past traces (nothing is queued).
#[utoipa::path(post, path = "/review/queues/{queue}/rules/{rule}/backtest", tag = "review",
    params(("queue" = String, Path), ("rule" = String, Path)), request_body = BacktestRequest,
    responses((status = 200, body = BacktestReport)))]
async fn backtest_rule(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((queue, rule)): Path<(String, String)>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> Result<Json<BacktestReport>, ApiError> {
    Ok(Json(s.desks.backtest_review_rule(&a, &queue, Some(&rule), &req).await?))
}

/// What conditions not yet saved would have sent from past traces.
#[utoipa::path(post, path = "/review/queues/{queue}/backtest", tag = "review",
    params(("queue" = String, Path)), request_body = BacktestRequest,
    responses((status = 200, body = BacktestReport)))]
async fn backtest(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> Result<Json<BacktestReport>, ApiError> {
    Ok(Json(s.desks.backtest_review_rule(&a, &queue, None, &req).await?))
}

/// Holds an AI output until reviewers settle it or the SLA runs out; answers 202 with a
/// ticket (200 when `hold: rules` released it at once).
#[utoipa::path(post, path = "/review/queues/{queue}/gate", tag = "review", params(("queue" = String, Path)),
    request_body = GateRequest,
    responses((status = 202, body = TicketView), (status = 200, body = TicketView, description = "released, no rule held it"),
              (status = 409, description = "queue closed")))]
async fn gate(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<GateRequest>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    let t = s.desks.gate_output(&a, &queue, &req).await?;
    let status = if t.settled { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(t)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// Wait up to this many seconds (at most 60) for the ticket to settle.
    wait: Option<u64>,
}

/// A held output's ticket: pending, or settled with the output to send.
#[utoipa::path(get, path = "/review/tickets/{ticket}", tag = "review",
    params(("ticket" = String, Path), TicketQuery), responses((status = 200, body = TicketView)))]
async fn ticket(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(ticket): Path<String>,
    Query(q): Query<TicketQuery>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(s.desks.review_ticket(&a, &ticket, q.wait).await?))
}

/// Reviewer quality (throughput, time per item, agreement, honeypots) and how often people
/// agree with each model version.
#[utoipa::path(get, path = "/review/queues/{queue}/quality", tag = "review", params(("queue" = String, Path)),
    responses((status = 200, body = QualityReport)))]
async fn quality(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
) -> Result<Json<QualityReport>, ApiError> {
    Ok(Json(s.desks.review_quality(&a, &queue).await?))
}

/// Writes settled items (corrections by default) into a dataset version with their provenance.
#[utoipa::path(post, path = "/review/queues/{queue}/to-dataset", tag = "review", params(("queue" = String, Path)),
    request_body = FeedbackToDataset, responses((status = 201, body = ImportOutcome)))]
async fn to_dataset(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<FeedbackToDataset>,
) -> Result<(StatusCode, Json<ImportOutcome>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.review_feedback_to_dataset(&a, &queue, &req).await?)))
}
