//! Pages over the shared objects: home, desks, datasets, traces, jobs, audit log.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;
use juru_core::roles::Desk;
use juru_desks::views::{AuditEntryView, DatasetVersionView, DatasetView, ItemView, JobView, TraceView};
use juru_desks::{DeskError, PageRequest};
use serde::Deserialize;

use super::{Ctx, DeskLink, Session, UiError, render};
use crate::AppState;
use crate::api::traces::TraceQuery;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/desks/{desk}", get(desk))
        .route("/datasets", get(datasets))
        .route("/datasets/{name}", get(dataset))
        .route("/traces", get(traces))
        .route("/traces/{id}", get(trace))
        .route("/jobs", get(jobs))
        .route("/audit", get(audit))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    welcome: String,
    datasets: usize,
    traces: i64,
    jobs: usize,
}

async fn home(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let datasets =
        d.datasets(&s.actor, None, &PageRequest { limit: Some(1000), cursor: None }).await?.items.len();
    let traces = d.store.trace_count(&s.actor.workspace_id).await.map_err(DeskError::from)?;
    let jobs =
        d.jobs(&s.actor, None, None, &PageRequest { limit: Some(1000), cursor: None }).await?.items.len();
    let ctx = Ctx::new(&state, &s, "home").await;
    let welcome = ctx.tf("home.welcome", &[("name", &s.actor.username)]);
    render(HomePage { ctx, welcome, datasets, traces, jobs })
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    ctx: Ctx,
    desk: DeskLink,
}

async fn desk(
    State(state): State<AppState>,
    s: Session,
    Path(slug): Path<String>,
) -> Result<Html<String>, UiError> {
    let desk = Desk::parse(&slug).ok_or(DeskError::NotFound { kind: "desk", key: slug.clone() })?;
    let link = super::desk_links()
        .into_iter()
        .find(|l| l.slug == desk.as_str())
        .ok_or(DeskError::NotFound { kind: "desk", key: slug.clone() })?;
    render(DeskPage { ctx: Ctx::new(&state, &s, &format!("desk:{slug}")).await, desk: link })
}

#[derive(Template)]
#[template(path = "datasets.html")]
struct DatasetsPage {
    ctx: Ctx,
    datasets: Vec<DatasetView>,
    q: String,
    next_cursor: Option<String>,
    can_write: bool,
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
}

async fn datasets(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, UiError> {
    let page = PageRequest { limit: Some(50), cursor: q.cursor.clone() };
    let listing = state.desks.datasets(&s.actor, q.q.as_deref(), &page).await?;
    render(DatasetsPage {
        ctx: Ctx::new(&state, &s, "datasets").await,
        datasets: listing.items,
        q: q.q.unwrap_or_default(),
        next_cursor: listing.next_cursor,
        can_write: s.actor.can(juru_core::Area::Datasets, juru_core::Action::Write),
    })
}

#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    ctx: Ctx,
    dataset: DatasetView,
    versions: Vec<DatasetVersionView>,
    version: DatasetVersionView,
    columns: Vec<(String, String)>,
    rows: Vec<(i64, Vec<String>)>,
    short_hash: String,
    prev_from: Option<i64>,
    next_from: Option<i64>,
    showing: String,
}

#[derive(Deserialize)]
struct ItemsQuery {
    version: Option<i64>,
    from: Option<i64>,
}

const ROWS_PER_PAGE: i64 = 25;

fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

async fn dataset(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Query(q): Query<ItemsQuery>,
) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let (dataset, versions) = d.dataset(&s.actor, &name).await?;
    let version = d.dataset_version(&s.actor, &name, q.version).await?;
    let from = q.from.unwrap_or(0).max(0);
    let (items, next_from) = d.items(&s.actor, &name, Some(version.version), from, ROWS_PER_PAGE).await?;
    let columns: Vec<(String, String)> = version.schema["fields"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    (
                        f["name"].as_str().unwrap_or_default().to_owned(),
                        f["type"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = items
        .iter()
        .map(|ItemView { index, data }| (*index, columns.iter().map(|(c, _)| cell(data.get(c))).collect()))
        .collect::<Vec<_>>();
    let ctx = Ctx::new(&state, &s, "datasets").await;
    let showing = ctx.tf(
        "datasets.showing",
        &[
            ("from", &(from + 1).min(version.row_count).to_string()),
            ("to", &(from + rows.len() as i64).to_string()),
            ("total", &version.row_count.to_string()),
        ],
    );
    let short_hash: String = version.content_hash.chars().take(12).collect();
    render(DatasetPage {
        ctx,
        dataset,
        versions,
        version,
        columns,
        rows,
        short_hash,
        prev_from: (from > 0).then(|| (from - ROWS_PER_PAGE).max(0)),
        next_from,
        showing,
    })
}

#[derive(Template)]
#[template(path = "traces.html")]
struct TracesPage {
    ctx: Ctx,
    traces: Vec<TraceRow>,
    q: TraceQuery,
    next_cursor: Option<String>,
    next_link: String,
}

struct TraceRow {
    id: String,
    time: String,
    name: String,
    model: String,
    prompt: String,
    input: String,
    output: String,
    latency: String,
    tokens: String,
    status: String,
}

fn preview(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(msgs) => msgs
            .iter()
            .rev()
            .find_map(|m| m.get("content").and_then(|c| c.as_str()))
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    };
    let mut short: String = text.chars().take(90).collect();
    if text.chars().count() > 90 {
        short.push('…');
    }
    short
}

impl From<TraceView> for TraceRow {
    fn from(t: TraceView) -> Self {
        TraceRow {
            time: t.timestamp.replace('T', " ").chars().take(19).collect(),
            name: t.name.clone(),
            model: t.model.clone(),
            prompt: t.prompt.clone(),
            input: preview(&t.input),
            output: preview(&t.output),
            latency: t.latency_ms.map(|l| format!("{l:.0}")).unwrap_or_default(),
            tokens: format!(
                "{} / {}",
                t.input_tokens.map(|n| n.to_string()).unwrap_or("–".into()),
                t.output_tokens.map(|n| n.to_string()).unwrap_or("–".into())
            ),
            status: t.status.clone(),
            id: t.id,
        }
    }
}

async fn traces(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<TraceQuery>,
) -> Result<Html<String>, UiError> {
    let filter = q.filter().map_err(|e| DeskError::invalid(e.message))?;
    let page = PageRequest { limit: Some(50), cursor: q.cursor.clone() };
    let listing = state.desks.traces(&s.actor, &filter, &page).await?;
    let next_link = listing
        .next_cursor
        .as_ref()
        .map(|c| {
            let mut parts = vec![format!("cursor={}", super::urlencode(c))];
            for (k, v) in [
                ("model", &q.model),
                ("prompt", &q.prompt),
                ("name", &q.name),
                ("status", &q.status),
                ("since", &q.since),
                ("until", &q.until),
            ] {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    parts.push(format!("{k}={}", super::urlencode(v)));
                }
            }
            format!("/traces?{}", parts.join("&"))
        })
        .unwrap_or_default();
    render(TracesPage {
        ctx: Ctx::new(&state, &s, "traces").await,
        traces: listing.items.into_iter().map(Into::into).collect(),
        next_cursor: listing.next_cursor,
        next_link,
        q,
    })
}

#[derive(Template)]
#[template(path = "trace.html")]
struct TracePage {
    ctx: Ctx,
    t: TraceRow,
    input: String,
    output: String,
    metadata: String,
    cost: String,
    model_version: String,
    prompt_version: String,
}

async fn trace(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, UiError> {
    let t = state.desks.trace(&s.actor, &id).await?;
    let pretty = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    render(TracePage {
        ctx: Ctx::new(&state, &s, "traces").await,
        input: pretty(&t.input),
        output: pretty(&t.output),
        metadata: serde_json::to_string_pretty(&t.metadata).unwrap_or_default(),
        cost: t.cost.map(|c| format!("{c}")).unwrap_or_default(),
        model_version: t.model_version_id.clone().unwrap_or_default(),
        prompt_version: t.prompt_version_id.clone().unwrap_or_default(),
        t: t.into(),
    })
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    ctx: Ctx,
    jobs: Vec<JobView>,
    active: bool,
}

impl JobsPage {
    fn percent(&self, job: &JobView) -> String {
        format!("{:.0}", job.progress * 100.0)
    }
}

async fn jobs(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    let listing =
        state.desks.jobs(&s.actor, None, None, &PageRequest { limit: Some(100), cursor: None }).await?;
    let active = listing.items.iter().any(|j| j.status == "queued" || j.status == "running");
    render(JobsPage { ctx: Ctx::new(&state, &s, "jobs").await, jobs: listing.items, active })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    entries: Vec<AuditEntryView>,
    action: String,
    next_after: Option<i64>,
    /// Whether the chain verified, and the sentence that says so.
    verify: Option<(bool, String)>,
}

#[derive(Deserialize)]
struct AuditQuery {
    after: Option<i64>,
    action: Option<String>,
    verify: Option<u8>,
}

impl AuditPage {
    fn summary(&self, e: &AuditEntryView) -> String {
        let s = e.summary.to_string();
        if s.chars().count() > 140 { format!("{}…", s.chars().take(140).collect::<String>()) } else { s }
    }
    fn time(&self, e: &AuditEntryView) -> String {
        e.at.replace('T', " ").chars().take(19).collect()
    }
}

async fn audit(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Html<String>, UiError> {
    const PER_PAGE: i64 = 100;
    let action = q.action.clone().unwrap_or_default();
    let entries = state
        .desks
        .audit_entries(
            &s.actor,
            q.after.unwrap_or(0),
            PER_PAGE,
            Some(action.as_str()).filter(|a| !a.is_empty()),
        )
        .await?;
    let next_after = (entries.len() as i64 == PER_PAGE).then(|| entries.last().map(|e| e.seq)).flatten();
    let ctx = Ctx::new(&state, &s, "audit").await;
    let verify = match q.verify {
        Some(_) => Some(match state.desks.audit_verify(&s.actor).await? {
            Ok(n) => (true, ctx.tf("audit.intact", &[("n", &n.to_string())])),
            Err(brk) => (false, format!("{} {brk}", ctx.t("audit.broken"))),
        }),
        None => None,
    };
    render(AuditPage { ctx, entries, action, next_after, verify })
}
