//! Bias desk pages: a form that audits a dataset version (columns, attributes, reference, checks)
//! as a job, recent audits, and an audit's report: per-group rates with Wilson intervals and
//! disparities with bootstrap intervals against the fair band, drawn as SVG on the server; the
//! same report downloads as one self-contained HTML file, and as JSON from the API.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juru_core::roles::Desk;
use juru_core::{Action, Area};
use juru_desks::PageRequest;
use juru_desks::bias::{
    AttributeSpec, AuditSpec, AuditView, BinaryColumn, Check, ModelDecisions, ReferenceSpec, StartAudit,
};
use juru_desks::bias_mitigation::{ImpactTable, Mitigation, MitigationResult};
use juru_stats::fairness::{Disparity, Metric, Rate, Report};
use serde::Deserialize;

use super::{Ctx, Session, UiError, download, escape, render, urlencode};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/desks/bias", get(list))
        .route("/bias/audits", post(start))
        .route("/bias/audits/{id}", get(audit))
        .route("/bias/audits/{id}/report.html", get(export))
}

/// A dataset the form can audit: its name, latest version and columns.
struct DatasetChoice {
    name: String,
    version: i64,
    columns: String,
}

#[derive(Template)]
#[template(path = "bias.html")]
struct ListPage {
    ctx: Ctx,
    datasets: Vec<DatasetChoice>,
    /// Registry classifiers that can make the decisions.
    classifiers: Vec<String>,
    audits: Vec<AuditView>,
    can_write: bool,
    message: Option<String>,
    form: AuditForm,
}

#[derive(Deserialize, Default, Clone)]
struct AuditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    dataset: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    prediction: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    attributes: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    min_group_size: String,
    #[serde(default)]
    resamples: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    checks: String,
    #[serde(default)]
    reweighing: Option<String>,
    #[serde(default)]
    thresholds_dp: Option<String>,
    #[serde(default)]
    thresholds_eo: Option<String>,
    #[serde(default)]
    ll144: Option<String>,
    /// Decisions by a registry classifier: its name, the column it reads, its positive labels.
    #[serde(default)]
    decider: String,
    #[serde(default)]
    decider_text: String,
    #[serde(default)]
    decider_positive: String,
}

async fn list_page(
    state: &AppState,
    s: &Session,
    message: Option<String>,
    form: AuditForm,
) -> Result<Html<String>, UiError> {
    let d = &state.desks;
    let mut datasets = Vec::new();
    for ds in d.datasets(&s.actor, None, &PageRequest { limit: Some(100), cursor: None }).await?.items {
        if let Ok(v) = d.dataset_version(&s.actor, &ds.name, None).await {
            let columns = v.schema["fields"]
                .as_array()
                .map(|f| f.iter().filter_map(|x| x["name"].as_str()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            datasets.push(DatasetChoice { name: ds.name, version: v.version, columns });
        }
    }
    let mut classifiers = Vec::new();
    if s.actor.can(Area::Models, Action::Read) {
        for (m, tasks) in d.servable_models(&s.actor).await? {
            if tasks.contains(&juru_desks::serving::Task::Classify) {
                classifiers.push(m.name);
            }
        }
    }
    render(ListPage {
        ctx: Ctx::new(state, s, "desk:bias").await,
        datasets,
        classifiers,
        audits: d.bias_audits(&s.actor, None, &PageRequest { limit: Some(30), cursor: None }).await?.items,
        can_write: s.actor.can(Area::Desk(Desk::Bias), Action::Write),
        message,
        form,
    })
}

async fn list(State(state): State<AppState>, s: Session) -> Result<Html<String>, UiError> {
    let form = AuditForm {
        min_group_size: "30".into(),
        resamples: "1000".into(),
        seed: "0".into(),
        ..Default::default()
    };
    list_page(&state, &s, None, form).await
}

fn optional(text: &str) -> Option<&str> {
    let t = text.trim();
    (!t.is_empty()).then_some(t)
}

/// The form as a request; every field's mistake is named.
fn spec_of(f: &AuditForm) -> Result<StartAudit, String> {
    let number = |what: &str, text: &str, default: u64| -> Result<u64, String> {
        optional(text)
            .map_or(Ok(default), |t| t.parse().map_err(|_| format!("{what}: {t:?} is not a whole number")))
    };
    let threshold = match optional(&f.threshold) {
        Some(t) => Some(t.parse::<f64>().map_err(|_| format!("threshold: {t:?} is not a number"))?),
        None => None,
    };
    let checks = f
        .checks
        .lines()
        .filter_map(optional)
        .map(|c| Check::parse(c).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let reference = match optional(&f.reference) {
        None => None,
        Some(r) if !r.contains('=') => Some(ReferenceSpec::Rule(r.to_string())),
        Some(r) => {
            let mut groups = BTreeMap::new();
            for part in r.split(',').filter_map(optional) {
                let (k, v) = part
                    .split_once('=')
                    .ok_or_else(|| format!("reference: write COLUMN=VALUE, not {part:?}"))?;
                groups.insert(k.trim().to_string(), v.trim().to_string());
            }
            Some(ReferenceSpec::Groups(groups))
        }
    };
    Ok(StartAudit {
        name: optional(&f.name).map(str::to_owned),
        dataset: f.dataset.trim().to_string(),
        version: None,
        spec: AuditSpec {
            label: optional(&f.label).map(BinaryColumn::parse),
            prediction: optional(&f.prediction).map(BinaryColumn::parse),
            score: optional(&f.score).map(str::to_owned),
            threshold,
            attributes: f.attributes.split(',').filter_map(optional).map(AttributeSpec::parse).collect(),
            reference,
            min_group_size: number("minimum group size", &f.min_group_size, 30)?,
            resamples: number("resamples", &f.resamples, 1000)? as usize,
            seed: number("seed", &f.seed, 0)?,
            checks,
            mitigations: [
                (&f.reweighing, Mitigation::Reweighing),
                (&f.thresholds_dp, Mitigation::ThresholdsDemographicParity),
                (&f.thresholds_eo, Mitigation::ThresholdsEqualOpportunity),
            ]
            .into_iter()
            .filter(|(on, _)| on.is_some())
            .map(|(_, m)| m)
            .collect(),
            ll144: f.ll144.is_some(),
            model: optional(&f.decider).map(|m| ModelDecisions {
                model: m.to_string(),
                text: f.decider_text.trim().to_string(),
                positive: f.decider_positive.split(',').filter_map(optional).map(str::to_owned).collect(),
            }),
        },
    })
}

/// Starts an audit and opens its page; a form with problems comes back with them listed.
async fn start(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<AuditForm>,
) -> Result<Response, UiError> {
    s.check_csrf(&f.csrf)?;
    let req = match spec_of(&f) {
        Ok(r) => r,
        Err(e) => return Ok(list_page(&state, &s, Some(e), f).await?.into_response()),
    };
    match state.desks.start_bias_audit(&s.actor, &req).await {
        Ok(a) => Ok(Redirect::to(&format!("/bias/audits/{}", urlencode(&a.id))).into_response()),
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::NotFound { .. })) => {
            Ok(list_page(&state, &s, Some(e.to_string()), f).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// One slice of the report, ready for the template.
struct SliceView {
    title: String,
    reference: String,
    plots: Vec<(String, String)>,
    disparity_plot: String,
    disparities: Vec<(String, String, String)>,
    insufficient: Vec<(String, String)>,
}

/// What the report part of both pages shows.
struct ReportView {
    rows: u64,
    has_labels: bool,
    resamples: usize,
    seed: u64,
    slices: Vec<SliceView>,
    checks: Vec<(bool, String, String, String)>,
    entropy: Option<String>,
    mitigations: Vec<MitigationView>,
    impact_tables: Vec<ImpactView>,
}

#[derive(Template)]
#[template(path = "bias_audit.html")]
struct AuditPage {
    ctx: Ctx,
    a: AuditView,
    spec: String,
    report: Option<ReportView>,
}

#[derive(Template)]
#[template(path = "bias_export.html")]
struct ExportPage {
    a: AuditView,
    spec: String,
    report: Option<ReportView>,
    css: &'static str,
}

/// Four decimals, or a dash for a value that could not be measured.
fn fmt4(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.4}"))
}

/// A mitigation's before/after table and its per-group settings, as text.
struct MitigationView {
    title: String,
    note: String,
    rows: Vec<(String, String, String)>,
    groups: Vec<(String, u64, String)>,
}

impl From<MitigationResult> for MitigationView {
    fn from(m: MitigationResult) -> Self {
        MitigationView {
            title: match m.mitigation {
                Mitigation::Reweighing => "Reweighing".into(),
                Mitigation::ThresholdsDemographicParity => "Per-group thresholds (demographic parity)".into(),
                Mitigation::ThresholdsEqualOpportunity => "Per-group thresholds (equal opportunity)".into(),
            },
            note: m.note,
            rows: m.table.into_iter().map(|r| (r.measure, fmt4(r.before), fmt4(r.after))).collect(),
            groups: m
                .groups
                .into_iter()
                .map(|g| {
                    let setting = match (g.weights, g.threshold) {
                        (Some([neg, pos]), _) => {
                            format!("weight of negatives {neg:.4}, of positives {pos:.4}")
                        }
                        (None, t) => format!("threshold {}", fmt4(t)),
                    };
                    (g.group, g.rows, setting)
                })
                .collect(),
        }
    }
}

/// An LL144 table as text: category, rows, selected, rate, impact ratio.
struct ImpactView {
    title: String,
    rows: Vec<(String, u64, u64, String, String)>,
}

impl From<ImpactTable> for ImpactView {
    fn from(t: ImpactTable) -> Self {
        ImpactView {
            title: format!("{} — {} rate", t.categories, t.rate),
            rows: t
                .rows
                .into_iter()
                .map(|r| {
                    let ratio =
                        if r.excluded { "excluded (under 2% of rows)".into() } else { fmt4(r.impact_ratio) };
                    (r.category, r.rows, r.selected, format!("{:.4}", r.rate), ratio)
                })
                .collect(),
        }
    }
}

fn fmt3(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.3}"))
}

fn interval(d: &Disparity) -> String {
    match (d.estimate.low, d.estimate.high) {
        (Some(l), Some(h)) => format!("[{l:.3}, {h:.3}]"),
        _ => String::new(),
    }
}

const ROW: f64 = 22.0;
const LABEL_W: f64 = 300.0;
const PLOT_W: f64 = 360.0;

/// Vertical grid lines with their values under the plot.
fn grid(svg: &mut String, ticks: &[f64], x: impl Fn(f64) -> f64, h: f64) {
    for &t in ticks {
        let _ = write!(
            svg,
            r##"<line x1="{0}" x2="{0}" y1="4" y2="{1}" stroke="#ddd"/><text x="{0}" y="{2}" font-size="10" text-anchor="middle" fill="#666">{t}</text>"##,
            x(t),
            h - 18.0,
            h - 6.0
        );
    }
}

/// Per-group rates as dots with Wilson whiskers on a 0–1 axis; insufficient groups greyed.
fn rate_plot(rows: &[(String, &Rate)]) -> String {
    let h = ROW * rows.len() as f64 + 28.0;
    let x = |v: f64| LABEL_W + v * PLOT_W;
    let mut svg = format!(
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">"#,
        w = LABEL_W + PLOT_W + 20.0
    );
    grid(&mut svg, &[0.0, 0.25, 0.5, 0.75, 1.0], x, h);
    for (i, (label, rate)) in rows.iter().enumerate() {
        let y = 14.0 + ROW * i as f64;
        match rate {
            Rate::Estimated { value, low, high, .. } => {
                let _ = write!(
                    svg,
                    r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end">{label}</text><line x1="{a}" x2="{b}" y1="{y}" y2="{y}" stroke="#1f5f8b" stroke-width="2"/><circle cx="{c}" cy="{y}" r="4" fill="#1f5f8b"><title>{label}: {value:.3} [{low:.3}, {high:.3}]</title></circle>"##,
                    lx = LABEL_W - 8.0,
                    ty = y + 4.0,
                    label = escape(label),
                    a = x(*low),
                    b = x(*high),
                    c = x(*value),
                );
            }
            Rate::Insufficient { reason } => {
                let _ = write!(
                    svg,
                    r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end" fill="#999">{label}</text><text x="{x0}" y="{ty}" font-size="11" fill="#999">insufficient: {reason}</text>"##,
                    lx = LABEL_W - 8.0,
                    ty = y + 4.0,
                    label = escape(label),
                    x0 = x(0.0) + 4.0,
                    reason = escape(reason),
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Ratio disparities (0–1.5 axis) with the fair band 0.8–1.25 shaded and bootstrap whiskers.
fn disparity_plot(disparities: &[Disparity], low: f64, high: f64) -> String {
    let ratios: Vec<&Disparity> =
        disparities.iter().filter(|d| d.name.ends_with("_ratio") || d.name == "disparate_impact").collect();
    let h = ROW * ratios.len() as f64 + 28.0;
    let max = 1.5;
    let x = |v: f64| LABEL_W + v.clamp(0.0, max) / max * PLOT_W;
    let mut svg = format!(
        r##"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><rect x="{bx}" y="4" width="{bw}" height="{bh}" fill="#e3f4e1"/>"##,
        w = LABEL_W + PLOT_W + 20.0,
        bx = x(low),
        bw = x(high) - x(low),
        bh = h - 22.0
    );
    grid(&mut svg, &[0.0, 0.5, 0.8, 1.0, 1.25, 1.5], x, h);
    for (i, d) in ratios.iter().enumerate() {
        let y = 14.0 + ROW * i as f64;
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end">{name}</text>"##,
            lx = LABEL_W - 8.0,
            ty = y + 4.0,
            name = escape(&d.name)
        );
        if let Some(v) = d.estimate.value {
            if let (Some(l), Some(hh)) = (d.estimate.low, d.estimate.high) {
                let _ = write!(
                    svg,
                    r##"<line x1="{}" x2="{}" y1="{y}" y2="{y}" stroke="#8b1f1f" stroke-width="2"/>"##,
                    x(l),
                    x(hh)
                );
            }
            let fill = if v >= low && v <= high { "#2e7d32" } else { "#c62828" };
            let _ = write!(
                svg,
                r##"<circle cx="{}" cy="{y}" r="4" fill="{fill}"><title>{}: {v:.3}</title></circle>"##,
                x(v),
                escape(&d.name)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn report_view(a: &AuditView) -> Option<ReportView> {
    let outcome = a.outcome.as_ref()?;
    let report: Report = serde_json::from_value(outcome["report"].clone()).ok()?;
    let slices = report
        .slices
        .iter()
        .map(|s| {
            let mut metrics = vec![Metric::SelectionRate];
            if report.has_labels {
                metrics.extend([Metric::Tpr, Metric::Fpr]);
            }
            let plots = metrics
                .iter()
                .map(|m| {
                    let rows: Vec<(String, &Rate)> =
                        s.groups.iter().map(|g| (g.label.clone(), &g.metrics[m])).collect();
                    (m.as_str().to_string(), rate_plot(&rows))
                })
                .collect();
            let insufficient = s
                .groups
                .iter()
                .filter_map(|g| match &g.metrics[&Metric::SelectionRate] {
                    Rate::Insufficient { reason } => Some((g.label.clone(), reason.clone())),
                    Rate::Estimated { .. } => None,
                })
                .collect();
            SliceView {
                title: s.attributes.join(" × "),
                reference: s.reference.clone(),
                plots,
                disparity_plot: disparity_plot(
                    &s.disparities,
                    report.options.fair_low,
                    report.options.fair_high,
                ),
                disparities: s
                    .disparities
                    .iter()
                    .map(|d| {
                        let value = d.estimate.value.map_or_else(
                            || format!("— {}", d.reason.clone().unwrap_or_default()),
                            |v| format!("{v:.4} {}", interval(d)),
                        );
                        (d.name.clone(), value, d.convention.clone())
                    })
                    .collect(),
                insufficient,
            }
        })
        .collect();
    let checks = outcome["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["passed"].as_bool().unwrap_or(false),
                        c["check"].as_str().unwrap_or_default().to_string(),
                        c["slice"].as_str().unwrap_or_default().to_string(),
                        fmt3(c["value"].as_f64()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let entropy = match (&report.generalized_entropy_index, &report.theil_index) {
        (Some(ge), Some(th)) => Some(format!("GE(2) {} · Theil {}", fmt3(ge.value), fmt3(th.value))),
        _ => None,
    };
    Some(ReportView {
        rows: report.rows,
        has_labels: report.has_labels,
        resamples: report.options.resamples,
        seed: report.options.seed,
        slices,
        checks,
        entropy,
        mitigations: serde_json::from_value::<Vec<MitigationResult>>(outcome["mitigations"].clone())
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        impact_tables: serde_json::from_value::<Vec<ImpactTable>>(outcome["impact_tables"].clone())
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

async fn audit(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, UiError> {
    let a = state.desks.bias_audit(&s.actor, &id).await?;
    let spec = serde_json::to_string_pretty(&a.spec).unwrap_or_default();
    let report = report_view(&a);
    render(AuditPage { ctx: Ctx::new(&state, &s, "desk:bias").await, a, spec, report })
}

/// The report as one HTML file: styles inline, plots as inline SVG, nothing fetched.
async fn export(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let a = state.desks.bias_audit(&s.actor, &id).await?;
    let spec = serde_json::to_string_pretty(&a.spec).unwrap_or_default();
    let report = report_view(&a);
    let file = format!("bias-audit-{}.html", a.id);
    download(ExportPage { a, spec, report, css: include_str!("../../static/app.css") }, &file)
}
