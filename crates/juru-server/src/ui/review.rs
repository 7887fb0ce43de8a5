//! Review desk pages: the queue list with a form to start one; a queue's page (counts, routing
//! rules with a backtest before they are switched on, reviewer quality, agreement with each
//! model version, recent decisions with their diffs, corrections into a dataset); and the
//! reviewing screen, one keystroke per decision, driven by `static/review.js` over the REST API.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::roles::Desk;
use juru_core::{Action, Area};
use juru_desks::PageRequest;
use juru_desks::review::quality::{FeedbackToDataset, QualityReport};
use juru_desks::review::rules::{BacktestReport, BacktestRequest, Conditions, CreateRule, UpdateRule};
use juru_desks::review::{CreateQueue, ItemView, QueueView};
use serde::Deserialize;

use super::{Ctx, Session, UiError, render, urlencode};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/desks/review", get(list))
        .route("/review/new", post(create))
        .route("/review/{queue}", get(dashboard))
        .route("/review/{queue}/rules", post(rule_form))
        .route("/review/{queue}/rules/{rule}/toggle", post(toggle_rule))
        .route("/review/{queue}/to-dataset", post(to_dataset))
        .route("/review/{queue}/work", get(work))
        .route(
            "/static/review.js",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "text/javascript")],
                    include_str!("../../static/review.js"),
                )
            }),
        )
}

fn can_write(s: &Session) -> bool {
    s.actor.can(Area::Desk(Desk::Review), Action::Write)
}

#[derive(Template)]
#[template(path = "review_queues.html")]
struct QueuesPage {
    ctx: Ctx,
    queues: Vec<QueueView>,
    can_write: bool,
    message: Option<String>,
}

async fn list_page(state: &AppState, s: &Session, message: Option<String>) -> Result<Html<String>, UiError> {
    let all = PageRequest { limit: Some(1000), cursor: None };
    render(QueuesPage {
        ctx: Ctx::new(state, s, "desk:review").await,
        queues: state.desks.review_queues(&s.actor, &all).await?.items,
        can_write: can_write(s),
        message,
    })
}

async fn list(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    list_page(&state, &s, None).await
}

#[derive(Deserialize)]
struct NewQueueForm {
    csrf: String,
    name: String,
    reviewers_per_item: Option<i64>,
    /// Comma-separated usernames; empty: every reviewer.
    reviewers: Option<String>,
    /// Comma-separated reason codes; empty: the defaults.
    reason_codes: Option<String>,
    sla_seconds: Option<String>,
    sla_action: Option<String>,
    fallback_text: Option<String>,
    instructions: Option<String>,
}

fn comma_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

async fn create(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<NewQueueForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let codes = comma_list(&f.reason_codes);
    let sla = match f.sla_seconds.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        None => None,
        Some(x) => match x.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Ok(list_page(
                    &state,
                    &s,
                    Some(format!("SLA {x:?} is not a whole number of seconds")),
                )
                .await?
                .into_response());
            }
        },
    };
    let req = CreateQueue {
        name: f.name.trim().to_owned(),
        description: String::new(),
        instructions: f.instructions.clone().unwrap_or_default(),
        reviewers_per_item: f.reviewers_per_item,
        reviewers: comma_list(&f.reviewers),
        reason_codes: (!codes.is_empty()).then_some(codes),
        reservation_minutes: None,
        sla_seconds: sla,
        sla_action: f.sla_action.clone().filter(|a| !a.is_empty()),
        fallback_text: f.fallback_text.clone().filter(|t| !t.is_empty()),
        webhook_url: None,
    };
    match state.desks.create_review_queue(&s.actor, &req).await {
        Ok(q) => Ok(Redirect::to(&format!("/review/{}", urlencode(&q.name))).into_response()),
        Err(
            e @ (juru_desks::DeskError::Invalid(_)
            | juru_desks::DeskError::Conflict { .. }
            | juru_desks::DeskError::NotFound { .. }),
        ) => Ok(list_page(&state, &s, Some(e.to_string())).await?.into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The rule form's fields, kept to fill the form again after a backtest.
#[derive(Deserialize, Default, Clone)]
struct RuleForm {
    #[serde(default)]
    csrf: String,
    /// `backtest` or `save`.
    #[serde(default)]
    op: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    confidence_below: String,
    #[serde(default)]
    sample_percent: String,
    /// `any`, `yes` or `no`.
    #[serde(default)]
    flagged: String,
    #[serde(default)]
    negative_feedback: String,
    /// `key=value` pairs, comma-separated; one key may repeat.
    #[serde(default)]
    metadata: String,
}

impl RuleForm {
    fn conditions(&self) -> Result<Conditions, String> {
        let number = |field: &str, v: &str| -> Result<Option<f64>, String> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<f64>().map(Some).map_err(|_| format!("{field} {v:?} is not a number"))
        };
        let yes_no = |v: &str| match v {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        };
        let mut metadata: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in self.metadata.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) =
                pair.split_once('=').ok_or_else(|| format!("metadata {pair:?} must be key=value"))?;
            metadata.entry(k.trim().to_owned()).or_default().push(v.trim().to_owned());
        }
        Ok(Conditions {
            model: Some(self.model.trim().to_owned()).filter(|m| !m.is_empty()),
            confidence_below: number("confidence below", &self.confidence_below)?,
            sample_percent: number("sample %", &self.sample_percent)?,
            flagged: yes_no(&self.flagged),
            negative_feedback: yes_no(&self.negative_feedback),
            metadata,
            ..Default::default()
        })
    }
}

#[derive(Template)]
#[template(path = "review_queue.html")]
struct QueuePage {
    ctx: Ctx,
    q: QueueView,
    quality: QualityReport,
    recent: Vec<ItemView>,
    can_write: bool,
    form: RuleFormView,
    backtest: Option<BacktestReport>,
    message: Option<String>,
}

/// What the rule form shows.
#[derive(Default)]
struct RuleFormView {
    name: String,
    model: String,
    confidence_below: String,
    sample_percent: String,
    flagged: String,
    negative_feedback: String,
    metadata: String,
}

impl From<&RuleForm> for RuleFormView {
    fn from(f: &RuleForm) -> Self {
        RuleFormView {
            name: f.name.clone(),
            model: f.model.clone(),
            confidence_below: f.confidence_below.clone(),
            sample_percent: f.sample_percent.clone(),
            flagged: f.flagged.clone(),
            negative_feedback: f.negative_feedback.clone(),
            metadata: f.metadata.clone(),
        }
    }
}

impl QueuePage {
    fn f(&self, v: &Option<f64>) -> String {
        v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "—".into())
    }

    fn pct(&self, v: &Option<f64>) -> String {
        v.map(|x| format!("{:.1}%", 100.0 * x)).unwrap_or_else(|| "—".into())
    }

    fn share(&self, v: &f64) -> String {
        format!("{:.1}%", 100.0 * v)
    }

    fn conditions(&self, c: &Conditions) -> String {
        serde_json::to_string(c).unwrap_or_default()
    }

    /// An edit's runs as (kind, text) for the template.
    fn runs(&self, diff: &Option<serde_json::Value>) -> Vec<(String, String)> {
        diff.as_ref()
            .and_then(|d| d.as_array())
            .map(|runs| {
                runs.iter()
                    .map(|r| {
                        (
                            r["op"].as_str().unwrap_or("keep").to_owned(),
                            r["text"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn text(&self, v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

async fn queue_page(
    state: &AppState,
    s: &Session,
    queue: &str,
    form: RuleFormView,
    backtest: Option<BacktestReport>,
    message: Option<String>,
) -> Result<Html<String>, UiError> {
    let q = state.desks.review_queue(&s.actor, queue).await?;
    let quality = state.desks.review_quality(&s.actor, queue).await?;
    let page = PageRequest { limit: Some(50), cursor: None };
    let recent = state
        .desks
        .review_items(&s.actor, queue, None, &page)
        .await?
        .items
        .into_iter()
        .filter(|i| i.status != "pending")
        .take(15)
        .collect::<Vec<_>>();
    let mut recent_full = Vec::new();
    for i in recent {
        recent_full.push(state.desks.review_item(&s.actor, &i.id).await?);
    }
    render(QueuePage {
        ctx: Ctx::new(state, s, "desk:review").await,
        q,
        quality,
        recent: recent_full,
        can_write: can_write(s),
        form,
        backtest,
        message,
    })
}

async fn dashboard(
    State(state): State<AppState>,
    s: Session,
    Path(queue): Path<String>,
) -> Result<Html<String>, UiError> {
    let form = RuleFormView { sample_percent: "100".into(), ..Default::default() };
    queue_page(&state, &s, &queue, form, None, None).await
}

/// Backtests the form's conditions, or saves them as a rule (switched off).
async fn rule_form(
    State(state): State<AppState>,
    s: Session,
    Path(queue): Path<String>,
    Form(f): Form<RuleForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let view = RuleFormView::from(&f);
    let conditions = match f.conditions() {
        Ok(c) => c,
        Err(e) => return Ok(queue_page(&state, &s, &queue, view, None, Some(e)).await?.into_response()),
    };
    let outcome = if f.op == "save" {
        let req = CreateRule { name: f.name.trim().to_owned(), conditions, enabled: false };
        state.desks.create_review_rule(&s.actor, &queue, &req).await.map(|_| None)
    } else {
        let req = BacktestRequest {
            conditions: Some(conditions),
            name: Some(f.name.trim().to_owned()).filter(|n| !n.is_empty()),
            ..Default::default()
        };
        state.desks.backtest_review_rule(&s.actor, &queue, None, &req).await.map(Some)
    };
    match outcome {
        Ok(None) => Ok(Redirect::to(&format!("/review/{}", urlencode(&queue))).into_response()),
        Ok(Some(report)) => {
            Ok(queue_page(&state, &s, &queue, view, Some(report), None).await?.into_response())
        }
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::Conflict { .. })) => {
            Ok(queue_page(&state, &s, &queue, view, None, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
    #[serde(default)]
    enabled: String,
}

async fn toggle_rule(
    State(state): State<AppState>,
    s: Session,
    Path((queue, rule)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = UpdateRule { enabled: Some(f.enabled == "true"), conditions: None };
    state.desks.update_review_rule(&s.actor, &queue, &rule, &req).await?;
    Ok(Redirect::to(&format!("/review/{}", urlencode(&queue))).into_response())
}

#[derive(Deserialize)]
struct DatasetForm {
    csrf: String,
    name: String,
    include: String,
}

async fn to_dataset(
    State(state): State<AppState>,
    s: Session,
    Path(queue): Path<String>,
    Form(f): Form<DatasetForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = FeedbackToDataset { name: f.name.trim().to_owned(), include: Some(f.include.clone()) };
    match state.desks.review_feedback_to_dataset(&s.actor, &queue, &req).await {
        Ok(out) => Ok(Redirect::to(&format!("/datasets/{}", urlencode(&out.dataset.name))).into_response()),
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::Conflict { .. })) => {
            let form = RuleFormView { sample_percent: "100".into(), ..Default::default() };
            Ok(queue_page(&state, &s, &queue, form, None, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "review_work.html")]
struct WorkPage {
    ctx: Ctx,
    q: QueueView,
}

async fn work(
    State(state): State<AppState>,
    s: Session,
    Path(queue): Path<String>,
) -> Result<Html<String>, UiError> {
    let q = state.desks.review_queue(&s.actor, &queue).await?;
    render(WorkPage { ctx: Ctx::new(&state, &s, "desk:review").await, q })
}
