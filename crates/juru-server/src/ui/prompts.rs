//! Prompt desk pages: prompts with their labels, saved eval suites with a button that runs one
//! as a job, recent runs; a prompt's page (versions, word diff between any two, the playground:
//! fill the variables, run against one or several models side by side with streamed output,
//! save as a new version, save as a test case); and a run's page with live progress, driven by
//! `static/prompts.js` over the REST API.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::roles::Desk;
use juru_core::textdiff::Run;
use juru_core::{Action, Area};
use juru_desks::PageRequest;
use juru_desks::eval::{EvalRunView, ResultView, StartEval, SuiteView};
use juru_desks::prompts::{PromptView, VersionView};
use juru_desks::serving::Task;
use serde::Deserialize;

use super::{Ctx, Session, UiError, render, urlencode};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/desks/prompts", get(list))
        .route("/prompts/{name}", get(prompt))
        .route("/evals/run", post(start))
        .route("/evals/runs/{id}", get(run))
        .route(
            "/static/prompts.js",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "text/javascript")],
                    include_str!("../../static/prompts.js"),
                )
            }),
        )
}

fn can_write(s: &Session) -> bool {
    s.actor.can(Area::Desk(Desk::Prompts), Action::Write)
}

#[derive(Template)]
#[template(path = "prompts.html")]
struct ListPage {
    ctx: Ctx,
    prompts: Vec<(PromptView, String)>,
    suites: Vec<SuiteView>,
    runs: Vec<EvalRunView>,
    can_write: bool,
    message: Option<String>,
}

async fn list_page(state: &AppState, s: &Session, message: Option<String>) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let prompts = d
        .prompts(&s.actor, &PageRequest { limit: Some(1000), cursor: None })
        .await?
        .items
        .into_iter()
        .map(|p| {
            let labels = p.labels.iter().map(|(l, v)| format!("{l} → v{v}")).collect::<Vec<_>>().join(", ");
            (p, labels)
        })
        .collect();
    render(ListPage {
        ctx: Ctx::new(state, s, "desk:prompts").await,
        prompts,
        suites: d.eval_suites(&s.actor).await?,
        runs: d.eval_runs(&s.actor, None, &PageRequest { limit: Some(20), cursor: None }).await?.items,
        can_write: can_write(s),
        message,
    })
}

async fn list(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    list_page(&state, &s, None).await
}

#[derive(Deserialize)]
struct StartForm {
    csrf: String,
    suite: String,
}

/// Runs a saved suite as a job and opens its page; a suite with problems shows them on the list.
async fn start(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<StartForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = StartEval { suite: Some(f.suite.clone()), ..Default::default() };
    match state.desks.start_eval(&s.actor, &req).await {
        Ok(run) => Ok(Redirect::to(&format!("/evals/runs/{}", urlencode(&run.id))).into_response()),
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::NotFound { .. })) => {
            Ok(list_page(&state, &s, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A word diff as (class, text) runs for the template.
struct DiffPart {
    at: String,
    runs: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "prompt.html")]
struct PromptPage {
    ctx: Ctx,
    prompt: PromptView,
    versions: Vec<VersionView>,
    /// The version the playground starts from (the newest).
    current: VersionView,
    template_json: String,
    variables: Vec<(String, String, bool)>,
    models: Vec<String>,
    suites: Vec<String>,
    diff: Option<(i64, i64, Vec<DiffPart>, bool, bool)>,
    can_write: bool,
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

async fn prompt(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let versions = d.prompt_versions(&s.actor, &name).await?;
    let prompt = d.prompts(&s.actor, &PageRequest { limit: Some(1000), cursor: None }).await?.items;
    let prompt = prompt
        .into_iter()
        .find(|p| p.name == name)
        .ok_or(juru_desks::DeskError::NotFound { kind: "prompt", key: name.clone() })?;
    let current = versions
        .first()
        .cloned()
        .ok_or(juru_desks::DeskError::NotFound { kind: "prompt version", key: name.clone() })?;
    let required: Vec<String> = current.variables["required"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let variables = current.variables["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(k, v)| {
                    let t = v["type"].as_str().unwrap_or("string").to_owned();
                    (k.clone(), t, required.contains(k))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut models: Vec<String> = d
        .servable_models(&s.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, tasks)| tasks.contains(&Task::Generate))
        .map(|(m, _)| m.name)
        .collect();
    models.sort();
    let suites = d
        .eval_suites(&s.actor)
        .await?
        .into_iter()
        .filter(|x| x.prompts.iter().any(|r| r.split('@').next() == Some(name.as_str())))
        .map(|x| x.name)
        .collect();
    let diff = match (q.from, q.to) {
        (Some(from), Some(to)) => {
            let pd = d.diff_prompt_versions(&s.actor, &name, from, to).await?;
            let parts = pd
                .template
                .into_iter()
                .map(|(at, runs)| DiffPart {
                    at,
                    runs: runs
                        .into_iter()
                        .map(|r| match r {
                            Run::Keep(t) => ("keep", t),
                            Run::Remove(t) => ("del", t),
                            Run::Add(t) => ("ins", t),
                        })
                        .collect(),
                })
                .collect();
            Some((from, to, parts, pd.variables_changed, pd.config_changed))
        }
        _ => None,
    };
    render(PromptPage {
        ctx: Ctx::new(&state, &s, "desk:prompts").await,
        template_json: serde_json::to_string(&current.template).unwrap_or_default(),
        prompt,
        current,
        versions,
        variables,
        models,
        suites,
        diff,
        can_write: can_write(&s),
    })
}

#[derive(Template)]
#[template(path = "eval_run.html")]
struct RunPage {
    ctx: Ctx,
    run: EvalRunView,
    percent: i64,
    results: Vec<(ResultView, String)>,
    flaky: usize,
}

async fn run(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let run = d.eval_run(&s.actor, &id).await?;
    let percent = if run.cells > 0 { run.done * 100 / run.cells } else { 0 };
    // Failures and errors first: they are what a reader came for.
    let mut results = Vec::new();
    for status in ["error", "fail", "pass"] {
        if results.len() >= 200 {
            break;
        }
        let limit = 200 - results.len() as i64;
        for r in d.eval_results(&s.actor, &id, Some(status), None, limit).await? {
            let why = r
                .graded
                .iter()
                .filter(|g| !g.passed)
                .map(|g| format!("{}: {}", g.kind, g.reason))
                .collect::<Vec<_>>();
            let why = if r.error.is_empty() { why.join("; ") } else { r.error.clone() };
            results.push((r, why));
        }
    }
    let flaky = if run.finished() { d.eval_summary(&s.actor, &id, None, 1).await?.flaky } else { 0 };
    render(RunPage { ctx: Ctx::new(&state, &s, "desk:prompts").await, run, percent, results, flaky })
}
