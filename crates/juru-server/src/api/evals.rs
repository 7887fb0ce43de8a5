//! The evaluation engine over HTTP: saved suites, runs as jobs with live progress, results,
//! per-case pass rates and flakiness, comparison with a baseline, JUnit XML.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use juru_desks::eval::{
    EvalComparison, EvalRunView, EvalSummary, ResultView, SaveSuite, StartEval, SuiteView,
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
        .routes(routes!(list_suites))
        .routes(routes!(get_suite, save_suite))
        .routes(routes!(add_case))
        .routes(routes!(list_runs, start_run))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
        .routes(routes!(results))
        .routes(routes!(summary))
        .routes(routes!(compare))
        .routes(routes!(junit))
}

/// Saved suites.
#[utoipa::path(get, path = "/evals/suites", tag = "evals", responses((status = 200, body = Vec<SuiteView>)))]
async fn list_suites(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Vec<SuiteView>>, ApiError> {
    Ok(Json(s.desks.eval_suites(&a).await?))
}

/// A saved suite with its definition.
#[utoipa::path(get, path = "/evals/suites/{suite}", tag = "evals", params(("suite" = String, Path)),
    responses((status = 200, body = SuiteView)))]
async fn get_suite(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(suite): Path<String>,
) -> Result<Json<SuiteView>, ApiError> {
    Ok(Json(s.desks.eval_suite(&a, &suite).await?))
}

/// Saves a suite (YAML or JSON text) under its name, after checking every reference in it;
/// the name in the path must be the suite's own.
#[utoipa::path(put, path = "/evals/suites/{suite}", tag = "evals", params(("suite" = String, Path)), request_body = SaveSuite,
    responses((status = 200, body = SuiteView), (status = 400, description = "every problem in the suite, at once")))]
async fn save_suite(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(suite): Path<String>,
    ApiJson(req): ApiJson<SaveSuite>,
) -> Result<Json<SuiteView>, ApiError> {
    let parsed = juru_desks::eval::parse_suite(&req.definition)?;
    if parsed.name != suite {
        return Err(juru_desks::DeskError::invalid(format!(
            "the path names suite {suite:?} but the definition is {:?}",
            parsed.name
        ))
        .into());
    }
    Ok(Json(s.desks.save_eval_suite(&a, &req).await?))
}

/// Adds a test case to a saved suite (what the playground's "save as test case" calls).
#[utoipa::path(post, path = "/evals/suites/{suite}/cases", tag = "evals", params(("suite" = String, Path)),
    request_body = juru_core::eval::Case, responses((status = 200, body = SuiteView)))]
async fn add_case(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(suite): Path<String>,
    ApiJson(case): ApiJson<juru_core::eval::Case>,
) -> Result<Json<SuiteView>, ApiError> {
    Ok(Json(s.desks.add_eval_case(&a, &suite, &case).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct RunsQuery {
    /// Only runs of this suite.
    suite: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Runs, newest first.
#[utoipa::path(get, path = "/evals/runs", tag = "evals", params(RunsQuery),
    responses((status = 200, body = Listing<EvalRunView>)))]
async fn list_runs(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Listing<EvalRunView>>, ApiError> {
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    Ok(Json(s.desks.eval_runs(&a, q.suite.as_deref(), &(&page).into()).await?))
}

/// Checks a suite (saved, or given as a definition) and queues a run of it; follow it with
/// `GET /evals/runs/{id}` or the job it names.
#[utoipa::path(post, path = "/evals/runs", tag = "evals", request_body = StartEval,
    responses((status = 202, body = EvalRunView), (status = 400, description = "every problem in the suite, at once")))]
async fn start_run(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<StartEval>,
) -> Result<(StatusCode, Json<EvalRunView>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(s.desks.start_eval(&a, &req).await?)))
}

/// A run: status, progress (done of cells) and counts.
#[utoipa::path(get, path = "/evals/runs/{id}", tag = "evals", params(("id" = String, Path)),
    responses((status = 200, body = EvalRunView)))]
async fn get_run(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<EvalRunView>, ApiError> {
    Ok(Json(s.desks.eval_run(&a, &id).await?))
}

/// Cancels a queued or running run.
#[utoipa::path(post, path = "/evals/runs/{id}/cancel", tag = "evals", params(("id" = String, Path)),
    responses((status = 200, body = EvalRunView), (status = 409, description = "already finished")))]
async fn cancel_run(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<EvalRunView>, ApiError> {
    Ok(Json(s.desks.cancel_eval(&a, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct ResultsQuery {
    /// `pass`, `fail` or `error`.
    status: Option<String>,
    /// Results after this cell (for the next page, the last cell of this one).
    after: Option<i64>,
    /// At most 1000 (default 100).
    limit: Option<i64>,
}

/// A run's results in cell order: output, graded assertions, latency, tokens.
#[utoipa::path(get, path = "/evals/runs/{id}/results", tag = "evals", params(("id" = String, Path), ResultsQuery),
    responses((status = 200, body = Vec<ResultView>)))]
async fn results(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Query(q): Query<ResultsQuery>,
) -> Result<Json<Vec<ResultView>>, ApiError> {
    Ok(Json(s.desks.eval_results(&a, &id, q.status.as_deref(), q.after, q.limit.unwrap_or(100)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct SummaryQuery {
    /// The previous page's `next`.
    after: Option<String>,
    /// Groups per page (default 1,000, at most 10,000).
    limit: Option<i64>,
}

/// Pass rate and flakiness per case × prompt × model, over the repeats, a page at a time.
#[utoipa::path(get, path = "/evals/runs/{id}/summary", tag = "evals", params(("id" = String, Path), SummaryQuery),
    responses((status = 200, body = EvalSummary)))]
async fn summary(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<EvalSummary>, ApiError> {
    Ok(Json(s.desks.eval_summary(&a, &id, q.after.as_deref(), q.limit.unwrap_or(1000)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct CompareQuery {
    /// The baseline run (default: the one the run was started against).
    baseline: Option<String>,
}

/// Regressions and improvements against a baseline run, with McNemar's test.
#[utoipa::path(get, path = "/evals/runs/{id}/compare", tag = "evals", params(("id" = String, Path), CompareQuery),
    responses((status = 200, body = EvalComparison), (status = 400, description = "no baseline, or runs of other cases")))]
async fn compare(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
) -> Result<Json<EvalComparison>, ApiError> {
    let baseline = match q.baseline {
        Some(b) => b,
        None => s.desks.eval_run(&a, &id).await?.baseline_run_id.ok_or_else(|| {
            juru_desks::DeskError::invalid("the run has no baseline; name one with ?baseline=RUN")
        })?,
    };
    Ok(Json(s.desks.compare_eval_runs(&a, &baseline, &id).await?))
}

/// The run as JUnit XML, for CI dashboards.
#[utoipa::path(get, path = "/evals/runs/{id}/junit", tag = "evals", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/xml", body = String)))]
async fn junit(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut out = Vec::new();
    s.desks.eval_junit(&a, &id, &mut out).await?;
    Ok(([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], out).into_response())
}
