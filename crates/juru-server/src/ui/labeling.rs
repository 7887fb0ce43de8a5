//! Labeling desk pages: the project list with a form to start one, a project's dashboard
//! (progress, agreement, annotators, learning curve, exports), the keyboard-first labeling
//! screen, and the adjudication screen. The two working screens are driven by
//! `static/labeling.js` over the REST API.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::labels::LabelSchema;
use juru_core::roles::Desk;
use juru_core::{Action, Area};
use juru_desks::PageRequest;
use juru_desks::labeling::agreement::AgreementReport;
use juru_desks::labeling::{CreateProject, ProjectView};
use serde::Deserialize;

use super::{Ctx, Session, UiError, render, urlencode};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/desks/labeling", get(list))
        .route("/labeling/new", post(create))
        .route("/labeling/{project}", get(dashboard))
        .route("/labeling/{project}/annotate", get(annotate))
        .route("/labeling/{project}/adjudicate", get(adjudicate))
        .route(
            "/static/labeling.js",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "text/javascript")],
                    include_str!("../../static/labeling.js"),
                )
            }),
        )
}

#[derive(Template)]
#[template(path = "labeling_projects.html")]
struct ProjectsPage {
    ctx: Ctx,
    projects: Vec<ProjectView>,
    datasets: Vec<String>,
    can_write: bool,
    message: Option<String>,
}

async fn list_page(state: &AppState, s: &Session, message: Option<String>) -> Result<Html<String>, UiError> {
    let all = PageRequest { limit: Some(1000), cursor: None };
    let projects = state.desks.label_projects(&s.actor, &all).await?.items;
    let datasets =
        state.desks.datasets(&s.actor, None, &all).await?.items.into_iter().map(|d| d.name).collect();
    render(ProjectsPage {
        ctx: Ctx::new(state, s, "desk:labeling").await,
        projects,
        datasets,
        can_write: s.actor.can(Area::Desk(Desk::Labeling), Action::Write),
        message,
    })
}

async fn list(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    list_page(&state, &s, None).await
}

#[derive(Deserialize)]
struct NewProjectForm {
    csrf: String,
    name: String,
    dataset: String,
    text_field: String,
    kind: String,
    /// Comma-separated labels (single, multi, spans), or `min-max` for ratings.
    labels: String,
    overlap: Option<i64>,
    guidelines: Option<String>,
}

fn schema_from_form(f: &NewProjectForm) -> Result<LabelSchema, String> {
    let mut spec = serde_json::json!({"kind": f.kind});
    if f.kind == "rating" {
        let (lo, hi) = f.labels.split_once('-').ok_or("a rating scale is written min-max, like 1-5")?;
        spec["min"] = lo.trim().parse::<i64>().map_err(|e| format!("scale: {e}"))?.into();
        spec["max"] = hi.trim().parse::<i64>().map_err(|e| format!("scale: {e}"))?.into();
    } else if matches!(f.kind.as_str(), "pairwise" | "ranking") {
        spec["fields"] = f.labels.split(',').map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    } else if f.kind != "text" {
        spec["labels"] = f.labels.split(',').map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    }
    LabelSchema::parse(&spec).map_err(|e| e.to_string())
}

async fn create(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<NewProjectForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let schema = match schema_from_form(&f) {
        Ok(schema) => schema,
        Err(e) => return Ok(list_page(&state, &s, Some(e)).await?.into_response()),
    };
    let req = CreateProject {
        name: f.name.trim().to_owned(),
        description: String::new(),
        dataset: f.dataset.clone(),
        version: None,
        text_field: f.text_field.trim().to_owned(),
        schema,
        guidelines: f.guidelines.clone().unwrap_or_default(),
        overlap: f.overlap,
        blind: Some(true),
        ordering: None,
        honeypots: Vec::new(),
        annotators: Vec::new(),
        retrain_every: None,
    };
    match state.desks.create_label_project(&s.actor, &req).await {
        Ok(p) => Ok(Redirect::to(&format!("/labeling/{}", urlencode(&p.name))).into_response()),
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::Conflict { .. })) => {
            Ok(list_page(&state, &s, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "labeling_project.html")]
struct DashboardPage {
    ctx: Ctx,
    p: ProjectView,
    agreement: AgreementReport,
    choices: Vec<String>,
    can_write: bool,
    /// The learning curve's points in the plot: answers (x, 40–380) against held-out accuracy
    /// (y, 150 for 0 up to 10 for 1).
    curve_dots: Vec<(String, String)>,
}

impl DashboardPage {
    fn f(&self, v: &Option<f64>) -> String {
        fmt(v)
    }

    fn pct(&self, n: &i64) -> String {
        if self.p.item_count == 0 {
            "0".into()
        } else {
            format!("{:.1}", 100.0 * *n as f64 / self.p.item_count as f64)
        }
    }

    fn n(&self, v: &f64) -> String {
        format!("{v:.3}")
    }

    fn curve_points(&self) -> String {
        self.curve_dots.iter().map(|(x, y)| format!("{x},{y}")).collect::<Vec<_>>().join(" ")
    }

    fn curve_max(&self) -> i64 {
        self.p.learning_curve.iter().map(|(n, _)| *n).max().unwrap_or(0)
    }
}

fn fmt(v: &Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "—".into())
}

async fn dashboard(
    State(state): State<AppState>,
    s: Session,
    Path(project): Path<String>,
) -> Result<Html<String>, UiError> {
    let p = state.desks.label_project(&s.actor, &project).await?;
    let agreement = state.desks.label_agreement(&s.actor, &project).await?;
    let most = p.learning_curve.iter().map(|(n, _)| *n).max().unwrap_or(1).max(1) as f64;
    let curve_dots = p
        .learning_curve
        .iter()
        .map(|(n, acc)| {
            (
                format!("{:.1}", 40.0 + 340.0 * *n as f64 / most),
                format!("{:.1}", 150.0 - 140.0 * acc.clamp(0.0, 1.0)),
            )
        })
        .collect();
    render(DashboardPage {
        ctx: Ctx::new(&state, &s, "desk:labeling").await,
        curve_dots,
        choices: p.schema.choices(),
        p,
        agreement,
        can_write: s.actor.can(Area::Desk(Desk::Labeling), Action::Write),
    })
}

#[derive(Template)]
#[template(path = "labeling_annotate.html")]
struct AnnotatePage {
    ctx: Ctx,
    p: ProjectView,
    mode: &'static str,
}

async fn annotate(
    State(state): State<AppState>,
    s: Session,
    Path(project): Path<String>,
) -> Result<Html<String>, UiError> {
    let p = state.desks.label_project(&s.actor, &project).await?;
    render(AnnotatePage { ctx: Ctx::new(&state, &s, "desk:labeling").await, p, mode: "annotate" })
}

async fn adjudicate(
    State(state): State<AppState>,
    s: Session,
    Path(project): Path<String>,
) -> Result<Html<String>, UiError> {
    let p = state.desks.label_project(&s.actor, &project).await?;
    render(AnnotatePage { ctx: Ctx::new(&state, &s, "desk:labeling").await, p, mode: "adjudicate" })
}
