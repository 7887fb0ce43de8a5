//! The Labeling desk: projects, the annotator's queue, answers, schema changes, agreement,
//! adjudication and aggregation, suggestions and active learning, import and streamed export.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use juru_core::labels::SchemaChange;
use juru_desks::datasets::ImportOutcome;
use juru_desks::labeling::active::SuggestOutcome;
use juru_desks::labeling::adjudication::{
    AggregateOutcome, AggregateRequest, Disagreement, ResolutionView, ResolveRequest,
};
use juru_desks::labeling::agreement::AgreementReport;
use juru_desks::labeling::exchange::{LabelFormat, LabelImportOutcome, LabelsToDataset};
use juru_desks::labeling::{
    AnswerRequest, AnswerView, CreateProject, ProjectView, SchemaChangeOutcome, TaskView, UpdateProject,
};
use juru_desks::views::Listing;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
        .routes(routes!(next))
        .routes(routes!(item))
        .routes(routes!(answer))
        .routes(routes!(schema_history, change_schema))
        .routes(routes!(agreement))
        .routes(routes!(disagreements))
        .routes(routes!(resolve))
        .routes(routes!(resolutions))
        .routes(routes!(aggregate))
        .routes(routes!(suggest))
        .routes(routes!(retrain))
        .routes(routes!(export))
        .routes(routes!(import).layer(axum::extract::DefaultBodyLimit::max(256 << 20)))
        .routes(routes!(to_dataset))
}

/// Lists labeling projects.
#[utoipa::path(get, path = "/labeling/projects", tag = "labeling", params(PageParams),
    responses((status = 200, body = Listing<ProjectView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(p): Query<PageParams>,
) -> Result<Json<Listing<ProjectView>>, ApiError> {
    Ok(Json(s.desks.label_projects(&a, &(&p).into()).await?))
}

/// Creates a project over a dataset version with a label schema.
#[utoipa::path(post, path = "/labeling/projects", tag = "labeling", request_body = CreateProject,
    responses((status = 201, body = ProjectView), (status = 400, description = "bad schema, field or honeypot")))]
async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<CreateProject>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.create_label_project(&a, &req).await?)))
}

/// A project with its progress counts.
#[utoipa::path(get, path = "/labeling/projects/{project}", tag = "labeling", params(("project" = String, Path)),
    responses((status = 200, body = ProjectView)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
) -> Result<Json<ProjectView>, ApiError> {
    Ok(Json(s.desks.label_project(&a, &project).await?))
}

/// Closes or reopens a project, or changes its guidelines or annotators.
#[utoipa::path(patch, path = "/labeling/projects/{project}", tag = "labeling", params(("project" = String, Path)),
    request_body = UpdateProject, responses((status = 200, body = ProjectView)))]
async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    ApiJson(req): ApiJson<UpdateProject>,
) -> Result<Json<ProjectView>, ApiError> {
    Ok(Json(s.desks.update_label_project(&a, &project, &req).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NextQuery {
    /// Move past this item without answering it.
    after: Option<i64>,
}

/// The next item for the caller, held for them; 204 when nothing is left.
#[utoipa::path(post, path = "/labeling/projects/{project}/next", tag = "labeling",
    params(("project" = String, Path), NextQuery),
    responses((status = 200, body = TaskView), (status = 204, description = "nothing left"),
              (status = 403, description = "not an annotator of the project"), (status = 409, description = "closed")))]
async fn next(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    Query(q): Query<NextQuery>,
) -> Result<Response, ApiError> {
    Ok(match s.desks.next_label_task(&a, &project, q.after).await? {
        Some(task) => Json(task).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// One item with the caller's answer.
#[utoipa::path(get, path = "/labeling/projects/{project}/items/{index}", tag = "labeling",
    params(("project" = String, Path), ("index" = i64, Path)), responses((status = 200, body = TaskView)))]
async fn item(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((project, index)): Path<(String, i64)>,
) -> Result<Json<TaskView>, ApiError> {
    Ok(Json(s.desks.label_task(&a, &project, index).await?))
}

/// Submits, saves as draft, or skips the caller's answer to an item.
#[utoipa::path(put, path = "/labeling/projects/{project}/items/{index}/answer", tag = "labeling",
    params(("project" = String, Path), ("index" = i64, Path)), request_body = AnswerRequest,
    responses((status = 200, body = AnswerView), (status = 400, description = "does not fit the schema"),
              (status = 409, description = "closed project, item full, or schema changed")))]
async fn answer(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((project, index)): Path<(String, i64)>,
    ApiJson(req): ApiJson<AnswerRequest>,
) -> Result<Json<AnswerView>, ApiError> {
    Ok(Json(s.desks.answer_label_task(&a, &project, index, &req).await?))
}

/// Every version of the schema with the change that made it.
#[utoipa::path(get, path = "/labeling/projects/{project}/schema", tag = "labeling", params(("project" = String, Path)),
    responses((status = 200, body = Vec<Object>)))]
async fn schema_history(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    Ok(Json(s.desks.label_schema_history(&a, &project).await?))
}

/// Adds, renames, merges or splits labels; answers are carried along (split reopens them).
#[utoipa::path(post, path = "/labeling/projects/{project}/schema", tag = "labeling", params(("project" = String, Path)),
    request_body = SchemaChange, responses((status = 200, body = SchemaChangeOutcome)))]
async fn change_schema(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    ApiJson(change): ApiJson<SchemaChange>,
) -> Result<Json<SchemaChangeOutcome>, ApiError> {
    Ok(Json(s.desks.change_label_schema(&a, &project, &change).await?))
}

/// Agreement figures of the submitted answers.
#[utoipa::path(get, path = "/labeling/projects/{project}/agreement", tag = "labeling", params(("project" = String, Path)),
    responses((status = 200, body = AgreementReport)))]
async fn agreement(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
) -> Result<Json<AgreementReport>, ApiError> {
    Ok(Json(s.desks.label_agreement(&a, &project).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// First item index (default 0).
    from: Option<i64>,
    /// At most this many (default 50).
    limit: Option<i64>,
}

/// Items whose answers disagree, answers side by side.
#[utoipa::path(get, path = "/labeling/projects/{project}/disagreements", tag = "labeling",
    params(("project" = String, Path), RangeQuery), responses((status = 200, body = Vec<Disagreement>)))]
async fn disagreements(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Vec<Disagreement>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000) as usize;
    Ok(Json(s.desks.label_disagreements(&a, &project, q.from.unwrap_or(0), limit).await?))
}

/// Resolves an item: pick an answer or give the label, with a reason.
#[utoipa::path(put, path = "/labeling/projects/{project}/items/{index}/resolution", tag = "labeling",
    params(("project" = String, Path), ("index" = i64, Path)), request_body = ResolveRequest,
    responses((status = 200, body = ResolutionView)))]
async fn resolve(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((project, index)): Path<(String, i64)>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<Json<ResolutionView>, ApiError> {
    Ok(Json(s.desks.resolve_label(&a, &project, index, &req).await?))
}

/// The resolved layer.
#[utoipa::path(get, path = "/labeling/projects/{project}/resolutions", tag = "labeling",
    params(("project" = String, Path), RangeQuery), responses((status = 200, body = Vec<ResolutionView>)))]
async fn resolutions(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Vec<ResolutionView>>, ApiError> {
    Ok(Json(s.desks.label_resolutions(&a, &project, q.from.unwrap_or(0), q.limit.unwrap_or(50)).await?))
}

/// Resolves every item no person adjudicated, by majority vote or Dawid–Skene.
#[utoipa::path(post, path = "/labeling/projects/{project}/aggregate", tag = "labeling",
    params(("project" = String, Path)), request_body = AggregateRequest, responses((status = 200, body = AggregateOutcome)))]
async fn aggregate(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    ApiJson(req): ApiJson<AggregateRequest>,
) -> Result<Json<AggregateOutcome>, ApiError> {
    Ok(Json(s.desks.aggregate_labels(&a, &project, &req).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SuggestRequest {
    /// A registry classifier: `name`, `name@3` or `name@alias`.
    model: String,
}

/// Pre-annotates every item with a classifier's prediction and score.
#[utoipa::path(post, path = "/labeling/projects/{project}/suggest", tag = "labeling",
    params(("project" = String, Path)), request_body = SuggestRequest, responses((status = 200, body = SuggestOutcome)))]
async fn suggest(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    ApiJson(req): ApiJson<SuggestRequest>,
) -> Result<Json<SuggestOutcome>, ApiError> {
    Ok(Json(s.desks.suggest_labels(&a, &project, &req.model).await?))
}

/// Retrains the active-learning model now and rescores uncertainty.
#[utoipa::path(post, path = "/labeling/projects/{project}/retrain", tag = "labeling",
    params(("project" = String, Path)), responses((status = 200, body = SuggestOutcome)))]
async fn retrain(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
) -> Result<Json<SuggestOutcome>, ApiError> {
    Ok(Json(s.desks.retrain_label_model(&a, &project).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// `jsonl` (default), `csv`, `conll`, `label_studio` or `hf`.
    format: Option<String>,
}

fn format_of(q: &FormatQuery) -> Result<LabelFormat, ApiError> {
    Ok(LabelFormat::parse(q.format.as_deref().unwrap_or("jsonl"))?)
}

/// Streams the labels in a format.
#[utoipa::path(get, path = "/labeling/projects/{project}/export", tag = "labeling",
    params(("project" = String, Path), FormatQuery),
    responses((status = 200, description = "the labels", content_type = "application/x-ndjson")))]
async fn export(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(&q)?;
    // The first page is made before answering, so that a bad request is an error status.
    let (first, next) = s.desks.export_labels_page(&a, &project, format, 0).await?;
    let file = format!("{project}-labels.{}", format.extension()).replace(['"', '/', '\\'], "_");
    let desks = s.desks.clone();
    let rest =
        futures::stream::unfold((desks, a, project, next), move |(desks, a, project, from)| async move {
            let from = from?;
            match desks.export_labels_page(&a, &project, format, from).await {
                Ok((bytes, next)) => Some((Ok::<_, std::io::Error>(bytes), (desks, a, project, next))),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), (desks, a, project, None))),
            }
        });
    let stream = futures::StreamExt::chain(futures::stream::once(async move { Ok(first) }), rest);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Imports answers (all or nothing; every bad line is listed).
#[utoipa::path(post, path = "/labeling/projects/{project}/import", tag = "labeling",
    params(("project" = String, Path), FormatQuery), request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 201, body = LabelImportOutcome), (status = 400, description = "bad lines, nothing imported")))]
async fn import(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    Query(q): Query<FormatQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<LabelImportOutcome>), ApiError> {
    let format = format_of(&q)?;
    Ok((StatusCode::CREATED, Json(s.desks.import_label_answers(&a, &project, format, &body).await?)))
}

/// Writes the labels into a dataset (a new one, or a new version) for training.
#[utoipa::path(post, path = "/labeling/projects/{project}/to-dataset", tag = "labeling",
    params(("project" = String, Path)), request_body = LabelsToDataset, responses((status = 201, body = ImportOutcome)))]
async fn to_dataset(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(project): Path<String>,
    ApiJson(req): ApiJson<LabelsToDataset>,
) -> Result<(StatusCode, Json<ImportOutcome>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.desks.labels_to_dataset(&a, &project, &req).await?)))
}
