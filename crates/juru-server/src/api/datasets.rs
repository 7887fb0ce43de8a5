//! Datasets: streamed import (CSV, JSONL), versions, items, streamed export.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use juru_core::dataset::Format;
use juru_core::{Action, Area};
use juru_desks::datasets::{ImportOutcome, ImportRequest, Progress};
use juru_desks::views::{DatasetVersionView, DatasetView, ItemView, JobView, Listing, UpdateDataset};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::PageParams;
use crate::extract::{ApiJson, Auth};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(import).layer(axum::extract::DefaultBodyLimit::disable()))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(version))
        .routes(routes!(items))
        .routes(routes!(export))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Part of the name, case-insensitive.
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Datasets of the workspace, newest first.
#[utoipa::path(get, path = "/datasets", tag = "datasets", params(ListQuery), responses((status = 200, body = Listing<DatasetView>)))]
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Listing<DatasetView>>, ApiError> {
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    Ok(Json(s.desks.datasets(&a, q.q.as_deref(), &(&page).into()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportQuery {
    /// The dataset's name.
    pub name: String,
    pub description: Option<String>,
    /// `csv` or `jsonl`; taken from `filename` when absent.
    pub format: Option<String>,
    /// The uploaded file's name, kept as the version's source.
    pub filename: Option<String>,
    /// `new` (default): a new dataset, 409 if the name is taken. `version`: a new version of
    /// an existing dataset.
    pub mode: Option<String>,
    /// `true` (default): answer when the import is done. `false`: answer 202 with a job at once.
    pub wait: Option<bool>,
}

/// Imports a CSV or JSONL file sent as the request body. All-or-nothing: a file with bad rows
/// imports nothing and the answer lists every bad row with its line number.
#[utoipa::path(post, path = "/datasets/import", tag = "datasets", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "the file's bytes (CSV or JSONL)"),
    responses((status = 201, body = ImportOutcome), (status = 202, body = JobView),
              (status = 400, body = crate::error::ErrorBody, description = "bad rows: `error.rows` lists them"),
              (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
async fn import(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    a.require(Area::Datasets, Action::Write)?;
    let req = import_request(&q)?;
    let path = spool(&s, body, &req).await?;
    if q.wait.unwrap_or(true) {
        let result = s.desks.import_file(&a, &path, &req, Arc::new(Progress::default())).await;
        let _ = tokio::fs::remove_file(&path).await;
        Ok((StatusCode::CREATED, Json(result?)).into_response())
    } else {
        match s.desks.enqueue_import(&a, path.clone(), &req).await {
            Ok(job) => Ok((StatusCode::ACCEPTED, Json(job)).into_response()),
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(e.into())
            }
        }
    }
}

pub(crate) fn import_request(q: &ImportQuery) -> Result<ImportRequest, ApiError> {
    let format = match &q.format {
        Some(f) if !f.is_empty() => Some(
            Format::parse(f)
                .ok_or_else(|| ApiError::bad_request(format!("format {f:?} is not csv or jsonl")))?,
        ),
        _ => None,
    };
    let new_version = match q.mode.as_deref() {
        None | Some("new") | Some("") => false,
        Some("version") => true,
        Some(other) => return Err(ApiError::bad_request(format!("mode {other:?} is not new or version"))),
    };
    let source = q
        .filename
        .clone()
        .unwrap_or_else(|| format!("upload.{}", format.map(|f| f.as_str()).unwrap_or("csv")));
    Ok(ImportRequest {
        name: q.name.clone(),
        description: q.description.clone().unwrap_or_default(),
        format: format.or_else(|| Format::from_file_name(&source)),
        new_version,
        source,
        message: String::new(),
    })
}

/// Streams a request body into a file in the spool directory, refusing more than the upload
/// limit.
pub(crate) async fn spool(
    s: &AppState,
    body: Body,
    req: &ImportRequest,
) -> Result<std::path::PathBuf, ApiError> {
    let dir = s.desks.spool_dir();
    let internal = |e: std::io::Error| ApiError::from(juru_desks::DeskError::internal(e));
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    let ext = req.format.map(|f| f.as_str()).unwrap_or("bin");
    let path = dir.join(format!("{}.{ext}", juru_core::ids::new_id()));
    let mut file =
        tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(&path).await.map_err(internal)?);
    let limit = s.config.max_upload_bytes;
    let mut written: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(ApiError::bad_request(format!("reading the upload: {e}")));
            }
        };
        written += chunk.len() as u64;
        if written > limit {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
            return Err(ApiError::too_large(limit));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    file.into_inner().sync_all().await.map_err(internal)?;
    Ok(path)
}

#[derive(Serialize, ToSchema)]
struct DatasetDetail {
    dataset: DatasetView,
    versions: Vec<DatasetVersionView>,
}

/// A dataset (by id or name) with its versions.
#[utoipa::path(get, path = "/datasets/{dataset}", tag = "datasets", params(("dataset" = String, Path)), responses((status = 200, body = DatasetDetail)))]
async fn get_one(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(ds): Path<String>,
) -> Result<Json<DatasetDetail>, ApiError> {
    let (dataset, versions) = s.desks.dataset(&a, &ds).await?;
    Ok(Json(DatasetDetail { dataset, versions }))
}

/// Renames a dataset or changes its description.
#[utoipa::path(patch, path = "/datasets/{dataset}", tag = "datasets", params(("dataset" = String, Path)), request_body = UpdateDataset,
    responses((status = 200, body = DatasetView)))]
async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(ds): Path<String>,
    ApiJson(req): ApiJson<UpdateDataset>,
) -> Result<Json<DatasetView>, ApiError> {
    Ok(Json(s.desks.update_dataset(&a, &ds, &req).await?))
}

/// Deletes a dataset with all its versions.
#[utoipa::path(delete, path = "/datasets/{dataset}", tag = "datasets", params(("dataset" = String, Path)), responses((status = 204)))]
async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(ds): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.desks.delete_dataset(&a, &ds).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One immutable version.
#[utoipa::path(get, path = "/datasets/{dataset}/versions/{version}", tag = "datasets",
    params(("dataset" = String, Path), ("version" = i64, Path)), responses((status = 200, body = DatasetVersionView)))]
async fn version(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((ds, v)): Path<(String, i64)>,
) -> Result<Json<DatasetVersionView>, ApiError> {
    Ok(Json(s.desks.dataset_version(&a, &ds, Some(v)).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ItemsQuery {
    /// Version number; the latest when absent.
    version: Option<i64>,
    /// First item index (default 0).
    from: Option<i64>,
    /// At most this many (1 to 1000, default 50).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct ItemPage {
    items: Vec<ItemView>,
    /// Pass as `from` for the next page.
    next_from: Option<i64>,
}

/// Items of a version.
#[utoipa::path(get, path = "/datasets/{dataset}/items", tag = "datasets", params(("dataset" = String, Path), ItemsQuery),
    responses((status = 200, body = ItemPage)))]
async fn items(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(ds): Path<String>,
    Query(q): Query<ItemsQuery>,
) -> Result<Json<ItemPage>, ApiError> {
    let (items, next_from) =
        s.desks.items(&a, &ds, q.version, q.from.unwrap_or(0), q.limit.unwrap_or(50)).await?;
    Ok(Json(ItemPage { items, next_from }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `jsonl` (default) or `csv`.
    format: Option<String>,
    version: Option<i64>,
}

/// Streams a version as JSONL or CSV.
#[utoipa::path(get, path = "/datasets/{dataset}/export", tag = "datasets", params(("dataset" = String, Path), ExportQuery),
    responses((status = 200, description = "the rows", content_type = "application/x-ndjson")))]
async fn export(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(ds): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None => Format::Jsonl,
        Some(f) => Format::parse(f)
            .ok_or_else(|| ApiError::bad_request(format!("format {f:?} is not csv or jsonl")))?,
    };
    let version = s.desks.dataset_version(&a, &ds, q.version).await?;
    let file = format!("{ds}-v{}.{}", version.version, format.as_str()).replace(['"', '/', '\\'], "_");
    let desks = s.desks.clone();
    let state = (desks, a, version, Some(0i64));
    let stream = futures::stream::unfold(state, move |(desks, a, version, from)| async move {
        let from = from?;
        match desks.export_page(&a, &version, format, from, 5000).await {
            Ok((bytes, next)) => Some((Ok::<_, std::io::Error>(bytes), (desks, a, version, next))),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), (desks, a, version, None))),
        }
    });
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Jsonl => "application/x-ndjson",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
